/* The one internal header of the hotreload engine.
 *
 * Files and what they own:
 *   module.c      the binding: method table, module state, PEP 489 init
 *   statements.c  splitting a source text into top-level statements
 *   plan.c        deciding which statements of a new source run again
 *   execute.c     running them in a scratch namespace, finding what they made
 *   funcpatch.c   pouring a new function into a live one
 *   classpatch.c  patching a live class from a new one
 *   journal.c     reversible writes: the transaction's commit and rollback
 *   records.c     the import hook that records sources
 *   reload.c      one reload transaction over a batch of modules
 *
 * Ownership: every helper's comment says "new reference", "borrowed" or
 * "steals"; functions returning int give 0 on success and -1 with an
 * exception set on error, unless their comment says otherwise. */
#ifndef HR_HOTRELOAD_H
#define HR_HOTRELOAD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "compat.h"

/* ------------------------------------------------------------------------ */
/* statements.c: top-level statements of a source text                      */
/* ------------------------------------------------------------------------ */

typedef enum {
    HR_STMT_OTHER = 0, /* assignments, expressions, if/for/while/try/with... */
    HR_STMT_DEF,       /* def or async def, possibly decorated */
    HR_STMT_CLASS,     /* class, possibly decorated */
    HR_STMT_IMPORT,    /* import a.b [as c], ... */
    HR_STMT_FROM,      /* from x import y [as z], ... */
} hr_stmt_kind;

/* One statement of a block.  Offsets are byte offsets into the UTF-8 text
 * that was split.  The statement's text runs from `start` to `end`. */
typedef struct {
    hr_stmt_kind kind;
    Py_ssize_t start;     /* first character: the first '@' of a decorated def/class */
    Py_ssize_t end;       /* just past the newline ending its last line (or the text's end);
                             blank and comment-only lines after it are not included */
    Py_ssize_t head;      /* DEF/CLASS: start of the line holding the def/async/class keyword;
                             otherwise == start */
    Py_ssize_t name;      /* DEF/CLASS: offset of the defined name, else -1 */
    Py_ssize_t name_len;  /* DEF/CLASS: its length in bytes, else 0 */
    Py_ssize_t body;      /* DEF/CLASS: start of the first line of the indented body block,
                             or -1 when the body sits on the header line ("class A: pass") */
    int body_indent;      /* DEF/CLASS with an indented body: column of its statements, else -1 */
    int line;             /* 1-based line number of `start` */
    int head_line;        /* 1-based line number of `head` */
    /* Normalized text (new references, bytes): the statement with comments,
     * blank lines, trailing whitespace and line-continuation backslashes
     * removed, so that two statements compare equal exactly when they
     * differ only in those.  `norm_decorators` covers start..head (empty
     * bytes when undecorated), `norm` covers the whole statement. */
    PyObject *norm;
    PyObject *norm_decorators;
} hr_stmt;

typedef struct {
    hr_stmt *items;
    Py_ssize_t count;
    Py_ssize_t capacity;
} hr_stmts;

/* Splits text[from:to] into the statements of one block whose statements
 * start at column `indent` (0 for a module; a class's body_indent for its
 * body).  `first_line` is the line number of text[from].  `from` must be at
 * the start of a line.  Lines indented less than `indent` end the block:
 * the split stops there.  On success fills `out` (which must be zeroed or
 * previously cleared) and returns 0; on malformed input that a scanner
 * cannot follow (an unterminated string or bracket) it still returns 0 with
 * the rest of the text as one last OTHER statement: the compiler reports
 * the real error when that statement is compiled.  Returns -1 with an
 * exception set only on memory errors. */
int hr_split(const char *text, Py_ssize_t from, Py_ssize_t to, int indent,
             int first_line, hr_stmts *out);
/* Releases the references held by `stmts` and empties it. */
void hr_stmts_clear(hr_stmts *stmts);

/* For tests: splitting as Python data.  New reference: a list of dicts with
 * the fields above (offsets as ints, norm as bytes, kind as a str). */
PyObject *hr_split_to_list(PyObject *source_bytes, int indent);

#endif /* HR_HOTRELOAD_H */
