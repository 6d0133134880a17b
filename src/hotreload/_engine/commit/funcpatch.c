/* Pouring a new function into a live one.
 *
 * A live function object is referenced from everywhere: `from m import f`
 * copies, bound methods, partials, registries, wrappers' closures.  Keeping
 * the object and replacing what it runs reaches all of them at once.
 * Python code can assign __code__ only when the number of free variables is
 * unchanged and cannot assign __closure__ at all; here both move together.
 *
 * Every write saves the function in the journal first, and goes through
 * base/functions.c, the one place that writes a function's fields. */
#include "hotreload.h"

/* Points cells of a new closure at the live objects that new objects stand
 * for (the __class__ cell of a method of a re-run class, a wrapper's cell
 * holding the re-run inner function).  The cells belong to the new function,
 * made by the reload, so changing them touches nothing live. */
static int
redirect_cells(PyObject *closure, const hr_identity *identity)
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

/* New reference: the defaults tuple with every new object the identity map
 * knows replaced by the live object it stands for (`def make(base=Undefined)`
 * run again beside a re-run class takes the live class, as at a fresh
 * import); the tuple itself when none is.  NULL for NULL, or with an
 * exception set. */
static PyObject *
redirected_defaults(PyObject *defaults, const hr_identity *identity)
{
    if (defaults == NULL || identity == NULL || !PyTuple_Check(defaults)) {
        return Py_XNewRef(defaults);
    }
    Py_ssize_t n = PyTuple_GET_SIZE(defaults);
    Py_ssize_t first = 0;
    while (first < n && hr_identity_get(identity, PyTuple_GET_ITEM(defaults, first))
                        == PyTuple_GET_ITEM(defaults, first)) {
        first++;
    }
    if (first == n) {
        return Py_NewRef(defaults);
    }
    PyObject *mapped = PyTuple_New(n);
    for (Py_ssize_t i = 0; mapped != NULL && i < n; i++) {
        PyTuple_SET_ITEM(mapped, i,
                         Py_NewRef(hr_identity_get(identity, PyTuple_GET_ITEM(defaults, i))));
    }
    return mapped;
}

/* New reference: the __dict__ the patched function gets.  Attributes the
 * new definition sets (functools.wraps' __wrapped__, a decorator's marks)
 * win; attributes only the live function has were set at run time by other
 * code and are kept, as the data rule asks.  Except the marks a definition
 * makes: __wrapped__ says which function this one's code wraps (a wrapper
 * whose decorator left the source must not send inspect.signature to the
 * function it wrapped), __isabstractmethod__ that abc.abstractmethod is on
 * the definition; both follow the new code.  NULL with no exception when
 * neither has a dict. */
static const char *const definition_marks[] = {"__wrapped__", "__isabstractmethod__", NULL};

static PyObject *
merged_dict(PyFunctionObject *target, PyFunctionObject *source, const hr_identity *identity)
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
    for (int i = 0; definition_marks[i] != NULL; i++) {
        const char *mark = definition_marks[i];
        int says = fresh != NULL && hr_dict_get(fresh, mark) != NULL;
        int said = !PyErr_Occurred() && !says && hr_dict_get(merged, mark) != NULL;
        if (PyErr_Occurred() || (said && PyDict_DelItemString(merged, mark) < 0)) {
            Py_DECREF(merged);
            return NULL;
        }
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
                  PyFunctionObject *source, PyObject *globals, const hr_identity *identity)
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
    /* Everything that can fail, but the setters, comes before the first
     * write; a setter that refuses is undone by the journal. */
    hr_function_fields next;
    if (redirect_cells(source->func_closure, identity) < 0
        || hr_function_fields_read(source, &next) < 0) {
        return -1;
    }
    int status = -1;
    Py_XSETREF(next.defaults, redirected_defaults(next.defaults, identity));
    if (next.defaults == NULL && source->func_defaults != NULL) {
        goto done;
    }
    PyObject *dict = merged_dict(target, source, identity);
    if (dict == NULL && PyErr_Occurred()) {
        goto done;
    }
    Py_XSETREF(next.dict, dict != NULL ? dict : Py_XNewRef(target->func_dict));
    if (globals == NULL || target->func_globals == globals) {
        /* A reload: the live function keeps reading its own module. */
        Py_SETREF(next.globals, Py_NewRef(target->func_globals));
#if HR_PY310
        Py_XSETREF(next.builtins, Py_XNewRef(target->func_builtins));
#endif
    }
    else {
        /* patch(): the new code reads the names of the module it was
         * written in, as a hotfix script's function does. */
        Py_SETREF(next.globals, Py_NewRef(globals));
        Py_XSETREF(next.builtins, hr_builtins_of(globals));
        if (next.builtins == NULL && PyErr_Occurred()) {
            goto done;
        }
    }
    if (hr_journal_save_function(journal, target) < 0) {
        goto done;
    }
    status = hr_function_fields_write(target, &next);
done:
    hr_function_fields_clear(&next);
    return status;
}

int
hr_function_set_code(hr_journal *journal, PyFunctionObject *func, PyObject *code,
                     PyObject *closure)
{
    /* Keeping its cells, the function had as many as its code has free
     * variables (CPython keeps it so), and the new code has as many. */
    Py_ssize_t cells = closure != NULL ? PyTuple_GET_SIZE(closure)
                                       : HR_CODE_NFREEVARS((PyCodeObject *)func->func_code);
    if (HR_CODE_NFREEVARS((PyCodeObject *)code) != cells) {
        PyErr_SetString(PyExc_ValueError, "closure does not match the code's free variables");
        return -1;
    }
    /* Only the code and the closure change: only they are saved. */
    if (hr_journal_save_code(journal, func, closure != NULL) < 0) {
        return -1;
    }
    PyObject *cells_now = closure == NULL ? func->func_closure
                          : PyTuple_GET_SIZE(closure) ? closure : NULL;
    return hr_function_code_write(func, code, cells_now);
}

int
hr_function_adopt(PyFunctionObject *func, PyObject *globals, const hr_identity *identity)
{
    if (redirect_cells(func->func_closure, identity) < 0) {
        return -1;
    }
    PyObject *defaults = redirected_defaults(func->func_defaults, identity);
    int status = defaults == func->func_defaults ? 0
                 : defaults == NULL ? -1 : PyFunction_SetDefaults((PyObject *)func, defaults);
    Py_XDECREF(defaults);
    if (status < 0) {
        return -1;
    }
    return hr_function_set_globals(func, globals);
}
