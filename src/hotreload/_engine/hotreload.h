/* The one internal header of the hotreload engine.
 *
 * A reload is a pipeline; each stage is a folder, and data passes through
 * them one way.  A file calls only files of its own folder and of the
 * folders before it, never in a circle (tools/layers.py checks both):
 *
 *   bind/     Python module, C API, import hook     call the entry points
 *      |                                              of reload/ only
 *   reload/   one transaction over a batch: resolve, order, then per module
 *      |      text -> run, then the commit and the hooks; undo on failure
 *      v
 *   text/     source text -> statements -> names -> the plan (which
 *      |      statements run again; what a changed class keeps): no write
 *      v
 *   run/      the planned statements run in a scratch namespace; what they
 *      |      made -> typed actions (run/actions.c): no live object written
 *      v
 *   commit/   actions applied through the journal, the only code that
 *             writes live objects; rollback
 *
 *   base/     what every stage shares: module state, ReloadError, records and
 *             the folder policy, the identity map, the heap walk, the one
 *             writer of function fields, reading wrappers
 *
 * This header follows the same order: first the data the stages pass along
 * (Part 1), then what each folder offers the folders above it (Part 2).
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

/* ======================================================================== */
/* Part 1: the data the layers pass along, lowest layer first               */
/* ======================================================================== */

/* ------------------------------------------------------------------------ */
/* base/: module state, records, identity map, heap walk, function fields   */
/* ------------------------------------------------------------------------ */

/* The names the engine hands to CPython's own setters, interned once at
 * module init (state->strings): no write, and no undo, allocates one. */
typedef enum {
    HR_STR_ABSTRACTMETHODS,  /* __abstractmethods__ */
    HR_STR_BASES,            /* __bases__ */
    HR_STR_CLASS,            /* __class__ */
    HR_STR_DOC,              /* __doc__ */
    HR_STR_COUNT
} hr_string;

/* The syntax-tree node classes the engine tells apart, by identity (the
 * classes of the `_ast` module, loaded once into state->ast_types). */
typedef enum {
    HR_AST_AST, HR_AST_NAME, HR_AST_LOAD, HR_AST_STORE, HR_AST_DEL, HR_AST_FUNCTIONDEF,
    HR_AST_ASYNCFUNCTIONDEF, HR_AST_LAMBDA, HR_AST_CLASSDEF, HR_AST_IMPORT, HR_AST_IMPORTFROM,
    HR_AST_EXCEPTHANDLER, HR_AST_GLOBAL, HR_AST_NONLOCAL, HR_AST_MATCHAS, HR_AST_MATCHSTAR,
    HR_AST_MATCHMAPPING, HR_AST_FOR, HR_AST_ASYNCFOR, HR_AST_CALL, HR_AST_ATTRIBUTE,
    HR_AST_SUBSCRIPT, HR_AST_LISTCOMP, HR_AST_SETCOMP, HR_AST_DICTCOMP, HR_AST_GENERATOREXP,
    HR_AST_COUNT
} hr_ast_kind;

/* A set of pointers, keyed by address (base/heap.c). */
typedef struct {
    const void **slots;
    Py_ssize_t count, capacity;
} hr_ptrset;

/* The slot where the probe for `ptr` starts in a table keyed by address
 * (capacity: a power of two), for the pointer sets and the identity map.
 * Fibonacci hashing: objects allocated side by side (a pool of functions,
 * the closures a reload made) spread over the table instead of filling
 * runs of neighbouring slots, which every miss would walk to their end. */
static inline size_t
hr_address_slot(const void *ptr, Py_ssize_t capacity)
{
    return (size_t)(((uint64_t)(uintptr_t)ptr * UINT64_C(0x9E3779B97F4A7C15)) >> 32)
           & (size_t)(capacity - 1);
}

/* 1 when `ptr` is in the set.  Inline: the function watcher asks it for
 * every function the program makes, and the heap walk for every object. */
static inline int
hr_ptrset_has(const hr_ptrset *set, const void *ptr)
{
    if (set->count == 0) {
        return 0;
    }
    size_t mask = (size_t)(set->capacity - 1);
    for (size_t k = hr_address_slot(ptr, set->capacity); set->slots[k] != NULL; k = (k + 1) & mask) {
        if (set->slots[k] == ptr) {
            return 1;
        }
    }
    return 0;
}

/* What the function watcher knows of live closures (base/watcher.c). */
typedef struct {
    hr_ptrset watched_codes;    /* nested code objects every live function of which
                                   is in live_closures */
    hr_ptrset live_closures;    /* functions (not held) made from watched code, or
                                   given it, since it was watched */
    const void *unwatched_code; /* the code of the last function made, found not
                                   watched: a loop making closures of one code asks
                                   once (forgotten when any code becomes watched) */
    const void *unnoted_code;   /* unwatched_code while no noted function may hold
                                   code that is not watched, else NULL: a function
                                   freed with it was never noted */
    int astray;                 /* a noted function took code that is not watched */
} hr_watch_notes;

typedef struct {
    PyObject *ReloadError;      /* the exception type */
    PyTypeObject *FinderType;   /* type of the import hook */
    PyObject *finder;           /* the installed hook, or NULL */
    PyObject *records;          /* dict: module name -> source record (records.c) */
    PyObject *watched;          /* dict: module name -> record of the file of a module
                                   imported before install(), as it was when watching
                                   began; dropped once a reload records the module */
    PyObject *deny_dirs;        /* tuple of str: folders whose modules are not reloaded */
    PyObject *allow_dirs;       /* tuple of str: folders allowed even inside deny_dirs */
    int follow_symlinks;        /* read sources through links that leave those folders */
    int shared_files;           /* run files that other users can write (records.c) */
    PyObject *ast_types[HR_AST_COUNT];  /* the hr_ast_kind classes (None: not in this
                                           version), loaded on first use (names.c) */
    int busy;                   /* a reload is under way: refuse re-entry */
    struct hr_batch_s *hotfix;  /* the batch patch() calls go to while a hotfix
                                   script runs, else NULL */
    unsigned long owner;        /* the thread running the reload or the hotfix
                                   script, while busy or hotfix is set */
    PyObject *pending;          /* list: callables to run on the main thread */
    PyObject *stale;            /* dict: live function -> {path: [nested code]}: the code
                                   of closures it made that a reload left stale, paired
                                   again on the next reload of it (closures.c) */
    PyObject *strings[HR_STR_COUNT];  /* interned, see hr_string */
    PyObject *abc_meta;         /* abc.ABCMeta, looked up on first use (classes.c) */
    PyObject *functools_types[2];  /* functools.partial, functools._lru_cache_wrapper
                                      (or None), looked up on first use (reachable.c) */
    int trace;                  /* HOTRELOAD_TRACE set: each stage of a reload is
                                   logged with its time (reload/reload.c) */
    PyTypeObject *LenderType;   /* execute.c: the metaclass stand-in of a class body
                                   run with unchanged members left out */
    /* base/watcher.c (3.12+, main interpreter): the live closures of
     * watched code, known without a walk of the heap */
    PyObject *splits;           /* dict: module name -> capsule: the statements of the
                                   source its record holds (reload/reload.c) */
    PyObject *precompiled;      /* dict: (file name, text, blank lines before it) ->
                                   code the compile helper made of it (ahead.py), for
                                   the next reload (bind/module.c) */
    PyObject *given_sources;    /* dict (borrowed, only while hr_reload_sources runs):
                                   module name -> the bytes its reload takes instead of
                                   its file's (a fleet push, fleet.py) */
    unsigned long reloads;      /* reloads begun so far */
    unsigned long precompiled_epoch;  /* `reloads` when precompiled was last put to */
    int may_watch;              /* 3.12+, the main interpreter: the watchers are
                                   added when code is first watched (base/watcher.c) */
    int function_watcher;       /* PyFunction_AddWatcher id + 1; 0: none */
    int code_watcher;           /* PyCode_AddWatcher id + 1; 0: none (freed code
                                   then stays in watched_codes) */
    hr_watch_notes notes;       /* what the function watcher knows (base/watcher.c) */
} hr_state;

