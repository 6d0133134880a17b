/* Splitting a source text into the statements of one block.
 *
 * A reload compares the old and the new source of a module statement by
 * statement; building `ast` objects for that costs more than the rest of a
 * reload together, so the text is scanned here in one linear pass instead.
 * The scanner knows just enough of Python's lexical rules (strings of every
 * form, f-string replacement fields, brackets, comments, backslash
 * continuations, indentation) to find where logical lines end, and decides
 * statement boundaries from the column at which each logical line starts.
 *
 * While scanning, each statement's normalized text is written into one
 * scratch buffer that is reused for every statement.  It can never outgrow
 * the text it comes from (normalizing only drops or shrinks bytes, except
 * for one '\n' added when the text ends without one), so the buffer is
 * sized once and the scanner itself has no failure paths for memory. */
#include "hotreload.h"

#include <string.h>

/* Bounds the recursion of the string scanner on hostile input: nesting
 * deeper than this is treated as malformed.  Each f-string level costs two
 * (the string and its replacement field), so this is above the 150 nested
 * f-strings CPython 3.12+ accepts. */
#define HR_MAX_STRING_NESTING 400

/* Python advances a tab to the next multiple of 8 columns. */
#define HR_TAB_SIZE 8

#define HR_INITIAL_CAPACITY 16

/* Result of scanning a token or a line.  Malformed input (an unterminated
 * string, bracket or replacement field) is not an error for the caller:
 * the compiler will report it with a proper message. */
typedef enum {
    SCAN_OK = 0,
    SCAN_MALFORMED = 1,
} scan_status;

/* Bits of a string prefix. */
enum {
    STR_RAW = 1,
    STR_FORMAT = 2, /* f-strings, and t-strings, which share their syntax (3.14) */
};

typedef struct {
    const char *text;
    Py_ssize_t pos;
    Py_ssize_t end;
    int line; /* line number of text[pos] */

    /* Normalized text of the statement being scanned. */
    char *norm;
    Py_ssize_t norm_cap;
    Py_ssize_t norm_len;
    /* norm_len just past the last byte that must survive the stripping of
     * trailing whitespace: whitespace is written as it comes, and dropped
     * again at the end of the line if nothing significant followed it. */
    Py_ssize_t norm_keep;
    /* The current physical line has written something significant, so its
     * end must be kept as a '\n'; blank and comment-only lines vanish. */
    int line_has_text;
} scanner;

/* What the first tokens of a logical line say about it. */
typedef enum {
    LINE_OTHER,
    LINE_DECORATOR,
    LINE_DEF,
    LINE_CLASS,
    LINE_IMPORT,
    LINE_FROM,
    LINE_CLAUSE, /* else, elif, except, finally: continues a compound statement */
} line_kind;

typedef struct {
    line_kind kind;
    Py_ssize_t name;     /* LINE_DEF, LINE_CLASS: offset of the defined name, else -1 */
    Py_ssize_t name_len;
} line_head;

/* The statement being collected.  Its norm fields stay NULL until it is
 * closed; only closed statements enter the output. */
typedef struct {
    int open;
    hr_stmt stmt;
    int awaiting_head;         /* decorators seen, the def/class line not yet */
    int awaiting_body;         /* the header ended with ':', the body comes next */
    Py_ssize_t decorators_len; /* norm length before the head line */
} pending_stmt;

/* ------------------------------------------------------------------------ */
/* Characters                                                               */
/* ------------------------------------------------------------------------ */

static inline int
is_newline(char c)
{
    return c == '\n' || c == '\r';
}

static inline int
is_inline_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static inline int
is_quote(char c)
{
    return c == '\'' || c == '"';
}

/* Every byte of a multi-byte UTF-8 sequence counts as part of a name: the
 * scanner never needs to know which non-ASCII characters Python accepts in
 * identifiers, since anything else there is a syntax error anyway. */
static inline int
is_name_char(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')
           || u == '_' || u >= 0x80;
}

static inline Py_ssize_t
name_end(const char *text, Py_ssize_t p, Py_ssize_t end)
{
    while (p < end && is_name_char(text[p])) {
        p++;
    }
    return p;
}

/* Skips the whitespace between two tokens of a logical line, including
 * backslash continuations, without counting lines: used only to peek at
 * the keywords that open a line. */
static Py_ssize_t
skip_token_space(const char *text, Py_ssize_t p, Py_ssize_t end)
{
    while (p < end) {
        if (is_inline_space(text[p])) {
            p++;
        }
        else if (text[p] == '\\' && p + 1 < end && is_newline(text[p + 1])) {
            p += (text[p + 1] == '\r' && p + 2 < end && text[p + 2] == '\n') ? 3 : 2;
        }
        else {
            break;
        }
    }
    return p;
}

static int
word_is(const char *text, Py_ssize_t p, Py_ssize_t q, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(q - p) == n && memcmp(text + p, word, n) == 0;
}

/* The STR_* bits of the string prefix text[p:q], or -1 when it is not one.
 * Python accepts r, u, b, f, br, rb, fr, rf in any case; t and tr/rt are
 * the template strings of 3.14, accepted here so that the scanner does not
 * lose its way in newer sources. */
static int
string_prefix(const char *text, Py_ssize_t p, Py_ssize_t q)
{
    int flags = 0, bytes = 0, unicode = 0;
    if (q - p > 2) {
        return -1;
    }
    for (; p < q; p++) {
        int bit;
        switch (text[p]) {
        case 'r': case 'R': bit = STR_RAW; break;
        case 'f': case 'F': case 't': case 'T': bit = STR_FORMAT; break;
        case 'b': case 'B': bytes++; continue;
        case 'u': case 'U': unicode++; continue;
        default: return -1;
        }
        if (flags & bit) {
            return -1;
        }
        flags |= bit;
    }
    if (bytes + unicode > 1 || (unicode && flags) || (bytes && (flags & STR_FORMAT))) {
        return -1;
    }
    return flags;
}

