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
    UNDO_BASES,
} undo_kind;

/* The fields of a function that a patch may change. */
typedef struct {
    PyObject *code, *closure, *defaults, *kwdefaults, *annotations;
    PyObject *doc, *dict, *name, *qualname, *typeparams, *globals;
} function_state;

typedef struct {
    undo_kind kind;
    PyObject *target;   /* the dict, type or function written (strong) */
    PyObject *key;      /* DICT_ITEM, TYPE_ATTR: the key or name (strong) */
    PyObject *old;      /* DICT_ITEM, TYPE_ATTR: the previous value, NULL if absent */
    function_state func;
} undo;

struct hr_journal {
    undo *entries;
    Py_ssize_t count;
    Py_ssize_t capacity;
};

hr_journal *
hr_journal_new(void)
{
    hr_journal *journal = PyMem_Calloc(1, sizeof(hr_journal));
    if (journal == NULL) {
        PyErr_NoMemory();
    }
    return journal;
}

static void
function_state_clear(function_state *state)
{
    Py_CLEAR(state->code);
    Py_CLEAR(state->closure);
    Py_CLEAR(state->defaults);
    Py_CLEAR(state->kwdefaults);
    Py_CLEAR(state->annotations);
    Py_CLEAR(state->doc);
    Py_CLEAR(state->dict);
    Py_CLEAR(state->name);
    Py_CLEAR(state->qualname);
    Py_CLEAR(state->typeparams);
    Py_CLEAR(state->globals);
}

