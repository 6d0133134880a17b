/* Running the chosen statements of a new source in a scratch namespace.
 *
 * The scratch namespace starts as a copy of the live module's dict, so the
 * statements that run see the live values of everything that does not run
 * again, while the live module itself is not touched until the commit.  The
 * statements are compiled together from a copy of the source in which every
 * other statement is blanked out, so line numbers and columns in
 * tracebacks and code objects are those of the file.
 *
 * Functions made while the statements run get the scratch dict as their
 * globals; at the commit they are pointed at the live dict.  They are found
 * in the youngest GC generation: collection is paused while a reload runs,
 * so every object it made is there (CPython's generational GC, 3.9-3.13). */
#include "hotreload.h"

#include <string.h>

static const char *const module_metadata[] = {
    "__name__", "__file__", "__package__", "__loader__", "__spec__",
    "__path__", "__cached__", "__builtins__", "__doc__", NULL,
};

/* New reference: the namespace the new code runs in. */
static PyObject *
make_scratch(hr_unit *u)
{
    if (!u->full) {
        return PyDict_Copy(u->live);
    }
    /* A module imported before install(): its whole source runs, as on a
     * first import, in a fresh namespace with the module's identity. */
    PyObject *scratch = PyDict_New();
    for (int i = 0; scratch && module_metadata[i]; i++) {
        PyObject *value = hr_dict_get(u->live, module_metadata[i]);
        if ((value == NULL && PyErr_Occurred())
            || (value != NULL && PyDict_SetItemString(scratch, module_metadata[i], value) < 0)) {
            Py_CLEAR(scratch);
        }
    }
    return scratch;
}

static int
is_future_import(const hr_stmt *st)
{
    static const char future[] = "from __future__ ";
    return st->kind == HR_STMT_FROM && PyBytes_GET_SIZE(st->norm) > (Py_ssize_t)sizeof(future) - 1
           && memcmp(PyBytes_AS_STRING(st->norm), future, sizeof(future) - 1) == 0;
}

/* Fills `buffer` with the source where every character but newlines is a
 * space: nothing runs, every line keeps its number. */
static void
blank(char *buffer, const char *text, Py_ssize_t len)
{
    for (Py_ssize_t k = 0; k < len; k++) {
        buffer[k] = text[k] == '\n' ? '\n' : ' ';
    }
    buffer[len] = '\0';
}

/* Copies the `from __future__` statements: every compiled piece needs
 * these compiler directives. */
static void
copy_future_imports(char *buffer, const hr_unit *u)
{
    for (Py_ssize_t k = 0; k < u->new_stmts.count; k++) {
        const hr_stmt *st = &u->new_stmts.items[k];
        if (is_future_import(st)) {
            memcpy(buffer + st->start, u->new_utf8 + st->start, st->end - st->start);
        }
    }
}

/* Compiles the buffer and runs it in the scratch namespace. */
static int
run_buffer(hr_batch *batch, hr_unit *u, const char *buffer)
{
    PyCompilerFlags flags = {PyCF_IGNORE_COOKIE, PY_MINOR_VERSION};
    PyObject *code = Py_CompileStringObject(buffer, u->path, Py_file_input, &flags, -1);
    if (code == NULL) {
        return hr_raise(batch->state, u->name, NULL, "the new source does not compile");
    }
    PyObject *result = PyEval_EvalCode(code, u->scratch, u->scratch);
    Py_DECREF(code);
    if (result == NULL) {
        return hr_raise(batch->state, u->name, NULL, "the new code raised while it ran");
    }
    Py_DECREF(result);
    return 0;
}

