/* The sources of the modules the import hook recorded (bind/finder.c), and
 * the policy of which files may be read at all.
 *
 * A reload compares the new source with the text the live module was built
 * from, so that text is captured when the module is imported; each record
 * also keeps the file's stat, so that finding the changed modules reads
 * only the files whose stat moved.  The folder policy (deny, allow, links
 * out of them, files other users can write) is decided here, once, for the
 * hook, for reloads, for hotfix scripts and for the Python layer. */
#include "hotreload.h"

/* 1 when `path` is inside one of the folders (str ending with '/'). */
static int
inside_any(PyObject *path, PyObject *folders)
{
    if (folders == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(folders); i++) {
        Py_ssize_t match = PyUnicode_Tailmatch(path, PyTuple_GET_ITEM(folders, i),
                                               0, PY_SSIZE_T_MAX, -1);
        if (match != 0) {
            return (int)match;
        }
    }
    return 0;
}

/* How far the folder policy trusts `path`: TRUST_ALLOWED inside an allowed
 * folder, TRUST_DENIED inside a denied one (and no allowed one),
 * TRUST_NEUTRAL elsewhere; -1 on error. */
enum { TRUST_DENIED = 0, TRUST_NEUTRAL = 1, TRUST_ALLOWED = 2 };

static int
trust(hr_state *state, PyObject *path)
{
    int allowed = inside_any(path, state->allow_dirs);
    if (allowed != 0) {
        return allowed < 0 ? -1 : TRUST_ALLOWED;
    }
    int denied = inside_any(path, state->deny_dirs);
    return denied < 0 ? -1 : denied ? TRUST_DENIED : TRUST_NEUTRAL;
}

int
hr_path_allowed(hr_state *state, PyObject *path)
{
    int level = trust(state, path);
    return level < 0 ? -1 : level != TRUST_DENIED;
}

int
hr_hotfix_path_allowed(hr_state *state, PyObject *path)
{
    int level = trust(state, path);
    if (level < 0) {
        return -1;
    }
    /* With an allow list, hotfix scripts come from its folders only. */
    return PyTuple_GET_SIZE(state->allow_dirs) > 0 ? level == TRUST_ALLOWED
                                                   : level != TRUST_DENIED;
}

int
hr_link_allowed(hr_state *state, PyObject *path, PyObject *real)
{
    if (state->follow_symlinks) {
        return 1;
    }
    int same = PyUnicode_Compare(path, real);
    if (same == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (same == 0) {
        return 1;
    }
    int given = trust(state, path);
    int resolved = given < 0 ? -1 : trust(state, real);
    if (resolved < 0) {
        return -1;
    }
    /* Following the links must not end anywhere trusted less than where
     * they start: out of an allowed folder, or into a denied one. */
    return resolved >= given && resolved != TRUST_DENIED;
}

int
hr_check_writers(hr_state *state, PyObject *module_name, PyObject *object, PyObject *real)
{
    if (state->shared_files) {
        return 0;
    }
    hr_os_writable found = {0};
    int writable = hr_os_find_writable(real, &found);
    if (writable < 0) {
        if (PyErr_ExceptionMatches(PyExc_OSError)) {
            hr_raise(state, module_name, object, "cannot check who may write to %U", real);
        }
        return -1;
    }
    if (writable == 0) {
        return 0;
    }
    int same = PyUnicode_Compare(found.path, real);
    if (same == -1 && PyErr_Occurred()) {
        Py_DECREF(found.path);
        return -1;
    }
    if (same == 0) {
        hr_raise(state, module_name, object, "%U is writable by others (owner %s, mode %s); "
                 "hotreload.configure(shared_files=True) accepts such files", real,
                 found.owner, found.mode);
    }
    else {
        hr_raise(state, module_name, object, "%U is in %U, a folder writable by others "
                 "(owner %s, mode %s); hotreload.configure(shared_files=True) accepts such "
                 "files", real, found.path, found.owner, found.mode);
    }
    Py_DECREF(found.path);
    return -1;
}

PyObject *
hr_record_get(hr_state *state, PyObject *name)
{
    return PyDict_GetItemWithError(state->records, name);
}

PyObject *
hr_record_new(PyObject *path, PyObject *source, long long mtime_ns, long long size)
{
    return Py_BuildValue("(OOLL)", path, source, mtime_ns, size);
}

int
hr_record_put(hr_state *state, PyObject *name, PyObject *path, PyObject *source,
              long long mtime_ns, long long size)
{
    PyObject *record = hr_record_new(path, source, mtime_ns, size);
    if (record == NULL) {
        return -1;
    }
    int status = PyDict_SetItem(state->records, name, record);
    Py_DECREF(record);
    return status;
}

int
hr_source_allowed(hr_state *state, PyObject *path)
{
    int allowed = hr_path_allowed(state, path);
    if (allowed <= 0) {
        return allowed;
    }
    PyObject *real = hr_os_real_path(path);
    if (real == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;
        }
        PyErr_Clear();  /* gone or unreadable: judged by its own path */
        return 1;
    }
    allowed = hr_link_allowed(state, path, real);
    Py_DECREF(real);
    return allowed;
}

