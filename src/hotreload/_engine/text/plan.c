/* Deciding which statements of a new source run again.
 *
 * The seed's rule, "update code, keep data", made precise: a statement runs
 * again only if it is new, its text changed (comments and blank lines do not
 * count), it reads a name that a re-run statement rebinds, it imports a name
 * that changed in a module of the same batch, or it binds a name listed in
 * __reload_update__.  A def or class statement that runs again keeps its
 * live object (the new code is poured into it), so it rebinds nothing and
 * statements reading it do not run again: `players = load_players()` keeps
 * its players when load_players changes.
 *
 * Statements are matched between the old and new source by what they
 * define (def and class statements, by kind and name) or by their
 * normalized text (everything else). */
#include "hotreload.h"

#include <string.h>

/* New reference: the key under which a statement is matched: for a def or
 * a class, the tuple (is a def, its name); for any other statement its
 * normalized text, bytes, which no tuple equals. */
static PyObject *
match_key(const char *text, const hr_stmt *stmt)
{
    if (stmt->kind == HR_STMT_DEF || stmt->kind == HR_STMT_CLASS) {
        PyObject *name = PyUnicode_DecodeUTF8(text + stmt->name, stmt->name_len, NULL);
        PyObject *key = name ? PyTuple_Pack(2, PyBool_FromLong(stmt->kind == HR_STMT_DEF), name)
                             : NULL;
        Py_XDECREF(name);
        return key;
    }
    return Py_NewRef(stmt->norm);
}

static int match_among(const char *old_text, const hr_stmts *old, Py_ssize_t old_from,
                       Py_ssize_t old_to, const char *new_text, const hr_stmts *fresh,
                       Py_ssize_t from, Py_ssize_t to, Py_ssize_t *match, char *old_used);

/* 1 when statements a and b have the same match_key, compared on the
 * text. */
static int
same_key(const char *a_text, const hr_stmt *a, const char *b_text, const hr_stmt *b)
{
    int a_defines = a->kind == HR_STMT_DEF || a->kind == HR_STMT_CLASS;
    int b_defines = b->kind == HR_STMT_DEF || b->kind == HR_STMT_CLASS;
    if (a_defines || b_defines) {
        return a_defines && b_defines && (a->kind == HR_STMT_DEF) == (b->kind == HR_STMT_DEF)
               && a->name_len == b->name_len
               && memcmp(a_text + a->name, b_text + b->name, a->name_len) == 0;
    }
    return hr_same_norm(a->norm, b->norm);
}

/* 1 when one of statements [from, to) of `stmts` has the key of `st`. */
static int
key_among(const char *st_text, const hr_stmt *st, const char *text, const hr_stmts *stmts,
          Py_ssize_t from, Py_ssize_t to)
{
    for (Py_ssize_t k = from; k < to; k++) {
        if (same_key(st_text, st, text, &stmts->items[k])) {
            return 1;
        }
    }
    return 0;
}

/* How many statements left unpaired between the same head and tail
 * hr_match checks against the tail before it pairs all statements anew. */
#define FEW_UNPAIRED 8

/* Pairs each new statement with the first unpaired old statement of the
 * same key, in source order (a name defined twice pairs in order). */
int
hr_match(const char *old_text, const hr_stmts *old, const char *new_text, const hr_stmts *fresh,
         Py_ssize_t *match, char *old_used)
{
    Py_ssize_t head = fresh->same_head, tail = fresh->same_tail;
    if (fresh->same_as == old && head + tail <= old->count && head + tail <= fresh->count
        && head + tail > 0) {
        /* The statements hr_split_again took from the old split pair with
         * those they came from, as the rule below pairs them, provided
         * no statement in between pairs with one of the end: those in
         * between pair among themselves first (a key between is first met
         * there), and one left unpaired there must not have a key of the
         * end. */
        Py_ssize_t old_end = old->count - tail, end = fresh->count - tail;
        for (Py_ssize_t i = 0; i < head; i++) {
            match[i] = i;
            old_used[i] = 1;
        }
        if (match_among(old_text, old, head, old_end, new_text, fresh, head, end, match,
                        old_used) < 0) {
            return -1;
        }
        /* Those left unpaired in between (the old and new text of an
         * edited line) change nothing at the end when no statement there
         * has their key: the rule would not pair them there either.
         * Checked for a few only: each costs a pass over the end. */
        int apart = 1;
        Py_ssize_t unpaired = 0;
        for (Py_ssize_t i = head; apart && i < end; i++) {
            if (match[i] < 0) {
                apart = ++unpaired <= FEW_UNPAIRED
                        && !key_among(new_text, &fresh->items[i], old_text, old, old_end,
                                      old->count);
            }
        }
        for (Py_ssize_t j = head; apart && j < old_end; j++) {
            if (!old_used[j]) {
                apart = ++unpaired <= FEW_UNPAIRED
                        && !key_among(old_text, &old->items[j], old_text, old, old_end,
                                      old->count);
            }
        }
        if (apart) {
            for (Py_ssize_t t = 0; t < tail; t++) {
                match[end + t] = old_end + t;
                old_used[old_end + t] = 1;
            }
            return 0;
        }
        memset(old_used, 0, old->count);
    }
    return match_among(old_text, old, 0, old->count, new_text, fresh, 0, fresh->count, match,
                       old_used);
}

/* hr_match's rule, for new statements [from, to) among old ones
 * [old_from, old_to). */
static int
match_among(const char *old_text, const hr_stmts *old, Py_ssize_t old_from, Py_ssize_t old_to,
            const char *new_text, const hr_stmts *fresh, Py_ssize_t from, Py_ssize_t to,
            Py_ssize_t *match, char *old_used)
{
    /* The same keys in the same order (every body edited, no statement
     * added, moved or removed): the rule pairs them in order, each old
     * statement before the one it pairs with being taken already. */
    if (old_to - old_from == to - from) {
        Py_ssize_t k = 0;
        while (k < to - from
               && same_key(new_text, &fresh->items[from + k], old_text, &old->items[old_from + k])) {
            k++;
        }
        if (k == to - from) {
            for (k = 0; k < to - from; k++) {
                match[from + k] = old_from + k;
                old_used[old_from + k] = 1;
            }
            return 0;
        }
    }
    int status = -1;
    PyObject *pending = PyDict_New();  /* key -> list of old indices, reversed */
    if (pending == NULL) {
        return -1;
    }
    for (Py_ssize_t j = old_to - 1; j >= old_from; j--) {
        PyObject *key = match_key(old_text, &old->items[j]);
        PyObject *index = key ? PyLong_FromSsize_t(j) : NULL;
        PyObject *list = index ? PyDict_GetItemWithError(pending, key) : NULL;
        int ok = index != NULL && !PyErr_Occurred();
        if (ok && list == NULL) {
            list = PyList_New(0);
            ok = list != NULL && PyDict_SetItem(pending, key, list) == 0;
            Py_XDECREF(list);  /* the dict holds it */
        }
        ok = ok && PyList_Append(list, index) == 0;
        Py_XDECREF(key);
        Py_XDECREF(index);
        if (!ok) {
            goto done;
        }
    }
    for (Py_ssize_t i = from; i < to; i++) {
        match[i] = -1;
        PyObject *key = match_key(new_text, &fresh->items[i]);
        if (key == NULL) {
            goto done;
        }
        PyObject *list = PyDict_GetItemWithError(pending, key);
        Py_DECREF(key);
        if (list == NULL && PyErr_Occurred()) {
            goto done;
        }
        Py_ssize_t n = list ? PyList_GET_SIZE(list) : 0;
        if (n > 0) {
            Py_ssize_t j = PyLong_AsSsize_t(PyList_GET_ITEM(list, n - 1));
            if (PyList_SetSlice(list, n - 1, n, NULL) < 0) {
                goto done;
            }
            match[i] = j;
            old_used[j] = 1;
        }
    }
    status = 0;
done:
    Py_DECREF(pending);
    return status;
}

