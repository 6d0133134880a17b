/* The collector around a reload (see compat.h): automatic collection paused,
 * and what existed set aside so that what the reload makes can be told
 * apart and collected alone. */
#include "hotreload.h"

int
hr_gc_pause(void)
{
#if HR_PY310
    return PyGC_Disable();
#else
    PyObject *gc = hr_import("gc");
    if (gc == NULL) {
        return -1;
    }
    int was_enabled = -1;
    PyObject *state = PyObject_CallMethod(gc, "isenabled", NULL);
    if (state != NULL) {
        was_enabled = PyObject_IsTrue(state);
        Py_DECREF(state);
        PyObject *res = PyObject_CallMethod(gc, "disable", NULL);
        if (res == NULL) {
            was_enabled = -1;
        }
        Py_XDECREF(res);
    }
    Py_DECREF(gc);
    return was_enabled;
#endif
}

void
hr_gc_resume(int was_enabled)
{
    if (was_enabled != 1) {
        return;
    }
#if HR_PY310
    PyGC_Enable();
#else
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *gc = hr_import("gc");
    if (gc != NULL) {
        PyObject *res = PyObject_CallMethod(gc, "enable", NULL);
        Py_XDECREF(res);
        Py_DECREF(gc);
    }
    /* A full clear: this runs on every exit path, with the caller's own
     * exception saved above to be restored; it has nowhere to report an
     * error of its own. */
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
#endif
}

/* ------------------------------------------------------------------------ */
/* Setting aside what exists                                                 */
/* ------------------------------------------------------------------------ */

/* CPython keeps every tracked object on a circular doubly linked list, one
 * per generation, through the PyGC_Head just before the object; a newly
 * tracked object goes at the tail of the youngest (_PyObject_GC_TRACK).
 * The heads live in the interpreter's collector state, struct
 * _gc_runtime_state (Include/internal/pycore_gc.h), laid out the same in
 * every version the engine builds for (3.9 to 3.13 with the GIL):
 *
 *     struct gc_generation generations[3];   head, threshold, count
 *     PyGC_Head *generation0;                 = &generations[0].head
 *     struct gc_generation permanent_generation;
 *     ...
 *
 * gc.freeze() would set the objects aside as well, but gc.unfreeze() also
 * releases what the program (or CPython 3.12 at start-up) froze itself,
 * and gc.get_freeze_count() counts its list one object at a time.  The
 * engine moves the generations' lists itself, as gc_list_merge() does;
 * nothing else of the collector's state is written. */

typedef struct {
    hr_gc_link head;
    int threshold;
    int count;
} gc_generation;

struct hr_gc_lists {
    gc_generation generations[HR_GC_GENERATIONS];
    hr_gc_link *generation0;
    gc_generation permanent;   /* gc.freeze()'s */
};

/* The low two bits of a link's prev are flags (_PyGC_PREV_MASK). */
#define PREV_FLAGS ((uintptr_t)3)

static hr_gc_link *
link_of(PyObject *obj)
{
    return (hr_gc_link *)obj - 1;
}

static hr_gc_link *
next_of(const hr_gc_link *link)
{
    return (hr_gc_link *)link->next;
}

static hr_gc_link *
prev_of(const hr_gc_link *link)
{
    return (hr_gc_link *)(link->prev & ~PREV_FLAGS);
}

static void
set_prev(hr_gc_link *link, hr_gc_link *prev)
{
    link->prev = (link->prev & PREV_FLAGS) | (uintptr_t)prev;
}

static void
list_init(hr_gc_link *head)
{
    head->next = head->prev = (uintptr_t)head;
}

/* Moves every object of the list `from` to the front of the list `to`,
 * keeping their order; `from` is left empty. */
static void
move_to_front(hr_gc_link *from, hr_gc_link *to)
{
    if (next_of(from) == from) {
        return;
    }
    hr_gc_link *first = next_of(from), *last = prev_of(from), *was_first = next_of(to);
    to->next = (uintptr_t)first;
    set_prev(first, to);
    last->next = (uintptr_t)was_first;
    set_prev(was_first, last);
    list_init(from);
}

/* The interpreter's generations, found from a probe object tracked last
 * (its next is the youngest generation's head) and checked: the head's
 * previous is the probe, and the state's generation0 points back at the
 * head.  NULL when the layout is not the one above, or on error (an
 * exception is set then). */
static struct hr_gc_lists *
find_lists(void)
{
    PyObject *probe = PyList_New(0);  /* tracked at the youngest generation's tail */
    if (probe == NULL) {
        return NULL;
    }
    hr_gc_link *link = link_of(probe);
    struct hr_gc_lists *lists = (struct hr_gc_lists *)next_of(link);
    int known = lists != NULL && prev_of(&lists->generations[0].head) == link
                && lists->generation0 == &lists->generations[0].head
                && next_of(prev_of(&lists->permanent.head)) == &lists->permanent.head;
    Py_DECREF(probe);
    return known ? lists : NULL;
}

static int
is_empty(const hr_gc_link *head)
{
    return next_of(head) == head;
}