/* 1 when the record's file is one of `wanted` (a set of paths as
 * os.path.realpath gives them, the function being `realpath`), 0 when
 * not, -1 on error. */
static int
record_wanted(PyObject *record, PyObject *wanted, PyObject *realpath)
{
    PyObject *real = PyObject_CallOneArg(realpath, PyTuple_GET_ITEM(record, HR_REC_PATH));
    int found = real ? PySet_Contains(wanted, real) : -1;
    Py_XDECREF(real);
    return found;
}

/* 1 when the recorded module `name` is one to look at: imported still, and
 * when `wanted` is given, its file is one of them; 0 when not, -1 on error. */
static int
record_looked_at(PyObject *name, PyObject *record, PyObject *wanted, PyObject *realpath)
{
    PyObject *modules = PyImport_GetModuleDict();
    int imported = PyDict_Contains(modules, name);
    if (imported <= 0 || wanted == NULL) {
        return imported;
    }
    return record_wanted(record, wanted, realpath);
}

/* Looks at the module `name` of `table` (state->records or state->watched)
 * whose record is `record`: appends it to `changed` when its file no longer
 * holds the recorded bytes, to `missing` when the file cannot be read, to
 * `checked` when looked at; refreshes the record's stat after a touch.  See
 * hr_changed_modules. */
static int
look_at(PyObject *table, PyObject *name, PyObject *record, PyObject *wanted,
        PyObject *realpath, PyObject *changed, PyObject *missing, PyObject *checked)
{
    PyObject *path = PyTuple_GET_ITEM(record, HR_REC_PATH);
    int looked_at = record_looked_at(name, record, wanted, realpath);
    if (looked_at <= 0) {
        return looked_at;
    }
    if (checked != NULL && PyList_Append(checked, name) < 0) {
        return -1;
    }
    long long old_mtime = PyLong_AsLongLong(PyTuple_GET_ITEM(record, HR_REC_MTIME));
    long long old_size = PyLong_AsLongLong(PyTuple_GET_ITEM(record, HR_REC_SIZE));
    hr_os_file info;
    if (hr_os_stat(path, &info) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;
        }
        PyErr_Clear();  /* gone, or its folder cannot be reached */
        return missing != NULL ? PyList_Append(missing, name) : 0;
    }
    long long mtime = info.mtime_ns;
    /* A file named as changed (a watcher saw it written) is read whatever
     * its stat says: a copy that keeps mtimes (rsync -t, an archive) can
     * change the bytes and not the stat. */
    if (wanted == NULL && mtime == old_mtime && info.size == old_size) {
        return 0;
    }
    PyObject *source = NULL;
    long long size;
    if (hr_os_read_file(path, &source, &mtime, &size) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;
        }
        PyErr_Clear();
        return missing != NULL ? PyList_Append(missing, name) : 0;
    }
    PyObject *old = PyTuple_GET_ITEM(record, HR_REC_SOURCE);
    int same = PyObject_RichCompareBool(source, old, Py_EQ);
    Py_DECREF(source);
    if (same < 0) {
        return -1;
    }
    if (!same) {
        return PyList_Append(changed, name);
    }
    PyObject *touched = hr_record_new(path, old, mtime, size);  /* a touch is not a change */
    int status = touched ? PyDict_SetItem(table, name, touched) : -1;
    Py_XDECREF(touched);
    return status;
}

