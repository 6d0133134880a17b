/* Turning what the new code produced into planned writes.
 *
 * After the chosen statements ran, the scratch namespace holds, for each
 * name, either the live object (its statement did not run, or rebound it to
 * the same object) or a new one.  A new function or class is poured into
 * the live one, which stays bound; new data replaces the live value, unless
 * the module keeps it (__reload_keep__, or a module without a recorded
 * source, whose data is always kept).  Nothing here writes to a live
 * object: every write becomes an action for the commit. */
#include "hotreload.h"

static int
set_name(hr_batch *batch, hr_unit *u, PyObject *name, PyObject *value)
{
    if (PySet_Add(u->rebound, name) < 0) {
        return -1;
    }
    return hr_plan_dict_set(&batch->actions, u->live, name, value);
}

/* 1 when `fresh` is a closure that a factory of this module made for a
 * re-run statement (`handler = make_handler()`), standing for the live
 * closure bound to the same name: both are nested functions ("<locals>"
 * in their qualified names) of this module.  A factory that did not change
 * keeps its live globals, so what it makes reads the live module rather
 * than the scratch one, yet is as new as a lambda of the new code, and the
 * live closure takes its code and cells the same way. */
static int
made_by_factory(hr_unit *u, PyObject *live, PyObject *fresh)
{
    if (!PyFunction_Check(live) || !PyFunction_Check(fresh)
        || ((PyFunctionObject *)live)->func_globals != u->live
        || ((PyFunctionObject *)fresh)->func_globals != u->live) {
        return 0;
    }
    PyObject *locals = PyUnicode_FromString(".<locals>.");
    if (locals == NULL) {
        return -1;
    }
    Py_ssize_t in_live = PyUnicode_Find(((PyFunctionObject *)live)->func_qualname, locals,
                                        0, PY_SSIZE_T_MAX, 1);
    Py_ssize_t in_fresh = in_live < 0 ? in_live
        : PyUnicode_Find(((PyFunctionObject *)fresh)->func_qualname, locals, 0, PY_SSIZE_T_MAX, 1);
    Py_DECREF(locals);
    if (in_live == -2 || in_fresh == -2) {
        return -1;
    }
    return in_live >= 0 && in_fresh >= 0;
}

/* One name whose scratch value is not its live value. */
static int
diff_name(hr_batch *batch, hr_unit *u, PyObject *name, PyObject *live, PyObject *fresh)
{
    if (live == NULL) {
        return set_name(batch, u, name, fresh) < 0 ? -1 : hr_report(batch->added, u->name, name);
    }
    int keep = PySet_GET_SIZE(u->keep) > 0 ? PySet_Contains(u->keep, name) : 0;
    if (keep != 0) {
        return keep < 0 ? -1 : hr_report(batch->kept, u->name, name);
    }
    if (PyType_Check(live) && PyType_Check(fresh)) {
        const hr_stmt *old_stmt = u->full ? NULL
            : hr_find_definition(u->old_utf8, &u->old_stmts, HR_STMT_CLASS, name);
        const hr_stmt *new_stmt = u->full ? NULL
            : hr_find_definition(u->new_utf8, &u->new_stmts, HR_STMT_CLASS, name);
        /* Bound by a statement that is not a class statement and ran: a
         * factory (namedtuple(...), type(...)) made the class again. */
        int remade = !u->full && new_stmt == NULL;
        if (PyErr_Occurred()
            || hr_class_diff(batch, u, (PyTypeObject *)live, (PyTypeObject *)fresh,
                             old_stmt, new_stmt, name, remade) < 0) {
            return -1;
        }
        return hr_report(batch->updated, u->name, name);
    }
    int is_def = hr_find_definition(u->new_utf8, &u->new_stmts, HR_STMT_DEF, name) != NULL;
    if (PyErr_Occurred()) {
        return -1;
    }
    int made_here = PyFunction_Check(fresh)
                    && ((PyFunctionObject *)fresh)->func_globals == u->scratch;
    if (!is_def && !made_here && (made_here = made_by_factory(u, live, fresh)) < 0) {
        return -1;
    }
    if (is_def || made_here) {
        int stripped = PySet_Contains(u->stripped, name);
        int patched = stripped < 0 ? -1 : hr_function_diff(batch, live, fresh, name, stripped);
        if (patched != 0) {
            return patched < 0 ? -1 : hr_report(batch->updated, u->name, name);
        }
        return set_name(batch, u, name, fresh) < 0 ? -1 : hr_report(batch->replaced, u->name, name);
    }
    if (u->full || PyModule_Check(live)) {
        /* Without a recorded source every statement ran: data is kept. */
        return PyModule_Check(live) ? 0 : hr_report(batch->kept, u->name, name);
    }
    return set_name(batch, u, name, fresh) < 0 ? -1 : hr_report(batch->replaced, u->name, name);
}