/* A record is a tuple (path: str, source: bytes, mtime_ns: int, size: int):
 * the file a module was built from and its text at that time. */
enum { HR_REC_PATH, HR_REC_SOURCE, HR_REC_MTIME, HR_REC_SIZE, HR_REC_LEN };

typedef struct {
    PyObject *fresh;  /* the new object, the key (strong), or NULL: a free slot */
    PyObject *live;   /* the live object it stands for (strong) */
} hr_identity_entry;

/* Keyed by address, so that no user __hash__/__eq__ runs; zeroed when empty. */
typedef struct hr_identity {
    hr_identity_entry *slots;
    Py_ssize_t count, capacity;
} hr_identity;

/* The fields of a function that a patch writes (strong references or
 * NULL): one table read by the journal before a write, written by a patch
 * and written back by a rollback.  Every write to a PyFunctionObject field
 * is in funcpatch.c. */
typedef struct {
    PyObject *code, *closure, *defaults, *kwdefaults, *annotations;
    PyObject *doc, *dict, *name, *qualname, *typeparams, *globals, *builtins;
} hr_function_fields;

/* What the walk looks for, and what it found (lists of new references). */
typedef struct {
    hr_ptrset old_codes;      /* code objects whose functions must be found */
    int functions_known;      /* those functions were found without the walk
                                 (base/watcher.c) */
    int walked_all;           /* set by the walk: it saw every tracked object */
    hr_ptrset hooked_types;   /* types whose instances must be found */
    hr_ptrset twins;          /* throw-away objects that something live may hold */
    hr_ptrset young;          /* objects the reload made: not holders to look at */
    PyObject *functions;      /* list: functions holding one of old_codes */
    PyObject *instances;      /* list: instances of hooked_types */
    PyObject *holders;        /* list: objects holding one of twins (a class when
                                 its dict does) */
} hr_heap_query;

/* ------------------------------------------------------------------------ */
/* text/: statements of a source text                                       */
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
    /* What the plan reads on the statement's text, kept once read: a split
     * of the next version moves the statements a save did not touch, with
     * these (text/names.c).  NULL until asked; new references. */
    PyObject *memo_bound; /* the one name it binds (str), or None: not one */
    PyObject *memo_reads; /* OTHER: the names a plain assignment reads (tuple of
                             str), or None: not that plain */
    unsigned char traits; /* HR_TRAIT_* bits: what its normalized text says of it */
    /* HR_LENT_* bits: references above this entry holds borrowed, having
     * lent them to the split of a newer text (hr_split_again), whose own
     * copy of the statement releases them; a clear leaves them alone. */
    unsigned char lent;
} hr_stmt;

/* Read once, when a statement is split, so that the plan's passes over
 * every statement of a large module need not touch its texts. */
enum {
    HR_TRAIT_DEL = 1,             /* a `del` statement */
    HR_TRAIT_DECLARES_KEEP = 2,   /* `__reload_keep__ = ...` (or annotated) */
    HR_TRAIT_DECLARES_UPDATE = 4, /* `__reload_update__ = ...` */
    HR_TRAIT_FUTURE = 8,          /* `from __future__ import ...` */
    HR_TRAIT_NAMES_UPDATE = 16,   /* a class whose text names __reload_update__: it may
                                     declare members that run again on every reload */
};

enum {
    HR_LENT_NORMS = 1, /* norm and norm_decorators */
    HR_LENT_BOUND = 2, /* memo_bound */
    HR_LENT_READS = 4, /* memo_reads */
};

typedef struct {
    hr_stmt *items;
    Py_ssize_t count;
    Py_ssize_t capacity;
    /* Made by the first hr_find_definition: dicts, name -> index of the
     * last def (0) or class (1) statement of that name. */
    PyObject *by_name[2];
    int scans;  /* hr_find_definition's lookups made without the index */
    /* The HR_TRAIT_* bits of every statement, or-ed: a pass looking for
     * statements of a trait none has is skipped. */
    unsigned char traits;
    /* Set by hr_split_again: the statements taken from the split of the
     * old text `same_as`, the first `same_head` as they were, the last
     * `same_tail` moved (those of old's end); hr_match pairs them without
     * looking.  Zero otherwise. */
    const void *same_as;
    Py_ssize_t same_head, same_tail;
} hr_stmts;

/* The member plan of a class statement (text/members.c): computed once per
 * pair of class statements, kept with the unit until it is cleared. */
typedef struct hr_member_plan {
    const hr_stmt *old_stmt, *new_stmt;  /* the class statements it is for */
    hr_stmts old_members, new_members;   /* their bodies, split */
    Py_ssize_t *match;       /* new member -> old member index, or -1 */
    char *old_used;          /* old member paired with a new one */
    char *runs;              /* new member runs again: its text changed, it is in
                                __reload_update__, it reads a name a data member
                                that runs rebinds, or it binds last a name a member
                                that left the source bound */
    PyObject *keep;          /* set: the class's __reload_keep__ */
    PyObject *update;        /* set: the class's __reload_update__ */
    PyObject *unchanged;     /* set: names bound only by members that do not run */
    PyObject *in_old_source; /* set: names the old members bind */
    PyObject *in_new_source; /* set: names the new members bind */
    struct hr_member_plan *next;  /* the unit's next plan */
} hr_member_plan;

/* ------------------------------------------------------------------------ */
/* run/: the writes a commit will make                                      */
/* ------------------------------------------------------------------------ */

typedef enum {
    HR_ACT_DICT_SET,    /* target: dict, key, value (NULL deletes) */
    HR_ACT_TYPE_SET,    /* target: type, key: name, value (NULL deletes) */
    HR_ACT_PATCH,       /* target: live function, value: new function, key: globals
                           the live function takes (patch()), or NULL to keep its own */
    HR_ACT_ADOPT,       /* target: function made by the reload, value: live globals */
    HR_ACT_CODE,        /* target: live closure, value: its new code, key: its closure,
                           or NULL to keep its own cells */
    HR_ACT_BASES,       /* target: live class, value: its new bases */
    HR_ACT_DOC,         /* target: live property, value: its new docstring */
    HR_ACT_FORWARD,     /* target: live list, dict, set, cell or object holding twins */
} hr_action_kind;

typedef struct {
    hr_action_kind kind;
    PyObject *target, *key, *value;  /* strong references */
} hr_action;

typedef struct {
    hr_action *items;
    Py_ssize_t count;
    Py_ssize_t capacity;
} hr_actions;

/* ------------------------------------------------------------------------ */
/* commit/: the journal                                                     */
/* ------------------------------------------------------------------------ */

/* A journal records every write of a commit with the value it replaced, so
 * that a failure (or a refused hook) can undo the commit exactly.  It also
 * keeps the replaced values alive until it is freed: no object dies, so no
 * finalizer runs Python code, while a commit is under way. */
typedef struct hr_journal hr_journal;

/* ------------------------------------------------------------------------ */
/* One reload: a batch of units, one unit per module                        */
/* ------------------------------------------------------------------------ */

