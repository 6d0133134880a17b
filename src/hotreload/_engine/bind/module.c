/* The binding: the module's method table, its state and its PEP 489 init.
 * Nothing clever lives here; every function forwards to the engine. */
#include "hotreload.h"

#include <stdlib.h>
#include <string.h>

static hr_state *
state_of(PyObject *module)
{
    return (hr_state *)PyModule_GetState(module);
}

/* ------------------------------------------------------------------------ */
/* Functions                                                                 */
/* ------------------------------------------------------------------------ */

static PyObject *
install(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    if (hr_install(module, state_of(module)) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
uninstall(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    if (hr_uninstall(state_of(module)) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
reload(PyObject *module, PyObject *args)
{
    return hr_reload(state_of(module), args);
}

static PyObject *
reload_changed(PyObject *module, PyObject *args)
{
    PyObject *missing = NULL, *also = NULL;
    if (!PyArg_ParseTuple(args, "|OO:reload_changed", &missing, &also)) {
        return NULL;
    }
    if (missing == Py_None) {
        missing = NULL;
    }
    if (missing != NULL && !PyList_Check(missing)) {
        PyErr_Format(PyExc_TypeError, "reload_changed() missing must be a list or None, not %s",
                     Py_TYPE(missing)->tp_name);
        return NULL;
    }
    return hr_reload_changed(state_of(module), missing, also);
}

static PyObject *
reload_sources(PyObject *module, PyObject *sources)
{
    if (!PyDict_Check(sources)) {
        PyErr_Format(PyExc_TypeError, "reload_sources() takes a dict, not %s",
                     Py_TYPE(sources)->tp_name);
        return NULL;
    }
    return hr_reload_sources(state_of(module), sources);
}

static PyObject *
patch(PyObject *module, PyObject *args)
{
    PyObject *old, *fresh;
    if (!PyArg_ParseTuple(args, "OO:patch", &old, &fresh)) {
        return NULL;
    }
    return hr_patch(state_of(module), old, fresh);
}

/* New reference: folders as a tuple of str each ending with '/'. */
static PyObject *
folders(PyObject *paths)
{
    PyObject *list = PySequence_List(paths);
    for (Py_ssize_t i = 0; list && i < PyList_GET_SIZE(list); i++) {
        PyObject *path = PyOS_FSPath(PyList_GET_ITEM(list, i));
        if (path == NULL || !PyUnicode_Check(path)) {
            Py_XDECREF(path);
            PyErr_SetString(PyExc_TypeError, "folders must be str or path-like");
            Py_CLEAR(list);
            break;
        }
        if (PyUnicode_READ_CHAR(path, PyUnicode_GET_LENGTH(path) - 1) != '/') {
            Py_SETREF(path, PyUnicode_FromFormat("%U/", path));
        }
        if (path == NULL || PyList_SetItem(list, i, path) < 0) {
            Py_CLEAR(list);
        }
    }
    if (list == NULL) {
        return NULL;
    }
    PyObject *tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return tuple;
}

static PyObject *
configure(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"deny", "allow", "follow_symlinks", "shared_files", NULL};
    PyObject *deny = NULL, *allow = NULL, *follow = NULL, *shared = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOO:_configure", keywords, &deny, &allow,
                                     &follow, &shared)) {
        return NULL;
    }
    hr_state *state = state_of(module);
    if (deny != NULL && deny != Py_None) {
        PyObject *tuple = folders(deny);
        if (tuple == NULL) {
            return NULL;
        }
        Py_XSETREF(state->deny_dirs, tuple);
    }
    if (allow != NULL && allow != Py_None) {
        PyObject *tuple = folders(allow);
        if (tuple == NULL) {
            return NULL;
        }
        Py_XSETREF(state->allow_dirs, tuple);
    }
    if (follow != NULL && follow != Py_None) {
        int value = PyObject_IsTrue(follow);
        if (value < 0) {
            return NULL;
        }
        state->follow_symlinks = value;
    }
    if (shared != NULL && shared != Py_None) {
        int value = PyObject_IsTrue(shared);
        if (value < 0) {
            return NULL;
        }
        state->shared_files = value;
    }
    return Py_BuildValue("{sOsOsOsO}", "deny", state->deny_dirs, "allow", state->allow_dirs,
                         "follow_symlinks", state->follow_symlinks ? Py_True : Py_False,
                         "shared_files", state->shared_files ? Py_True : Py_False);
}

/* For the Python layer, which must not carry a copy of the rule: raises
 * ReloadError when others can write `path` (a file or folder) or a folder
 * above it, as a reload or hotfix of a file there would. */
static PyObject *
check_writers(PyObject *module, PyObject *arg)
{
    PyObject *path = PyOS_FSPath(arg);
    if (path == NULL) {
        return NULL;
    }
    if (!PyUnicode_Check(path)) {
        PyErr_SetString(PyExc_TypeError, "_check_writers() takes a str path");
        Py_DECREF(path);
        return NULL;
    }
    PyObject *real = hr_os_real_path(path);
    int status = real != NULL ? hr_check_writers(state_of(module), NULL, path, real) : -1;
    Py_XDECREF(real);
    Py_DECREF(path);
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
records(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyDict_Copy(state_of(module)->records);
}

static PyObject *
is_installed(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    hr_state *state = state_of(module);
    PyObject *meta_path = PySys_GetObject("meta_path");
    int found = state->finder != NULL && meta_path != NULL
                && PySequence_Contains(meta_path, state->finder) == 1;
    return PyBool_FromLong(found);
}

static PyObject *
hotfix(PyObject *module, PyObject *args)
{
    PyObject *source, *filename;
    if (!PyArg_ParseTuple(args, "OU:hotfix", &source, &filename)) {
        return NULL;
    }
    if (source != Py_None && !PyUnicode_Check(source)) {
        PyErr_Format(PyExc_TypeError, "hotfix() source must be str or None, not %s",
                     Py_TYPE(source)->tp_name);
        return NULL;
    }
    return hr_hotfix(state_of(module), source == Py_None ? NULL : source, filename);
}

static PyObject *
call_on_main_thread(PyObject *module, PyObject *callable)
{
    if (hr_call_on_main_thread(module, callable) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
reloading(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    hr_state *state = state_of(module);
    return PyBool_FromLong(state->busy || state->hotfix != NULL);
}

static PyObject *
recorded(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    PyObject *names = PyDict_Keys(state_of(module)->records);
    if (names != NULL && PyList_Sort(names) < 0) {
        Py_CLEAR(names);
    }
    return names;
}

static PyObject *
changed(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"paths", "missing", NULL};
    PyObject *paths = Py_None, *missing = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:changed", keywords, &paths, &missing)) {
        return NULL;
    }
    if (missing != Py_None && !PyList_Check(missing)) {
        PyErr_Format(PyExc_TypeError, "changed() missing must be a list or None, not %s",
                     Py_TYPE(missing)->tp_name);
        return NULL;
    }
    PyObject *checked = PyList_New(0);
    PyObject *names = checked ? hr_changed_modules(state_of(module),
                                                   missing == Py_None ? NULL : missing,
                                                   paths == Py_None ? NULL : paths,
                                                   checked) : NULL;
    if (names == NULL) {
        Py_XDECREF(checked);
        return NULL;
    }
    return Py_BuildValue("(NN)", names, checked);
}

static PyObject *
source_allowed(PyObject *module, PyObject *arg)
{
    PyObject *path = PyOS_FSPath(arg);
    if (path == NULL) {
        return NULL;
    }
    int allowed = PyUnicode_Check(path) ? hr_source_allowed(state_of(module), path) : 0;
    Py_DECREF(path);
    return allowed < 0 ? NULL : PyBool_FromLong(allowed);
}

static PyObject *
watch_unrecorded(PyObject *module, PyObject *args)
{
    PyObject *name, *path;
    if (!PyArg_ParseTuple(args, "UU:watch_unrecorded", &name, &path)) {
        return NULL;
    }
    int watched = hr_watch_unrecorded(state_of(module), name, path);
    return watched < 0 ? NULL : PyBool_FromLong(watched);
}

static PyObject *
source_path(PyObject *module, PyObject *name)
{
    PyObject *record = hr_record_get(state_of(module), name);
    if (record == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return Py_NewRef(PyTuple_GET_ITEM(record, HR_REC_PATH));
}

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

static PyObject *
split_again(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *old, *source;
    if (!PyArg_ParseTuple(args, "SS:_split_again", &old, &source)) {
        return NULL;
    }
    return hr_split_again_to_list(old, source);
}

static PyObject *
simple_reads(PyObject *Py_UNUSED(module), PyObject *source)
{
    if (!PyBytes_Check(source)) {
        PyErr_SetString(PyExc_TypeError, "_simple_reads() takes bytes");
        return NULL;
    }
    PyObject *reads = hr_simple_reads(PyBytes_AS_STRING(source), 0, PyBytes_GET_SIZE(source));
    return reads != NULL || PyErr_Occurred() ? reads : Py_NewRef(Py_None);
}

/* The texts a reload of module `name` to `source` will compile alone. */
static PyObject *
alone_texts(PyObject *module, PyObject *args)
{
    PyObject *name, *source;
    if (!PyArg_ParseTuple(args, "US:_alone_texts", &name, &source)) {
        return NULL;
    }
    PyObject *record = hr_record_get(state_of(module), name);
    if (record == NULL) {
        return PyErr_Occurred() ? NULL : PyList_New(0);  /* a full run: one piece */
    }
    PyObject *old_text = hr_decode_source(PyTuple_GET_ITEM(record, HR_REC_SOURCE));
    PyObject *new_text = old_text ? hr_decode_source(source) : NULL;
    Py_ssize_t old_len, new_len;
    const char *old_utf8 = new_text ? PyUnicode_AsUTF8AndSize(old_text, &old_len) : NULL;
    const char *new_utf8 = old_utf8 ? PyUnicode_AsUTF8AndSize(new_text, &new_len) : NULL;
    PyObject *texts = new_utf8 ? hr_alone_texts(old_utf8, old_len, new_utf8, new_len) : NULL;
    Py_XDECREF(old_text);
    Py_XDECREF(new_text);
    return texts;
}

/* Code the compile helper made: (file name, text, lines, code), for the
 * next reload (hr_compile_alone, hr_def_to_run).  Added to what was put
 * since the last reload (a watcher may compile twice for one reload: an
 * editor's save seen in two bursts, the second finding nothing new), and
 * replacing what was put before it.  Kept until then: code is used only
 * for the exact text and place it was compiled from, which is right for
 * any later reload, and freeing it here keeps that work out of the
 * reload's pause. */
static PyObject *
precompiled_put(PyObject *module, PyObject *entries)
{
    hr_state *state = state_of(module);
    PyObject *fresh = state->precompiled_epoch == state->reloads
                      ? PyDict_Copy(state->precompiled) : PyDict_New();
    PyObject *iterator = fresh ? PyObject_GetIter(entries) : NULL;
    if (iterator == NULL) {
        Py_XDECREF(fresh);
        return NULL;
    }
    PyObject *entry;
    while ((entry = PyIter_Next(iterator)) != NULL) {
        PyObject *filename, *text, *code;
        int lines;
        int ok = PyArg_ParseTuple(entry, "UO!iO!:_precompiled_put", &filename, &PyBytes_Type, &text,
                                  &lines, &PyCode_Type, &code);
        PyObject *key = ok ? Py_BuildValue("(OOi)", filename, text, lines) : NULL;
        int status = key ? PyDict_SetItem(fresh, key, code) : -1;
        Py_XDECREF(key);
        Py_DECREF(entry);
        if (status < 0) {
            Py_DECREF(iterator);
            Py_DECREF(fresh);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        Py_DECREF(fresh);
        return NULL;
    }
    Py_SETREF(state->precompiled, fresh);
    state->precompiled_epoch = state->reloads;
    Py_RETURN_NONE;
}

static PyObject *
watched_codes(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    hr_state *state = state_of(module);
    if (state->function_watcher == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromSsize_t(state->notes.watched_codes.count);
}

static PyObject *
noted_closures(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    hr_state *state = state_of(module);
    if (state->function_watcher == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromSsize_t(state->notes.live_closures.count);
}

static PyObject *
decode_source(PyObject *Py_UNUSED(module), PyObject *source)
{
    return hr_decode_source(source);
}

/* The text of `source` as a reload reads it after `old` was the module's
 * source (hr_source_text_again): a str, or the bytes themselves (plain). */
static PyObject *
source_text_again(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *old, *source;
    if (!PyArg_ParseTuple(args, "SS:_source_text_again", &old, &source)) {
        return NULL;
    }
    PyObject *was = hr_source_text(old);
    if (was == NULL) {
        return NULL;
    }
    Py_ssize_t prefix, suffix;
    PyObject *text = hr_source_text_again(was, source, &prefix, &suffix);
    Py_DECREF(was);
    return text;
}

static PyMethodDef module_methods[] = {
    {"install", install, METH_NOARGS,
     "install()\n\nRecord the source of every module imported from now on."},
    {"uninstall", uninstall, METH_NOARGS,
     "uninstall()\n\nStop recording; records already made are kept."},
    {"installed", is_installed, METH_NOARGS, "installed() -> bool"},
    {"reload", reload, METH_VARARGS,
     "reload(*modules) -> dict\n\nReload modules (objects or names) in one transaction."},
    {"reload_changed", reload_changed, METH_VARARGS,
     "reload_changed(missing: list | None = None, also=()) -> dict\n\n"
     "Reload every recorded module whose file changed, and the modules of `also`,\n"
     "in one transaction; names of modules whose file is gone are appended to\n"
     "`missing`."},
    {"reload_sources", reload_sources, METH_O,
     "reload_sources(sources: dict[str, bytes]) -> dict\n\n"
     "reload() of the modules named by the keys, each built from the bytes given\n"
     "instead of its file's (the folder policy still applies to its file)."},
    {"patch", patch, METH_VARARGS,
     "patch(old, new) -> dict\n\nPour function or class `new` into `old`, in place."},
    {"hotfix", hotfix, METH_VARARGS,
     "hotfix(source: str | None, filename: str) -> dict\n\n"
     "Run a patch script (its text, or None to read the file `filename` under the\n"
     "folder policy); its patch() calls apply together at its end, or none."},
    {"call_on_main_thread", call_on_main_thread, METH_O,
     "call_on_main_thread(callable)\n\n"
     "Run callable() on the main thread at its next safe point between bytecodes."},
    {"reloading", reloading, METH_NOARGS,
     "reloading() -> bool\n\nWhether a reload or hotfix is under way (a new one would be refused)."},
    {"changed", (PyCFunction)(void (*)(void))changed, METH_VARARGS | METH_KEYWORDS,
     "changed(paths=None, missing=None) -> (list[str], list[str])\n\n"
     "The recorded modules, still imported, whose file no longer holds their recorded\n"
     "text, and those looked at: with `paths`, only the modules of those files, read\n"
     "whatever their stat says; else every one whose file's stat moved.  Modules whose\n"
     "file is gone are appended to `missing`."},
    {"source_allowed", source_allowed, METH_O,
     "source_allowed(path) -> bool\n\n"
     "Whether the folder policy lets modules be reloaded from the file `path`\n"
     "(its folders, and where its symbolic links lead)."},
    {"watch_unrecorded", watch_unrecorded, METH_VARARGS,
     "watch_unrecorded(name, path) -> bool\n\n"
     "Watch module `name`, imported before install(), for changes of its file `path`:\n"
     "changed() and reload_changed() report it until a reload records it.  False when\n"
     "it is recorded already, the folder policy refuses the file, or it cannot be read."},
    {"source_path", source_path, METH_O,
     "source_path(name) -> str | None\n\nThe file module `name` was recorded from."},
    {"recorded", recorded, METH_NOARGS,
     "recorded() -> list[str]\n\nThe names of the modules whose source is recorded."},
    {"_configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "_configure(deny=None, allow=None, follow_symlinks=None, shared_files=None) -> dict\n\n"
     "Folders not reloaded / allowed anyway; whether links may lead out of them;\n"
     "whether files other users can write may run."},
    {"_check_writers", check_writers, METH_O,
     "_check_writers(path)\n\n"
     "Raise ReloadError when users other than this process's and root can change\n"
     "the file or folder `path` (configure(shared_files=True) accepts them)."},
    {"_records", records, METH_NOARGS, "_records() -> dict\n\nThe recorded sources (a copy)."},
    {"_decode_source", decode_source, METH_O,
     "_decode_source(source: bytes) -> str\n\n"
     "A source file's text, decoded as the import system does (for tests)."},
    {"_source_text_again", source_text_again, METH_VARARGS,
     "_source_text_again(old: bytes, source: bytes) -> str | bytes\n\n"
     "The text of `source` as a reload after `old` reads it: decoded, or `source`\n"
     "itself when those bytes are its UTF-8 (for tests)."},
    {"_split", split_statements, METH_VARARGS,
     "_split(source: bytes, indent: int = 0) -> list[dict]\n\n"
     "The statements of a block, as the engine sees them (for tests)."},
    {"_split_again", split_again, METH_VARARGS,
     "_split_again(old: bytes, source: bytes) -> list[dict]\n\n"
     "The statements of module source `source` split as a reload splits it after\n"
     "`old`, from old's statements where the texts agree (for tests)."},
    {"_simple_reads", simple_reads, METH_O,
     "_simple_reads(statement: bytes) -> set[str] | None\n\n"
     "The names `name = <plain expression>` reads, read on the text; None when\n"
     "the statement is not that plain (for tests)."},
    {"_alone_texts", alone_texts, METH_VARARGS,
     "_alone_texts(name: str, source: bytes) -> list[tuple[bytes, int]]\n\n"
     "The texts a reload of module `name` to `source` will compile alone, each with\n"
     "the blank lines that put it at its place: what the watcher's compile helper\n"
     "compiles ahead, off the lock."},
    {"_precompiled_put", precompiled_put, METH_O,
     "_precompiled_put(entries: Iterable[tuple[str, bytes, int, code]])\n\n"
     "Code compiled ahead, as (file name, text, lines, code) of _alone_texts' texts:\n"
     "reloads use it where they would compile that text at that place; added to what\n"
     "was put since the last reload, replacing what was put before it."},
    {"_watched_codes", watched_codes, METH_NOARGS,
     "_watched_codes() -> int | None\n\n"
     "How many nested code objects the function watcher watches; None without a\n"
     "watcher (before 3.12, or in a sub-interpreter) (for tests)."},
    {"_noted_closures", noted_closures, METH_NOARGS,
     "_noted_closures() -> int | None\n\n"
     "How many live functions of watched code the function watcher has noted; None\n"
     "without a watcher (for tests)."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------ */
/* Module state and init                                                     */
/* ------------------------------------------------------------------------ */

static int
module_exec(PyObject *module)
{
    hr_state *state = state_of(module);
    state->ReloadError = PyErr_NewExceptionWithDoc(
        "hotreload.ReloadError",
        "A reload was refused or failed; nothing was changed.\n\n"
        "Attributes: module (name or None), object (qualified name or None),\n"
        "reason (str).  The original exception is chained as __cause__.",
        NULL, NULL);
    if (state->ReloadError == NULL
        || PyModule_AddObject(module, "ReloadError", Py_NewRef(state->ReloadError)) < 0) {
        return -1;
    }
    static const char *const strings[HR_STR_COUNT] = {
        [HR_STR_ABSTRACTMETHODS] = "__abstractmethods__",
        [HR_STR_BASES] = "__bases__",
        [HR_STR_CLASS] = "__class__",
        [HR_STR_DOC] = "__doc__",
    };
    for (int i = 0; i < HR_STR_COUNT; i++) {
        if ((state->strings[i] = PyUnicode_InternFromString(strings[i])) == NULL) {
            return -1;
        }
    }
    /* Read once: a debugging switch, not a setting that changes mid-run. */
    const char *trace = getenv("HOTRELOAD_TRACE");
    state->trace = trace != NULL && trace[0] != '\0' && strcmp(trace, "0") != 0;
    state->deny_dirs = PyTuple_New(0);
    state->allow_dirs = PyTuple_New(0);
    state->precompiled = PyDict_New();
    state->splits = PyDict_New();
    if (state->deny_dirs == NULL || state->allow_dirs == NULL || state->precompiled == NULL
        || state->splits == NULL) {
        return -1;
    }
    if (hr_capi_export(module) < 0) {
        return -1;
    }
    if (hr_execute_init(module, state) < 0 || hr_watcher_start(state) < 0) {
        return -1;
    }
    return hr_records_init(module, state);
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    hr_state *state = state_of(module);
    Py_VISIT(state->ReloadError);
    Py_VISIT(state->FinderType);
    Py_VISIT(state->LenderType);
    Py_VISIT(state->finder);
    Py_VISIT(state->records);
    Py_VISIT(state->deny_dirs);
    Py_VISIT(state->allow_dirs);
    Py_VISIT(state->pending);
    Py_VISIT(state->precompiled);
    Py_VISIT(state->splits);
    Py_VISIT(state->stale);
    Py_VISIT(state->watched);
    Py_VISIT(state->abc_meta);
    Py_VISIT(state->functools_types[0]);
    Py_VISIT(state->functools_types[1]);
    for (int i = 0; i < HR_STR_COUNT; i++) {
        Py_VISIT(state->strings[i]);
    }
    for (size_t i = 0; i < sizeof(state->ast_types) / sizeof(state->ast_types[0]); i++) {
        Py_VISIT(state->ast_types[i]);
    }
    return 0;
}

static int
module_clear(PyObject *module)
{
    hr_state *state = state_of(module);
    hr_watcher_stop(state);
    Py_CLEAR(state->ReloadError);
    Py_CLEAR(state->FinderType);
    Py_CLEAR(state->LenderType);
    Py_CLEAR(state->finder);
    Py_CLEAR(state->records);
    Py_CLEAR(state->deny_dirs);
    Py_CLEAR(state->allow_dirs);
    Py_CLEAR(state->pending);
    Py_CLEAR(state->precompiled);
    Py_CLEAR(state->splits);
    Py_CLEAR(state->stale);
    Py_CLEAR(state->watched);
    Py_CLEAR(state->abc_meta);
    Py_CLEAR(state->functools_types[0]);
    Py_CLEAR(state->functools_types[1]);
    for (int i = 0; i < HR_STR_COUNT; i++) {
        Py_CLEAR(state->strings[i]);
    }
    for (size_t i = 0; i < sizeof(state->ast_types) / sizeof(state->ast_types[0]); i++) {
        Py_CLEAR(state->ast_types[i]);
    }
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

/* Sub-interpreters that share the main interpreter's GIL may import the
 * engine: all its state is module state and its types are heap types, so
 * each interpreter gets an engine of its own (call_on_main_thread() is
 * refused there).  An interpreter with a GIL of its own is not declared
 * supported: the engine was never run that way. */
static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#if HR_PY312
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef hotreload_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hotreload._hotreload",
    .m_doc = "The hotreload engine: in-place, transactional reload of Python modules.",
    .m_size = sizeof(hr_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__hotreload(void)
{
    return PyModuleDef_Init(&hotreload_module);
}