/* For a module without a recorded source: 1 for a function or class of
 * this module (the new source no longer defines it), 0 for anything else,
 * -1 on error. */
static int
defined_here(hr_unit *u, PyObject *value)
{
    if (!PyFunction_Check(value) && !PyType_Check(value)) {
        return 0;
    }
    PyObject *module = PyObject_GetAttrString(value, "__module__");
    if (module == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* no __module__: not this module's */
        return 0;
    }
    int same = PyUnicode_Check(module) && PyUnicode_Compare(module, u->name) == 0;
    Py_DECREF(module);
    return same;
}

static int
remove_name(hr_batch *batch, hr_unit *u, PyObject *name)
{
    if (hr_plan_dict_set(&batch->actions, u->live, name, NULL) < 0
        || PySet_Add(u->rebound, name) < 0) {
        return -1;
    }
    return hr_report(batch->removed, u->name, name);
}

/* What a search for the live object of a deleted definition looks for. */
typedef struct {
    PyObject *name;     /* the def or class name */
    PyObject *fresh;    /* the new object, never the answer */
    int is_class;
    int line;           /* the old statement's first line */
    int head_line;      /* the line of its def or class keyword: a decorated def
                           that ran again without its decorators starts there */
    PyObject *found;    /* borrowed: the one candidate, or NULL */
    int candidates;
} definition_search;

/* 1 when a class was made by the class statement of the old source at
 * `line`: on 3.13 it records that line; before, its name says enough. */
