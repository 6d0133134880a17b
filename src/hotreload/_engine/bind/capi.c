/* The C API for programs that embed CPython (include/hotreload/hotreload_api.h).
 *
 * A host engine calls these between frames, holding the GIL, and gets plain
 * C data back.  Each call has the same shape:
 *
 *   enter   check that Python may be touched at all (initialized, GIL held),
 *           set the host's pending exception aside, find the module state
 *   work    the same engine functions the Python binding calls
 *   leave   turn the report dict, or the exception, into one
 *           HotReload_Result; clear the exception; give the host back the
 *           exception it had
 *
 * A result is a single raw allocation (struct, pointer arrays, then the
 * UTF-8 bytes), so freeing it needs neither the GIL nor any bookkeeping,
 * and building it cannot leak half of it. */
#include "hotreload.h"

#include <hotreload/hotreload_api.h>
#include <string.h>

#define ENGINE_MODULE "hotreload._hotreload"

static const HotReload_API api;  /* the table behind the capsule, at the end */

/* The report's lists, in the order of HotReload_Result's fields. */
enum { N_LISTS = 7, LIST_MISSING = 6 };
static const char *const list_keys[N_LISTS] = {
    "modules", "updated", "added", "removed", "kept", "replaced", "missing",
};

static HotReload_Names *
result_list(HotReload_Result *result, int i)
{
    HotReload_Names *lists[N_LISTS] = {
        &result->modules, &result->updated, &result->added, &result->removed,
        &result->kept, &result->replaced, &result->missing,
    };
    return lists[i];
}

/* Handed out when not even a result can be allocated: free_result() knows
 * it and leaves it alone. */
static HotReload_Result out_of_memory = {
    .success = 0,
    .error = "cannot reload: out of memory (the hotreload result could not be allocated)",
};

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

/* Copies `len` bytes and a NUL to *cursor, advancing it; returns the copy. */
static const char *
copy_text(char **cursor, const char *text, size_t len)
{
    char *copy = *cursor;
    memcpy(copy, text, len);
    copy[len] = '\0';
    *cursor += len + 1;
    return copy;
}

/* A failed result holding only `message`, built without touching Python:
 * for calls made without the GIL. */
static HotReload_Result *
plain_error(const char *message)
{
    size_t len = strlen(message);
    HotReload_Result *result = PyMem_RawCalloc(1, sizeof(HotReload_Result) + len + 1);
    if (result == NULL) {
        return &out_of_memory;
    }
    char *cursor = (char *)(result + 1);
    result->error = copy_text(&cursor, message, len);
    return result;
}

/* New reference: `text` (a str) as UTF-8 bytes.  Lone surrogates (from
 * undecodable file names) become escapes rather than failing the result. */
static PyObject *
utf8(PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str in a hotreload report, not %s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    return PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
}

/* Builds a result from Python data, all borrowed: `report` (the engine's
 * report dict, or NULL on failure), `missing` (list of str, or NULL), and
 * `texts` = error message, module, object (each a str, or NULL/None).
 * Returns NULL with an exception set on failure.
 *
 * Two passes: encode every string and add up the sizes, then allocate once
 * and copy. */
