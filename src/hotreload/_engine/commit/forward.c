/* Throw-away twins forwarded to the live objects they stand for.
 *
 * While the new code runs, a changed class or function exists twice: the
 * live object, which keeps its identity, and the new one the run made, its
 * twin, which the commit pours into the live one and then drops (the
 * identity map says which twin stands for which live object).  The run can
 * hand a twin to anything: a table it builds (`HANDLERS = [handler]`, a
 * dict keyed by enum members), a registry that __init_subclass__, a
 * metaclass or a decorator fills.  After the commit no reference may point
 * at a twin, or the program would hold a class or function that is not the
 * one the module names:
 *
 *   - what the run made (the youngest GC generation: collection is paused
 *     while a reload runs) is rewritten before the commit: nothing live can
 *     see those objects yet;
 *   - a live container the run wrote to (a registry kept across reloads) is
 *     rewritten at the commit, through the journal.
 *
 * A twin held by something live is found without a walk of the heap: the
 * references the young objects and the engine hold to it are counted, and
 * only a twin with more references than that has escaped; only then does
 * the one heap walk look for what holds it.  A list that already holds the
 * live object drops the twin instead (a registration repeated by the re-run
 * class statement: a fresh import registers the class once).
 *
 * Rewritten: lists, dicts (values; keys of exact dicts), sets, cells and
 * the __dict__ of objects.  Not rewritten: tuples and other objects that
 * cannot change once made; such an object holding a twin was made by the
 * reload, so it is new data of the module (`PAIRS = ((Config, 1),)` holds
 * the throw-away class), a known limit the README states.  A live object
 * holding a twin outside its __dict__ refuses the reload. */
#include "hotreload.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* The twins, sorted by address for counting                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject **items;     /* borrowed from the identity map */
    Py_ssize_t *counts;   /* references found, per twin */
    Py_ssize_t count;
} twins;

static int
by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(PyObject *const *)a, y = (uintptr_t)*(PyObject *const *)b;
    return x < y ? -1 : x > y;
}

static int
twins_read(const hr_identity *map, twins *out)
{
    memset(out, 0, sizeof(*out));
    if (map->count == 0) {
        return 0;
    }
    out->items = PyMem_Calloc(map->count, sizeof(PyObject *));
    out->counts = PyMem_Calloc(map->count, sizeof(Py_ssize_t));
    if (out->items == NULL || out->counts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < map->capacity; i++) {
        const hr_identity_entry *entry = &map->slots[i];
        if (entry->fresh != NULL && entry->fresh != entry->live) {
            out->items[out->count++] = entry->fresh;
        }
    }
    qsort(out->items, out->count, sizeof(PyObject *), by_address);
    return 0;
}

static void
twins_clear(twins *t)
{
    PyMem_Free(t->items);
    PyMem_Free(t->counts);
    memset(t, 0, sizeof(*t));
}

/* Index of `obj` among the twins, or -1. */
static Py_ssize_t
twin_index(const twins *t, PyObject *obj)
{
    /* Most references counted are to live objects, outside the span of
     * the few twins' addresses. */
    if (t->count == 0 || (uintptr_t)obj < (uintptr_t)t->items[0]
        || (uintptr_t)obj > (uintptr_t)t->items[t->count - 1]) {
        return -1;
    }
    Py_ssize_t lo = 0, hi = t->count;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if ((uintptr_t)t->items[mid] < (uintptr_t)obj) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < t->count && t->items[lo] == obj ? lo : -1;
}

typedef struct {
    const twins *twins;
    PyObject *besides;   /* a reference not to count (the holder's type) */
} listed_twin_search;

/* Visits a reference of a young object: 1 (stop) at a twin. */
static int
found_listed_twin(PyObject *obj, void *arg)
{
    listed_twin_search *search = (listed_twin_search *)arg;
    return obj != NULL && obj != search->besides && twin_index(search->twins, obj) >= 0;
}

