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

int
hr_report(PyObject *list, PyObject *module_name, PyObject *qualname)
{
    PyObject *line = PyUnicode_FromFormat("%U.%U", module_name, qualname);
    if (line == NULL) {
        return -1;
    }
    int status = PyList_Append(list, line);
    Py_DECREF(line);
    return status;
}

static int
is_method_wrapper(PyObject *obj)
{
    return PyObject_TypeCheck(obj, &PyStaticMethod_Type)
           || PyObject_TypeCheck(obj, &PyClassMethod_Type);
}

/* Plans live <- fresh for two functions, whoever's they are, and records
 * that fresh stands for live, so references the new code holds to fresh
 * reach live instead.  Refused (TypeError) when either is not a function. */
static int
pour(hr_batch *batch, PyObject *live, PyObject *fresh)
{
    PyObject *globals = batch->take_globals && PyFunction_Check(fresh)
        ? ((PyFunctionObject *)fresh)->func_globals : NULL;
    if (hr_plan_function_patch(&batch->actions, live, fresh, globals) < 0
        || hr_identity_add(&batch->identity, fresh, live) < 0) {
        return -1;
    }
    return 1;
}

/* pour() for a function of the module being diffed; 0 (nothing planned)
 * for another module's function. */
static int
plan_patch(hr_batch *batch, PyObject *live, PyObject *fresh)
{
    if (live == fresh) {
        return 1;
    }
    if (batch->owner != NULL && PyFunction_Check(live)
        && ((PyFunctionObject *)live)->func_globals != batch->owner) {
        /* Another module's function (a name bound to it here): never
         * overwritten with this module's code. */
        return 0;
    }
    return pour(batch, live, fresh);
}

/* Notes a live wrapper whose function takes new code, when it caches what
 * the function returns (it has cache_clear(), as functools.lru_cache and
 * cache do): its results were computed by the old code. */
static int
note_cache(hr_batch *batch, PyObject *live)
{
    if (PyFunction_Check(live)) {
        return 0;
    }
    PyObject *clear = PyObject_GetAttrString(live, "cache_clear");
    if (clear == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* no cache */
        return 0;
    }
    int status = PyCallable_Check(clear) ? PyList_Append(batch->caches, live) : 0;
    Py_DECREF(clear);
    return status;
}

/* Patches the functions inside two wrappers (functools.wraps, lru_cache,
 * staticmethod...), when both hold one named `name`.  Returns 1 if it did. */
static int
plan_inner_patch(hr_batch *batch, PyObject *live, PyObject *fresh, PyObject *name, int bare_ok)
{
    PyFunctionObject *inner_live = hr_unwrap(live, name);
    PyFunctionObject *inner_fresh = inner_live ? hr_unwrap(fresh, name) : NULL;
    int status = 0;
    if (PyErr_Occurred()) {
        status = -1;
    }
    else if (inner_live != NULL && inner_fresh != NULL && (PyObject *)inner_live != live
             && (bare_ok || (PyObject *)inner_fresh != fresh)) {
        status = plan_patch(batch, (PyObject *)inner_live, (PyObject *)inner_fresh);
        if (status > 0 && note_cache(batch, live) < 0) {
            status = -1;
        }
    }
    Py_XDECREF(inner_live);
    Py_XDECREF(inner_fresh);
    return status;
}

/* property objects are immutable from Python: their accessor functions are
 * patched in place when the new property has the same accessors. */
