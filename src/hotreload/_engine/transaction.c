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
    UNDO_CONTENTS,  /* a list's or set's items, saved as a list */
    UNDO_CELL,
    UNDO_DOC,       /* a property's docstring */
} undo_kind;

typedef struct {
    undo_kind kind;
    PyObject *target;   /* the dict, type, function, list, set or cell written (strong) */
    PyObject *key;      /* DICT_ITEM, TYPE_ATTR: the key or name (strong) */
    PyObject *old;      /* DICT_ITEM, TYPE_ATTR, CELL, DOC: the previous value, NULL if absent;
                           CONTENTS: a list of the previous items */
    hr_function_fields func;  /* FUNCTION: its fields before the write */
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
        hr_function_fields_clear(&entry->func);
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
    hr_function_fields_clear(&entry->func);
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
hr_type_write(PyTypeObject *type, PyObject *name, PyObject *value)
{
    /* type.__setattr__ would rename the class: a member of that name (a
     * property `__name__`) goes into the class dict, where the class
     * statement puts it. */
    if (PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "__name__") == 0
                                  || PyUnicode_CompareWithASCIIString(name, "__qualname__") == 0)) {
        int status = value != NULL ? PyDict_SetItem(type->tp_dict, name, value)
                                   : PyDict_DelItem(type->tp_dict, name);
        PyType_Modified(type);
        return status;
    }
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
    if (hr_type_write(type, name, value) < 0) {
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
    if (hr_function_fields_read(func, &entry->func) < 0) {
        journal_pop(journal);
        return -1;
    }
    return 0;
}