static int
count_reference(PyObject *obj, void *arg)
{
    twins *t = (twins *)arg;
    Py_ssize_t k = obj != NULL ? twin_index(t, obj) : -1;
    if (k >= 0) {
        t->counts[k]++;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rewriting one holder                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const hr_identity *identity;
    PyObject *besides;   /* a reference not to count (the holder's type), or NULL */
} twin_search;

static int
found_twin(PyObject *obj, void *arg)
{
    twin_search *search = (twin_search *)arg;
    return obj != NULL && obj != search->besides
           && hr_identity_get(search->identity, obj) != obj;
}

/* 1 when `holder` refers to a twin (through tp_traverse), other than
 * through `besides`; else 0. */
static int
holds_twin(PyObject *holder, const hr_identity *identity, PyObject *besides)
{
    twin_search search = {identity, besides};
    traverseproc traverse = Py_TYPE(holder)->tp_traverse;
    return traverse != NULL && traverse(holder, found_twin, &search) != 0;
}

/* New reference: the list's items with twins replaced by live objects;
 * with `dedup`, a twin whose live object the list holds already is
 * dropped. */
static PyObject *
forwarded_items(PyObject *list, const hr_identity *identity, int dedup)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    PyObject *items = PyList_New(0);
    for (Py_ssize_t i = 0; items != NULL && i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        PyObject *live = hr_identity_get(identity, item);
        int held = 0;
        for (Py_ssize_t j = 0; dedup && live != item && j < n && !held; j++) {
            held = PyList_GET_ITEM(list, j) == live;
        }
        if (!held && PyList_Append(items, live) < 0) {
            Py_CLEAR(items);
        }
    }
    return items;
}

/* The dict's twin values and keys replaced, each write through `journal`
 * when there is one.  Keys move only in exact dicts (an OrderedDict keeps
 * an order of its own); a twin key elsewhere refuses. */
static int
forward_dict(PyObject *dict, const hr_identity *identity, hr_journal *journal)
{
    PyObject *changes = PyList_New(0);  /* (old key, new key, value) */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int status = changes ? 0 : -1;
    while (status == 0 && PyDict_Next(dict, &pos, &key, &value)) {
        PyObject *live_key = hr_identity_get(identity, key);
        PyObject *live_value = hr_identity_get(identity, value);
        if (live_key == key && live_value == value) {
            continue;
        }
        if (live_key != key && !PyDict_CheckExact(dict)) {
            PyErr_Format(PyExc_TypeError, "a %.100s holds the new object as a key",
                         Py_TYPE(dict)->tp_name);
            status = -1;
            break;
        }
        PyObject *change = PyTuple_Pack(3, key, live_key, live_value);
        status = change ? PyList_Append(changes, change) : -1;
        Py_XDECREF(change);
    }
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(changes); i++) {
        PyObject *change = PyList_GET_ITEM(changes, i);
        PyObject *old_key = PyTuple_GET_ITEM(change, 0), *new_key = PyTuple_GET_ITEM(change, 1);
        PyObject *new_value = PyTuple_GET_ITEM(change, 2);
        if (old_key != new_key) {
            status = journal ? hr_journal_dict_set(journal, dict, old_key, NULL)
                             : PyDict_DelItem(dict, old_key);
        }
        if (status == 0) {
            status = journal ? hr_journal_dict_set(journal, dict, new_key, new_value)
                             : PyDict_SetItem(dict, new_key, new_value);
        }
    }
    Py_XDECREF(changes);
    return status;
}

/* The set's twins replaced by their live objects. */
static int
forward_set(PyObject *set, const hr_identity *identity, hr_journal *journal)
{
    PyObject *found = PyList_New(0);
    PyObject *iterator = found ? PyObject_GetIter(set) : NULL;
    PyObject *item;
    int status = iterator ? 0 : -1;
    while (status == 0 && iterator && (item = PyIter_Next(iterator)) != NULL) {
        if (hr_identity_get(identity, item) != item) {
            status = PyList_Append(found, item);
        }
        Py_DECREF(item);
    }
    if (status == 0 && PyErr_Occurred()) {
        status = -1;
    }
    Py_XDECREF(iterator);
    if (status == 0 && PyList_GET_SIZE(found) > 0 && journal != NULL) {
        status = hr_journal_save_contents(journal, set);
    }
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(found); i++) {
        PyObject *twin = PyList_GET_ITEM(found, i);
        status = PySet_Discard(set, twin) < 0 ? -1
                 : PySet_Add(set, hr_identity_get(identity, twin));
    }
    Py_XDECREF(found);
    return status;
}

/* Rewrites one holder of twins: a list, dict, set, cell or an object with
 * a __dict__.  `live`: the holder existed before the reload (a list drops a
 * repeated registration); `journal`: where each write is saved, or NULL to
 * write directly (a new holder, or a live one after a refusal).  -1 with
 * TypeError for a holder of any other kind. */