int
hr_same_norm(PyObject *a, PyObject *b)
{
    /* The same object: a statement a split moved from the old one. */
    return a == b
           || (PyBytes_GET_SIZE(a) == PyBytes_GET_SIZE(b)
               && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), PyBytes_GET_SIZE(a)) == 0);
}

/* 1 when new statement i was taken from old statement j by the split
 * (hr_split_again): the same text, told without reading either. */
static int
moved_from(const hr_unit *u, Py_ssize_t i, Py_ssize_t j)
{
    const hr_stmts *fresh = &u->new_stmts;
    if (fresh->same_as != &u->old_stmts || j < 0) {
        return 0;
    }
    Py_ssize_t tail_from = fresh->count - fresh->same_tail;
    return i < fresh->same_head ? j == i
           : i >= tail_from && j == i - tail_from + (u->old_stmts.count - fresh->same_tail);
}

/* 1 when the new statement differs from its old partner (or it has none):
 * in its text, unless only a formatter would tell them apart. */
static int
is_changed(hr_unit *u, Py_ssize_t i)
{
    Py_ssize_t j = u->match[i];
    if (moved_from(u, i, j)) {
        return 0;  /* a large module's thousands: its old table is not read */
    }
    return j < 0 || (!u->reformatted[i]
                     && !hr_same_norm(u->new_stmts.items[i].norm, u->old_stmts.items[j].norm));
}

int
hr_read_declaration(hr_state *state, PyObject *module_name, const char *text,
                    const hr_stmts *stmts, int trait, PyObject **out)
{
    assert(trait == HR_TRAIT_DECLARES_KEEP || trait == HR_TRAIT_DECLARES_UPDATE);
    const char *name = trait == HR_TRAIT_DECLARES_KEEP ? "__reload_keep__" : "__reload_update__";
    PyObject *code = NULL, *globals = NULL, *value = NULL, *names = NULL;
    *out = PySet_New(NULL);
    if (*out == NULL) {
        return -1;
    }
    if (!(stmts->traits & trait)) {
        return 0;
    }
    const hr_stmt *stmt = NULL;
    for (Py_ssize_t i = 0; i < stmts->count; i++) {
        if (stmts->items[i].traits & trait) {
            stmt = &stmts->items[i];
        }
    }
    if (stmt == NULL) {
        return 0;
    }
    /* The value alone, as an expression: it works at any indentation. */
    const char *eq = memchr(text + stmt->start, '=', stmt->end - stmt->start);
    PyObject *expr = eq ? PyUnicode_DecodeUTF8(eq + 1, text + stmt->end - eq - 1, NULL) : NULL;
    PyObject *stripped = expr ? PyObject_CallMethod(expr, "strip", NULL) : NULL;
    Py_XDECREF(expr);
    if (stripped == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        goto refuse;  /* no '=': not an assignment of a sequence */
    }
    code = Py_CompileString(PyUnicode_AsUTF8(stripped), name, Py_eval_input);
    Py_DECREF(stripped);
    globals = code ? Py_BuildValue("{sO}", "__builtins__", PyEval_GetBuiltins()) : NULL;
    value = globals ? PyEval_EvalCode(code, globals, globals) : NULL;
    if (value == NULL) {
        goto error;
    }
    if (PyUnicode_Check(value) || PyBytes_Check(value) || (names = PySequence_List(value)) == NULL) {
        goto refuse;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *item = PyList_GET_ITEM(names, i);
        if (!PyUnicode_Check(item)) {
            goto refuse;
        }
        if (PySet_Add(*out, item) < 0) {
            goto error;
        }
    }
    Py_DECREF(names);
    Py_DECREF(value);
    Py_DECREF(globals);
    Py_DECREF(code);
    return 0;
refuse:
    /* What is refused is the value, not sequence (TypeError from
     * PySequence_List) or holding something that is not a str; any other
     * error is the reload's, reported as it is. */
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
            goto error;
        }
        PyErr_Clear();
    }
    hr_raise(state, module_name, NULL, "%s must be a sequence of names (str), not %R",
             name, value ? value : Py_None);
error:
    if (!PyErr_ExceptionMatches(state->ReloadError)) {
        hr_raise(state, module_name, NULL, "cannot evaluate %s", name);
    }
    Py_XDECREF(names);
    Py_XDECREF(value);
    Py_XDECREF(globals);
    Py_XDECREF(code);
    Py_CLEAR(*out);
    return -1;
}

/* New reference: the names the statement reads when it runs; parsed only
 * when its text mentions one of `names`, else an empty set. */
static PyObject *
reads_among(hr_batch *batch, const char *text, const hr_stmt *stmt, PyObject *names)
{
    int mentioned = hr_mentions(stmt->norm, names);
    if (mentioned <= 0) {
        return mentioned < 0 ? NULL : PySet_New(NULL);
    }
    PyObject *reads = stmt->kind == HR_STMT_OTHER ? hr_simple_reads(text, stmt->start, stmt->end)
                                                  : NULL;
    if (reads != NULL || PyErr_Occurred()) {
        return reads;
    }
    Py_ssize_t from = hr_line_start(text, stmt->start);
    if (hr_names(batch->state, text + from, stmt->end - from, 0, NULL, &reads, NULL) < 0) {
        return NULL;
    }
    return reads;
}

/* 1 when the statement reads one of `names` when it runs, 0 when not, -1
 * on error: a plain assignment is read on its text, without a set of its
 * reads made (a constant read by thousands of statements asks this of
 * each). */
static int
reads_any(hr_batch *batch, const char *text, const hr_stmt *stmt, PyObject *names)
{
    int found;
    int simple = hr_simple_reads_any(text, stmt, names, &found);
    if (simple != 0) {
        return simple < 0 ? -1 : found;
    }
    PyObject *reads = reads_among(batch, text, stmt, names);
    found = reads ? hr_any_in(reads, names) : -1;
    Py_XDECREF(reads);
    return found;
}

hr_unit *
hr_done_unit(hr_batch *batch, PyObject *name)
{
    for (Py_ssize_t k = 0; name && k < batch->count; k++) {
        hr_unit *other = &batch->units[k];
        if (other->done && PyUnicode_Compare(other->name, name) == 0) {
            return other;
        }
    }
    return NULL;
}

