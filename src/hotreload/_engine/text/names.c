/* The names a statement binds and reads when it runs.
 *
 * Only statements that changed (or that mention a name that changed) are
 * parsed, one at a time, so a reload never pays for parsing a whole module.
 * Reads inside function and lambda bodies do not count: they happen when
 * the function is called, not when the statement runs.  Class bodies and
 * comprehensions run at once, so their reads count. */
#include "hotreload.h"

#include <string.h>

/* The class names of the hr_ast_kind values, in their order. */
static const char *const ast_names[] = {
    "AST", "Name", "Load", "Store", "Del", "FunctionDef", "AsyncFunctionDef", "Lambda",
    "ClassDef", "Import", "ImportFrom", "ExceptHandler", "Global",
    "Nonlocal", "MatchAs", "MatchStar", "MatchMapping", "For", "AsyncFor",
    "Call", "Attribute", "Subscript", "ListComp", "SetComp", "DictComp", "GeneratorExp",
};
_Static_assert(sizeof(ast_names) / sizeof(ast_names[0]) == HR_AST_COUNT,
               "one class name per hr_ast_kind");

int
hr_ast_load(hr_state *state)
{
    if (state->ast_types[HR_AST_AST] != NULL) {
        return 0;
    }
    PyObject *ast = hr_import("_ast");
    if (ast == NULL) {
        return -1;
    }
    for (int i = 0; i < HR_AST_COUNT; i++) {
        /* The match_* nodes exist from 3.10; None stands for "never". */
        PyObject *type = PyObject_GetAttrString(ast, ast_names[i]);
        if (type == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                /* Not cached half-read: a node type taken for "never"
                 * would be walked as an unknown node from then on. */
                for (int j = 0; j < i; j++) {
                    Py_CLEAR(state->ast_types[j]);
                }
                Py_DECREF(ast);
                return -1;
            }
            PyErr_Clear();
            type = Py_NewRef(Py_None);
        }
        state->ast_types[i] = type;
    }
    Py_DECREF(ast);
    return 0;
}

int
hr_is_ast_node(hr_state *state, PyObject *obj)
{
    if (hr_ast_load(state) < 0) {
        return -1;
    }
    return PyObject_TypeCheck(obj, (PyTypeObject *)state->ast_types[HR_AST_AST]);
}

typedef struct {
    hr_state *state;
    PyObject *binds;   /* set or NULL */
    PyObject *reads;   /* set or NULL */
    int star;
} walker;

static int walk(walker *w, PyObject *node, int top);

static int
is_a(walker *w, PyObject *node, hr_ast_kind which)
{
    return hr_ast_is(w->state, node, which);
}

static int
add_name(PyObject *set, PyObject *name)
{
    if (set == NULL || name == NULL || !PyUnicode_Check(name)) {
        return 0;
    }
    return PySet_Add(set, name);
}

/* Walks node.<field>: a node, a list of nodes, or anything else (ignored). */
static int
walk_field(walker *w, PyObject *node, const char *field, int top)
{
    PyObject *value = PyObject_GetAttrString(node, field);
    if (value == NULL) {
        /* Optional fields may be missing on some versions; any other error
         * (MemoryError) must not pass for "no such field", which would skip
         * the names in it and leave statements that read them unrun. */
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    int status = 0;
    if (PyList_Check(value)) {
        for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(value); i++) {
            status = walk(w, PyList_GET_ITEM(value, i), top);
        }
    }
    else {
        status = walk(w, value, top);
    }
    Py_DECREF(value);
    return status;
}

static int
walk_fields(walker *w, PyObject *node, int top)
{
    PyObject *fields = PyObject_GetAttrString((PyObject *)Py_TYPE(node), "_fields");
    if (fields == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    if (!PyTuple_Check(fields)) {
        Py_DECREF(fields);
        return 0;
    }
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyTuple_GET_SIZE(fields); i++) {
        const char *field = PyUnicode_AsUTF8(PyTuple_GET_ITEM(fields, i));
        status = field ? walk_field(w, node, field, top) : -1;
    }
    Py_DECREF(fields);
    return status;
}

