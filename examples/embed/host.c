/* A C program that embeds CPython and hot-reloads its game script through
 * hotreload's C API, the way an engine would: it owns the main loop, calls
 * the game's tick(state) every frame, and reloads between two frames when
 * its console says so or when its own file check sees game.py change.
 *
 *   host [--path DIR]... [--frame-ms N] [--watch N] [--frames N] GAME_DIR
 *
 *   --path DIR    put DIR on sys.path (the site-packages holding hotreload)
 *   --frame-ms N  milliseconds per frame (100)
 *   --watch N     check game.py's mtime and size every N frames, and reload
 *                 once they stayed the same for one check; 0: never (10)
 *   --frames N    stop after N frames; 0: run until "quit" or end of input (0)
 *
 * Console, one command per line on stdin, read between frames:
 *   reload [MODULE...]   reload the modules named (default: game)
 *   changed              reload every module whose file changed
 *   hotfix FILE          apply a hotfix script
 *   quit
 *
 * The host holds the GIL only while it calls into Python, as an engine with
 * threads of its own would (PyGILState_Ensure / PyGILState_Release).  It
 * keeps a C reference to game.tick taken before any reload and calls it
 * every frame: reloads keep the function's identity, so that old reference
 * runs the new code. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <hotreload/hotreload_api.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const HotReload_API *hr;
    PyObject *game;          /* the game module */
    PyObject *tick;          /* game.tick as it was at start: never refreshed */
    PyObject *state;         /* the dict handed to tick() */
    char game_path[4096];    /* game.py, for the file check */
    struct stat seen;        /* its stat at the last check */
    struct stat handed;      /* its stat when last handed to the engine */
    int running;
} host;

/* ------------------------------------------------------------------------ */
/* Reporting what a reload did, from the C result alone                     */
/* ------------------------------------------------------------------------ */

static void
print_names(const char *kind, const HotReload_Names *names)
{
    for (size_t i = 0; i < names->count; i++) {
        printf("  %s %s\n", kind, names->names[i]);
    }
}

/* Prints a result and frees it.  Needs the GIL only for the identity check. */
static void
report(host *h, const char *what, HotReload_Result *result)
{
    if (!result->success) {
        printf("%s: FAILED: %s\n", what, result->error);
        if (result->module != NULL) {
            printf("  module: %s\n", result->module);
        }
        if (result->object != NULL) {
            printf("  object: %s\n", result->object);
        }
        printf("  the game keeps running the code it had\n");
    }
    else {
        printf("%s: ok in %.1f ms: %zu updated, %zu added, %zu removed, %zu replaced, "
               "%zu kept\n", what, result->seconds * 1e3, result->updated.count,
               result->added.count, result->removed.count, result->replaced.count,
               result->kept.count);
        print_names("module", &result->modules);
        print_names("updated", &result->updated);
        print_names("added", &result->added);
        print_names("removed", &result->removed);
        print_names("replaced", &result->replaced);
        print_names("kept", &result->kept);
        print_names("missing", &result->missing);
        /* The reference the host took at start, compared with the module's
         * attribute now. */
        PyObject *tick = PyObject_GetAttrString(h->game, "tick");
        if (tick == NULL) {
            PyErr_Print();
        }
        else {
            printf("  game.tick is %s\n", tick == h->tick
                   ? "the object the host holds (it now runs the new code)"
                   : "a new object (the host's reference runs the old code)");
            Py_DECREF(tick);
        }
    }
    h->hr->free_result(result);
}

/* ------------------------------------------------------------------------ */
/* The console and the file check                                            */
/* ------------------------------------------------------------------------ */

static void
command(host *h, char *line)
{
    line[strcspn(line, "\r")] = '\0';
    if (line[strspn(line, " \t")] == '\0') {
        return;
    }
    printf("> %s\n", line);
    char *words[16];
    size_t count = 0;
    for (char *word = strtok(line, " \t"); word != NULL && count < 16;
         word = strtok(NULL, " \t")) {
        words[count++] = word;
    }
    if (strcmp(words[0], "quit") == 0) {
        h->running = 0;
    }
    else if (strcmp(words[0], "reload") == 0) {
        static const char *const game[] = {"game"};
        const char *const *names = count > 1 ? (const char *const *)&words[1] : game;
        report(h, "reload", h->hr->reload(names, count > 1 ? count - 1 : 1));
    }
    else if (strcmp(words[0], "changed") == 0) {
        report(h, "changed", h->hr->reload_changed());
    }
    else if (strcmp(words[0], "hotfix") == 0 && count == 2) {
        report(h, "hotfix", h->hr->hotfix(words[1]));
    }
    else {
        printf("commands: reload [MODULE...] | changed | hotfix FILE | quit\n");
    }
}