typedef struct hr_unit {
    /* Set when the batch is resolved (reload/reload.c), read by every stage */
    PyObject *name;          /* module name */
    PyObject *module;        /* the live module */
    PyObject *live;          /* its __dict__ (strong) */
    PyObject *path;          /* its source file */
    PyObject *old_text;      /* source text the live module was built from, or NULL
                                (hr_source_text: str, or the file's bytes) */
    PyObject *new_text;      /* source text now on disk */
    PyObject *new_bytes;     /* the file's bytes, for the record */
    long long mtime_ns, size;
    const char *old_utf8, *new_utf8;  /* borrowed from old_text / new_text */
    Py_ssize_t old_len, new_len;
    hr_stmts old_stmts, new_stmts;
    int full;                /* no recorded source: the whole module runs */
    int old_split;           /* old_stmts taken from the split kept at its last reload */
    Py_ssize_t same_head, same_tail;  /* lengths of the common beginning and end of
                                         old_utf8 and new_utf8 (hr_common_ends) */
    PyObject *precompiled;   /* state->precompiled when the reload began: code made
                                off the lock (text/source.c) */
    /* Written by text/ (plan.c, shape.c; the arrays allocated by reload/reload.c):
     * the plan, read by run/ */
    Py_ssize_t *match;       /* new statement -> old statement index, or -1 */
    char *old_used;          /* old statement matched by a new one */
    char *run;               /* new statement runs again */
    char *strip;             /* DEF runs without its (unchanged) decorators */
    char *reformatted;       /* new statement paired with an old one whose text
                                differs but whose syntax tree does not (shape.c) */
    PyObject *emulated;      /* list per new statement: (module name, [(name, asname)])
                                of a from-import of a batch module done by hand
                                (read once, when planned), (None, [name], {name
                                bound before it}) of a `del` done by hand, or None */
    PyObject *bodies;        /* list per new statement: the changes of a class whose
                                methods' bodies alone changed and that does not run
                                ([live class, (member, live function, new function
                                or code, body changed)...], shape.c), or None */
    PyObject *acting;        /* dict: index of a new statement that runs only because
                                it acts on an object a statement that runs acted on
                                (plan.c act_again) -> [(container it may write, copy of
                                its items before the reload)], or NULL */
    PyObject *keep;          /* set: __reload_keep__ */
    PyObject *update;        /* set: __reload_update__ */
    PyObject *removed;       /* set: names whose definition left the source */
    PyObject *stripped;      /* set: DEF names run without decorators */
    hr_member_plan *member_plans;  /* text/members.c: the member plans made so far
                                      (asked for by run/), newest first */
    /* Written by run/ (execute.c, diff.c), read by run/ and reload/ */
    PyObject *scratch;       /* dict where the new code ran */
    PyObject *lending;       /* execute.c: the state of the scratch builtins'
                                __build_class__, which completes throw-away classes
                                with live members: (the real __build_class__,
                                {class name: [(first line, last line, {member: live
                                value})]}, [(copy, live function)], the type of the
                                metaclass stand-in that lends them to the body), or
                                NULL; emptied when the unit is cleared */
    PyObject *vanished;      /* dict: name -> what a `del` done by hand took out of
                                the scratch namespace (a re-run def or class whose
                                name the module deletes), for the diff; or NULL */
    PyObject *rebound;       /* set: names whose live object changes (diff.c; read by
                                importers.c) */
    /* Written by reload/reload.c around the commit */
    PyObject *old_values;    /* copy of the live dict before the commit */
    int done;                /* executed and diffed */
} hr_unit;

typedef struct hr_batch_s {
    hr_state *state;
    hr_unit *units;
    Py_ssize_t count;
    hr_identity identity;    /* see identity.c */
    hr_gc_aside aside;       /* what existed, set aside while the batch runs, so
                                that the youngest generation holds what it made
                                (base/gc.c); brought back once cleared */
    int collect;             /* collect the youngest generation once cleared and
                                before bringing the rest back: the twins are
                                garbage then (reload.c) */
    PyObject *owner;         /* globals of the module being diffed: only its own
                                functions are patched; NULL for patch() */
    int take_globals;        /* patch(): live functions take the new ones' globals */
    hr_actions actions;
    hr_identity code_map;    /* old nested code -> new code or None (closures.c) */
    PyObject *patched;       /* list of (live class, new class) patched */
    PyObject *acted;         /* list of (live dict, list or set a statement that runs
                                may write, copy of its items before it ran): put back
                                when the reload is refused (plan.c) */
    PyObject *stale_origin;  /* dict: id(old nested code) -> (live function, path), for
                                the closures a reload may leave stale (closures.c) */
    PyObject *stale_found;   /* list: (live function, path, code) of closures left
                                stale by this reload */
    PyObject *caches;        /* list: live caching wrappers (lru_cache...) whose
                                function took new code: cleared after the commit */
    /* the report: lists of qualified names */
    PyObject *updated, *added, *removed, *kept, *replaced, *stale;
    PyObject *instances;     /* dict: class name -> instances its hook ran on */
} hr_batch;

/* ======================================================================== */
/* Part 2: what each layer offers those above it, lowest layer first        */
/* ======================================================================== */

/* ------------------------------------------------------------------------ */
/* base/                                                                    */
/* ------------------------------------------------------------------------ */

/* base/platform.c: the operating system.  The engine's only calls to the
 * system, and its only system headers, are in that file (POSIX there;
 * tests/test_layers.py checks that no other file has any): porting the
 * engine to another system is writing that file again with this interface.
 * Paths are str (or what os.fspath accepts), encoded as the os module
 * encodes them; errors are OSError set from errno with the file name, as
 * the os module raises them. */
/* What hr_os_stat tells of a file. */
typedef struct {
    long long mtime_ns;  /* last modification, in ns since the epoch */
    long long size;      /* in bytes */
} hr_os_file;
/* A file or folder that others may write to (hr_os_find_writable). */
typedef struct {
    PyObject *path;   /* new reference: the file, or the folder above it */
    char owner[64];   /* the name of its owner, or "uid N" */
    char mode[16];    /* its permission bits in octal, as chmod takes them ("0777") */
} hr_os_writable;
/* Reads the whole regular file `path`: *data (new reference, bytes), its
 * modification time in ns and its size.  Never blocks on a FIFO or device
 * put in place of a file: anything but a regular file is refused (OSError,
 * EISDIR).  A file cut short while it is read gives what it holds then.
 * 0, or -1 with OSError (or MemoryError) set. */
int hr_os_read_file(PyObject *path, PyObject **data, long long *mtime_ns, long long *size);
/* The modification time and size of `path`, symbolic links followed.  0,
 * or -1 with OSError set (the file is gone or cannot be reached). */
int hr_os_stat(PyObject *path, hr_os_file *out);
/* New reference: the absolute path of `path` with every symbolic link
 * resolved and no "." or ".." left (realpath(3)), or NULL with OSError set
 * (a part of it does not exist). */
PyObject *hr_os_real_path(PyObject *path);
/* Looks at `path` (its links resolved) and at each folder above it up to
 * the root, in that order, for the first one a user other than this
 * process's effective user and the administrator (root) may change: owned
 * by another user, or writable by its group or by all (a folder where only
 * an entry's owner may remove or rename it, as sticky /tmp, excepted).  0
 * when there is none; 1 when there is, described in `found` (its path a new
 * reference); -1 with OSError set when one cannot be looked at. */
int hr_os_find_writable(PyObject *path, hr_os_writable *found);
/* Seconds, as a monotonic clock counts them from some fixed point: for
 * measuring how long something took.  Cannot fail. */
