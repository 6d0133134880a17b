/* Keeping abc's bookkeeping true after a commit: a patched class that
 * ABCMeta made gets its __abstractmethods__ computed again from its new
 * members, and so do its subclasses; isinstance caches are cleared.
 * Each write goes through the journal. */
#include "hotreload.h"

static int
is_abstract_value(PyObject *value)
{
    PyObject *flag = PyObject_GetAttrString(value, "__isabstractmethod__");
    if (flag == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    int result = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return result;
}

/* New reference: the abstract names of `cls` as abc.update_abstractmethods
 * computes them: its own abstract members, and the abstract names of its
 * bases that it still resolves to an abstract member. */
static PyObject *
abstract_names(PyTypeObject *cls)
{
    PyObject *names = PySet_New(NULL);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (names && PyDict_Next(cls->tp_dict, &pos, &key, &value)) {
        int abstract = is_abstract_value(value);
        if (abstract < 0 || (abstract && PySet_Add(names, key) < 0)) {
            Py_CLEAR(names);
        }
    }
    for (Py_ssize_t i = 0; names && i < PyTuple_GET_SIZE(cls->tp_bases); i++) {
        PyObject *inherited = PyObject_GetAttrString(PyTuple_GET_ITEM(cls->tp_bases, i),
                                                     "__abstractmethods__");
        if (inherited == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                Py_CLEAR(names);
                break;
            }
            PyErr_Clear();
            continue;
        }
        PyObject *iterator = PyObject_GetIter(inherited);
        PyObject *name;
        while (iterator && names && (name = PyIter_Next(iterator)) != NULL) {
            PyObject *resolved = PyObject_GetAttr((PyObject *)cls, name);
            int abstract = resolved ? is_abstract_value(resolved) : 0;
            if (resolved == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();  /* a name the class no longer resolves is not abstract */
            }
            else if (abstract < 0 || resolved == NULL) {
                Py_CLEAR(names);
            }
            if (names && abstract > 0 && PySet_Add(names, name) < 0) {
                Py_CLEAR(names);
            }
            Py_XDECREF(resolved);
            Py_DECREF(name);
        }
        Py_XDECREF(iterator);
        Py_DECREF(inherited);
    }
    return names;
}

/* Recomputes one class, then its subclasses (bases first). */
static int
abc_refresh_one(hr_state *state, hr_journal *journal, PyTypeObject *cls, int depth)
{
    PyObject *attr = state->strings[HR_STR_ABSTRACTMETHODS];
    PyObject *current = PyDict_GetItemWithError(cls->tp_dict, attr);
    if (current == NULL) {
        return PyErr_Occurred() ? -1 : 0;  /* not made by ABCMeta */
    }
    /* isinstance() answers are cached per ABC (protocols too); the members
     * they were computed from changed.  Registrations are kept. */
    PyObject *cleared = PyObject_CallMethod((PyObject *)cls, "_abc_caches_clear", NULL);
    if (cleared == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* an ABCMeta look-alike without the method */
    }
    Py_XDECREF(cleared);
    PyObject *names = abstract_names(cls);
    PyObject *frozen = names ? PyFrozenSet_New(names) : NULL;
    Py_XDECREF(names);
    if (frozen == NULL) {
        return -1;
    }
    int same = PyObject_RichCompareBool(frozen, current, Py_EQ);
    int status = same < 0 ? -1 : same ? 0 : hr_journal_type_set(journal, cls, attr, frozen);
    Py_DECREF(frozen);
    if (status < 0 || depth > 64) {
        return status;
    }
    PyObject *subclasses = hr_subclasses((PyObject *)cls);
    for (Py_ssize_t i = 0; subclasses && status == 0 && i < PyList_GET_SIZE(subclasses); i++) {
        PyObject *sub = PyList_GET_ITEM(subclasses, i);
        if (PyType_Check(sub)) {
            status = abc_refresh_one(state, journal, (PyTypeObject *)sub, depth + 1);
        }
    }
    Py_XDECREF(subclasses);
    return subclasses ? status : -1;
}

int
hr_abc_refresh(hr_batch *batch, hr_journal *journal)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch->patched); i++) {
        PyObject *live = PyTuple_GET_ITEM(PyList_GET_ITEM(batch->patched, i), 0);
        assert(PyType_Check(live));  /* listed by hr_class_diff, which takes classes */
        if (abc_refresh_one(batch->state, journal, (PyTypeObject *)live, 0) < 0) {
            return -1;
        }
    }
    return 0;
}