static HotReload_Result *
make_result(PyObject *report, PyObject *missing, PyObject *const texts[3])
{
    PyObject *lists[N_LISTS] = {NULL};  /* borrowed */
    PyObject *encoded = PyList_New(0);  /* bytes of every string, in copy order */
    HotReload_Result *result = NULL;
    size_t size = sizeof(HotReload_Result), slots = 0;
    double seconds = 0.0;
    if (encoded == NULL) {
        goto error;
    }
    for (int i = 0; report != NULL && i < N_LISTS; i++) {
        lists[i] = i == LIST_MISSING ? NULL : hr_dict_get(report, list_keys[i]);
        if (PyErr_Occurred()) {
            goto error;
        }
        if (i != LIST_MISSING && (lists[i] == NULL || !PyList_Check(lists[i]))) {
            PyErr_Format(PyExc_SystemError, "hotreload report without a list %s",
                         list_keys[i]);
            goto error;
        }
    }
    if (report != NULL) {
        PyObject *value = hr_dict_get(report, "seconds");
        seconds = value != NULL ? PyFloat_AsDouble(value) : 0.0;
        if (PyErr_Occurred()) {
            goto error;
        }
    }
    lists[LIST_MISSING] = missing;
    for (int i = 0; i < N_LISTS; i++) {
        for (Py_ssize_t j = 0; lists[i] != NULL && j < PyList_GET_SIZE(lists[i]); j++) {
            PyObject *bytes = utf8(PyList_GET_ITEM(lists[i], j));
            if (bytes == NULL || PyList_Append(encoded, bytes) < 0) {
                Py_XDECREF(bytes);
                goto error;
            }
            size += sizeof(char *) + (size_t)PyBytes_GET_SIZE(bytes) + 1;
            slots++;
            Py_DECREF(bytes);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (texts[i] == NULL || Py_IsNone(texts[i])) {
            continue;
        }
        PyObject *bytes = utf8(texts[i]);
        if (bytes == NULL || PyList_Append(encoded, bytes) < 0) {
            Py_XDECREF(bytes);
            goto error;
        }
        size += (size_t)PyBytes_GET_SIZE(bytes) + 1;
        Py_DECREF(bytes);
    }

    /* The struct's size is a multiple of its alignment, which is at least a
     * pointer's: the pointer arrays can follow it directly. */
    result = PyMem_RawCalloc(1, size);
    if (result == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    const char **slot = (const char **)(result + 1);
    char *cursor = (char *)(slot + slots);
    Py_ssize_t k = 0;
    for (int i = 0; i < N_LISTS; i++) {
        HotReload_Names *names = result_list(result, i);
        names->count = lists[i] != NULL ? (size_t)PyList_GET_SIZE(lists[i]) : 0;
        names->names = names->count > 0 ? slot : NULL;
        for (size_t j = 0; j < names->count; j++, k++) {
            PyObject *bytes = PyList_GET_ITEM(encoded, k);
            *slot++ = copy_text(&cursor, PyBytes_AS_STRING(bytes),
                                (size_t)PyBytes_GET_SIZE(bytes));
        }
    }
    const char **fields[3] = {&result->error, &result->module, &result->object};
    for (int i = 0; i < 3; i++) {
        if (texts[i] != NULL && !Py_IsNone(texts[i])) {
            PyObject *bytes = PyList_GET_ITEM(encoded, k++);
            *fields[i] = copy_text(&cursor, PyBytes_AS_STRING(bytes),
                                   (size_t)PyBytes_GET_SIZE(bytes));
        }
    }
    result->success = report != NULL;
    result->seconds = seconds;
    Py_DECREF(encoded);
    return result;
error:
    Py_XDECREF(encoded);
    return NULL;
}

/* New reference: the message of the exception `exc` for the host: a
 * ReloadError's own message, else "Type: message".  NULL with an exception
 * set on failure. */
static PyObject *
error_message(PyObject *exc, int is_reload_error)
{
    PyObject *text = PyObject_Str(exc);
    if (text == NULL || is_reload_error) {
        return text;
    }
    PyObject *message = PyUnicode_GET_LENGTH(text) > 0
        ? PyUnicode_FromFormat("%s: %U", Py_TYPE(exc)->tp_name, text)
        : PyUnicode_FromString(Py_TYPE(exc)->tp_name);
    Py_DECREF(text);
    return message;
}

/* A failed result describing the exception currently set (which it
 * clears).  `state` may be NULL (the engine was not found). */
static HotReload_Result *
error_result(hr_state *state)
{
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    if (type == NULL) {
        /* An engine function failed without saying why: a bug, but the
         * host still gets a failed result rather than a crash. */
        return plain_error("cannot reload: the engine failed without an error (a bug in hotreload)");
    }
    PyErr_NormalizeException(&type, &exc, &tb);
    HotReload_Result *result = NULL;
    int is_reload_error = state != NULL && state->ReloadError != NULL
                          && PyErr_GivenExceptionMatches(type, state->ReloadError);
    PyObject *texts[3] = {error_message(exc, is_reload_error), NULL, NULL};
    if (texts[0] != NULL && is_reload_error) {
        /* Set by hr_raise; missing only if user code replaced them. */
        texts[1] = PyObject_GetAttrString(exc, "module");
        texts[2] = PyObject_GetAttrString(exc, "object");
        for (int i = 1; i < 3; i++) {
            if (texts[i] == NULL || !PyUnicode_Check(texts[i])) {
                PyErr_Clear();  /* a full clear: only these names are lost */
                Py_CLEAR(texts[i]);
            }
        }
    }
    if (texts[0] != NULL) {
        result = make_result(NULL, NULL, texts);
    }
    if (result == NULL) {
        /* A full clear: the error result says it could not be built; a C
         * caller has no Python exception to look at. */
        PyErr_Clear();
        result = &out_of_memory;
    }
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(texts[i]);
    }
    Py_XDECREF(type);
    Py_XDECREF(exc);
    Py_XDECREF(tb);
    return result;
}

static void
capi_free_result(HotReload_Result *result)
{
    if (result != NULL && result != &out_of_memory) {
        PyMem_RawFree(result);
    }
}

/* ------------------------------------------------------------------------ */
/* Entering and leaving a call                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *refused;     /* why Python may not be touched, or NULL */
    PyObject *module;        /* the engine module (strong), or NULL */
    hr_state *state;         /* its state, or NULL */
    PyObject *saved_type, *saved_value, *saved_tb;  /* the host's pending exception */
} call;