static int
plan_property(hr_batch *batch, PyObject *live, PyObject *fresh)
{
    static const char *const accessors[] = {"fget", "fset", "fdel"};
    int same_shape = 1;
    for (size_t i = 0; i < 3; i++) {
        PyObject *a = PyObject_GetAttrString(live, accessors[i]);
        PyObject *b = a ? PyObject_GetAttrString(fresh, accessors[i]) : NULL;
        int status = 0;
        if (b == NULL) {
            status = -1;
        }
        else if (PyFunction_Check(a) && PyFunction_Check(b)) {
            status = plan_patch(batch, a, b);
            same_shape = same_shape && status != 0;
        }
        else if (a != b) {
            same_shape = 0;
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (status < 0) {
            return -1;
        }
    }
    if (same_shape) {
        /* The docstring: the new getter's, or the doc= given. */
        PyObject *a = PyObject_GetAttrString(live, "__doc__");
        PyObject *b = a ? PyObject_GetAttrString(fresh, "__doc__") : NULL;
        int same = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
        int status = same < 0 ? -1 : same ? 0 : hr_plan_doc(&batch->actions, live, b);
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (status < 0) {
            return -1;
        }
    }
    return same_shape;
}

/* 1 when two wrapper functions were made by the same code of the same
 * module (another module's decorator, `@async_variant(sync_join) def
 * join`): the caller found in them the function its def made, the live
 * one and the new one, so the live wrapper is what that def statement
 * bound, not a function another module shares, and takes the new
 * wrapper's code and closure as a wrapper made by a decorator of this
 * module does.  Replacing it instead would leave the object everything
 * holds (a table of filters, `pickle` looking it up by its name) apart
 * from the one the name is bound to, which a fresh import never does. */
static int
made_elsewhere_again(PyFunctionObject *live, PyFunctionObject *fresh)
{
    /* co_name is a str in every code object: the comparison cannot fail. */
    return live->func_globals == fresh->func_globals
           && PyUnicode_Compare(((PyCodeObject *)live->func_code)->co_name,
                                ((PyCodeObject *)fresh->func_code)->co_name) == 0;
}

/* 1 when every field of an instance of `type` is in its __dict__: a class
 * of Python code (heap types over `object` only) whose instances are
 * `object`'s layout plus the __dict__ and __weakref__ pointers, nothing
 * declared in __slots__ and no field of a C base. */
static int
state_in_dict(PyTypeObject *type)
{
    Py_ssize_t size = PyBaseObject_Type.tp_basicsize;
    size += type->tp_dictoffset > 0 ? (Py_ssize_t)sizeof(PyObject *) : 0;
    size += type->tp_weaklistoffset > 0 ? (Py_ssize_t)sizeof(PyObject *) : 0;
    PyObject *mro = type->tp_mro;
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || type->tp_dictoffset == 0
        || type->tp_itemsize != 0 || type->tp_basicsize != size
        || mro == NULL || !PyTuple_Check(mro)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        if (base != (PyObject *)&PyBaseObject_Type
            && (!PyType_Check(base) || !(((PyTypeObject *)base)->tp_flags & Py_TPFLAGS_HEAPTYPE))) {
            return 0;
        }
    }
    return 1;
}

/* A def whose decorator ran again made a new instance of a Python class
 * (toolz's `@curry def flip`, after the class curry changed) holding the
 * function the def made, as the live instance holds the live function:
 * the live instance is what this statement bound, and the module's other
 * names, other modules (`from .functoolz import flip`) and every table
 * hold it.  It keeps its identity and takes the new instance's attributes,
 * the way a live class takes its twin's members: written through the
 * journal, a name the new one lacks deleted, each value mapped at the
 * commit (the new function is the live one), and the new instance stands
 * for the live one.  Binding the name to the new instance instead left two
 * objects where a fresh import has one, whose states part (curry caches
 * the signature it reads on its first call).  1 when planned; 0 when the
 * instances are not of the same class (or of a twin standing for the live
 * one) or keep a field outside their __dict__, which cannot be poured. */
