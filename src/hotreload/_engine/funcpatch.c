/* Pouring a new function into a live one.
 *
 * A live function object is referenced from everywhere: `from m import f`
 * copies, bound methods, partials, registries, wrappers' closures.  Keeping
 * the object and replacing what it runs reaches all of them at once.
 * Python code can assign __code__ only when the number of free variables is
 * unchanged and cannot assign __closure__ at all; here both move together.
 *
 * The writes repeat what CPython's own setters do (func_set_code in
 * Objects/funcobject.c): validate, clear the specialisation version (so
 * that calls specialised on the old code deoptimise), then replace. */
#include "hotreload.h"

/* Points cells of a new closure at the live objects that new objects stand
 * for (the __class__ cell of a method of a re-run class, a wrapper's cell
 * holding the re-run inner function).  The cells belong to the new function,
 * made by the reload, so changing them touches nothing live. */
static int
redirect_cells(PyObject *closure, PyObject *identity)
{
    if (closure == NULL || identity == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(closure); i++) {
        PyObject *cell = PyTuple_GET_ITEM(closure, i);
        if (!PyCell_Check(cell)) {
            continue;
        }
        PyObject *content = PyCell_GET(cell);
        PyObject *live = hr_identity_get(identity, content);
        if (live != content && PyCell_Set(cell, live) < 0) {
            return -1;
        }
    }
    return 0;
}

/* New reference: the __dict__ the patched function gets.  Attributes the
 * new definition sets (functools.wraps' __wrapped__, a decorator's marks)
 * win; attributes only the live function has were set at run time by other
 * code and are kept, as the data rule asks.  Except __wrapped__: it says
 * which function this one's code wraps, so it follows the new code (a
 * wrapper whose decorator left the source must not send inspect.signature
 * to the function it wrapped).  NULL with no exception when neither has a
 * dict. */
static PyObject *
merged_dict(PyFunctionObject *target, PyFunctionObject *source, PyObject *identity)
{
    PyObject *live = target->func_dict;
    PyObject *fresh = source->func_dict;
    if ((live == NULL || PyDict_GET_SIZE(live) == 0)
        && (fresh == NULL || PyDict_GET_SIZE(fresh) == 0)) {
        return NULL;
    }
    PyObject *merged = live ? PyDict_Copy(live) : PyDict_New();
    if (merged == NULL) {
        return NULL;
    }
    int wraps = fresh != NULL && PyDict_GetItemString(fresh, "__wrapped__") != NULL;
    if (!wraps && PyDict_GetItemString(merged, "__wrapped__") != NULL
        && PyDict_DelItemString(merged, "__wrapped__") < 0) {
        Py_DECREF(merged);
        return NULL;
    }
    if (fresh == NULL) {
        return merged;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(fresh, &pos, &key, &value)) {
        if (PyDict_SetItem(merged, key, hr_identity_get(identity, value)) < 0) {
            Py_DECREF(merged);
            return NULL;
        }
    }
    return merged;
}

