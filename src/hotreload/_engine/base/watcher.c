/* The live closures of watched code, known without a walk of the heap.
 *
 * A reload that patches a function must also give its nested code to the
 * closures made from it at run time (run/closures.c); finding them took a
 * walk of every tracked object, about 10 ns each with the lock held: 30 ms
 * at 3M objects for a one-line edit of a factory.
 *
 * On 3.12+ CPython calls a function watcher when a function is made, when
 * its __code__ is set and when it is freed.  Once a nested code object is
 * watched, every function made from it is noted in notes.live_closures
 * (its address, no reference) and forgotten when freed, so a reload whose
 * old nested code is all watched reads its live closures from there.  Code
 * becomes watched in two ways:
 *
 *   - after a walk that looked for its functions (every tracked object
 *     seen, frozen ones too): those it found are all there are;
 *   - new nested code a reload pours into live closures, with the
 *     functions the new code already made while the reload ran (what the
 *     reload made is known exactly then).
 *
 * So the first reload of a function with closures walks the heap once; the
 * next ones do not.  A code watcher forgets a watched code object when it
 * is freed: no function holds it then, and the notes do not grow with the
 * reloads of a long session.  (Without a code watcher slot, the addresses
 * stay: a code object made at a freed one's address is watched from its
 * birth, which the rule allows.)  A failed allocation in the watcher
 * forgets every watched code (the next reloads walk again).
 *
 * The callbacks run for every function the program makes and frees, so
 * the common case, a loop making and freeing closures of one code that is
 * not watched, is one compare each way: that code is remembered when first
 * seen, and as noted functions hold watched code, one freed holding it was
 * never noted.  A noted function that takes other code through __code__
 * ends that shortcut for frees (until the notes are given up); the engine
 * tells the watcher of the code writes CPython's watchers miss.
 *
 * Only the main interpreter is watched (a watcher callback is told nothing
 * of its interpreter's module state); sub-interpreters walk.  The cost to
 * the running program is one call per function made and freed, and one
 * per code object made and freed: measured in bench/bench_scale.py.  It
 * starts with the first reload that watches code (a reload of a function
 * with closures): a program that never has one pays nothing.  Added then,
 * with the lock held, the watchers see every function made after the code
 * is watched, which is all the rule above asks. */
#include "hotreload.h"

/* Forgets every watched code: the notes are no longer complete. */
static void
give_up(hr_watch_notes *notes)
{
    hr_ptrset_clear(&notes->watched_codes);
    hr_ptrset_clear(&notes->live_closures);
    notes->unwatched_code = NULL;
    notes->unnoted_code = NULL;
    notes->astray = 0;
}

#if HR_PY312

/* The notes the callbacks write to: the main interpreter's engine's while
 * its watchers are on, else these, empty (a callback CPython could not
 * take back then finds nothing to do, without a test of its own). */
static hr_watch_notes no_notes;
static hr_watch_notes *watching = &no_notes;