static int
pour_instance(hr_batch *batch, PyObject *live, PyObject *fresh)
{
    PyTypeObject *type = Py_TYPE(live);
    if (PyFunction_Check(fresh) || PyType_Check(live) || PyType_Check(fresh)
        || hr_identity_get(&batch->identity, (PyObject *)Py_TYPE(fresh)) != (PyObject *)type
        || !state_in_dict(type) || !state_in_dict(Py_TYPE(fresh))) {
        return 0;
    }
    PyObject *held = PyObject_GenericGetDict(live, NULL);
    PyObject *made = held ? PyObject_GenericGetDict(fresh, NULL) : NULL;
    int status = made == NULL ? -1 : PyDict_Check(held) && PyDict_Check(made) ? 1 : 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (status > 0 && PyDict_Next(made, &pos, &key, &value)) {
        if (hr_plan_dict_set(&batch->actions, held, key, value) < 0) {
            status = -1;
        }
    }
    pos = 0;
    while (status > 0 && PyDict_Next(held, &pos, &key, &value)) {
        int kept = PyDict_Contains(made, key);
        if (kept < 0 || (kept == 0 && hr_plan_dict_set(&batch->actions, held, key, NULL) < 0)) {
            status = -1;
        }
    }
    if (status > 0 && hr_identity_add(&batch->identity, fresh, live) < 0) {
        status = -1;
    }
    Py_XDECREF(held);
    Py_XDECREF(made);
    return status;
}

