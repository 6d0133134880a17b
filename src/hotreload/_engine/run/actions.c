/* The typed actions a reload plans: every write the commit will make,
 * checked when it is planned, made by nobody before the commit.
 * The execute and diff layers produce them; commit/commit.c applies them.
 * Also the report: the qualified names each kind of change touched. */
#include "hotreload.h"

#include <string.h>


/* Appends an action; the references are not stolen.  Only the typed
 * constructors below call it, once they have checked the operands. */
static int
actions_add(hr_actions *actions, hr_action_kind kind, PyObject *target, PyObject *key,
            PyObject *value)
{
    if (actions->count == actions->capacity) {
        hr_action *items = hr_array_grow(actions->items, sizeof(hr_action), actions->count + 1,
                                         &actions->capacity, 64);
        if (items == NULL) {
            return -1;
        }
        actions->items = items;
    }
    hr_action *action = &actions->items[actions->count++];
    action->kind = kind;
    action->target = Py_NewRef(target);
    action->key = Py_XNewRef(key);
    action->value = Py_XNewRef(value);
    return 0;
}

/* -1 with TypeError set: the planner asked for a write whose operands are
 * not of the kind the commit would treat them as.  Refusing here, before
 * anything is written, is what keeps a wrong guess from becoming a crash. */
static int
wrong_kind(const char *action, PyObject *target, const char *wanted, PyObject *got)
{
    PyErr_Format(PyExc_TypeError, "cannot plan %s of %R: %s, not a %s object", action,
                 target, wanted, Py_TYPE(got)->tp_name);
    return -1;
}

int
hr_plan_dict_set(hr_actions *actions, PyObject *dict, PyObject *key, PyObject *value)
{
    if (!PyDict_Check(dict)) {
        return wrong_kind("a namespace write", key, "the namespace must be a dict", dict);
    }
    return actions_add(actions, HR_ACT_DICT_SET, dict, key, value);
}

int
hr_plan_type_set(hr_actions *actions, PyObject *type, PyObject *name, PyObject *value)
{
    if (!PyType_Check(type)) {
        return wrong_kind("a class member write", name, "the target must be a class", type);
    }
    if (!PyUnicode_Check(name)) {
        return wrong_kind("a class member write", type, "the member name must be a str", name);
    }
    return actions_add(actions, HR_ACT_TYPE_SET, type, name, value);
}

int
hr_plan_function_patch(hr_actions *actions, PyObject *live, PyObject *fresh, PyObject *globals)
{
    if (!PyFunction_Check(live)) {
        return wrong_kind("a function patch", live, "the live object must be a function", live);
    }
    if (!PyFunction_Check(fresh)) {
        return wrong_kind("a function patch", live, "the new object must be a function", fresh);
    }
    if (globals != NULL && !PyDict_Check(globals)) {
        return wrong_kind("a function patch", live, "its globals must be a dict", globals);
    }
    return actions_add(actions, HR_ACT_PATCH, live, globals, fresh);
}

int
hr_plan_adopt(hr_actions *actions, PyObject *func, PyObject *globals)
{
    if (!PyFunction_Check(func)) {
        return wrong_kind("the adoption", func, "it must be a function", func);
    }
    if (!PyDict_Check(globals)) {
        return wrong_kind("the adoption", func, "its globals must be a dict", globals);
    }
    return actions_add(actions, HR_ACT_ADOPT, func, NULL, globals);
}

int
hr_plan_code(hr_actions *actions, PyObject *func, PyObject *code, PyObject *closure)
{
    if (!PyFunction_Check(func)) {
        return wrong_kind("new code", func, "the live closure must be a function", func);
    }
    if (!PyCode_Check(code)) {
        return wrong_kind("new code", func, "its code must be a code object", code);
    }
    if (closure != NULL && !PyTuple_Check(closure)) {
        return wrong_kind("new code", func, "its closure must be a tuple", closure);
    }
    return actions_add(actions, HR_ACT_CODE, func, closure, code);
}

int
hr_plan_bases(hr_actions *actions, PyObject *type, PyObject *bases)
{
    if (!PyType_Check(type)) {
        return wrong_kind("new bases", type, "the target must be a class", type);
    }
    if (!PyTuple_Check(bases)) {
        return wrong_kind("new bases", type, "the bases must be a tuple", bases);
    }
    return actions_add(actions, HR_ACT_BASES, type, NULL, bases);
}

int
hr_plan_doc(hr_actions *actions, PyObject *property, PyObject *doc)
{
    if (!Py_IS_TYPE(property, &PyProperty_Type)) {
        return wrong_kind("a docstring", property, "the target must be a property", property);
    }
    return actions_add(actions, HR_ACT_DOC, property, NULL, doc);
}

int
hr_plan_forward(hr_actions *actions, PyObject *holder)
{
    if (hr_forward_check(holder) < 0) {
        return wrong_kind("the forwarding", holder,
                          "the holder must be a list, dict, set, cell or object with a dict",
                          holder);
    }
    return actions_add(actions, HR_ACT_FORWARD, holder, NULL, NULL);
}

void
hr_actions_clear(hr_actions *actions)
{
    for (Py_ssize_t i = 0; i < actions->count; i++) {
        if (i + HR_AHEAD < actions->count) {
            hr_prefetch(actions->items[i + HR_AHEAD].target);  /* a live closure, mostly */
        }
        Py_CLEAR(actions->items[i].target);
        Py_CLEAR(actions->items[i].key);
        Py_CLEAR(actions->items[i].value);
    }
    PyMem_Free(actions->items);
    actions->items = NULL;
    actions->count = actions->capacity = 0;
}

int
hr_forward_check(PyObject *holder)
{
    if (PyList_Check(holder) || PyDict_Check(holder) || PySet_Check(holder)
        || PyCell_Check(holder)
        || (Py_TYPE(holder)->tp_dictoffset != 0 && !PyType_Check(holder))) {
        return 0;
    }
    return -1;
}

/* New reference: "module.qualname".  Written directly for ASCII names, as
 * nearly all are: a reload that rebinds thousands of names reports each,
 * and formatting cost more than deciding what to do with it. */
static PyObject *
dotted(PyObject *module_name, PyObject *qualname)
{
    if (!PyUnicode_CheckExact(module_name) || !PyUnicode_CheckExact(qualname)
        || !PyUnicode_IS_ASCII(module_name) || !PyUnicode_IS_ASCII(qualname)) {
        return PyUnicode_FromFormat("%U.%U", module_name, qualname);
    }
    Py_ssize_t head = PyUnicode_GET_LENGTH(module_name), tail = PyUnicode_GET_LENGTH(qualname);
    PyObject *line = PyUnicode_New(head + 1 + tail, 127);
    if (line == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(line);
    memcpy(out, PyUnicode_1BYTE_DATA(module_name), head);
    out[head] = '.';
    memcpy(out + head + 1, PyUnicode_1BYTE_DATA(qualname), tail);
    return line;
}

int
hr_report(PyObject *list, PyObject *module_name, PyObject *qualname)
{
    PyObject *line = dotted(module_name, qualname);
    if (line == NULL) {
        return -1;
    }
    int status = PyList_Append(list, line);
    Py_DECREF(line);
    return status;
}
