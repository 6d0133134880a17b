/* Live closures: functions made at run time from code nested in a patched
 * function.
 *
 * `def make_handler(n): def handler(x): ...; return handler` - each handler
 * the factory made before the reload is its own function object, holding
 * the old nested code.  Patching make_handler does not reach them.  The old
 * and new nested code objects are paired by their position in the source
 * (the path of names from the patched function down, with an occurrence
 * number for repeated names such as <lambda>), the heap walk finds the live
 * functions holding an old one, and each takes the new code; its closure
 * cells are matched by free-variable name.  A function whose code has no
 * counterpart any more (its definition was deleted), or whose new code
 * needs a variable its closure does not have, keeps its old code and is
 * reported as stale. */
#include "hotreload.h"

#include <string.h>

/* Comprehensions are nested code too, but their functions never outlive
 * the expression that made them. */
static int
is_comprehension(PyObject *name)
{
    static const char *const names[] = {"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>", NULL};
    for (int i = 0; names[i]; i++) {
        if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Fills `paths` (path -> code) with the code objects nested in `code`.  A
 * path is a tuple (path of the enclosing code, name, occurrence number),
 * () for the patched function itself: compared and hashed as keys only,
 * and made for every nested code of every patched function, so cheaply. */
static int
collect_nested(PyObject *code, PyObject *prefix, PyObject *paths)
{
    PyObject *consts = ((PyCodeObject *)code)->co_consts;  /* borrowed */
    Py_ssize_t nested = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        nested += PyCode_Check(PyTuple_GET_ITEM(consts, i));
    }
    if (nested == 0) {
        return 0;  /* most code: no dict made */
    }
    /* name -> occurrences so far, needed only when names may repeat */
    PyObject *seen = nested > 1 ? PyDict_New() : NULL;
    int status = -1;
    if (nested > 1 && seen == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *inner = PyTuple_GET_ITEM(consts, i);
        if (!PyCode_Check(inner)) {
            continue;
        }
        PyObject *name = ((PyCodeObject *)inner)->co_name;
        PyObject *count = seen ? PyDict_GetItemWithError(seen, name) : NULL;
        long k = count ? PyLong_AsLong(count) : 0;
        if ((count == NULL || k == -1) && PyErr_Occurred()) {
            goto done;
        }
        PyObject *index = PyLong_FromLong(k);
        PyObject *next = index ? PyLong_FromLong(k + 1) : NULL;
        PyObject *path = next ? PyTuple_Pack(3, prefix, name, index) : NULL;
        Py_XDECREF(index);
        /* A comprehension itself is not paired (its functions do not outlive
         * it), but before 3.12 a lambda made inside one is nested in its
         * code: look inside. */
        int ok = path != NULL && (seen == NULL || PyDict_SetItem(seen, name, next) == 0)
                 && (is_comprehension(name) || PyDict_SetItem(paths, path, inner) == 0)
                 && collect_nested(inner, path, paths) == 0;
        Py_XDECREF(next);
        Py_XDECREF(path);
        if (!ok) {
            goto done;
        }
    }
    status = 0;
done:
    Py_XDECREF(seen);
    return status;
}

/* 1 when code objects are nested in `code` (most functions have none). */
static int
has_nested(PyObject *code)
{
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i))) {
            return 1;
        }
    }
    return 0;
}

/* Pairs one old nested code object with the new one at `path`, or None
 * when its definition is gone, remembering where it came from in case its
 * closures are left stale. */
static int
pair_one(hr_batch *b, hr_heap_query *q, PyObject *live, PyObject *path, PyObject *old_inner,
         PyObject *new_inner)
{
    PyObject *key = PyLong_FromVoidPtr(old_inner);
    PyObject *origin = key ? PyTuple_Pack(2, live, path) : NULL;
    int status = origin && PyDict_SetItem(b->stale_origin, key, origin) == 0
                 && hr_identity_add(&b->code_map, old_inner, new_inner ? new_inner : Py_None) == 0
                 && hr_ptrset_add(&q->old_codes, old_inner) == 0 ? 0 : -1;
    Py_XDECREF(origin);
    Py_XDECREF(key);
    return status;
}

