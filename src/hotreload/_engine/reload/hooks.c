/* The hooks a reloaded module may define, called after the commit:
 *
 *   def __reload_module__(old)        per module: `old` holds its values from
 *                                     just before the commit (data migrations)
 *   def __reload_class__(cls)         per patched class that has it
 *   def __reload_instance__(self)     per live instance of a patched class
 *                                     that has it, subclasses included,
 *                                     exactly once each
 *
 * They run in that order: module data first, then classes, then the
 * instances, which may rely on both.  If one raises, the reload is undone
 * (what the hooks themselves did to live objects is theirs to undo).  The
 * instances were found by the batch's single heap walk (heap.c). */
#include "hotreload.h"

/* Adds to the set `type` and its subclasses, in any module, that have the
 * hook or will inherit it (`inherited`: the patched base gains it in this
 * reload), so that a class without one costs no walk. */
static int
add_hooked(hr_ptrset *types, PyObject *type, int inherited, int depth)
{
    int has = inherited ? 1 : hr_has_attr(type, "__reload_instance__");
    if (has < 0 || (has && hr_ptrset_add(types, type) < 0)) {
        return -1;
    }
    if (depth > 64) {
        return 0;
    }
    PyObject *subclasses = hr_subclasses(type);
    if (subclasses == NULL) {
        return -1;
    }
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(subclasses); i++) {
        status = add_hooked(types, PyList_GET_ITEM(subclasses, i), has, depth + 1);
    }
    Py_DECREF(subclasses);
    return status;
}

int
hr_hooks_query(hr_batch *b, hr_heap_query *q)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(b->patched); i++) {
        PyObject *pair = PyList_GET_ITEM(b->patched, i);
        PyObject *live = PyTuple_GET_ITEM(pair, 0);
        PyObject *fresh = PyTuple_GET_ITEM(pair, 1);
        /* The hook may be new in this reload: look at the new class too. */
        int gains = hr_has_attr(fresh, "__reload_instance__");
        if (gains < 0 || add_hooked(&q->hooked_types, live, gains, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Raises ReloadError for a hook of `type` that raised, naming its module
 * and class and chaining the hook's exception. */
static int
hook_failed(hr_batch *b, PyTypeObject *type, const char *hook)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *module = PyObject_GetAttrString((PyObject *)type, "__module__");
    PyObject *qualname = PyObject_GetAttrString((PyObject *)type, "__qualname__");
    /* A full clear: the names only decorate the message; the hook's own
     * exception, fetched above, is the one chained and reported. */
    PyErr_Clear();
    if (module != NULL && !PyUnicode_Check(module)) {
        Py_CLEAR(module);
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);
    hr_raise(b->state, module, qualname, "its %s hook raised; the reload was undone", hook);
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    return -1;
}

/* New reference: "module.Qualname" of a class. */
static PyObject *
class_name(PyTypeObject *type)
{
    PyObject *module = PyObject_GetAttrString((PyObject *)type, "__module__");
    PyObject *qualname = module ? PyObject_GetAttrString((PyObject *)type, "__qualname__") : NULL;
    PyObject *name = qualname ? PyUnicode_FromFormat("%S.%S", module, qualname) : NULL;
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    return name;
}

static int
run_module_hooks(hr_batch *b)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        PyObject *hook = hr_dict_get(u->live, "__reload_module__");
        if (hook == NULL && PyErr_Occurred()) {
            return -1;  /* not "no hook": the reload is undone */
        }
        if (hook == NULL || u->old_values == NULL) {
            continue;
        }
        Py_INCREF(hook);
        PyObject *result = PyObject_CallOneArg(hook, u->old_values);
        Py_DECREF(hook);
        if (result == NULL) {
            return hr_raise(b->state, u->name, NULL,
                            "its __reload_module__ hook raised; the reload was undone");
        }
        Py_DECREF(result);
    }
    return 0;
}

/* Calls a hook found on a class: a plain function gets `arg`; a bound
 * method (a classmethod) already has its first argument. */