/* ------------------------------------------------------------------------ */
/* Moving through the text                                                  */
/* ------------------------------------------------------------------------ */

/* At a '\n', '\r' or "\r\n": steps over it. */
static inline void
skip_newline(scanner *s)
{
    if (s->text[s->pos] == '\r' && s->pos + 1 < s->end && s->text[s->pos + 1] == '\n') {
        s->pos++;
    }
    s->pos++;
    s->line++;
}

static inline void
skip_comment(scanner *s)
{
    while (s->pos < s->end && !is_newline(s->text[s->pos])) {
        s->pos++;
    }
}

/* The column reached after the indentation of the line starting at
 * `line_start`; *first is set to the first byte after that indentation. */
static Py_ssize_t
measure_indent(const scanner *s, Py_ssize_t line_start, Py_ssize_t *first)
{
    Py_ssize_t p = line_start, col = 0;
    for (; p < s->end; p++) {
        char c = s->text[p];
        if (c == ' ') {
            col++;
        }
        else if (c == '\t') {
            col = (col / HR_TAB_SIZE + 1) * HR_TAB_SIZE;
        }
        else if (c == '\f') {
            /* CPython's tokenizer resets the column at a form feed. */
            col = 0;
        }
        else {
            break;
        }
    }
    *first = p;
    return col;
}

/* ------------------------------------------------------------------------ */
/* Writing the normalized text                                              */
/* ------------------------------------------------------------------------ */

static inline void
emit_space(scanner *s, char c)
{
    assert(s->norm_len < s->norm_cap);
    s->norm[s->norm_len++] = c;
}

static inline void
emit_code(scanner *s, Py_ssize_t from, Py_ssize_t to)
{
    assert(to - from <= s->norm_cap - s->norm_len);
    memcpy(s->norm + s->norm_len, s->text + from, (size_t)(to - from));
    s->norm_len += to - from;
    s->norm_keep = s->norm_len;
    s->line_has_text = 1;
}

/* A string literal, kept byte for byte except for its line endings: the
 * compiler reads "\r\n" and "\r" inside strings as "\n" too, so a file that
 * only changed its line endings still compares equal. */
static void
emit_string(scanner *s, Py_ssize_t from, Py_ssize_t to)
{
    const char *text = s->text;
    for (Py_ssize_t p = from; p < to; p++) {
        char c = text[p];
        if (c == '\r') {
            if (p + 1 < to && text[p + 1] == '\n') {
                p++;
            }
            c = '\n';
        }
        assert(s->norm_len < s->norm_cap);
        s->norm[s->norm_len++] = c;
    }
    s->norm_keep = s->norm_len;
    s->line_has_text = 1;
}

/* At the end of a physical line outside any string: drops its trailing
 * whitespace, and the whole line when it held nothing but whitespace and
 * comments. */
static void
end_physical_line(scanner *s)
{
    s->norm_len = s->norm_keep;
    if (s->line_has_text) {
        assert(s->norm_len < s->norm_cap);
        s->norm[s->norm_len++] = '\n';
        s->norm_keep = s->norm_len;
        s->line_has_text = 0;
    }
}

