/* Reversible writes: the transaction's commit and rollback.
 *
 * Every write a commit makes goes through this file.  Each entry keeps a
 * strong reference to what it replaced, which serves twice: rollback puts it
 * back, and while the journal lives no replaced object can be deallocated,
 * so no finalizer (__del__, weakref callback) runs Python code in the middle
 * of a commit.  The journal is freed after the commit and its hooks, when
 * running arbitrary code is safe again. */
#include "hotreload.h"

typedef enum {
    UNDO_DICT_ITEM,
    UNDO_TYPE_ATTR,
    UNDO_FUNCTION,
    UNDO_CODE,      /* a function's code and closure only */
    UNDO_CODE_ONLY, /* a function's code, its cells kept */
    UNDO_BASES,
    UNDO_CONTENTS,  /* a list's or set's items, saved as a list */
    UNDO_CELL,
    UNDO_DOC,       /* a property's docstring */
} undo_kind;

typedef struct {
    undo_kind kind;
    PyObject *target;   /* the dict, type, function, list, set or cell written (strong) */
    PyObject *key;      /* DICT_ITEM, TYPE_ATTR: the key or name (strong);
                           CODE: the previous closure, or NULL */
    PyObject *old;      /* DICT_ITEM, TYPE_ATTR, CELL, DOC: the previous value, NULL if absent;
                           CONTENTS: a list of the previous items;
                           CODE, CODE_ONLY: the previous code */
    hr_function_fields func;  /* FUNCTION: its fields before the write */
} undo;

struct hr_journal {
    const hr_state *state;  /* its interned names */
    undo *entries;
    Py_ssize_t count;
    Py_ssize_t capacity;
};

/* Drops what an entry holds; only a FUNCTION entry holds fields (a commit
 * of thousands of closures writes as many CODE entries). */
static void
entry_clear(undo *entry)
{
    Py_CLEAR(entry->target);
    Py_CLEAR(entry->key);
    Py_CLEAR(entry->old);
    if (entry->kind == UNDO_FUNCTION) {
        hr_function_fields_clear(&entry->func);
    }
}

hr_journal *
hr_journal_new(const hr_state *state, Py_ssize_t expected)
{
    hr_journal *journal = PyMem_Calloc(1, sizeof(hr_journal));
    if (journal == NULL) {
        return (hr_journal *)PyErr_NoMemory();
    }
    journal->state = state;
    /* Room for the entries the commit is expected to write, at once: grown
     * by doubling, thousands of live closures taking new code copied the
     * entries written so far again and again. */
    if (expected > 0) {
        journal->entries = hr_array_grow(NULL, sizeof(undo), expected, &journal->capacity,
                                         expected);
        if (journal->entries == NULL) {
            PyMem_Free(journal);
            return NULL;
        }
    }
    return journal;
}

void
hr_journal_free(hr_journal *journal)
{
    if (journal == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < journal->count; i++) {
        if (i + HR_AHEAD < journal->count) {
            hr_prefetch(journal->entries[i + HR_AHEAD].target);  /* a live closure, mostly */
        }
        entry_clear(&journal->entries[i]);
    }
    PyMem_Free(journal->entries);
    PyMem_Free(journal);
}

/* Borrowed: a fresh zeroed entry at the end of the journal, or NULL with
 * MemoryError set. */
static undo *
journal_append(hr_journal *journal)
{
    if (journal->count == journal->capacity) {
        undo *entries = hr_array_grow(journal->entries, sizeof(undo), journal->count + 1,
                                      &journal->capacity, 64);
        if (entries == NULL) {
            return NULL;
        }
        journal->entries = entries;
    }
    undo *entry = &journal->entries[journal->count++];
    memset(entry, 0, sizeof(*entry));
    return entry;
}

/* Drops the newest entry after the write it announced failed. */
static void
journal_pop(hr_journal *journal)
{
    entry_clear(&journal->entries[--journal->count]);
}

static int
dict_write(PyObject *dict, PyObject *key, PyObject *value)
{
    if (value != NULL) {
        return PyDict_SetItem(dict, key, value);
    }
    if (PyDict_DelItem(dict, key) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return -1;
        }
        PyErr_Clear();
    }
    return 0;
}