int
hr_function_diff(hr_batch *batch, PyObject *live, PyObject *fresh, PyObject *name, int stripped)
{
    if (stripped) {
        /* The def ran without its decorators: pour it into the function the
         * live wrapper holds; the wrapper stays bound. */
        PyFunctionObject *target = hr_unwrap(live, name);
        if (target == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        int status = plan_patch(batch, (PyObject *)target, fresh);
        Py_DECREF(target);
        if (status > 0 && note_cache(batch, live) < 0) {
            status = -1;
        }
        return status;
    }
    if (PyFunction_Check(live) && PyFunction_Check(fresh)) {
        /* A plain function, or a wrapper function whose decorator ran again:
         * the live wrapper takes the new wrapper's code and closure, and the
         * function it wrapped takes the new one's code. */
        int inner = plan_inner_patch(batch, live, fresh, name, 0);
        if (inner < 0) {
            return -1;
        }
        return inner > 0 && made_elsewhere_again((PyFunctionObject *)live,
                                                 (PyFunctionObject *)fresh)
            ? pour(batch, live, fresh) : plan_patch(batch, live, fresh);
    }
    if (Py_TYPE(live) == Py_TYPE(fresh) && is_method_wrapper(live)) {
        PyObject *a = PyObject_GetAttrString(live, "__func__");
        PyObject *b = a ? PyObject_GetAttrString(fresh, "__func__") : NULL;
        int status = b == NULL ? -1 : 0;
        if (status == 0 && PyFunction_Check(a) && PyFunction_Check(b)) {
            status = plan_patch(batch, a, b);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        return status;
    }
    if (Py_TYPE(live) == Py_TYPE(fresh) && PyObject_TypeCheck(live, &PyProperty_Type)) {
        return plan_property(batch, live, fresh);
    }
    /* Another kind of wrapper, or a change of kind: the binding takes the
     * new object, and references to the old one still run the new body.
     * When the new object is the bare function (the wrapper went: a
     * decorator or a `f = partial(f)` left the source), the function the
     * live wrapper held takes its code, and the binding, mapped at the
     * commit, the live function.  A live instance of a Python class
     * wrapping the function, made again, takes the new one's state. */
    int inner = plan_inner_patch(batch, live, fresh, name, 1);
    return inner <= 0 ? inner : pour_instance(batch, live, fresh);
}

int
hr_patch_held(hr_batch *batch, PyObject *member, PyObject *target, PyObject *fresh)
{
    int status = plan_patch(batch, target, fresh);
    if (status > 0 && member != target && note_cache(batch, member) < 0) {
        status = -1;
    }
    return status;
}

/* Borrowed: the last def/class statement of `kind` named `name`, or NULL
 * (with an exception set only when the name cannot be encoded). */
const hr_stmt *
hr_find_definition(const char *text, const hr_stmts *stmts, hr_stmt_kind kind, PyObject *name)
{
    Py_ssize_t len;
    const char *wanted = PyUnicode_AsUTF8AndSize(name, &len);
    if (wanted == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = stmts->count - 1; i >= 0; i--) {
        const hr_stmt *st = &stmts->items[i];
        if (st->kind == kind && st->name_len == len && memcmp(text + st->name, wanted, len) == 0) {
            return st;
        }
    }
    return NULL;
}

static int
is_module_metadata(PyObject *name)
{
    static const char *const names[] = {
        "__name__", "__file__", "__package__", "__loader__", "__spec__",
        "__path__", "__cached__", "__builtins__", NULL,
    };
    for (int i = 0; names[i]; i++) {
        if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

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
    int keep = PySet_Contains(u->keep, name);
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
unbound_definition(hr_unit *u, PyObject *name, PyObject *fresh, const hr_stmt **old_stmt,
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
    if (hr_reach_module(u, match_definition, &search) < 0 || search.candidates != 1) {
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
    PyObject *live = unbound_definition(u, name, fresh, &old_stmt, &new_stmt);
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

int
hr_diff(hr_batch *batch, hr_unit *u)
{
    PyObject *name, *fresh, *live;
    Py_ssize_t pos = 0;
    batch->owner = u->live;
    /* A class's new bases are mapped to the live classes they stand for
     * when it is diffed: every new class standing for a live one of the
     * same name is known as such first, whatever the order of the names. */
    while (PyDict_Next(u->scratch, &pos, &name, &fresh)) {
        live = PyType_Check(fresh) ? PyDict_GetItemWithError(u->live, name) : NULL;
        if ((live == NULL && PyErr_Occurred())
            || (live != NULL && live != fresh && PyType_Check(live)
                && hr_identity_add(&batch->identity, fresh, live) < 0)) {
            return -1;
        }
    }
    /* Likewise the classes whose names the module deletes, or deleted
     * until now (`del C9, C14` becoming `del C14`): C14, diffed with the
     * first, has C9 as its base. */
    for (int pass = 0; pass < 2; pass++) {
        PyObject *names = pass == 0 ? u->vanished : u->full ? NULL : u->scratch;
        pos = 0;
        while (names != NULL && PyDict_Next(names, &pos, &name, &fresh)) {
            if (!PyType_Check(fresh) || !PyUnicode_Check(name)) {
                continue;
            }
            int bound = pass == 0 ? 0 : PyDict_Contains(u->live, name);
            const hr_stmt *old_stmt, *new_stmt;
            live = bound == 0 ? unbound_definition(u, name, fresh, &old_stmt, &new_stmt) : NULL;
            if (bound < 0 || PyErr_Occurred()
                || (live != NULL && hr_identity_add(&batch->identity, fresh, live) < 0)) {
                return -1;
            }
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
    pos = 0;
    while (unbound != NULL && !u->full && PyDict_Next(u->scratch, &pos, &name, &fresh)) {
        int found = PyUnicode_Check(name) ? PyDict_Contains(u->live, name) : 1;
        found = found != 0 ? (found < 0 ? -1 : 0) : diff_unbound(batch, u, name, fresh, 1);
        if (found < 0 || (found > 0 && PySet_Add(unbound, name) < 0)) {
            Py_CLEAR(unbound);
        }
    }
    if (unbound == NULL) {
        return -1;
    }
    pos = 0;
    while (PyDict_Next(u->scratch, &pos, &name, &fresh)) {
        if (!PyUnicode_Check(name) || (u->full && is_module_metadata(name))) {
            continue;
        }
        int done = PySet_Contains(unbound, name);
        if (done != 0) {
            if (done < 0) {
                Py_DECREF(unbound);
                return -1;
            }
            continue;
        }
        live = PyDict_GetItemWithError(u->live, name);
        if ((live == NULL && PyErr_Occurred())
            || (live != fresh && diff_name(batch, u, name, live, fresh) < 0)) {
            Py_DECREF(unbound);
            return -1;
        }
    }
    Py_DECREF(unbound);
    pos = 0;
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
            /* Deleted by a re-run statement, or its definition left the source. */
            gone = !present ? 1 : PySet_Contains(u->removed, name);
        }
        if (gone < 0 || (gone && remove_name(batch, u, name) < 0)) {
            return -1;
        }
    }
    return 0;
}