/* Starts a call.  Returns the module state, or NULL when the call cannot
 * proceed: then either `c->refused` says why (Python must not be touched)
 * or an exception is set. */
static hr_state *
enter(call *c)
{
    memset(c, 0, sizeof(*c));
    if (!Py_IsInitialized()) {
        c->refused = "cannot reload: the Python interpreter is not initialized";
        return NULL;
    }
    if (!PyGILState_Check()) {
        c->refused = "cannot reload: the calling thread does not hold the GIL "
                     "(call PyGILState_Ensure() first)";
        return NULL;
    }
    /* The host's own pending exception is not ours to report or lose. */
    PyErr_Fetch(&c->saved_type, &c->saved_value, &c->saved_tb);

    /* The engine of this thread's interpreter.  Imported, not only looked
     * up, so that a sub-interpreter gets one too; a cheap dict lookup when
     * it is already there.  The capsule check proves the module's state is
     * an hr_state before it is used as one. */
    c->module = PyImport_ImportModule(ENGINE_MODULE);
    if (c->module == NULL) {
        return NULL;
    }
    PyObject *capsule = hr_dict_get(PyModule_GetDict(c->module), "_C_API");
    if (capsule == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (capsule == NULL || !PyCapsule_IsValid(capsule, HOTRELOAD_CAPSULE_NAME)
        || PyCapsule_GetPointer(capsule, HOTRELOAD_CAPSULE_NAME) != &api) {
        PyErr_SetString(PyExc_ImportError, ENGINE_MODULE " is not the engine this API "
                        "belongs to (its _C_API capsule is missing or foreign)");
        return NULL;
    }
    c->state = PyModule_GetState(c->module);
    return c->state;
}

/* Ends a call: the result from `report` (borrowed; NULL when the work
 * failed with an exception set) and `missing` (borrowed, or NULL).  No
 * exception is left set but the host's own. */
static HotReload_Result *
leave(call *c, PyObject *report, PyObject *missing)
{
    if (c->refused != NULL) {
        return plain_error(c->refused);
    }
    HotReload_Result *result = NULL;
    if (report != NULL) {
        PyObject *no_texts[3] = {NULL, NULL, NULL};
        result = make_result(report, missing, no_texts);
    }
    if (result == NULL) {
        result = error_result(c->state);
    }
    Py_CLEAR(c->module);
    PyErr_Restore(c->saved_type, c->saved_value, c->saved_tb);
    return result;
}

/* ------------------------------------------------------------------------ */
/* The calls                                                                 */
/* ------------------------------------------------------------------------ */

/* New reference: a report of nothing, for calls that succeed without
 * reloading anything (install()). */
static PyObject *
empty_report(void)
{
    return Py_BuildValue("{s[]s[]s[]s[]s[]s[]sd}", "modules", "updated", "added", "removed",
                         "kept", "replaced", "seconds", 0.0);
}

static HotReload_Result *
capi_install(void)
{
    call c;
    PyObject *report = NULL;
    hr_state *state = enter(&c);
    if (state != NULL && hr_install(c.module, state) == 0) {
        report = empty_report();
    }
    HotReload_Result *result = leave(&c, report, NULL);
    Py_XDECREF(report);
    return result;
}

static HotReload_Result *
capi_reload(const char *const *names, size_t count)
{
    call c;
    PyObject *targets = NULL, *report = NULL;
    hr_state *state = enter(&c);
    if (state == NULL) {
        goto done;
    }
    if (names == NULL && count > 0) {
        PyErr_SetString(PyExc_ValueError, "cannot reload: no module names (names is NULL)");
        goto done;
    }
    if (count > (size_t)PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "cannot reload: too many module names");
        goto done;
    }
    if ((targets = PyTuple_New((Py_ssize_t)count)) == NULL) {
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (names[i] == NULL) {
            PyErr_Format(PyExc_ValueError, "cannot reload: module name %zu is NULL", i);
            goto done;
        }
        PyObject *name = PyUnicode_DecodeUTF8(names[i], (Py_ssize_t)strlen(names[i]), NULL);
        if (name == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(targets, (Py_ssize_t)i, name);
    }
    report = hr_reload(state, targets);
done:
    Py_XDECREF(targets);
    HotReload_Result *result = leave(&c, report, NULL);
    Py_XDECREF(report);
    return result;
}

static HotReload_Result *
capi_reload_changed(void)
{
    call c;
    PyObject *missing = NULL, *report = NULL;
    hr_state *state = enter(&c);
    if (state != NULL && (missing = PyList_New(0)) != NULL) {
        report = hr_reload_changed(state, missing, NULL);
    }
    HotReload_Result *result = leave(&c, report, missing);
    Py_XDECREF(report);
    Py_XDECREF(missing);
    return result;
}

/* The script is read by hr_hotfix itself, under the same trust policy as
 * hotreload.hotfix(path): folders, links, who may write it.  A relative
 * path is made absolute first, as hotreload.hotfix() does, so that the
 * folder policy compares whole paths. */
static HotReload_Result *
capi_hotfix(const char *path)
{
    call c;
    PyObject *given = NULL, *filename = NULL, *report = NULL;
    hr_state *state = enter(&c);
    if (state == NULL) {
        goto done;
    }
    if (path == NULL) {
        PyErr_SetString(PyExc_ValueError, "cannot run a hotfix: its path is NULL");
        goto done;
    }
    if ((given = PyUnicode_DecodeFSDefault(path)) == NULL) {
        goto done;
    }
    PyObject *os_path = PyImport_ImportModule("os.path");
    if (os_path == NULL) {
        goto done;
    }
    filename = PyObject_CallMethod(os_path, "abspath", "O", given);
    Py_DECREF(os_path);
    if (filename == NULL) {
        goto done;
    }
    report = hr_hotfix(state, NULL, filename);
done:
    Py_XDECREF(given);
    Py_XDECREF(filename);
    HotReload_Result *result = leave(&c, report, NULL);
    Py_XDECREF(report);
    return result;
}

/* The table behind the capsule: static, so it outlives every interpreter
 * and every host that holds a pointer to it. */
static const HotReload_API api = {
    .version_major = HOTRELOAD_API_VERSION_MAJOR,
    .version_minor = HOTRELOAD_API_VERSION_MINOR,
    .install = capi_install,
    .reload = capi_reload,
    .reload_changed = capi_reload_changed,
    .hotfix = capi_hotfix,
    .free_result = capi_free_result,
};

int
hr_capi_export(PyObject *module)
{
    /* The capsule holds a const table; PyCapsule only stores the pointer. */
    PyObject *capsule = PyCapsule_New((void *)&api, HOTRELOAD_CAPSULE_NAME, NULL);
    if (capsule == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, "_C_API", capsule) < 0) {
        Py_DECREF(capsule);
        return -1;
    }
    return 0;
}
