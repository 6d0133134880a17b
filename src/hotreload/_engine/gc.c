/* Pausing automatic garbage collection around a reload (see compat.h). */
#include "hotreload.h"

int
hr_gc_pause(void)
{
#if HR_PY310
    return PyGC_Disable();
#else
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL) {
        return -1;
    }
    int was_enabled = -1;
    PyObject *state = PyObject_CallMethod(gc, "isenabled", NULL);
    if (state != NULL) {
        was_enabled = PyObject_IsTrue(state);
        Py_DECREF(state);
        PyObject *res = PyObject_CallMethod(gc, "disable", NULL);
        if (res == NULL) {
            was_enabled = -1;
        }
        Py_XDECREF(res);
    }
    Py_DECREF(gc);
    return was_enabled;
#endif
}

void
hr_gc_resume(int was_enabled)
{
    if (was_enabled != 1) {
        return;
    }
#if HR_PY310
    PyGC_Enable();
#else
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc != NULL) {
        PyObject *res = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(res);
        Py_DECREF(gc);
    }
    /* A full clear: this runs on every exit path, with the caller's own
     * exception saved above to be restored; it has nowhere to report an
     * error of its own. */
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
#endif
}

/* Calls gc.<name>(); new reference to its result. */
static PyObject *
gc_call(const char *name)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *result = gc ? PyObject_CallMethod(gc, name, NULL) : NULL;
    Py_XDECREF(gc);
    return result;
}

int
hr_gc_set_aside(void)
{
    PyObject *count = gc_call("get_freeze_count");
    if (count == NULL) {
        return -1;
    }
    Py_ssize_t frozen = PyLong_AsSsize_t(count);
    Py_DECREF(count);
    if (frozen != 0) {
        return frozen < 0 ? -1 : 0;
    }
    PyObject *done = gc_call("freeze");
    Py_XDECREF(done);
    return done != NULL ? 1 : -1;
}

int
hr_gc_bring_back(int *set_aside)
{
    if (*set_aside != 1) {
        return 0;
    }
    *set_aside = 0;
    PyObject *done = gc_call("unfreeze");
    Py_XDECREF(done);
    return done != NULL ? 0 : -1;
}
