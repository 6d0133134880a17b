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

/* Adds `type` and all its subclasses, in any module, to the set. */
static int
add_with_subclasses(hr_ptrset *types, PyObject *type, int depth)
{
    if (hr_ptrset_add(types, type) < 0) {
        return -1;
    }
    if (depth > 64) {
        return 0;
    }
    PyObject *subclasses = PyObject_CallMethod(type, "__subclasses__", NULL);
    if (subclasses == NULL) {
        return -1;
    }
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(subclasses); i++) {
        status = add_with_subclasses(types, PyList_GET_ITEM(subclasses, i), depth + 1);
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
        int has = PyObject_HasAttrString(live, "__reload_instance__")
                  || PyObject_HasAttrString(fresh, "__reload_instance__");
        if (has && add_with_subclasses(&q->hooked_types, live, 0) < 0) {
            return -1;
        }
    }
    return 0;
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
count_instance(hr_batch *b, PyTypeObject *type)
{
    PyObject *name = class_name(type);
    if (name == NULL) {
        return -1;
    }
    PyObject *count = PyDict_GetItemWithError(b->instances, name);
    PyObject *next = PyLong_FromLong(count ? PyLong_AsLong(count) + 1 : 1);
    int status = next ? PyDict_SetItem(b->instances, name, next) : -1;
    Py_XDECREF(next);
    Py_DECREF(name);
    return status;
}

static int
run_module_hooks(hr_batch *b)
{
    for (Py_ssize_t i = 0; i < b->count; i++) {
        hr_unit *u = &b->units[i];
        PyObject *hook = PyDict_GetItemString(u->live, "__reload_module__");
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
            PyErr_Clear();
            continue;
        }
        PyObject *result = call_hook(hook, live);
        Py_DECREF(hook);
        if (result == NULL) {
            PyObject *name = class_name((PyTypeObject *)live);
            hr_raise(b->state, NULL, name, "its __reload_class__ hook raised; the reload was undone");
            Py_XDECREF(name);
            return -1;
        }
        Py_DECREF(result);
    }
    return 0;
}

static int
run_instance_hooks(hr_batch *b, hr_heap_query *q)
{
    PyTypeObject *last_type = NULL;
    PyObject *hook = NULL;
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(q->instances); i++) {
        PyObject *obj = PyList_GET_ITEM(q->instances, i);
        if (Py_TYPE(obj) != last_type) {
            /* Instances of one class tend to sit together: look up once. */
            Py_CLEAR(hook);
            last_type = Py_TYPE(obj);
            hook = PyObject_GetAttrString((PyObject *)last_type, "__reload_instance__");
            if (hook == NULL) {
                PyErr_Clear();
            }
        }
        if (hook == NULL) {
            continue;
        }
        PyObject *result = PyMethod_Check(hook) ? PyObject_CallNoArgs(hook)
                                                : PyObject_CallOneArg(hook, obj);
        if (result == NULL) {
            PyObject *name = class_name(Py_TYPE(obj));
            hr_raise(b->state, NULL, name,
                     "its __reload_instance__ hook raised; the reload was undone");
            Py_XDECREF(name);
            status = -1;
            break;
        }
        Py_DECREF(result);
        status = count_instance(b, Py_TYPE(obj));
    }
    Py_XDECREF(hook);
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