static void
reset_norm(scanner *s)
{
    s->norm_len = 0;
    s->norm_keep = 0;
    s->line_has_text = 0;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

static scan_status scan_string(scanner *s, int flags, int nesting);

/* At a backslash inside a string literal (or a format spec): steps over the
 * escape sequence, as far as it matters for finding the string's end. */
static scan_status
skip_escape(scanner *s, int flags)
{
    const char *text = s->text;
    s->pos++;
    if (s->pos >= s->end) {
        return SCAN_MALFORMED;
    }
    char c = text[s->pos];
    if ((flags & STR_FORMAT) && (c == '{' || c == '}')) {
        /* A backslash does not escape a brace: "\{x}" still has a field. */
        return SCAN_OK;
    }
    if ((flags & (STR_FORMAT | STR_RAW)) == STR_FORMAT && c == 'N'
        && s->pos + 1 < s->end && text[s->pos + 1] == '{') {
        /* "\N{NAME}": these braces belong to the escape, not to a field. */
        s->pos += 2;
        while (s->pos < s->end && text[s->pos] != '}' && !is_newline(text[s->pos])) {
            s->pos++;
        }
        if (s->pos >= s->end || text[s->pos] != '}') {
            return SCAN_MALFORMED;
        }
        s->pos++;
        return SCAN_OK;
    }
    /* Otherwise the next character never ends the string, even in raw
     * strings (r"\"" is a valid literal); a newline after the backslash
     * continues the literal on the next line. */
    if (is_newline(c)) {
        skip_newline(s);
    }
    else {
        s->pos++;
    }
    return SCAN_OK;
}

/* After the '{' that opens an f-string replacement field: steps past its
 * closing '}'.  The expression may hold brackets, nested strings (with the
 * enclosing string's own quote since 3.12), comments and newlines (3.12);
 * a format spec after ':' may hold nested fields. */
static scan_status
scan_replacement_field(scanner *s, int flags, int triple, int nesting)
{
    const char *text = s->text;
    int depth = 0;

    if (nesting > HR_MAX_STRING_NESTING) {
        return SCAN_MALFORMED;
    }
    /* The expression. */
    for (;;) {
        if (s->pos >= s->end) {
            return SCAN_MALFORMED;
        }
        char c = text[s->pos];
        if (is_quote(c)) {
            if (scan_string(s, 0, nesting + 1) != SCAN_OK) {
                return SCAN_MALFORMED;
            }
        }
        else if (is_name_char(c)) {
            Py_ssize_t q = name_end(text, s->pos, s->end);
            int prefix = string_prefix(text, s->pos, q);
            s->pos = q;
            if (prefix >= 0 && q < s->end && is_quote(text[q])) {
                if (scan_string(s, prefix, nesting + 1) != SCAN_OK) {
                    return SCAN_MALFORMED;
                }
            }
        }
        else if (c == '#') {
            skip_comment(s);
        }
        else if (is_newline(c)) {
            skip_newline(s);
        }
        else if (c == '\\') {
            s->pos++;
            if (s->pos < s->end && is_newline(text[s->pos])) {
                skip_newline(s);
            }
        }
        else if (c == '(' || c == '[' || c == '{') {
            depth++;
            s->pos++;
        }
        else if (c == ')' || c == ']') {
            depth -= depth > 0;
            s->pos++;
        }
        else if (c == '}') {
            s->pos++;
            if (depth == 0) {
                return SCAN_OK;
            }
            depth--;
        }
        else if (c == ':' && depth == 0) {
            /* A walrus needs parentheses here, so this starts the spec. */
            s->pos++;
            break;
        }
        else {
            s->pos++;
        }
    }
    /* The format spec: literal text in which '{' always opens a nested
     * field (doubled braces are not escapes there). */
    for (;;) {
        if (s->pos >= s->end) {
            return SCAN_MALFORMED;
        }
        char c = text[s->pos];
        if (c == '}') {
            s->pos++;
            return SCAN_OK;
        }
        if (c == '{') {
            s->pos++;
            if (scan_replacement_field(s, flags, triple, nesting + 1) != SCAN_OK) {
                return SCAN_MALFORMED;
            }
        }
        else if (c == '\\') {
            if (skip_escape(s, flags) != SCAN_OK) {
                return SCAN_MALFORMED;
            }
        }
        else if (is_newline(c)) {
            if (!triple) {
                return SCAN_MALFORMED;
            }
            skip_newline(s);
        }
        else {
            s->pos++;
        }
    }
}

/* At the opening quote of a string literal whose prefix had the STR_*
 * `flags`: steps past its closing quote. */
static scan_status
scan_string(scanner *s, int flags, int nesting)
{
    const char *text = s->text;
    char quote = text[s->pos];
    int triple = s->pos + 2 < s->end && text[s->pos + 1] == quote && text[s->pos + 2] == quote;

    if (nesting > HR_MAX_STRING_NESTING) {
        return SCAN_MALFORMED;
    }
    s->pos += triple ? 3 : 1;
    for (;;) {
        if (s->pos >= s->end) {
            return SCAN_MALFORMED;
        }
        char c = text[s->pos];
        if (c == quote) {
            if (!triple) {
                s->pos++;
                return SCAN_OK;
            }
            if (s->pos + 2 < s->end && text[s->pos + 1] == quote && text[s->pos + 2] == quote) {
                s->pos += 3;
                return SCAN_OK;
            }
            s->pos++;
        }
        else if (c == '\\') {
            if (skip_escape(s, flags) != SCAN_OK) {
                return SCAN_MALFORMED;
            }
        }
        else if (is_newline(c)) {
            if (!triple) {
                return SCAN_MALFORMED;
            }
            skip_newline(s);
        }
        else if ((flags & STR_FORMAT) && c == '{') {
            if (s->pos + 1 < s->end && text[s->pos + 1] == '{') {
                s->pos += 2;
            }
            else {
                s->pos++;
                if (scan_replacement_field(s, flags, triple, nesting + 1) != SCAN_OK) {
                    return SCAN_MALFORMED;
                }
            }
        }
        else {
            /* A lone '}' in an f-string is an error the compiler reports;
             * "}}" needs no care since neither brace can end the string. */
            s->pos++;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Logical lines                                                            */
/* ------------------------------------------------------------------------ */

/* Scans one logical line, from its first token at s->pos (the line itself
 * starts at `line_start`) to just past the newline that ends it, writing
 * its normalized text.  *last is set to the last significant character
 * outside strings and comments, which tells whether a def or class header
 * ends with the ':' of an indented body. */
static scan_status
scan_logical_line(scanner *s, Py_ssize_t line_start, char *last)
{
    const char *text = s->text;
    int depth = 0;

    for (Py_ssize_t p = line_start; p < s->pos; p++) {
        emit_space(s, text[p]);
    }
    *last = '\0';
    for (;;) {
        if (s->pos >= s->end) {
            if (depth > 0) {
                return SCAN_MALFORMED;
            }
            end_physical_line(s);
            return SCAN_OK;
        }
        char c = text[s->pos];
        switch (c) {
        case ' ':
        case '\t':
        case '\f':
            emit_space(s, c);
            s->pos++;
            break;
        case '#':
            skip_comment(s);
            break;
        case '\n':
        case '\r':
            skip_newline(s);
            end_physical_line(s);
            if (depth == 0) {
                return SCAN_OK;
            }
            /* Inside brackets: the next line's indentation is written as
             * whitespace, and vanishes if the line turns out empty. */
            break;
        case '\\':
            if (s->pos + 1 < s->end && is_newline(text[s->pos + 1])) {
                /* Joins the lines: the continuation and the whitespace
                 * around it become one space, so that breaking a line
                 * with a backslash does not change the statement. */
                s->pos++;
                skip_newline(s);
                while (s->pos < s->end && is_inline_space(text[s->pos])) {
                    s->pos++;
                }
                s->norm_len = s->norm_keep;
                emit_space(s, ' ');
            }
            else {
                emit_code(s, s->pos, s->pos + 1);
                *last = c;
                s->pos++;
            }
            break;
        case '(':
        case '[':
        case '{':
            depth++;
            emit_code(s, s->pos, s->pos + 1);
            *last = c;
            s->pos++;
            break;
        case ')':
        case ']':
        case '}':
            depth -= depth > 0;
            emit_code(s, s->pos, s->pos + 1);
            *last = c;
            s->pos++;
            break;
        case '\'':
        case '"': {
            Py_ssize_t token = s->pos;
            if (scan_string(s, 0, 0) != SCAN_OK) {
                return SCAN_MALFORMED;
            }
            emit_string(s, token, s->pos);
            *last = c;
            break;
        }
        default:
            if (is_name_char(c)) {
                Py_ssize_t token = s->pos;
                Py_ssize_t q = name_end(text, token, s->end);
                int prefix = string_prefix(text, token, q);
                if (prefix >= 0 && q < s->end && is_quote(text[q])) {
                    s->pos = q;
                    *last = text[q];
                    if (scan_string(s, prefix, 0) != SCAN_OK) {
                        return SCAN_MALFORMED;
                    }
                    emit_string(s, token, s->pos);
                }
                else {
                    emit_code(s, token, q);
                    *last = text[q - 1];
                    s->pos = q;
                }
            }
            else {
                emit_code(s, s->pos, s->pos + 1);
                *last = c;
                s->pos++;
            }
            break;
        }
    }
}

/* What the first tokens of the logical line at p say about it. */
static line_head
classify_line(const char *text, Py_ssize_t p, Py_ssize_t end)
{
    line_head head = {LINE_OTHER, -1, 0};
    Py_ssize_t q;

    if (text[p] == '@') {
        head.kind = LINE_DECORATOR;
        return head;
    }
    q = name_end(text, p, end);
    if (word_is(text, p, q, "async")) {
        p = skip_token_space(text, q, end);
        q = name_end(text, p, end);
        if (!word_is(text, p, q, "def")) {
            return head;
        }
    }
    if (word_is(text, p, q, "def")) {
        head.kind = LINE_DEF;
    }
    else if (word_is(text, p, q, "class")) {
        head.kind = LINE_CLASS;
    }
    else if (word_is(text, p, q, "import")) {
        head.kind = LINE_IMPORT;
    }
    else if (word_is(text, p, q, "from")) {
        head.kind = LINE_FROM;
    }
    else if (word_is(text, p, q, "else") || word_is(text, p, q, "elif")
             || word_is(text, p, q, "except") || word_is(text, p, q, "finally")) {
        head.kind = LINE_CLAUSE;
    }
    if (head.kind == LINE_DEF || head.kind == LINE_CLASS) {
        p = skip_token_space(text, q, end);
        q = name_end(text, p, end);
        if (q > p) {
            head.name = p;
            head.name_len = q - p;
        }
    }
    return head;
}

/* ------------------------------------------------------------------------ */
/* Statements                                                               */
/* ------------------------------------------------------------------------ */

/* Makes room in `out` for `extra` more statements. */
static int
reserve_stmts(hr_stmts *out, Py_ssize_t extra)
{
    if (extra <= out->capacity - out->count) {
        return 0;
    }
    hr_stmt *items = hr_array_grow(out->items, sizeof(hr_stmt), out->count + extra,
                                   &out->capacity, HR_INITIAL_CAPACITY);
    if (items == NULL) {
        return -1;
    }
    out->items = items;
    return 0;
}

static int
append_stmt(hr_stmts *out, const hr_stmt *stmt)
{
    if (reserve_stmts(out, 1) < 0) {
        return -1;
    }
    out->items[out->count++] = *stmt;
    out->traits |= stmt->traits;
    return 0;
}

/* 1 when normalized text `norm` assigns to `name` ("name = ...",
 * "name: ... = ..."). */
static int
assigns(const char *norm, Py_ssize_t len, const char *name, size_t name_len)
{
    return (size_t)len > name_len && memcmp(norm, name, name_len) == 0
           && (norm[name_len] == ' ' || norm[name_len] == '=' || norm[name_len] == ':');
}

/* The HR_TRAIT_* bits of a statement of kind `kind` whose normalized text
 * is `norm`. */
static unsigned char
traits_of(hr_stmt_kind kind, const char *norm, Py_ssize_t len)
{
    static const char keep[] = "__reload_keep__", update[] = "__reload_update__";
    static const char future[] = "from __future__ ";
    if (kind == HR_STMT_FROM) {
        return len > (Py_ssize_t)sizeof(future) - 1
               && memcmp(norm, future, sizeof(future) - 1) == 0 ? HR_TRAIT_FUTURE : 0;
    }
    if (kind == HR_STMT_CLASS) {
        return hr_memmem(norm, len, update, sizeof(update) - 1) != NULL
               ? HR_TRAIT_NAMES_UPDATE : 0;
    }
    if (kind != HR_STMT_OTHER) {
        return 0;
    }
    while (len > 0 && (*norm == ' ' || *norm == '\t')) {  /* a class member's indentation */
        norm++;
        len--;
    }
    int del = len > 4 && memcmp(norm, "del", 3) == 0 && (norm[3] == ' ' || norm[3] == '(');
    return (unsigned char)((del ? HR_TRAIT_DEL : 0)
                           | (assigns(norm, len, keep, sizeof(keep) - 1)
                              ? HR_TRAIT_DECLARES_KEEP : 0)
                           | (assigns(norm, len, update, sizeof(update) - 1)
                              ? HR_TRAIT_DECLARES_UPDATE : 0));
}

/* Moves the statement into `out` with its normalized texts, `norm` being
 * given explicitly so that a malformed statement can use its raw text. */
static int
close_stmt(pending_stmt *cur, const char *norm, Py_ssize_t norm_len,
           Py_ssize_t decorators_len, hr_stmts *out)
{
    hr_stmt stmt = cur->stmt;
    int result = -1;

    cur->open = 0;
    stmt.norm = PyBytes_FromStringAndSize(norm, norm_len);
    if (stmt.norm == NULL) {
        goto done;
    }
    stmt.norm_decorators = PyBytes_FromStringAndSize(norm, decorators_len);
    if (stmt.norm_decorators == NULL) {
        goto done;
    }
    stmt.traits = traits_of(stmt.kind, norm, norm_len);
    if (append_stmt(out, &stmt) < 0) {
        goto done;
    }
    result = 0;
done:
    if (result < 0) {
        Py_XDECREF(stmt.norm);
        Py_XDECREF(stmt.norm_decorators);
    }
    return result;
}

/* The line holding the def or class keyword, at p. */
static void
set_head(pending_stmt *cur, const scanner *s, Py_ssize_t p, line_head head)
{
    cur->stmt.kind = head.kind == LINE_DEF ? HR_STMT_DEF : HR_STMT_CLASS;
    cur->stmt.head = p;
    cur->stmt.head_line = s->line;
    cur->stmt.name = head.name;
    cur->stmt.name_len = head.name_len;
    cur->decorators_len = s->norm_len;
    cur->awaiting_head = 0;
}

/* Closes the open statement (if any) and opens one whose first line starts
 * with the token at p. */
static int
start_stmt(pending_stmt *cur, scanner *s, Py_ssize_t p, line_head head, hr_stmts *out)
{
    if (cur->open && close_stmt(cur, s->norm, s->norm_len, cur->decorators_len, out) < 0) {
        return -1;
    }
    reset_norm(s);
    memset(cur, 0, sizeof(*cur));
    cur->open = 1;
    cur->stmt.kind = HR_STMT_OTHER;
    cur->stmt.start = cur->stmt.end = cur->stmt.head = p;
    cur->stmt.name = -1;
    cur->stmt.body = -1;
    cur->stmt.body_indent = -1;
    cur->stmt.line = cur->stmt.head_line = s->line;
    switch (head.kind) {
    case LINE_DECORATOR: cur->awaiting_head = 1; break;
    case LINE_DEF:
    case LINE_CLASS: set_head(cur, s, p, head); break;
    case LINE_IMPORT: cur->stmt.kind = HR_STMT_IMPORT; break;
    case LINE_FROM: cur->stmt.kind = HR_STMT_FROM; break;
    default: break;
    }
    return 0;
}

/* 1 when a code line at column `col` opening with `head` belongs to the
 * open statement: its body, a clause such as else/except, or the def or
 * class that its decorators decorate. */
static int
continues_stmt(const pending_stmt *cur, Py_ssize_t col, int indent, line_head head)
{
    if (!cur->open) {
        return 0;
    }
    if (col > indent) {
        return 1;
    }
    if (cur->awaiting_head) {
        return head.kind == LINE_DECORATOR || head.kind == LINE_DEF || head.kind == LINE_CLASS;
    }
    return head.kind == LINE_CLAUSE;
}

/* Adds the code line starting at line_start (first token at p, column col)
 * to the open statement.  Returns 1 when the line is the statement's def or
 * class header. */
static int
extend_stmt(pending_stmt *cur, const scanner *s, Py_ssize_t line_start, Py_ssize_t p,
            Py_ssize_t col, int indent, line_head head)
{
    if (cur->awaiting_body) {
        cur->awaiting_body = 0;
        /* Anything but a deeper line here is a syntax error: no body. */
        if (col > indent) {
            cur->stmt.body = line_start;
            cur->stmt.body_indent = col > INT_MAX ? INT_MAX : (int)col;
        }
    }
    if (cur->awaiting_head && (head.kind == LINE_DEF || head.kind == LINE_CLASS)) {
        set_head(cur, s, p, head);
        return 1;
    }
    return 0;
}

/* Turns the statement into one OTHER statement running to `to`: after a
 * malformed line, where lines end is unknown. */
static void
make_raw(pending_stmt *cur, Py_ssize_t to)
{
    cur->stmt.kind = HR_STMT_OTHER;
    cur->stmt.end = to;
    cur->stmt.head = cur->stmt.start;
    cur->stmt.head_line = cur->stmt.line;
    cur->stmt.name = -1;
    cur->stmt.name_len = 0;
    cur->stmt.body = -1;
    cur->stmt.body_indent = -1;
}

/* At the start of a line: 1 when it holds code, with *first at its first
 * token and *col that token's column; otherwise steps over the blank or
 * comment-only line and returns 0. */
static int
find_code_line(scanner *s, Py_ssize_t *first, Py_ssize_t *col)
{
    *col = measure_indent(s, s->pos, first);
    if (*first < s->end && s->text[*first] != '#' && !is_newline(s->text[*first])) {
        return 1;
    }
    s->pos = *first;
    skip_comment(s);
    if (s->pos < s->end) {
        skip_newline(s);
    }
    return 0;
}

/* Where a split of a new text may stop and take the rest from the split
 * of the old one (hr_split_again): the two texts end alike from `from` on
 * in the new one, `shift` bytes further than in the old one. */
typedef struct {
    hr_stmts *old;  /* lends its statements (append_moved) */
    Py_ssize_t from;
    Py_ssize_t shift;
} same_end;

/* The index of the old statement that starts at `at`, or -1. */
static Py_ssize_t
old_stmt_at(const hr_stmts *old, Py_ssize_t at)
{
    Py_ssize_t lo = 0, hi = old->count;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (old->items[mid].start < at) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < old->count && old->items[lo].start == at ? lo : -1;
}

/* Appends old statements j to end - 1 to `out`, moved by `shift` bytes
 * and `lines` lines.  The references they hold go to `out` without a
 * reference count being touched: a one-body edit of a large module moves
 * thousands of statements whose texts are cold in memory by then, and
 * loading each object's count costs more than the rest of the move.  The
 * old entry keeps its pointers, lent (see hr_stmt.lent); one already lent
 * lends nothing again, and its copy takes references of its own. */
static int
append_moved(hr_stmts *out, hr_stmts *old, Py_ssize_t j, Py_ssize_t end,
             Py_ssize_t shift, int lines)
{
    if (reserve_stmts(out, end - j) < 0) {
        return -1;
    }
    for (; j < end; j++) {
        hr_stmt *from = &old->items[j];
        hr_stmt stmt = *from;
        stmt.start += shift;
        stmt.end += shift;
        stmt.head += shift;
        stmt.name = stmt.name >= 0 ? stmt.name + shift : -1;
        stmt.body = stmt.body >= 0 ? stmt.body + shift : -1;
        stmt.line += lines;
        stmt.head_line += lines;
        stmt.lent = 0;
        if (from->lent) {
            Py_INCREF(stmt.norm);
            Py_INCREF(stmt.norm_decorators);
            Py_XINCREF(stmt.memo_bound);
            Py_XINCREF(stmt.memo_reads);
        }
        else {
            from->lent = (unsigned char)(HR_LENT_NORMS
                                         | (stmt.memo_bound != NULL ? HR_LENT_BOUND : 0)
                                         | (stmt.memo_reads != NULL ? HR_LENT_READS : 0));
        }
        out->items[out->count++] = stmt;  /* room reserved above */
        out->traits |= stmt.traits;
    }
    return 0;
}

static int split_block(const char *text, Py_ssize_t from, Py_ssize_t to, int indent,
                       int first_line, const same_end *tail, Py_ssize_t *taken, hr_stmts *out);

int
hr_split(const char *text, Py_ssize_t from, Py_ssize_t to, int indent,
         int first_line, hr_stmts *out)
{
    return split_block(text, from, to, indent, first_line, NULL, NULL, out);
}

void
hr_common_ends(const char *old_text, Py_ssize_t old_len, const char *text, Py_ssize_t len,
               Py_ssize_t *common_prefix, Py_ssize_t *common_suffix)
{
    Py_ssize_t limit = old_len < len ? old_len : len;
    Py_ssize_t prefix = 0, suffix = 0;
    /* Block by block with memcmp (vectorized), then byte by byte. */
    enum { BLOCK = 4096 };
    while (prefix + BLOCK <= limit && memcmp(old_text + prefix, text + prefix, BLOCK) == 0) {
        prefix += BLOCK;
    }
    while (prefix < limit && old_text[prefix] == text[prefix]) {
        prefix++;
    }
    while (suffix + BLOCK <= limit - prefix
           && memcmp(old_text + old_len - suffix - BLOCK, text + len - suffix - BLOCK,
                     BLOCK) == 0) {
        suffix += BLOCK;
    }
    while (suffix < limit - prefix && old_text[old_len - 1 - suffix] == text[len - 1 - suffix]) {
        suffix++;
    }
    *common_prefix = prefix;
    *common_suffix = suffix;
}

int
hr_count_lines(const char *text, Py_ssize_t from, Py_ssize_t to)
{
    int lines = 0;
    for (Py_ssize_t p = from; p < to; p++) {
        if (text[p] == '\n' || (text[p] == '\r' && (p + 1 >= to || text[p + 1] != '\n'))) {
            lines++;
        }
    }
    return lines;
}

/* 1 when module-level statement `st` of `text` ends where it ends in the
 * old text (of `old_len` bytes), whose common beginning holds it whole:
 * its last line ends with a '\n' (not a '\r' a '\n' may join) before the
 * old text's end (where a statement the scanner could not follow ends),
 * and the first code line after it in `text` opens a statement of its own
 * (at column 0, and no clause such as `else:`), or there is none.  A
 * statement of decorators alone (a def may follow) is not. */
static int
ends_before_next(const char *text, Py_ssize_t len, Py_ssize_t old_len, const hr_stmt *st)
{
    if (st->end <= st->start || st->end >= old_len || text[st->end - 1] != '\n'
        || (st->kind == HR_STMT_OTHER && text[st->start] == '@')) {
        return 0;
    }
    scanner s = {0};
    s.text = text;
    s.pos = st->end;
    s.end = len;
    while (s.pos < s.end) {
        Py_ssize_t first, col;
        if (find_code_line(&s, &first, &col)) {
            return col == 0 && classify_line(text, first, len).kind != LINE_CLAUSE;
        }
    }
    return 1;
}

int
hr_split_again(Py_ssize_t old_len, hr_stmts *old,
               const char *text, Py_ssize_t len, Py_ssize_t prefix, Py_ssize_t suffix,
               hr_stmts *out)
{
    /* The old statements that end in the common beginning are the new
     * text's too.  The last of them, only when what follows it in the new
     * text does not continue it: the first line after a statement decides
     * where it ends (an `else:` continues an `if`, an indented line a
     * def).  Otherwise the split starts again at that one, whose first
     * line is all there. */
    Py_ssize_t kept = 0, hi = old->count;  /* the first that ends past it */
    while (kept < hi) {
        Py_ssize_t mid = kept + (hi - kept) / 2;
        if (old->items[mid].end <= prefix) {
            kept = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    Py_ssize_t from = 0;
    int line = 1;
    if (kept > 0 && ends_before_next(text, len, old_len, &old->items[kept - 1])) {
        const hr_stmt *last = &old->items[kept - 1];
        from = last->end;
        line = last->line + hr_count_lines(text, last->start, last->end);
    }
    else if (kept > 1) {
        kept--;
        from = hr_line_start(text, old->items[kept].start);
        line = old->items[kept].line;
    }
    else {
        kept = 0;
    }
    /* Sized once for a text about as long as the old one. */
    if (reserve_stmts(out, old->count) < 0 || append_moved(out, old, 0, kept, 0, 0) < 0) {
        return -1;
    }
    same_end tail = {old, len - suffix, len - old_len};
    Py_ssize_t taken = -1;
    if (split_block(text, from, len, 0, line, &tail, &taken, out) < 0) {
        return -1;
    }
    out->same_as = old;
    out->same_head = kept;
    out->same_tail = taken >= 0 ? old->count - taken : 0;
    return 0;
}

/* Splits text[from:to] (see hr_split).  With `tail`, a statement starting
 * where the new text ends as the old one does, at the start of an old
 * statement, ends the split: the old statements from there on are the
 * rest, moved, since the same text split from the same state splits the
 * same; *taken is then the index of the first of them. */
static int
split_block(const char *text, Py_ssize_t from, Py_ssize_t to, int indent,
            int first_line, const same_end *tail, Py_ssize_t *taken, hr_stmts *out)
{
    scanner s = {0};
    pending_stmt cur = {0};
    int result = -1;

    assert(text != NULL && from >= 0 && out != NULL);
    if (to <= from) {
        return 0;
    }
    s.text = text;
    s.pos = from;
    s.end = to;
    s.line = first_line;
    s.norm_cap = to - from + 1;
    s.norm = PyMem_Malloc((size_t)s.norm_cap);
    if (s.norm == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* The compiler skips a UTF-8 byte order mark at the top of a file. */
    if (from == 0 && to >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        s.pos = 3;
    }

    while (s.pos < s.end) {
        Py_ssize_t line_start = s.pos, first, col;
        int is_header;
        char last;

        if (!find_code_line(&s, &first, &col)) {
            continue;
        }
        if (col < indent) {
            break;
        }
        line_head head = classify_line(text, first, s.end);
        if (continues_stmt(&cur, col, indent, head)) {
            is_header = extend_stmt(&cur, &s, line_start, first, col, indent, head);
        }
        else {
            /* Its whole line, and the newline before it, in the common end:
             * what precedes a statement on its line is part of its text. */
            Py_ssize_t same = tail != NULL && line_start > tail->from
                              ? old_stmt_at(tail->old, first - tail->shift) : -1;
            if (same >= 0) {
                if (cur.open && close_stmt(&cur, s.norm, s.norm_len, cur.decorators_len, out) < 0) {
                    goto done;
                }
                result = append_moved(out, tail->old, same, tail->old->count, tail->shift,
                                      s.line - tail->old->items[same].line);
                *taken = same;
                goto done;
            }
            if (start_stmt(&cur, &s, first, head, out) < 0) {
                goto done;
            }
            is_header = head.kind == LINE_DEF || head.kind == LINE_CLASS;
        }
        s.pos = first;
        if (scan_logical_line(&s, line_start, &last) != SCAN_OK) {
            make_raw(&cur, to);
            goto malformed;
        }
        cur.stmt.end = s.pos;
        if (is_header) {
            /* Otherwise the body sits on the header line. */
            cur.awaiting_body = last == ':';
        }
    }
    if (cur.open && close_stmt(&cur, s.norm, s.norm_len, cur.decorators_len, out) < 0) {
        goto done;
    }
    result = 0;
    goto done;

malformed:
    /* The rest of the text is one last statement, kept raw: the compiler
     * will say what is wrong with it. */
    result = close_stmt(&cur, text + cur.stmt.start, to - cur.stmt.start, 0, out);
done:
    PyMem_Free(s.norm);
    return result;
}

int
hr_split_body(const char *text, const hr_stmt *st, hr_stmts *out)
{
    int line = st->head_line;
    for (Py_ssize_t k = st->head; k < st->body; k++) {
        line += text[k] == '\n';
    }
    return hr_split(text, st->body, st->end, st->body_indent, line, out);
}

void
hr_stmts_clear(hr_stmts *stmts)
{
    for (Py_ssize_t i = 0; i < stmts->count; i++) {
        hr_stmt *st = &stmts->items[i];
        if (!(st->lent & HR_LENT_NORMS)) {
            Py_CLEAR(st->norm);
            Py_CLEAR(st->norm_decorators);
        }
        if (!(st->lent & HR_LENT_BOUND)) {
            Py_CLEAR(st->memo_bound);
        }
        if (!(st->lent & HR_LENT_READS)) {
            Py_CLEAR(st->memo_reads);
        }
    }
    PyMem_Free(stmts->items);
    stmts->items = NULL;
    stmts->count = 0;
    stmts->capacity = 0;
    Py_CLEAR(stmts->by_name[0]);
    Py_CLEAR(stmts->by_name[1]);
    stmts->same_as = NULL;
    stmts->same_head = stmts->same_tail = 0;
    stmts->scans = 0;
    stmts->traits = 0;
}

/* ------------------------------------------------------------------------ */
/* As Python data, for tests                                                */
/* ------------------------------------------------------------------------ */

/* Steals `value`. */
static int
set_field(PyObject *dict, const char *key, PyObject *value)
{
    int result;
    if (value == NULL) {
        return -1;
    }
    result = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return result;
}

static const char *
kind_name(hr_stmt_kind kind)
{
    switch (kind) {
    case HR_STMT_DEF: return "def";
    case HR_STMT_CLASS: return "class";
    case HR_STMT_IMPORT: return "import";
    case HR_STMT_FROM: return "from";
    default: return "other";
    }
}

/* New reference: one statement as a dict. */
static PyObject *
stmt_to_dict(const char *text, const hr_stmt *stmt)
{
    PyObject *dict = PyDict_New(), *name;
    if (dict == NULL) {
        return NULL;
    }
    if (stmt->name >= 0) {
        /* Never fails on bytes that are not UTF-8: tests feed any bytes. */
        name = PyUnicode_DecodeUTF8(text + stmt->name, stmt->name_len, "surrogateescape");
    }
    else {
        name = Py_NewRef(Py_None);
    }
    if (set_field(dict, "kind", PyUnicode_FromString(kind_name(stmt->kind))) < 0
        || set_field(dict, "start", PyLong_FromSsize_t(stmt->start)) < 0
        || set_field(dict, "end", PyLong_FromSsize_t(stmt->end)) < 0
        || set_field(dict, "head", PyLong_FromSsize_t(stmt->head)) < 0
        || set_field(dict, "name", name) < 0
        || set_field(dict, "body", PyLong_FromSsize_t(stmt->body)) < 0
        || set_field(dict, "body_indent", PyLong_FromLong(stmt->body_indent)) < 0
        || set_field(dict, "line", PyLong_FromLong(stmt->line)) < 0
        || set_field(dict, "head_line", PyLong_FromLong(stmt->head_line)) < 0
        || set_field(dict, "norm", Py_NewRef(stmt->norm)) < 0
        || set_field(dict, "norm_decorators", Py_NewRef(stmt->norm_decorators)) < 0) {
        Py_DECREF(dict);
        return NULL;
    }
    return dict;
}

PyObject *
hr_split_to_list(PyObject *source_bytes, int indent)
{
    hr_stmts stmts = {0};
    PyObject *list = NULL;

    if (!PyBytes_Check(source_bytes)) {
        PyErr_Format(PyExc_TypeError, "expected bytes, got %.200s",
                     Py_TYPE(source_bytes)->tp_name);
        return NULL;
    }
    if (indent < 0) {
        PyErr_SetString(PyExc_ValueError, "indent must not be negative");
        return NULL;
    }
    const char *text = PyBytes_AS_STRING(source_bytes);
    if (hr_split(text, 0, PyBytes_GET_SIZE(source_bytes), indent, 1, &stmts) < 0) {
        goto done;
    }
    list = PyList_New(stmts.count);
    if (list == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < stmts.count; i++) {
        PyObject *item = stmt_to_dict(text, &stmts.items[i]);
        if (item == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, i, item);
    }
done:
    hr_stmts_clear(&stmts);
    return list;
}

PyObject *
hr_split_again_to_list(PyObject *old_bytes, PyObject *new_bytes)
{
    hr_stmts old = {0}, stmts = {0};
    PyObject *list = NULL;
    if (!PyBytes_Check(old_bytes) || !PyBytes_Check(new_bytes)) {
        PyErr_SetString(PyExc_TypeError, "expected bytes");
        return NULL;
    }
    const char *old_text = PyBytes_AS_STRING(old_bytes), *text = PyBytes_AS_STRING(new_bytes);
    Py_ssize_t old_len = PyBytes_GET_SIZE(old_bytes), len = PyBytes_GET_SIZE(new_bytes);
    Py_ssize_t prefix, suffix;
    hr_common_ends(old_text, old_len, text, len, &prefix, &suffix);
    if (hr_split(old_text, 0, old_len, 0, 1, &old) < 0
        || hr_split_again(old_len, &old, text, len, prefix, suffix, &stmts) < 0) {
        goto done;
    }
    list = PyList_New(stmts.count);
    for (Py_ssize_t i = 0; list != NULL && i < stmts.count; i++) {
        PyObject *item = stmt_to_dict(text, &stmts.items[i]);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
done:
    hr_stmts_clear(&old);
    hr_stmts_clear(&stmts);
    return list;
}

/* A few lookups scan the statements (a one-body edit asks about one
 * name); more index them. */
#define SCANS_BEFORE_INDEX 8

/* Borrowed: the last def/class statement of `kind` named `name`, or NULL
 * (with an exception set only when the name cannot be encoded, or on
 * error).  After a few lookups the names are indexed: the diff asks about
 * every name of the module, and a scan per name made it quadratic. */
const hr_stmt *
hr_find_definition(const char *text, const hr_stmts *stmts, hr_stmt_kind kind, PyObject *name)
{
    int which = kind == HR_STMT_CLASS;
    if (kind != HR_STMT_DEF && kind != HR_STMT_CLASS) {
        return NULL;
    }
    /* The index is a cache of what the statements say: built here. */
    hr_stmts *cached = (hr_stmts *)stmts;
    if (cached->by_name[which] == NULL && cached->scans < SCANS_BEFORE_INDEX) {
        cached->scans++;
        Py_ssize_t len;
        const char *utf8 = PyUnicode_AsUTF8AndSize(name, &len);
        if (utf8 == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = stmts->count - 1; i >= 0; i--) {
            const hr_stmt *st = &stmts->items[i];
            if (st->kind == kind && st->name_len == len
                && memcmp(text + st->name, utf8, len) == 0) {
                return st;
            }
        }
        return NULL;
    }
    if (cached->by_name[which] == NULL) {
        PyObject *index = PyDict_New();
        for (Py_ssize_t i = 0; index != NULL && i < stmts->count; i++) {
            const hr_stmt *st = &stmts->items[i];
            if (st->kind != kind) {
                continue;
            }
            PyObject *key = PyUnicode_DecodeUTF8(text + st->name, st->name_len, NULL);
            PyObject *at = key ? PyLong_FromSsize_t(i) : NULL;
            if (at == NULL || PyDict_SetItem(index, key, at) < 0) {
                Py_CLEAR(index);
            }
            Py_XDECREF(key);
            Py_XDECREF(at);
        }
        if (index == NULL) {
            return NULL;
        }
        cached->by_name[which] = index;
    }
    PyObject *at = PyDict_GetItemWithError(stmts->by_name[which], name);
    if (at == NULL) {
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(at);
    return i >= 0 && i < stmts->count ? &stmts->items[i] : NULL;
}
