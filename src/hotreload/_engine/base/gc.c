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

int
hr_gc_set_aside(PyObject **unfreeze)
{
    *unfreeze = NULL;
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *count = gc ? PyObject_CallMethod(gc, "get_freeze_count", NULL) : NULL;
    Py_ssize_t frozen = count ? PyLong_AsSsize_t(count) : -1;
    Py_XDECREF(count);
    if (frozen != 0) {
        Py_XDECREF(gc);
        return frozen < 0 ? -1 : 0;
    }
    /* Taken now: putting the objects back must not need an allocation,
     * which could fail and leave them out of every later walk. */
    *unfreeze = PyObject_GetAttrString(gc, "unfreeze");
    PyObject *done = *unfreeze ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
    Py_DECREF(gc);
    if (done == NULL) {
        Py_CLEAR(*unfreeze);
        return -1;
    }
    Py_DECREF(done);
    return 1;
}

int
hr_gc_bring_back(PyObject **unfreeze)
{
    if (*unfreeze == NULL) {
        return 0;
    }
    PyObject *done = PyObject_CallNoArgs(*unfreeze);  /* allocates nothing */
    Py_CLEAR(*unfreeze);
    Py_XDECREF(done);
    return done != NULL ? 0 : -1;
}
