/* Line numbers of code that moved but did not change.
 *
 * A statement that does not run again keeps its live objects, and with
 * them the code compiled when the file looked as it did before: a blank
 * line or an edit above a function moves its text down, while its code
 * still says it starts where it used to, so tracebacks, inspect.getsource
 * and debuggers point at the wrong lines.
 *
 * A code object's line table is relative to its co_firstlineno on every
 * supported version (3.9's co_lnotab, 3.10's co_linetable, the location
 * table of 3.11+, whose end lines are relative to start lines and whose
 * columns do not change when a line moves).  So code whose statement moved
 * as a whole takes the same code with co_firstlineno moved, and its nested
 * code objects (inner functions, lambdas, comprehensions before 3.12, the
 * methods of a class body) likewise: code.replace(), as any Python code
 * would do it, nothing recompiled and nothing run again.
 *
 * "Moved as a whole" is decided on the text: the old and the new statement
 * have the same normalized text and put their code on the same lines
 * relative to their first line (only the text of comments, and whitespace,
 * may differ line for line).  A statement whose inside gained or lost a
 * line moves unevenly and is left alone, except a class statement: its
 * members are compared the same way, one by one.  On 3.13 a class also
 * records the first line of its statement (__firstlineno__, which
 * inspect.getsource reads): it follows its statement, changed or not.
 *
 * The live functions are found from the module's namespace (reachable.c);
 * each takes its moved code through the same planned write as a live
 * closure (HR_ACT_CODE, with its own cells), and closures.c pairs their
 * nested code with the moved one, so that closures made at run time from it
 * move too. */
#include "hotreload.h"

#include <limits.h>
#include <string.h>

/* How far a range of old lines moved. */
typedef struct {
    int first, end;  /* old lines first .. end-1 */
    int delta;       /* new line - old line */
    int whole;       /* the code on all of these lines moved by delta; else only a
                        class statement's first line (its __firstlineno__) did */
} moved_range;

typedef struct {
    moved_range *items;
    Py_ssize_t count, capacity;
} moved_ranges;

/* What one unit's pass works with. */
typedef struct {
    hr_batch *batch;
    hr_unit *unit;
    moved_ranges ranges;
    hr_identity memo;     /* old code -> its moved copy */
    hr_ptrset skip;       /* functions whose code the batch already writes */
    hr_ptrset old_codes;  /* the code of the live functions visited, nested code too */
    PyObject *no_cells;   /* () */
} moves;

/* Bounds the recursion into nested classes. */
#define HR_MOVES_DEPTH 16

static int
ranges_add(moved_ranges *r, int first, int end, int delta, int whole)
{
    if (r->count == r->capacity) {
        moved_range *items = hr_array_grow(r->items, sizeof(moved_range), r->count + 1,
                                           &r->capacity, 32);
        if (items == NULL) {
            return -1;
        }
        r->items = items;
    }
    moved_range *range = &r->items[r->count++];
    range->first = first;
    range->end = end;
    range->delta = delta;
    range->whole = whole;
    return 0;
}

/* Borrowed: the range whose code moved as a whole holding old line `line`,
 * or NULL. */
