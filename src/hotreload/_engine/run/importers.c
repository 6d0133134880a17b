/* Names imported elsewhere follow.
 *
 * `from data import WEAPONS` copies a reference.  When a reload rebinds
 * data.WEAPONS (its line changed: a balance fix), a module that imported it
 * and is not reloaded still holds the old table, as importlib.reload leaves
 * it, and the fix never reaches the code that reads it there.  So, once the
 * batch is diffed, every module outside the batch that holds the old object
 * under a name it imports from a reloaded module takes the new one, in the
 * same transaction.  The import is read from the module's recorded source:
 * the name must be bound last by `from <reloaded module> import NAME [as
 * alias]`, so a module's own variable that merely holds an equal (or the
 * same cached) object is never touched.  A module without a recorded source
 * (imported before install()) cannot be read, and keeps what it holds.
 *
 * Nothing is walked when the batch rebinds nothing (an edited body rebinds
 * nothing): then this costs one pass over the planned writes. */
#include "hotreload.h"

#include <string.h>

/* Borrowed: the unit whose live namespace is `dict`, or NULL. */
static hr_unit *
unit_of_namespace(hr_batch *b, PyObject *dict)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        if (b->units[i].live == dict) {
            return &b->units[i];
        }
    }
    return NULL;
}

/* For every name of a batch module whose live object the commit replaces
 * by another: fills `old_objects` (if not NULL) with those old objects, and
 * `moves` (if not NULL) with (module name, name) -> (old object, new
 * object).  The moves are asked for only once a module outside the batch
 * holds one of the old objects: a reload that rebinds thousands of names
 * imported by no one makes no tuple for them. */