/* Borrowed: the unit of the batch, already executed, that a
 * `from X import ...` statement imports from, with *names (new reference)
 * the (name, asname) pairs it imports; NULL with *names NULL when the
 * statement imports from no such module (no exception), or on error (an
 * exception set). */
static hr_unit *
batch_source(hr_batch *batch, hr_unit *u, const hr_stmt *stmt, PyObject **names)
{
    PyObject *module;
    if (hr_from_import(u->new_utf8, u->live, stmt, &module, names) < 0) {
        return NULL;
    }
    hr_unit *source = hr_done_unit(batch, module);
    Py_DECREF(module);
    if (source == NULL) {
        Py_CLEAR(*names);
    }
    return source;
}

int
hr_is_star(PyObject *pair)
{
    return PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(pair, 0), "*") == 0;
}

/* 1 when a from-import reads a name that changed in a module of the batch
 * executed earlier, or runs again anyway (`runs`) and imports from such a
 * module: it then runs emulated with the new values (a name new there is
 * not in the live module yet), and *parsed (new reference) is what it
 * imports, (module name, names), for the execution.  A star import names
 * nothing, so what changed there is added to `rebound`. */
static int
imports_changed_name(hr_batch *batch, hr_unit *u, const hr_stmt *stmt, PyObject *rebound,
                     int runs, PyObject **parsed)
{
    PyObject *names;
    hr_unit *source = batch_source(batch, u, stmt, &names);
    int result = source == NULL && PyErr_Occurred() ? -1 : source != NULL && runs;
    *parsed = NULL;
    for (Py_ssize_t i = 0; source && result >= 0 && i < PyList_GET_SIZE(names); i++) {
        PyObject *pair = PyList_GET_ITEM(names, i);
        if (hr_is_star(pair)) {
            if (PySet_GET_SIZE(source->rebound) > 0) {
                result = hr_set_update(rebound, source->rebound) < 0 ? -1 : 1;
            }
        }
        else if (result == 0) {
            result = PySet_Contains(source->rebound, PyTuple_GET_ITEM(pair, 0));
        }
    }
    if (result > 0 && (*parsed = PyTuple_Pack(2, source->name, names)) == NULL) {
        result = -1;
    }
    Py_XDECREF(names);
    return result;
}

static int
any_rebound(hr_batch *batch)
{
    for (Py_ssize_t k = 0; k < batch->count; k++) {
        if (batch->units[k].done && batch->units[k].rebound
            && PySet_GET_SIZE(batch->units[k].rebound) > 0) {
            return 1;
        }
    }
    return 0;
}

/* New reference: the def/class statement's name. */
static PyObject *
defined_name(const char *text, const hr_stmt *stmt)
{
    return PyUnicode_DecodeUTF8(text + stmt->name, stmt->name_len, NULL);
}

/* 1 when the class's metaclass is none its bases give it (the most
 * derived of theirs) and its statement names none: a decorator made the
 * class again.  0 when not, -1 on error. */
static int
remade_by_decorator(hr_unit *u, const hr_stmt *st, PyTypeObject *cls)
{
    Py_ssize_t header_end = st->body >= 0 ? st->body : st->end;
    const char *header = u->new_utf8 + st->head;
    static const char keyword[] = "metaclass";
    for (Py_ssize_t k = 0; k + (Py_ssize_t)sizeof(keyword) - 1 <= header_end - st->head; k++) {
        if (memcmp(header + k, keyword, sizeof(keyword) - 1) == 0) {
            return 0;
        }
    }
    PyTypeObject *winner = &PyType_Type;
    PyObject *bases = cls->tp_bases;
    for (Py_ssize_t k = 0; bases != NULL && k < PyTuple_GET_SIZE(bases); k++) {
        PyTypeObject *meta = Py_TYPE(PyTuple_GET_ITEM(bases, k));
        if (PyType_IsSubtype(meta, winner)) {
            winner = meta;
        }
    }
    return Py_TYPE(cls) != winner;
}

/* Decides, for a decorated def or class whose decorator lines did not
 * change, to run it without its decorators: a registering decorator must
 * not register twice.  The new function is then poured into the function
 * the live wrapper holds (a def), or the new class's members into the live
 * class (a class).  Only when that target can be found. */
