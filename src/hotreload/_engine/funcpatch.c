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

/* ------------------------------------------------------------------------ */
/* The one place that writes the fields of a function                       */
/* ------------------------------------------------------------------------ */

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
    if (PyFunction_SetClosure(op, or_none(fields->closure)) < 0
        || PyFunction_SetDefaults(op, or_none(fields->defaults)) < 0
        || PyFunction_SetKwDefaults(op, or_none(fields->kwdefaults)) < 0
        || PyFunction_SetAnnotations(op, or_none(fields->annotations)) < 0) {
        return -1;
    }
    if (func->func_code == fields->code) {
        return 0;
    }
    if (same_kind_of_code(func->func_code, fields->code)) {
        return PyObject_SetAttrString(op, "__code__", fields->code);
    }
    /* A function that becomes a generator or a coroutine, or the reverse:
     * the setter of 3.13 warns that this is deprecated, a warning a reload
     * done for the user must not print (nor raise, under -W error).  The
     * code is written as before 3.13's setter did, audited the same way;
     * function watchers miss this one change. */
    if (PySys_Audit("object.__setattr__", "OsO", op, "__code__", fields->code) < 0) {
        return -1;
    }
    Py_SETREF(func->func_code, Py_NewRef(fields->code));
    return 0;
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
    }
    write_plain(func, fields);
    forget_version(func);
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
    if (HR_CODE_NFREEVARS((PyCodeObject *)code) != PyTuple_GET_SIZE(closure)) {
        PyErr_SetString(PyExc_ValueError, "closure does not match the code's free variables");
        return -1;
    }
    hr_function_fields next;
    if (hr_function_fields_read(func, &next) < 0) {
        return -1;
    }
    Py_SETREF(next.code, Py_NewRef(code));
    Py_XSETREF(next.closure, PyTuple_GET_SIZE(closure) ? Py_NewRef(closure) : NULL);
    int status = hr_journal_save_function(journal, func) < 0 ? -1
                 : hr_function_fields_write(func, &next);
    hr_function_fields_clear(&next);
    return status;
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
    if (func->func_globals != globals) {
        PyObject *builtins = hr_builtins_of(globals);
        if (builtins == NULL && PyErr_Occurred()) {
            return -1;
        }
        write_globals(func, globals, builtins);
        forget_version(func);
        Py_XDECREF(builtins);
    }
    return 0;
}

/* The function an unwrapping looks for: its code's name, and when `line`
 * is not 0 its first line too (a property's getter and setter share a
 * name). */
typedef struct {
    PyObject *name;
    int line;
} wanted;

static int
is_named(PyObject *obj, const wanted *want)
{
    if (!PyFunction_Check(obj)) {
        return 0;
    }
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(obj);
    return PyUnicode_Compare(code->co_name, want->name) == 0
           && (want->line == 0 || code->co_firstlineno == want->line);
}

/* New reference, or NULL: absent (no exception, as hasattr() would say) or
 * an error (an exception set: a MemoryError is not "absent"). */
static PyObject *
optional_attr(PyObject *obj, const char *attr)
{
    PyObject *value = PyObject_GetAttrString(obj, attr);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return value;
}

#define UNWRAP_DEPTH 8

typedef struct {
    const wanted *want;
    PyObject *found;  /* borrowed: the first function that is the one wanted */
} named_search;

/* Looks at one object a wrapper refers to: a function of that name, or one
 * held in a dict (the wrapper's attributes) or a list (a registry the
 * decorator returned). */
static int
find_named(PyObject *obj, void *arg)
{
    named_search *search = (named_search *)arg;
    if (obj == NULL || search->found != NULL) {
        return search->found != NULL;
    }
    if (is_named(obj, search->want)) {
        search->found = obj;
    }
    else if (PyDict_CheckExact(obj)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (search->found == NULL && PyDict_Next(obj, &pos, &key, &value)) {
            if (is_named(value, search->want)) {
                search->found = value;
            }
        }
    }
    else if (PyList_CheckExact(obj)) {
        for (Py_ssize_t i = 0; search->found == NULL && i < PyList_GET_SIZE(obj); i++) {
            if (is_named(PyList_GET_ITEM(obj, i), search->want)) {
                search->found = PyList_GET_ITEM(obj, i);
            }
        }
    }
    return search->found != NULL;
}

