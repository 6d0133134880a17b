/* The binding: the module's method table, its state and its PEP 489 init.
 * Nothing clever lives here; every function forwards to the engine. */
#include "hotreload.h"

static PyObject *
split_statements(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *source;
    int indent = 0;
    if (!PyArg_ParseTuple(args, "S|i:_split", &source, &indent)) {
        return NULL;
    }
    return hr_split_to_list(source, indent);
}

static PyMethodDef module_methods[] = {
    {"_split", split_statements, METH_VARARGS,
     "_split(source: bytes, indent: int = 0) -> list[dict]\n\n"
     "The statements of a block, as the engine sees them (for tests)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {0, NULL},
};

static struct PyModuleDef hotreload_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hotreload._hotreload",
    .m_doc = "The hotreload engine.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__hotreload(void)
{
    return PyModuleDef_Init(&hotreload_module);
}