int
hr_execute(hr_batch *batch, hr_unit *u)
{
    const char *text = u->new_utf8;
    Py_ssize_t len = u->new_len;
    char *buffer = NULL;
    int status = -1;

    if ((u->scratch = make_scratch(u)) == NULL) {
        goto done;
    }
    if (u->full) {
        status = run_buffer(batch, u, text);
        goto done;
    }
    if ((buffer = PyMem_Malloc(len + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    blank(buffer, text, len);
    copy_future_imports(buffer, u);
    int pending = 0;  /* statements copied into the buffer, not yet run */
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (!u->run[i] || is_future_import(st)) {
            continue;
        }
        if (PyList_GET_ITEM(u->emulated, i) != Py_None) {
            if ((pending && run_buffer(batch, u, buffer) < 0)
                || hr_emulate_from(batch, u, i) < 0) {
                goto done;
            }
            /* The next piece starts from a blank copy again. */
            blank(buffer, text, len);
            copy_future_imports(buffer, u);
            pending = 0;
            continue;
        }
        /* A def whose decorators did not change runs without them: they
         * are not applied twice; the live wrapper keeps working and the
         * function it wraps takes the new code. */
        Py_ssize_t from = u->strip[i] ? st->head : st->start;
        memcpy(buffer + from, text + from, st->end - from);
        if (st->kind == HR_STMT_CLASS && u->match[i] >= 0
            && hr_blank_unchanged_members(batch->state, u, i, buffer) < 0) {
            goto done;
        }
        pending = 1;
    }
    status = pending ? run_buffer(batch, u, buffer) : 0;
done:
    PyMem_Free(buffer);
    return status;
}

/* ------------------------------------------------------------------------ */
/* What the reload made                                                      */
/* ------------------------------------------------------------------------ */

/* Borrowed: the unit whose scratch namespace `globals` is, or NULL. */
static hr_unit *
unit_of_scratch(hr_batch *batch, PyObject *globals)
{
    for (Py_ssize_t k = 0; k < batch->count; k++) {
        if (batch->units[k].scratch == globals) {
            return &batch->units[k];
        }
    }
    return NULL;
}

/* Moves an instance made by re-run code from a throw-away class to the live
 * class it stands for, with object.__setattr__'s own layout checks.  The
 * instance is new, so this happens before the commit. */
static int
adopt_instance(PyObject *obj, PyObject *live_type)
{
    static PyObject *class_name = NULL;
    if (class_name == NULL && (class_name = PyUnicode_InternFromString("__class__")) == NULL) {
        return -1;
    }
    return PyBaseObject_Type.tp_setattro(obj, class_name, live_type);
}

/* A class the reload made (a new subclass, `class Child(Base)` added while
 * Base changed) was built on the throw-away copies of its bases; it takes
 * the live classes they stand for, or isinstance(Child(), Base) would be
 * false.  type.__bases__'s setter checks the layouts (equal: classdiff
 * refused any other) and recomputes the MRO.  The class is new, so this
 * happens before the commit. */
static int
rebase_made_class(hr_batch *batch, PyTypeObject *type)
{
    PyObject *bases = type->tp_bases;
    Py_ssize_t n = bases && (type->tp_flags & Py_TPFLAGS_HEAPTYPE) ? PyTuple_GET_SIZE(bases) : 0;
    PyObject *live_bases = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *base = PyTuple_GET_ITEM(bases, i);
        PyObject *live = hr_identity_get(&batch->identity, base);
        if (live == base) {
            continue;
        }
        if (live_bases == NULL && (live_bases = PyTuple_GetSlice(bases, 0, n)) == NULL) {
            return -1;
        }
        Py_SETREF(PyTuple_GET_ITEM(live_bases, i), Py_NewRef(live));
    }
    if (live_bases == NULL) {
        return 0;
    }
    PyObject *module = hr_dict_get(type->tp_dict, "__module__");  /* borrowed */
    if (module == NULL && PyErr_Occurred()) {
        Py_DECREF(live_bases);
        return -1;
    }
    Py_XINCREF(module);
    int status = PyObject_SetAttrString((PyObject *)type, "__bases__", live_bases);
    Py_DECREF(live_bases);
    if (status < 0) {
        hr_raise(batch->state, module && PyUnicode_Check(module) ? module : NULL,
                 ((PyHeapTypeObject *)type)->ht_qualname,
                 "a new class cannot take the live classes as its bases");
    }
    Py_XDECREF(module);
    return status;
}

int
hr_collect_made(hr_batch *batch, PyObject *young)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(young); i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        if (PyType_Check(obj) && hr_identity_get(&batch->identity, obj) == obj
            && rebase_made_class(batch, (PyTypeObject *)obj) < 0) {
            return -1;
        }
        if (PyFunction_Check(obj)) {
            hr_unit *u = unit_of_scratch(batch, PyFunction_GET_GLOBALS(obj));
            if (u != NULL
                && hr_plan_adopt(&batch->actions, obj, u->live) < 0) {
                return -1;
            }
            continue;
        }
        PyObject *type = (PyObject *)Py_TYPE(obj);
        PyObject *live = hr_identity_get(&batch->identity, type);
        if (live != type && PyType_Check(live) && !PyType_Check(obj)
            && adopt_instance(obj, live) < 0) {
            /* An incompatible layout (TypeError from object.__setattr__)
             * keeps the instance as it is; anything else fails the reload. */
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();
        }
    }
    return 0;
}
