/* Source text: a source file's bytes decoded as the import system decodes
 * them (the first layer's input), and the pieces of a new source that
 * compile alone: the whole text blanked but for some statements (and the
 * `from __future__` imports every piece needs), so that line numbers and
 * columns stay those of the file. */
#include "hotreload.h"

#include <string.h>

/* Decoding source files as the import system does (importlib's
 * decode_source: tokenize.detect_encoding, then universal newlines), in C:
 * it runs on every reload, and CPython's own Python version of it is not
 * proof against a failed allocation (it crashes 3.12 and 3.13). */

static int
is_word_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '-' || c == '.';
}

/* The encoding a line declares (`# -*- coding: latin-1 -*-`), as
 * tokenize's cookie_re = r'^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)' reads
 * it: *name and *len, or *len 0 when it declares none. */
static void
find_cookie(const char *line, Py_ssize_t n, const char **name, Py_ssize_t *len)
{
    Py_ssize_t i = 0;
    *len = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f')) {
        i++;
    }
    if (i == n || line[i] != '#') {
        return;
    }
    for (i++; i + 7 <= n && line[i] != '\n'; i++) {
        if (memcmp(line + i, "coding", 6) != 0 || (line[i + 6] != ':' && line[i + 6] != '=')) {
            continue;
        }
        Py_ssize_t k = i + 7;
        while (k < n && (line[k] == ' ' || line[k] == '\t')) {
            k++;
        }
        Py_ssize_t start = k;
        while (k < n && is_word_byte(line[k])) {
            k++;
        }
        if (k > start) {
            *name = line + start;
            *len = k - start;
            return;
        }
    }
}

/* 1 when a line holds nothing, or only a comment: tokenize then looks for
 * the cookie on the second line too. */
static int
is_blank_line(const char *line, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f')) {
        i++;
    }
    return i == n || line[i] == '#' || line[i] == '\r' || line[i] == '\n';
}

