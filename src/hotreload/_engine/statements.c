/* Splitting a source text into top-level statements (placeholder). */
#include "hotreload.h"

int
hr_split(const char *text, Py_ssize_t from, Py_ssize_t to, int indent,
         int first_line, hr_stmts *out)
{
    (void)text; (void)from; (void)to; (void)indent; (void)first_line; (void)out;
    PyErr_SetString(PyExc_NotImplementedError, "hr_split");
    return -1;
}

void
hr_stmts_clear(hr_stmts *stmts)
{
    (void)stmts;
}

PyObject *
hr_split_to_list(PyObject *source_bytes, int indent)
{
    (void)source_bytes; (void)indent;
    PyErr_SetString(PyExc_NotImplementedError, "hr_split");
    return NULL;
}