static int
class_from_line(PyTypeObject *cls, int line)
{
    PyObject *first = hr_dict_get(cls->tp_dict, "__firstlineno__");
    if (first == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    long value = PyLong_Check(first) ? PyLong_AsLong(first) : -1;
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    return value == line;
}

static int
match_definition(PyObject *obj, void *arg)
{
    definition_search *search = (definition_search *)arg;
    int found;
    if (obj == search->fresh || obj == search->found) {
        return 0;
    }
    if (search->is_class) {
        found = PyType_Check(obj)
                && PyUnicode_Compare(((PyHeapTypeObject *)obj)->ht_qualname, search->name) == 0;
        found = found && !PyErr_Occurred() ? class_from_line((PyTypeObject *)obj, search->line) : found;
    }
    else {
        PyCodeObject *code = PyFunction_Check(obj)
            ? (PyCodeObject *)PyFunction_GET_CODE(obj) : NULL;
        found = code != NULL
                && (code->co_firstlineno == search->line || code->co_firstlineno == search->head_line)
                && PyUnicode_Compare(code->co_name, search->name) == 0
                && PyUnicode_Compare(((PyFunctionObject *)obj)->func_qualname, search->name) == 0;
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (found) {
        search->found = obj;
        search->candidates++;
    }
    return 0;
}

/* The names of the module bound to `inner` or to a wrapper of it (the
 * aliases a deleted def's name left), as a new list of (name, value)
 * pairs; wrappers first. */
static PyObject *
aliases_of(hr_unit *u, PyObject *inner, PyObject *name)
{
    PyObject *found = PyList_New(0), *key, *value;
    Py_ssize_t pos = 0;
    while (found != NULL && PyDict_Next(u->live, &pos, &key, &value)) {
        if (PyType_Check(value) || PyModule_Check(value) || !PyUnicode_Check(key)
            || PyUnicode_Compare(key, name) == 0) {
            continue;  /* the name itself: its own `del` removes it */
        }
        PyFunctionObject *unwrapped = hr_unwrap(value, name);
        PyObject *pair = (PyObject *)unwrapped == inner ? PyTuple_Pack(2, key, value) : NULL;
        int status = (PyObject *)unwrapped != inner ? (PyErr_Occurred() ? -1 : 0)
                     : pair == NULL ? -1
                     : value == inner ? PyList_Append(found, pair)
                     : PyList_Insert(found, 0, pair);
        Py_XDECREF(unwrapped);
        Py_XDECREF(pair);
        if (status < 0) {
            Py_CLEAR(found);
        }
    }
    return found;
}

/* Borrowed: the live object a def or class statement that ran again made
 * when it first ran, although no name of the module holds it under its
 * name (the module deletes the name once done with it, `x = y = _f` ...
 * `del _f`, `class D(_Base)` ... `del _Base`, or did so until now), found
 * from the namespace (an alias, a subclass's base, a wrapper) by its name
 * and the line of its old statement.  NULL with no exception when there is
 * none, or more than one; *old_stmt and *new_stmt are the statements. */
static PyObject *
unbound_definition(hr_state *state, hr_unit *u, PyObject *name, PyObject *fresh, const hr_stmt **old_stmt,
                   const hr_stmt **new_stmt)
{
    definition_search search = {name, fresh, 0, 0, 0, NULL, 0};
    const hr_stmt *st = hr_find_definition(u->new_utf8, &u->new_stmts, HR_STMT_DEF, name);
    if (st == NULL && !PyErr_Occurred()) {
        st = hr_find_definition(u->new_utf8, &u->new_stmts, HR_STMT_CLASS, name);
        search.is_class = 1;
    }
    if (st == NULL) {
        return NULL;
    }
    Py_ssize_t index = st - u->new_stmts.items, old = u->match[index];
    if (!u->run[index] || old < 0 || search.is_class != PyType_Check(fresh)) {
        return NULL;  /* not made by this reload, new, or not what the statement made */
    }
    *old_stmt = &u->old_stmts.items[old];
    *new_stmt = st;
    search.line = (*old_stmt)->line;
    search.head_line = (*old_stmt)->head_line;
    if (hr_reach_module(state, u, match_definition, &search) < 0 || search.candidates != 1) {
        return NULL;
    }
    return search.found;
}

/* Pours a new def or class into the live one an unbound name stood for
 * (unbound_definition).  When `bind`, the name is bound to it again (the
 * `del` left the source); else it stays deleted.  0 when there is no such
 * live object. */
static int
diff_unbound(hr_batch *batch, hr_unit *u, PyObject *name, PyObject *fresh, int bind)
{
    const hr_stmt *old_stmt = NULL, *new_stmt = NULL;
    PyObject *live = unbound_definition(batch->state, u, name, fresh, &old_stmt, &new_stmt);
    if (live == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (PyType_Check(live)) {
        if (hr_class_diff(batch, u, (PyTypeObject *)live, (PyTypeObject *)fresh, old_stmt,
                          new_stmt, name, 0) < 0
            || (bind && set_name(batch, u, name, fresh) < 0)) {
            return -1;
        }
        return hr_report(batch->updated, u->name, name) < 0 ? -1 : 1;
    }
    /* As a def whose name stays: the live object its aliases hold (a
     * wrapper, or the function itself) takes the new one, or, when it
     * cannot, the aliases are bound to the new one. */
    PyObject *aliases = aliases_of(u, live, name);
    if (aliases == NULL) {
        return -1;
    }
    PyObject *outer = PyList_GET_SIZE(aliases) > 0
        ? PyTuple_GET_ITEM(PyList_GET_ITEM(aliases, 0), 1) : live;
    int stripped = PySet_Contains(u->stripped, name);
    int patched = stripped < 0 ? -1 : hr_function_diff(batch, outer, fresh, name, stripped);
    for (Py_ssize_t k = 0; patched == 0 && k < PyList_GET_SIZE(aliases); k++) {
        PyObject *pair = PyList_GET_ITEM(aliases, k);
        if (PyTuple_GET_ITEM(pair, 1) == outer
            && set_name(batch, u, PyTuple_GET_ITEM(pair, 0), fresh) < 0) {
            patched = -1;
        }
    }
    Py_DECREF(aliases);
    if (patched < 0 || (bind && set_name(batch, u, name, fresh) < 0)) {
        return -1;
    }
    return hr_report(batch->updated, u->name, name) < 0 ? -1 : 1;
}

/* A name whose scratch value is not its live one (strong references). */
typedef struct {
    PyObject *name;
    PyObject *fresh;
    PyObject *live;    /* NULL: a new name */
} changed_name;

typedef struct {
    changed_name *items;
    Py_ssize_t count, capacity;
    Py_ssize_t missing;  /* live names the scratch does not hold */
} changed_names;

static void
changed_names_clear(changed_names *changed)
{
    for (Py_ssize_t i = 0; i < changed->count; i++) {
        Py_DECREF(changed->items[i].name);
        Py_DECREF(changed->items[i].fresh);
        Py_XDECREF(changed->items[i].live);
    }
    PyMem_Free(changed->items);
    memset(changed, 0, sizeof(*changed));
}

static int
changed_names_add(changed_names *changed, PyObject *name, PyObject *fresh, PyObject *live)
{
    if (changed->count == changed->capacity) {
        changed_name *items = hr_array_grow(changed->items, sizeof(changed_name),
                                            changed->count + 1, &changed->capacity, 16);
        if (items == NULL) {
            return -1;
        }
        changed->items = items;
    }
    changed->items[changed->count++] = (changed_name){
        Py_NewRef(name), Py_NewRef(fresh), Py_XNewRef(live)};
    return 0;
}

/* The names of the scratch namespace whose value is not the live one, new
 * names included, in the scratch's order, and how many live names the
 * scratch does not hold.  The scratch started as a copy of the live
 * namespace: after a one-body edit of a module of 2,000 names, one name,
 * and the passes of hr_diff look at these only (nothing in the diff
 * writes to either namespace). */
static int
find_changed_names(hr_unit *u, changed_names *changed)
{
    PyObject *name, *fresh, *live_name, *live;
    Py_ssize_t pos = 0, live_pos = 0, added = 0;
    int in_step = 1;
    while (PyDict_Next(u->scratch, &pos, &name, &fresh)) {
        /* A copy of a dict holds its names in the same order: while the
         * two agree, the live value comes without a lookup. */
        if (!in_step || !PyDict_Next(u->live, &live_pos, &live_name, &live) || live_name != name) {
            in_step = 0;
            live = PyDict_GetItemWithError(u->live, name);
        }
        if (live == fresh) {
            continue;
        }
        if ((live == NULL && PyErr_Occurred()) || changed_names_add(changed, name, fresh, live) < 0) {
            return -1;
        }
        added += live == NULL;
    }
    /* The scratch's names are the live ones, less the missing, plus the added. */
    changed->missing = PyDict_GET_SIZE(u->live) - (PyDict_GET_SIZE(u->scratch) - added);
    return 0;
}

/* A class `name` the scratch holds and the live namespace does not (it
 * deletes the name, or did until now), standing for the live class its old
 * statement made: known as such before any class is diffed. */
static int
identify_unbound_class(hr_batch *batch, hr_unit *u, PyObject *name, PyObject *fresh)
{
    if (!PyType_Check(fresh) || !PyUnicode_Check(name)) {
        return 0;
    }
    const hr_stmt *old_stmt, *new_stmt;
    PyObject *live = unbound_definition(batch->state, u, name, fresh, &old_stmt, &new_stmt);
    if (PyErr_Occurred() || (live != NULL && hr_identity_add(&batch->identity, fresh, live) < 0)) {
        return -1;
    }
    return 0;
}

static int
diff_changed(hr_batch *batch, hr_unit *u, const changed_names *changed)
{
    PyObject *name, *fresh;
    Py_ssize_t pos = 0;
    /* A class's new bases are mapped to the live classes they stand for
     * when it is diffed: every new class standing for a live one of the
     * same name is known as such first, whatever the order of the names. */
    for (Py_ssize_t i = 0; i < changed->count; i++) {
        const changed_name *c = &changed->items[i];
        if (PyType_Check(c->fresh) && c->live != NULL && PyType_Check(c->live)
            && hr_identity_add(&batch->identity, c->fresh, c->live) < 0) {
            return -1;
        }
    }
    /* Likewise the classes whose names the module deletes, or deleted
     * until now (`del C9, C14` becoming `del C14`): C14, diffed with the
     * first, has C9 as its base. */
    while (u->vanished != NULL && PyDict_Next(u->vanished, &pos, &name, &fresh)) {
        if (identify_unbound_class(batch, u, name, fresh) < 0) {
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < changed->count && !u->full; i++) {
        const changed_name *c = &changed->items[i];
        if (c->live == NULL && identify_unbound_class(batch, u, c->name, c->fresh) < 0) {
            return -1;
        }
    }
    /* Then the definitions whose names the module deletes: a class diffed
     * later may have one as its base. */
    pos = 0;
    while (u->vanished != NULL && PyDict_Next(u->vanished, &pos, &name, &fresh)) {
        if (diff_unbound(batch, u, name, fresh, 0) < 0) {
            return -1;
        }
    }
    /* Then new names, among which one a `del` left (`del _Base` removed):
     * the same, bound again. */
    PyObject *unbound = PySet_New(NULL);
    for (Py_ssize_t i = 0; unbound != NULL && !u->full && i < changed->count; i++) {
        const changed_name *c = &changed->items[i];
        int found = c->live == NULL && PyUnicode_Check(c->name)
                    ? diff_unbound(batch, u, c->name, c->fresh, 1) : 0;
        if (found < 0 || (found > 0 && PySet_Add(unbound, c->name) < 0)) {
            Py_CLEAR(unbound);
        }
    }
    if (unbound == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < changed->count; i++) {
        const changed_name *c = &changed->items[i];
        if (!PyUnicode_Check(c->name) || (u->full && hr_is_module_metadata(c->name))) {
            continue;
        }
        int done = PySet_GET_SIZE(unbound) > 0 ? PySet_Contains(unbound, c->name) : 0;
        if (done != 0) {
            if (done < 0) {
                Py_DECREF(unbound);
                return -1;
            }
            continue;
        }
        if (diff_name(batch, u, c->name, c->live, c->fresh) < 0) {
            Py_DECREF(unbound);
            return -1;
        }
    }
    Py_DECREF(unbound);
    return 0;
}

/* The live names that go: deleted by a re-run statement, or whose
 * definition left the source. */
static int
diff_gone(hr_batch *batch, hr_unit *u)
{
    PyObject *name, *live;
    Py_ssize_t pos = 0;
    while (PyDict_Next(u->live, &pos, &name, &live)) {
        int present = PyDict_Contains(u->scratch, name);
        if (present < 0) {
            return -1;
        }
        int gone;
        if (u->full) {
            /* Only what this module defined and no longer defines goes. */
            gone = !present && PyUnicode_Check(name) ? defined_here(u, live) : 0;
        }
        else {
            gone = !present ? 1
                   : PySet_GET_SIZE(u->removed) > 0 ? PySet_Contains(u->removed, name) : 0;
        }
        if (gone < 0 || (gone && remove_name(batch, u, name) < 0)) {
            return -1;
        }
    }
    return 0;
}

int
hr_diff(hr_batch *batch, hr_unit *u)
{
    assert(u->scratch != NULL && PyDict_CheckExact(u->scratch) && !u->done);  /* executed */
    batch->owner = u->live;
    changed_names changed = {0};
    int status = find_changed_names(u, &changed) < 0 ? -1 : diff_changed(batch, u, &changed);
    Py_ssize_t missing = changed.missing;
    changed_names_clear(&changed);
    if (status < 0) {
        return -1;
    }
    if (missing > 0 || (!u->full && PySet_GET_SIZE(u->removed) > 0)) {
        return diff_gone(batch, u);
    }
    return 0;
}