/* tokenize's _get_normal_name: the usual spellings of UTF-8 and Latin-1. */
static void
normal_encoding(const char *name, Py_ssize_t len, char *out, size_t size)
{
    char lower[13];
    Py_ssize_t k = 0;
    for (; k < len && k < 12; k++) {
        char c = name[k];
        lower[k] = (char)(c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    lower[k] = '\0';
    static const char *const latin1[] = {"latin-1", "iso-8859-1", "iso-latin-1"};
    if (strcmp(lower, "utf-8") == 0 || strncmp(lower, "utf-8-", 6) == 0) {
        snprintf(out, size, "utf-8");
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t m = strlen(latin1[i]);
        if (strcmp(lower, latin1[i]) == 0 || (strncmp(lower, latin1[i], m) == 0 && lower[m] == '-')) {
            snprintf(out, size, "iso-8859-1");
            return;
        }
    }
    snprintf(out, size, "%.*s", (int)len, name);
}

/* New reference: `text` with \r\n and lone \r turned into \n.  One \r
 * that ends the text is dropped, as importlib's IncrementalNewlineDecoder
 * (never told the input ended) keeps it waiting for a \n. */
static PyObject *
universal_newlines(PyObject *text)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_ssize_t cr = PyUnicode_FindChar(text, '\r', 0, length, 1);
    if (cr == -2 || cr == -1) {
        return cr == -2 ? NULL : Py_NewRef(text);
    }
    int trailing = PyUnicode_READ_CHAR(text, length - 1) == '\r';
    PyObject *body = PyUnicode_Substring(text, 0, length - trailing);
    PyObject *crlf = body ? PyUnicode_FromString("\r\n") : NULL;
    PyObject *cr_only = crlf ? PyUnicode_FromString("\r") : NULL;
    PyObject *lf = cr_only ? PyUnicode_FromString("\n") : NULL;
    PyObject *once = lf ? PyUnicode_Replace(body, crlf, lf, -1) : NULL;
    PyObject *both = once ? PyUnicode_Replace(once, cr_only, lf, -1) : NULL;
    Py_XDECREF(body);
    Py_XDECREF(crlf);
    Py_XDECREF(cr_only);
    Py_XDECREF(lf);
    Py_XDECREF(once);
    return both;
}

/* New reference: `bytes` decoded; *plain set to 1 when the decoded text's
 * UTF-8 is the bytes themselves (UTF-8 without a BOM, no \r). */
static PyObject *
decode_source(PyObject *bytes, int *plain)
{
    *plain = 0;
    if (!PyBytes_Check(bytes)) {
        PyErr_Format(PyExc_TypeError, "a source must be bytes, not %s", Py_TYPE(bytes)->tp_name);
        return NULL;
    }
    const char *data = PyBytes_AS_STRING(bytes);
    Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    int bom = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0;
    if (bom) {
        data += 3;
        size -= 3;
    }
    /* The cookie may sit on the first line, or on the second when the first
     * is blank or a comment (PEP 263). */
    const char *name = NULL;
    Py_ssize_t name_len = 0;
    const char *line = data;
    for (int index = 0; index < 2 && line < data + size && name_len == 0; index++) {
        const char *newline = memchr(line, '\n', data + size - line);
        Py_ssize_t n = newline ? newline - line + 1 : data + size - line;
        /* A line read for a cookie must be UTF-8 (a cookie is ASCII, and
         * without one the file is UTF-8), as tokenize insists. */
        PyObject *valid = PyUnicode_DecodeUTF8(line, n, "strict");
        if (valid == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                PyErr_SetString(PyExc_SyntaxError, "invalid or missing encoding declaration");
            }
            return NULL;
        }
        Py_DECREF(valid);
        find_cookie(line, n, &name, &name_len);
        if (name_len == 0 && !is_blank_line(line, n)) {
            break;
        }
        line += n;
    }
    char encoding[64] = "utf-8";
    if (name_len > 0) {
        normal_encoding(name, name_len < 48 ? name_len : 48, encoding, sizeof(encoding));
        if (bom && strcmp(encoding, "utf-8") != 0) {
            PyErr_Format(PyExc_SyntaxError, "encoding problem: %s with BOM", encoding);
            return NULL;
        }
    }
    PyObject *text = PyUnicode_Decode(data, size, encoding, "strict");
    if (text == NULL) {
        return NULL;
    }
    PyObject *lf = universal_newlines(text);
    /* The same str when it holds no \r. */
    *plain = lf == text && !bom && strcmp(encoding, "utf-8") == 0;
    Py_DECREF(text);
    return lf;
}

PyObject *
hr_decode_source(PyObject *bytes)
{
    int plain;
    return decode_source(bytes, &plain);
}

/* A reload reads the text of a module's source as UTF-8, and in the common
 * case the file's bytes are that text: decoding a 1.1 MB module costs more
 * than compiling the one body a save changed.  So a source text is either
 * a str, or the bytes object itself when they are its UTF-8 ("plain").  A
 * new version of a plain source is checked only where it differs from the
 * old one: the common beginning and end are the old text's, valid UTF-8 up
 * to a line's end, and the coding cookie (first two lines) is unchanged. */

PyObject *
hr_source_text(PyObject *bytes)
{
    int plain;
    PyObject *text = decode_source(bytes, &plain);
    if (text != NULL && plain) {
        Py_SETREF(text, Py_NewRef(bytes));
    }
    return text;
}

int
hr_source_is_plain(PyObject *text)
{
    return PyBytes_Check(text);
}

/* The offset just past the newline that ends the line holding `pos`, or
 * `len`. */
static Py_ssize_t
line_end(const char *text, Py_ssize_t len, Py_ssize_t pos)
{
    const char *newline = pos < len ? memchr(text + pos, '\n', (size_t)(len - pos)) : NULL;
    return newline != NULL ? newline - text + 1 : len;
}

