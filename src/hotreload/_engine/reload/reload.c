/* One reload transaction over a batch of modules.
 *
 *   resolve   each target to a live module with a readable, allowed source
 *   order     the batch so a module comes before those importing from it
 *   prepare   per module: split both sources, plan, run the chosen
 *             statements in a scratch namespace, diff into actions
 *   commit    apply every action through a journal; no Python code runs
 *   hooks     __reload_module__(old) per module; a hook that raises undoes
 *             the commit
 *
 * Until the commit nothing live is written, so any failure leaves every
 * module as it was.  Automatic garbage collection is paused from prepare to
 * commit (see execute.c). */
#include "hotreload.h"

#include <stdio.h>
#include <string.h>

/* With HOTRELOAD_TRACE set, logs on stderr how long a stage took since
 * *since (which it moves on), for one module (`u`) or the batch (NULL).
 * Only where Python code may run: the log is written to sys.stderr. */
static void
trace(const hr_batch *b, const hr_unit *u, const char *stage, double *since)
{
    if (!b->state->trace) {
        return;
    }
    double t = hr_os_monotonic();
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", (t - *since) * 1e3);
    if (u != NULL) {
        PySys_FormatStderr("hotreload: %U: %s %s ms\n", u->name, stage, ms);
    }
    else {
        PySys_FormatStderr("hotreload: %s %s ms\n", stage, ms);
    }
    *since = t;
}

static void
unit_clear(hr_unit *u)
{
    Py_CLEAR(u->name);
    Py_CLEAR(u->module);
    Py_CLEAR(u->live);
    Py_CLEAR(u->path);
    Py_CLEAR(u->old_text);
    Py_CLEAR(u->new_text);
    Py_CLEAR(u->new_bytes);
    Py_CLEAR(u->precompiled);
    hr_stmts_clear(&u->old_stmts);
    hr_stmts_clear(&u->new_stmts);
    PyMem_Free(u->match);
    PyMem_Free(u->old_used);
    PyMem_Free(u->run);
    PyMem_Free(u->strip);
    PyMem_Free(u->reformatted);
    u->match = NULL;
    u->old_used = u->run = u->strip = u->reformatted = NULL;
    Py_CLEAR(u->emulated);
    Py_CLEAR(u->bodies);
    Py_CLEAR(u->vanished);
    Py_CLEAR(u->acting);
    Py_CLEAR(u->keep);
    Py_CLEAR(u->update);
    Py_CLEAR(u->removed);
    Py_CLEAR(u->stripped);
    hr_member_plans_clear(u);
    Py_CLEAR(u->rebound);
    Py_CLEAR(u->scratch);
    if (u->lending != NULL) {
        /* A generator made by the new code may still hold the scratch
         * builtins: its class statements must not be completed any more. */
        PyDict_Clear(PyTuple_GET_ITEM(u->lending, 1));
        Py_CLEAR(u->lending);
    }
    Py_CLEAR(u->old_values);
}

static void
batch_clear(hr_batch *b)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        unit_clear(&b->units[i]);
    }
    PyMem_Free(b->units);
    b->units = NULL;
    b->count = 0;
    hr_actions_clear(&b->actions);
    hr_identity_clear(&b->identity);
    Py_CLEAR(b->updated);
    Py_CLEAR(b->added);
    Py_CLEAR(b->removed);
    Py_CLEAR(b->kept);
    Py_CLEAR(b->replaced);
    Py_CLEAR(b->stale);
    Py_CLEAR(b->instances);
    hr_identity_clear(&b->code_map);
    Py_CLEAR(b->patched);
    Py_CLEAR(b->acted);
    Py_CLEAR(b->caches);
    Py_CLEAR(b->stale_origin);
    Py_CLEAR(b->stale_found);
    /* The twins are cyclic garbage once the reload is over (a class and
     * its methods refer to each other) and, until collected, still listed
     * by their bases' __subclasses__() and weak registries.  They are
     * collected with the rest of what the reload made: alone, kept apart,
     * or when the collector's lists could not be used, with what a program
     * that collects automatically let accumulate in the youngest
     * generation since its last collection (a program that disabled
     * collection keeps its garbage until it collects then). */
    if (b->collect) {
        b->collect = 0;
        if (hr_gc_is_aside(&b->aside)) {
            hr_gc_collect_made(&b->aside);
        }
        else {
            hr_gc_collect_young();
        }
    }
    hr_gc_bring_back(&b->aside);
}

/* The batch's bookkeeping and report lists. */
static int
batch_lists(hr_batch *b)
{
    b->patched = PyList_New(0);
    b->caches = PyList_New(0);
    b->updated = PyList_New(0);
    b->added = PyList_New(0);
    b->removed = PyList_New(0);
    b->kept = PyList_New(0);
    b->replaced = PyList_New(0);
    b->stale = PyList_New(0);
    b->instances = PyDict_New();
    b->stale_origin = PyDict_New();
    b->stale_found = PyList_New(0);
    b->acted = PyList_New(0);
    return b->acted && b->patched && b->caches && b->updated && b->added && b->removed
                   && b->kept && b->replaced && b->stale && b->instances && b->stale_origin
                   && b->stale_found ? 0 : -1;
}

static int
ends_with(PyObject *str, const char *suffix)
{
    PyObject *tail = PyUnicode_FromString(suffix);
    if (tail == NULL) {
        return -1;
    }
    Py_ssize_t match = PyUnicode_Tailmatch(str, tail, 0, PY_SSIZE_T_MAX, 1);
    Py_DECREF(tail);
    return (int)match;
}

/* The engine hands the new text to the compiler as a C string, which ends
 * at the first null byte: the rest of the file would be dropped without a
 * word, where an import refuses the file.  -1 with ReloadError set when
 * the text holds one. */
static int
refuse_null_bytes(hr_state *state, hr_unit *u)
{
    /* A kept old text was checked by the reload that kept it: only the
     * bytes between the common ends are new. */
    Py_ssize_t from = u->old_split ? u->same_head : 0;
    Py_ssize_t to = u->old_split ? u->new_len - u->same_tail : u->new_len;
    const char *null = memchr(u->new_utf8 + from, '\0', (size_t)(to - from));
    if (null == NULL) {
        return 0;
    }
    return hr_raise(state, u->name, NULL, "its source file %R holds a null byte at offset "
                    "%zd: it is not Python source", u->path, (Py_ssize_t)(null - u->new_utf8));
}

/* Reads the module's source through its real path, once the folder policy
 * agrees to where its symbolic links lead and to who may write it (records.c).  The file read is
 * the one checked, whatever the link is changed to afterwards. */