/* Runs every complete line received so far.  `input` holds `*len` bytes. */
static void
commands(host *h, char *input, size_t *len)
{
    char *start = input, *newline;
    while (h->running && (newline = memchr(start, '\n', *len - (size_t)(start - input)))) {
        *newline = '\0';
        command(h, start);
        start = newline + 1;
    }
    *len -= (size_t)(start - input);
    memmove(input, start, *len);
}

/* Waits up to `ms` for console input and appends what came to `input`.
 * Returns 0 at end of input (then only waits), else 1.  Runs without the
 * GIL. */
static int
wait_input(int open, char *input, size_t *len, size_t size, int ms)
{
    struct pollfd fd = {.fd = open ? STDIN_FILENO : -1, .events = POLLIN};
    int ready = poll(&fd, 1, ms);
    if (ready <= 0 || !open) {
        return open;  /* the frame's time is up (or a signal came) */
    }
    if (*len == size - 1) {
        *len = 0;  /* a line longer than the buffer: drop it */
    }
    ssize_t got = read(STDIN_FILENO, input + *len, size - 1 - *len);
    if (got < 0) {
        return errno == EINTR || errno == EAGAIN;
    }
    if (got == 0) {
        return 0;
    }
    *len += (size_t)got;
    return 1;
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
           && a->st_size == b->st_size && a->st_ino == b->st_ino;
}

/* 1 when game.py's stat changed since it was last handed to the engine and
 * has then stayed the same for one check: an editor that saves in place
 * truncates the file and writes it, and a reload of the half-written text
 * would apply it (an empty file removes every name).  The engine decides
 * whether the text changed (a touch is not a change). */
static int
game_changed(host *h)
{
    struct stat now;
    if (stat(h->game_path, &now) < 0) {
        return 0;
    }
    int settled = same_stat(&now, &h->seen) && !same_stat(&now, &h->handed);
    h->seen = now;
    if (settled) {
        h->handed = now;
    }
    return settled;
}

/* ------------------------------------------------------------------------ */
/* Set-up and the frame loop                                                 */
/* ------------------------------------------------------------------------ */

static int
add_to_path(const char *dir)
{
    PyObject *path = PySys_GetObject("path");  /* borrowed */
    PyObject *entry = PyUnicode_DecodeFSDefault(dir);
    int status = path != NULL && entry != NULL ? PyList_Insert(path, 0, entry) : -1;
    Py_XDECREF(entry);
    return status;
}

/* Imports hotreload and the game.  0, or -1 with a Python exception set. */
static int
start(host *h, const char *game_dir, char **paths, int n_paths)
{
    if (add_to_path(game_dir) < 0) {
        return -1;
    }
    for (int i = n_paths - 1; i >= 0; i--) {
        if (add_to_path(paths[i]) < 0) {
            return -1;
        }
    }
    if ((h->hr = HotReload_Import()) == NULL) {
        return -1;
    }
    /* Record sources before the game is imported, so that a reload runs
     * again only what changed and "changed" sees the game. */
    HotReload_Result *installed = h->hr->install();
    int ok = installed->success;
    if (!ok) {
        PyErr_Format(PyExc_RuntimeError, "%s", installed->error);
    }
    h->hr->free_result(installed);
    if (!ok || (h->game = PyImport_ImportModule("game")) == NULL
        || (h->tick = PyObject_GetAttrString(h->game, "tick")) == NULL
        || (h->state = Py_BuildValue("{si}", "frame", 0)) == NULL) {
        return -1;
    }
    PyObject *file = PyModule_GetFilenameObject(h->game);
    PyObject *encoded = file ? PyUnicode_EncodeFSDefault(file) : NULL;
    Py_XDECREF(file);
    if (encoded == NULL) {
        return -1;
    }
    snprintf(h->game_path, sizeof(h->game_path), "%s", PyBytes_AS_STRING(encoded));
    Py_DECREF(encoded);
    if (stat(h->game_path, &h->seen) < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, h->game_path);
        return -1;
    }
    h->handed = h->seen;
    printf("host: hotreload C API %d.%d, Python %s, playing %s\n", h->hr->version_major,
           h->hr->version_minor, Py_GetVersion(), h->game_path);
    return 0;
}