PyObject *
hr_source_text_again(PyObject *old, PyObject *bytes, Py_ssize_t *common_prefix,
                     Py_ssize_t *common_suffix)
{
    *common_prefix = *common_suffix = -1;
    if (!hr_source_is_plain(old) || !PyBytes_Check(bytes)) {
        return hr_source_text(bytes);
    }
    const char *was = PyBytes_AS_STRING(old), *data = PyBytes_AS_STRING(bytes);
    Py_ssize_t was_len = PyBytes_GET_SIZE(old), len = PyBytes_GET_SIZE(bytes);
    hr_common_ends(was, was_len, data, len, common_prefix, common_suffix);
    Py_ssize_t prefix = *common_prefix, suffix = *common_suffix;
    /* Both lines a cookie may sit on, and a BOM, are in the common
     * beginning: the encoding is the old one, UTF-8. */
    if (prefix < line_end(data, len, line_end(data, len, 0))) {
        return hr_source_text(bytes);
    }
    /* From the newline before the first change to the first newline of
     * the common end: both newlines are the old text's, where a newline is
     * never inside a UTF-8 sequence, so what is before and after them is
     * valid as the old text is. */
    Py_ssize_t from = hr_line_start(data, prefix);
    Py_ssize_t to = line_end(data, len, len - suffix);
    if (memchr(data + from, '\r', (size_t)(to - from)) != NULL) {
        return hr_source_text(bytes);
    }
    PyObject *changed = PyUnicode_DecodeUTF8(data + from, to - from, "strict");
    if (changed == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            return NULL;
        }
        /* Decoded whole for the error, whose offset is then the file's. */
        PyErr_Clear();
        return hr_source_text(bytes);
    }
    Py_DECREF(changed);
    return Py_NewRef(bytes);
}

const char *
hr_text_utf8(PyObject *text, Py_ssize_t *len)
{
    if (PyBytes_Check(text)) {
        *len = PyBytes_GET_SIZE(text);
        return PyBytes_AS_STRING(text);
    }
    return PyUnicode_AsUTF8AndSize(text, len);
}

int
hr_is_future_import(const hr_stmt *st)
{
    return (st->traits & HR_TRAIT_FUTURE) != 0;
}

/* What a piece holds where the source is blanked out: a byte UTF-8 text
 * never contains, so that hr_compile_piece tells it from the statements
 * copied in (whose string literals may hold lines of spaces). */
#define FILLER '\xff'

/* Fills `buffer` with the source where every character but newlines is
 * FILLER: nothing runs, every line keeps its number. */
static void
blank(char *buffer, const char *text, Py_ssize_t len)
{
    for (Py_ssize_t k = 0; k < len; k++) {
        buffer[k] = text[k] == '\n' ? '\n' : FILLER;
    }
    buffer[len] = '\0';
}

/* Copies the `from __future__` statements: every compiled piece needs
 * these compiler directives. */
static void
copy_future_imports(char *buffer, const hr_unit *u)
{
    for (Py_ssize_t k = 0; k < u->new_stmts.count; k++) {
        const hr_stmt *st = &u->new_stmts.items[k];
        if (hr_is_future_import(st)) {
            memcpy(buffer + st->start, u->new_utf8 + st->start, st->end - st->start);
        }
    }
}

/* Starts the next piece to compile: the source blanked, with its
 * `from __future__` statements. */
void
hr_start_piece(char *buffer, const hr_unit *u)
{
    blank(buffer, u->new_utf8, u->new_len);
    copy_future_imports(buffer, u);
}

/* ------------------------------------------------------------------------ */
/* Code compiled away from its lines                                         */
/* ------------------------------------------------------------------------ */

/* A piece keeps its statements on the file's lines; the blank lines before
 * them cost the tokenizer about 30 ns each, 1.5 ms per piece at line
 * 50,000, as much as the rest of a one-body reload.  So a piece is
 * compiled without the blank lines before its first statement, and its
 * code moved down by as many lines afterwards: a code object's line table
 * is relative to its co_firstlineno on every supported version (run/lines.c
 * moves code the same way).  Below this many lines, moving costs more than
 * it saves. */
#define MOVE_FROM_LINES 64