/* Pairs the nested code of one patched function with the new one's, and
 * the code of closures an earlier reload of it left stale: a later version
 * may fit them again. */
static int
pair_nested(hr_batch *b, hr_heap_query *q, PyObject *live, PyObject *old_code,
            PyObject *new_code)
{
    PyObject *remembered = b->state->stale ? PyDict_GetItemWithError(b->state->stale, live) : NULL;
    if (remembered == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (remembered == NULL && !has_nested(old_code)) {
        return 0;  /* no nested code of its own to pair, none left stale */
    }
    Py_XINCREF(remembered);  /* reading the dicts below may run code that drops it */
    PyObject *old_paths = PyDict_New();
    PyObject *new_paths = PyDict_New();
    PyObject *root = PyTuple_New(0);
    int status = -1;
    if (!old_paths || !new_paths || !root || collect_nested(old_code, root, old_paths) < 0
        || collect_nested(new_code, root, new_paths) < 0) {
        goto done;
    }
    PyObject *path, *old_inner;
    Py_ssize_t pos = 0;
    while (PyDict_Next(old_paths, &pos, &path, &old_inner)) {
        PyObject *new_inner = PyDict_GetItemWithError(new_paths, path);
        if (new_inner == NULL && PyErr_Occurred()) {
            goto done;
        }
        /* Value None: the definition is gone; its live functions are stale. */
        if (pair_one(b, q, live, path, old_inner, new_inner) < 0) {
            goto done;
        }
    }
    pos = 0;
    PyObject *codes;
    while (remembered != NULL && PyDict_Next(remembered, &pos, &path, &codes)) {
        PyObject *new_inner = PyDict_GetItemWithError(new_paths, path);
        if (new_inner == NULL && PyErr_Occurred()) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(codes); i++) {
            if (pair_one(b, q, live, path, PyList_GET_ITEM(codes, i), new_inner) < 0) {
                goto done;
            }
        }
    }
    status = 0;
done:
    Py_XDECREF(old_paths);
    Py_XDECREF(new_paths);
    Py_XDECREF(root);
    Py_XDECREF(remembered);
    return status;
}

