/* ReloadError: the one way the engine says why a reload is refused.  Every
 * layer raises through hr_raise; it calls nothing else in the engine. */
#include "hotreload.h"

#include <stdarg.h>

/* New reference: a short description of an exception for the message,
 * with the file and line where it happened when known. */
static PyObject *
describe(PyObject *exc)
{
    PyObject *where = NULL, *what = NULL;
    if (PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_SyntaxError)) {
        what = PyObject_GetAttrString(exc, "msg");  /* str() repeats the place */
        PyObject *file = PyObject_GetAttrString(exc, "filename");
        PyObject *line = PyObject_GetAttrString(exc, "lineno");
        if (file && line && file != Py_None && line != Py_None) {
            where = PyUnicode_FromFormat(" (%S, line %S)", file, line);
        }
        Py_XDECREF(file);
        Py_XDECREF(line);
    }
    else {
        PyObject *tb = PyException_GetTraceback(exc);
        PyObject *last = tb;
        while (last != NULL) {
            PyObject *next = PyObject_GetAttrString(last, "tb_next");
            if (next == NULL || next == Py_None) {
                Py_XDECREF(next);
                break;
            }
            Py_SETREF(last, next);
        }
        if (last != NULL) {
            PyObject *frame = PyObject_GetAttrString(last, "tb_frame");
            PyObject *line = PyObject_GetAttrString(last, "tb_lineno");
            PyObject *code = frame ? PyObject_GetAttrString(frame, "f_code") : NULL;
            PyObject *file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
            if (file && line) {
                where = PyUnicode_FromFormat(" (%S, line %S)", file, line);
            }
            Py_XDECREF(frame);
            Py_XDECREF(line);
            Py_XDECREF(code);
            Py_XDECREF(file);
            Py_DECREF(last);
        }
    }
    /* A full clear: the place is best effort, for the message only; the
     * exception described is the one chained as the cause. */
    PyErr_Clear();
    if (what == NULL || what == Py_None) {
        Py_XSETREF(what, Py_NewRef(exc));
    }
    PyObject *text = where ? PyUnicode_FromFormat("%s: %S%U", Py_TYPE(exc)->tp_name, what, where)
                           : PyUnicode_FromFormat("%s: %S", Py_TYPE(exc)->tp_name, what);
    Py_XDECREF(where);
    Py_XDECREF(what);
    return text;
}

int
hr_raise(hr_state *state, PyObject *module_name, PyObject *object, const char *format, ...)
{
    PyObject *cause_type, *cause, *cause_tb;
    PyErr_Fetch(&cause_type, &cause, &cause_tb);
    if (cause_type != NULL
        && (PyErr_GivenExceptionMatches(cause_type, state->ReloadError)
            || !PyErr_GivenExceptionMatches(cause_type, PyExc_Exception))) {
        /* Already explained closer to where it happened; or KeyboardInterrupt,
         * SystemExit and the like, which are the user's to handle (nothing
         * was changed). */
        PyErr_Restore(cause_type, cause, cause_tb);
        return -1;
    }
    if (cause_type != NULL) {
        PyErr_NormalizeException(&cause_type, &cause, &cause_tb);
        if (cause_tb != NULL) {
            PyException_SetTraceback(cause, cause_tb);
        }
    }
    va_list args;
    va_start(args, format);
    PyObject *reason = PyUnicode_FromFormatV(format, args);
    va_end(args);
    PyObject *detail = cause ? describe(cause) : NULL;
    PyObject *message = NULL, *error = NULL;
    if (reason == NULL) {
        goto done;
    }
    if (detail != NULL) {
        Py_SETREF(reason, PyUnicode_FromFormat("%U: %U", reason, detail));
        if (reason == NULL) {
            goto done;
        }
    }
    if (module_name && object) {
        message = PyUnicode_FromFormat("cannot reload %U (%U): %U", module_name, object, reason);
    }
    else if (module_name) {
        message = PyUnicode_FromFormat("cannot reload %U: %U", module_name, reason);
    }
    else if (object) {
        message = PyUnicode_FromFormat("cannot reload (%U): %U", object, reason);
    }
    else {
        message = PyUnicode_FromFormat("cannot reload: %U", reason);
    }
    error = message ? PyObject_CallOneArg(state->ReloadError, message) : NULL;
    if (error == NULL
        || PyObject_SetAttrString(error, "module", module_name ? module_name : Py_None) < 0
        || PyObject_SetAttrString(error, "object", object ? object : Py_None) < 0
        || PyObject_SetAttrString(error, "reason", reason) < 0) {
        goto done;
    }
    if (cause != NULL) {
        PyException_SetCause(error, Py_NewRef(cause));
        PyException_SetContext(error, Py_NewRef(cause));
    }
    PyErr_SetObject(state->ReloadError, error);
done:
    Py_XDECREF(error);
    Py_XDECREF(message);
    Py_XDECREF(reason);
    Py_XDECREF(detail);
    Py_XDECREF(cause_type);
    Py_XDECREF(cause);
    Py_XDECREF(cause_tb);
    return -1;
}