/* Borrowed: the interned "__doc__", or NULL with an exception set. */
static PyObject *
doc_name(void)
{
    static PyObject *name = NULL;
    if (name == NULL) {
        name = PyUnicode_InternFromString("__doc__");
    }
    return name;
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
doc_write(PyObject *property, PyObject *doc)
{
    PyObject *name = doc_name();
    return name ? PyObject_GenericSetAttr(property, name, doc) : -1;
}

int
hr_journal_doc_set(hr_journal *journal, PyObject *property, PyObject *doc)
{
    PyObject *old = doc_name() ? PyObject_GenericGetAttr(property, doc_name()) : NULL;
    undo *entry = old ? journal_append(journal) : NULL;
    if (entry == NULL) {
        Py_XDECREF(old);
        return -1;
    }
    entry->kind = UNDO_DOC;
    entry->target = Py_NewRef(property);
    entry->old = old;
    if (doc_write(property, doc) < 0) {
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
        case UNDO_BASES:
            status = bases_write((PyTypeObject *)entry->target, entry->old);
            break;
        case UNDO_CONTENTS:
            status = contents_write(entry->target, entry->old);
            break;
        case UNDO_CELL:
            status = PyCell_Set(entry->target, entry->old);
            break;
        case UNDO_DOC:
            status = doc_write(entry->target, entry->old);
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

/* Appends an action; the references are not stolen.  Only the typed
 * constructors below call it, once they have checked the operands. */
static int
actions_add(hr_actions *actions, hr_action_kind kind, PyObject *target, PyObject *key,
            PyObject *value)
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

/* -1 with TypeError set: the planner asked for a write whose operands are
 * not of the kind the commit would treat them as.  Refusing here, before
 * anything is written, is what keeps a wrong guess from becoming a crash. */
static int
wrong_kind(const char *action, PyObject *target, const char *wanted, PyObject *got)
{
    PyErr_Format(PyExc_TypeError, "cannot plan %s of %R: %s, not a %s object", action,
                 target, wanted, Py_TYPE(got)->tp_name);
    return -1;
}

int
hr_plan_dict_set(hr_actions *actions, PyObject *dict, PyObject *key, PyObject *value)
{
    if (!PyDict_Check(dict)) {
        return wrong_kind("a namespace write", key, "the namespace must be a dict", dict);
    }
    return actions_add(actions, HR_ACT_DICT_SET, dict, key, value);
}

int
hr_plan_type_set(hr_actions *actions, PyObject *type, PyObject *name, PyObject *value)
{
    if (!PyType_Check(type)) {
        return wrong_kind("a class member write", name, "the target must be a class", type);
    }
    if (!PyUnicode_Check(name)) {
        return wrong_kind("a class member write", type, "the member name must be a str", name);
    }
    return actions_add(actions, HR_ACT_TYPE_SET, type, name, value);
}

int
hr_plan_function_patch(hr_actions *actions, PyObject *live, PyObject *fresh, PyObject *globals)
{
    if (!PyFunction_Check(live)) {
        return wrong_kind("a function patch", live, "the live object must be a function", live);
    }
    if (!PyFunction_Check(fresh)) {
        return wrong_kind("a function patch", live, "the new object must be a function", fresh);
    }
    if (globals != NULL && !PyDict_Check(globals)) {
        return wrong_kind("a function patch", live, "its globals must be a dict", globals);
    }
    return actions_add(actions, HR_ACT_PATCH, live, globals, fresh);
}

int
hr_plan_adopt(hr_actions *actions, PyObject *func, PyObject *globals)
{
    if (!PyFunction_Check(func)) {
        return wrong_kind("the adoption", func, "it must be a function", func);
    }
    if (!PyDict_Check(globals)) {
        return wrong_kind("the adoption", func, "its globals must be a dict", globals);
    }
    return actions_add(actions, HR_ACT_ADOPT, func, NULL, globals);
}

int
hr_plan_code(hr_actions *actions, PyObject *func, PyObject *code, PyObject *closure)
{
    if (!PyFunction_Check(func)) {
        return wrong_kind("new code", func, "the live closure must be a function", func);
    }
    if (!PyCode_Check(code)) {
        return wrong_kind("new code", func, "its code must be a code object", code);
    }
    if (!PyTuple_Check(closure)) {
        return wrong_kind("new code", func, "its closure must be a tuple", closure);
    }
    return actions_add(actions, HR_ACT_CODE, func, closure, code);
}

int
hr_plan_bases(hr_actions *actions, PyObject *type, PyObject *bases)
{
    if (!PyType_Check(type)) {
        return wrong_kind("new bases", type, "the target must be a class", type);
    }
    if (!PyTuple_Check(bases)) {
        return wrong_kind("new bases", type, "the bases must be a tuple", bases);
    }
    return actions_add(actions, HR_ACT_BASES, type, NULL, bases);
}

int
hr_plan_doc(hr_actions *actions, PyObject *property, PyObject *doc)
{
    if (!Py_IS_TYPE(property, &PyProperty_Type)) {
        return wrong_kind("a docstring", property, "the target must be a property", property);
    }
    return actions_add(actions, HR_ACT_DOC, property, NULL, doc);
}

int
hr_plan_forward(hr_actions *actions, PyObject *holder)
{
    if (hr_forward_check(holder) < 0) {
        return wrong_kind("the forwarding", holder,
                          "the holder must be a list, dict, set, cell or object with a dict",
                          holder);
    }
    return actions_add(actions, HR_ACT_FORWARD, holder, NULL, NULL);
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

/* The operands were checked when the action was planned (hr_plan_*).  A
 * value that is a new object standing for a live one is bound as the live
 * one: a name the new code bound to it (`__nonzero__ = __bool__` beside an
 * unchanged or patched __bool__) must not keep the throw-away alive; the
 * map is complete only now, whatever order the names were diffed in. */
static int
apply(hr_action *action, hr_journal *journal, const hr_identity *identity)
{
    switch (action->kind) {
    case HR_ACT_DICT_SET:
        assert(PyDict_Check(action->target));
        return hr_journal_dict_set(journal, action->target, action->key,
                                   hr_identity_get(identity, action->value));
    case HR_ACT_TYPE_SET:
        assert(PyType_Check(action->target));
        return hr_journal_type_set(journal, (PyTypeObject *)action->target, action->key,
                                   hr_identity_get(identity, action->value));
    case HR_ACT_PATCH:
        assert(PyFunction_Check(action->target) && PyFunction_Check(action->value));
        return hr_function_patch(journal, (PyFunctionObject *)action->target,
                                 (PyFunctionObject *)action->value, action->key, identity);
    case HR_ACT_ADOPT:
        assert(PyFunction_Check(action->target) && PyDict_Check(action->value));
        return hr_function_adopt((PyFunctionObject *)action->target, action->value, identity);
    case HR_ACT_BASES:
        assert(PyType_Check(action->target) && PyTuple_Check(action->value));
        return hr_journal_set_bases(journal, (PyTypeObject *)action->target, action->value);
    case HR_ACT_CODE:
        assert(PyFunction_Check(action->target) && PyCode_Check(action->value));
        return hr_function_set_code(journal, (PyFunctionObject *)action->target, action->value,
                                    action->key);
    case HR_ACT_DOC:
        assert(Py_IS_TYPE(action->target, &PyProperty_Type));
        return hr_journal_doc_set(journal, action->target, action->value);
    case HR_ACT_FORWARD:
        assert(hr_forward_check(action->target) == 0);
        return hr_forward_live(journal, action->target, identity);
    }
    return 0;
}

int
hr_actions_commit(hr_actions *actions, hr_journal *journal, const hr_identity *identity,
                  const hr_action **failed)
{
    /* Functions made by the reload first, so that whatever gets bound next
     * already sees the live globals; then code into live functions; then
     * the names that make the new objects reachable. */
    static const hr_action_kind order[] = {
        HR_ACT_ADOPT, HR_ACT_PATCH, HR_ACT_CODE, HR_ACT_BASES, HR_ACT_TYPE_SET,
        HR_ACT_DICT_SET, HR_ACT_DOC, HR_ACT_FORWARD,
    };
    *failed = NULL;
    for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
        for (Py_ssize_t i = 0; i < actions->count; i++) {
            hr_action *action = &actions->items[i];
            if (action->kind == order[pass] && apply(action, journal, identity) < 0) {
                *failed = action;
                hr_journal_rollback(journal);
                return -1;
            }
        }
    }
    return 0;
}
