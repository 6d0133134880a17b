/* Pouring a new function, or what wraps one, into the live one: planned as
 * actions, never written here.  A function is poured when its wrapper is
 * of a kind that only holds it (functools.wraps, lru_cache, property,
 * classmethod, staticmethod); an instance a decorator made is poured into
 * the live instance. */
#include "hotreload.h"

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