static int
can_strip(hr_unit *u, Py_ssize_t i, PyObject *name)
{
    const hr_stmt *st = &u->new_stmts.items[i];
    Py_ssize_t j = u->match[i];
    if (st->head == st->start || j < 0
        || !hr_same_norm(st->norm_decorators, u->old_stmts.items[j].norm_decorators)) {
        return 0;
    }
    PyObject *live = PyDict_GetItemWithError(u->live, name);
    if (live == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (st->kind == HR_STMT_CLASS) {
        /* @dataclass and the like generate members from the body: they
         * run again, on the new class.  So does a decorator that made the
         * class again with another metaclass (six.add_metaclass): without
         * it the class statement makes a class of another kind. */
        int declarative = PyType_Check(live) ? hr_class_is_declarative(live) : 1;
        int remade = declarative == 0 ? remade_by_decorator(u, st, (PyTypeObject *)live) : 0;
        return declarative < 0 || remade < 0 ? -1 : !declarative && !remade;
    }
    PyFunctionObject *inner = hr_unwrap(live, name);
    if (inner == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_DECREF(inner);
    return 1;
}

/* 1 when the statement is a top-level `del`. */
static int
is_del(const hr_stmt *st)
{
    return (st->traits & HR_TRAIT_DEL) != 0;
}

/* A statement that runs again sees the names its first run saw.  Most are
 * in the live namespace still; a name the module deletes once done with it
 * (`import re` ... `def f(pat=re.compile(...))` ... `del re`) is not, and
 * the statement would fail with NameError.  So the statements before it
 * that bind such a name run again too, and the `del` after it, which
 * deletes the name again.  They rebind nothing others see: the name is
 * gone once the module has run, as before.  Called once every statement's
 * `run` is known. */
static int
rebind_deleted(hr_batch *batch, hr_unit *u)
{
    Py_ssize_t n = u->new_stmts.count;
    PyObject *deleted = NULL, *only = NULL;
    int status = -1;
    if (!((u->new_stmts.traits | u->old_stmts.traits) & HR_TRAIT_DEL)) {
        return 0;  /* neither source has a `del` */
    }
    /* The names the old source deleted too: one whose `del` left the source
     * is bound at the end of the module again, but not yet in the live
     * one. */
    for (Py_ssize_t k = 0; k < n + u->old_stmts.count; k++) {
        int old = k >= n;
        const hr_stmt *st = old ? &u->old_stmts.items[k - n] : &u->new_stmts.items[k];
        if (!is_del(st)) {
            continue;
        }
        PyObject *names = hr_stmt_binds(batch->state, old ? u->old_utf8 : u->new_utf8, st, 0);
        int added = names && (deleted || (deleted = PySet_New(NULL)))
                    ? hr_set_update(deleted, names) : -1;
        Py_XDECREF(names);
        if (added < 0) {
            goto done;
        }
    }
    if (deleted == NULL) {
        return 0;
    }
    /* From the last statement up: a binder made to run again here may read
     * a deleted name in its turn (a new `class Leaf(Mid)` runs `class
     * Mid(Base)` again, which needs `Base`), and is reached after. */
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        const hr_stmt *st = &u->new_stmts.items[i];
        /* What it reads as it runs: a function's local of the same name
         * (`for attr in assigned` in a def) is no read of the module's. */
        PyObject *reads = u->run[i] && !is_del(st) ? reads_among(batch, u->new_utf8, st, deleted)
                                                  : NULL;
        int mentioned = reads ? hr_any_in(reads, deleted) : PyErr_Occurred() ? -1 : 0;
        if (mentioned <= 0) {
            Py_XDECREF(reads);
            if (mentioned < 0) {
                goto done;
            }
            continue;
        }
        PyObject *name, *names = PySequence_List(deleted);
        for (Py_ssize_t m = 0; names && m < PyList_GET_SIZE(names); m++) {
            name = PyList_GET_ITEM(names, m);
            int live = PyDict_Contains(u->live, name);
            int read = live ? 0 : PySet_Contains(reads, name);
            Py_XSETREF(only, PySet_New(NULL));
            if (live < 0 || read < 0 || only == NULL || PySet_Add(only, name) < 0) {
                Py_CLEAR(names);
                break;
            }
            if (!read) {
                continue;
            }
            /* The binders before it and the deletions after it run again. */
            for (Py_ssize_t j = 0; names && j < n; j++) {
                const hr_stmt *other = &u->new_stmts.items[j];
                if (j == i || (j < i) == is_del(other) || hr_mentions(other->norm, only) <= 0) {
                    continue;
                }
                PyObject *binds = hr_stmt_binds(batch->state, u->new_utf8, other, 0);
                int binds_it = binds ? PySet_Contains(binds, name) : -1;
                Py_XDECREF(binds);
                if (binds_it < 0) {
                    Py_CLEAR(names);
                }
                else if (binds_it) {
                    u->run[j] = 1;
                }
            }
        }
        Py_DECREF(reads);
        if (names == NULL) {
            goto done;
        }
        Py_DECREF(names);
    }
    status = 0;
done:
    Py_XDECREF(deleted);
    Py_XDECREF(only);
    return status;
}

/* 1 when a `del` statement deletes names only (`del a, b`, `del (a)`):
 * no subscripts, attributes or anything else a hand-made deletion would
 * have to evaluate. */
static int
deletes_names_only(const hr_stmt *st)
{
    const char *norm = PyBytes_AS_STRING(st->norm);
    for (Py_ssize_t k = 3; k < PyBytes_GET_SIZE(st->norm); k++) {
        char c = norm[k];
        int name_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '_' || (c & 0x80);
        if (!name_char && c != ' ' && c != '\t' && c != ',' && c != '(' && c != ')'
            && c != '\n') {
            return 0;
        }
    }
    return 1;
}

/* New reference: the names of `names` that a statement before statement k
 * binds: the names a fresh import has when it reaches k. */
static PyObject *
bound_before(hr_batch *batch, hr_unit *u, Py_ssize_t k, PyObject *names)
{
    PyObject *found = PySet_New(NULL);
    for (Py_ssize_t j = 0; found != NULL && j < k; j++) {
        const hr_stmt *st = &u->new_stmts.items[j];
        int mentioned = hr_mentions(st->norm, names);
        PyObject *binds = mentioned > 0 ? hr_stmt_binds(batch->state, u->new_utf8, st, 0) : NULL;
        PyObject *both = binds ? PyNumber_And(binds, names) : NULL;
        if (mentioned < 0 || (mentioned > 0 && (both == NULL || hr_set_update(found, both) < 0))) {
            Py_CLEAR(found);
        }
        Py_XDECREF(binds);
        Py_XDECREF(both);
    }
    return found;
}

/* A `del` of names that runs again is done by hand (hr_emulate_from):
 *
 * - A def or class that runs again keeps its live object: the new one is
 *   poured into it.  When the module deletes the name once done with it
 *   (`def _f` ... `x = y = _f` ... `del _f`, or `class _Base` ... `class
 *   D(_Base)` ... `del _Base`), the `del` would drop the new object before
 *   the diff could pour it into the live one, which the aliases and
 *   subclasses still hold: what the hand-made `del` takes out is kept for
 *   the diff (unit->vanished).
 * - `del a, b` runs again (its text changed, or a statement reading `a`
 *   made a's binders run again) while b's binders do not: b is not there
 *   to delete, since its first run deleted it already.  A name that a
 *   statement before the `del` binds is gone after it at a fresh import:
 *   deleting nothing is then what the `del` does to it; for any other
 *   name it is NameError, as at a fresh import.
 * Called once every statement's `run` is final. */
static int
emulate_deletions(hr_batch *batch, hr_unit *u)
{
    if (!(u->new_stmts.traits & HR_TRAIT_DEL)) {
        return 0;
    }
    for (Py_ssize_t k = 0; k < u->new_stmts.count; k++) {
        const hr_stmt *st = &u->new_stmts.items[k];
        if (!u->run[k] || !is_del(st) || !deletes_names_only(st)) {
            continue;
        }
        PyObject *names = hr_stmt_binds(batch->state, u->new_utf8, st, 0);
        PyObject *list = names ? PySequence_List(names) : NULL;
        PyObject *bound = list ? bound_before(batch, u, k, names) : NULL;
        PyObject *how = bound ? PyTuple_Pack(3, Py_None, list, bound) : NULL;
        Py_XDECREF(names);
        Py_XDECREF(list);
        Py_XDECREF(bound);
        if (how == NULL) {
            return -1;
        }
        PyList_SetItem(u->emulated, k, how);  /* steals; cannot fail */
    }
    return 0;
}

/* The text of a statement that runs when the statement does: a def runs
 * only its decorators (and its name binding); anything else runs whole. */
static PyObject *
run_time_text(const hr_stmt *st)
{
    return st->kind == HR_STMT_DEF ? st->norm_decorators : st->norm;
}

/* A def runs without its decorators only when no other statement that runs
 * sees its name: one that rebinds it (`f = functools.partial(f, 0)`) or
 * reads it at run time (`handlers = [f]`) would see the undecorated
 * function, which a fresh import never makes.  Such a def runs whole, with
 * its decorators, like a fresh import.  Called once every statement's
 * `run` is known. */
static int
unstrip_seen(hr_unit *u)
{
    if (PySet_GET_SIZE(u->stripped) == 0) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        const hr_stmt *def = &u->new_stmts.items[i];
        if (!u->strip[i]) {
            continue;
        }
        PyObject *name = defined_name(u->new_utf8, def);
        PyObject *only = name ? PySet_New(NULL) : NULL;
        int seen = only != NULL && PySet_Add(only, name) == 0 ? 0 : -1;
        for (Py_ssize_t j = 0; seen == 0 && j < u->new_stmts.count; j++) {
            const hr_stmt *st = &u->new_stmts.items[j];
            if (j == i || !u->run[j]) {
                continue;
            }
            if ((st->kind == HR_STMT_DEF || st->kind == HR_STMT_CLASS)
                && st->name_len == def->name_len
                && memcmp(u->new_utf8 + st->name, u->new_utf8 + def->name, def->name_len) == 0) {
                seen = 1;  /* defined again */
            }
            else {
                seen = hr_mentions(run_time_text(st), only);
            }
        }
        if (seen > 0) {
            u->strip[i] = 0;
            seen = PySet_Discard(u->stripped, name) < 0 ? -1 : 0;
        }
        Py_XDECREF(only);
        Py_XDECREF(name);
        if (seen < 0) {
            return -1;
        }
    }
    return 0;
}