/* Binds the name held in node.<field> (a str) when at module scope. */
static int
bind_field(walker *w, PyObject *node, const char *field, int top)
{
    if (!top || w->binds == NULL) {
        return 0;
    }
    PyObject *name = PyObject_GetAttrString(node, field);
    if (name == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    int status = add_name(w->binds, name);
    Py_DECREF(name);
    return status;
}

/* import a.b.c binds "a"; import a.b as c binds "c"; from x import * sets star. */
static int
bind_aliases(walker *w, PyObject *node, int top, int dotted)
{
    PyObject *aliases = PyObject_GetAttrString(node, "names");
    if (aliases == NULL) {
        return -1;
    }
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(aliases); i++) {
        PyObject *alias = PyList_GET_ITEM(aliases, i);
        PyObject *asname = PyObject_GetAttrString(alias, "asname");
        PyObject *name = PyObject_GetAttrString(alias, "name");
        if (asname == NULL || name == NULL) {
            status = -1;
        }
        else if (asname != Py_None) {
            status = top ? add_name(w->binds, asname) : 0;
        }
        else if (PyUnicode_CompareWithASCIIString(name, "*") == 0) {
            w->star = 1;
        }
        else if (top) {
            PyObject *first = name;
            Py_ssize_t dot = dotted ? PyUnicode_FindChar(name, '.', 0, PY_SSIZE_T_MAX, 1) : -1;
            if (dot > 0) {
                first = PyUnicode_Substring(name, 0, dot);
            }
            status = first ? add_name(w->binds, first) : -1;
            if (first != name) {
                Py_XDECREF(first);
            }
        }
        Py_XDECREF(asname);
        Py_XDECREF(name);
    }
    Py_DECREF(aliases);
    return status;
}

/* A for loop binds its target before each run of its body: the body's reads
 * of the target's names read the loop's own values, not what the names
 * held before it (a loop over `_key` does not depend on another loop over
 * `_key` before it).  Its iterable and its `else` read as any expression. */
static int
walk_loop(walker *w, PyObject *node, int top)
{
    if (walk_field(w, node, "target", top) < 0 || walk_field(w, node, "iter", top) < 0
        || walk_field(w, node, "orelse", top) < 0) {
        return -1;
    }
    if (w->reads == NULL) {
        return walk_field(w, node, "body", top);
    }
    walker target = {w->state, PySet_New(NULL), NULL, 0};
    PyObject *outer = w->reads;
    w->reads = PySet_New(NULL);
    int status = target.binds != NULL && w->reads != NULL ? 0 : -1;
    if (status == 0) {
        status = walk_field(&target, node, "target", 1);
    }
    if (status == 0) {
        status = walk_field(w, node, "body", top);
    }
    PyObject *body_reads = w->reads;
    w->reads = outer;
    PyObject *own = status == 0 ? PyNumber_Subtract(body_reads, target.binds) : NULL;
    if (own == NULL || hr_set_update(outer, own) < 0) {
        status = -1;
    }
    Py_XDECREF(own);
    Py_XDECREF(body_reads);
    Py_XDECREF(target.binds);
    return status;
}

