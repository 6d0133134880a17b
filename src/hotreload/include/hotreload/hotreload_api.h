/* hotreload's C API, for programs that embed CPython (game engines, tools).
 *
 * The host owns the main loop and decides when to reload: between two
 * frames, from its console, its own file watcher or a pushed patch.  It
 * calls the engine directly from C and reads the outcome as plain C data;
 * no Python object crosses this API and no Python exception escapes it.
 *
 *   #include <hotreload/hotreload_api.h>   (-I from hotreload.get_include())
 *
 *   const HotReload_API *hr = HotReload_Import();     // once, GIL held
 *   if (hr == NULL) { PyErr_Print(); ... }              // not installed / too old
 *   ...
 *   const char *names[] = {"game"};
 *   HotReload_Result *r = hr->reload(names, 1);        // GIL held, between frames
 *   if (r->success)
 *       printf("%zu updated in %.1f ms\n", r->updated.count, r->seconds * 1e3);
 *   else
 *       printf("%s\n", r->error);  // "cannot reload game: the new source does not compile: ..."
 *   hr->free_result(r);
 *
 * Rules common to every call below:
 *   - GIL: each call that takes or returns a HotReload_Result needs the
 *     calling thread to hold the GIL (PyGILState_Ensure), like any other
 *     call into Python, because a reload runs Python code.  Called without
 *     it, a call returns a failed result and touches nothing.
 *     free_result() alone does not need the GIL.
 *   - References: none are returned or stolen.  A result is plain C data
 *     (counts, UTF-8 strings) owned by the result; free it with
 *     free_result().  Strings stay valid until then.
 *   - Failure: a call never returns NULL and never leaves a Python
 *     exception set.  On failure it returns a result with success == 0 and
 *     `error` describing why; for a refused or failed reload nothing was
 *     changed (the transaction was rolled back).  An exception the host had
 *     set before the call is still set after it.  When even the memory for
 *     a result cannot be had, the result is a shared constant ("out of
 *     memory") that free_result() recognises.
 *   - Interpreter: the calls act on the interpreter of the calling thread,
 *     which must have imported hotreload (HotReload_Import() does).
 *
 * Versions: HOTRELOAD_API_VERSION_MAJOR changes when a field or a call
 * changes meaning; MINOR when calls or fields are added at the end of the
 * structures.  HotReload_Import() accepts an engine with the same major
 * version and a minor version at least this header's. */
#ifndef HOTRELOAD_API_H
#define HOTRELOAD_API_H

#ifndef PY_SSIZE_T_CLEAN
#  define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOTRELOAD_API_VERSION_MAJOR 1
#define HOTRELOAD_API_VERSION_MINOR 0

/* The capsule's name: attribute _C_API of module hotreload._hotreload. */
#define HOTRELOAD_CAPSULE_NAME "hotreload._hotreload._C_API"

/* Qualified names such as "game.Player.hit", UTF-8, owned by the result. */
typedef struct {
    size_t count;
    const char *const *names;  /* `count` strings (NULL when count is 0) */
} HotReload_Names;

/* What a call did.  Read-only for the host; free it with free_result(). */
typedef struct {
    int success;               /* 1: applied (or nothing to do); 0: nothing changed */
    HotReload_Names modules;   /* modules reloaded, in the order they were processed */
    HotReload_Names updated;   /* functions, classes, members that took new code in place */
    HotReload_Names added;     /* names that appeared in the source */
    HotReload_Names removed;   /* names that left the source */
    HotReload_Names kept;      /* names whose live value was kept over the new one */
    HotReload_Names replaced;  /* names bound to a new object (changed data) */
    HotReload_Names missing;   /* reload_changed(): recorded modules whose file is
                                  gone; they were left as they are */
    double seconds;            /* time the engine took; 0 on failure */
    /* On failure (else NULL), UTF-8.  `error` is the whole message, e.g.
     * "cannot reload game: the new source does not compile: SyntaxError:
     * invalid syntax (/srv/game.py, line 38)"; `module` the module it
     * concerns and `object` the qualified name of the object within it,
     * each NULL when the failure concerns none. */
    const char *error;
    const char *module;
    const char *object;
} HotReload_Result;

typedef struct {
    /* Signed: a host's -Wextra would call "minor < 0" on an unsigned
     * field always false. */
    int version_major;  /* HOTRELOAD_API_VERSION_MAJOR of the engine */
    int version_minor;  /* HOTRELOAD_API_VERSION_MINOR of the engine */

    /* Records the source of every module imported from now on (the import
     * hook of hotreload.install()), so that a reload runs again only the
     * statements that changed and reload_changed() sees the module.  Call
     * it before importing the code to reload.  Idempotent. */
    HotReload_Result *(*install)(void);

    /* Reloads the modules named (dotted names, UTF-8; `count` of them) in
     * one transaction.  A module that is not imported, has no source file,
     * or whose new code fails makes the whole call fail with nothing
     * changed. */
    HotReload_Result *(*reload)(const char *const *names, size_t count);

    /* Reloads every recorded module whose file no longer holds the recorded
     * text (a touch is not a change), in one transaction.  Modules whose
     * file is gone are listed in `missing` and left alone. */
    HotReload_Result *(*reload_changed)(void);

    /* Runs the hotfix script at `path` (file system encoding): its
     * hotreload.patch(old, new) calls are applied together when it ends, or
     * none of them if it raises or a patch is refused.  The file is read
     * as hotreload.hotfix(path) reads it, under the trust policy (README,
     * "Trust model"): a script outside the folders hotreload.configure()
     * allows, reached through a link out of them, or that other users can
     * write is refused. */
    HotReload_Result *(*hotfix)(const char *path);

    /* Releases a result (NULL is accepted).  Does not need the GIL. */
    void (*free_result)(HotReload_Result *result);
} HotReload_API;

/* Imports hotreload and returns its API table, or NULL with a Python
 * exception set (ImportError when the package is missing or its API version
 * does not fit this header).  Needs the GIL.  The table is static data of
 * the engine: never freed, valid for the life of the process. */
static inline const HotReload_API *
HotReload_Import(void)
{
    const HotReload_API *api = (const HotReload_API *)PyCapsule_Import(HOTRELOAD_CAPSULE_NAME, 0);
    if (api == NULL) {
        return NULL;
    }
    if (api->version_major != HOTRELOAD_API_VERSION_MAJOR
        || api->version_minor < HOTRELOAD_API_VERSION_MINOR) {
        PyErr_Format(PyExc_ImportError,
                     "hotreload C API version %d.%d is installed, but this program was built "
                     "with hotreload_api.h %d.%d (the major versions must match and the "
                     "installed minor version must be at least the header's)",
                     api->version_major, api->version_minor, HOTRELOAD_API_VERSION_MAJOR,
                     HOTRELOAD_API_VERSION_MINOR);
        return NULL;
    }
    return api;
}

#ifdef __cplusplus
}
#endif

#endif /* HOTRELOAD_API_H */
