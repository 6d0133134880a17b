/* Statements whose text changed more than what they do.
 *
 * Statements are paired and compared by their normalized text
 * (statements.c), which still tells apart two statements that only a
 * formatter would: other quotes, other line breaks inside brackets, other
 * parentheses.  That is cheap, and it errs on the side of running a
 * statement again.  Two kinds of statement must not run again for a change
 * of that sort, and are compared once more here, by their syntax trees
 * (positions left out: they are attributes of the nodes, not fields):
 *
 *   - A statement that acts or makes an object.  six ends with a loop that
 *     takes its finder out of sys.meta_path, then an append that puts it
 *     back: when the loop ran again for a change of layout and the
 *     unchanged append did not, the finder was gone; jinja2's `missing =
 *     type("MissingType", (), {"__repr__": lambda x: "missing"})()` made a
 *     second sentinel that what the first run stored is not.  A statement
 *     whose tree did not change is paired with its old self and does not
 *     run again.  The code it made (a lambda, a def inside an `if`) keeps
 *     its line numbers when its lines moved unevenly, as the code of any
 *     statement that did not run again (lines.c).
 *
 *   - A class whose statement changed only inside the bodies of its methods.
 *     Running it again makes the class anew through its metaclass, whose
 *     state may have moved on since the first import (jinja2's node
 *     metaclass refuses new classes once the module has loaded), and runs
 *     __init_subclass__ and class registries again.  What a fresh import
 *     would hold differs from the live class only in the code of those
 *     methods, so that is all that changes: the statement is compiled, not
 *     run, and each changed method takes its new code, keeping its
 *     defaults, annotations and cells.  A method whose new code needs other
 *     cells (it starts using super()), and any other change of the class,
 *     runs the statement again as before. */
#include "hotreload.h"

#include <string.h>

/* Deeper trees are taken as different: the statement runs again, as it
 * would without this file. */
#define HR_TREE_DEPTH 400

static int same_value(hr_state *state, PyObject *a, PyObject *b, int depth);

/* New reference, or NULL: the attribute, absent (no exception), or an
 * error (an exception set). */
static PyObject *
optional_attr(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return value;
}

/* 1 when two nodes of the same type have the same fields, but `skip`. */
static int
same_fields(hr_state *state, PyObject *a, PyObject *b, const char *skip, int depth)
{
    PyObject *fields = PyObject_GetAttrString((PyObject *)Py_TYPE(a), "_fields");
    if (fields == NULL) {
        return -1;
    }
    if (!PyTuple_Check(fields)) {
        Py_DECREF(fields);
        return 0;
    }
    int same = 1;
    for (Py_ssize_t i = 0; same == 1 && i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        if (!PyUnicode_Check(field)) {
            same = 0;
            break;
        }
        if (skip != NULL && PyUnicode_CompareWithASCIIString(field, skip) == 0) {
            continue;
        }
        PyObject *x = optional_attr(a, field);
        PyObject *y = PyErr_Occurred() ? NULL : optional_attr(b, field);
        same = PyErr_Occurred() ? -1
               : x == NULL || y == NULL ? x == y
               : same_value(state, x, y, depth + 1);
        Py_XDECREF(x);
        Py_XDECREF(y);
    }
    Py_DECREF(fields);
    return same;
}

static int
same_bits(double x, double y)
{
    return memcmp(&x, &y, sizeof(double)) == 0;
}

/* 1 when two values of syntax trees are the same: nodes field by field,
 * lists item by item, constants by type and value (0.0 and -0.0, 1 and
 * True differ). */
static int
same_value(hr_state *state, PyObject *a, PyObject *b, int depth)
{
    if (a == b) {
        return 1;
    }
    if (Py_TYPE(a) != Py_TYPE(b) || depth > HR_TREE_DEPTH) {
        return 0;
    }
    if (PyList_Check(a)) {
        Py_ssize_t n = PyList_GET_SIZE(a);
        int same = n == PyList_GET_SIZE(b);
        for (Py_ssize_t i = 0; same == 1 && i < n && i < PyList_GET_SIZE(b); i++) {
            same = same_value(state, PyList_GET_ITEM(a, i), PyList_GET_ITEM(b, i), depth + 1);
        }
        return same;
    }
    if (PyFloat_CheckExact(a)) {
        return same_bits(PyFloat_AS_DOUBLE(a), PyFloat_AS_DOUBLE(b));
    }
    if (PyComplex_CheckExact(a)) {
        Py_complex x = PyComplex_AsCComplex(a), y = PyComplex_AsCComplex(b);
        return same_bits(x.real, y.real) && same_bits(x.imag, y.imag);
    }
    if (PyUnicode_CheckExact(a) || PyBytes_CheckExact(a) || PyLong_CheckExact(a)) {
        return PyObject_RichCompareBool(a, b, Py_EQ);
    }
    int node = hr_is_ast_node(state, a);
    return node <= 0 ? node : same_fields(state, a, b, NULL, depth);
}