/* New reference: the function named `name` that a decorator's result holds
 * without saying so (no __wrapped__): a click-style Command keeping it as
 * an attribute, a registry list the decorator returned.  NULL when there
 * is none. */
static PyFunctionObject *
held_function(PyObject *obj, const wanted *want)
{
    named_search search = {want, NULL};
    if (PyList_CheckExact(obj) || PyDict_CheckExact(obj)) {
        find_named(obj, &search);
    }
    else if (Py_TYPE(obj)->tp_traverse != NULL && !PyFunction_Check(obj) && !PyType_Check(obj)) {
        Py_TYPE(obj)->tp_traverse(obj, find_named, &search);
    }
    return (PyFunctionObject *)Py_XNewRef(search.found);
}

static PyFunctionObject *
unwrap(PyObject *obj, const wanted *want, int depth)
{
    if (obj == NULL || depth > UNWRAP_DEPTH) {
        return NULL;
    }
    if (is_named(obj, want)) {
        return (PyFunctionObject *)Py_NewRef(obj);
    }
    static const char *const links[] = {"__wrapped__", "__func__", "fget", "fset", "fdel",
                                        "func"};
    PyFunctionObject *found = NULL;
    /* A plain function exposes its wrapped function only through __dict__
     * (functools.wraps) or its closure; attribute lookups on anything else
     * may run user code, which is fine before the commit. */
    for (size_t i = 0; found == NULL && !PyErr_Occurred() && i < sizeof(links) / sizeof(links[0]);
         i++) {
        PyObject *inner = optional_attr(obj, links[i]);
        if (inner != NULL && inner != obj) {
            found = unwrap(inner, want, depth + 1);
        }
        Py_XDECREF(inner);
    }
    if (found == NULL && !PyErr_Occurred() && PyFunction_Check(obj)) {
        PyObject *closure = ((PyFunctionObject *)obj)->func_closure;
        for (Py_ssize_t i = 0; found == NULL && !PyErr_Occurred() && closure
                               && i < PyTuple_GET_SIZE(closure); i++) {
            PyObject *cell = PyTuple_GET_ITEM(closure, i);
            if (PyCell_Check(cell) && PyCell_GET(cell) != NULL) {
                PyObject *content = Py_NewRef(PyCell_GET(cell));
                found = unwrap(content, want, depth + 1);
                Py_DECREF(content);
            }
        }
    }
    if (found == NULL && !PyErr_Occurred() && depth == 0) {
        found = held_function(obj, want);
    }
    return found;
}

PyFunctionObject *
hr_unwrap(PyObject *wrapper, PyObject *name)
{
    wanted want = {name, 0};
    return unwrap(wrapper, &want, 0);
}

PyFunctionObject *
hr_unwrap_at(PyObject *wrapper, PyObject *name, int line)
{
    wanted want = {name, line};
    return unwrap(wrapper, &want, 0);
}

/* ------------------------------------------------------------------------ */
/* Members of a live class lent to a class being built                      */
/* ------------------------------------------------------------------------ */

/* Index of the __class__ free variable of `func`, -1 when it has none, -2
 * on error. */
static Py_ssize_t
class_cell_index(PyFunctionObject *func)
{
    PyObject *names = PyObject_GetAttrString(func->func_code, "co_freevars");
    if (names == NULL || !PyTuple_Check(names)) {
        if (names != NULL) {
            PyErr_SetString(PyExc_TypeError, "co_freevars is not a tuple");
        }
        Py_XDECREF(names);
        return -2;
    }
    Py_ssize_t index = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names) && index < 0; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__class__") == 0) {
            index = i;
        }
    }
    Py_DECREF(names);
    return index;
}

/* New reference: `func`, or a copy of it whose __class__ cell holds `cls`,
 * as the class statement would have made it: same code, globals, defaults,
 * keyword defaults, annotations, name, qualname, docstring and __dict__
 * (shallow), and the other cells shared. */