static int
walk(walker *w, PyObject *node, int top)
{
    if (!PyObject_TypeCheck(node, (PyTypeObject *)w->state->ast_types[HR_AST_AST])) {
        return 0;
    }
    if (is_a(w, node, HR_AST_NAME)) {
        PyObject *id = PyObject_GetAttrString(node, "id");
        PyObject *ctx = PyObject_GetAttrString(node, "ctx");
        int status = -1;
        if (id != NULL && ctx != NULL) {
            if (is_a(w, ctx, HR_AST_LOAD)) {
                status = add_name(w->reads, id);
            }
            else {
                status = top ? add_name(w->binds, id) : 0;
            }
        }
        Py_XDECREF(id);
        Py_XDECREF(ctx);
        return status;
    }
    if (is_a(w, node, HR_AST_FUNCTIONDEF) || is_a(w, node, HR_AST_ASYNCFUNCTIONDEF)) {
        /* The body runs later, when called. */
        if (bind_field(w, node, "name", top) < 0
            || walk_field(w, node, "decorator_list", 0) < 0
            || walk_field(w, node, "args", 0) < 0) {
            return -1;
        }
        return walk_field(w, node, "returns", 0);
    }
    if (is_a(w, node, HR_AST_LAMBDA)) {
        return walk_field(w, node, "args", 0);
    }
    if (is_a(w, node, HR_AST_CLASSDEF)) {
        /* The body runs now but binds class attributes, not module names. */
        if (bind_field(w, node, "name", top) < 0
            || walk_field(w, node, "decorator_list", 0) < 0
            || walk_field(w, node, "bases", 0) < 0
            || walk_field(w, node, "keywords", 0) < 0) {
            return -1;
        }
        return walk_field(w, node, "body", 0);
    }
    if (is_a(w, node, HR_AST_FOR) || is_a(w, node, HR_AST_ASYNCFOR)) {
        return walk_loop(w, node, top);
    }
    if (is_a(w, node, HR_AST_IMPORT)) {
        return bind_aliases(w, node, top, 1);
    }
    if (is_a(w, node, HR_AST_IMPORTFROM)) {
        return bind_aliases(w, node, top, 0);
    }
    if (is_a(w, node, HR_AST_GLOBAL) || is_a(w, node, HR_AST_NONLOCAL)) {
        return 0;
    }
    if (is_a(w, node, HR_AST_EXCEPTHANDLER) || is_a(w, node, HR_AST_MATCHAS)
        || is_a(w, node, HR_AST_MATCHSTAR)) {
        if (bind_field(w, node, "name", top) < 0) {
            return -1;
        }
    }
    else if (is_a(w, node, HR_AST_MATCHMAPPING)) {
        if (bind_field(w, node, "rest", top) < 0) {
            return -1;
        }
    }
    /* Comprehension variables are local to the comprehension (Python 3);
     * everything else binds at the statement's own scope. */
    int comprehension = is_a(w, node, HR_AST_LISTCOMP) || is_a(w, node, HR_AST_SETCOMP)
                        || is_a(w, node, HR_AST_DICTCOMP) || is_a(w, node, HR_AST_GENERATOREXP);
    return walk_fields(w, node, comprehension ? 0 : top);
}