static int
plan_full(hr_unit *u)
{
    memset(u->run, 1, u->new_stmts.count);
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        u->match[i] = -1;
    }
    return 0;
}

/* How many names binds_candidate compares as text. */
#define FEW_NAMES 4

/* A set of a few names, as UTF-8: `of` and its `size` when read (`of`
 * NULL to read again; a set that grew is read again), `count` 0 when it
 * holds too many to compare (or a name not a str). */
typedef struct {
    PyObject *of;
    Py_ssize_t size;
    Py_ssize_t count;
    const char *utf8[FEW_NAMES];
    Py_ssize_t len[FEW_NAMES];
} few_names;

static int
read_few(PyObject *names, few_names *few)
{
    few->of = names;
    few->size = PySet_GET_SIZE(names);
    few->count = 0;
    if (PySet_GET_SIZE(names) > FEW_NAMES) {
        return 0;
    }
    PyObject *iterator = PyObject_GetIter(names);
    if (iterator == NULL) {
        few->of = NULL;
        return -1;
    }
    PyObject *name;
    int status = 0;  /* 1: a name that is not a str, compared as an object */
    while (status == 0 && (name = PyIter_Next(iterator)) != NULL) {
        /* The set holds the name: its text stays valid while it does. */
        const char *text = PyUnicode_Check(name)
                           ? PyUnicode_AsUTF8AndSize(name, &few->len[few->count]) : NULL;
        if (text != NULL) {
            few->utf8[few->count++] = text;
        }
        else {
            status = PyErr_Occurred() ? -1 : 1;
        }
        Py_DECREF(name);
    }
    Py_DECREF(iterator);
    if (status == 0 && PyErr_Occurred()) {
        status = -1;
    }
    if (status != 0) {
        few->count = 0;
        few->of = status < 0 ? NULL : names;
    }
    return status < 0 ? -1 : 0;
}

/* 1 when statement st binds one of `names`: a def, a class or a plain
 * assignment compares its name's text with a few names (a changed
 * constant's old line leaves one, a changed def runs again, and every
 * statement of the module is asked), else hr_stmt_binds_any. */