static int
read_real_source(hr_state *state, hr_unit *u)
{
    PyObject *real = hr_os_real_path(u->path);
    if (real == NULL) {
        return hr_raise(state, u->name, NULL, "cannot read its source file");
    }
    int allowed = hr_link_allowed(state, u->path, real);
    int status = -1;
    if (allowed == 0) {
        hr_raise(state, u->name, NULL, "its file %R is a symbolic link to %R, outside the "
                 "folders hotreload may reload from (hotreload.configure(follow_symlinks=True) "
                 "follows links)", u->path, real);
    }
    else if (allowed > 0 && hr_check_writers(state, u->name, NULL, real) == 0) {
        status = hr_os_read_file(real, &u->new_bytes, &u->mtime_ns, &u->size);
        if (status < 0) {
            hr_raise(state, u->name, NULL, "cannot read its source file");
        }
    }
    Py_DECREF(real);
    return status;
}

/* The source file of a module the import hook did not record (imported
 * before install()): its __file__, when that is the file it was loaded from.
 * A module whose loader says otherwise (__spec__.origin is another file, or
 * none: a module a library's own import hook made, given the __file__ of the
 * module it mirrors) is left alone: running that file in its namespace is
 * not what built it.  Sets u->path (new reference); -1 with ReloadError or
 * another exception set. */
static int
unrecorded_path(hr_state *state, hr_unit *u)
{
    PyObject *path = hr_dict_get(u->live, "__file__");
    if (path == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (path == NULL || !PyUnicode_Check(path)) {
        return hr_raise(state, u->name, NULL,
                        "it is a built-in module or has no source file (no __file__)");
    }
    PyObject *spec = hr_dict_get(u->live, "__spec__");
    if (spec == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (spec != NULL && !Py_IsNone(spec)) {
        PyObject *origin = PyObject_GetAttrString(spec, "origin");
        if (origin == NULL) {
            return -1;
        }
        int same = PyUnicode_Check(origin) ? PyUnicode_Compare(origin, path) == 0 : 0;
        if (same == 0 && PyErr_Occurred()) {
            Py_DECREF(origin);
            return -1;
        }
        if (!same) {
            hr_raise(state, u->name, NULL, "its __file__ %R is not the file its loader made "
                     "it from (__spec__.origin is %R) and it has no recorded source: it is "
                     "left alone", path, origin);
            Py_DECREF(origin);
            return -1;
        }
        Py_DECREF(origin);
    }
    u->path = Py_NewRef(path);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The statements of the text a module was built from, kept                 */
/* ------------------------------------------------------------------------ */

/* Splitting a 1.1 MB module takes about 3 ms, once for the text it was
 * built from and once for the new one, where a one-body edit compiles in
 * 0.1 ms.  So the split of the new text a reload commits is kept
 * (state->splits, module name -> capsule of a kept_split), for the next
 * reload of the module, whose old text it is (with that text decoded);
 * and that next reload splits its new text again only between the first
 * and the last change (hr_split_again).  A kept split counts only for the
 * very bytes object the module's record holds (a module imported again,
 * or a reload undone, records other bytes), and once: the next reload
 * takes it. */
typedef struct {
    PyObject *source;  /* the recorded bytes the statements were split from */
    PyObject *text;    /* their text (hr_source_text: str, or `source` itself) */
    hr_stmts stmts;
} kept_split;

static void
kept_split_free(PyObject *capsule)
{
    kept_split *kept = PyCapsule_GetPointer(capsule, "hotreload.kept_split");
    if (kept != NULL) {
        Py_XDECREF(kept->source);
        Py_XDECREF(kept->text);
        hr_stmts_clear(&kept->stmts);
        PyMem_Free(kept);
    }
}

/* Moves statements from one owner to another: `from` is left empty.  The
 * link hr_split_again left to the split it took from goes: that split is
 * the old one of a reload that is over. */
static void
move_stmts(hr_stmts *from, hr_stmts *to)
{
    *to = *from;
    to->same_as = NULL;
    to->same_head = to->same_tail = 0;
    memset(from, 0, sizeof(*from));
}

/* Borrowed: what is kept of module `name` when it is the split of
 * `source` (the bytes its record holds), or NULL (an exception set on
 * error). */
static kept_split *
kept_split_of(hr_state *state, PyObject *name, PyObject *source)
{
    PyObject *capsule = PyDict_GetItemWithError(state->splits, name);
    if (capsule == NULL) {
        return NULL;
    }
    kept_split *kept = PyCapsule_GetPointer(capsule, "hotreload.kept_split");
    return kept != NULL && kept->source == source ? kept : NULL;
}

/* Keeps the split of each unit's new text, now recorded (see above): the
 * unit gives its statements up, its reload being over.  A reload that
 * applied does not fail for it: without memory for it, the next reload
 * splits again. */
static void
keep_splits(hr_batch *b)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        kept_split *kept = PyMem_Calloc(1, sizeof(kept_split));
        PyObject *capsule = NULL;
        if (kept != NULL) {
            move_stmts(&u->new_stmts, &kept->stmts);
            kept->source = Py_NewRef(u->new_bytes);
            kept->text = Py_NewRef(u->new_text);
            capsule = PyCapsule_New(kept, "hotreload.kept_split", kept_split_free);
            if (capsule == NULL) {
                Py_DECREF(kept->source);
                Py_DECREF(kept->text);
                hr_stmts_clear(&kept->stmts);
                PyMem_Free(kept);
            }
        }
        int status = capsule ? PyDict_SetItem(b->state->splits, u->name, capsule) : -1;
        Py_XDECREF(capsule);
        if (status < 0) {
            /* Only our own allocations can fail here, with a MemoryError:
             * that module's next reload splits its old text again. */
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_MemoryError)) {
                PyErr_Clear();
            }
            else {
                PyErr_WriteUnraisable(u->name);
            }
            if (PyDict_DelItem(b->state->splits, u->name) < 0) {
                if (PyErr_ExceptionMatches(PyExc_KeyError)) {
                    PyErr_Clear();  /* there was none to forget */
                }
                else {
                    PyErr_WriteUnraisable(u->name);
                }
            }
        }
    }
}

static int unit_old_text(hr_state *state, hr_unit *u);

/* Finds the live module for a target (module object or dotted name) and
 * reads what it needs.  Raises ReloadError for anything it cannot reload. */