PyObject *
hr_parse_block(const char *text, Py_ssize_t len, int indent)
{
    static const char prefix[] = "if 1:\n";
    size_t extra = indent > 0 ? sizeof(prefix) - 1 : 0;
    char *buffer = PyMem_Malloc(len + extra + 2);
    if (buffer == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(buffer, prefix, extra);
    memcpy(buffer + extra, text, len);
    buffer[extra + len] = '\n';
    buffer[extra + len + 1] = '\0';
    PyCompilerFlags flags = {PyCF_ONLY_AST | PyCF_IGNORE_COOKIE, PY_MINOR_VERSION};
    PyObject *tree = Py_CompileStringExFlags(buffer, "<hotreload>", Py_file_input, &flags, -1);
    PyMem_Free(buffer);
    if (tree == NULL) {
        return NULL;
    }
    PyObject *body = PyObject_GetAttrString(tree, "body");
    Py_DECREF(tree);
    if (body != NULL && extra) {
        PyObject *if_node = PyList_GET_SIZE(body) ? PyList_GET_ITEM(body, 0) : NULL;
        PyObject *inner = if_node ? PyObject_GetAttrString(if_node, "body") : NULL;
        Py_SETREF(body, inner);
    }
    return body;
}

int
hr_names(hr_state *state, const char *text, Py_ssize_t len, int indent,
         PyObject **binds, PyObject **reads, int *star)
{
    walker w = {state, NULL, NULL, 0};
    PyObject *body = NULL;
    if (hr_ast_load(state) < 0) {
        goto error;
    }
    if ((binds && (w.binds = PySet_New(NULL)) == NULL)
        || (reads && (w.reads = PySet_New(NULL)) == NULL)) {
        goto error;
    }
    if ((body = hr_parse_block(text, len, indent)) == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(body); i++) {
        if (walk(&w, PyList_GET_ITEM(body, i), 1) < 0) {
            goto error;
        }
    }
    Py_DECREF(body);
    if (binds) {
        *binds = w.binds;
    }
    if (reads) {
        *reads = w.reads;
    }
    if (star) {
        *star = w.star;
    }
    return 0;
error:
    Py_XDECREF(body);
    Py_XDECREF(w.binds);
    Py_XDECREF(w.reads);
    return -1;
}

static int
is_identifier_byte(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c >= 0x80;
}

Py_ssize_t
hr_line_start(const char *text, Py_ssize_t pos)
{
    while (pos > 0 && text[pos - 1] != '\n' && text[pos - 1] != '\r') {
        pos--;
    }
    return pos;
}

/* 1 when text[0:len] holds `name` as a whole identifier. */
static int
mentions_one(const char *text, Py_ssize_t len, PyObject *name)
{
    Py_ssize_t nlen;
    const char *needle = PyUnicode_AsUTF8AndSize(name, &nlen);
    if (needle == NULL) {
        return -1;
    }
    const char *at = text;
    const char *end = text + len;
    while (nlen > 0 && (at = hr_memmem(at, end - at, needle, nlen)) != NULL) {
        int starts = at == text || !is_identifier_byte((unsigned char)at[-1]);
        int ends = at + nlen == end || !is_identifier_byte((unsigned char)at[nlen]);
        if (starts && ends) {
            return 1;
        }
        at += 1;
    }
    return 0;
}

/* 1 when the identifier text[start:end] is in `names`, 0 when not, -1 on
 * error; no string is kept.  An identifier never splits a multi-byte
 * character (its bytes are all >= 0x80); "replace" only guards text that
 * is not UTF-8, whose U+FFFD matches no name. */
static int
word_in(const char *text, Py_ssize_t start, Py_ssize_t end, PyObject *names)
{
    PyObject *word = PyUnicode_DecodeUTF8(text + start, end - start, "replace");
    int found = word ? PySet_Contains(names, word) : -1;
    Py_XDECREF(word);
    return found;
}

/* 1 when one of the identifiers of text[0:len] is in `names`: the text is
 * read once, each identifier looked up.  An identifier is a maximal run of
 * identifier bytes not starting with a digit, as mentions_one() matches. */
static int
mentions_any_word(const char *text, Py_ssize_t len, PyObject *names)
{
    Py_ssize_t i = 0;
    while (i < len) {
        if (!is_identifier_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < len && is_identifier_byte((unsigned char)text[i])) {
            i++;
        }
        if (text[start] >= '0' && text[start] <= '9') {
            continue;
        }
        int found = word_in(text, start, i, names);
        if (found != 0) {
            return found;
        }
    }
    return 0;
}

/* From this many names on, reading the text's identifiers once costs less
 * than searching the text for each name: a statement is checked against a
 * set of names that grows with the change (every name a changed constant's
 * readers bind), and one search per name made that quadratic. */
#define MENTIONS_BY_WORD 8

int
hr_mentions(PyObject *norm, PyObject *names)
{
    if (names == NULL || PySet_GET_SIZE(names) == 0) {
        return 0;
    }
    const char *text = PyBytes_AS_STRING(norm);
    Py_ssize_t len = PyBytes_GET_SIZE(norm);
    if (PySet_GET_SIZE(names) >= MENTIONS_BY_WORD) {
        return mentions_any_word(text, len, names);
    }
    PyObject *iterator = PyObject_GetIter(names);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *name;
    int found = 0;
    while (!found && (name = PyIter_Next(iterator)) != NULL) {
        found = mentions_one(text, len, name);
        Py_DECREF(name);
    }
    Py_DECREF(iterator);
    return found == 0 && PyErr_Occurred() ? -1 : found;
}

/* The end of the target of `name = <expression>` with no other '=' in
 * it (no chained assignment, keyword argument or comparison: for those the
 * full parse decides), or -1 when text[start:end] is not that simple.  The
 * expression starts after the '=' that follows the target. */
static Py_ssize_t
simple_target_end(const char *text, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t i = start;
    if (i >= end || !(is_identifier_byte((unsigned char)text[i]) && !(text[i] >= '0' && text[i] <= '9'))) {
        return -1;
    }
    while (i < end && is_identifier_byte((unsigned char)text[i])) {
        i++;
    }
    Py_ssize_t name_end = i;
    while (i < end && text[i] == ' ') {
        i++;
    }
    if (i >= end || text[i] != '=' || (i + 1 < end && text[i + 1] == '=')) {
        return -1;
    }
    if (memchr(text + i + 1, '=', end - i - 1) != NULL) {
        return -1;
    }
    return name_end;
}

PyObject *
hr_simple_assignment(const char *text, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t name_end = simple_target_end(text, start, end);
    if (name_end < 0) {
        return NULL;
    }
    PyObject *name = PyUnicode_DecodeUTF8(text + start, name_end - start, NULL);
    if (name == NULL) {
        return NULL;
    }
    PyObject *set = PySet_New(NULL);
    if (set == NULL || PySet_Add(set, name) < 0) {
        Py_CLEAR(set);
    }
    Py_DECREF(name);
    return set;
}

int
hr_stmt_bound_span(const char *text, const hr_stmt *stmt, Py_ssize_t *start, Py_ssize_t *end)
{
    if (stmt->kind == HR_STMT_DEF || stmt->kind == HR_STMT_CLASS) {
        *start = stmt->name;
        *end = stmt->name + stmt->name_len;
        return 1;
    }
    *start = stmt->start;
    *end = stmt->kind == HR_STMT_OTHER ? simple_target_end(text, stmt->start, stmt->end) : -1;
    return *end >= 0;
}

/* The memos of a statement are written through a const one: they cache
 * what its text says, which does not change. */
static hr_stmt *
memos(const hr_stmt *stmt)
{
    return (hr_stmt *)stmt;
}

/* New reference: the one name a def, a class or a simple assignment
 * binds; NULL without an exception for any other statement. */
static PyObject *
stmt_bound_name(const char *text, const hr_stmt *stmt)
{
    if (stmt->memo_bound == NULL) {
        Py_ssize_t start, end;
        PyObject *name = hr_stmt_bound_span(text, stmt, &start, &end)
            ? PyUnicode_DecodeUTF8(text + start, end - start, NULL) : Py_NewRef(Py_None);
        if (name == NULL) {
            return NULL;
        }
        memos(stmt)->memo_bound = name;
    }
    return stmt->memo_bound == Py_None ? NULL : Py_NewRef(stmt->memo_bound);
}

int
hr_stmt_binds_any(hr_state *state, const char *text, const hr_stmt *stmt, PyObject *names)
{
    PyObject *name = stmt_bound_name(text, stmt);
    if (name != NULL || PyErr_Occurred()) {
        int found = name ? PySet_Contains(names, name) : -1;
        Py_XDECREF(name);
        return found;
    }
    /* A name it binds is one it mentions: most are told apart on the text. */
    int mentioned = hr_mentions(stmt->norm, names);
    if (mentioned <= 0) {
        return mentioned;
    }
    PyObject *binds = hr_stmt_binds(state, text, stmt, 0);
    if (binds == NULL) {
        return -1;
    }
    int found = hr_any_in(binds, names);
    Py_DECREF(binds);
    return found;
}

PyObject *
hr_stmt_binds(hr_state *state, const char *text, const hr_stmt *stmt, int indent)
{
    PyObject *name = stmt_bound_name(text, stmt);
    if (name != NULL || PyErr_Occurred()) {
        PyObject *set = name ? PySet_New(NULL) : NULL;
        if (set != NULL && PySet_Add(set, name) < 0) {
            Py_CLEAR(set);
        }
        Py_XDECREF(name);
        return set;
    }
    PyObject *binds = NULL;
    Py_ssize_t from = hr_line_start(text, stmt->start);
    if (hr_names(state, text + from, stmt->end - from, indent, &binds, NULL, NULL) < 0) {
        return NULL;
    }
    return binds;
}

int
hr_add_binds(hr_state *state, PyObject *set, const char *text, const hr_stmt *st, int indent)
{
    PyObject *name = stmt_bound_name(text, st);
    if (name != NULL) {
        int status = PySet_Add(set, name);
        Py_DECREF(name);
        return status;
    }
    PyObject *binds = PyErr_Occurred() ? NULL : hr_stmt_binds(state, text, st, indent);
    if (binds == NULL) {
        return -1;
    }
    int status = hr_set_update(set, binds);
    Py_DECREF(binds);
    return status;
}

/* A word and its length, for tables of keywords. */
typedef struct {
    const char *text;
    Py_ssize_t len;
} keyword;

#define KEYWORD(w) {w, sizeof(w) - 1}

/* 1 when word[0:len] is one of `words`: most words of an expression are
 * names, told apart by their length or first letter. */
static int
is_one_of(const keyword *words, const char *word, Py_ssize_t len)
{
    for (int k = 0; words[k].text != NULL; k++) {
        if (words[k].len == len && words[k].text[0] == word[0]
            && memcmp(words[k].text, word, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The words a plain expression may hold besides names: operators and
 * constants.  Any other keyword (lambda, a comprehension's for, await,
 * yield...) and the full parse decides. */
static int
is_expression_keyword(const char *word, Py_ssize_t len)
{
    static const keyword words[] = {
        KEYWORD("and"), KEYWORD("or"), KEYWORD("not"), KEYWORD("in"), KEYWORD("is"),
        KEYWORD("if"), KEYWORD("else"), KEYWORD("None"), KEYWORD("True"), KEYWORD("False"),
        {NULL, 0},
    };
    return is_one_of(words, word, len);
}

static int
is_keyword_like(const char *word, Py_ssize_t len)
{
    if (word[0] < 'a' || word[0] > 'z') {
        return 0;  /* the keywords below are lower case */
    }
    static const keyword words[] = {
        KEYWORD("lambda"), KEYWORD("for"), KEYWORD("await"), KEYWORD("yield"), KEYWORD("async"),
        KEYWORD("def"), KEYWORD("class"), KEYWORD("return"), KEYWORD("import"), KEYWORD("from"),
        KEYWORD("as"), KEYWORD("with"), KEYWORD("while"), KEYWORD("del"), KEYWORD("global"),
        KEYWORD("nonlocal"), KEYWORD("assert"), KEYWORD("raise"), KEYWORD("try"),
        KEYWORD("except"), KEYWORD("finally"), KEYWORD("pass"), KEYWORD("break"),
        KEYWORD("continue"), KEYWORD("elif"), KEYWORD("match"), KEYWORD("case"), KEYWORD("type"),
        {NULL, 0},
    };
    return is_one_of(words, word, len);
}

/* Reads the words of the expression of `name = <plain expression>`
 * (text[start:end]): calls visit(word, arg) for each name it reads, and
 * returns 1; 0 as soon as it meets what the full parse must decide
 * (strings, slices, dicts, lambdas, comprehensions...), -1 when visit
 * fails.  A caller that decides on the words must wait for the 1: a
 * comprehension's `for`, met last, makes its first words its own
 * variables. */
static int
simple_read_words(const char *text, Py_ssize_t start, Py_ssize_t end,
                  int (*visit)(const char *text, Py_ssize_t start, Py_ssize_t end, void *arg),
                  void *arg)
{
    if (simple_target_end(text, start, end) < 0) {
        return 0;
    }
    Py_ssize_t i = (const char *)memchr(text + start, '=', end - start) - text + 1;
    int after_dot = 0;
    while (i < end) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x80 || c == '\'' || c == '"' || c == ':' || c == '@' || c == '\\'
            || c == '#' || c == ';' || c == '{' || c == '}' || c == '`' || c == '$' || c == '?') {
            return 0;
        }
        if (c >= '0' && c <= '9') {  /* a number, with its letters (1e5, 0x1f, 2j) */
            while (i < end && (is_identifier_byte((unsigned char)text[i]) || text[i] == '.')) {
                i++;
            }
            after_dot = 0;
            continue;
        }
        if (!is_identifier_byte(c)) {
            if (c == '.' && i + 1 < end && text[i + 1] >= '0' && text[i + 1] <= '9') {
                i++;  /* .5 */
                continue;
            }
            after_dot = c == '.' ? 1 : (c == ' ' || c == '\t' || c == '\n' || c == '\r') ? after_dot : 0;
            i++;
            continue;
        }
        Py_ssize_t word = i;
        while (i < end && is_identifier_byte((unsigned char)text[i])) {
            i++;
        }
        if (is_keyword_like(text + word, i - word)) {
            return 0;
        }
        if (!after_dot && !is_expression_keyword(text + word, i - word)
            && visit(text, word, i, arg) < 0) {
            return -1;
        }
        after_dot = 0;
    }
    return 1;
}

static int
add_word(const char *text, Py_ssize_t start, Py_ssize_t end, void *reads)
{
    PyObject *name = PyUnicode_DecodeUTF8(text + start, end - start, NULL);
    int status = name ? PySet_Add((PyObject *)reads, name) : -1;
    Py_XDECREF(name);
    return status;
}

PyObject *
hr_simple_reads(const char *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *reads = PySet_New(NULL);
    int simple = reads ? simple_read_words(text, start, end, add_word, reads) : -1;
    if (simple <= 0) {
        Py_XDECREF(reads);
        return NULL;
    }
    return reads;
}

int
hr_simple_reads_any(const char *text, const hr_stmt *stmt, PyObject *names, int *found)
{
    *found = 0;
    if (stmt->kind != HR_STMT_OTHER) {
        return 0;
    }
    if (stmt->memo_reads == NULL) {
        PyObject *reads = hr_simple_reads(text, stmt->start, stmt->end);
        if (reads == NULL && PyErr_Occurred()) {
            return -1;
        }
        memos(stmt)->memo_reads = reads ? PySequence_Tuple(reads) : Py_NewRef(Py_None);
        Py_XDECREF(reads);
        if (stmt->memo_reads == NULL) {
            return -1;
        }
    }
    if (stmt->memo_reads == Py_None) {
        return 0;
    }
    *found = hr_any_in(stmt->memo_reads, names);
    return *found < 0 ? -1 : 1;
}

PyObject *
hr_mangled(PyObject *cls_name, PyObject *name)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    int private = n > 2 && PyUnicode_READ_CHAR(name, 0) == '_'
                  && PyUnicode_READ_CHAR(name, 1) == '_'
                  && !(PyUnicode_READ_CHAR(name, n - 1) == '_'
                       && PyUnicode_READ_CHAR(name, n - 2) == '_')
                  && PyUnicode_FindChar(name, '.', 0, n, 1) == -1;
    Py_ssize_t skip = 0, len = PyUnicode_GET_LENGTH(cls_name);
    while (private && skip < len && PyUnicode_READ_CHAR(cls_name, skip) == '_') {
        skip++;
    }
    if (!private || skip == len) {
        return Py_NewRef(name);
    }
    PyObject *stem = PyUnicode_Substring(cls_name, skip, len);
    PyObject *key = stem ? PyUnicode_FromFormat("_%U%U", stem, name) : NULL;
    Py_XDECREF(stem);
    return key;
}

int
hr_ast_is(const hr_state *state, PyObject *node, hr_ast_kind kind)
{
    assert(state->ast_types[kind] != NULL);  /* hr_ast_load() ran */
    return (PyObject *)Py_TYPE(node) == state->ast_types[kind];
}