static PyObject *
function_for_class(PyObject *obj, PyObject *cls, PyObject *copies)
{
    if (!PyFunction_Check(obj)) {
        return Py_NewRef(obj);
    }
    PyFunctionObject *func = (PyFunctionObject *)obj;
    Py_ssize_t index = class_cell_index(func);
    if (index < -1) {
        return NULL;
    }
    if (index < 0 || func->func_closure == NULL || !PyTuple_Check(func->func_closure)
        || index >= PyTuple_GET_SIZE(func->func_closure)) {
        return Py_NewRef(obj);
    }
    PyObject *copy = PyFunction_NewWithQualName(func->func_code, func->func_globals,
                                                func->func_qualname);
    /* A new tuple: slicing a whole tuple would return the live one. */
    Py_ssize_t n = PyTuple_GET_SIZE(func->func_closure);
    PyObject *closure = copy ? PyTuple_New(n) : NULL;
    PyObject *cell = closure ? PyCell_New(cls) : NULL;
    int status = cell != NULL ? 0 : -1;
    if (status == 0) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyTuple_SET_ITEM(closure, i, i == index ? cell
                                         : Py_NewRef(PyTuple_GET_ITEM(func->func_closure, i)));
        }
        hr_function_fields fields;
        status = hr_function_fields_read(func, &fields);
        if (status == 0) {
            /* The copy's own identity: its closure, and a dict of its own. */
            Py_XSETREF(fields.closure, Py_NewRef(closure));
            Py_XSETREF(fields.dict, fields.dict ? PyDict_Copy(fields.dict) : NULL);
            status = (fields.dict == NULL && func->func_dict != NULL) ? -1
                     : hr_function_fields_write((PyFunctionObject *)copy, &fields);
            hr_function_fields_clear(&fields);
        }
    }
    if (status == 0) {
        PyObject *pair = PyTuple_Pack(2, copy, obj);
        status = pair ? PyList_Append(copies, pair) : -1;
        Py_XDECREF(pair);
    }
    Py_XDECREF(closure);
    if (status < 0) {
        Py_CLEAR(copy);
    }
    return copy;
}

PyObject *
hr_member_for_class(PyObject *member, PyObject *cls, PyObject *copies)
{
    if (PyFunction_Check(member)) {
        return function_for_class(member, cls, copies);
    }
    if (Py_IS_TYPE(member, &PyClassMethod_Type) || Py_IS_TYPE(member, &PyStaticMethod_Type)) {
        PyObject *inner = PyObject_GetAttrString(member, "__func__");
        PyObject *copy = inner ? function_for_class(inner, cls, copies) : NULL;
        PyObject *result = NULL;
        if (copy != NULL) {
            result = copy == inner ? Py_NewRef(member)
                     : Py_IS_TYPE(member, &PyClassMethod_Type) ? PyClassMethod_New(copy)
                                                               : PyStaticMethod_New(copy);
        }
        Py_XDECREF(copy);
        Py_XDECREF(inner);
        return result;
    }
    if (Py_IS_TYPE(member, &PyProperty_Type)) {
        static const char *const accessors[] = {"fget", "fset", "fdel"};
        PyObject *parts[4] = {NULL, NULL, NULL, NULL};
        int copied = 0, status = 0;
        for (int i = 0; i < 3 && status == 0; i++) {
            PyObject *accessor = PyObject_GetAttrString(member, accessors[i]);
            parts[i] = accessor ? function_for_class(accessor, cls, copies) : NULL;
            copied |= parts[i] != NULL && parts[i] != accessor;
            status = parts[i] != NULL ? 0 : -1;
            Py_XDECREF(accessor);
        }
        PyObject *result = NULL;
        if (status == 0 && !copied) {
            result = Py_NewRef(member);
        }
        else if (status == 0 && (parts[3] = PyObject_GetAttrString(member, "__doc__")) != NULL) {
            result = PyObject_CallFunctionObjArgs((PyObject *)&PyProperty_Type, parts[0],
                                                  parts[1], parts[2], parts[3], NULL);
        }
        for (int i = 0; i < 4; i++) {
            Py_XDECREF(parts[i]);
        }
        return result;
    }
    return Py_NewRef(member);
}
