/* Differences between the supported CPython versions (3.9 to 3.13), as named
 * flags and small helpers.  Engine files test these flags, never
 * PY_VERSION_HEX, so every version quirk is visible in this one file. */
#ifndef HR_COMPAT_H
#define HR_COMPAT_H

#include <Python.h>

/* The engine writes into CPython's objects and knows their layouts only for
 * the versions it was tested on.  On another one it would build and then
 * misbehave; it refuses to build instead. */
#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x030E0000
#  error "hotreload supports CPython 3.9 to 3.13 with the GIL: this interpreter's object layouts are unknown to the engine"
#endif
#ifdef Py_GIL_DISABLED
#  error "hotreload supports CPython 3.9 to 3.13 with the GIL: a free-threaded build is not supported"
#endif

/* 3.10: Py_NewRef, PyGC_Enable/Disable, function objects carry func_builtins. */
#define HR_PY310 (PY_VERSION_HEX >= 0x030A0000)
/* 3.11: specialised calls cache a function version that must be cleared
 * whenever code, defaults or closure change. */
#define HR_PY311 (PY_VERSION_HEX >= 0x030B0000)
/* 3.12: PEP 695 type parameters on functions; function watchers. */
#define HR_PY312 (PY_VERSION_HEX >= 0x030C0000)
/* 3.13: the function version also indexes an interpreter-wide cache, so it
 * may only be cleared through CPython's own setters. */
#define HR_PY313 (PY_VERSION_HEX >= 0x030D0000)

#if !HR_PY310
static inline PyObject *
hr_compat_newref(PyObject *obj)
{
    Py_INCREF(obj);
    return obj;
}
static inline PyObject *
hr_compat_xnewref(PyObject *obj)
{
    Py_XINCREF(obj);
    return obj;
}
#  define Py_NewRef(obj) hr_compat_newref((PyObject *)(obj))
#  define Py_XNewRef(obj) hr_compat_xnewref((PyObject *)(obj))
#  define Py_IsNone(obj) ((obj) == Py_None)
#  define PySet_CheckExact(obj) (Py_TYPE(obj) == &PySet_Type)
#endif

/* New reference: the names of the free variables of `code`, a code object
 * (a field before 3.11, a tuple made on request since; what reading
 * co_freevars returns, without looking the attribute up). */
#if HR_PY311
#  define hr_code_freevars(code) PyCode_GetFreevars((PyCodeObject *)(code))
#else
#  define hr_code_freevars(code) Py_NewRef(((PyCodeObject *)(code))->co_freevars)
#endif

/* Starts loading the memory at `p` into the cache, without waiting for it.
 * The passes over a program's live closures (thousands, scattered over its
 * heap, each read a cache miss) ask for the one HR_AHEAD places further
 * on, so that the misses overlap instead of following one another. */
#if defined(__GNUC__) || defined(__clang__)
#  define hr_prefetch(p) __builtin_prefetch(p)
#else
#  define hr_prefetch(p) ((void)(p))
#endif
#define HR_AHEAD 8

/* Number of free variables of a code object (a field only since 3.11). */
#if HR_PY311
#  define HR_CODE_NFREEVARS(code) ((Py_ssize_t)(code)->co_nfreevars)
#else
#  define HR_CODE_NFREEVARS(code) PyTuple_GET_SIZE((code)->co_freevars)
#endif

/* Borrowed: dict[key] for a C string key, or NULL: absent (no exception
 * set) or an error (an exception set).  PyDict_GetItemString, which the
 * engine does not use, reports a MemoryError as "absent". */
static inline PyObject *
hr_dict_get(PyObject *dict, const char *key)
{
    PyObject *name = PyUnicode_FromString(key);
    if (name == NULL) {
        return NULL;
    }
    PyObject *value = PyDict_GetItemWithError(dict, name);
    Py_DECREF(name);
    return value;
}

/* New reference: the module `name` from sys.modules, or imported when it
 * is not there yet (NULL with an exception set on error).  For the modules
 * a reload calls into every time (gc, abc, functools, _ast), whose import
 * is long over: PyImport_ImportModule goes through __import__ and the
 * module spec's checks on each call. */
static inline PyObject *
hr_import(const char *name)
{
    PyObject *key = PyUnicode_FromString(name);
    if (key == NULL) {
        return NULL;
    }
    PyObject *module = PyImport_GetModule(key);
    Py_DECREF(key);
    if (module != NULL || PyErr_Occurred()) {
        return module;
    }
    return PyImport_ImportModule(name);
}

/* New reference: a list of `n` Nones for the engine's own per-statement
 * tables, untracked by the collector: they hold no cycle, and the pass
 * over every container a reload made (commit/forward.c) need not read
 * thousands of their entries for a one-body edit of a large module. */
static inline PyObject *
hr_table_of_none(Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyList_SET_ITEM(list, i, Py_NewRef(Py_None));
    }
    PyObject_GC_UnTrack(list);
    return list;
}

/* 1 when obj has the attribute, 0 when not, -1 on any other error
 * (PyObject_HasAttrString, which the engine does not use, answers 0 for a
 * MemoryError too; 3.13's PyObject_HasAttrStringWithError does this). */
