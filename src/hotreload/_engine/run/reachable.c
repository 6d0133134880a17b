/* The functions and classes of a module reachable from its namespace.
 *
 * Live objects a statement made stay reachable from the module after the
 * statement is done: bound to names, held by the classes of the module
 * (members, bases: `class D(_Base)` ... `del _Base`), by wrappers
 * (closure cells, functools.wraps' __wrapped__, partial, lru_cache) and
 * by classmethod, staticmethod and property objects.  This walk finds
 * them from the namespace alone, without a walk over the heap: only
 * objects of those kinds are looked into, through attributes that run no
 * Python code but for classmethod, staticmethod and property subclasses. */
#include "hotreload.h"

#include <string.h>

/* Bounds the walk through wrappers and nested classes. */
#define HR_REACH_DEPTH 16

typedef struct {
    const hr_state *state;
    hr_unit *unit;
    hr_reach_fn fn;
    void *arg;
    hr_ptrset seen;
} reach;

static int visit(reach *r, PyObject *obj, int depth);

/* Visits obj.<attr> when obj has it. */
static int
visit_attr(reach *r, PyObject *obj, const char *attr, int depth)
{
    PyObject *value = PyObject_GetAttrString(obj, attr);
    if (value == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* not there: nothing to visit */
        return 0;
    }
    int status = visit(r, value, depth);
    Py_DECREF(value);
    return status;
}

static int
visit_all(reach *r, PyObject *values, int depth)
{
    int status = 0;
    for (Py_ssize_t k = 0; status == 0 && k < PyList_GET_SIZE(values); k++) {
        status = visit(r, PyList_GET_ITEM(values, k), depth);
    }
    return status;
}

static int
visit_dict_values(reach *r, PyObject *dict, int depth)
{
    if (dict == NULL || !PyDict_Check(dict)) {
        return 0;
    }
    /* A copy: the callback and the attribute reads may change the dict. */
    PyObject *values = PyDict_Values(dict);
    if (values == NULL) {
        return -1;
    }
    int status = visit_all(r, values, depth);
    Py_DECREF(values);
    return status;
}

/* 1 for a class this module's source defined (a heap type: since 3.12 a
 * static type's tp_dict may be NULL). */
static int
is_module_class(reach *r, PyTypeObject *type)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || type->tp_dict == NULL) {
        return 0;
    }
    PyObject *module = hr_dict_get(type->tp_dict, "__module__");
    if (module == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return PyUnicode_Check(module) && PyUnicode_Compare(module, r->unit->name) == 0;
}

/* Loads functools.partial and functools._lru_cache_wrapper into the state,
 * once: C types of the standard library whose attributes run no Python code
 * (None where functools is the pure-Python fallback: nothing is of it). */
static int
load_functools_types(hr_state *state)
{
    static const char *const names[] = {"partial", "_lru_cache_wrapper"};
    if (state->functools_types[0] != NULL) {
        return 0;
    }
    PyObject *functools = hr_import("functools");
    for (int i = 0; functools != NULL && i < 2; i++) {
        PyObject *type = PyObject_GetAttrString(functools, names[i]);
        if (type == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();  /* not in this functools: nothing is of it */
            type = Py_NewRef(Py_None);
        }
        if (type != NULL && !PyType_Check(type)) {
            Py_SETREF(type, Py_NewRef(Py_None));
        }
        if (type == NULL) {
            Py_CLEAR(state->functools_types[0]);
            Py_CLEAR(functools);
            break;
        }
        state->functools_types[i] = type;
    }
    if (functools == NULL) {
        return -1;
    }
    Py_DECREF(functools);
    return 0;
}

/* 1 when obj's type is exactly functools' type `which` (0: partial, 1:
 * _lru_cache_wrapper). */
static int
is_exactly(const reach *r, PyObject *obj, int which)
{
    return (PyObject *)Py_TYPE(obj) == r->state->functools_types[which];
}

static int
visit_function(reach *r, PyFunctionObject *func, int depth)
{
    if (func->func_globals != r->unit->live) {
        return 0;  /* another module's */
    }
    if (hr_ptrset_add(&r->seen, func) < 0 || r->fn((PyObject *)func, r->arg) < 0) {
        return -1;
    }
    PyObject *closure = func->func_closure;
    for (Py_ssize_t k = 0; closure && PyTuple_Check(closure) && k < PyTuple_GET_SIZE(closure); k++) {
        PyObject *cell = PyTuple_GET_ITEM(closure, k);
        PyObject *content = PyCell_Check(cell) ? PyCell_GET(cell) : NULL;
        if (content != NULL && visit(r, content, depth + 1) < 0) {
            return -1;
        }
    }
    return visit_dict_values(r, func->func_dict, depth + 1);
}

static int
visit_class(reach *r, PyTypeObject *type, int depth)
{
    int mine = is_module_class(r, type);
    if (mine <= 0) {
        return mine;
    }
    if (hr_ptrset_add(&r->seen, type) < 0 || r->fn((PyObject *)type, r->arg) < 0
        || visit_dict_values(r, type->tp_dict, depth + 1) < 0) {
        return -1;
    }
    PyObject *bases = type->tp_bases;
    for (Py_ssize_t k = 0; bases && PyTuple_Check(bases) && k < PyTuple_GET_SIZE(bases); k++) {
        if (visit(r, PyTuple_GET_ITEM(bases, k), depth + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
visit(reach *r, PyObject *obj, int depth)
{
    if (depth > HR_REACH_DEPTH || hr_ptrset_has(&r->seen, obj)) {
        return 0;
    }
    if (PyFunction_Check(obj)) {
        return visit_function(r, (PyFunctionObject *)obj, depth);
    }
    if (PyType_Check(obj)) {
        return visit_class(r, (PyTypeObject *)obj, depth);
    }
    if (PyMethod_Check(obj)) {
        return visit(r, PyMethod_GET_FUNCTION(obj), depth + 1);
    }
    const char *attr = NULL;
    if (PyObject_TypeCheck(obj, &PyClassMethod_Type)
        || PyObject_TypeCheck(obj, &PyStaticMethod_Type)) {
        attr = "__func__";
    }
    else if (is_exactly(r, obj, 0)) {
        attr = "func";
    }
    else if (is_exactly(r, obj, 1)) {
        attr = "__wrapped__";
    }
    else if (!PyObject_TypeCheck(obj, &PyProperty_Type)) {
        return 0;
    }
    if (hr_ptrset_add(&r->seen, obj) < 0) {
        return -1;
    }
    if (attr != NULL) {
        return visit_attr(r, obj, attr, depth + 1);
    }
    static const char *const accessors[] = {"fget", "fset", "fdel"};
    for (size_t k = 0; k < 3; k++) {
        if (visit_attr(r, obj, accessors[k], depth + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int
hr_reach_module(hr_state *state, hr_unit *u, hr_reach_fn fn, void *arg)
{
    if (load_functools_types(state) < 0) {
        return -1;
    }
    reach r;
    memset(&r, 0, sizeof(r));
    r.state = state;
    r.unit = u;
    r.fn = fn;
    r.arg = arg;
    int status = visit_dict_values(&r, u->live, 0);
    hr_ptrset_clear(&r.seen);
    return status;
}
