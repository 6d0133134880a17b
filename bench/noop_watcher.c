/* A function watcher that does nothing: what CPython's own dispatch to a
 * watcher costs the program (bench_scale.py, watcher_overhead), the floor
 * under any watcher's cost, ours included.  3.12+ only. */
#include <Python.h>

static int
ignore(PyFunction_WatchEvent event, PyFunctionObject *func, PyObject *new_value)
{
    (void)event;
    (void)func;
    (void)new_value;
    return 0;
}

static PyObject *
add(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    int id = PyFunction_AddWatcher(ignore);
    return id < 0 ? NULL : PyLong_FromLong(id);
}

static PyMethodDef methods[] = {
    {"add", add, METH_NOARGS, "add() -> int: adds the watcher, returns its id"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "noop_watcher", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit_noop_watcher(void)
{
    return PyModule_Create(&definition);
}