static inline int
hr_has_attr(PyObject *obj, const char *name)
{
    PyObject *value = PyObject_GetAttrString(obj, name);
    if (value != NULL) {
        Py_DECREF(value);
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

/* 1 when an item of the iterable `items` is in `set`, 0 when none is, -1
 * with an exception set; no set is made. */
static inline int
hr_any_in(PyObject *items, PyObject *set)
{
    if (PyTuple_CheckExact(items)) {
        int found = 0;
        for (Py_ssize_t i = 0; found == 0 && i < PyTuple_GET_SIZE(items); i++) {
            found = PySet_Contains(set, PyTuple_GET_ITEM(items, i));
        }
        return found;
    }
    PyObject *iterator = PyObject_GetIter(items);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *item;
    int found = 0;
    while (found == 0 && (item = PyIter_Next(iterator)) != NULL) {
        found = PySet_Contains(set, item);
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    return found == 0 && PyErr_Occurred() ? -1 : found;
}

/* Adds every item of an iterable to a set (_PySet_Update left the public
 * API in 3.13).  0 or -1 with an exception set. */
static inline int
hr_set_update(PyObject *set, PyObject *iterable)
{
    PyObject *iterator = PyObject_GetIter(iterable);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *item;
    int status = 0;
    while (status == 0 && (item = PyIter_Next(iterator)) != NULL) {
        status = PySet_Add(set, item);
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    return status == 0 && PyErr_Occurred() ? -1 : status;
}

/* Removes from a set every item of another.  0 or -1 with an exception set. */
static inline int
hr_set_difference_update(PyObject *set, PyObject *other)
{
    PyObject *iterator = PyObject_GetIter(other);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *item;
    int status = 0;
    while (status == 0 && (item = PyIter_Next(iterator)) != NULL) {
        status = PySet_Discard(set, item) < 0 ? -1 : 0;
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    return status == 0 && PyErr_Occurred() ? -1 : status;
}

/* New reference: the direct subclasses of a class, as a list.  Called as
 * type.__subclasses__(cls): for a metaclass, cls.__subclasses__ would find
 * type's own unbound method first. */
static inline PyObject *
hr_subclasses(PyObject *cls)
{
    return PyObject_CallMethod((PyObject *)&PyType_Type, "__subclasses__", "O", cls);
}

/* Automatic garbage collection, paused while a reload runs so that every
 * object it creates stays in the youngest generation.  Returns the previous
 * state (1 enabled, 0 disabled) or -1 with an exception set. */
int hr_gc_pause(void);
/* Restores the state returned by hr_gc_pause. */
void hr_gc_resume(int was_enabled);
/* The collector's lists of tracked objects, one per generation, as CPython
 * 3.9 to 3.13 lay them out (base/gc.c). */
#define HR_GC_GENERATIONS 3
typedef struct hr_gc_link {
    uintptr_t next;
    uintptr_t prev;
} hr_gc_link;
/* What existed before a reload, set aside: the objects of each generation,
 * moved (a list splice, not a scan) to lists of the reload's own, so that
 * the youngest generation then holds exactly what the reload makes,
 * however long the program went without a collection and whatever it
 * froze.  Then what the reload made is kept apart the same way, for one
 * collection of it alone at the end.  Must not move while in use: the
 * lists' ends point at it. */
typedef struct {
    hr_gc_link heads[HR_GC_GENERATIONS];  /* what existed, per generation */
    hr_gc_link made;                      /* what the reload made */
    int kept;                             /* made is apart, what existed is back */
    PyObject *first;                      /* tracked first once set aside: while
                                             it leads the youngest generation,
                                             that holds all the reload made */
    struct hr_gc_lists *lists;   /* the interpreter's, while anything is apart */
    struct hr_gc_lists *known;   /* the interpreter's, once found */
} hr_gc_aside;
/* 1 when every tracked object is set aside, 0 when the collector's lists
 * are not laid out as the engine knows them (nothing is done: the caller
 * must then take every object as possibly made by the reload), -1 on
 * error. */
int hr_gc_set_aside(hr_gc_aside *aside);
/* New reference: a list of what the reload made since hr_gc_set_aside(),
 * *complete = 1; or when that cannot be told (nothing set aside, or a
 * collection or gc.freeze() during the run moved it), every tracked object
 * (frozen ones too), with what was set aside brought back, and
 * *complete = 0. */
PyObject *hr_gc_made_objects(hr_gc_aside *aside, int *complete);
/* Keeps what the reload made (the youngest generation) apart and brings
 * back what existed: the program sees its objects again (gc.get_objects(),
 * a collection) while the reload's own wait for hr_gc_collect_made(). */
void hr_gc_keep_made(hr_gc_aside *aside);
/* Calls visit(object, arg) on every tracked object, until it returns 0:
 * each generation's, the frozen ones (which gc.get_objects() and
 * PyUnstable_GC_VisitObjects() leave out) and those set aside or kept
 * apart.  visit() must track no object and free none.  Returns 0 when the
 * collector's lists are unknown (nothing visited). */
int hr_gc_visit_all(hr_gc_aside *aside, int (*visit)(PyObject *, void *), void *arg);
/* Collects the garbage among what the reload made, and only it: the other
 * objects are set aside meanwhile.  Keeps a pending exception. */
void hr_gc_collect_made(hr_gc_aside *aside);
/* Collects the youngest generation, as gc.collect(0); a failure is
 * reported as unraisable.  Keeps a pending exception. */
void hr_gc_collect_young(void);
/* Puts every object kept apart back in its generation, before the objects
 * tracked since, as they were; allocates nothing, runs no code.  Does
 * nothing when nothing is apart. */
void hr_gc_bring_back(hr_gc_aside *aside);
/* 1 while objects are set aside or kept apart. */
static inline int
hr_gc_is_aside(const hr_gc_aside *aside)
{
    return aside->lists != NULL;
}

#endif /* HR_COMPAT_H */
