/* The one place that writes the fields of a function object.
 *
 * The writes repeat what CPython's own setters do (func_set_code in
 * Objects/funcobject.c): validate, clear the specialisation version (so
 * that calls specialised on the old code deoptimise), then replace.  The run
 * layer uses it on functions it has just made (copies that hold other
 * cells or other code); the commit on live functions, each saved in the
 * journal first (commit/funcpatch.c). */
#include "hotreload.h"

PyObject *
hr_builtins_of(PyObject *globals)
{
    PyObject *builtins = hr_dict_get(globals, "__builtins__");
    if (builtins != NULL && PyModule_Check(builtins)) {
        builtins = PyModule_GetDict(builtins);
    }
    if (builtins == NULL || !PyDict_Check(builtins)) {
        return NULL;
    }
    return Py_NewRef(builtins);
}

/* Forgets the specialisation version of a function after one of its fields
 * was written, as CPython's own setters do (func_set_code): calls
 * specialised on the old code must deoptimise. */
static void
forget_version(PyFunctionObject *func)
{
#if HR_PY313
    /* _PyFunction_SetVersion is internal; the public setter below is the
     * supported way to clear the version and its slot in the interpreter's
     * function-version cache.  It rewrites the defaults with themselves,
     * which cannot fail. */
    (void)PyFunction_SetDefaults((PyObject *)func,
                                 func->func_defaults ? func->func_defaults : Py_None);
#elif HR_PY311
    func->func_version = 0;
#else
    (void)func;
#endif
}

/* Globals have no setter (func_globals is read-only from Python); since
 * 3.10 a function also caches the builtins found through them. */
static void
write_globals(PyFunctionObject *func, PyObject *globals, PyObject *builtins)
{
    Py_SETREF(func->func_globals, Py_NewRef(globals));
#if HR_PY310
    if (builtins != NULL) {
        Py_SETREF(func->func_builtins, Py_NewRef(builtins));
    }
#else
    (void)builtins;
#endif
}

int
hr_function_fields_read(PyFunctionObject *func, hr_function_fields *out)
{
    memset(out, 0, sizeof(*out));
    /* The getter turns 3.10's lazy tuple of annotations into the dict the
     * setter takes, as reading f.__annotations__ does. */
    PyObject *annotations = PyFunction_GetAnnotations((PyObject *)func);
    if (annotations == NULL && PyErr_Occurred()) {
        return -1;
    }
    out->code = Py_NewRef(func->func_code);
    out->closure = Py_XNewRef(func->func_closure);
    out->defaults = Py_XNewRef(func->func_defaults);
    out->kwdefaults = Py_XNewRef(func->func_kwdefaults);
    out->annotations = Py_XNewRef(annotations);
    out->doc = Py_XNewRef(func->func_doc);
    out->dict = Py_XNewRef(func->func_dict);
    out->name = Py_NewRef(func->func_name);
    out->qualname = Py_NewRef(func->func_qualname);
    out->globals = Py_NewRef(func->func_globals);
#if HR_PY310
    out->builtins = Py_XNewRef(func->func_builtins);
#endif
#if HR_PY312
    out->typeparams = Py_XNewRef(func->func_typeparams);
#endif
    return 0;
}

void
hr_function_fields_clear(hr_function_fields *fields)
{
    Py_CLEAR(fields->code);
    Py_CLEAR(fields->closure);
    Py_CLEAR(fields->defaults);
    Py_CLEAR(fields->kwdefaults);
    Py_CLEAR(fields->annotations);
    Py_CLEAR(fields->doc);
    Py_CLEAR(fields->dict);
    Py_CLEAR(fields->name);
    Py_CLEAR(fields->qualname);
    Py_CLEAR(fields->typeparams);
    Py_CLEAR(fields->globals);
    Py_CLEAR(fields->builtins);
}

static PyObject *
or_none(PyObject *obj)
{
    return obj != NULL ? obj : Py_None;
}

/* 1 when both codes make the same kind of function (plain, generator,
 * coroutine, async generator). */
static int
same_kind_of_code(PyObject *a, PyObject *b)
{
    const int kinds = CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR;
    return (((PyCodeObject *)a)->co_flags & kinds) == (((PyCodeObject *)b)->co_flags & kinds);
}

/* CPython's own __code__ setter (func_set_code), from the function type's
 * table of getters and setters: calling it is what setting f.__code__ does
 * once the attribute is looked up, without the lookup, which thousands of
 * live closures taking new code in one commit paid for each.  The table is
 * static in CPython, the same for every interpreter. */
static const PyGetSetDef *
code_setter(void)
{
    static const PyGetSetDef *found;
    for (const PyGetSetDef *def = PyFunction_Type.tp_getset; found == NULL && def != NULL
         && def->name != NULL; def++) {
        if (strcmp(def->name, "__code__") == 0 && def->set != NULL) {
            found = def;
        }
    }
    return found;
}

static int
set_code(PyObject *func, PyObject *code)
{
    const PyGetSetDef *def = code_setter();
    return def != NULL ? def->set(func, code, def->closure)
                       : PyObject_SetAttrString(func, "__code__", code);
}

/* Writes f.__code__ (after the closure it needs), and forgets the
 * function's version (3.11+: CPython's setter does it too). */