PyObject *
hr_code_moved(PyObject *code, int delta, hr_identity *memo)
{
    PyObject *done = memo ? hr_identity_get(memo, code) : code;
    if (done != code) {
        return Py_NewRef(done);
    }
    PyObject *consts = PyObject_GetAttrString(code, "co_consts");
    PyObject *copy = NULL, *replace = NULL, *no_args = NULL, *kwargs = NULL, *moved = NULL;
    if (consts == NULL || !PyTuple_Check(consts)) {
        if (consts != NULL) {
            PyErr_SetString(PyExc_TypeError, "co_consts is not a tuple");
        }
        goto done;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(consts);
    if ((copy = PyTuple_New(n)) == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *item = PyTuple_GET_ITEM(consts, k);
        item = PyCode_Check(item) ? hr_code_moved(item, delta, memo) : Py_NewRef(item);
        if (item == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(copy, k, item);
    }
    replace = PyObject_GetAttrString(code, "replace");
    no_args = replace ? PyTuple_New(0) : NULL;
    kwargs = no_args ? Py_BuildValue("{sisO}", "co_firstlineno",
                                     ((PyCodeObject *)code)->co_firstlineno + delta,
                                     "co_consts", copy) : NULL;
    moved = kwargs ? PyObject_Call(replace, no_args, kwargs) : NULL;
    if (moved != NULL && (!PyCode_Check(moved)
                          || (memo != NULL && hr_identity_add(memo, code, moved) < 0))) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "code.replace() did not return a code object");
        }
        Py_CLEAR(moved);
    }
done:
    Py_XDECREF(consts);
    Py_XDECREF(copy);
    Py_XDECREF(replace);
    Py_XDECREF(no_args);
    Py_XDECREF(kwargs);
    return moved;
}

/* 1 when `code` or code nested in it is a class body that records its
 * first line (3.13's __firstlineno__, a constant the compiler shares with
 * any equal constant of the body): moving it would need that constant
 * changed, and with it the body's own. */
static int
records_first_line(PyObject *code)
{
#if HR_PY313
    PyObject *names = ((PyCodeObject *)code)->co_names;
    for (Py_ssize_t k = 0; names && PyTuple_Check(names) && k < PyTuple_GET_SIZE(names); k++) {
        PyObject *name = PyTuple_GET_ITEM(names, k);
        if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__firstlineno__") == 0) {
            return 1;
        }
    }
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t k = 0; consts && PyTuple_Check(consts) && k < PyTuple_GET_SIZE(consts); k++) {
        PyObject *inner = PyTuple_GET_ITEM(consts, k);
        if (PyCode_Check(inner) && records_first_line(inner)) {
            return 1;
        }
    }
#else
    (void)code;
#endif
    return 0;
}

/* New reference: `text` compiled as the file `filename`, then moved down
 * by `delta` lines; NULL with an exception when it does not compile.  With
 * `for_running`, code that cannot move (records_first_line) gives NULL
 * without an exception. */
static PyObject *
compile_moved(const char *text, PyObject *filename, int delta, int for_running)
{
    PyCompilerFlags flags = {PyCF_IGNORE_COOKIE, PY_MINOR_VERSION};
    PyObject *code = Py_CompileStringObject(text, filename, Py_file_input, &flags, -1);
    if (code == NULL || delta == 0) {
        return code;
    }
    if (for_running && records_first_line(code)) {
        Py_DECREF(code);
        return NULL;
    }
    Py_SETREF(code, hr_code_moved(code, delta, NULL));
    return code;
}