/* One frame: tick(state) through the reference taken at start. */
static void
frame(host *h, long number)
{
    PyObject *value = PyLong_FromLong(number);
    if (value == NULL || PyDict_SetItemString(h->state, "frame", value) < 0) {
        Py_XDECREF(value);
        PyErr_Print();
        return;
    }
    Py_DECREF(value);
    PyObject *line = PyObject_CallOneArg(h->tick, h->state);
    if (line == NULL) {
        /* A bug in the game: show it and go on; a reload or hotfix can fix it. */
        printf("frame %ld: tick raised (traceback on stderr)\n", number);
        PyErr_Print();
        return;
    }
    PyObject *text = PyObject_Str(line);
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    if (utf8 != NULL) {
        printf("frame %ld: %s\n", number, utf8);
    }
    else {
        PyErr_Print();
    }
    Py_XDECREF(text);
    Py_DECREF(line);
}

static int
usage(void)
{
    fprintf(stderr, "usage: host [--path DIR]... [--frame-ms N] [--watch N] [--frames N] "
                    "GAME_DIR\n");
    return 2;
}

int
main(int argc, char **argv)
{
    char *paths[32];
    int n_paths = 0, frame_ms = 100, watch = 10;
    long max_frames = 0;
    const char *game_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--path") == 0 && n_paths < 32) {
            paths[n_paths++] = argv[++i];
        }
        else if (i + 1 < argc && strcmp(argv[i], "--frame-ms") == 0) {
            frame_ms = atoi(argv[++i]);
        }
        else if (i + 1 < argc && strcmp(argv[i], "--watch") == 0) {
            watch = atoi(argv[++i]);
        }
        else if (i + 1 < argc && strcmp(argv[i], "--frames") == 0) {
            max_frames = atol(argv[++i]);
        }
        else if (argv[i][0] != '-' && game_dir == NULL) {
            game_dir = argv[i];
        }
        else {
            return usage();
        }
    }
    if (game_dir == NULL) {
        return usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);  /* a line per frame, also into a pipe */

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, argv[0]);
    if (!PyStatus_Exception(status)) {
        status = Py_InitializeFromConfig(&config);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }

    host h = {.running = 1};
    int exit_code = 0;
    if (start(&h, game_dir, paths, n_paths) < 0) {
        PyErr_Print();
        exit_code = 1;
        goto finish;
    }

    /* The frame loop.  Python is entered only between the waits. */
    PyThreadState *main_thread = PyEval_SaveThread();
    char input[4096];
    size_t len = 0;
    int console = 1;  /* stdin still open */
    for (long number = 1; h.running && (max_frames == 0 || number <= max_frames); number++) {
        console = wait_input(console, input, &len, sizeof(input), frame_ms);
        PyGILState_STATE gil = PyGILState_Ensure();
        commands(&h, input, &len);  /* between two frames: the safe moment */
        if (h.running && watch > 0 && number % watch == 0 && game_changed(&h)) {
            printf("watch: %s changed\n", h.game_path);
            report(&h, "changed", h.hr->reload_changed());
        }
        if (h.running) {
            frame(&h, number);
        }
        if (PyErr_CheckSignals() < 0) {  /* Ctrl-C */
            PyErr_Clear();
            h.running = 0;
        }
        PyGILState_Release(gil);
        if (!console && max_frames == 0) {
            h.running = 0;  /* end of input, and no frame count to play out */
        }
    }
    PyEval_RestoreThread(main_thread);
    printf("host: quit\n");

finish:
    Py_XDECREF(h.state);
    Py_XDECREF(h.tick);
    Py_XDECREF(h.game);
    if (Py_FinalizeEx() < 0) {
        exit_code = 120;
    }
    return exit_code;
}