static int
unit_resolve(hr_state *state, hr_unit *u, PyObject *target)
{
    PyObject *modules = PyImport_GetModuleDict();  /* borrowed */
    if (PyUnicode_Check(target)) {
        u->name = Py_NewRef(target);
        u->module = Py_XNewRef(PyDict_GetItemWithError(modules, target));
        if (u->module == NULL) {
            return PyErr_Occurred() ? -1
                : hr_raise(state, target, NULL, "it is not imported (not in sys.modules)");
        }
    }
    else if (PyModule_Check(target)) {
        u->module = Py_NewRef(target);
        u->name = PyModule_GetNameObject(target);
        if (u->name == NULL) {
            return hr_raise(state, NULL, NULL, "a module object without a name");
        }
        if (PyDict_GetItemWithError(modules, u->name) != target) {
            return PyErr_Occurred() ? -1
                : hr_raise(state, u->name, NULL,
                           "this module object is no longer the one in sys.modules "
                           "(it was removed or replaced)");
        }
    }
    else {
        return hr_raise(state, NULL, NULL, "expected a module or a module name, not %R", target);
    }
    if (!PyModule_Check(u->module)) {
        return hr_raise(state, u->name, NULL, "sys.modules holds a %s, not a module",
                        Py_TYPE(u->module)->tp_name);
    }
    u->live = Py_NewRef(PyModule_GetDict(u->module));
    u->precompiled = Py_NewRef(state->precompiled);
    PyObject *record = hr_record_get(state, u->name);
    if (record == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (record != NULL) {
        /* The module was built from the recorded file: a __file__ its code
         * reassigned afterwards (tlz shows toolz's file) names other code. */
        u->path = Py_NewRef(PyTuple_GET_ITEM(record, HR_REC_PATH));
    }
    else if (unrecorded_path(state, u) < 0) {
        return -1;
    }
    int is_source = ends_with(u->path, ".py");
    if (is_source <= 0) {
        return is_source < 0 ? -1
            : hr_raise(state, u->name, NULL, "its file %R is not Python source "
                       "(an extension or compiled module)", u->path);
    }
    int allowed = hr_path_allowed(state, u->path);
    if (allowed <= 0) {
        return allowed < 0 ? -1
            : hr_raise(state, u->name, NULL, "its file %R is in the standard library or "
                       "site-packages, which are not reloaded (see hotreload.configure)", u->path);
    }
    PyObject *given = state->given_sources != NULL
        ? PyDict_GetItemWithError(state->given_sources, u->name) : NULL;
    if (given != NULL) {
        /* No file time: the record's -1 makes changed() compare the file's
         * bytes with the given ones, so a file saved as given is no change. */
        u->new_bytes = Py_NewRef(given);
        u->mtime_ns = -1;
        u->size = PyBytes_GET_SIZE(given);
    }
    else if (PyErr_Occurred() || read_real_source(state, u) < 0) {
        return -1;
    }
    /* The text kept from the module's last reload, if any: the new text
     * is then decoded only where it differs (text/source.c). */
    PyObject *was = NULL;
    if (record != NULL) {
        kept_split *kept = kept_split_of(state, u->name, PyTuple_GET_ITEM(record, HR_REC_SOURCE));
        if (kept == NULL && PyErr_Occurred()) {
            return -1;
        }
        was = kept != NULL ? Py_NewRef(kept->text) : NULL;
    }
    Py_ssize_t prefix = -1, suffix = -1;
    u->new_text = was != NULL ? hr_source_text_again(was, u->new_bytes, &prefix, &suffix)
                              : hr_source_text(u->new_bytes);
    if (u->new_text == NULL) {
        Py_XDECREF(was);
        return hr_raise(state, u->name, NULL, "cannot decode its source file");
    }
    int status = unit_old_text(state, u);
    if (status == 0 && !u->full) {
        /* The ends found decoding the new text are those of the UTF-8 texts
         * when both are the files' bytes. */
        if (u->old_text == was && prefix >= 0 && hr_source_is_plain(u->new_text)) {
            u->same_head = prefix;
            u->same_tail = suffix;
        }
        else {
            hr_common_ends(u->old_utf8, u->old_len, u->new_utf8, u->new_len, &u->same_head,
                           &u->same_tail);
        }
    }
    Py_XDECREF(was);
    return status < 0 || refuse_null_bytes(state, u) < 0 ? -1 : 0;
}

/* The old text of a unit whose new text is read: the one kept from its
 * last reload, or its record's. */
static int
unit_old_text(hr_state *state, hr_unit *u)
{
    /* Looked up again: reading the file may have let another thread run an
     * import that replaced the record. */
    PyObject *record = hr_record_get(state, u->name);
    if (record == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (PyBytes_GET_SIZE(u->new_bytes) == 0 && record != NULL
        && PyBytes_GET_SIZE(PyTuple_GET_ITEM(record, HR_REC_SOURCE)) > 0) {
        /* Most likely a save caught between truncating and writing; applying
         * it would remove every name of the module. */
        return hr_raise(state, u->name, NULL, "its file %R is empty (a save in progress?); "
                        "the module was left as it is", u->path);
    }
    if (record != NULL && PyUnicode_Compare(PyTuple_GET_ITEM(record, HR_REC_PATH), u->path) == 0) {
        PyObject *source = PyTuple_GET_ITEM(record, HR_REC_SOURCE);
        kept_split *kept = kept_split_of(state, u->name, source);
        if (kept == NULL && PyErr_Occurred()) {
            return -1;
        }
        u->old_text = kept != NULL ? Py_NewRef(kept->text) : hr_source_text(source);
        if (u->old_text == NULL) {
            return -1;
        }
        if (kept != NULL) {
            /* Taken, not copied: this reload puts its own back when it
             * applies; one refused leaves the next to split again. */
            move_stmts(&kept->stmts, &u->old_stmts);
            Py_CLEAR(kept->source);
            Py_CLEAR(kept->text);
            u->old_split = 1;
        }
    }
    else if (PyErr_Occurred()) {
        return -1;
    }
    u->full = u->old_text == NULL;
    u->new_utf8 = hr_text_utf8(u->new_text, &u->new_len);
    if (u->new_utf8 == NULL) {
        return -1;
    }
    if (!u->full) {
        u->old_utf8 = hr_text_utf8(u->old_text, &u->old_len);
        if (u->old_utf8 == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Splits the sources and sizes the per-statement arrays. */
static int
unit_prepare(hr_unit *u)
{
    if (!u->full && !u->old_split
        && hr_split(u->old_utf8, 0, u->old_len, 0, 1, &u->old_stmts) < 0) {
        return -1;
    }
    if (u->full ? hr_split(u->new_utf8, 0, u->new_len, 0, 1, &u->new_stmts) < 0
                : hr_split_again(u->old_len, &u->old_stmts, u->new_utf8, u->new_len,
                                 u->same_head, u->same_tail,
                                 &u->new_stmts) < 0) {
        return -1;
    }
    Py_ssize_t n = u->new_stmts.count + 1;
    u->match = PyMem_Calloc(n, sizeof(Py_ssize_t));
    u->old_used = PyMem_Calloc(u->old_stmts.count + 1, 1);
    u->run = PyMem_Calloc(n, 1);
    u->strip = PyMem_Calloc(n, 1);
    u->reformatted = PyMem_Calloc(n, 1);
    if (!u->match || !u->old_used || !u->run || !u->strip || !u->reformatted) {
        PyErr_NoMemory();
        return -1;
    }
    u->emulated = hr_table_of_none(u->new_stmts.count);
    if (u->emulated == NULL) {
        return -1;
    }
    u->keep = PySet_New(NULL);
    u->update = PySet_New(NULL);
    u->removed = PySet_New(NULL);
    u->stripped = PySet_New(NULL);
    u->rebound = PySet_New(NULL);
    if (!u->keep || !u->update || !u->removed || !u->stripped || !u->rebound) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Dependency order                                                          */
/* ------------------------------------------------------------------------ */

/* The units each unit imports at its top level, as sorted index lists. */
typedef struct {
    Py_ssize_t *items;
    Py_ssize_t count, capacity;
} edges;

static int
edges_add(edges *e, Py_ssize_t j)
{
    if (e->count == e->capacity) {
        Py_ssize_t *items = hr_array_grow(e->items, sizeof(Py_ssize_t), e->count + 1,
                                          &e->capacity, 8);
        if (items == NULL) {
            return -1;
        }
        e->items = items;
    }
    e->items[e->count++] = j;
    return 0;
}

static int
compare_index(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* Fills out[i] with the indices of the units unit i imports, in index
 * order, and froms[i] with those it imports names from (`from m import x`):
 * each import statement is read once, and looked up by name. */
static int
import_edges(hr_batch *b, edges *out, edges *froms)
{
    PyObject *index = PyDict_New();  /* module name -> unit index */
    if (index == NULL) {
        return -1;
    }
    int status = -1;
    for (Py_ssize_t i = 0; i < b->count; i++) {
        PyObject *position = PyLong_FromSsize_t(i);
        int added = position ? PyDict_SetItem(index, b->units[i].name, position) : -1;
        Py_XDECREF(position);
        if (added < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        for (Py_ssize_t s = 0; s < u->new_stmts.count; s++) {
            const hr_stmt *st = &u->new_stmts.items[s];
            if (st->kind != HR_STMT_IMPORT && st->kind != HR_STMT_FROM) {
                continue;
            }
            PyObject *names = hr_imported_modules(u->new_utf8, u->live, st);
            if (names == NULL) {
                goto done;
            }
            for (Py_ssize_t k = 0; k < PyList_GET_SIZE(names); k++) {
                PyObject *position = PyDict_GetItemWithError(index, PyList_GET_ITEM(names, k));
                Py_ssize_t j = position ? PyLong_AsSsize_t(position) : i;
                if ((position == NULL && PyErr_Occurred())
                    || (j != i && (edges_add(&out[i], j) < 0
                                   || (st->kind == HR_STMT_FROM
                                       && edges_add(&froms[i], j) < 0)))) {
                    Py_DECREF(names);
                    goto done;
                }
            }
            Py_DECREF(names);
        }
        if (out[i].count > 1) {
            qsort(out[i].items, out[i].count, sizeof(Py_ssize_t), compare_index);
        }
    }
    status = 0;
done:
    Py_DECREF(index);
    return status;
}

static int
edges_has(const edges *e, Py_ssize_t j)
{
    for (Py_ssize_t k = 0; k < e->count; k++) {
        if (e->items[k] == j) {
            return 1;
        }
    }
    return 0;
}

/* 1 when unit i takes names, directly or through others, from unit target
 * (`from target import x`); `seen` is scratch space, zeroed by the caller. */
static int
takes_names_from(const edges *froms, Py_ssize_t i, Py_ssize_t target, char *seen)
{
    if (i == target) {
        return 1;
    }
    if (seen[i]) {
        return 0;
    }
    seen[i] = 1;
    for (Py_ssize_t k = 0; k < froms[i].count; k++) {
        if (takes_names_from(froms, froms[i].items[k], target, seen)) {
            return 1;
        }
    }
    return 0;
}

typedef struct {
    const edges *imports, *froms;
    Py_ssize_t n;
    char *mark, *seen;
    Py_ssize_t *order, count;
} order_walk;

/* In an import cycle the module that takes names from the other at its run
 * time comes second: `b` doing `import a` and `from a import Base` runs
 * after `a`, which imports `b` (a plain `import b` at its end, read when its
 * functions are called).  A plain import is not followed into a unit that
 * takes names from this one; otherwise a cycle keeps the given order. */
static void
visit(order_walk *w, Py_ssize_t i)
{
    if (w->mark[i]) {
        return;  /* done, or on the current path */
    }
    w->mark[i] = 1;
    for (Py_ssize_t k = 0; k < w->imports[i].count; k++) {
        Py_ssize_t j = w->imports[i].items[k];
        if (!edges_has(&w->froms[i], j)) {
            memset(w->seen, 0, w->n);
            if (takes_names_from(w->froms, j, i, w->seen)) {
                continue;
            }
        }
        visit(w, j);
    }
    w->order[w->count++] = i;
}

/* Reorders the units so that a module comes before those importing it. */
static int
order_units(hr_batch *b)
{
    if (b->count < 2) {
        return 0;
    }
    int status = -1;
    char *mark = PyMem_Calloc(b->count, 1);
    char *seen = PyMem_Calloc(b->count, 1);
    Py_ssize_t *order = PyMem_Calloc(b->count, sizeof(Py_ssize_t));
    hr_unit *sorted = PyMem_Calloc(b->count, sizeof(hr_unit));
    edges *imports = PyMem_Calloc(b->count, sizeof(edges));
    edges *froms = PyMem_Calloc(b->count, sizeof(edges));
    if (!mark || !seen || !order || !sorted || !imports || !froms) {
        PyErr_NoMemory();
        goto done;
    }
    if (import_edges(b, imports, froms) < 0) {
        goto done;
    }
    order_walk walk = {imports, froms, b->count, mark, seen, order, 0};
    for (Py_ssize_t i = 0; i < b->count; i++) {
        visit(&walk, i);
    }
    for (Py_ssize_t i = 0; i < b->count; i++) {
        sorted[i] = b->units[order[i]];
    }
    PyMem_Free(b->units);
    b->units = sorted;
    sorted = NULL;
    status = 0;
done:
    for (Py_ssize_t i = 0; imports && i < b->count; i++) {
        PyMem_Free(imports[i].items);
    }
    for (Py_ssize_t i = 0; froms && i < b->count; i++) {
        PyMem_Free(froms[i].items);
    }
    PyMem_Free(imports);
    PyMem_Free(froms);
    PyMem_Free(seen);
    PyMem_Free(mark);
    PyMem_Free(order);
    PyMem_Free(sorted);
    return status;
}

/* ------------------------------------------------------------------------ */
/* The transaction                                                           */
/* ------------------------------------------------------------------------ */

/* 1 when the module defines __reload_module__, before or after the reload;
 * 0 when not; -1 on error. */
static int
has_hook(hr_unit *u)
{
    int found = hr_dict_get(u->scratch, "__reload_module__") != NULL
                || (!PyErr_Occurred() && hr_dict_get(u->live, "__reload_module__") != NULL);
    return PyErr_Occurred() ? -1 : found;
}

/* Planning parses single statements out of context; when one does not
 * parse, compiling the whole file gives CPython's own SyntaxError with the
 * right file, line and column.  Only on this error path. */
static int
explain_plan_error(hr_batch *b, hr_unit *u)
{
    if (PyErr_ExceptionMatches(b->state->ReloadError)
        || !PyErr_ExceptionMatches(PyExc_SyntaxError)) {
        return hr_raise(b->state, u->name, NULL, "cannot plan the reload");
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyCompilerFlags flags = {PyCF_IGNORE_COOKIE | PyCF_ONLY_AST, PY_MINOR_VERSION};
    PyObject *tree = Py_CompileStringObject(u->new_utf8, u->path, Py_file_input, &flags, -1);
    if (tree != NULL) {
        Py_DECREF(tree);
        PyErr_Restore(type, value, tb);
    }
    else {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    return hr_raise(b->state, u->name, NULL, "the new source does not compile");
}

/* Runs the prepare phase of every unit, in order. */
static int
prepare(hr_batch *b)
{
    double since = hr_os_monotonic();
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        if (hr_plan(b, u) < 0) {
            return explain_plan_error(b, u);
        }
        trace(b, u, "plan", &since);
        if (hr_plan_bodies(b, u) < 0 || hr_execute(b, u) < 0) {
            return -1;
        }
        trace(b, u, "execute", &since);
        if (hr_diff(b, u) < 0) {
            return hr_raise(b->state, u->name, NULL, "cannot plan its changes");
        }
        trace(b, u, "diff", &since);
        u->done = 1;
    }
    return 0;
}

/* New reference: the list of the batch's module names. */
static PyObject *
module_names(hr_batch *b)
{
    PyObject *names = PyList_New(b->count);
    for (Py_ssize_t i = 0; names && i < b->count; i++) {
        PyList_SET_ITEM(names, i, Py_NewRef(b->units[i].name));
    }
    return names;
}

/* New reference: the report as a dict, for the Python layer's Report. */
static PyObject *
make_report(hr_batch *b, double seconds)
{
    PyObject *names = module_names(b);
    if (names == NULL) {
        return NULL;
    }
    return Py_BuildValue("{sNsOsOsOsOsOsOsOsd}", "modules", names, "updated", b->updated,
                         "added", b->added, "removed", b->removed, "kept", b->kept,
                         "replaced", b->replaced, "stale", b->stale,
                         "instances", b->instances, "seconds", seconds);
}

/* Records the new sources through the journal: a reload undone after its
 * commit (a raising hook, no memory) puts the old records back exactly,
 * without allocating, as every other write it undoes. */
static int
save_records(hr_batch *b, hr_journal *journal)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        PyObject *record = hr_record_new(u->path, u->new_bytes, u->mtime_ns, u->size);
        int status = record ? hr_journal_dict_set(journal, b->state->records, u->name, record)
                            : -1;
        Py_XDECREF(record);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The commit, the same for reload(), patch() and hotfix scripts            */
/* ------------------------------------------------------------------------ */

/* New reference: a class's qualified name, read without running code. */
static PyObject *
type_qualname(PyTypeObject *type)
{
    if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        return Py_NewRef(((PyHeapTypeObject *)type)->ht_qualname);
    }
    return PyUnicode_FromString(type->tp_name);
}

/* Borrowed: the module name a class's dict gives, or NULL. */
static PyObject *
type_module(PyTypeObject *type)
{
    PyObject *module = hr_dict_get(type->tp_dict, "__module__");
    return module != NULL && PyUnicode_Check(module) ? module : NULL;
}

/* Names the module and the object of a write CPython refused:
 * *module borrowed or NULL, *object a new reference or NULL. */
static void
describe_action(hr_batch *b, const hr_action *action, PyObject **module, PyObject **object)
{
    *module = NULL;
    *object = NULL;
    switch (action->kind) {
    case HR_ACT_DICT_SET:
        for (Py_ssize_t i = 0; i < b->count; i++) {
            if (b->units[i].live == action->target) {
                *module = b->units[i].name;
            }
        }
        *object = Py_NewRef(action->key);
        break;
    case HR_ACT_TYPE_SET: {
        PyTypeObject *type = (PyTypeObject *)action->target;
        PyObject *qualname = type_qualname(type);
        *module = type_module(type);
        *object = qualname ? PyUnicode_FromFormat("%U.%U", qualname, action->key) : NULL;
        Py_XDECREF(qualname);
        break;
    }
    case HR_ACT_BASES:
        *module = type_module((PyTypeObject *)action->target);
        *object = type_qualname((PyTypeObject *)action->target);
        break;
    case HR_ACT_PATCH:
    case HR_ACT_ADOPT:
    case HR_ACT_CODE: {
        PyFunctionObject *func = (PyFunctionObject *)action->target;
        *module = func->func_module != NULL && PyUnicode_Check(func->func_module)
            ? func->func_module : NULL;
        *object = Py_NewRef(func->func_qualname);
        break;
    }
    case HR_ACT_DOC:
        *object = PyUnicode_FromString("a property's docstring");
        break;
    case HR_ACT_FORWARD:
        /* A holder has no name: its kind says what it is. */
        *object = PyUnicode_FromFormat("a %s that the new code put a new object in",
                                       Py_TYPE(action->target)->tp_name);
        break;
    }
}

/* What follows every commit, where Python code may run again: abstract
 * sets are recomputed on the live classes (descriptors answer
 * __isabstractmethod__), and caching wrappers (functools.lru_cache, cache,
 * anything with cache_clear()) whose function took new code forget the
 * results the old code computed. */
static int
after_commit(hr_batch *b, hr_journal *journal)
{
    if (hr_abc_refresh(b, journal) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(b->caches); i++) {
        PyObject *done = PyObject_CallMethod(PyList_GET_ITEM(b->caches, i), "cache_clear", NULL);
        if (done == NULL) {
            return -1;
        }
        Py_DECREF(done);
    }
    return 0;
}

/* Applies the batch's planned writes through `journal`.  When CPython
 * refuses one (type.__bases__ checks the new bases' layout and MRO; an
 * audit hook may veto a __code__ write), the journal has undone the others
 * and ReloadError names the module and the object, whichever entry point
 * asked: reload(), patch(), a hotfix script or the C API. */
static int
commit(hr_batch *b, hr_journal *journal)
{
    const hr_action *failed;
    if (hr_actions_commit(&b->actions, journal, &b->identity, &failed) == 0) {
        return 0;
    }
    PyObject *module = NULL, *object = NULL;
    if (failed != NULL) {
        /* Naming it allocates: the refusal is set aside meanwhile, so that
         * it stays the cause whatever happens. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        describe_action(b, failed, &module, &object);
        /* A full clear: naming is best effort, and only the names are lost
         * if it failed; the refusal itself is restored and reported. */
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
    if (failed != NULL && failed->kind == HR_ACT_BASES) {
        /* CPython's own rule (type_set_bases, compatible_for_assignment):
         * live instances keep their memory layout, so new bases must lay
         * instances out as the old ones did; `class F:` cannot become
         * `class F(Mixin):`, since object's instances are laid out
         * differently from those of any class defined in Python. */
        hr_raise(b->state, module, object, "the interpreter refused its new bases %R: a "
                 "class's bases can change only to ones whose instances are laid out alike "
                 "(so a class whose only base is object cannot take a base defined in "
                 "Python; giving it a base class of its own from the start allows it); "
                 "nothing was changed", failed->value);
    }
    else {
        hr_raise(b->state, module, object, "the interpreter refused this change; nothing was "
                 "changed");
    }
    Py_XDECREF(object);
    return -1;
}

/* Keeps the function watcher's notes complete (base/watcher.c): the old
 * nested code whose live closures a full walk just found is watched from
 * now on, and so is the new nested code those closures take, with the
 * functions the run already made from it (`young`, when `complete`, is
 * exactly what the run made).  The closures themselves are noted: their
 * code changes at the commit, which no watcher sees. */
static int
watch_closures(hr_batch *b, hr_heap_query *query, PyObject *young, int complete)
{
    if (query->old_codes.count == 0 || (!query->functions_known && !query->walked_all)) {
        return 0;
    }
    if (!query->functions_known
        && hr_watcher_add(b->state, &query->old_codes, query->functions) < 0) {
        return -1;
    }
    if (!complete) {
        return 0;
    }
    hr_ptrset fresh_codes;
    memset(&fresh_codes, 0, sizeof(fresh_codes));
    PyObject *made = PyList_New(0);
    int status = made ? 0 : -1;
    for (Py_ssize_t i = 0; status == 0 && i < b->code_map.capacity; i++) {
        PyObject *code = b->code_map.slots[i].live;
        if (b->code_map.slots[i].fresh != NULL && PyCode_Check(code)) {
            status = hr_ptrset_add(&fresh_codes, code);
        }
    }
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(young); i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        if (PyFunction_Check(obj) && hr_ptrset_has(&fresh_codes, PyFunction_GET_CODE(obj))) {
            status = PyList_Append(made, obj);
        }
    }
    if (status == 0) {
        status = hr_watcher_add(b->state, &fresh_codes, made);
    }
    Py_XDECREF(made);
    hr_ptrset_clear(&fresh_codes);
    return status;
}

/* Runs a resolved, ordered batch.  New reference: the report dict. */
static PyObject *
transact(hr_batch *b, double started)
{
    PyObject *young = NULL, *report = NULL, *remembered = NULL;
    hr_journal *journal = NULL;
    hr_heap_query query;
    memset(&query, 0, sizeof(query));
    int gc_was = hr_gc_pause();  /* resumed at done: */
    int collecting = gc_was == 1;  /* the program collects automatically */
    /* Brought back by batch_clear(), after collecting what the batch made. */
    if (gc_was < 0 || hr_gc_set_aside(&b->aside) < 0) {
        goto done;
    }
    double since = started;
    for (Py_ssize_t i = 0; i < b->count; i++) {
        if (unit_prepare(&b->units[i]) < 0) {
            goto done;
        }
    }
    if (order_units(b) < 0) {
        goto done;
    }
    trace(b, NULL, "split and order", &since);
    if (prepare(b) < 0) {
        goto done;
    }
    since = hr_os_monotonic();
    if (hr_follow_importers(b) < 0 || hr_plan_moves(b) < 0) {
        goto done;
    }
    trace(b, NULL, "importers and moved lines", &since);
    int complete;
    if ((young = hr_gc_made_objects(&b->aside, &complete)) == NULL
        || hr_collect_made(b, young) < 0
        || hr_forward_young(b, young, complete, &query) < 0) {
        goto done;
    }
    trace(b, NULL, "what the run made", &since);
    /* The program's objects come back for the walk, its hooks and its own
     * collections; the reload's stay apart until collected at the end. */
    hr_gc_keep_made(&b->aside);
    /* One walk over the heap for the whole batch, if anything needs it:
     * not for live closures the function watcher knows. */
    query.functions = PyList_New(0);
    query.instances = PyList_New(0);
    query.holders = PyList_New(0);
    if (query.functions == NULL || query.instances == NULL || query.holders == NULL
        || hr_closures_query(b, &query) < 0 || hr_watcher_find(b->state, &query) < 0
        || hr_hooks_query(b, &query) < 0 || hr_heap_walk(&query, &b->aside) < 0
        || watch_closures(b, &query, young, complete) < 0
        || hr_closures_plan(b, &query) < 0 || hr_forward_plan(b, &query) < 0) {
        goto done;
    }
    Py_CLEAR(young);
    trace(b, NULL, query.functions_known ? "heap walk (closures known)" : "heap walk", &since);
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        int hooked = has_hook(u);
        if (hooked < 0 || (hooked && (u->old_values = PyDict_Copy(u->live)) == NULL)) {
            goto done;
        }
    }
    if ((remembered = hr_closures_remembered(b)) == NULL) {
        goto done;
    }
    PyObject *names = module_names(b);
    int audit = names ? PySys_Audit("hotreload.commit", "(O)", names) : -1;
    Py_XDECREF(names);
    if (audit < 0 || (journal = hr_journal_new(b->state, b->actions.count)) == NULL) {
        goto done;
    }
    /* The commit: no Python code runs from here to the end of it, but audit
     * hooks. */
    if (commit(b, journal) < 0) {
        goto done;
    }
    if (save_records(b, journal) < 0) {
        hr_journal_rollback(journal);
        goto done;
    }
    hr_gc_resume(gc_was);
    gc_was = 0;
    trace(b, NULL, "commit", &since);
    /* After the commit, where Python code may run again: abstract sets are
     * recomputed on the live classes (descriptors answer
     * __isabstractmethod__), then the hooks. */
    /* The report is built before the commit is final: failing to build it
     * (no memory) undoes the commit like a raising hook does. */
    if (after_commit(b, journal) < 0 || hr_hooks_run(b, &query) < 0
        || (report = make_report(b, hr_os_monotonic() - started)) == NULL) {
        hr_journal_rollback(journal);
        goto done;
    }
    trace(b, NULL, "hooks", &since);
    Py_XSETREF(b->state->stale, remembered);
    remembered = NULL;
    keep_splits(b);
done:
    if (report == NULL) {
        /* Whatever failed, the caller learns it as ReloadError (the
         * failure chained as its cause); one explained already, and
         * KeyboardInterrupt and the like, pass as they are. */
        hr_raise(b->state, b->count == 1 ? b->units[0].name : NULL, NULL,
                 "the reload failed; nothing was changed");
    }
    if (report == NULL) {
        hr_acted_restore(b);
        hr_forward_release(b);
    }
    hr_gc_resume(gc_was);
    Py_XDECREF(young);
    Py_XDECREF(remembered);
    Py_XDECREF(query.functions);
    Py_XDECREF(query.instances);
    Py_XDECREF(query.holders);
    hr_ptrset_clear(&query.old_codes);
    hr_ptrset_clear(&query.hooked_types);
    hr_ptrset_clear(&query.twins);
    hr_ptrset_clear(&query.young);
    /* Freed last: releases the replaced objects, whose finalizers may run. */
    hr_journal_free(journal);
    /* Once the batch no longer holds them (batch_clear). */
    b->collect = b->identity.count > 0 && (hr_gc_is_aside(&b->aside) || collecting);
    return report;
}

/* Refuses a reload, patch() or hotfix while another is under way: called
 * from code that one runs (a module body, a hook, the script) on the same
 * thread, or from another thread while that one runs Python code and has
 * let go of the GIL.  `target` names what was asked for (a module, a
 * module name, anything else), or is NULL.  Always returns NULL with
 * ReloadError set. */
static PyObject *
refuse_reentry(hr_state *state, PyObject *target)
{
    PyObject *name = NULL;
    if (target != NULL && PyModule_Check(target)) {
        name = PyModule_GetNameObject(target);
        PyErr_Clear();  /* a full clear: the name only decorates the ReloadError raised below */
    }
    else if (target != NULL && PyUnicode_Check(target)) {
        name = Py_NewRef(target);
    }
    const char *what = state->busy ? "a reload" : "a hotfix script";
    if (state->owner != PyThread_get_thread_ident()) {
        hr_raise(state, name, NULL, "%s is under way in another thread; call again when it "
                 "has ended", what);
    }
    else {
        hr_raise(state, name, NULL, "%s is already under way, and this call comes from the "
                 "code it runs (%s)", what,
                 state->busy ? "a module body or a __reload_module__ hook" : "the script");
    }
    Py_XDECREF(name);
    return NULL;
}

PyObject *
hr_reload(hr_state *state, PyObject *targets)
{
    double started = hr_os_monotonic();
    hr_batch b;
    memset(&b, 0, sizeof(b));
    b.state = state;
    PyObject *report = NULL;
    if (state->busy || (state->hotfix != NULL && state->owner != PyThread_get_thread_ident())) {
        return refuse_reentry(state, PyTuple_GET_SIZE(targets) ? PyTuple_GET_ITEM(targets, 0)
                                                               : NULL);
    }
    if (state->hotfix != NULL) {
        /* It would commit on its own, outside the script's transaction. */
        hr_raise(state, NULL, NULL, "reload() cannot run inside a hotfix script, whose "
                 "changes apply together at its end; use hotreload.patch() there");
        return NULL;
    }
    state->busy = 1;
    state->reloads++;
    state->owner = PyThread_get_thread_ident();
    /* b.count counts the units filled in so far: batch_clear() clears
     * those, and none when the array could not be allocated. */
    Py_ssize_t n_targets = PyTuple_GET_SIZE(targets);
    b.units = PyMem_Calloc(n_targets + 1, sizeof(hr_unit));
    if (b.units == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (batch_lists(&b) < 0) {
        goto done;
    }
    for (Py_ssize_t t = 0; t < n_targets; t++) {
        hr_unit *u = &b.units[b.count++];
        if (unit_resolve(state, u, PyTuple_GET_ITEM(targets, t)) < 0) {
            goto done;
        }
        for (Py_ssize_t j = 0; j < b.count - 1; j++) {
            if (b.units[j].module == u->module) {
                /* The same module named twice: once is enough. */
                unit_clear(u);
                b.count--;
                break;
            }
        }
    }
    report = transact(&b, started);
done:
    state->busy = 0;
    batch_clear(&b);
    return report;
}

PyObject *
hr_reload_changed(hr_state *state, PyObject *missing, PyObject *also)
{
    /* Only modules still imported: a record outlives a module removed from
     * sys.modules, which is not reloaded (nor reported missing) behind the
     * user's back. */
    PyObject *names = hr_changed_modules(state, missing, NULL, NULL);
    if (names == NULL) {
        return NULL;
    }
    PyObject *targets = also != NULL ? PySequence_List(also) : PyList_New(0);
    for (Py_ssize_t i = 0; targets && i < PyList_GET_SIZE(names); i++) {
        if (PyList_Append(targets, PyList_GET_ITEM(names, i)) < 0) {
            Py_CLEAR(targets);
        }
    }
    Py_DECREF(names);
    if (targets == NULL) {
        return NULL;
    }
    PyObject *tuple = PyList_AsTuple(targets);
    Py_DECREF(targets);
    if (tuple == NULL) {
        return NULL;
    }
    PyObject *report = hr_reload(state, tuple);
    Py_DECREF(tuple);
    return report;
}

PyObject *
hr_reload_sources(hr_state *state, PyObject *sources)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(sources, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || !PyBytes_Check(value)) {
            PyErr_Format(PyExc_TypeError, "reload_sources() takes a dict of module name (str) "
                         "-> source (bytes), not %s -> %s", Py_TYPE(key)->tp_name,
                         Py_TYPE(value)->tp_name);
            return NULL;
        }
    }
    PyObject *targets = PyDict_Keys(sources);
    PyObject *tuple = targets != NULL ? PyList_AsTuple(targets) : NULL;
    Py_XDECREF(targets);
    if (tuple == NULL) {
        return NULL;
    }
    /* Set only when this call's reload is the one that will run: one under
     * way (another thread, a hook of its own) keeps its sources and refuses
     * this call. */
    int owns = !state->busy && state->hotfix == NULL;
    if (owns) {
        state->given_sources = sources;
    }
    PyObject *report = hr_reload(state, tuple);
    if (owns) {
        state->given_sources = NULL;
    }
    Py_DECREF(tuple);
    return report;
}

/* ------------------------------------------------------------------------ */
/* patch() and hotfix scripts                                                */
/* ------------------------------------------------------------------------ */

static int
batch_open(hr_batch *b, hr_state *state)
{
    memset(b, 0, sizeof(*b));
    b->state = state;
    b->take_globals = 1;  /* the new code reads the names of its own module */
    if (batch_lists(b) < 0) {
        batch_clear(b);
        return -1;
    }
    return 0;
}

/* Plans old <- fresh into the batch; nothing is written. */
static int
plan_patch_call(hr_batch *b, PyObject *old, PyObject *fresh)
{
    hr_unit u;
    memset(&u, 0, sizeof(u));
    int status = -1;
    PyObject *qualname = PyObject_GetAttrString(old, "__qualname__");
    u.name = PyObject_GetAttrString(old, "__module__");
    if (qualname == NULL || u.name == NULL || !PyUnicode_Check(u.name)) {
        if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_AttributeError)) {
            hr_raise(b->state, NULL, NULL, "cannot read the name of %R", old);
            goto done;
        }
        PyErr_Clear();  /* no __qualname__ or __module__: not a function or class */
        hr_raise(b->state, NULL, NULL, "patch() takes a function or a class, not %R", old);
        goto done;
    }
    u.full = 1;  /* no source to compare: class data is kept, code is patched */
    if (PyFunction_Check(old) && PyFunction_Check(fresh)) {
        PyObject *name = ((PyFunctionObject *)old)->func_name;
        if (hr_function_diff(b, old, fresh, name, 0) < 0) {
            hr_raise(b->state, u.name, qualname, "cannot plan the patch");
            goto done;
        }
    }
    else if (PyType_Check(old) && PyType_Check(fresh)) {
        if (hr_class_diff(b, &u, (PyTypeObject *)old, (PyTypeObject *)fresh, NULL, NULL,
                          qualname, 0) < 0) {
            hr_raise(b->state, u.name, qualname, "cannot plan the patch");
            goto done;
        }
    }
    else {
        hr_raise(b->state, u.name, qualname, "cannot patch a %s with a %s: patch() takes two "
                 "functions or two classes", Py_TYPE(old)->tp_name, Py_TYPE(fresh)->tp_name);
        goto done;
    }
    status = hr_report(b->updated, u.name, qualname);
done:
    Py_XDECREF(qualname);
    unit_clear(&u);
    return status;
}

/* Applies a batch of patches (patch(), a hotfix script) through the same
 * commit as a reload, abstract sets of patched classes recomputed as after
 * a reload.  New reference: the report dict. */
static PyObject *
batch_commit(hr_batch *b, double started)
{
    hr_journal *journal = hr_journal_new(b->state, b->actions.count);
    PyObject *report = NULL;
    if (journal == NULL || commit(b, journal) < 0) {
        goto done;
    }
    if (after_commit(b, journal) < 0) {
        hr_journal_rollback(journal);
        hr_raise(b->state, NULL, NULL, "the patched classes' abstract methods or the caches "
                 "of patched functions cannot be refreshed; nothing was changed");
        goto done;
    }
    report = make_report(b, hr_os_monotonic() - started);
done:
    /* Freed last: releases the replaced objects, whose finalizers may run. */
    hr_journal_free(journal);
    return report;
}

PyObject *
hr_patch(hr_state *state, PyObject *old, PyObject *fresh)
{
    if (state->busy || (state->hotfix != NULL && state->owner != PyThread_get_thread_ident())) {
        return refuse_reentry(state, NULL);
    }
    if (state->hotfix != NULL) {
        /* Inside a hotfix script: collected, applied with the others. */
        if (plan_patch_call(state->hotfix, old, fresh) < 0) {
            return NULL;
        }
        return make_report(state->hotfix, 0.0);
    }
    hr_batch b;
    double started = hr_os_monotonic();
    if (batch_open(&b, state) < 0) {
        return NULL;
    }
    PyObject *report = plan_patch_call(&b, old, fresh) < 0 ? NULL : batch_commit(&b, started);
    batch_clear(&b);
    return report;
}

/* New reference: the text of a hotfix script file, read through its real
 * path once the policy allows the path, where its links lead and who may
 * write it;
 * NULL with ReloadError set otherwise. */
static PyObject *
read_hotfix_script(hr_state *state, PyObject *path)
{
    PyObject *real = NULL, *bytes = NULL, *text = NULL;
    long long mtime_ns, size;
    int allowed = hr_hotfix_path_allowed(state, path);
    if (allowed == 0) {
        hr_raise(state, NULL, path, "hotfix scripts are read only from the folders "
                 "hotreload.configure() allows, and this one is outside them");
        goto done;
    }
    if (allowed < 0 || (real = hr_os_real_path(path)) == NULL) {
        hr_raise(state, NULL, path, "cannot read the hotfix script");
        goto done;
    }
    allowed = hr_link_allowed(state, path, real);
    if (allowed == 0) {
        hr_raise(state, NULL, path, "the hotfix script is a symbolic link to %R, outside the "
                 "folders hotreload may read from (hotreload.configure(follow_symlinks=True) "
                 "follows links)", real);
        goto done;
    }
    if (allowed < 0 || hr_check_writers(state, NULL, path, real) < 0
        || hr_os_read_file(real, &bytes, &mtime_ns, &size) < 0
        || (text = hr_decode_source(bytes)) == NULL) {
        hr_raise(state, NULL, path, "cannot read the hotfix script");
    }
done:
    Py_XDECREF(real);
    Py_XDECREF(bytes);
    return text;
}

PyObject *
hr_hotfix(hr_state *state, PyObject *source, PyObject *filename)
{
    if (state->busy || state->hotfix != NULL) {
        return refuse_reentry(state, NULL);
    }
    hr_batch b;
    double started = hr_os_monotonic();
    PyObject *namespace = NULL, *code = NULL, *result = NULL, *report = NULL;
    if (batch_open(&b, state) < 0) {
        return NULL;
    }
    /* Without a source text the script is the file `filename`. */
    source = source != NULL ? Py_NewRef(source) : read_hotfix_script(state, filename);
    if (source == NULL) {
        goto done;
    }
    namespace = Py_BuildValue("{sssOsO}", "__name__", "__hotfix__", "__file__", filename,
                              "__builtins__", PyEval_GetBuiltins());
    if (namespace == NULL) {
        goto done;
    }
    /* The compiler takes a C string: text it cannot encode (a lone
     * surrogate) must not reach it as NULL, nor text cut short at a null
     * byte run as if it were the whole script. */
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(source, &length);
    if (text == NULL) {
        hr_raise(state, NULL, filename, "the hotfix script cannot be encoded as UTF-8");
        goto done;
    }
    if (memchr(text, '\0', length) != NULL) {
        hr_raise(state, NULL, filename, "the hotfix script holds a null byte: it is not "
                 "Python source");
        goto done;
    }
    code = Py_CompileStringObject(text, filename, Py_file_input, NULL, -1);
    if (code == NULL) {
        hr_raise(state, NULL, filename, "the hotfix script does not compile");
        goto done;
    }
    state->hotfix = &b;
    state->owner = PyThread_get_thread_ident();
    result = PyEval_EvalCode(code, namespace, namespace);
    state->hotfix = NULL;
    if (result == NULL) {
        hr_raise(state, NULL, filename, "the hotfix script raised; none of its patches "
                 "were applied");
        goto done;
    }
    report = batch_commit(&b, started);
done:
    Py_XDECREF(result);
    Py_XDECREF(code);
    Py_XDECREF(namespace);
    Py_XDECREF(source);
    batch_clear(&b);
    return report;
}
