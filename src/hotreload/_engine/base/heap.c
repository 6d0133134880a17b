/* One pass over the interpreter's tracked objects, for the whole batch.
 *
 * Two things need the heap after a batch is prepared, and only then:
 *   - live closures: functions made at run time from code nested in a
 *     patched function (a factory's handlers, lambdas, methods of classes
 *     defined in functions) still hold the old nested code;
 *   - instance hooks: every live instance of a patched class that defines
 *     __reload_instance__ (or of its subclasses) gets it called once.
 * Both are answered by the same single walk, made only when one of them has
 * something to look for.  Membership tests use a pointer set, so the walk
 * costs a few nanoseconds per object and allocates nothing but its results.
 *
 * The walk follows the collector's lists itself (base/gc.c): every
 * generation, what the program froze (gc.freeze(): a game server's whole
 * start-up state) and what the reload keeps apart.  CPython's own walks,
 * PyUnstable_GC_VisitObjects (3.12+) and gc.get_objects() (which builds a
 * list of every object first), leave the frozen objects out; they are used
 * only if the lists are not laid out as the engine knows them. */
#include "hotreload.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* A set of pointers (open addressing, power-of-two table)                   */
/* ------------------------------------------------------------------------ */

int
hr_ptrset_add(hr_ptrset *set, const void *ptr)
{
    if ((set->count + 1) * 2 > set->capacity) {
        Py_ssize_t capacity = set->capacity ? set->capacity * 2 : 64;
        const void **slots = PyMem_Calloc(capacity, sizeof(void *));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < set->capacity; i++) {
            if (set->slots[i] != NULL) {
                size_t k = hr_address_slot(set->slots[i], capacity);
                while (slots[k] != NULL) {
                    k = (k + 1) & (capacity - 1);
                }
                slots[k] = set->slots[i];
            }
        }
        PyMem_Free(set->slots);
        set->slots = slots;
        set->capacity = capacity;
    }
    size_t k = hr_address_slot(ptr, set->capacity);
    while (set->slots[k] != NULL) {
        if (set->slots[k] == ptr) {
            return 0;
        }
        k = (k + 1) & (set->capacity - 1);
    }
    set->slots[k] = ptr;
    set->count++;
    return 0;
}

int
hr_ptrset_discard(hr_ptrset *set, const void *ptr)
{
    if (set->count == 0) {
        return 0;
    }
    size_t mask = set->capacity - 1;
    size_t i = hr_address_slot(ptr, set->capacity);
    while (set->slots[i] != ptr) {
        if (set->slots[i] == NULL) {
            return 0;
        }
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: each later entry of the run moves into the
     * hole unless its home slot lies cyclically after the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (set->slots[j] == NULL) {
            break;
        }
        size_t home = hr_address_slot(set->slots[j], set->capacity);
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            set->slots[i] = set->slots[j];
            i = j;
        }
    }
    set->slots[i] = NULL;
    set->count--;
    return 1;
}

void
hr_ptrset_clear(hr_ptrset *set)
{
    PyMem_Free(set->slots);
    memset(set, 0, sizeof(*set));
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    hr_heap_query *query;
    int failed;
} walk_state;

static int
is_twin(PyObject *obj, void *arg)
{
    return obj != NULL && hr_ptrset_has(&((hr_heap_query *)arg)->twins, obj);
}

/* 1 when obj refers to one of the query's twins; a class is asked about
 * its members (its traverse shows only its dict). */
static int
holds_twin(hr_heap_query *q, PyObject *obj)
{
    if (PyType_Check(obj)) {
        PyObject *dict = ((PyTypeObject *)obj)->tp_dict;
        PyObject *name, *value;
        Py_ssize_t pos = 0;
        while (dict != NULL && PyDict_Next(dict, &pos, &name, &value)) {
            if (hr_ptrset_has(&q->twins, value)) {
                return 1;
            }
        }
    }
    traverseproc traverse = Py_TYPE(obj)->tp_traverse;
    return traverse != NULL && traverse(obj, is_twin, q) != 0;
}

/* Returns 1 to go on, 0 to stop (an error is set). */
static int
visit(PyObject *obj, void *arg)
{
    walk_state *walk = (walk_state *)arg;
    hr_heap_query *q = walk->query;
    PyObject *into = NULL;
    if (PyFunction_Check(obj)) {
        if (!q->functions_known && hr_ptrset_has(&q->old_codes, PyFunction_GET_CODE(obj))) {
            into = q->functions;
        }
    }
    else if (hr_ptrset_has(&q->hooked_types, Py_TYPE(obj))) {
        into = q->instances;
    }
    if (into != NULL && PyList_Append(into, obj) < 0) {
        walk->failed = 1;
        return 0;
    }
    if (q->twins.count > 0 && !hr_ptrset_has(&q->young, obj) && holds_twin(q, obj)
        && PyList_Append(q->holders, obj) < 0) {
        walk->failed = 1;
        return 0;
    }
    return 1;
}

int
hr_heap_walk(hr_heap_query *query, hr_gc_aside *lists)
{
    walk_state walk = {query, 0};
    query->walked_all = 0;
    if ((query->old_codes.count == 0 || query->functions_known)
        && query->hooked_types.count == 0 && query->twins.count == 0) {
        return 0;
    }
    if (hr_gc_visit_all(lists, visit, &walk)) {
        query->walked_all = !walk.failed;
        return walk.failed ? -1 : 0;
    }
    /* The collector's lists unknown: the interpreter's own walks, which
     * leave out the objects the program froze. */
#if HR_PY312
    PyUnstable_GC_VisitObjects(visit, &walk);
    return walk.failed ? -1 : 0;
#else
    PyObject *gc = hr_import("gc");
    PyObject *objects = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    Py_XDECREF(gc);
    if (objects == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objects) && !walk.failed; i++) {
        visit(PyList_GET_ITEM(objects, i), &walk);
    }
    Py_DECREF(objects);
    return walk.failed ? -1 : 0;
#endif
}