int
hr_journal_dict_set(hr_journal *journal, PyObject *dict, PyObject *key, PyObject *value)
{
    PyObject *old = PyDict_GetItemWithError(dict, key);
    if (old == NULL && PyErr_Occurred()) {
        return -1;
    }
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    entry->kind = UNDO_DICT_ITEM;
    entry->target = Py_NewRef(dict);
    entry->key = Py_NewRef(key);
    entry->old = Py_XNewRef(old);
    if (dict_write(dict, key, value) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}


int
hr_journal_type_set(hr_journal *journal, PyTypeObject *type, PyObject *name, PyObject *value)
{
    PyObject *old = PyDict_GetItemWithError(type->tp_dict, name);
    if (old == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (old == NULL && value == NULL) {
        return 0;
    }
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    entry->kind = UNDO_TYPE_ATTR;
    entry->target = Py_NewRef(type);
    entry->key = Py_NewRef(name);
    entry->old = Py_XNewRef(old);
    if (hr_type_write(type, name, value) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

static int
bases_write(const hr_journal *journal, PyTypeObject *type, PyObject *bases)
{
    return PyType_Type.tp_setattro((PyObject *)type, journal->state->strings[HR_STR_BASES],
                                   bases);
}

int
hr_journal_set_bases(hr_journal *journal, PyTypeObject *type, PyObject *bases)
{
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    entry->kind = UNDO_BASES;
    entry->target = Py_NewRef(type);
    entry->old = Py_NewRef(type->tp_bases);
    if (bases_write(journal, type, bases) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

int
hr_journal_save_function(hr_journal *journal, PyFunctionObject *func)
{
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    entry->kind = UNDO_FUNCTION;
    entry->target = Py_NewRef(func);
    if (hr_function_fields_read(func, &entry->func) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

int
hr_journal_save_code(hr_journal *journal, PyFunctionObject *func, int with_closure)
{
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    /* A closure that keeps its cells leaves its cell tuple untouched: an
     * entry written later for the same function saves whatever it changes
     * itself, and rollback goes backwards. */
    entry->kind = with_closure ? UNDO_CODE : UNDO_CODE_ONLY;
    entry->target = Py_NewRef(func);
    entry->old = Py_NewRef(func->func_code);
    entry->key = with_closure ? Py_XNewRef(func->func_closure) : NULL;
    return 0;
}

int
hr_journal_save_contents(hr_journal *journal, PyObject *container)
{
    PyObject *items = PySequence_List(container);
    undo *entry = items ? journal_append(journal) : NULL;
    if (entry == NULL) {
        Py_XDECREF(items);
        return -1;
    }
    entry->kind = UNDO_CONTENTS;
    entry->target = Py_NewRef(container);
    entry->old = items;
    return 0;
}

int
hr_journal_cell_set(hr_journal *journal, PyObject *cell, PyObject *value)
{
    undo *entry = journal_append(journal);
    if (entry == NULL) {
        return -1;
    }
    entry->kind = UNDO_CELL;
    entry->target = Py_NewRef(cell);
    entry->old = Py_XNewRef(PyCell_GET(cell));
    if (PyCell_Set(cell, value) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

/* A property's __doc__, through the member CPython declares for it. */
static int
doc_write(const hr_journal *journal, PyObject *property, PyObject *doc)
{
    return PyObject_GenericSetAttr(property, journal->state->strings[HR_STR_DOC], doc);
}

int
hr_journal_doc_set(hr_journal *journal, PyObject *property, PyObject *doc)
{
    PyObject *old = PyObject_GenericGetAttr(property, journal->state->strings[HR_STR_DOC]);
    undo *entry = old ? journal_append(journal) : NULL;
    if (entry == NULL) {
        Py_XDECREF(old);
        return -1;
    }
    entry->kind = UNDO_DOC;
    entry->target = Py_NewRef(property);
    entry->old = old;
    if (doc_write(journal, property, doc) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

/* Puts back the items of a list or set (the kinds saved as contents). */
static int
contents_write(PyObject *container, PyObject *items)
{
    if (PyList_Check(container)) {
        return PyList_SetSlice(container, 0, PyList_GET_SIZE(container), items);
    }
    if (PySet_Clear(container) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        if (PySet_Add(container, PyList_GET_ITEM(items, i)) < 0) {
            return -1;
        }
    }
    return 0;
}

void
hr_journal_rollback(hr_journal *journal)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    for (Py_ssize_t i = journal->count - 1; i >= 0; i--) {
        undo *entry = &journal->entries[i];
        int status = 0;
        switch (entry->kind) {
        case UNDO_DICT_ITEM:
            status = dict_write(entry->target, entry->key, entry->old);
            break;
        case UNDO_TYPE_ATTR:
            status = hr_type_write((PyTypeObject *)entry->target, entry->key, entry->old);
            break;
        case UNDO_FUNCTION:
            hr_function_fields_restore((PyFunctionObject *)entry->target, &entry->func);
            break;
        case UNDO_CODE:
            hr_function_code_restore((PyFunctionObject *)entry->target, entry->old, entry->key);
            break;
        case UNDO_CODE_ONLY: {
            PyFunctionObject *func = (PyFunctionObject *)entry->target;
            hr_function_code_restore(func, entry->old, func->func_closure);
            break;
        }
        case UNDO_BASES:
            status = bases_write(journal, (PyTypeObject *)entry->target, entry->old);
            break;
        case UNDO_CONTENTS:
            status = contents_write(entry->target, entry->old);
            break;
        case UNDO_CELL:
            status = PyCell_Set(entry->target, entry->old);
            break;
        case UNDO_DOC:
            status = doc_write(journal, entry->target, entry->old);
            break;
        }
        if (status < 0) {
            /* Restoring a value that was there a moment ago can only fail
             * for lack of memory; report it and keep undoing the rest. */
            PyErr_WriteUnraisable(entry->target);
        }
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);
}
