/* Reads and writes on classes that several layers share: the write of one
 * class attribute as type.__setattr__ makes it, and what kind of class a
 * live class is. */
#include "hotreload.h"

int
hr_type_write(PyTypeObject *type, PyObject *name, PyObject *value)
{
    /* type.__setattr__ would rename the class: a member of that name (a
     * property `__name__`) goes into the class dict, where the class
     * statement puts it. */
    if (PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "__name__") == 0
                                  || PyUnicode_CompareWithASCIIString(name, "__qualname__") == 0)) {
        int status = value != NULL ? PyDict_SetItem(type->tp_dict, name, value)
                                   : PyDict_DelItem(type->tp_dict, name);
        PyType_Modified(type);
        return status;
    }
    return PyType_Type.tp_setattro((PyObject *)type, name, value);
}

int
hr_class_is_declarative(PyObject *cls)
{
    static const char *const marks[] = {
        "_member_map_",          /* enum */
        "__dataclass_fields__",  /* dataclasses */
        "_fields",               /* namedtuple, typing.NamedTuple */
        "__attrs_attrs__",       /* attrs */
        "_is_protocol",          /* typing.Protocol: its attribute set is its body */
        NULL,
    };
    if (!PyType_Check(cls)) {
        return 0;
    }
    PyObject *dict = ((PyTypeObject *)cls)->tp_dict;
    for (int i = 0; marks[i]; i++) {
        if (hr_dict_get(dict, marks[i]) != NULL) {
            return 1;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* 1 when `meta` is abc.ABCMeta itself (not a look-alike of that name). */
int
hr_is_abc_meta(hr_state *state, PyObject *meta)
{
    if (state->abc_meta == NULL) {
        PyObject *abc = hr_import("abc");
        state->abc_meta = abc ? PyObject_GetAttrString(abc, "ABCMeta") : NULL;
        Py_XDECREF(abc);
        if (state->abc_meta == NULL) {
            return -1;
        }
    }
    return meta == state->abc_meta;
}