static int
binds_candidate(hr_batch *batch, hr_unit *u, const hr_stmt *st, PyObject *names, few_names *few)
{
    if (PySet_GET_SIZE(names) == 0) {
        return 0;
    }
    if ((few->of != names || few->size != PySet_GET_SIZE(names)) && read_few(names, few) < 0) {
        return -1;
    }
    Py_ssize_t start, end;
    if (few->count == 0 || !hr_stmt_bound_span(u->new_utf8, st, &start, &end)) {
        return hr_stmt_binds_any(batch->state, u->new_utf8, st, names);
    }
    for (Py_ssize_t k = 0; k < few->count; k++) {
        if (few->len[k] == end - start
            && memcmp(few->utf8[k], u->new_utf8 + start, end - start) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Names bound by old statements that left the source and by no new one.
 * A name such a statement bound that a new statement still binds is not
 * removed; but when the statement that left bound it last (`f =
 * functools.partial(f)` removed after an unchanged `def f`), the name holds
 * what that statement made: the new statement that now binds it last runs
 * again (u->run set; a def or class with its decorators), so the name ends
 * up as at a fresh import.  Called before the rest of the plan, which then
 * counts the name as rebound from that statement on (`g = f` after it runs
 * again too). */
static int
find_removed(hr_batch *batch, hr_unit *u)
{
    PyObject *candidates = PySet_New(NULL);
    if (candidates == NULL) {
        return -1;
    }
    for (Py_ssize_t j = 0; j < u->old_stmts.count; j++) {
        if (u->old_used[j]) {
            continue;
        }
        PyObject *binds = hr_stmt_binds(batch->state, u->old_utf8, &u->old_stmts.items[j], 0);
        if (binds == NULL || hr_set_update(candidates, binds) < 0) {
            Py_XDECREF(binds);
            goto error;
        }
        Py_DECREF(binds);
    }
    /* From the end: the first binder met is a name's last one. */
    few_names few = {0};
    for (Py_ssize_t i = u->new_stmts.count - 1; PySet_GET_SIZE(candidates) > 0 && i >= 0; i--) {
        const hr_stmt *st = &u->new_stmts.items[i];
        /* A `del` ends a binding: the one it deletes is the name's last.
         * Most statements bind no candidate (they read it): they leave
         * the candidates as they are, without a set made. */
        int binds_one = is_del(st) ? 0 : binds_candidate(batch, u, st, candidates, &few);
        if (binds_one <= 0) {
            if (binds_one < 0) {
                goto error;
            }
            continue;
        }
        PyObject *binds = hr_stmt_binds(batch->state, u->new_utf8, st, 0);
        if (binds == NULL) {
            goto error;
        }
        PyObject *bound = PyNumber_And(binds, candidates);
        PyObject *left = bound ? PyNumber_Subtract(candidates, binds) : NULL;
        PyObject *forced = bound ? PyNumber_Subtract(bound, u->keep) : NULL;
        Py_XDECREF(binds);
        Py_XDECREF(bound);
        if (left == NULL || forced == NULL) {
            Py_XDECREF(left);
            Py_XDECREF(forced);
            goto error;
        }
        if (PySet_GET_SIZE(forced) > 0) {
            u->run[i] = 1;
        }
        Py_DECREF(forced);
        Py_SETREF(candidates, left);
        few.of = NULL;  /* read again from the candidates left */
    }
    PyObject *removed = PyNumber_Subtract(candidates, u->keep);
    Py_DECREF(candidates);
    if (removed == NULL) {
        return -1;
    }
    Py_SETREF(u->removed, removed);
    return 0;
error:
    Py_DECREF(candidates);
    return -1;
}

/* 1 when a statement after statement i that runs reads `name` as it runs:
 * a def that merely names the class in its body does not.  `reads` caches,
 * per statement, the names it reads (None: not parsed yet). */
static int
read_after(hr_batch *batch, hr_unit *u, Py_ssize_t i, PyObject *name, PyObject *reads)
{
    PyObject *names = PySet_New(NULL);
    int found = names ? PySet_Add(names, name) : -1;
    for (Py_ssize_t k = i + 1; found == 0 && k < u->new_stmts.count; k++) {
        const hr_stmt *st = &u->new_stmts.items[k];
        found = u->run[k] ? hr_mentions(st->norm, names) : 0;
        if (found <= 0) {
            continue;
        }
        PyObject *read = PyList_GET_ITEM(reads, k);
        if (read == Py_None) {
            if ((read = reads_among(batch, u->new_utf8, st, names)) == NULL) {
                found = -1;
                break;
            }
            PyList_SetItem(reads, k, read);  /* steals; cannot fail */
        }
        found = PySet_Contains(read, name);
    }
    Py_XDECREF(names);
    return found;
}

/* New reference: a copy of the items of `obj`, an exact dict, list or set. */
static PyObject *
copy_items(PyObject *obj)
{
    return PyDict_CheckExact(obj) ? PyDict_Copy(obj)
           : PyList_CheckExact(obj) ? PyList_GetSlice(obj, 0, PyList_GET_SIZE(obj))
           : PySet_New(obj);
}

static int
is_container(PyObject *obj)
{
    return PyDict_CheckExact(obj) || PyList_CheckExact(obj) || PySet_CheckExact(obj);
}

/* Appends to `out` the containers a statement acting on `obj` may write:
 * `obj` itself when it is an exact dict, list or set, else the object's own
 * __dict__; and the exact dicts, lists and sets that dict holds (six's
 * `_importer.known_modules`, `REG["x"]["k"] = v`).  A class is not one:
 * its namespace is not a dict the engine may put items back into. */
static int
containers_of(PyObject *obj, PyObject *out)
{
    PyObject *holder;  /* the dict whose values are looked at too, or NULL */
    if (is_container(obj)) {
        holder = PyDict_CheckExact(obj) ? Py_NewRef(obj) : NULL;
        if (PyList_Append(out, obj) < 0) {
            Py_XDECREF(holder);
            return -1;
        }
    }
    else if (PyType_Check(obj) || Py_TYPE(obj)->tp_dictoffset == 0) {
        return 0;
    }
    else {
        holder = PyObject_GenericGetDict(obj, NULL);
        if (holder == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                return -1;
            }
            PyErr_Clear();  /* no instance dict after all: nothing to save */
            return 0;
        }
        if (!PyDict_CheckExact(holder)) {
            Py_DECREF(holder);
            return 0;
        }
        if (PyList_Append(out, holder) < 0) {
            Py_DECREF(holder);
            return -1;
        }
    }
    int status = 0;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (holder != NULL && status == 0 && PyDict_Next(holder, &pos, &key, &value)) {
        if (is_container(value)) {
            status = PyList_Append(out, value);
        }
    }
    Py_XDECREF(holder);
    return status;
}

/* Saves the items of the containers a statement that runs may write when it
 * acts on the module's object `name` (see containers_of) before anything
 * runs: a refused reload puts them back, so that it changes nothing there
 * either.  When `mine` is not NULL, the statement runs only because it acts
 * on that object: the (container, copy) pairs are appended to it too, so
 * that what it makes again can give way to the live objects (execute.c). */
static int
save_acted(hr_batch *batch, hr_unit *u, PyObject *name, PyObject *mine)
{
    PyObject *obj = PyDict_GetItemWithError(u->live, name);  /* borrowed */
    PyObject *containers = obj != NULL ? PyList_New(0) : NULL;
    if (containers == NULL || containers_of(obj, containers) < 0) {
        Py_XDECREF(containers);
        return PyErr_Occurred() ? -1 : 0;
    }
    int status = 0;
    for (Py_ssize_t c = 0; status == 0 && c < PyList_GET_SIZE(containers); c++) {
        PyObject *container = PyList_GET_ITEM(containers, c);
        PyObject *pair = NULL;
        for (Py_ssize_t k = 0; pair == NULL && k < PyList_GET_SIZE(batch->acted); k++) {
            if (PyTuple_GET_ITEM(PyList_GET_ITEM(batch->acted, k), 0) == container) {
                pair = Py_NewRef(PyList_GET_ITEM(batch->acted, k));
            }
        }
        if (pair == NULL) {
            PyObject *copy = copy_items(container);
            pair = copy ? PyTuple_Pack(2, container, copy) : NULL;
            Py_XDECREF(copy);
            status = pair ? PyList_Append(batch->acted, pair) : -1;
        }
        if (status == 0 && mine != NULL) {
            status = PyList_Append(mine, pair);
        }
        Py_XDECREF(pair);
    }
    Py_DECREF(containers);
    return status;
}

void
hr_acted_restore(hr_batch *batch)
{
    if (batch->acted == NULL) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(batch->acted); k++) {
        PyObject *obj = PyTuple_GET_ITEM(PyList_GET_ITEM(batch->acted, k), 0);
        PyObject *copy = PyTuple_GET_ITEM(PyList_GET_ITEM(batch->acted, k), 1);
        int status;
        if (PyDict_CheckExact(obj)) {
            PyDict_Clear(obj);
            status = PyDict_Update(obj, copy);
        }
        else if (PyList_CheckExact(obj)) {
            status = PyList_SetSlice(obj, 0, PyList_GET_SIZE(obj), copy);
        }
        else {
            status = PySet_Clear(obj) < 0 ? -1 : hr_set_update(obj, copy);
        }
        if (status < 0) {
            /* Out of memory while putting items back: the reload's own
             * failure, fetched above, is the one reported. */
            PyErr_Clear();
        }
    }
    PyErr_Restore(type, value, tb);
}

/* 0 when the statement's text cannot act on an object: no attribute, no
 * subscript, no setattr() or delattr().  Spares parsing the many
 * statements a changed constant makes run again (`LIMIT = BASE * 2`). */
static int
may_act(const hr_stmt *st)
{
    const char *text = PyBytes_AS_STRING(st->norm);
    Py_ssize_t len = PyBytes_GET_SIZE(st->norm);
    return memchr(text, '.', len) != NULL || memchr(text, '[', len) != NULL
           || hr_memmem(text, len, "setattr", 7) != NULL
           || hr_memmem(text, len, "delattr", 7) != NULL;
}

/* New reference: the names the module's import statements bind. */
static PyObject *
imported_names(hr_batch *batch, hr_unit *u)
{
    PyObject *imported = PySet_New(NULL);
    for (Py_ssize_t i = 0; imported != NULL && i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (st->kind == HR_STMT_IMPORT || st->kind == HR_STMT_FROM) {
            PyObject *binds = hr_stmt_binds(batch->state, u->new_utf8, st, 0);
            if (binds == NULL || hr_set_update(imported, binds) < 0) {
                Py_CLEAR(imported);
            }
            Py_XDECREF(binds);
        }
    }
    return imported;
}

/* Records that new statement `i` runs only to act again, on the containers
 * of the (container, copy) pairs `mine`. */
static int
record_acting(hr_unit *u, Py_ssize_t i, PyObject *mine)
{
    if (u->acting == NULL && (u->acting = PyDict_New()) == NULL) {
        return -1;
    }
    PyObject *index = PyLong_FromSsize_t(i);
    int status = index ? PyDict_SetItem(u->acting, index, mine) : -1;
    Py_XDECREF(index);
    return status;
}

/* 1 when statement i, which is to act again, runs with the inputs it had:
 * it did not run yet (nothing it reads was rebound, or it would), or it
 * runs unchanged to bind a name last and reads none of `rebound`. */
static int
same_inputs_again(hr_batch *batch, hr_unit *u, Py_ssize_t i, PyObject *rebound)
{
    if (!u->run[i]) {
        return 1;
    }
    if (is_changed(u, i)) {
        return 0;
    }
    int found = reads_any(batch, u->new_utf8, &u->new_stmts.items[i], rebound);
    return found < 0 ? -1 : !found;
}

/* A statement that runs again and acts on an object of the module (six's
 * loop registering lazy modules in its `_importer`) acts on it again in the
 * middle of the file: the unchanged statements after it that act on the
 * same object and bind nothing (or only a loop variable) run again too, so
 * that the object ends as a run of the whole file leaves it (six overrides
 * some of those entries further down, and the loop had put them back).
 * Only objects the module makes: a module it imports (`sys.path.insert()`)
 * is not one.  What those objects hold is saved first (save_acted): a
 * refused reload puts it back.  And an object that a statement whose
 * inputs did not change makes again gives way to the live one it made the
 * first time: one that runs only to act again, or one that runs to bind a
 * name last again (find_removed: a second loop over `_key` after a changed
 * one) and reads none of the names `rebound`. */
static int
act_again(hr_batch *batch, hr_unit *u, PyObject *rebound)
{
    PyObject *acted = PySet_New(NULL);     /* objects the statements that run act on */
    PyObject *imported = NULL;             /* read when first needed */
    int status = acted ? 0 : -1;
    for (Py_ssize_t i = 0; status == 0 && i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (st->kind != HR_STMT_OTHER || (!u->run[i] && PySet_GET_SIZE(acted) == 0)) {
            continue;
        }
        int candidate = u->run[i] ? 1 : hr_mentions(st->norm, acted);
        PyObject *binds = candidate > 0 && !u->run[i]
                          ? hr_stmt_binds(batch->state, u->new_utf8, st, 0) : NULL;
        if (candidate < 0 || (binds == NULL && PyErr_Occurred())) {
            status = -1;
            break;
        }
        /* Binding nothing, or only a loop's variables (which end as the
         * loop leaves them, as before). */
        candidate = candidate && (binds == NULL || PySet_GET_SIZE(binds) == 0
                                  || (PyBytes_GET_SIZE(st->norm) > 4
                                      && memcmp(PyBytes_AS_STRING(st->norm), "for ", 4) == 0));
        Py_XDECREF(binds);
        int acts = candidate && may_act(st);
        if (acts && imported == NULL && (imported = imported_names(batch, u)) == NULL) {
            status = -1;
            break;
        }
        PyObject *on = acts ? hr_acts_on(batch->state, u->new_utf8, st) : NULL;
        PyObject *own = on ? PyNumber_Subtract(on, imported) : NULL;
        Py_XDECREF(on);
        if (acts && own == NULL) {
            status = -1;
            break;
        }
        if (own == NULL) {
            continue;
        }
        int again = u->run[i] ? 1 : hr_any_in(own, acted);
        int same_inputs = again > 0 ? same_inputs_again(batch, u, i, rebound) : 0;
        if (same_inputs < 0) {
            again = -1;
        }
        if (again > 0) {
            PyObject *mine = same_inputs ? PyList_New(0) : NULL;
            status = !same_inputs || mine != NULL ? hr_set_update(acted, own) : -1;
            u->run[i] = 1;
            PyObject *iterator = status == 0 ? PyObject_GetIter(own) : NULL;
            PyObject *name;
            while (iterator != NULL && status == 0 && (name = PyIter_Next(iterator)) != NULL) {
                status = save_acted(batch, u, name, mine);
                Py_DECREF(name);
            }
            Py_XDECREF(iterator);
            if (status == 0 && PyErr_Occurred()) {
                status = -1;
            }
            if (status == 0 && mine != NULL) {
                status = record_acting(u, i, mine);
            }
            Py_XDECREF(mine);
        }
        else if (again < 0) {
            status = -1;
        }
        Py_DECREF(own);
    }
    Py_XDECREF(acted);
    Py_XDECREF(imported);
    return status;
}

/* Adds to `rebound` the names statement st binds as it runs again, but
 * those __reload_keep__ lists (they keep their live values). */
static int
add_rebound(hr_batch *batch, hr_unit *u, const hr_stmt *st, PyObject *rebound)
{
    if (PySet_GET_SIZE(u->keep) == 0) {
        return hr_add_binds(batch->state, rebound, u->new_utf8, st, 0);
    }
    PyObject *binds = hr_stmt_binds(batch->state, u->new_utf8, st, 0);
    PyObject *fresh = binds ? PyNumber_Subtract(binds, u->keep) : NULL;
    int status = fresh ? hr_set_update(rebound, fresh) : -1;
    Py_XDECREF(binds);
    Py_XDECREF(fresh);
    return status;
}

/* A changed class whose methods' bodies alone changed does not run: they
 * take their new code (shape.c).  Unless a statement after it that runs
 * reads it: that one must see the new class while it runs, before the
 * commit, and gets the complete throw-away twin of a class statement that
 * runs.  Decided once every other statement's run is known, from the last
 * class up, so that a subclass that runs for this reason makes its base
 * run too.  (A class that runs for this reason runs after the others were
 * planned: a later unchanged `C = wrap(C)` does not run with it.)  Those
 * that do not run are left in `bodies`, for run/classpatch.c to plan. */
static int
plan_method_bodies(hr_batch *batch, hr_unit *u, PyObject *bodies, PyObject *reads)
{
    for (Py_ssize_t i = u->new_stmts.count - 1; i >= 0; i--) {
        PyObject *changes = PyList_GET_ITEM(bodies, i);
        if (changes == Py_None) {
            continue;
        }
        PyObject *name = defined_name(u->new_utf8, &u->new_stmts.items[i]);
        int run = name ? read_after(batch, u, i, name, reads) : -1;
        int strip = run > 0 ? can_strip(u, i, name) : 0;
        if (run > 0 && PyList_SetItem(bodies, i, Py_NewRef(Py_None)) < 0) {
            run = -1;  /* runs: its changes are not planned by hand */
        }
        if (strip > 0 && PySet_Add(u->stripped, name) < 0) {
            strip = -1;
        }
        Py_XDECREF(name);
        if (run < 0 || strip < 0) {
            return -1;
        }
        u->run[i] = (char)run;
        u->strip[i] = (char)strip;
    }
    return 0;
}

int
hr_plan(hr_batch *batch, hr_unit *u)
{
    Py_ssize_t n = u->new_stmts.count;
    PyObject *rebound = NULL, *changed_defs = NULL, *redefined = NULL;
    PyObject *bodies = NULL, *reads = NULL;
    /* The unit as reload.c prepared it: both sources split, the plan's
     * arrays allocated (one entry per new statement), nothing run yet. */
    assert(u->run != NULL && u->strip != NULL && u->match != NULL && u->old_used != NULL);
    assert(u->bodies == NULL && u->scratch == NULL && u->acting == NULL);
    if (u->full) {
        return plan_full(u);
    }
    PyObject *keep, *update;
    if (hr_match(u->old_utf8, &u->old_stmts, u->new_utf8, &u->new_stmts, u->match, u->old_used) < 0
        || hr_read_declaration(batch->state, u->name, u->new_utf8, &u->new_stmts,
                               HR_TRAIT_DECLARES_KEEP, &keep) < 0) {
        return -1;
    }
    Py_SETREF(u->keep, keep);
    if (hr_pair_reformatted(batch->state, u) < 0) {
        return -1;
    }
    if (hr_read_declaration(batch->state, u->name, u->new_utf8, &u->new_stmts,
                            HR_TRAIT_DECLARES_UPDATE, &update) < 0) {
        return -1;
    }
    Py_SETREF(u->update, update);
    /* per statement: what a class that does not run takes, or None; and
     * the names it reads, when asked (read_after) */
    bodies = hr_table_of_none(n);
    reads = hr_table_of_none(n);
    if (bodies == NULL || reads == NULL) {
        goto error;
    }
    rebound = PySet_New(NULL);
    changed_defs = PySet_New(NULL);
    redefined = PySet_New(NULL);  /* names of the defs and classes that run again */
    if (rebound == NULL || changed_defs == NULL || redefined == NULL
        || find_removed(batch, u) < 0) {
        goto error;
    }
    /* Names of changed defs and classes: a decorator among them means the
     * decorated definitions take the new decorator. */
    for (Py_ssize_t i = 0; i < n; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if ((st->kind == HR_STMT_DEF || st->kind == HR_STMT_CLASS) && is_changed(u, i)) {
            PyObject *name = defined_name(u->new_utf8, st);
            if (name == NULL || PySet_Add(changed_defs, name) < 0) {
                Py_XDECREF(name);
                goto error;
            }
            Py_DECREF(name);
        }
    }
    int check_imports = any_rebound(batch);
    few_names few_redefined = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        /* u->run set: it now binds last a name whose last binder left. */
        int rebinds = u->run[i];
        /* A changed class is decided last: it may not need to run at all. */
        int changed = is_changed(u, i);
        int run = rebinds || (changed && st->kind != HR_STMT_CLASS);
        if ((st->kind == HR_STMT_DEF || st->kind == HR_STMT_CLASS)
            && !changed && !run && !(st->traits & HR_TRAIT_NAMES_UPDATE)
            && PySet_GET_SIZE(u->update) == 0
            && (st->head == st->start || PySet_GET_SIZE(changed_defs) == 0)) {
            /* Unchanged, and nothing asks it to run again (the rules
             * below, on empty sets, and its name not among the few
             * redefined), unless it reads a name rebound: no name decoded
             * for most definitions of a large module. */
            int again = binds_candidate(batch, u, st, redefined, &few_redefined);
            int reads = again == 0 && PySet_GET_SIZE(rebound) > 0
                        ? reads_any(batch, u->new_utf8, st, rebound) : 0;
            if (again < 0 || reads < 0) {
                goto error;
            }
            if (again == 0 && reads == 0) {
                u->run[i] = 0;
                u->strip[i] = 0;
                continue;
            }
        }
        if (st->kind == HR_STMT_DEF || st->kind == HR_STMT_CLASS) {
            PyObject *name = defined_name(u->new_utf8, st);
            if (name == NULL) {
                goto error;
            }
            int forced = PySet_Contains(u->update, name);
            run = run || forced > 0;
            /* A class declaring __reload_update__ re-runs those members on
             * every reload of its module, as a module's declaration does. */
            run = run || (st->traits & HR_TRAIT_NAMES_UPDATE) != 0;
            /* A decorator that changed in this reload is applied again,
             * even to a definition whose own text did not change. */
            int redecorate = 0;
            if (st->head != st->start) {
                /* Its own name may appear in its decorators ("@route('/f')"). */
                int own = PySet_Discard(changed_defs, name);
                redecorate = hr_mentions(st->norm_decorators, changed_defs);
                if (redecorate < 0 || (own > 0 && PySet_Add(changed_defs, name) < 0)) {
                    Py_DECREF(name);
                    goto error;
                }
            }
            /* With its decorators, if it has any: the binding is made anew,
             * and the statements after it that read the name see it. */
            redecorate = redecorate || rebinds;
            if (rebinds && PySet_Add(rebound, name) < 0) {
                Py_DECREF(name);
                goto error;
            }
            run = run || redecorate;
            if (!run) {
                /* A def or class that ran earlier bound this name (a changed
                 * @typing.overload stub above its implementation): this one
                 * binds it last, as in the file, so it runs again too. */
                run = PySet_Contains(redefined, name);
            }
            if (!run && PySet_GET_SIZE(rebound) > 0) {
                run = reads_any(batch, u->new_utf8, st, rebound);
                redecorate = run > 0;
            }
            if (run == 0 && changed) {
                /* A class whose methods' bodies alone changed need not run
                 * (planned once every statement's run is known). */
                PyObject *changes = hr_read_method_bodies(batch->state, u, i);
                run = changes == NULL ? -1 : changes == Py_None;
                if (changes != NULL) {
                    PyList_SetItem(bodies, i, changes);  /* steals; cannot fail */
                }
            }
            int strip = run > 0 && !redecorate && !forced ? can_strip(u, i, name) : 0;
            if (forced < 0 || run < 0 || strip < 0
                || (strip && PySet_Add(u->stripped, name) < 0)
                || (run > 0 && PySet_Add(redefined, name) < 0)) {
                Py_DECREF(name);
                goto error;
            }
            Py_DECREF(name);
            u->run[i] = (char)run;
            u->strip[i] = (char)strip;
            continue;
        }
        if (!run && PySet_GET_SIZE(rebound) > 0) {
            run = reads_any(batch, u->new_utf8, st, rebound);
        }
        /* A statement that rebinds a name a def or class that runs again
         * defines (`f = functools.partial(f, 0)`, `C = wrap(C)`) wraps the
         * new definition, as at a fresh import: it runs again too, or the
         * name would end up bound to the bare one.  And one that binds a
         * name of __reload_update__ runs again. */
        PyObject *watched[] = {redefined, u->update};
        for (int w = 0; run == 0 && w < 2; w++) {
            run = PySet_GET_SIZE(watched[w]) > 0
                  ? hr_stmt_binds_any(batch->state, u->new_utf8, st, watched[w]) : 0;
        }
        if ((check_imports || run > 0) && st->kind == HR_STMT_FROM) {
            PyObject *parsed;
            int changed = imports_changed_name(batch, u, st, rebound, run > 0, &parsed);
            if (changed < 0) {
                goto error;
            }
            if (changed) {
                run = 1;
                PyList_SetItem(u->emulated, i, parsed);  /* steals; cannot fail */
            }
        }
        if (run < 0) {
            goto error;
        }
        u->run[i] = (char)run;
        if (run && add_rebound(batch, u, st, rebound) < 0) {
            goto error;
        }
    }
    if (act_again(batch, u, rebound) < 0 || plan_method_bodies(batch, u, bodies, reads) < 0
        || rebind_deleted(batch, u) < 0 || unstrip_seen(u) < 0 || emulate_deletions(batch, u) < 0) {
        goto error;
    }
    u->bodies = bodies;
    Py_DECREF(reads);
    Py_DECREF(rebound);
    Py_DECREF(changed_defs);
    Py_DECREF(redefined);
    return 0;
error:
    Py_XDECREF(bodies);
    Py_XDECREF(reads);
    Py_XDECREF(rebound);
    Py_XDECREF(changed_defs);
    Py_XDECREF(redefined);
    return -1;
}