static int
is_def(const hr_state *state, PyObject *node)
{
    return hr_ast_is(state, node, HR_AST_FUNCTIONDEF)
           || hr_ast_is(state, node, HR_AST_ASYNCFUNCTIONDEF);
}

/* New reference: the syntax tree of a module-level statement; NULL with no
 * exception when it does not parse (the compiler will say why, when the
 * statement runs), NULL with one on error. */
static PyObject *
parse_statement(const char *text, const hr_stmt *st)
{
    PyObject *body = hr_parse_block(text + st->start, st->end - st->start, 0);
    if (body == NULL) {
        if (PyErr_ExceptionMatches(PyExc_SyntaxError)) {
            PyErr_Clear();
        }
        return NULL;
    }
    PyObject *node = PyList_GET_SIZE(body) == 1 ? Py_NewRef(PyList_GET_ITEM(body, 0)) : NULL;
    Py_DECREF(body);
    return node;
}

/* ------------------------------------------------------------------------ */
/* Statements that only a formatter changed                                  */
/* ------------------------------------------------------------------------ */

/* Borrowed: the tree of old statement j, parsed on first use (None: it
 * does not parse), or NULL on error. */
static PyObject *
old_tree(hr_unit *u, PyObject *trees, Py_ssize_t j)
{
    PyObject *tree = PyList_GET_ITEM(trees, j);
    if (tree != NULL) {
        return tree;
    }
    tree = parse_statement(u->old_utf8, &u->old_stmts.items[j]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (tree == NULL) {
        tree = Py_NewRef(Py_None);
    }
    PyList_SET_ITEM(trees, j, tree);
    return tree;
}

int
hr_pair_reformatted(hr_state *state, hr_unit *u)
{
    PyObject *trees = NULL;  /* old statement index -> tree, parsed on first use */
    if (hr_ast_load(state) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (u->match[i] >= 0 || st->kind != HR_STMT_OTHER) {
            continue;
        }
        PyObject *tree = NULL;
        for (Py_ssize_t j = 0; j < u->old_stmts.count; j++) {
            if (u->old_used[j] || u->old_stmts.items[j].kind != HR_STMT_OTHER) {
                continue;
            }
            if (trees == NULL && (trees = PyList_New(u->old_stmts.count)) == NULL) {
                return -1;
            }
            if (tree == NULL && (tree = parse_statement(u->new_utf8, st)) == NULL) {
                break;
            }
            PyObject *old = old_tree(u, trees, j);
            int same = old == NULL ? -1 : old == Py_None ? 0 : same_value(state, old, tree, 0);
            if (same < 0) {
                break;
            }
            if (same) {
                u->match[i] = j;
                u->old_used[j] = 1;
                u->reformatted[i] = 1;
                break;
            }
        }
        Py_XDECREF(tree);
        if (PyErr_Occurred()) {
            Py_XDECREF(trees);
            return -1;
        }
    }
    Py_XDECREF(trees);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Classes whose methods changed inside                                      */
/* ------------------------------------------------------------------------ */

/* The line of a def node relative to its statement's first line, as
 * co_firstlineno counts it: the first decorator's, or the def's own. */
static int
first_line(PyObject *def, int *line)
{
    PyObject *lineno = PyObject_GetAttrString(def, "lineno");
    PyObject *decorators = lineno ? PyObject_GetAttrString(def, "decorator_list") : NULL;
    if (decorators == NULL || !PyList_Check(decorators) || !PyLong_Check(lineno)) {
        Py_XDECREF(lineno);
        Py_XDECREF(decorators);
        return PyErr_Occurred() ? -1 : 0;
    }
    long first = PyLong_AsLong(lineno);
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(decorators); k++) {
        PyObject *at = PyObject_GetAttrString(PyList_GET_ITEM(decorators, k), "lineno");
        long n = at && PyLong_Check(at) ? PyLong_AsLong(at) : first;
        Py_XDECREF(at);
        if (n < first) {
            first = n;
        }
    }
    Py_DECREF(lineno);
    Py_DECREF(decorators);
    if (PyErr_Occurred()) {
        return -1;
    }
    *line = (int)first;
    return 1;
}

/* 1 when the lines first..last (1-based, relative to the statement) of the
 * old and the new statement are the same text. */
static int
same_lines(hr_unit *u, const hr_stmt *old, int old_first, const hr_stmt *fresh, int new_first,
           int count)
{
    const char *a = u->old_utf8 + old->start, *a_end = u->old_utf8 + old->end;
    const char *b = u->new_utf8 + fresh->start, *b_end = u->new_utf8 + fresh->end;
    for (int n = 1; n < old_first && a < a_end; n++) {
        a = memchr(a, '\n', a_end - a);
        a = a ? a + 1 : a_end;
    }
    for (int n = 1; n < new_first && b < b_end; n++) {
        b = memchr(b, '\n', b_end - b);
        b = b ? b + 1 : b_end;
    }
    const char *a_stop = a, *b_stop = b;
    for (int n = 0; n < count; n++) {
        const char *x = memchr(a_stop, '\n', a_end - a_stop);
        const char *y = memchr(b_stop, '\n', b_end - b_stop);
        a_stop = x ? x + 1 : a_end;
        b_stop = y ? y + 1 : b_end;
    }
    return a_stop - a == b_stop - b && memcmp(a, b, a_stop - a) == 0;
}

/* Borrowed: the code object named `name` whose first line is `line` among
 * the constants of `code`, or NULL. */
static PyObject *
nested_code(PyObject *code, PyObject *name, int line)
{
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t k = 0; consts != NULL && k < PyTuple_GET_SIZE(consts); k++) {
        PyObject *c = PyTuple_GET_ITEM(consts, k);
        if (PyCode_Check(c) && ((PyCodeObject *)c)->co_firstlineno == line
            && PyUnicode_Compare(((PyCodeObject *)c)->co_name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* 1 when attribute `attr` of obj is the str `expected`. */
static int
attr_is(PyObject *obj, const char *attr, PyObject *expected)
{
    PyObject *value = PyObject_GetAttrString(obj, attr);
    if (value == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* no such attribute: not the expected value */
        return 0;
    }
    int same = PyUnicode_Check(value) ? PyUnicode_Compare(value, expected) == 0 : 0;
    Py_DECREF(value);
    return PyErr_Occurred() ? -1 : same;
}

/* New reference: a function with the live function's defaults,
 * annotations, cells and attributes, and the new code with its docstring:
 * what the class statement would have made, had it run with the live
 * values. */
static PyObject *
function_with_code(PyFunctionObject *target, PyObject *code)
{
    PyObject *func = PyFunction_NewWithQualName(code, target->func_globals,
                                                target->func_qualname);
    hr_function_fields fields;
    if (func == NULL || hr_function_fields_read(target, &fields) < 0) {
        Py_XDECREF(func);
        return NULL;
    }
    Py_SETREF(fields.code, Py_NewRef(code));
    Py_XSETREF(fields.doc, Py_XNewRef(((PyFunctionObject *)func)->func_doc));
    /* Its own dict: the patch merges it into the live one. */
    Py_XSETREF(fields.dict, fields.dict ? PyDict_Copy(fields.dict) : NULL);
    int status = (fields.dict == NULL && target->func_dict != NULL) ? -1
                 : hr_function_fields_write((PyFunctionObject *)func, &fields);
    hr_function_fields_clear(&fields);
    if (status < 0) {
        Py_CLEAR(func);
    }
    return func;
}

/* Reads one def member `name` that changed: the live function it made
 * (found by its name and its old first line, a file line), and its new
 * code (at new_line).  Appends to `changes` (member, live function, new
 * function or new code, whether the body changed) and returns 1 when found
 * and the new code fits the live function's cells; 0 when not, -1 on
 * error. */
static int
read_method(hr_unit *u, PyTypeObject *cls, PyObject *cls_name, PyObject *body_code,
            PyObject *name, int old_line, int new_line, int body_changed, PyObject *changes)
{
    PyObject *key = hr_mangled(cls_name, name);
    PyObject *member = key ? PyDict_GetItemWithError(cls->tp_dict, key) : NULL;
    Py_XDECREF(key);
    PyFunctionObject *target = member ? hr_unwrap_at(member, name, old_line) : NULL;
    PyObject *code = target ? nested_code(body_code, name, new_line) : NULL;
    if (PyErr_Occurred()) {
        Py_XDECREF(target);
        return -1;
    }
    if (code == NULL || target->func_globals != u->live) {
        Py_XDECREF(target);
        return 0;
    }
    /* The new code runs with the live function's cells: the same free
     * variables, in the same order (a method that starts using super()
     * needs a __class__ cell the live function lacks). */
    PyObject *wanted = hr_code_freevars(code);
    PyObject *held = wanted ? hr_code_freevars(target->func_code) : NULL;
    int fits = held ? PyObject_RichCompareBool(wanted, held, Py_EQ) : -1;
    Py_XDECREF(wanted);
    Py_XDECREF(held);
    if (fits <= 0) {
        Py_DECREF(target);
        return fits;
    }
    PyObject *fresh = body_changed ? function_with_code(target, code) : Py_NewRef(code);
    if (fresh == NULL) {
        Py_DECREF(target);
        return -1;
    }
    if (body_changed && member != (PyObject *)target) {
        /* A wrapper took the docstring when it was made (a property, what
         * functools.wraps made): a new one needs the decorator again. */
        PyObject *doc = ((PyFunctionObject *)fresh)->func_doc;
        int same = target->func_doc == doc
                   || (target->func_doc && doc
                       && PyObject_RichCompareBool(target->func_doc, doc, Py_EQ) > 0);
        if (PyErr_Occurred() || !same) {
            Py_DECREF(target);
            Py_DECREF(fresh);
            return PyErr_Occurred() ? -1 : 0;
        }
    }
    PyObject *change = Py_BuildValue("(OOOO)", member, (PyObject *)target, fresh,
                                     body_changed ? Py_True : Py_False);
    int status = change ? PyList_Append(changes, change) : -1;
    Py_XDECREF(change);
    Py_DECREF(target);
    Py_DECREF(fresh);
    return status < 0 ? -1 : 1;
}

/* The decorators that only hold the function they decorate (property and
 * its accessors, staticmethod, classmethod, abstractmethod, functools'
 * caches): new code poured into the function reaches it.  Any other may
 * have recorded the function or its code where the engine does not look
 * (jinja2's @internalcode keeps code objects in a set), so the class runs
 * again and the decorator sees the new function.  Read on syntax trees
 * (only_holds) and on the text (decorators_by_text). */
static const char *const HOLDING_DECORATORS[] = {
    "property", "staticmethod", "classmethod", "abstractmethod", "cached_property",
    "lru_cache", "cache", "setter", "getter", "deleter", NULL,
};

/* 1 when `name` (UTF-8, `len` bytes) is one of HOLDING_DECORATORS. */
static int
is_holding_decorator(const char *name, Py_ssize_t len)
{
    for (int k = 0; HOLDING_DECORATORS[k] != NULL; k++) {
        if ((Py_ssize_t)strlen(HOLDING_DECORATORS[k]) == len
            && memcmp(HOLDING_DECORATORS[k], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 when a decorator, a syntax tree, is a name of HOLDING_DECORATORS
 * (`@name`, `@a.name`, either called). */
static int
only_holds(const hr_state *state, PyObject *decorator)
{
    PyObject *node = Py_NewRef(decorator);
    if (hr_ast_is(state, node, HR_AST_CALL)) {  /* lru_cache(maxsize=...) */
        Py_SETREF(node, PyObject_GetAttrString(node, "func"));
    }
    PyObject *name = node == NULL ? NULL
                     : PyObject_GetAttrString(node, hr_ast_is(state, node, HR_AST_ATTRIBUTE) ? "attr" : "id");
    Py_XDECREF(node);
    if (name == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();  /* a subscript, a lambda...: not one of those */
        return 0;
    }
    Py_ssize_t len;
    const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
    int found = utf8 != NULL ? is_holding_decorator(utf8, len) : 0;
    Py_DECREF(name);
    if (utf8 == NULL && PyErr_Occurred()) {
        return -1;
    }
    return found;
}

/* 1 when every decorator of the def only holds what it decorates. */
static int
decorators_only_hold(const hr_state *state, PyObject *def)
{
    PyObject *decorators = PyObject_GetAttrString(def, "decorator_list");
    if (decorators == NULL || !PyList_Check(decorators)) {
        Py_XDECREF(decorators);
        return decorators == NULL ? -1 : 0;
    }
    int all = 1;
    for (Py_ssize_t k = 0; all == 1 && k < PyList_GET_SIZE(decorators); k++) {
        all = only_holds(state, PyList_GET_ITEM(decorators, k));
    }
    Py_DECREF(decorators);
    return all;
}

/* ------------------------------------------------------------------------ */
/* The same, read on the text                                                */
/* ------------------------------------------------------------------------ */

/* Parsing the old and the new class statement to compare them costs twice
 * what compiling the class does; most edits of a class change method
 * bodies and nothing else, which the text shows: the same header, the
 * same members, and each changed member a def whose header (decorators,
 * signature) is the same text.  Text that is the same parses the same, so
 * what the text decides, the syntax trees would have decided alike; what
 * it cannot decide (text that differs but may parse the same, code that
 * moved unevenly, decorators it cannot read) goes to the trees. */

enum { BY_TEXT_RUNS = 0, BY_TEXT_READ = 1, BY_TEXT_UNSURE = 2 };

static int
same_text(const char *a, Py_ssize_t a_len, const char *b, Py_ssize_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* The number of lines of a statement's text: those it ends, and its last
 * one when no newline ends it. */
static int
line_count(const char *text, const hr_stmt *st)
{
    int ended = hr_count_lines(text, st->start, st->end);
    return ended + (st->end > st->start && text[st->end - 1] != '\n' && text[st->end - 1] != '\r');
}

/* What the decorators of a def member say, read on the text: BY_TEXT_READ
 * when each one only holds what it decorates (HOLDING_DECORATORS, as
 * `@name`, `@a.name` or either called, on a line of its own),
 * BY_TEXT_RUNS when one is a plain name that does not, BY_TEXT_UNSURE
 * when one is anything else. */
static int
decorators_by_text(const char *text, const hr_stmt *member)
{
    Py_ssize_t at = member->start;
    while (at < member->head) {
        const char *line_end = memchr(text + at, '\n', member->head - at);
        Py_ssize_t end = line_end ? line_end - text : member->head;
        Py_ssize_t k = at;
        while (k < end && (text[k] == ' ' || text[k] == '\t')) {
            k++;
        }
        if (k >= member->head) {
            break;  /* the def's own line (head is its keyword, past the indentation) */
        }
        if (k == end || text[k] != '@') {
            return BY_TEXT_UNSURE;
        }
        k++;
        Py_ssize_t last = k, last_len = 0;
        for (;;) {  /* a dotted name, ASCII (anything else: unsure) */
            Py_ssize_t word = k;
            while (k < end && (text[k] == '_' || ((text[k] | 0x20) >= 'a' && (text[k] | 0x20) <= 'z')
                               || (k > word && text[k] >= '0' && text[k] <= '9'))) {
                k++;
            }
            if (k == word) {
                return BY_TEXT_UNSURE;
            }
            last = word;
            last_len = k - word;
            if (k < end && text[k] == '.') {
                k++;
                continue;
            }
            break;
        }
        Py_ssize_t tail = end;
        while (tail > k && (text[tail - 1] == ' ' || text[tail - 1] == '\t' || text[tail - 1] == '\r')) {
            tail--;
        }
        /* Nothing after the name, or one call to the end of the line. */
        if (tail != k && !(text[k] == '(' && text[tail - 1] == ')'
                           && memchr(text + k, '#', tail - k) == NULL)) {
            return BY_TEXT_UNSURE;
        }
        if (!is_holding_decorator(text + last, last_len)) {
            return BY_TEXT_RUNS;
        }
        at = end + 1;
    }
    return BY_TEXT_READ;
}

/* read_class() on the text: BY_TEXT_READ with `changes` filled,
 * BY_TEXT_RUNS, BY_TEXT_UNSURE (`changes` as it was), or -1 on error. */
static int
read_class_by_text(hr_unit *u, PyTypeObject *cls, PyObject *cls_name, const hr_stmt *old_stmt,
                   const hr_stmt *new_stmt, PyObject *changes)
{
    if (old_stmt->body < 0 || new_stmt->body < 0
        || !same_text(u->old_utf8 + old_stmt->start, old_stmt->body - old_stmt->start,
                      u->new_utf8 + new_stmt->start, new_stmt->body - new_stmt->start)) {
        return BY_TEXT_UNSURE;
    }
    hr_stmts olds, news;
    memset(&olds, 0, sizeof(olds));
    memset(&news, 0, sizeof(news));
    PyObject *code = NULL;
    Py_ssize_t had = PyList_GET_SIZE(changes);
    int status = hr_split_body(u->old_utf8, old_stmt, &olds) < 0
                 || hr_split_body(u->new_utf8, new_stmt, &news) < 0 ? -1 : BY_TEXT_UNSURE;
    if (status < 0 || olds.count != news.count) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < news.count; k++) {
        const hr_stmt *a = &olds.items[k], *b = &news.items[k];
        if (PyBytes_GET_SIZE(a->norm) == PyBytes_GET_SIZE(b->norm)
            && memcmp(PyBytes_AS_STRING(a->norm), PyBytes_AS_STRING(b->norm),
                      PyBytes_GET_SIZE(a->norm)) == 0) {
            /* The same member; a def's code must also sit on the same
             * lines relative to its class (lines.c moves whole classes). */
            if (b->kind == HR_STMT_DEF
                && !same_lines(u, old_stmt, a->line - old_stmt->line + 1, new_stmt,
                               b->line - new_stmt->line + 1, line_count(u->old_utf8, a))) {
                goto done;  /* unsure */
            }
            continue;
        }
        /* Changed: only a def's body may have, under the same header. */
        if (a->kind != HR_STMT_DEF || b->kind != HR_STMT_DEF || a->body < 0 || b->body < 0
            || !same_text(u->old_utf8 + a->start, a->body - a->start,
                          u->new_utf8 + b->start, b->body - b->start)) {
            goto done;  /* unsure */
        }
        status = decorators_by_text(u->new_utf8, b);
        if (status != BY_TEXT_READ) {
            goto done;
        }
        status = BY_TEXT_UNSURE;
        if (code == NULL && (code = hr_compile_alone(u, new_stmt)) == NULL) {
            /* The trees' path reports it. */
            if (PyErr_ExceptionMatches(PyExc_SyntaxError)) {
                PyErr_Clear();
            }
            else {
                status = -1;
            }
            goto done;
        }
        PyObject *body_code = nested_code(code, cls_name, new_stmt->line);
        PyObject *name = body_code ? PyUnicode_DecodeUTF8(u->new_utf8 + b->name, b->name_len, NULL)
                                   : NULL;
        int read = name == NULL ? (PyErr_Occurred() ? -1 : BY_TEXT_UNSURE)
                   : read_method(u, cls, cls_name, body_code, name, a->line, b->line, 1, changes);
        Py_XDECREF(name);
        if (read != 1) {
            status = read < 0 ? -1 : BY_TEXT_UNSURE;
            goto done;
        }
    }
    status = BY_TEXT_READ;
done:
    if (status == BY_TEXT_UNSURE && PyList_SetSlice(changes, had, PyList_GET_SIZE(changes), NULL) < 0) {
        status = -1;
    }
    Py_XDECREF(code);
    hr_stmts_clear(&olds);
    hr_stmts_clear(&news);
    return status;
}

/* Reads the changes of class statement i when they are all inside method
 * bodies (or layout only): *changes is a new list, [live class, change...].
 * 1 when they are, 0 when the statement must run again, -1 on error. */
static int
read_class(hr_state *state, hr_unit *u, Py_ssize_t i, PyObject **changes_out)
{
    PyObject *changes = NULL;
    const hr_stmt *new_stmt = &u->new_stmts.items[i];
    const hr_stmt *old_stmt = &u->old_stmts.items[u->match[i]];
    PyObject *name = PyUnicode_DecodeUTF8(u->new_utf8 + new_stmt->name, new_stmt->name_len, NULL);
    PyObject *cls = name ? PyDict_GetItemWithError(u->live, name) : NULL;
    PyObject *old = NULL, *fresh = NULL, *old_body = NULL, *new_body = NULL, *code = NULL;
    int status = PyErr_Occurred() ? -1 : 0;
    /* The live class this statement made: still bound to its name, and not
     * one the name was rebound to (`from .dictutils import OMD`). */
    if (status < 0 || cls == NULL || !PyType_Check(cls)
        || (status = attr_is(cls, "__module__", u->name)) <= 0
        || (status = attr_is(cls, "__qualname__", name)) <= 0) {
        goto done;
    }
    if ((changes = PyList_New(1)) == NULL) {
        status = -1;
        goto done;
    }
    PyList_SET_ITEM(changes, 0, Py_NewRef(cls));
    status = read_class_by_text(u, (PyTypeObject *)cls, name, old_stmt, new_stmt, changes);
    if (status != BY_TEXT_UNSURE) {
        if (status == BY_TEXT_READ) {
            *changes_out = Py_NewRef(changes);
        }
        goto done;
    }
    status = 0;
    old = parse_statement(u->old_utf8, old_stmt);
    fresh = old ? parse_statement(u->new_utf8, new_stmt) : NULL;
    if (fresh == NULL || !hr_ast_is(state, old, HR_AST_CLASSDEF) || !hr_ast_is(state, fresh, HR_AST_CLASSDEF)) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    /* Name, bases, keywords, decorators: the class itself is the same. */
    if ((status = same_fields(state, old, fresh, "body", 0)) <= 0) {
        goto done;
    }
    old_body = PyObject_GetAttrString(old, "body");
    new_body = old_body ? PyObject_GetAttrString(fresh, "body") : NULL;
    if (new_body == NULL || !PyList_Check(old_body) || !PyList_Check(new_body)
        || PyList_GET_SIZE(old_body) != PyList_GET_SIZE(new_body)) {
        status = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(new_body);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *a = PyList_GET_ITEM(old_body, k), *b = PyList_GET_ITEM(new_body, k);
        int same = same_value(state, a, b, 0);
        int body_changed = !same;
        if (same < 0) {
            status = -1;
            goto done;
        }
        if (same) {
            /* A def whose text moved unevenly takes the new code for its
             * lines (lines.c moves those that moved as a whole). */
            int first_a, first_b;
            PyObject *end_a = is_def(state, a) ? PyObject_GetAttrString(a, "end_lineno") : NULL;
            int found = end_a ? first_line(a, &first_a) : PyErr_Occurred() ? -1 : 0;
            found = found <= 0 ? found : first_line(b, &first_b);
            long last_a = found > 0 && PyLong_Check(end_a) ? PyLong_AsLong(end_a) : 0;
            Py_XDECREF(end_a);
            if (found < 0 || PyErr_Occurred()) {
                status = -1;
                goto done;
            }
            if (found == 0 || same_lines(u, old_stmt, first_a, new_stmt, first_b,
                                         (int)(last_a - first_a + 1))) {
                continue;
            }
            /* New code for its lines is new code a decorator may have
             * recorded the old one of. */
            if ((status = decorators_only_hold(state, b)) <= 0) {
                goto done;
            }
        }
        else {
            /* Changed: only a def's body may have. */
            status = 0;
            if (!is_def(state, a) || Py_TYPE(a) != Py_TYPE(b)
                || (status = same_fields(state, a, b, "body", 0)) <= 0
                || (status = decorators_only_hold(state, b)) <= 0) {
                goto done;
            }
        }
        if (code == NULL) {
            code = hr_compile_alone(u, new_stmt);
            if (code == NULL) {
                /* Run again, the statement reports it as every other does. */
                status = PyErr_ExceptionMatches(PyExc_SyntaxError) ? 0 : -1;
                if (status == 0) {
                    PyErr_Clear();
                }
                goto done;
            }
        }
        PyObject *body_code = nested_code(code, name, new_stmt->line);
        int old_line, new_line;
        int found = body_code == NULL ? 0 : first_line(a, &old_line);
        found = found <= 0 ? found : first_line(b, &new_line);
        PyObject *method = found > 0 ? PyObject_GetAttrString(b, "name") : NULL;
        status = found < 0 || (found > 0 && method == NULL) ? -1
                 : method == NULL || !PyUnicode_Check(method) ? 0
                 : read_method(u, (PyTypeObject *)cls, name, body_code, method,
                               old_line + old_stmt->line - 1, new_line + new_stmt->line - 1,
                               body_changed, changes);
        Py_XDECREF(method);
        if (status <= 0) {
            goto done;
        }
    }
    *changes_out = Py_NewRef(changes);
    status = 1;
done:
    Py_XDECREF(changes);
    Py_XDECREF(name);
    Py_XDECREF(old);
    Py_XDECREF(fresh);
    Py_XDECREF(old_body);
    Py_XDECREF(new_body);
    Py_XDECREF(code);
    return status;
}

PyObject *
hr_read_method_bodies(hr_state *state, hr_unit *u, Py_ssize_t i)
{
    PyObject *changes = NULL;
    int status = hr_ast_load(state) < 0 ? -1 : read_class(state, u, i, &changes);
    return status < 0 ? NULL : status == 0 ? Py_NewRef(Py_None) : changes;
}

/* ------------------------------------------------------------------------ */
/* Objects a statement acts on                                               */
/* ------------------------------------------------------------------------ */

/* Borrowed: the name an attribute or subscript chain starts from
 * (`_importer.known_modules[k]` -> `_importer`), or NULL. */
static PyObject *
chain_base(const hr_state *state, PyObject *node, int depth)
{
    while (node != NULL && depth++ < HR_TREE_DEPTH
           && (hr_ast_is(state, node, HR_AST_ATTRIBUTE) || hr_ast_is(state, node, HR_AST_SUBSCRIPT))) {
        PyObject *value = PyObject_GetAttrString(node, "value");
        Py_XDECREF(value);  /* the node holds it */
        node = value;
    }
    if (node == NULL || !hr_ast_is(state, node, HR_AST_NAME)) {
        return NULL;
    }
    PyObject *id = PyObject_GetAttrString(node, "id");
    Py_XDECREF(id);  /* the node holds it */
    return id;
}

static int
add_base(const hr_state *state, PyObject *set, PyObject *node)
{
    PyObject *base = chain_base(state, node, 0);
    if (base == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return PySet_Add(set, base);
}

/* Adds to `set` the objects a tree acts on as it runs: the receiver of a
 * method call (`x.add(...)`), the object of an item or attribute store
 * (`x[k] = v`, `x.a = v`, `del x[k]`), the first argument of setattr() and
 * delattr().  Not inside a def or a lambda: that runs later, if ever. */
static int
walk_acts(hr_state *state, PyObject *value, PyObject *set, int depth)
{
    if (depth > HR_TREE_DEPTH) {
        return 0;
    }
    if (PyList_Check(value)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++) {
            if (walk_acts(state, PyList_GET_ITEM(value, i), set, depth + 1) < 0) {
                return -1;
            }
        }
        return 0;
    }
    int node = hr_is_ast_node(state, value);
    if (node <= 0) {
        return node;
    }
    if (is_def(state, value) || hr_ast_is(state, value, HR_AST_LAMBDA)) {
        return 0;
    }
    int status = 0;
    if (hr_ast_is(state, value, HR_AST_CALL)) {
        PyObject *func = PyObject_GetAttrString(value, "func");
        PyObject *args = func ? PyObject_GetAttrString(value, "args") : NULL;
        if (args == NULL) {
            status = -1;
        }
        else if (hr_ast_is(state, func, HR_AST_ATTRIBUTE)) {
            PyObject *receiver = PyObject_GetAttrString(func, "value");
            status = receiver ? add_base(state, set, receiver) : -1;
            Py_XDECREF(receiver);
        }
        else if (hr_ast_is(state, func, HR_AST_NAME) && PyList_Check(args) && PyList_GET_SIZE(args) > 0) {
            PyObject *id = PyObject_GetAttrString(func, "id");
            int setter = id && PyUnicode_Check(id)
                         && (PyUnicode_CompareWithASCIIString(id, "setattr") == 0
                             || PyUnicode_CompareWithASCIIString(id, "delattr") == 0);
            Py_XDECREF(id);
            status = id == NULL ? -1 : setter ? add_base(state, set, PyList_GET_ITEM(args, 0)) : 0;
        }
        Py_XDECREF(func);
        Py_XDECREF(args);
    }
    else if (hr_ast_is(state, value, HR_AST_ATTRIBUTE) || hr_ast_is(state, value, HR_AST_SUBSCRIPT)) {
        PyObject *ctx = PyObject_GetAttrString(value, "ctx");
        int store = ctx != NULL && (hr_ast_is(state, ctx, HR_AST_STORE) || hr_ast_is(state, ctx, HR_AST_DEL));
        Py_XDECREF(ctx);
        status = ctx == NULL ? -1 : store ? add_base(state, set, value) : 0;
    }
    if (status < 0) {
        return -1;
    }
    PyObject *fields = PyObject_GetAttrString((PyObject *)Py_TYPE(value), "_fields");
    if (fields == NULL || !PyTuple_Check(fields)) {
        Py_XDECREF(fields);
        return fields == NULL ? -1 : 0;
    }
    for (Py_ssize_t i = 0; status == 0 && i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *child = optional_attr(value, PyTuple_GET_ITEM(fields, i));
        status = child ? walk_acts(state, child, set, depth + 1) : PyErr_Occurred() ? -1 : 0;
        Py_XDECREF(child);
    }
    Py_DECREF(fields);
    return status;
}

PyObject *
hr_acts_on(hr_state *state, const char *text, const hr_stmt *st)
{
    PyObject *set = hr_ast_load(state) < 0 ? NULL : PySet_New(NULL);
    PyObject *tree = set ? parse_statement(text, st) : NULL;
    if (tree != NULL && walk_acts(state, tree, set, 0) < 0) {
        Py_CLEAR(set);
    }
    if (PyErr_Occurred()) {
        Py_CLEAR(set);
    }
    Py_XDECREF(tree);
    return set;
}