static int
forward_holder(PyObject *holder, const hr_identity *identity, hr_journal *journal, int live)
{
    if (PyList_Check(holder)) {
        PyObject *items = forwarded_items(holder, identity, live);
        int status = items ? 0 : -1;
        if (status == 0 && journal != NULL) {
            status = hr_journal_save_contents(journal, holder);
        }
        if (status == 0) {
            status = PyList_SetSlice(holder, 0, PyList_GET_SIZE(holder), items);
        }
        Py_XDECREF(items);
        return status;
    }
    if (PyDict_Check(holder)) {
        return forward_dict(holder, identity, journal);
    }
    if (PyAnySet_CheckExact(holder) && PySet_Check(holder)) {
        return forward_set(holder, identity, journal);
    }
    if (PyCell_Check(holder)) {
        PyObject *content = PyCell_GET(holder);
        PyObject *live = hr_identity_get(identity, content);
        if (live == content) {
            return 0;
        }
        return journal ? hr_journal_cell_set(journal, holder, live) : PyCell_Set(holder, live);
    }
    if (Py_TYPE(holder)->tp_dictoffset != 0 && !PyType_Check(holder)) {
        PyObject *dict = PyObject_GenericGetDict(holder, NULL);
        int status = dict ? forward_dict(dict, identity, journal) : -1;
        Py_XDECREF(dict);
        /* Through the dict, unless a live instance of a Python class holds
         * the twin elsewhere (as its class, in a slot).  An instance the run
         * made may keep a throw-away class whose layout the live one does
         * not share; the other fields of a C object (a classmethod's
         * function) do not change once made, like a tuple's items. */
        if (status == 0 && live && (Py_TYPE(holder)->tp_flags & Py_TPFLAGS_HEAPTYPE)
            && holds_twin(holder, identity, NULL)) {
            PyErr_Format(PyExc_TypeError, "a %.100s object holds the new object outside "
                         "its __dict__", Py_TYPE(holder)->tp_name);
            return -1;
        }
        return status;
    }
    PyErr_Format(PyExc_TypeError, "a %.100s object holds the new object and cannot be "
                 "rewritten", Py_TYPE(holder)->tp_name);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Before the commit: what the run made                                     */
/* ------------------------------------------------------------------------ */

/* Kinds whose references the young pass rewrites.  Others (functions,
 * classes, tuples, code) are either handled by the commit (adoption,
 * bases, cells) or immutable. */
static int
rewritable_young(PyObject *obj)
{
    return PyList_Check(obj) || PyDict_Check(obj) || (PySet_Check(obj) && PyAnySet_CheckExact(obj))
           || PyCell_Check(obj)
           || (!PyType_Check(obj) && !PyFunction_Check(obj) && !PyTuple_Check(obj)
               && Py_TYPE(obj)->tp_dictoffset != 0
               && (Py_TYPE(obj)->tp_flags & Py_TPFLAGS_HEAPTYPE));
}

/* A weak reference the run made to a twin, with a callback (the one an
 * ABC's register() keeps in its registry, a WeakSet's), would die with the
 * twin and take the registration with it: it gets a twin of its own, a
 * reference to the live object with the same callback, which the
 * forwarding puts in its place.  Weak references without a callback (a
 * class's entry in its bases' __subclasses__()) are the twin's own and die
 * with it. */
static int
weak_twins(hr_batch *b, PyObject *young)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(young); i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        if (!PyWeakref_CheckRefExact(obj)) {
            continue;
        }
        PyWeakReference *ref = (PyWeakReference *)obj;
        PyObject *live = hr_identity_get(&b->identity, ref->wr_object);
        if (ref->wr_callback == NULL || live == ref->wr_object) {
            continue;
        }
        PyObject *twin = PyWeakref_NewRef(live, ref->wr_callback);
        int status = twin ? hr_identity_add(&b->identity, obj, twin) : -1;
        Py_XDECREF(twin);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

int
hr_forward_young(hr_batch *b, PyObject *young, int complete, hr_heap_query *query)
{
    twins t;
    memset(&t, 0, sizeof(t));  /* cleared at done:, which a failure before twins_read reaches */
    /* What the engine works on and must keep as it is: the scratch
     * namespaces (the diff read them; their functions are adopted at the
     * commit) and the dicts of the classes the run made (the diff read
     * them; a twin class is dropped whole). */
    hr_ptrset engine_owned;
    memset(&engine_owned, 0, sizeof(engine_owned));
    int status = -1;
    if ((complete && weak_twins(b, young) < 0)
        || twins_read(&b->identity, &t) < 0) {
        goto done;
    }
    if (t.count == 0) {
        status = 0;
        goto done;
    }
    if (!complete) {
        /* A collection ran while the new code ran (user code may call
         * gc.collect()): the young generation is not all it made, so every
         * holder is treated as live, found by the walk and journaled. */
        for (Py_ssize_t k = 0; k < t.count; k++) {
            if (hr_ptrset_add(&query->twins, t.items[k]) < 0) {
                goto done;
            }
        }
        status = 0;
        goto done;
    }
    for (Py_ssize_t k = 0; k < b->count; k++) {
        if (b->units[k].scratch != NULL && hr_ptrset_add(&engine_owned, b->units[k].scratch) < 0) {
            goto done;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(young);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        if (hr_ptrset_add(&query->young, obj) < 0
            || (PyType_Check(obj)
                && hr_ptrset_add(&engine_owned, ((PyTypeObject *)obj)->tp_dict) < 0)) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        listed_twin_search search = {&t, (PyObject *)Py_TYPE(obj)};
        traverseproc traverse = Py_TYPE(obj)->tp_traverse;
        if (rewritable_young(obj) && !hr_ptrset_has(&engine_owned, obj) && traverse != NULL
            && traverse(obj, found_listed_twin, &search) != 0
            && forward_holder(obj, &b->identity, NULL, 0) < 0) {
            goto done;
        }
    }
    /* What holds each twin now: the young objects, the young list, the
     * identity map's key and the planned writes.  A reference more is
     * held by something live. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        traverseproc traverse = Py_TYPE(obj)->tp_traverse;
        if (traverse != NULL && PyObject_IS_GC(obj)) {
            traverse(obj, count_reference, &t);
        }
        count_reference(obj, &t);  /* the young list's own reference */
    }
    for (Py_ssize_t i = 0; i < b->actions.count; i++) {
        const hr_action *action = &b->actions.items[i];
        count_reference(action->target, &t);
        count_reference(action->key, &t);
        count_reference(action->value, &t);
    }
    for (Py_ssize_t k = 0; k < t.count; k++) {
        t.counts[k]++;  /* the identity map's key */
        if (Py_REFCNT(t.items[k]) > t.counts[k]
            && hr_ptrset_add(&query->twins, t.items[k]) < 0) {
            goto done;
        }
    }
    status = 0;
done:
    twins_clear(&t);
    hr_ptrset_clear(&engine_owned);
    return status;
}

/* ------------------------------------------------------------------------ */
/* At the commit: live holders                                              */
/* ------------------------------------------------------------------------ */

int
hr_forward_plan(hr_batch *b, hr_heap_query *query)
{
    /* A class holding a twin as a member takes the live object through
     * type.__setattr__ (its dict is skipped below). */
    hr_ptrset class_dicts;
    memset(&class_dicts, 0, sizeof(class_dicts));
    int status = 0;
    Py_ssize_t n = query->holders ? PyList_GET_SIZE(query->holders) : 0;
    for (Py_ssize_t i = 0; status == 0 && i < n; i++) {
        PyObject *holder = PyList_GET_ITEM(query->holders, i);
        if (!PyType_Check(holder)) {
            continue;
        }
        PyObject *dict = ((PyTypeObject *)holder)->tp_dict;
        status = hr_ptrset_add(&class_dicts, dict);
        PyObject *name, *value;
        Py_ssize_t pos = 0;
        while (status == 0 && PyDict_Next(dict, &pos, &name, &value)) {
            PyObject *live = hr_identity_get(&b->identity, value);
            if (live != value && PyUnicode_Check(name)) {
                status = hr_plan_type_set(&b->actions, holder, name, live);
            }
        }
    }
    for (Py_ssize_t i = 0; status == 0 && i < n; i++) {
        PyObject *holder = PyList_GET_ITEM(query->holders, i);
        if (PyType_Check(holder) || hr_ptrset_has(&class_dicts, holder)) {
            continue;
        }
        /* An object that cannot change after it is made (a tuple: the MRO
         * of a twin class, a bound method) and holds a twin was made after
         * the twin, by the reload or by another thread meanwhile, at the
         * address of an object freed since the reload began.  What holds
         * it is a holder in its own right. */
        if (hr_forward_check(holder) < 0) {
            continue;
        }
        status = hr_plan_forward(&b->actions, holder);
    }
    hr_ptrset_clear(&class_dicts);
    return status;
}

int
hr_forward_live(hr_journal *journal, PyObject *holder, const hr_identity *identity)
{
    return forward_holder(holder, identity, journal, 1);
}

void
hr_forward_release(hr_batch *b)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t i = 0; i < b->actions.count; i++) {
        const hr_action *action = &b->actions.items[i];
        if (action->kind == HR_ACT_FORWARD
            && forward_holder(action->target, &b->identity, NULL, 1) < 0) {
            PyErr_WriteUnraisable(action->target);
        }
    }
    PyErr_Restore(type, value, tb);
}