int
hr_function_patch(hr_journal *journal, PyFunctionObject *target,
                  PyFunctionObject *source, PyObject *globals, PyObject *identity)
{
    if (target == source) {
        return 0;
    }
    PyCodeObject *code = (PyCodeObject *)source->func_code;
    Py_ssize_t nclosure = source->func_closure ? PyTuple_GET_SIZE(source->func_closure) : 0;
    if (HR_CODE_NFREEVARS(code) != nclosure) {
        PyErr_Format(PyExc_ValueError,
                     "%U() has %zd closure cells for %zd free variables",
                     source->func_qualname, nclosure, HR_CODE_NFREEVARS(code));
        return -1;
    }
    /* Everything that can fail comes before the first write. */
    if (redirect_cells(source->func_closure, identity) < 0) {
        return -1;
    }
    PyObject *dict = merged_dict(target, source, identity);
    if (dict == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (hr_journal_save_function(journal, target) < 0) {
        Py_XDECREF(dict);
        return -1;
    }

    /* From here on, nothing can fail and no Python code runs. */
    hr_function_forget_version(target);
    Py_XSETREF(target->func_closure, Py_XNewRef(source->func_closure));
    Py_XSETREF(target->func_code, Py_NewRef(source->func_code));
    Py_XSETREF(target->func_defaults, Py_XNewRef(source->func_defaults));
    Py_XSETREF(target->func_kwdefaults, Py_XNewRef(source->func_kwdefaults));
    /* Since 3.10 annotations may still be in their lazy tuple form; the
     * getter turns either form into a dict, so it is copied as is. */
    Py_XSETREF(target->func_annotations, Py_XNewRef(source->func_annotations));
    Py_XSETREF(target->func_doc, Py_XNewRef(source->func_doc));
    Py_XSETREF(target->func_name, Py_NewRef(source->func_name));
    Py_XSETREF(target->func_qualname, Py_NewRef(source->func_qualname));
    hr_function_set_typeparams(target, HR_FUNC_TYPEPARAMS(source));
    if (dict != NULL) {
        Py_XSETREF(target->func_dict, dict);
    }
    if (globals != NULL && target->func_globals != globals) {
        /* patch(): the new code reads the names of the module it was
         * written in, as a hotfix script's function does. */
        (void)hr_function_adopt(target, globals, NULL);
    }
    /* Cleared before and after the writes: 3.13 caches (version -> code)
     * and the slot must not keep the old pairing. */
    hr_function_forget_version(target);
    return 0;
}

int
hr_function_set_code(hr_journal *journal, PyFunctionObject *func, PyObject *code,
                     PyObject *closure)
{
    if (HR_CODE_NFREEVARS((PyCodeObject *)code) != PyTuple_GET_SIZE(closure)) {
        PyErr_SetString(PyExc_ValueError, "closure does not match the code's free variables");
        return -1;
    }
    if (hr_journal_save_function(journal, func) < 0) {
        return -1;
    }
    hr_function_forget_version(func);
    Py_XSETREF(func->func_closure, PyTuple_GET_SIZE(closure) ? Py_NewRef(closure) : NULL);
    Py_XSETREF(func->func_code, Py_NewRef(code));
    hr_function_forget_version(func);
    return 0;
}

/* New reference: the builtins dict a function with these globals sees. */
static PyObject *
builtins_of(PyObject *globals)
{
    PyObject *builtins = PyDict_GetItemString(globals, "__builtins__");
    if (builtins != NULL && PyModule_Check(builtins)) {
        builtins = PyModule_GetDict(builtins);
    }
    if (builtins == NULL || !PyDict_Check(builtins)) {
        return NULL;
    }
    return Py_NewRef(builtins);
}

int
hr_function_adopt(PyFunctionObject *func, PyObject *globals, PyObject *identity)
{
    if (redirect_cells(func->func_closure, identity) < 0) {
        return -1;
    }
    if (func->func_globals != globals) {
        PyObject *builtins = builtins_of(globals);
        hr_function_forget_version(func);
        hr_function_set_globals(func, globals, builtins);
        Py_XDECREF(builtins);
    }
    return 0;
}

static int
is_named(PyObject *obj, PyObject *name)
{
    if (!PyFunction_Check(obj)) {
        return 0;
    }
    PyObject *co_name = ((PyCodeObject *)PyFunction_GET_CODE(obj))->co_name;
    return PyUnicode_Compare(co_name, name) == 0;
}

/* New reference or NULL (no exception): an attribute that may be absent. */
static PyObject *
optional_attr(PyObject *obj, const char *attr)
{
    PyObject *value = PyObject_GetAttrString(obj, attr);
    if (value == NULL) {
        PyErr_Clear();
    }
    return value;
}

#define UNWRAP_DEPTH 8

static PyFunctionObject *
unwrap(PyObject *obj, PyObject *name, int depth)
{
    if (obj == NULL || depth > UNWRAP_DEPTH) {
        return NULL;
    }
    if (is_named(obj, name)) {
        return (PyFunctionObject *)Py_NewRef(obj);
    }
    static const char *const links[] = {"__wrapped__", "__func__", "fget", "func"};
    PyFunctionObject *found = NULL;
    /* A plain function exposes its wrapped function only through __dict__
     * (functools.wraps) or its closure; attribute lookups on anything else
     * may run user code, which is fine before the commit. */
    for (size_t i = 0; found == NULL && i < sizeof(links) / sizeof(links[0]); i++) {
        PyObject *inner = optional_attr(obj, links[i]);
        if (inner != NULL && inner != obj) {
            found = unwrap(inner, name, depth + 1);
        }
        Py_XDECREF(inner);
    }
    if (found == NULL && PyFunction_Check(obj)) {
        PyObject *closure = ((PyFunctionObject *)obj)->func_closure;
        for (Py_ssize_t i = 0; found == NULL && closure && i < PyTuple_GET_SIZE(closure); i++) {
            PyObject *cell = PyTuple_GET_ITEM(closure, i);
            if (PyCell_Check(cell) && PyCell_GET(cell) != NULL) {
                PyObject *content = Py_NewRef(PyCell_GET(cell));
                found = unwrap(content, name, depth + 1);
                Py_DECREF(content);
            }
        }
    }
    return found;
}

PyFunctionObject *
hr_unwrap(PyObject *wrapper, PyObject *name)
{
    return unwrap(wrapper, name, 0);
}