double hr_os_monotonic(void);
/* The first place `needle` occurs in `haystack`, or NULL (memmem(3), a GNU
 * extension, for every C library).  An empty needle is found at the start. */
const void *hr_memmem(const void *haystack, size_t length, const void *needle,
                      size_t needle_length);

/* base/arrays.c: the one way an array of entries grows */
/* `items` (an array of *capacity entries of `size` bytes, or NULL) grown to
 * hold at least `need` entries, need > *capacity: the capacity doubles,
 * from `initial` for an empty array, until they fit, and *capacity is set.
 * The caller stores the result in place of `items`.  NULL with MemoryError
 * set, `items` and *capacity as they were. */
void *hr_array_grow(void *items, size_t size, Py_ssize_t need, Py_ssize_t *capacity,
                    Py_ssize_t initial);

/* base/classes.c: a class attribute written as type.__setattr__ does; kinds of class */
/* type.__setattr__ itself (no journal): updates the type's slots (a new
 * __eq__ must reach tp_richcompare) and invalidates its caches and its
 * subclasses', without running a metaclass's own __setattr__; a member
 * named __name__ or __qualname__ goes into the class dict. */
int hr_type_write(PyTypeObject *type, PyObject *name, PyObject *value);
/* 1 for classes whose data members define their structure
 * (enums, dataclasses, named tuples, attrs): those members always run, and
 * their class decorators, which generate members, run again too. */
int hr_class_is_declarative(PyObject *cls);
/* 1 when `meta` is abc.ABCMeta itself. */
int hr_is_abc_meta(hr_state *state, PyObject *meta);

/* base/errors.c: ReloadError, the one way a refusal is said */
/* Raises ReloadError(module, object, reason), chaining the
 * current exception (if any) as its __cause__.  `module_name` and `object`
 * may be NULL; the reason is formatted as by PyUnicode_FromFormat.  Always
 * returns -1. */
int hr_raise(hr_state *state, PyObject *module_name, PyObject *object,
             const char *format, ...);

/* base/functions.c: the one place that writes the fields of a function */
/* Fills `out` with new references to the fields of `func`. */
int hr_function_fields_read(PyFunctionObject *func, hr_function_fields *out);
void hr_function_fields_clear(hr_function_fields *fields);
/* Writes `fields` into `func` through CPython's setters where it has them
 * (watchers notified, version cleared, the __code__ write audited); -1 when
 * one refuses, with `func` partly written: callers save it in the journal
 * first. */
int hr_function_fields_write(PyFunctionObject *func, const hr_function_fields *fields);
/* For the rollback: writes back fields `func` held a moment ago; cannot fail
 * (an audit hook's refusal is reported as unraisable and overridden). */
void hr_function_fields_restore(PyFunctionObject *func, const hr_function_fields *fields);
/* Gives `func` new code and the closure (NULL: none) it needs, through the
 * setters (as hr_function_fields_write does for those two fields alone);
 * -1 when one refuses. */
int hr_function_code_write(PyFunctionObject *func, PyObject *code, PyObject *closure);
/* For the rollback: writes back the code and closure `func` held a moment
 * ago; cannot fail (as hr_function_fields_restore). */
void hr_function_code_restore(PyFunctionObject *func, PyObject *code, PyObject *closure);
/* New reference: the builtins dict a function with these globals sees, or
 * NULL: they name none (no exception set), or an error (an exception set). */
PyObject *hr_builtins_of(PyObject *globals);
/* Points a function made by the reload at `globals`
 * (and the builtins they hold), as if it had been made there. */
int hr_function_set_globals(PyFunctionObject *func, PyObject *globals);

/* base/watcher.c: the live closures of watched code (3.12+) */
/* Starts and stops the function watcher (main interpreter only). */
int hr_watcher_start(hr_state *state);
void hr_watcher_stop(hr_state *state);
/* When every code of query->old_codes is watched, appends their live
 * functions to query->functions, sets query->functions_known and returns
 * 1; 0 when the walk must find them; -1 on error. */
int hr_watcher_find(hr_state *state, hr_heap_query *query);
/* Watches `codes`, whose live functions are all in `functions` (a list). */
int hr_watcher_add(hr_state *state, const hr_ptrset *codes, PyObject *functions);
/* Tells the watcher of a write of func's code that CPython's watchers did
 * not see (a direct write, base/functions.c). */
void hr_watcher_code_written(PyFunctionObject *func);

/* base/heap.c: one walk over the tracked objects */
int hr_ptrset_add(hr_ptrset *set, const void *ptr);
/* Removes ptr; 1 when it was there.  Allocates nothing. */
int hr_ptrset_discard(hr_ptrset *set, const void *ptr);
void hr_ptrset_clear(hr_ptrset *set);
/* Walks the heap once (not at all when the query is empty): every tracked
 * object, frozen, set aside or kept apart in `lists` too. */
int hr_heap_walk(hr_heap_query *query, hr_gc_aside *lists);

/* base/identity.c: new object -> the live object it stands for */
/* Records that `new_obj` stands for `live_obj` (a later call for the same
 * new object wins).  -1 with MemoryError set. */
int hr_identity_add(hr_identity *map, PyObject *new_obj, PyObject *live_obj);
/* Borrowed: the live object `obj` stands for, or `obj` itself (also for a
 * NULL map).  Never allocates, never fails. */
PyObject *hr_identity_get(const hr_identity *map, PyObject *obj);
/* Releases the references and empties the map. */
void hr_identity_clear(hr_identity *map);

/* base/metadata.c: what the import system puts in a module namespace */
/* The names of those attributes (NULL-terminated), and 1 when `name` (a
 * str) is one of them. */
extern const char *const hr_module_metadata[];
int hr_is_module_metadata(PyObject *name);

/* base/records.c: recorded sources and the folder policy */
/* 1 when modules from `path` may be reloaded (policy), 0 when not, -1 on error. */
int hr_path_allowed(hr_state *state, PyObject *path);
/* 1 when a hotfix script may be read from `path`: inside an allowed folder
 * when there is an allow list, else in no denied folder; 0 when not, -1 on
 * error. */
int hr_hotfix_path_allowed(hr_state *state, PyObject *path);
/* 1 when reading `path` through its symbolic links, which end at `real`,
 * stays where the policy trusts it as much as `path` itself (never out of
 * an allowed folder, never into a denied one), or links may be followed
 * (configure(follow_symlinks=True)); 0 when not, -1 on error. */
int hr_link_allowed(hr_state *state, PyObject *path, PyObject *real);
/* 0 when no user but the process's effective user and root can change the
 * file `real` (a path with its links resolved): the file and every folder
 * up to the root belong to one of them, and no group or other user may
 * write to them (a sticky folder such as /tmp may be writable by all), or
 * configure(shared_files=True).  Else -1 with ReloadError(module_name,
 * object) set, naming the file or folder, its owner and its mode. */
int hr_check_writers(hr_state *state, PyObject *module_name, PyObject *object, PyObject *real);
/* Borrowed: the record of a module, or NULL: none (no exception set), or an
 * error (an exception set). */
PyObject *hr_record_get(hr_state *state, PyObject *name);
/* New reference: a record (the tuple above). */
PyObject *hr_record_new(PyObject *path, PyObject *source, long long mtime_ns, long long size);
int hr_record_put(hr_state *state, PyObject *name, PyObject *path, PyObject *source,
                  long long mtime_ns, long long size);