PyObject *
hr_compile_piece(const char *buffer, Py_ssize_t len, PyObject *filename)
{
    /* A line of filler alone becomes an empty line, and filler beside a
     * statement (after `a = 1; ` when only the second runs) a space: the
     * tokenizer reads one byte per blanked line instead of the whole
     * line, which made each piece of a large module cost as much as
     * compiling all of it, and nothing after the last statement. */
    char *squeezed = PyMem_Malloc(len + 1);
    if (squeezed == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t out = 0, kept = 0;  /* kept: the end of the last line with text */
    /* The blank lines between the `from __future__` lines and the first
     * statement: squeezed[gap : gap + lead] */
    Py_ssize_t gap = 0, lead = 0;
    int in_prelude = 1;
    static const char future[] = "from __future__ ";
    for (Py_ssize_t line = 0; line < len;) {
        Py_ssize_t end = line;
        int text = 0;
        while (end < len && buffer[end] != '\n') {
            text |= buffer[end] != FILLER;
            end++;
        }
        int future_line = text && in_prelude && end - line >= (Py_ssize_t)sizeof(future) - 1
                          && memcmp(buffer + line, future, sizeof(future) - 1) == 0;
        if (text && !future_line) {
            in_prelude = 0;
        }
        if (text) {
            for (Py_ssize_t k = line; k < end; k++) {
                squeezed[out++] = buffer[k] == FILLER ? ' ' : buffer[k];
            }
        }
        if (end < len) {
            squeezed[out++] = '\n';
        }
        if (text) {
            kept = out;
        }
        if (future_line) {
            gap = out;
            lead = 0;
        }
        else if (in_prelude) {
            lead++;  /* a blank line: squeezed[gap + lead - 1] is its newline */
        }
        line = end + 1;
    }
    squeezed[kept] = '\0';
    PyObject *code = NULL;
    if (lead >= MOVE_FROM_LINES && gap + lead <= kept) {
        memmove(squeezed + gap, squeezed + gap + lead, kept - gap - lead + 1);
        code = compile_moved(squeezed, filename, (int)lead, 1);
        if (code == NULL && !PyErr_Occurred()) {
            /* It cannot move: compiled on its lines after all. */
            memmove(squeezed + gap + lead, squeezed + gap, kept - gap - lead + 1);
            memset(squeezed + gap, '\n', lead);
        }
    }
    if (code == NULL && !PyErr_Occurred()) {
        code = compile_moved(squeezed, filename, 0, 1);
    }
    PyMem_Free(squeezed);
    return code;
}

/* The text of statement `st` of `stmts` (split from `utf8`) alone, from
 * its start, or from its head when `without_decorators` (a def's
 * decorators left out).  The `from __future__` lines before it, then the
 * statement from the start of its line, what precedes it there blanked:
 * no blank lines.  A new bytes object; *delta: how many lines its code
 * moves down to stand at its place in the file. */
static PyObject *
alone_text(const char *utf8, const hr_stmts *stmts, const hr_stmt *st, int without_decorators,
           int *delta)
{
    Py_ssize_t from = without_decorators ? st->head : st->start;
    int line = without_decorators ? st->head_line : st->line;
    Py_ssize_t size = 0, future_lines = 0;
    Py_ssize_t before = stmts->traits & HR_TRAIT_FUTURE ? stmts->count : 0;
    for (Py_ssize_t k = 0; k < before && stmts->items[k].start < st->start; k++) {
        const hr_stmt *other = &stmts->items[k];
        if (hr_is_future_import(other)) {
            size += other->end - other->start + 1;
        }
    }
    Py_ssize_t line_start = hr_line_start(utf8, from);
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, size + (st->end - line_start));
    if (bytes == NULL) {
        return NULL;
    }
    char *text = PyBytes_AS_STRING(bytes);
    Py_ssize_t out = 0;
    for (Py_ssize_t k = 0; k < before && stmts->items[k].start < st->start; k++) {
        const hr_stmt *other = &stmts->items[k];
        if (hr_is_future_import(other)) {
            Py_ssize_t n = other->end - other->start;
            memcpy(text + out, utf8 + other->start, n);
            out += n;
            if (n == 0 || text[out - 1] != '\n') {
                text[out++] = '\n';
            }
        }
    }
    for (Py_ssize_t k = 0; k < out; k++) {
        future_lines += text[k] == '\n';
    }
    memset(text + out, ' ', from - line_start);
    out += from - line_start;
    memcpy(text + out, utf8 + from, st->end - from);
    out += st->end - from;
    if (_PyBytes_Resize(&bytes, out) < 0) {
        return NULL;
    }
    *delta = line - 1 - (int)future_lines;
    return bytes;
}

/* New reference: the code the compile helper made of `text` for the
 * unit's file, at its lines (`delta` blank lines before it), or NULL (no
 * exception) when it made none (hotreload.ahead compiles what a reload
 * will compile, off the lock). */