static PyObject *
call_hook(PyObject *hook, PyObject *arg)
{
    if (PyMethod_Check(hook)) {
        return PyObject_CallNoArgs(hook);
    }
    return PyObject_CallOneArg(hook, arg);
}

static int
run_class_hooks(hr_batch *b)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(b->patched); i++) {
        PyObject *live = PyTuple_GET_ITEM(PyList_GET_ITEM(b->patched, i), 0);
        PyObject *hook = PyObject_GetAttrString(live, "__reload_class__");
        if (hook == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                return -1;  /* a MemoryError is not "no hook": the reload is undone */
            }
            PyErr_Clear();
            continue;
        }
        PyObject *result = call_hook(hook, live);
        Py_DECREF(hook);
        if (result == NULL) {
            assert(PyType_Check(live));  /* listed by hr_class_diff, which takes classes */
            return hook_failed(b, (PyTypeObject *)live, "__reload_class__");
        }
        Py_DECREF(result);
    }
    return 0;
}

/* Per hooked class met in the walk: its hook and how many instances got it.
 * Instances of different classes are interleaved on the heap, so the hook
 * is looked up once per class, not once per instance. */
typedef struct {
    PyTypeObject *type;
    PyObject *hook;     /* strong, or NULL when the class has none */
    Py_ssize_t count;
} hooked_class;

typedef struct {
    hooked_class *items;
    Py_ssize_t count, capacity;
} hooked_classes;

/* Borrowed: the entry of `type`, added on first sight. */
static hooked_class *
entry_of(hooked_classes *table, PyTypeObject *type)
{
    for (Py_ssize_t i = 0; i < table->count; i++) {
        if (table->items[i].type == type) {
            return &table->items[i];
        }
    }
    if (table->count == table->capacity) {
        hooked_class *items = hr_array_grow(table->items, sizeof(hooked_class), table->count + 1,
                                            &table->capacity, 16);
        if (items == NULL) {
            return NULL;
        }
        table->items = items;
    }
    hooked_class *entry = &table->items[table->count++];
    entry->type = type;
    entry->count = 0;
    entry->hook = PyObject_GetAttrString((PyObject *)type, "__reload_instance__");
    if (entry->hook == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            table->count--;  /* not "no hook": its instances would go unhooked */
            return NULL;
        }
        PyErr_Clear();
    }
    return entry;
}

/* Writes the counts into the report and releases the table. */
static int
flush_counts(hr_batch *b, hooked_classes *table)
{
    int status = 0;
    for (Py_ssize_t i = 0; i < table->count; i++) {
        hooked_class *entry = &table->items[i];
        if (status == 0 && entry->count > 0) {
            PyObject *name = class_name(entry->type);
            PyObject *count = name ? PyLong_FromSsize_t(entry->count) : NULL;
            status = count ? PyDict_SetItem(b->instances, name, count) : -1;
            Py_XDECREF(name);
            Py_XDECREF(count);
        }
        Py_XDECREF(entry->hook);
    }
    PyMem_Free(table->items);
    return status;
}

static int
run_instance_hooks(hr_batch *b, hr_heap_query *q)
{
    hooked_classes table = {NULL, 0, 0};
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(q->instances); i++) {
        PyObject *obj = PyList_GET_ITEM(q->instances, i);
        hooked_class *entry = entry_of(&table, Py_TYPE(obj));
        if (entry == NULL) {
            status = -1;
            break;
        }
        if (entry->hook == NULL) {
            continue;
        }
        PyObject *result = PyMethod_Check(entry->hook) ? PyObject_CallNoArgs(entry->hook)
                                                       : PyObject_CallOneArg(entry->hook, obj);
        if (result == NULL) {
            status = hook_failed(b, Py_TYPE(obj), "__reload_instance__");
            break;
        }
        Py_DECREF(result);
        entry->count++;
    }
    if (flush_counts(b, &table) < 0) {
        status = -1;
    }
    return status;
}

int
hr_hooks_run(hr_batch *b, hr_heap_query *q)
{
    if (run_module_hooks(b) < 0 || run_class_hooks(b) < 0) {
        return -1;
    }
    return q->instances ? run_instance_hooks(b, q) : 0;
}