/* New reference: the sorted names of the recorded modules, and of the
 * watched ones (hr_watch_unrecorded), still imported, whose file no longer
 * holds the recorded text: the one change detector (reload_changed(), the
 * watcher, the IPython extension).  With
 * `paths` (an iterable of file paths, compared by real path; else NULL) only
 * the modules of those files are looked at, and their files are read
 * whatever their stat says; without, a file whose stat is unchanged is not
 * read.  A file whose bytes did not change has only its stat updated (a
 * touch is not a change).  A file that cannot be read (deleted) is reported
 * in `missing`, and each module looked at in `checked` (lists, each may be
 * NULL to ignore). */
PyObject *hr_changed_modules(hr_state *state, PyObject *missing, PyObject *paths,
                             PyObject *checked);
/* Watches module `name`, imported before install() (no record), for
 * changes of its file `path`: hr_changed_modules reports it from now on,
 * until a reload records it.  1 when watched, 0 when not (recorded
 * already, the policy refuses the file, or it cannot be read), -1 on
 * error. */
int hr_watch_unrecorded(hr_state *state, PyObject *name, PyObject *path);
/* 1 when modules may be reloaded from `path`: the folder policy allows its
 * folder, and its symbolic links, resolved, lead nowhere it trusts less
 * (unless links may be followed); 0 when not, -1 on error.  A path that
 * cannot be resolved is judged by itself.  The one trust policy: the
 * Python layer asks it too (hotreload._hotreload.source_allowed). */
int hr_source_allowed(hr_state *state, PyObject *path);

/* base/unwrap.c: the function a decorator wrapped */
/* New reference: the function a decorator wrapped, found through
 * __wrapped__, __func__, a property's accessors, partial.func and closure
 * cells, whose code is
 * named `name`; `wrapper` itself when it is that function; NULL with no
 * exception set when there is none. */
PyFunctionObject *hr_unwrap(PyObject *wrapper, PyObject *name);
/* hr_unwrap for the function whose code also starts at `line`. */
PyFunctionObject *hr_unwrap_at(PyObject *wrapper, PyObject *name, int line);

/* ------------------------------------------------------------------------ */
/* text/                                                                    */
/* ------------------------------------------------------------------------ */

/* text/imports.c: what an import statement imports */
/* The module a `from X import ...` statement (of the text `source`,
 * in a module whose namespace is `globals`) imports from, resolved to an
 * absolute name, and the names it imports: *module and *names (a list of
 * (name, asname-or-None) tuples), new references.  Returns 0; or -1 with
 * no exception set when the statement cannot be read this way (it does not
 * parse on its own, or is relative in a module without a package); or -1
 * with an exception set on any other error. */
int hr_from_import(const char *source, PyObject *globals, const hr_stmt *stmt,
                   PyObject **module, PyObject **names);
/* New reference: the list of absolute names of the modules an import
 * statement (`import a.b, c` or `from .x import y`) of `source` imports, in
 * a module whose namespace is `globals`: empty when it cannot be read that
 * way (see hr_from_import); NULL on error. */
PyObject *hr_imported_modules(const char *source, PyObject *globals, const hr_stmt *stmt);

/* text/members.c: the member plan of a class statement */
/* Borrowed: the member plan of class statements old_stmt and new_stmt of
 * the unit (both with a body), made on first use and kept in
 * unit->member_plans; NULL with an exception on error. */
const hr_member_plan *hr_member_plan_of(hr_state *state, hr_unit *unit, const hr_stmt *old_stmt,
                                        const hr_stmt *new_stmt);
/* Frees the unit's member plans. */
void hr_member_plans_clear(hr_unit *unit);

/* text/names.c: the names a statement binds and reads */
/* New reference: the key a name bound in the body of class
 * `cls_name` has in the class namespace: a private `__x` is stored as
 * `_Cls__x`, as the compiler mangles it (Python/compile.c, _Py_Mangle). */
PyObject *hr_mangled(PyObject *cls_name, PyObject *name);
/* The names a statement binds and reads at its own run time
 * (not inside function bodies).  `text` holds one statement from the start
 * of its first line (indentation included); its lines start at column
 * `indent`.  *binds and *reads: new references to sets
 * (either pointer may be NULL when not wanted).  *star set to 1 when it
 * does `from x import *`. */
int hr_names(hr_state *state, const char *text, Py_ssize_t len, int indent,
             PyObject **binds, PyObject **reads, int *star);
/* 1 when obj is a node of a syntax tree (an ast.AST), 0 when
 * not, -1 on error. */
int hr_is_ast_node(hr_state *state, PyObject *obj);
/* Loads the node classes of hr_ast_kind into the state (once). */
int hr_ast_load(hr_state *state);
/* 1 when `node` is exactly of class `kind`, else 0; hr_ast_load ran. */
int hr_ast_is(const hr_state *state, PyObject *node, hr_ast_kind kind);
/* New reference: the statements of `text` (len bytes) parsed as a
 * module, or for an indented member (indent > 0) as the body of an `if`:
 * a list of ast nodes.  NULL with SyntaxError for text that does not
 * parse. */
PyObject *hr_parse_block(const char *text, Py_ssize_t len, int indent);
/* New reference: {name} when text[start:end] is a plain
 * `name = value` with no other '=' in it, else NULL (no exception). */
PyObject *hr_simple_assignment(const char *text, Py_ssize_t start, Py_ssize_t end);
/* New reference: the names `name = <plain expression>` reads (names,
 * attributes, calls without keywords, subscripts, operators and numbers),
 * read on the text; NULL without an exception when the statement is not
 * that plain (the full parse decides), with one on error. */
PyObject *hr_simple_reads(const char *text, Py_ssize_t start, Py_ssize_t end);
/* hr_simple_reads of a statement asked of a set of names: 1 with *found
 * telling whether it reads one of `names`, 0 when the statement is not
 * that plain (no exception), -1 on error.  Its reads are read once and kept
 * with the statement (memo_reads), for this reload and the next ones. */
int hr_simple_reads_any(const char *text, const hr_stmt *stmt, PyObject *names, int *found);
/* The offset of the start of the line holding `pos`. */
Py_ssize_t hr_line_start(const char *text, Py_ssize_t pos);
/* The number of lines text[from:to] ends, as the scanner counts them
 * ("\r\n" is one line end, and so is a "\r" alone). */
int hr_count_lines(const char *text, Py_ssize_t from, Py_ssize_t to);
/* 1 when the text mentions (as a whole identifier) any name of the
 * set; a cheap test before parsing. */
int hr_mentions(PyObject *norm, PyObject *names);
/* New reference: set of names a statement binds; fast for simple
 * assignments, parses otherwise. */
PyObject *hr_stmt_binds(hr_state *state, const char *text, const hr_stmt *stmt, int indent);
/* Adds to `set` the names statement `st` of `text` (lines at column
 * `indent`) binds. */
int hr_add_binds(hr_state *state, PyObject *set, const char *text, const hr_stmt *st, int indent);
/* 1 with text[*start:*end] the one name a def, a class or a simple
 * assignment binds; 0 for any other statement. */
int hr_stmt_bound_span(const char *text, const hr_stmt *stmt, Py_ssize_t *start, Py_ssize_t *end);
/* 1 when a module-level statement binds one of `names` (0 when not, -1 on
 * error): hr_stmt_binds without a set made for a def, a class or a simple
 * assignment. */
int hr_stmt_binds_any(hr_state *state, const char *text, const hr_stmt *stmt, PyObject *names);

/* text/plan.c: which statements of a new source run again */
/* Pairs each new statement with an old one: def and class
 * statements by kind and name, others by normalized text; match[i] is the
 * old index or -1; old_used[j] is set for paired old statements. */