int
hr_gc_set_aside(hr_gc_aside *aside)
{
    aside->lists = aside->known = find_lists();
    if (aside->lists == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    list_init(&aside->made);
    aside->kept = 0;
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        list_init(&aside->heads[i]);
        move_to_front(&aside->lists->generations[i].head, &aside->heads[i]);
    }
    aside->first = PyList_New(0);
    if (aside->first == NULL) {
        hr_gc_bring_back(aside);
        return -1;
    }
    return 1;
}

static int
append_to(PyObject *obj, void *list)
{
    return obj == list || PyList_Append((PyObject *)list, obj) == 0;
}

PyObject *
hr_gc_made_objects(hr_gc_aside *aside, int *complete)
{
    /* Objects are only ever added at the tail: the first stays first
     * unless the whole generation moved. */
    *complete = aside->lists != NULL && !aside->kept
                && next_of(&aside->lists->generations[0].head) == link_of(aside->first);
    if (!*complete) {
        hr_gc_bring_back(aside);
        PyObject *all = PyList_New(0);
        if (all == NULL || (hr_gc_visit_all(aside, append_to, all) && PyErr_Occurred())) {
            Py_XDECREF(all);
            return NULL;
        }
        /* Without the lists, gc.get_objects() lists all but the frozen. */
        if (aside->known == NULL) {
            Py_DECREF(all);
            PyObject *gc = hr_import("gc");
            all = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
            Py_XDECREF(gc);
        }
        return all;
    }
    PyObject *gc = hr_import("gc");
    PyObject *objects = gc ? PyObject_CallMethod(gc, "get_objects", "i", 0) : NULL;
    Py_XDECREF(gc);
    return objects;
}

/* Brings back what existed, keeping what was made apart. */
static void
bring_back_existing(hr_gc_aside *aside)
{
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        move_to_front(&aside->heads[i], &aside->lists->generations[i].head);
    }
}

void
hr_gc_keep_made(hr_gc_aside *aside)
{
    if (aside->lists == NULL || aside->kept) {
        return;
    }
    move_to_front(&aside->lists->generations[0].head, &aside->made);
    bring_back_existing(aside);
    aside->kept = 1;
}

/* Visits a list's objects; 0 once visit() asked to stop. */
static int
visit_list(hr_gc_link *head, int (*visit)(PyObject *, void *), void *arg)
{
    for (hr_gc_link *link = next_of(head); link != head; link = next_of(link)) {
        if (!visit((PyObject *)(link + 1), arg)) {
            return 0;
        }
    }
    return 1;
}

int
hr_gc_visit_all(hr_gc_aside *aside, int (*visit)(PyObject *, void *), void *arg)
{
    struct hr_gc_lists *lists = aside->known;
    if (lists == NULL) {
        return 0;
    }
    hr_gc_link *heads[2 * HR_GC_GENERATIONS + 2];
    int n = 0;
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        heads[n++] = &lists->generations[i].head;
    }
    heads[n++] = &lists->permanent.head;
    if (aside->lists != NULL) {
        for (int i = 0; i < HR_GC_GENERATIONS; i++) {
            heads[n++] = &aside->heads[i];
        }
        heads[n++] = &aside->made;
    }
    for (int i = 0; i < n && visit_list(heads[i], visit, arg); i++) {
    }
    return 1;
}

void
hr_gc_collect_made(hr_gc_aside *aside)
{
    hr_gc_keep_made(aside);
    if (aside->lists == NULL || is_empty(&aside->made)) {
        hr_gc_bring_back(aside);
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    /* The program's objects, including those tracked since the reload
     * kept its own apart, are set aside again; the youngest generation is
     * then what the reload made. */
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        move_to_front(&aside->lists->generations[i].head, &aside->heads[i]);
    }
    move_to_front(&aside->made, &aside->lists->generations[0].head);
    /* The collection is the reload's, not one of the program's: the counts
     * that schedule the program's collections stay as they were. */
    int counts[HR_GC_GENERATIONS];
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        counts[i] = aside->lists->generations[i].count;
    }
    hr_gc_collect_young();
    for (int i = 0; i < HR_GC_GENERATIONS; i++) {
        aside->lists->generations[i].count = counts[i];
    }
    hr_gc_bring_back(aside);
    PyErr_Restore(type, value, tb);
}

void
hr_gc_collect_young(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *gc = hr_import("gc");
    PyObject *done = gc ? PyObject_CallMethod(gc, "collect", "i", 0) : NULL;
    if (done == NULL) {
        PyErr_WriteUnraisable(NULL);
    }
    Py_XDECREF(done);
    Py_XDECREF(gc);
    PyErr_Restore(type, value, tb);
}

void
hr_gc_bring_back(hr_gc_aside *aside)
{
    if (aside->lists == NULL) {
        return;
    }
    bring_back_existing(aside);
    move_to_front(&aside->made, &aside->lists->generations[0].head);
    aside->lists = NULL;
    Py_CLEAR(aside->first);  /* an empty list: frees nothing else, runs no code */
}