/* New reference: the set of `paths` as os.path.realpath (`realpath`) gives
 * them, or NULL with an exception set. */
static PyObject *
real_paths(PyObject *paths, PyObject *realpath)
{
    PyObject *iterator = PyObject_GetIter(paths);
    PyObject *wanted = iterator ? PySet_New(NULL) : NULL;
    PyObject *path;
    while (wanted != NULL && (path = PyIter_Next(iterator)) != NULL) {
        PyObject *real = PyObject_CallOneArg(realpath, path);
        if (real == NULL || PySet_Add(wanted, real) < 0) {
            Py_CLEAR(wanted);
        }
        Py_XDECREF(real);
        Py_DECREF(path);
    }
    if (wanted != NULL && PyErr_Occurred()) {
        Py_CLEAR(wanted);
    }
    Py_XDECREF(iterator);
    return wanted;
}

PyObject *
hr_changed_modules(hr_state *state, PyObject *missing, PyObject *paths, PyObject *checked)
{
    PyObject *changed = PyList_New(0);
    PyObject *records = changed ? PyDict_Items(state->records) : NULL;
    PyObject *watched = records ? PyDict_Items(state->watched) : NULL;
    PyObject *realpath = NULL, *wanted = NULL;
    if (watched == NULL) {
        goto error;
    }
    if (paths != NULL) {
        /* Files and records are compared by real path, both resolved alike. */
        PyObject *os_path = PyImport_ImportModule("os.path");
        realpath = os_path ? PyObject_GetAttrString(os_path, "realpath") : NULL;
        Py_XDECREF(os_path);
        if (realpath == NULL || (wanted = real_paths(paths, realpath)) == NULL) {
            goto error;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *item = PyList_GET_ITEM(records, i);
        if (look_at(state->records, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1),
                    wanted, realpath, changed, missing, checked) < 0) {
            goto error;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(watched); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(watched, i), 0);
        /* Recorded since (its first reload records it): followed as such. */
        int recorded = PyDict_Contains(state->records, name);
        if (recorded < 0 || (recorded && PyDict_DelItem(state->watched, name) < 0)
            || (!recorded && look_at(state->watched, name,
                                     PyTuple_GET_ITEM(PyList_GET_ITEM(watched, i), 1), wanted,
                                     realpath, changed, missing, checked) < 0)) {
            goto error;
        }
    }
    Py_DECREF(records);
    Py_DECREF(watched);
    Py_XDECREF(realpath);
    Py_XDECREF(wanted);
    if (PyList_Sort(changed) < 0) {
        Py_DECREF(changed);
        return NULL;
    }
    return changed;
error:
    Py_XDECREF(records);
    Py_XDECREF(watched);
    Py_XDECREF(realpath);
    Py_XDECREF(wanted);
    Py_XDECREF(changed);
    return NULL;
}

int
hr_watch_unrecorded(hr_state *state, PyObject *name, PyObject *path)
{
    int recorded = PyDict_Contains(state->records, name);
    int allowed = recorded ? recorded : hr_source_allowed(state, path);
    if (recorded != 0 || allowed <= 0) {
        return recorded < 0 || allowed < 0 ? -1 : 0;
    }
    PyObject *source = NULL;
    long long mtime, size;
    if (hr_os_read_file(path, &source, &mtime, &size) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OSError)) {
            return -1;
        }
        PyErr_Clear();  /* unreadable now: nothing to compare with later */
        return 0;
    }
    PyObject *record = hr_record_new(path, source, mtime, size);
    Py_DECREF(source);
    int status = record ? PyDict_SetItem(state->watched, name, record) : -1;
    Py_XDECREF(record);
    return status < 0 ? -1 : 1;
}