static int
note(hr_watch_notes *notes, PyFunctionObject *func)
{
    /* Runs inside CPython's making of a function, maybe while an exception
     * is being raised: that one must come through untouched. */
    if (hr_ptrset_has(&notes->live_closures, func)) {
        return 0;  /* a noted closure taking new watched code: every one, at a commit */
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (hr_ptrset_add(&notes->live_closures, func) < 0) {
        /* Our own MemoryError: handled by giving up the notes. */
        PyErr_Clear();
        give_up(notes);
    }
    PyErr_Restore(type, value, tb);
    return 0;
}

/* A function was made with watched code, or code not known to be
 * unwatched.  Out of line, as every slower path: the callback itself then
 * needs no stack frame for the functions the program makes and frees. */
static Py_NO_INLINE int
made(hr_watch_notes *notes, PyFunctionObject *func)
{
    if (hr_ptrset_has(&notes->watched_codes, func->func_code)) {
        return note(notes, func);
    }
    notes->unwatched_code = func->func_code;
    /* No noted function holds unwatched code unless one went astray, so
     * then none holds this one. */
    notes->unnoted_code = notes->astray ? NULL : func->func_code;
    return 0;
}

static Py_NO_INLINE int
freed(hr_watch_notes *notes, PyFunctionObject *func)
{
    hr_ptrset_discard(&notes->live_closures, func);
    return 0;
}

/* `func` takes `code`: noted if the code is watched; a noted function
 * taking code that is not watched makes the freeing shortcut unsafe. */
static Py_NO_INLINE int
code_set(hr_watch_notes *notes, PyFunctionObject *func, PyObject *code)
{
    if (code != NULL && hr_ptrset_has(&notes->watched_codes, code)) {
        return note(notes, func);
    }
    if (hr_ptrset_has(&notes->live_closures, func)) {
        notes->astray = 1;
        notes->unnoted_code = NULL;
    }
    return 0;
}

/* Called by CPython for every function made and freed: the common case, a
 * loop making and freeing closures of one unwatched code, is a compare
 * each way. */
static int
on_function(PyFunction_WatchEvent event, PyFunctionObject *func, PyObject *new_value)
{
    hr_watch_notes *notes = watching;
    if (event == PyFunction_EVENT_CREATE) {
        if (notes->watched_codes.count == 0 || func->func_code == notes->unwatched_code) {
            return 0;
        }
        return made(notes, func);
    }
    if (event == PyFunction_EVENT_DESTROY) {
        if (func->func_code == notes->unnoted_code) {
            return 0;
        }
        /* Looked up inline: most functions freed were never noted. */
        return hr_ptrset_has(&notes->live_closures, func) ? freed(notes, func) : 0;
    }
    if (event == PyFunction_EVENT_MODIFY_CODE && notes->live_closures.count + notes->watched_codes.count > 0) {
        return code_set(notes, func, new_value);
    }
    return 0;
}

void
hr_watcher_code_written(PyFunctionObject *func)
{
    if (PyInterpreterState_Get() == PyInterpreterState_Main()) {
        (void)on_function(PyFunction_EVENT_MODIFY_CODE, func, func->func_code);
    }
}

static int
on_code(PyCodeEvent event, PyCodeObject *code)
{
    hr_watch_notes *notes = watching;
    if (event == PY_CODE_EVENT_DESTROY && notes->watched_codes.count > 0) {
        hr_ptrset_discard(&notes->watched_codes, code);
    }
    return 0;
}

int
hr_watcher_start(hr_state *state)
{
    state->function_watcher = 0;
    state->code_watcher = 0;
    state->may_watch = PyInterpreterState_Get() == PyInterpreterState_Main();
    return 0;
}

/* Adds the watchers, once: 1 when they are on, 0 when they cannot be (the
 * engine then walks). */
static int
watchers_on(hr_state *state)
{
    if (state->function_watcher > 0) {
        return 1;
    }
    if (!state->may_watch || watching != &no_notes
        || PyInterpreterState_Get() != PyInterpreterState_Main()) {
        return 0;
    }
    state->may_watch = 0;  /* one try */
    int id = PyFunction_AddWatcher(on_function);
    if (id < 0) {
        /* All watcher slots taken by other tools: the engine walks.  The
         * ValueError CPython raises for that is the one expected here. */
        PyErr_Clear();
        return 0;
    }
    state->function_watcher = id + 1;
    watching = &state->notes;
    int code_id = PyCode_AddWatcher(on_code);
    if (code_id < 0) {
        PyErr_Clear();  /* likewise: freed code then stays noted */
        return 1;
    }
    state->code_watcher = code_id + 1;
    return 1;
}

void
hr_watcher_stop(hr_state *state)
{
    if (state->function_watcher > 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyFunction_ClearWatcher(state->function_watcher - 1) < 0
            || (state->code_watcher > 0 && PyCode_ClearWatcher(state->code_watcher - 1) < 0)) {
            PyErr_WriteUnraisable(NULL);
        }
        PyErr_Restore(type, value, tb);
        state->function_watcher = 0;
        state->code_watcher = 0;
        watching = &no_notes;
    }
    give_up(&state->notes);
}

#else  /* before 3.12: no function watchers, the engine walks */

int
hr_watcher_start(hr_state *state)
{
    state->function_watcher = 0;
    state->code_watcher = 0;
    state->may_watch = 0;
    return 0;
}

static int
watchers_on(hr_state *state)
{
    (void)state;
    return 0;
}

void
hr_watcher_code_written(PyFunctionObject *func)
{
    (void)func;
}

void
hr_watcher_stop(hr_state *state)
{
    give_up(&state->notes);
}

#endif

/* 1 when every code object of `codes` is watched. */
static int
all_watched(const hr_state *state, const hr_ptrset *codes)
{
    if (state->function_watcher == 0) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < codes->capacity; i++) {
        if (codes->slots[i] != NULL && !hr_ptrset_has(&state->notes.watched_codes, codes->slots[i])) {
            return 0;
        }
    }
    return 1;
}

int
hr_watcher_find(hr_state *state, hr_heap_query *query)
{
    if (query->old_codes.count == 0 || !all_watched(state, &query->old_codes)) {
        return 0;
    }
    const hr_ptrset *noted = &state->notes.live_closures;
    for (Py_ssize_t i = 0; i < noted->capacity; i++) {
        /* Slots further on than elsewhere: a table's slots are sparse. */
        PyFunctionObject *ahead = i + 2 * HR_AHEAD < noted->capacity
                                  ? (PyFunctionObject *)noted->slots[i + 2 * HR_AHEAD] : NULL;
        if (ahead != NULL) {
            hr_prefetch(&ahead->func_code);
        }
        PyFunctionObject *func = (PyFunctionObject *)noted->slots[i];
        if (func != NULL && hr_ptrset_has(&query->old_codes, func->func_code)
            && PyList_Append(query->functions, (PyObject *)func) < 0) {
            return -1;
        }
    }
    query->functions_known = 1;
    return 1;
}

int
hr_watcher_add(hr_state *state, const hr_ptrset *codes, PyObject *functions)
{
    if (codes->count == 0 || !watchers_on(state)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(functions); i++) {
        if (hr_ptrset_add(&state->notes.live_closures, PyList_GET_ITEM(functions, i)) < 0) {
            give_up(&state->notes);
            return -1;
        }
    }
    state->notes.unwatched_code = NULL;  /* the codes below may hold it */
    state->notes.unnoted_code = NULL;
    for (Py_ssize_t i = 0; i < codes->capacity; i++) {
        if (codes->slots[i] != NULL && hr_ptrset_add(&state->notes.watched_codes, codes->slots[i]) < 0) {
            give_up(&state->notes);
            return -1;
        }
    }
    return 0;
}