static const moved_range *
whole_range_of(const moved_ranges *r, int line)
{
    for (Py_ssize_t k = 0; k < r->count; k++) {
        const moved_range *range = &r->items[k];
        if (range->whole && range->first <= line && line < range->end) {
            return range;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Which statements moved, and how                                           */
/* ------------------------------------------------------------------------ */

/* The length of the line starting at text[pos] (its newline excluded),
 * within text[..end]. */
static Py_ssize_t
line_length(const char *text, Py_ssize_t pos, Py_ssize_t end)
{
    const char *newline = memchr(text + pos, '\n', end - pos);
    return newline ? newline - (text + pos) : end - pos;
}

/* 1 when a line holds nothing but whitespace and perhaps a comment. */
static int
is_filler(const char *line, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f' || line[i] == '\r')) {
        i++;
    }
    return i == n || line[i] == '#';
}

/* For two statements whose normalized texts are equal: 1 when they put
 * their code on the same lines relative to their first, so that the whole
 * statement moved by one number of lines.  Line for line, both lines are
 * the same, or both hold code (differing in comments or whitespace), or
 * both hold none.  A line that differs cannot lie wholly inside a string
 * (strings are part of the normalized text), and one that starts inside a
 * string starts the same way in both: the test sees both alike. */
static int
same_line_shape(const char *a, Py_ssize_t a_from, Py_ssize_t a_to, const char *b,
                Py_ssize_t b_from, Py_ssize_t b_to, int *lines)
{
    Py_ssize_t p = a_from, q = b_from;
    *lines = 0;
    while (p < a_to && q < b_to) {
        Py_ssize_t n = line_length(a, p, a_to), m = line_length(b, q, b_to);
        if ((n != m || memcmp(a + p, b + q, n) != 0)
            && is_filler(a + p, n) != is_filler(b + q, m)) {
            return 0;
        }
        p += n + 1;
        q += m + 1;
        (*lines)++;
    }
    return p >= a_to && q >= b_to;
}

static int find_moved(moves *mv, const hr_stmts *old, const hr_stmts *fresh,
                      const Py_ssize_t *match, int depth);

/* The members of a class statement that did not move as a whole. */
static int
find_moved_members(moves *mv, const hr_stmt *old_stmt, const hr_stmt *new_stmt, int depth)
{
    hr_unit *u = mv->unit;
    hr_stmts old_members = {0}, new_members = {0};
    Py_ssize_t *match = NULL;
    char *old_used = NULL;
    int status = -1;
    if (old_stmt->body < 0 || new_stmt->body < 0 || depth > HR_MOVES_DEPTH) {
        return 0;
    }
    if (hr_split_body(u->old_utf8, old_stmt, &old_members) < 0
        || hr_split_body(u->new_utf8, new_stmt, &new_members) < 0) {
        goto done;
    }
    match = PyMem_Calloc(new_members.count + 1, sizeof(Py_ssize_t));
    old_used = PyMem_Calloc(old_members.count + 1, 1);
    if (match == NULL || old_used == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    status = hr_match(u->old_utf8, &old_members, u->new_utf8, &new_members, match, old_used) < 0
             ? -1 : find_moved(mv, &old_members, &new_members, match, depth + 1);
done:
    PyMem_Free(match);
    PyMem_Free(old_used);
    hr_stmts_clear(&old_members);
    hr_stmts_clear(&new_members);
    return status;
}

/* Records the ranges of old lines that moved, for the statements of one
 * block paired by `match` (new index -> old index or -1). */
static int
find_moved(moves *mv, const hr_stmts *old, const hr_stmts *fresh, const Py_ssize_t *match,
           int depth)
{
    hr_unit *u = mv->unit;
    /* The statements hr_split_again took from the old split, paired with
     * the ones they came from, are the same text: those of the start did
     * not move, those of the end moved together (one range). */
    Py_ssize_t head = 0, end = fresh->count;
    if (fresh->same_as == old) {
        Py_ssize_t tail = fresh->same_tail, old_end = old->count - tail;
        int taken = 1;
        for (Py_ssize_t i = 0; taken && i < fresh->same_head; i++) {
            taken = match[i] == i;
        }
        for (Py_ssize_t t = 0; taken && t < tail; t++) {
            taken = match[fresh->count - tail + t] == old_end + t;
        }
        if (taken) {
            head = fresh->same_head;
            end = fresh->count - tail;
            int delta = tail > 0 ? fresh->items[end].line - old->items[old_end].line : 0;
            if (delta != 0
                && ranges_add(&mv->ranges, old->items[old_end].line, INT_MAX, delta, 1) < 0) {
                return -1;
            }
        }
    }
    for (Py_ssize_t i = head; i < end; i++) {
        if (match[i] < 0) {
            continue;
        }
        const hr_stmt *a = &old->items[match[i]], *b = &fresh->items[i];
        int delta = b->line - a->line, lines;
        if (hr_same_norm(a->norm, b->norm)
            && same_line_shape(u->old_utf8, a->start, a->end, u->new_utf8, b->start, b->end,
                               &lines)) {
            if (delta != 0 && ranges_add(&mv->ranges, a->line, a->line + lines, delta, 1) < 0) {
                return -1;
            }
            continue;
        }
        if (a->kind != HR_STMT_CLASS || b->kind != HR_STMT_CLASS) {
            continue;
        }
        if ((delta != 0 && ranges_add(&mv->ranges, a->line, a->line + 1, delta, 0) < 0)
            || find_moved_members(mv, a, b, depth) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Moved code                                                                */
/* ------------------------------------------------------------------------ */

/* 1 when `code` was compiled from this unit's file. */
static int
from_this_file(moves *mv, PyObject *code)
{
    PyObject *filename = ((PyCodeObject *)code)->co_filename;
    return PyUnicode_Check(filename) && PyUnicode_Compare(filename, mv->unit->path) == 0;
}

/* Adds `code` and the code nested in it to mv->old_codes. */
static int
note_old_code(moves *mv, PyObject *code)
{
    if (hr_ptrset_has(&mv->old_codes, code)) {
        return 0;
    }
    if (hr_ptrset_add(&mv->old_codes, code) < 0) {
        return -1;
    }
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t k = 0; consts && PyTuple_Check(consts) && k < PyTuple_GET_SIZE(consts); k++) {
        PyObject *inner = PyTuple_GET_ITEM(consts, k);
        if (PyCode_Check(inner) && note_old_code(mv, inner) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Plans the moved code of a live function of the module, when its code
 * lies in a statement that moved as a whole. */
static int
move_function(moves *mv, PyFunctionObject *func)
{
    PyObject *code = func->func_code;
    if (!PyCode_Check(code) || !from_this_file(mv, code)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (note_old_code(mv, code) < 0) {
        return -1;
    }
    if (hr_ptrset_has(&mv->skip, func)) {
        return 0;
    }
    const moved_range *range = whole_range_of(&mv->ranges, ((PyCodeObject *)code)->co_firstlineno);
    if (range == NULL) {
        return 0;
    }
    PyObject *moved = hr_code_moved(code, range->delta, &mv->memo);
    if (moved == NULL) {
        return -1;
    }
    PyObject *closure = func->func_closure ? func->func_closure : mv->no_cells;
    int status = hr_plan_code(&mv->batch->actions, (PyObject *)func, moved, closure);
    Py_DECREF(moved);
    return status < 0 ? -1 : hr_ptrset_add(&mv->skip, func);
}

/* On 3.13 a class records the first line of its statement; it follows the
 * statement. */
static int
move_class(moves *mv, PyTypeObject *cls)
{
    PyObject *first = hr_dict_get(cls->tp_dict, "__firstlineno__");
    if (first == NULL || !PyLong_Check(first)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int overflow;
    long line = PyLong_AsLongAndOverflow(first, &overflow);
    if (line == -1 && PyErr_Occurred()) {
        return -1;
    }
    for (Py_ssize_t k = 0; !overflow && k < mv->ranges.count; k++) {
        const moved_range *range = &mv->ranges.items[k];
        if (line == range->first || (range->whole && range->first <= line && line < range->end)) {
            PyObject *moved = PyLong_FromLong(line + range->delta);
            PyObject *name = moved ? PyUnicode_FromString("__firstlineno__") : NULL;
            int status = name ? hr_plan_type_set(&mv->batch->actions, (PyObject *)cls, name, moved)
                              : -1;
            Py_XDECREF(moved);
            Py_XDECREF(name);
            return status;
        }
    }
    return 0;
}

/* Called for each function and class reachable from the module. */
static int
move_object(PyObject *obj, void *arg)
{
    moves *mv = (moves *)arg;
    if (PyFunction_Check(obj)) {
        return move_function(mv, (PyFunctionObject *)obj);
    }
    return PyType_Check(obj) ? move_class(mv, (PyTypeObject *)obj) : 0;
}

/* ------------------------------------------------------------------------ */
/* The pass                                                                  */
/* ------------------------------------------------------------------------ */

/* A patch that pours old code into a live function: a statement that ran
 * again called an unchanged function that moved (`handler = make(1)`,
 * made again for __reload_update__), which made a closure of its old,
 * nested code.  The live function takes the moved code after the patch. */
static int
move_patched(moves *mv, Py_ssize_t planned)
{
    for (Py_ssize_t i = 0; i < planned; i++) {
        /* Re-read each time: planning may move the array. */
        const hr_action *action = &mv->batch->actions.items[i];
        if (action->kind != HR_ACT_PATCH
            || ((PyFunctionObject *)action->target)->func_globals != mv->unit->live) {
            continue;
        }
        PyFunctionObject *fresh = (PyFunctionObject *)action->value;
        PyObject *code = fresh->func_code;
        const moved_range *range = hr_ptrset_has(&mv->old_codes, code)
            ? whole_range_of(&mv->ranges, ((PyCodeObject *)code)->co_firstlineno) : NULL;
        if (range == NULL) {
            continue;
        }
        PyObject *target = action->target;
        PyObject *closure = fresh->func_closure ? fresh->func_closure : mv->no_cells;
        PyObject *moved = hr_code_moved(code, range->delta, &mv->memo);
        int status = moved ? hr_plan_code(&mv->batch->actions, target, moved, closure) : -1;
        Py_XDECREF(moved);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

static int
moves_unit(moves *mv)
{
    hr_unit *u = mv->unit;
    Py_ssize_t planned = mv->batch->actions.count;
    if (find_moved(mv, &u->old_stmts, &u->new_stmts, u->match, 0) < 0) {
        return -1;
    }
    if (mv->ranges.count == 0) {
        return 0;
    }
    return hr_reach_module(mv->batch->state, u, move_object, mv) < 0 ? -1 : move_patched(mv, planned);
}

int
hr_plan_moves(hr_batch *batch)
{
    moves mv;
    memset(&mv, 0, sizeof(mv));
    mv.batch = batch;
    int status = -1;
    if ((mv.no_cells = PyTuple_New(0)) == NULL) {
        goto done;
    }
    /* A function whose code the batch already writes (a patch, new code)
     * takes that code, whose lines are the new ones. */
    for (Py_ssize_t i = 0; i < batch->actions.count; i++) {
        const hr_action *action = &batch->actions.items[i];
        if ((action->kind == HR_ACT_PATCH || action->kind == HR_ACT_CODE)
            && hr_ptrset_add(&mv.skip, action->target) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < batch->count; i++) {
        hr_unit *u = &batch->units[i];
        if (u->full) {
            continue;  /* no old source: no old lines to compare with */
        }
        mv.unit = u;
        mv.ranges.count = 0;
        hr_ptrset_clear(&mv.old_codes);
        if (moves_unit(&mv) < 0) {
            goto done;
        }
    }
    status = 0;
done:
    PyMem_Free(mv.ranges.items);
    hr_identity_clear(&mv.memo);
    hr_ptrset_clear(&mv.skip);
    hr_ptrset_clear(&mv.old_codes);
    Py_XDECREF(mv.no_cells);
    return status;
}