static PyObject *
precompiled(const hr_unit *u, PyObject *text, int delta)
{
    if (u->precompiled == NULL || PyDict_GET_SIZE(u->precompiled) == 0) {
        return NULL;
    }
    PyObject *lines = PyLong_FromLong(delta);
    PyObject *key = lines ? PyTuple_Pack(3, u->path, text, lines) : NULL;
    PyObject *code = key ? PyDict_GetItemWithError(u->precompiled, key) : NULL;
    Py_XDECREF(key);
    Py_XDECREF(lines);
    /* Only code objects are put there (bind/module.c). */
    return code != NULL && PyCode_Check(code) ? Py_NewRef(code) : NULL;
}

PyObject *
hr_compile_alone(hr_unit *u, const hr_stmt *st)
{
    int delta;
    PyObject *text = alone_text(u->new_utf8, &u->new_stmts, st, 0, &delta);
    if (text == NULL) {
        return NULL;
    }
    PyObject *code = precompiled(u, text, delta);
    if (code == NULL && !PyErr_Occurred()) {
        code = compile_moved(PyBytes_AS_STRING(text), u->path, delta, 0);
    }
    Py_DECREF(text);
    return code;
}

PyObject *
hr_def_to_run(hr_unit *u, const hr_stmt *st, int without_decorators, int may_compile)
{
    assert(st->kind == HR_STMT_DEF);
    int delta;
    PyObject *text = alone_text(u->new_utf8, &u->new_stmts, st, without_decorators, &delta);
    if (text == NULL) {
        return NULL;
    }
    PyObject *code = precompiled(u, text, delta);
    if (code == NULL && !PyErr_Occurred() && may_compile) {
        code = compile_moved(PyBytes_AS_STRING(text), u->path, delta, 1);
    }
    Py_DECREF(text);
    return code;
}

PyObject *
hr_alone_texts(const char *old_utf8, Py_ssize_t old_len, const char *new_utf8, Py_ssize_t new_len)
{
    hr_stmts old_stmts = {0}, new_stmts = {0};
    PyObject *texts = PyList_New(0), *old_norms = NULL;
    if (texts == NULL || hr_split(old_utf8, 0, old_len, 0, 1, &old_stmts) < 0
        || hr_split(new_utf8, 0, new_len, 0, 1, &new_stmts) < 0
        || (old_norms = PySet_New(NULL)) == NULL) {
        goto error;
    }
    for (Py_ssize_t j = 0; j < old_stmts.count; j++) {
        if (PySet_Add(old_norms, old_stmts.items[j].norm) < 0) {
            goto error;
        }
    }
    for (Py_ssize_t i = 0; i < new_stmts.count; i++) {
        const hr_stmt *st = &new_stmts.items[i];
        int same = PySet_Contains(old_norms, st->norm);
        if (same < 0) {
            goto error;
        }
        if (same || (st->kind != HR_STMT_DEF && st->kind != HR_STMT_CLASS)) {
            continue;  /* unchanged, or compiled in a piece only */
        }
        /* What hr_compile_alone reads (a class) and hr_def_to_run runs:
         * the statement, and a decorated def without its decorators too. */
        int variants = st->kind == HR_STMT_DEF && st->head != st->start ? 2 : 1;
        for (int v = 0; v < variants; v++) {
            int delta;
            PyObject *text = alone_text(new_utf8, &new_stmts, st, v == 1, &delta);
            PyObject *job = text ? Py_BuildValue("(Oi)", text, delta) : NULL;
            int status = job ? PyList_Append(texts, job) : -1;
            Py_XDECREF(text);
            Py_XDECREF(job);
            if (status < 0) {
                goto error;
            }
        }
    }
    hr_stmts_clear(&old_stmts);
    hr_stmts_clear(&new_stmts);
    Py_DECREF(old_norms);
    return texts;
error:
    hr_stmts_clear(&old_stmts);
    hr_stmts_clear(&new_stmts);
    Py_XDECREF(old_norms);
    Py_XDECREF(texts);
    return NULL;
}