static int
write_code(PyFunctionObject *func, PyObject *code)
{
    if (func->func_code == code) {
        return 0;
    }
    if (same_kind_of_code(func->func_code, code)) {
        return set_code((PyObject *)func, code);
    }
    /* A function that becomes a generator or a coroutine, or the reverse:
     * the setter of 3.13 warns that this is deprecated, a warning a reload
     * done for the user must not print (nor raise, under -W error).  The
     * code is written as before 3.13's setter did, audited the same way;
     * function watchers miss this one change. */
    if (PySys_Audit("object.__setattr__", "OsO", (PyObject *)func, "__code__", code) < 0) {
        return -1;
    }
    Py_SETREF(func->func_code, Py_NewRef(code));
    hr_watcher_code_written(func);
    forget_version(func);
    return 0;
}

/* The fields CPython has setters for, through them: they validate, notify
 * function watchers (3.12+: PyFunction_EVENT_MODIFY_DEFAULTS, _KWDEFAULTS,
 * _CODE) and clear the function version.  The closure goes first: the
 * __code__ setter checks the new code against it.  The code goes through
 * the __code__ setter itself (CPython has no C setter for it), which also
 * raises the "object.__setattr__" audit event: an audit hook may veto the
 * change, and the journal then undoes the commit. */
static int
write_with_setters(PyFunctionObject *func, const hr_function_fields *fields)
{
    PyObject *op = (PyObject *)func;
    /* A field that keeps its value is left alone: a live closure taking
     * new code keeps its cells, defaults and annotations, and thousands of
     * them are written in one commit. */
    if ((func->func_closure != fields->closure
         && PyFunction_SetClosure(op, or_none(fields->closure)) < 0)
        || (func->func_defaults != fields->defaults
            && PyFunction_SetDefaults(op, or_none(fields->defaults)) < 0)
        || (func->func_kwdefaults != fields->kwdefaults
            && PyFunction_SetKwDefaults(op, or_none(fields->kwdefaults)) < 0)
        || (func->func_annotations != fields->annotations
            && PyFunction_SetAnnotations(op, or_none(fields->annotations)) < 0)) {
        return -1;
    }
    return write_code(func, fields->code);
}

/* The fields without a setter that notifies anyone, written as CPython's
 * own member setters do (a plain replacement); none of these can fail. */
static void
write_plain(PyFunctionObject *func, const hr_function_fields *fields)
{
    Py_XSETREF(func->func_doc, Py_XNewRef(fields->doc));
    Py_XSETREF(func->func_dict, Py_XNewRef(fields->dict));
    Py_SETREF(func->func_name, Py_NewRef(fields->name));
    Py_SETREF(func->func_qualname, Py_NewRef(fields->qualname));
#if HR_PY312
    Py_XSETREF(func->func_typeparams, Py_XNewRef(fields->typeparams));
#endif
    if (func->func_globals != fields->globals) {
        write_globals(func, fields->globals, fields->builtins);
    }
}

int
hr_function_fields_write(PyFunctionObject *func, const hr_function_fields *fields)
{
    assert(PyFunction_Check(func) && fields->code != NULL && PyCode_Check(fields->code));
    if (write_with_setters(func, fields) < 0) {
        return -1;
    }
    write_plain(func, fields);
    forget_version(func);
    return 0;
}

void
hr_function_fields_restore(PyFunctionObject *func, const hr_function_fields *fields)
{
    assert(PyFunction_Check(func));
    if (write_with_setters(func, fields) < 0) {
        /* The function held exactly these values a moment ago, so only an
         * audit hook refusing the __code__ write gets here: the old state
         * goes back regardless, directly, and the refusal is reported
         * rather than lost. */
        PyErr_WriteUnraisable((PyObject *)func);
        Py_XSETREF(func->func_closure, Py_XNewRef(fields->closure));
        Py_SETREF(func->func_code, Py_NewRef(fields->code));
        hr_watcher_code_written(func);
    }
    write_plain(func, fields);
    forget_version(func);
}

int
hr_function_code_write(PyFunctionObject *func, PyObject *code, PyObject *closure)
{
    assert(PyFunction_Check(func) && PyCode_Check(code));
    int new_closure = func->func_closure != closure;
    int new_code = func->func_code != code;
    if ((new_closure && PyFunction_SetClosure((PyObject *)func, or_none(closure)) < 0)
        || write_code(func, code) < 0) {
        return -1;
    }
    /* A code write forgot the version already (CPython's setter does, and
     * write_code where it writes directly): thousands of live closures
     * take new code in one commit, and each forgetting costs a watcher
     * call and a slot of the interpreter's version cache. */
    if (new_closure && !new_code) {
        forget_version(func);
    }
    return 0;
}

void
hr_function_code_restore(PyFunctionObject *func, PyObject *code, PyObject *closure)
{
    if (hr_function_code_write(func, code, closure) < 0) {
        /* As hr_function_fields_restore: only an audit hook refusing the
         * write gets here; the old code goes back regardless. */
        PyErr_WriteUnraisable((PyObject *)func);
        Py_XSETREF(func->func_closure, Py_XNewRef(closure));
        Py_SETREF(func->func_code, Py_NewRef(code));
        hr_watcher_code_written(func);
        forget_version(func);
    }
}

int
hr_function_set_globals(PyFunctionObject *func, PyObject *globals)
{
    if (func->func_globals == globals) {
        return 0;
    }
    PyObject *builtins = hr_builtins_of(globals);
    if (builtins == NULL && PyErr_Occurred()) {
        return -1;
    }
    write_globals(func, globals, builtins);
    forget_version(func);
    Py_XDECREF(builtins);
    return 0;
}
