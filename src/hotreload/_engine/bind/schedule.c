/* Running a callable on the main thread, between two bytecodes.
 *
 * A watcher notices changes on a thread of its own, but a reload must not
 * mutate functions and classes while the main thread is in the middle of
 * running them from Python code it does not control; CPython's pending calls
 * run on the main thread at the next "safe point" of its eval loop, which is
 * exactly where a game loop would call the reload itself. */
#include "hotreload.h"

/* Runs everything queued.  `arg` is the engine module (a strong reference
 * taken when the call was queued). */
static int
run_pending(void *arg)
{
    PyObject *module = (PyObject *)arg;
    hr_state *state = PyModule_GetState(module);
    PyObject *queued = state ? state->pending : NULL;
    if (queued != NULL && PyList_GET_SIZE(queued) > 0) {
        state->pending = PyList_New(0);
        if (state->pending == NULL) {
            /* Keep the work for the next call rather than lose it. */
            state->pending = queued;
            queued = NULL;
            /* A full clear: a pending call has no caller to raise to; the
             * work stays queued for the next one. */
            PyErr_Clear();
        }
        for (Py_ssize_t i = 0; queued && i < PyList_GET_SIZE(queued); i++) {
            PyObject *callable = PyList_GET_ITEM(queued, i);
            PyObject *result = PyObject_CallNoArgs(callable);
            if (result == NULL) {
                /* Never raise into whatever the main thread was running. */
                PyErr_WriteUnraisable(callable);
            }
            Py_XDECREF(result);
        }
        Py_XDECREF(queued);
    }
    Py_DECREF(module);
    return 0;
}

int
hr_call_on_main_thread(PyObject *module, PyObject *callable)
{
    hr_state *state = PyModule_GetState(module);
    if (!PyCallable_Check(callable)) {
        PyErr_SetString(PyExc_TypeError, "expected a callable");
        return -1;
    }
    /* CPython runs the calls Py_AddPendingCall queues in the main
     * interpreter (always, since 3.12): from a sub-interpreter the callable
     * would run where its objects do not belong. */
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_RuntimeError, "call_on_main_thread() works in the main "
                        "interpreter only: a sub-interpreter has no main thread of its own");
        return -1;
    }
    if (state->pending == NULL && (state->pending = PyList_New(0)) == NULL) {
        return -1;
    }
    if (PyList_Append(state->pending, callable) < 0) {
        return -1;
    }
    Py_INCREF(module);
    if (Py_AddPendingCall(run_pending, module) < 0) {
        /* CPython's queue of pending calls is full: take the callable back,
         * so that a caller who retries does not get it run twice. */
        Py_DECREF(module);
        Py_ssize_t n = PyList_GET_SIZE(state->pending);
        (void)PyList_SetSlice(state->pending, n - 1, n, NULL);
        PyErr_SetString(PyExc_RuntimeError, "the interpreter's pending-call queue is full; "
                        "nothing was queued");
        return -1;
    }
    return 0;
}