int
hr_closures_query(hr_batch *b, hr_heap_query *q)
{
    /* New code before the walk is the code of a live function that moved
     * in the file (lines.c): what closures made from its nested code hold
     * moved with it. */
    for (Py_ssize_t i = 0; i < b->actions.count; i++) {
        hr_action *action = &b->actions.items[i];
        if (action->kind != HR_ACT_PATCH && action->kind != HR_ACT_CODE) {
            continue;
        }
        PyObject *old_code = PyFunction_GET_CODE(action->target);
        PyObject *new_code = action->kind == HR_ACT_PATCH ? PyFunction_GET_CODE(action->value)
                                                          : action->value;
        if (old_code != new_code
            && pair_nested(b, q, action->target, old_code, new_code) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The closure `func` needs for `code`: its own cells, reordered by
 * free-variable name, as a new reference in *closure.  Returns 1, with
 * *closure NULL when the new code has the old one's free variables in the
 * same order: the function keeps its own cells, and its cell tuple is not
 * touched (a factory's thousands of closures lie all over the heap; `same`,
 * old code -> True or False, caches that answer for all of them).  Returns
 * 0 when a variable has no cell, -1 on error. */
static int
closure_for(PyFunctionObject *func, PyObject *code, hr_identity *same, PyObject **closure)
{
    *closure = NULL;
    PyObject *known = hr_identity_get(same, func->func_code);
    if (known == func->func_code) {
        PyObject *old_names = hr_code_freevars(func->func_code);
        PyObject *new_names = old_names ? hr_code_freevars(code) : NULL;
        int equal = new_names ? PyObject_RichCompareBool(old_names, new_names, Py_EQ) : -1;
        Py_XDECREF(old_names);
        Py_XDECREF(new_names);
        known = equal < 0 ? NULL : equal ? Py_True : Py_False;
        if (known == NULL || hr_identity_add(same, func->func_code, known) < 0) {
            return -1;
        }
    }
    if (known == Py_True) {
        return 1;
    }
    PyObject *old_names = hr_code_freevars(func->func_code);
    PyObject *new_names = old_names ? hr_code_freevars(code) : NULL;
    PyObject *cells = new_names ? PyTuple_New(PyTuple_GET_SIZE(new_names)) : NULL;
    int status = cells != NULL;
    for (Py_ssize_t i = 0; status == 1 && i < PyTuple_GET_SIZE(new_names); i++) {
        Py_ssize_t found = -1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(old_names); j++) {
            if (PyUnicode_Compare(PyTuple_GET_ITEM(old_names, j),
                                  PyTuple_GET_ITEM(new_names, i)) == 0) {
                found = j;
                break;
            }
        }
        if (found < 0 || func->func_closure == NULL) {
            status = 0;
            break;
        }
        PyTuple_SET_ITEM(cells, i, Py_NewRef(PyTuple_GET_ITEM(func->func_closure, found)));
    }
    Py_XDECREF(old_names);
    Py_XDECREF(new_names);
    if (status == 1) {
        *closure = cells;
    }
    else {
        Py_XDECREF(cells);
        status = PyErr_Occurred() ? -1 : status;
    }
    return status;
}

/* Plans the new code of one live closure, or reports it stale. */
static int
plan_closure(hr_batch *b, PyFunctionObject *func, hr_identity *same)
{
    PyObject *code = hr_identity_get(&b->code_map, func->func_code);
    PyObject *closure = NULL;
    int found = code != Py_None ? closure_for(func, code, same, &closure) : 0;
    if (found < 0) {
        return -1;
    }
    if (found == 0) {
        PyObject *module = func->func_module ? func->func_module : Py_None;
        PyObject *line = PyUnicode_FromFormat("%S.%U", module, func->func_qualname);
        int status = line ? PyList_Append(b->stale, line) : -1;
        Py_XDECREF(line);
        PyObject *key = status == 0 ? PyLong_FromVoidPtr(func->func_code) : NULL;
        PyObject *origin = key ? PyDict_GetItemWithError(b->stale_origin, key) : NULL;
        Py_XDECREF(key);
        if (origin != NULL) {
            PyObject *found = PyTuple_Pack(3, PyTuple_GET_ITEM(origin, 0),
                                           PyTuple_GET_ITEM(origin, 1), func->func_code);
            status = found ? PyList_Append(b->stale_found, found) : -1;
            Py_XDECREF(found);
        }
        else if (PyErr_Occurred()) {
            status = -1;
        }
        return status;
    }
    int status = hr_plan_code(&b->actions, (PyObject *)func, code, closure);
    Py_XDECREF(closure);
    return status;
}

/* A function the reload made from old nested code: a statement that ran
 * again called a decorator of a module reloaded in the same batch, whose
 * new code is not live before the commit (`@async_variant(sync_do_join)`
 * with async_variant changed too).  What it becomes (the live function it
 * is poured into, or itself when adopted) takes the new nested code after,
 * as the closures the decorator made before the reload do. */
static int
plan_made_by_old_code(hr_batch *b, hr_identity *same)
{
    Py_ssize_t planned = b->actions.count;
    for (Py_ssize_t i = 0; i < planned; i++) {
        /* Re-read each time: planning may move the array. */
        const hr_action *action = &b->actions.items[i];
        if (action->kind != HR_ACT_PATCH && action->kind != HR_ACT_ADOPT) {
            continue;
        }
        PyObject *target = action->target;
        PyFunctionObject *made = (PyFunctionObject *)(action->kind == HR_ACT_PATCH
                                                      ? action->value : action->target);
        PyObject *code = hr_identity_get(&b->code_map, made->func_code);
        if (code == made->func_code || code == Py_None) {
            continue;
        }
        PyObject *closure;
        int status = closure_for(made, code, same, &closure);
        if (status == 1 && closure == NULL && target != (PyObject *)made) {
            /* The live function takes the made one's cells, not its own. */
            closure = made->func_closure ? Py_NewRef(made->func_closure) : PyTuple_New(0);
            status = closure ? 1 : -1;
        }
        if (status == 1) {
            status = hr_plan_code(&b->actions, target, code, closure);
        }
        Py_XDECREF(closure);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

int
hr_closures_plan(hr_batch *b, hr_heap_query *q)
{
    hr_identity same;
    memset(&same, 0, sizeof(same));
    hr_ptrset patched = {0};
    int status = -1;
    if (plan_made_by_old_code(b, &same) < 0) {
        goto done;
    }
    /* A function that a patch already pours new code into (a closure bound
     * to a name whose statement ran again), or that takes its moved code
     * (lines.c), takes that, not this. */
    for (Py_ssize_t i = 0; i < b->actions.count; i++) {
        hr_action_kind kind = b->actions.items[i].kind;
        if ((kind == HR_ACT_PATCH || kind == HR_ACT_CODE)
            && hr_ptrset_add(&patched, b->actions.items[i].target) < 0) {
            goto done;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(q->functions);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + HR_AHEAD < n) {
            PyFunctionObject *ahead = (PyFunctionObject *)PyList_GET_ITEM(q->functions, i + HR_AHEAD);
            hr_prefetch(ahead);
            hr_prefetch(&ahead->func_code);
        }
        PyObject *found = PyList_GET_ITEM(q->functions, i);
        assert(PyFunction_Check(found));  /* the heap walk lists functions only */
        PyFunctionObject *func = (PyFunctionObject *)found;
        if (hr_ptrset_has(&patched, func)) {
            continue;
        }
        if (plan_closure(b, func, &same) < 0) {
            goto done;
        }
    }
    status = 0;
done:
    hr_ptrset_clear(&patched);
    hr_identity_clear(&same);
    return status;
}


/* Borrowed: paths[key], a new empty container made by `make` if absent. */
static PyObject *
get_or_add(PyObject *dict, PyObject *key, PyObject *(*make)(Py_ssize_t))
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value != NULL || PyErr_Occurred()) {
        return value;
    }
    if ((value = make(0)) == NULL) {
        return NULL;
    }
    int added = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return added < 0 ? NULL : value;
}

static PyObject *
new_dict(Py_ssize_t size)
{
    (void)size;
    return PyDict_New();
}

PyObject *
hr_closures_remembered(hr_batch *b)
{
    /* What this reload paired replaces what was remembered for each
     * function it patched: the closures it updated are forgotten. */
    PyObject *stale = b->state->stale ? PyDict_Copy(b->state->stale) : PyDict_New();
    PyObject *key, *origin;
    Py_ssize_t pos = 0;
    while (stale != NULL && PyDict_GET_SIZE(stale) > 0
           && PyDict_Next(b->stale_origin, &pos, &key, &origin)) {
        /* Asked first: most patched functions have nothing remembered, and
         * a KeyError raised for each was most of this pass's cost. */
        PyObject *live = PyTuple_GET_ITEM(origin, 0);
        int remembered = PyDict_Contains(stale, live);
        if (remembered < 0 || (remembered && PyDict_DelItem(stale, live) < 0)) {
            Py_CLEAR(stale);
        }
    }
    for (Py_ssize_t i = 0; stale != NULL && i < PyList_GET_SIZE(b->stale_found); i++) {
        PyObject *found = PyList_GET_ITEM(b->stale_found, i);  /* (live, path, code) */
        PyObject *paths = get_or_add(stale, PyTuple_GET_ITEM(found, 0), new_dict);
        PyObject *codes = paths ? get_or_add(paths, PyTuple_GET_ITEM(found, 1), PyList_New)
                                : NULL;
        int known = codes ? PySequence_Contains(codes, PyTuple_GET_ITEM(found, 2)) : -1;
        if (known < 0 || (!known && PyList_Append(codes, PyTuple_GET_ITEM(found, 2)) < 0)) {
            Py_CLEAR(stale);
        }
    }
    return stale;
}