int hr_match(const char *old_text, const hr_stmts *old, const char *new_text,
             const hr_stmts *fresh, Py_ssize_t *match, char *old_used);
/* *out = the set of names the declaration `trait` marks among `stmts`
 * (HR_TRAIT_DECLARES_KEEP: `__reload_keep__ = ("a", "b")`) holds, empty
 * when there is none.  Raises ReloadError when it is not a sequence of
 * names. */
int hr_read_declaration(hr_state *state, PyObject *module_name, const char *text,
                        const hr_stmts *stmts, int trait, PyObject **out);
/* 1 when two normalized texts are equal. */
int hr_same_norm(PyObject *a, PyObject *b);
/* Decides, per new statement, whether it runs again. */
int hr_plan(hr_batch *batch, hr_unit *unit);
/* Borrowed, the unit of the batch already executed for
 * `name`, or NULL; and whether an imported (name, asname) pair is `*`. */
hr_unit *hr_done_unit(hr_batch *batch, PyObject *name);
int hr_is_star(PyObject *pair);
/* Puts back the items of the containers the new code acted on,
 * after a refused reload.  Keeps a pending exception. */
void hr_acted_restore(hr_batch *batch);

/* text/shape.c: statements whose text changed more than what they do */
/* Pairs each new statement (not a def or class) that has no
 * partner with an unpaired old one of the same syntax tree, if any: it
 * changed in layout only and does not run again (u->reformatted). */
int hr_pair_reformatted(hr_state *state, hr_unit *u);
/* New reference: when changed class statement i differs from its
 * old text only inside method bodies (or in layout), what its methods take
 * (a list for hr_plan_method_bodies): the statement need not run.  None
 * when it must run, NULL on error.  Plans nothing. */
PyObject *hr_read_method_bodies(hr_state *state, hr_unit *u, Py_ssize_t i);
/* New reference: the set of names whose objects a module-level
 * statement acts on as it runs (calls a method of, stores an item or
 * attribute into, setattr()s); empty when it does not parse. */
PyObject *hr_acts_on(hr_state *state, const char *text, const hr_stmt *st);

/* text/source.c: decoding a source; the pieces of it that compile alone */
/* New reference: a source file's bytes decoded as the import
 * system does (coding cookie or BOM, universal newlines). */
PyObject *hr_decode_source(PyObject *bytes);
/* New reference: the text of a source file's bytes, as a reload reads it:
 * the bytes themselves when they are the decoded text's UTF-8 ("plain"),
 * else the decoded str. */
PyObject *hr_source_text(PyObject *bytes);
/* hr_source_text of `bytes`, a new version of the source whose text is
 * `old`: when `old` is plain, only what changed is decoded, and *prefix and
 * *suffix are set to the lengths of the common beginning and end of the
 * two (hr_common_ends); else they are -1. */
PyObject *hr_source_text_again(PyObject *old, PyObject *bytes, Py_ssize_t *prefix,
                               Py_ssize_t *suffix);
/* 1 when a source text is the file's own bytes. */
int hr_source_is_plain(PyObject *text);
/* Borrowed: the UTF-8 of a source text (str or plain bytes), NULL with an
 * exception on error. */
const char *hr_text_utf8(PyObject *text, Py_ssize_t *len);
/* New reference: the module code of new statement `st` alone,
 * compiled at its place in the file (its lines are the file's), with the
 * module's `from __future__` imports.  NULL with an exception when it does
 * not compile.  Its code is for reading, not running: it is compiled away
 * from its lines and moved there, and on 3.13 a class body records the
 * first line it was compiled at (__firstlineno__). */
PyObject *hr_compile_alone(hr_unit *u, const hr_stmt *st);
/* New reference: the code to run def statement `st` alone, from its head
 * when `without_decorators`, at its lines: what the compile helper made of
 * it (u->precompiled), else, with `may_compile`, compiled now.  NULL
 * without an exception when there is none or it cannot be moved to its
 * lines (records_first_line); NULL with an exception (SyntaxError) when it
 * does not compile. */
PyObject *hr_def_to_run(hr_unit *u, const hr_stmt *st, int without_decorators, int may_compile);
/* New reference: a list of (text: bytes, lines: int), the texts a reload
 * from the old source to the new one will compile alone (hr_compile_alone,
 * hr_precompiled_to_run), those of the statements whose text changed, each
 * with the blank lines that put it at its place in the file. */
PyObject *hr_alone_texts(const char *old_utf8, Py_ssize_t old_len, const char *new_utf8,
                         Py_ssize_t new_len);
/* New reference: `code` with co_firstlineno, and that of every code object
 * nested in it, moved by `delta` lines (code.replace(), nothing compiled);
 * with a `memo`, each code object is copied once (old -> copy kept there).
 * NULL with an exception set on error. */
PyObject *hr_code_moved(PyObject *code, int delta, hr_identity *memo);
/* Starts a piece of the new source to compile: `buffer`
 * (new_len + 1 bytes) gets the source blanked but for its `from
 * __future__` statements. */
void hr_start_piece(char *buffer, const hr_unit *unit);
/* New reference: the module code of a piece (`len` bytes, the length of
 * the new source), compiled as the file `filename`: the lines of the file
 * where the piece holds statements, the others empty.  NULL with an
 * exception when it does not compile. */
PyObject *hr_compile_piece(const char *buffer, Py_ssize_t len, PyObject *filename);
/* 1 when a statement is a `from __future__` import. */
int hr_is_future_import(const hr_stmt *st);

/* text/statements.c: the statements of a source text */
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
/* Splits a module's new text as hr_split does, taking from the split of
 * its old text (`old`, of a text of `old_len` bytes) the statements before
 * the first change and those after the last one, moved: the cost grows
 * with the change, not the module.  `prefix` and `suffix` are the texts'
 * common ends (hr_common_ends).  The result is what hr_split gives.  The
 * statements taken hold the references `old` held, lent (HR_LENT_*): `old`
 * reads as before, and must be cleared while `out` lives or before it. */
int hr_split_again(Py_ssize_t old_len, hr_stmts *old,
                   const char *text, Py_ssize_t len, Py_ssize_t prefix, Py_ssize_t suffix,
                   hr_stmts *out);
/* The lengths of the longest common beginning and end of two texts (the
 * end not overlapping the beginning in the shorter one). */
void hr_common_ends(const char *old_text, Py_ssize_t old_len, const char *text, Py_ssize_t len,
                    Py_ssize_t *common_prefix, Py_ssize_t *common_suffix);
/* For tests: hr_split_again of `new_bytes` after `old_bytes` (split first),
 * as hr_split_to_list gives statements. */
PyObject *hr_split_again_to_list(PyObject *old_bytes, PyObject *new_bytes);
/* Splits the indented body of a DEF or CLASS statement `st` of `text` (its
 * `body` must not be -1) into its statements, as hr_split does. */
int hr_split_body(const char *text, const hr_stmt *st, hr_stmts *out);
/* Releases the references held by `stmts` and empties it. */
void hr_stmts_clear(hr_stmts *stmts);
/* For tests: splitting as Python data.  New reference: a list of dicts with
 * the fields above (offsets as ints, norm as bytes, kind as a str). */
PyObject *hr_split_to_list(PyObject *source_bytes, int indent);
/* Borrowed: the last def/class statement of `kind` named `name`,
 * or NULL: none, or an error (an exception set) when `name` cannot be
 * encoded. */
const hr_stmt *hr_find_definition(const char *text, const hr_stmts *stmts, hr_stmt_kind kind,
                                  PyObject *name);