static int
collect_moves(hr_batch *b, PyObject *moves, hr_ptrset *old_objects)
{
    for (Py_ssize_t i = 0; i < b->actions.count; i++) {
        const hr_action *a = &b->actions.items[i];
        hr_unit *u = a->kind == HR_ACT_DICT_SET && a->value != NULL
            ? unit_of_namespace(b, a->target) : NULL;
        if (u == NULL) {
            continue;
        }
        PyObject *old = PyDict_GetItemWithError(u->live, a->key);
        if (old == NULL || old == a->value) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;  /* a name the reload adds, or leaves as it is */
        }
        if (old_objects != NULL && hr_ptrset_add(old_objects, old) < 0) {
            return -1;
        }
        if (moves == NULL) {
            continue;
        }
        PyObject *key = PyTuple_Pack(2, u->name, a->key);
        PyObject *move = key ? PyTuple_Pack(2, old, a->value) : NULL;
        int status = move ? PyDict_SetItem(moves, key, move) : -1;
        Py_XDECREF(key);
        Py_XDECREF(move);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

/* Borrowed: the statement of `stmts` that binds `name` last, or NULL (an
 * exception set on error). */
static const hr_stmt *
last_binder(hr_state *state, const char *text, const hr_stmts *stmts, PyObject *name)
{
    PyObject *only = PySet_New(NULL);
    if (only == NULL || PySet_Add(only, name) < 0) {
        Py_XDECREF(only);
        return NULL;
    }
    const hr_stmt *found = NULL;
    for (Py_ssize_t i = stmts->count - 1; found == NULL && i >= 0; i--) {
        const hr_stmt *st = &stmts->items[i];
        int mentioned = hr_mentions(st->norm, only);
        if (mentioned <= 0) {
            if (mentioned < 0) {
                break;
            }
            continue;
        }
        PyObject *binds = hr_stmt_binds(state, text, st, 0);
        int binds_it = binds ? PySet_Contains(binds, name) : -1;
        Py_XDECREF(binds);
        if (binds_it < 0) {
            break;
        }
        if (binds_it) {
            found = st;
        }
    }
    Py_DECREF(only);
    return PyErr_Occurred() ? NULL : found;
}

/* Borrowed: the (old, new) move of what `stmt`, a from-import, binds to
 * `name`, or NULL (an exception set on error) when it imports no moved
 * name under it. */
static PyObject *
imported_move(const char *text, PyObject *globals, const hr_stmt *stmt, PyObject *name,
              PyObject *moves)
{
    PyObject *module, *names;
    if (hr_from_import(text, globals, stmt, &module, &names) < 0) {
        return NULL;
    }
    PyObject *move = NULL;
    for (Py_ssize_t i = 0; move == NULL && i < PyList_GET_SIZE(names); i++) {
        PyObject *pair = PyList_GET_ITEM(names, i);
        PyObject *as = PyTuple_GET_ITEM(pair, 1) != Py_None ? PyTuple_GET_ITEM(pair, 1)
                                                             : PyTuple_GET_ITEM(pair, 0);
        int same = PyUnicode_Compare(as, name);
        if (same == -1 && PyErr_Occurred()) {
            break;
        }
        if (same != 0) {
            continue;
        }
        PyObject *key = PyTuple_Pack(2, module, PyTuple_GET_ITEM(pair, 0));
        move = key ? PyDict_GetItemWithError(moves, key) : NULL;
        Py_XDECREF(key);
        break;
    }
    Py_DECREF(module);
    Py_DECREF(names);
    return move;
}

/* 1 when `source` may hold a from-import of a batch module: it names one
 * (the last part of its dotted name: `from pkg.data import`, `from .data
 * import`) or imports from a package relatively (`from . import`).  Most
 * modules that merely hold an equal small number do neither, and are not
 * split into statements for nothing. */
static int
may_import_from_batch(hr_batch *b, PyObject *source)
{
    const char *text = PyBytes_AS_STRING(source);
    Py_ssize_t len = PyBytes_GET_SIZE(source);
    for (const char *at = text; (at = hr_memmem(at, len - (at - text), "from", 4)) != NULL;
         at += 4) {
        const char *p = at + 4;
        while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\\' || *p == '\n'
                                  || *p == '\r' || *p == '(')) {
            p++;
        }
        if (p < text + len && *p == '.') {
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i < b->count; i++) {
        Py_ssize_t size;
        const char *name = PyUnicode_AsUTF8AndSize(b->units[i].name, &size);
        if (name == NULL) {
            return -1;
        }
        if (!PyUnicode_IS_ASCII(b->units[i].name)) {
            return 1;  /* the file's bytes may spell it in another encoding */
        }
        const char *dot = strrchr(name, '.');
        const char *last = dot ? dot + 1 : name;
        if (hr_memmem(text, len, last, size - (last - name)) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* One module outside the batch: its names holding a moved object, checked
 * against its recorded source, take the new one. */
static int
follow_in(hr_batch *b, PyObject *modname, PyObject *dict, PyObject *candidates,
          PyObject *moves)
{
    PyObject *record = hr_record_get(b->state, modname);
    if (record == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }

    PyObject *text = hr_decode_source(PyTuple_GET_ITEM(record, HR_REC_SOURCE));
    if (text == NULL) {
        return -1;
    }
    int status = -1;
    hr_stmts stmts = {0};
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &len);
    if (utf8 == NULL || hr_split(utf8, 0, len, 0, 1, &stmts) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(candidates); i++) {
        PyObject *name = PyList_GET_ITEM(candidates, i);
        const hr_stmt *st = last_binder(b->state, utf8, &stmts, name);
        if (st == NULL || st->kind != HR_STMT_FROM) {
            if (PyErr_Occurred()) {
                goto done;
            }
            continue;
        }
        PyObject *move = imported_move(utf8, dict, st, name, moves);
        if (move == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            continue;
        }
        PyObject *held = PyDict_GetItemWithError(dict, name);
        if (held == PyTuple_GET_ITEM(move, 0)
            && (hr_plan_dict_set(&b->actions, dict, name, PyTuple_GET_ITEM(move, 1)) < 0
                || hr_report(b->replaced, modname, name) < 0)) {
            goto done;
        }
        if (held == NULL && PyErr_Occurred()) {
            goto done;
        }
    }
    status = 0;
done:
    hr_stmts_clear(&stmts);
    Py_DECREF(text);
    return status;
}

int
hr_follow_importers(hr_batch *b)
{
    PyObject *moves = NULL, *modules = NULL, *candidates = NULL;
    hr_ptrset old_objects = {0};
    int status = -1;
    for (Py_ssize_t i = 0; i < b->count; i++) {
        assert(b->units[i].done);  /* every unit diffed: its rebound names are known */
    }
    if (collect_moves(b, NULL, &old_objects) < 0) {
        goto done;
    }
    if (old_objects.count == 0) {
        status = 0;
        goto done;
    }
    /* Only a module with a recorded source can be read (follow_in), so
     * only those are looked at, not the whole of sys.modules.  A copy of
     * their names: reading sources may import (the ast module, once). */
    if ((modules = PyDict_Keys(b->state->records)) == NULL) {
        goto done;
    }
    PyObject *loaded = PyImport_GetModuleDict();  /* borrowed */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(modules); i++) {
        PyObject *modname = PyList_GET_ITEM(modules, i);
        PyObject *module = PyDict_GetItemWithError(loaded, modname);  /* borrowed */
        if (module == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (module == NULL || !PyModule_Check(module) || !PyUnicode_Check(modname)) {
            continue;
        }
        PyObject *dict = PyModule_GetDict(module);
        if (unit_of_namespace(b, dict) != NULL) {
            continue;  /* in the batch: its own from-imports run again */
        }
        Py_CLEAR(candidates);
        PyObject *name, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(dict, &pos, &name, &value)) {
            if (!hr_ptrset_has(&old_objects, value) || !PyUnicode_Check(name)) {
                continue;
            }
            if ((candidates == NULL && (candidates = PyList_New(0)) == NULL)
                || PyList_Append(candidates, name) < 0) {
                goto done;
            }
        }
        if (candidates == NULL) {
            continue;
        }
        PyObject *record = hr_record_get(b->state, modname);
        int may = record ? may_import_from_batch(b, PyTuple_GET_ITEM(record, HR_REC_SOURCE)) : 0;
        if (may <= 0) {
            if (may < 0 || PyErr_Occurred()) {
                goto done;
            }
            continue;
        }
        if (moves == NULL && ((moves = PyDict_New()) == NULL || collect_moves(b, moves, NULL) < 0)) {
            goto done;
        }
        /* Held: reading its source may import, and sys.modules let go of it. */
        Py_INCREF(dict);
        int followed = follow_in(b, modname, dict, candidates, moves);
        Py_DECREF(dict);
        if (followed < 0) {
            goto done;
        }
    }
    status = 0;
done:
    Py_XDECREF(moves);
    Py_XDECREF(modules);
    Py_XDECREF(candidates);
    hr_ptrset_clear(&old_objects);
    return status;
}