void
hr_journal_free(hr_journal *journal)
{
    if (journal == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < journal->count; i++) {
        undo *entry = &journal->entries[i];
        Py_CLEAR(entry->target);
        Py_CLEAR(entry->key);
        Py_CLEAR(entry->old);
        function_state_clear(&entry->func);
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
        Py_ssize_t capacity = journal->capacity ? journal->capacity * 2 : 64;
        undo *entries = PyMem_Realloc(journal->entries, capacity * sizeof(undo));
        if (entries == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        journal->entries = entries;
        journal->capacity = capacity;
    }
    undo *entry = &journal->entries[journal->count++];
    memset(entry, 0, sizeof(*entry));
    return entry;
}

/* Drops the newest entry after the write it announced failed. */
static void
journal_pop(hr_journal *journal)
{
    undo *entry = &journal->entries[--journal->count];
    Py_CLEAR(entry->target);
    Py_CLEAR(entry->key);
    Py_CLEAR(entry->old);
    function_state_clear(&entry->func);
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

/* type.__setattr__ itself: updates the type's slots (a new __eq__ must
 * reach tp_richcompare) and invalidates its caches and its subclasses',
 * without running a metaclass's own __setattr__. */
static int
type_write(PyTypeObject *type, PyObject *name, PyObject *value)
{
    return PyType_Type.tp_setattro((PyObject *)type, name, value);
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
    if (type_write(type, name, value) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

static int
bases_write(PyTypeObject *type, PyObject *bases)
{
    static PyObject *name = NULL;
    if (name == NULL && (name = PyUnicode_InternFromString("__bases__")) == NULL) {
        return -1;
    }
    return PyType_Type.tp_setattro((PyObject *)type, name, bases);
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
    if (bases_write(type, bases) < 0) {
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
    function_state *state = &entry->func;
    state->code = Py_NewRef(func->func_code);
    state->closure = Py_XNewRef(func->func_closure);
    state->defaults = Py_XNewRef(func->func_defaults);
    state->kwdefaults = Py_XNewRef(func->func_kwdefaults);
    state->annotations = Py_XNewRef(func->func_annotations);
    state->doc = Py_XNewRef(func->func_doc);
    state->dict = Py_XNewRef(func->func_dict);
    state->name = Py_NewRef(func->func_name);
    state->qualname = Py_NewRef(func->func_qualname);
    state->typeparams = Py_XNewRef(HR_FUNC_TYPEPARAMS(func));
    state->globals = Py_NewRef(func->func_globals);
    return 0;
}

/* Puts a saved function state back.  Only writes that cannot fail: the
 * function had exactly this state before. */
static void
function_restore(PyFunctionObject *func, function_state *state)
{
    hr_function_forget_version(func);
    Py_XSETREF(func->func_closure, Py_XNewRef(state->closure));
    Py_XSETREF(func->func_code, Py_NewRef(state->code));
    Py_XSETREF(func->func_defaults, Py_XNewRef(state->defaults));
    Py_XSETREF(func->func_kwdefaults, Py_XNewRef(state->kwdefaults));
    Py_XSETREF(func->func_annotations, Py_XNewRef(state->annotations));
    Py_XSETREF(func->func_doc, Py_XNewRef(state->doc));
    Py_XSETREF(func->func_dict, Py_XNewRef(state->dict));
    Py_XSETREF(func->func_name, Py_NewRef(state->name));
    Py_XSETREF(func->func_qualname, Py_NewRef(state->qualname));
    hr_function_set_typeparams(func, state->typeparams);
    if (func->func_globals != state->globals) {
        (void)hr_function_adopt(func, state->globals, NULL);
    }
    hr_function_forget_version(func);
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
            status = type_write((PyTypeObject *)entry->target, entry->key, entry->old);
            break;
        case UNDO_FUNCTION:
            function_restore((PyFunctionObject *)entry->target, &entry->func);
            break;
        case UNDO_BASES:
            status = bases_write((PyTypeObject *)entry->target, entry->old);
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

/* ------------------------------------------------------------------------ */
/* Planned writes                                                            */
/* ------------------------------------------------------------------------ */

int
hr_actions_add(hr_actions *actions, hr_action_kind kind, PyObject *target,
               PyObject *key, PyObject *value)
{
    if (actions->count == actions->capacity) {
        Py_ssize_t capacity = actions->capacity ? actions->capacity * 2 : 64;
        hr_action *items = PyMem_Realloc(actions->items, capacity * sizeof(hr_action));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        actions->items = items;
        actions->capacity = capacity;
    }
    hr_action *action = &actions->items[actions->count++];
    action->kind = kind;
    action->target = Py_NewRef(target);
    action->key = Py_XNewRef(key);
    action->value = Py_XNewRef(value);
    return 0;
}

void
hr_actions_clear(hr_actions *actions)
{
    for (Py_ssize_t i = 0; i < actions->count; i++) {
        Py_CLEAR(actions->items[i].target);
        Py_CLEAR(actions->items[i].key);
        Py_CLEAR(actions->items[i].value);
    }
    PyMem_Free(actions->items);
    actions->items = NULL;
    actions->count = actions->capacity = 0;
}

static int
apply(hr_action *action, hr_journal *journal, PyObject *identity)
{
    switch (action->kind) {
    case HR_ACT_DICT_SET:
        return hr_journal_dict_set(journal, action->target, action->key, action->value);
    case HR_ACT_TYPE_SET:
        return hr_journal_type_set(journal, (PyTypeObject *)action->target, action->key,
                                   action->value);
    case HR_ACT_PATCH:
        return hr_function_patch(journal, (PyFunctionObject *)action->target,
                                 (PyFunctionObject *)action->value, action->key, identity);
    case HR_ACT_ADOPT:
        return hr_function_adopt((PyFunctionObject *)action->target, action->value, identity);
    case HR_ACT_BASES:
        return hr_journal_set_bases(journal, (PyTypeObject *)action->target, action->value);
    case HR_ACT_CODE:
        return hr_function_set_code(journal, (PyFunctionObject *)action->target, action->value,
                                    action->key);
    }
    return 0;
}

int
hr_actions_commit(hr_actions *actions, hr_journal *journal, PyObject *identity)
{
    /* Functions made by the reload first, so that whatever gets bound next
     * already sees the live globals; then code into live functions; then
     * the names that make the new objects reachable. */
    static const hr_action_kind order[] = {
        HR_ACT_ADOPT, HR_ACT_PATCH, HR_ACT_CODE, HR_ACT_BASES, HR_ACT_TYPE_SET,
        HR_ACT_DICT_SET,
    };
    for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
        for (Py_ssize_t i = 0; i < actions->count; i++) {
            hr_action *action = &actions->items[i];
            if (action->kind == order[pass] && apply(action, journal, identity) < 0) {
                hr_journal_rollback(journal);
                return -1;
            }
        }
    }
    return 0;
}