/* ------------------------------------------------------------------------ */
/* run/                                                                     */
/* ------------------------------------------------------------------------ */

/* run/actions.c: the typed actions a commit will apply, and the report */
/* The typed constructors of planned writes, one per kind: each checks that
 * its operands are of the kinds the commit will treat them as (a function
 * patch takes two functions, a class write a class), and appends the action
 * (references not stolen).  -1 with TypeError set, nothing planned, when
 * they are not: the reload is refused instead of crashing at the commit. */
int hr_plan_dict_set(hr_actions *actions, PyObject *dict, PyObject *key, PyObject *value);
int hr_plan_type_set(hr_actions *actions, PyObject *type, PyObject *name, PyObject *value);
int hr_plan_function_patch(hr_actions *actions, PyObject *live, PyObject *fresh,
                           PyObject *globals);
int hr_plan_adopt(hr_actions *actions, PyObject *func, PyObject *globals);
/* `closure` NULL: the function keeps its own cells (the new code's free
 * variables are the old code's, in the same order). */
int hr_plan_code(hr_actions *actions, PyObject *func, PyObject *code, PyObject *closure);
int hr_plan_bases(hr_actions *actions, PyObject *type, PyObject *bases);
int hr_plan_doc(hr_actions *actions, PyObject *property, PyObject *doc);
int hr_plan_forward(hr_actions *actions, PyObject *holder);
void hr_actions_clear(hr_actions *actions);
/* 0 when `holder` is of a kind hr_forward_live can rewrite, else -1 (no
 * exception set). */
int hr_forward_check(PyObject *holder);
/* Appends "<module>.<qualname>" to a report list. */
int hr_report(PyObject *list, PyObject *module_name, PyObject *qualname);

/* run/classpatch.c: a live class patched from a new one */
/* Plans the patch of a live class from a new one.  `old_stmt`
 * and `new_stmt` are the class statements in the old and new sources (NULL
 * when unknown: then every member counts as changed and data is kept, or,
 * with `remade`, takes the new value: the class was made again by a
 * statement that ran, a factory call such as collections.namedtuple(...)). */
int hr_class_diff(hr_batch *batch, hr_unit *unit, PyTypeObject *live, PyTypeObject *fresh,
                  const hr_stmt *old_stmt, const hr_stmt *new_stmt, PyObject *qualname,
                  int remade);
/* Plans the method bodies of the classes the plan left in
 * unit->bodies: each changed method takes its new code. */
int hr_plan_bodies(hr_batch *batch, hr_unit *unit);
/* In the compile buffer of a changed class statement (new
 * statement i of the unit), blanks the members whose text did not change:
 * they keep their live values and do not run again; one the live class
 * lacks runs when a member that runs mentions it.  Each leaves a `0` so
 * that the body is never empty.  *fill: new reference to {key in the class
 * namespace: live value} of the members left out that the live class has,
 * or NULL when there are none: the body runs with them bound, and the class
 * it makes takes them (execute.c). */
int hr_blank_unchanged_members(hr_state *state, hr_unit *unit, Py_ssize_t i, char *buffer,
                               PyObject **fill);

/* run/closures.c: live closures made from patched code */
/* Adds to the heap query the old code nested in every patched
 * function, paired with the new code in batch->code_map. */
int hr_closures_query(hr_batch *batch, hr_heap_query *query);
/* After the walk, plans the new code for each live closure
 * found (or reports it as stale). */
int hr_closures_plan(hr_batch *batch, hr_heap_query *query);
/* New reference: what the engine will remember once this
 * reload is final (state->stale), the closures it leaves stale added and
 * those it updates forgotten, per live function patched.  Made before the
 * commit, put in place after it without allocating. */
PyObject *hr_closures_remembered(hr_batch *batch);

/* run/diff.c: a module namespace turned into actions */
/* Turns what unit->scratch holds into actions and report lines. */
int hr_diff(hr_batch *batch, hr_unit *unit);

/* run/execute.c: running the chosen statements in scratch */
/* New reference: what a class statement building `cls` would have made of
 * the class member `member` (a function, classmethod, staticmethod or
 * property) of a live class: a copy whose functions' __class__ cells hold
 * `cls` (zero-argument super() then works on instances of `cls`), or
 * `member` itself when no __class__ cell needs it.  Each function copied is
 * appended to `copies` as (copy, original). */
PyObject *hr_member_for_class(PyObject *member, PyObject *cls, PyObject *copies);
/* New statement i, a `from <module of the batch> import a, b` the
 * plan chose to emulate, done with that module's new values; or a `del`
 * done by hand, keeping the definitions it deletes in unit->vanished. */
int hr_emulate_from(hr_batch *batch, hr_unit *unit, Py_ssize_t i);
/* Creates the type of the metaclass stand-in; once, at module init. */
int hr_execute_init(PyObject *module, hr_state *state);
/* Runs the chosen statements in unit->scratch. */
int hr_execute(hr_batch *batch, hr_unit *unit);
/* Given the objects of the youngest GC generation after the
 * batch ran, plans the adoption of every function it made (live globals,
 * cells) and moves instances of throw-away classes to the live ones. */
int hr_collect_made(hr_batch *batch, PyObject *young);

/* run/funcdiff.c: a new function poured into the live one (planned) */
/* Plans the patch of a live function (or wrapper) from a new one.
 * `stripped` when the new function was made without its decorators.
 * Returns 1 when patched in place, 0 when it cannot be (the caller
 * replaces the binding), -1 on error. */
int hr_function_diff(hr_batch *batch, PyObject *live, PyObject *fresh, PyObject *name,
                     int stripped);
/* Plans the patch of `target`, the live function a live class
 * member (`member`: the function itself or what wraps it) holds, from a
 * new function; a caching wrapper is cleared.  1 when planned, 0 when one
 * of them is not a function of this module, -1 on error. */
int hr_patch_held(hr_batch *batch, PyObject *member, PyObject *target, PyObject *fresh);

/* run/importers.c: names other modules imported follow */
/* Names imported elsewhere follow: every module outside the
 * batch still holding, under a name it imports with `from m import NAME`,
 * the live object a reload of m rebinds, takes the new one (planned). */
int hr_follow_importers(hr_batch *batch);

/* run/lines.c: line numbers of code that moved but did not change */
/* Plans, for the live functions of every unit whose statement
 * moved in the file without changing, the same code with its line numbers
 * moved (HR_ACT_CODE), and on 3.13 their classes' __firstlineno__.  Called
 * once every unit is diffed, before the heap walk (closures.c pairs the
 * moved nested code with the old). */
int hr_plan_moves(hr_batch *batch);

/* run/reachable.c: what a module namespace reaches */
/* Calls fn(obj, arg) once for every function whose globals
 * are the unit's live namespace and every class of the module (by
 * __module__) reachable from that namespace: bound to names, members and
 * bases of such classes, wrapped by them (closure cells, __wrapped__,
 * functools.partial, lru_cache, classmethod, staticmethod, property).  fn
 * returns 0, or -1 with an exception set, which ends the walk with -1. */
typedef int (*hr_reach_fn)(PyObject *obj, void *arg);
int hr_reach_module(hr_state *state, hr_unit *u, hr_reach_fn fn, void *arg);

/* ------------------------------------------------------------------------ */
/* commit/                                                                  */
/* ------------------------------------------------------------------------ */

/* commit/abc.c: abc's bookkeeping after a commit */
/* After the commit, recomputes __abstractmethods__ of the
 * patched abstract classes and their subclasses (journaled). */
int hr_abc_refresh(hr_batch *batch, hr_journal *journal);

