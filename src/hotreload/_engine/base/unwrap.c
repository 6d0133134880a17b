/* Finding the function a decorator wrapped, by reading what the wrapper
 * holds, without running its code. */
#include "hotreload.h"

#define UNWRAP_DEPTH 8

/* The function an unwrapping looks for: its code's name, and when `line`
 * is not 0 its first line too (a property's getter and setter share a
 * name). */
typedef struct {
    PyObject *name;
    int line;
} wanted;

static int
is_named(PyObject *obj, const wanted *want)
{
    if (!PyFunction_Check(obj)) {
        return 0;
    }
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(obj);
    return PyUnicode_Compare(code->co_name, want->name) == 0
           && (want->line == 0 || code->co_firstlineno == want->line);
}

/* New reference, or NULL: absent (no exception, as hasattr() would say) or
 * an error (an exception set: a MemoryError is not "absent"). */
static PyObject *
optional_attr(PyObject *obj, const char *attr)
{
    PyObject *value = PyObject_GetAttrString(obj, attr);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return value;
}

typedef struct {
    const wanted *want;
    PyObject *found;  /* borrowed: the first function that is the one wanted */
} named_search;

/* Looks at one object a wrapper refers to: a function of that name, or one
 * held in a dict (the wrapper's attributes) or a list (a registry the
 * decorator returned). */
static int
find_named(PyObject *obj, void *arg)
{
    named_search *search = (named_search *)arg;
    if (obj == NULL || search->found != NULL) {
        return search->found != NULL;
    }
    if (is_named(obj, search->want)) {
        search->found = obj;
    }
    else if (PyDict_CheckExact(obj)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (search->found == NULL && PyDict_Next(obj, &pos, &key, &value)) {
            if (is_named(value, search->want)) {
                search->found = value;
            }
        }
    }
    else if (PyList_CheckExact(obj)) {
        for (Py_ssize_t i = 0; search->found == NULL && i < PyList_GET_SIZE(obj); i++) {
            if (is_named(PyList_GET_ITEM(obj, i), search->want)) {
                search->found = PyList_GET_ITEM(obj, i);
            }
        }
    }
    return search->found != NULL;
}

/* New reference: the function named `name` that a decorator's result holds
 * without saying so (no __wrapped__): a click-style Command keeping it as
 * an attribute, a registry list the decorator returned.  NULL when there
 * is none. */
static PyFunctionObject *
held_function(PyObject *obj, const wanted *want)
{
    named_search search = {want, NULL};
    if (PyList_CheckExact(obj) || PyDict_CheckExact(obj)) {
        find_named(obj, &search);
    }
    else if (Py_TYPE(obj)->tp_traverse != NULL && !PyFunction_Check(obj) && !PyType_Check(obj)) {
        Py_TYPE(obj)->tp_traverse(obj, find_named, &search);
    }
    return (PyFunctionObject *)Py_XNewRef(search.found);
}

static PyFunctionObject *
unwrap(PyObject *obj, const wanted *want, int depth)
{
    if (obj == NULL || depth > UNWRAP_DEPTH) {
        return NULL;
    }
    if (is_named(obj, want)) {
        return (PyFunctionObject *)Py_NewRef(obj);
    }
    static const char *const links[] = {"__wrapped__", "__func__", "fget", "fset", "fdel",
                                        "func"};
    PyFunctionObject *found = NULL;
    /* A plain function exposes its wrapped function only through __dict__
     * (functools.wraps) or its closure; attribute lookups on anything else
     * may run user code, which is fine before the commit. */
    for (size_t i = 0; found == NULL && !PyErr_Occurred() && i < sizeof(links) / sizeof(links[0]);
         i++) {
        PyObject *inner = optional_attr(obj, links[i]);
        if (inner != NULL && inner != obj) {
            found = unwrap(inner, want, depth + 1);
        }
        Py_XDECREF(inner);
    }
    if (found == NULL && !PyErr_Occurred() && PyFunction_Check(obj)) {
        PyObject *closure = ((PyFunctionObject *)obj)->func_closure;
        for (Py_ssize_t i = 0; found == NULL && !PyErr_Occurred() && closure
                               && i < PyTuple_GET_SIZE(closure); i++) {
            PyObject *cell = PyTuple_GET_ITEM(closure, i);
            if (PyCell_Check(cell) && PyCell_GET(cell) != NULL) {
                PyObject *content = Py_NewRef(PyCell_GET(cell));
                found = unwrap(content, want, depth + 1);
                Py_DECREF(content);
            }
        }
    }
    if (found == NULL && !PyErr_Occurred() && depth == 0) {
        found = held_function(obj, want);
    }
    return found;
}

PyFunctionObject *
hr_unwrap(PyObject *wrapper, PyObject *name)
{
    wanted want = {name, 0};
    return unwrap(wrapper, &want, 0);
}

PyFunctionObject *
hr_unwrap_at(PyObject *wrapper, PyObject *name, int line)
{
    wanted want = {name, line};
    return unwrap(wrapper, &want, 0);
}
