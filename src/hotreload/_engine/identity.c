/* The identity map of a reload: each new object (function, class) made by
 * running new code that stands for a live object which keeps its identity.
 * References the new code made to the new object are redirected to the
 * live one (closure cells, __class__ cells, wrapper attributes, bases).
 * Keys are id() integers so that no user-defined __hash__ or __eq__ runs. */
#include "hotreload.h"

int
hr_identity_add(PyObject *identity, PyObject *new_obj, PyObject *live_obj)
{
    PyObject *key = PyLong_FromVoidPtr(new_obj);
    if (key == NULL) {
        return -1;
    }
    /* The value keeps the new object alive too, so its id stays unique for
     * as long as the map exists. */
    PyObject *value = PyTuple_Pack(2, live_obj, new_obj);
    int status = value ? PyDict_SetItem(identity, key, value) : -1;
    Py_XDECREF(value);
    Py_DECREF(key);
    return status;
}

PyObject *
hr_identity_get(PyObject *identity, PyObject *obj)
{
    if (identity == NULL || obj == NULL || PyDict_GET_SIZE(identity) == 0) {
        return obj;
    }
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        PyErr_Clear();
        return obj;
    }
    PyObject *value = PyDict_GetItem(identity, key);
    Py_DECREF(key);
    return value ? PyTuple_GET_ITEM(value, 0) : obj;
}