/* commit/commit.c: applying the actions through the journal */
/* Applies every action through the journal.  No Python code runs but
 * audit hooks (the __code__ setter's "object.__setattr__" event).  On
 * failure the journal has already undone what was applied, and *failed
 * (borrowed) is the action CPython refused. */
int hr_actions_commit(hr_actions *actions, hr_journal *journal, const hr_identity *identity,
                      const hr_action **failed);

/* commit/forward.c: throw-away twins forwarded to their live objects */
/* After the run (`young`: the youngest generation, all the run made; when
 * not `complete`, every tracked object, since what the run made could not
 * be told apart): rewrites what the run made to hold live objects instead
 * of twins, and adds to the query the twins that something live may hold
 * (query->young: the objects not to look at). */
int hr_forward_young(hr_batch *batch, PyObject *young, int complete, hr_heap_query *query);
/* After the walk: plans the rewrite of each live holder found. */
int hr_forward_plan(hr_batch *batch, hr_heap_query *query);
/* At the commit: rewrites a live holder through the journal. */
int hr_forward_live(hr_journal *journal, PyObject *holder, const hr_identity *identity);
/* After a refused reload (the journal undone): rewrites the live holders
 * for good, so that what the new code registered before it was refused is
 * the live object again, as before the reload (a repeated registration
 * dropped).  Keeps the pending exception. */
void hr_forward_release(hr_batch *batch);

/* commit/funcpatch.c: pouring a new function into a live one */
/* Pours `source` into the live function `target`: code, closure, defaults,
 * keyword defaults, annotations, docstring, names, type parameters, and the
 * attributes of its __dict__ (attributes only the live one has are kept).
 * With `globals` (else NULL) it also takes those globals.
 * `identity` maps new objects to live ones; cells and __dict__ values
 * holding a new object get the live one.  The journal saves `target` first. */
int hr_function_patch(hr_journal *journal, PyFunctionObject *target,
                      PyFunctionObject *source, PyObject *globals, const hr_identity *identity);
/* Gives a live function new code and the closure it needs (same cells,
 * reordered; NULL: its own, which the new code's free variables match),
 * saving what it writes in the journal first. */
int hr_function_set_code(hr_journal *journal, PyFunctionObject *func, PyObject *code,
                         PyObject *closure);
/* Points a function made during a reload at the live module's globals, and
 * its closure cells at the live objects new ones stand for.  Only for
 * functions the reload made: nothing live is written. */
int hr_function_adopt(PyFunctionObject *func, PyObject *globals, const hr_identity *identity);

/* commit/journal.c: reversible writes and their rollback */
/* A journal whose writes take their names from `state`, with room for
 * `expected` entries (one per planned action is the usual count). */
hr_journal *hr_journal_new(const hr_state *state, Py_ssize_t expected);
/* Releases the journal and the replaced values it keeps alive. */
void hr_journal_free(hr_journal *journal);
/* dict[key] = value, or del dict[key] when value is NULL. */
int hr_journal_dict_set(hr_journal *journal, PyObject *dict, PyObject *key, PyObject *value);
/* Sets or deletes (value NULL) a class attribute through type.__setattr__,
 * bypassing a metaclass's __setattr__, so that slots and caches follow. */
int hr_journal_type_set(hr_journal *journal, PyTypeObject *type, PyObject *name, PyObject *value);
/* Saves the whole state of a function before it is patched. */
int hr_journal_save_function(hr_journal *journal, PyFunctionObject *func);
/* Saves a function's code, and its closure when `with_closure`, before
 * only they are written (a live closure taking new code: thousands in one
 * commit, most keeping their cells). */
int hr_journal_save_code(hr_journal *journal, PyFunctionObject *func, int with_closure);
/* Gives a class new bases through type.__bases__ (which checks them). */
int hr_journal_set_bases(hr_journal *journal, PyTypeObject *type, PyObject *bases);
/* Saves the items of a list or set before they are rewritten. */
int hr_journal_save_contents(hr_journal *journal, PyObject *container);
/* Sets a property's docstring. */
int hr_journal_doc_set(hr_journal *journal, PyObject *property, PyObject *doc);
/* Sets a cell's content. */
int hr_journal_cell_set(hr_journal *journal, PyObject *cell, PyObject *value);
/* Undoes every write, newest first.  Keeps any current exception. */
void hr_journal_rollback(hr_journal *journal);

/* ------------------------------------------------------------------------ */
/* reload/                                                                  */
/* ------------------------------------------------------------------------ */

/* reload/hooks.c: __reload_module__, __reload_class__, __reload_instance__ */
/* Adds to the heap query the classes whose instances get
 * __reload_instance__ (patched classes defining it, and their subclasses). */
int hr_hooks_query(hr_batch *batch, hr_heap_query *query);
/* After the commit: __reload_module__(old) per module, then
 * __reload_class__(cls) per patched class, then __reload_instance__(self)
 * per instance found.  -1 with ReloadError set when one raises. */
int hr_hooks_run(hr_batch *batch, hr_heap_query *query);

/* reload/reload.c: one transaction over a batch; patch(); hotfix scripts */
/* Reloads the modules of `targets` (a tuple of modules or
 * names) in one transaction.  New reference: the report as a dict. */
PyObject *hr_reload(hr_state *state, PyObject *targets);
/* Reloads every recorded module whose file changed, and the
 * modules of `also` (a sequence of modules or names, or NULL), in one
 * transaction.  Names of recorded modules whose file is gone are appended
 * to `missing`. */
PyObject *hr_reload_changed(hr_state *state, PyObject *missing, PyObject *also);
/* hr_reload of the modules named by the keys of `sources` (dict: str ->
 * bytes), each built from the bytes given instead of its file's; the
 * folder policy still applies to the module's file, and the record keeps
 * that file's path with the given bytes (mtime -1: changed() compares the
 * file's bytes with them).  New reference: the report; NULL with
 * ReloadError (nothing changed) or another exception set. */
PyObject *hr_reload_sources(hr_state *state, PyObject *sources);
/* Pours `fresh` (function or class) into `old`, in one
 * transaction.  New reference: the report as a dict. */
PyObject *hr_patch(hr_state *state, PyObject *old, PyObject *fresh);
/* Runs a hotfix script; the patch() calls it makes are applied
 * together at its end, or none of them if it raises.  `source` is its text,
 * or NULL to read the file `filename` (hotfix folder policy).  New
 * reference: the report dict. */
PyObject *hr_hotfix(hr_state *state, PyObject *source, PyObject *filename);

/* ------------------------------------------------------------------------ */
/* bind/                                                                    */
/* ------------------------------------------------------------------------ */

/* bind/capi.c: the C API (a capsule) */
/* Adds the capsule of the C API (hotreload_api.h) to the module as
 * _C_API; called once from module_exec. */
int hr_capi_export(PyObject *module);

/* bind/finder.c: the import hook that records sources */
/* Creates the finder type; called once at module init. */
int hr_records_init(PyObject *module, hr_state *state);
/* Inserts the finder into sys.meta_path (before PathFinder).  Idempotent. */
int hr_install(PyObject *module, hr_state *state);
/* Removes it; records are kept.  Idempotent. */
int hr_uninstall(hr_state *state);

/* bind/schedule.c: running a callable on the main thread */
/* Runs `callable()` on the main thread at the next safe point
 * between bytecodes (Py_AddPendingCall).  Safe from any thread holding the
 * GIL.  Errors of the callable are reported as unraisable. */
int hr_call_on_main_thread(PyObject *module, PyObject *callable);

#endif /* HR_HOTRELOAD_H */
