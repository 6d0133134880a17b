/* Every call the engine makes to the operating system, and the one string
 * search the C library does not offer everywhere: the engine's platform
 * layer.  Its interface is the "base/platform.c" section of hotreload.h;
 * nothing else in the engine includes a system header or calls the system
 * (tests/test_layers.py fails if something does), so porting the engine
 * to another system is a matter of this file alone.
 *
 * This implementation is POSIX, tested on Linux (x86_64) only.  macOS
 * differs in one field (st_mtimespec, handled below).  A Windows port would
 * read files with CreateFileW / ReadFile (refusing what is not a regular
 * file, as here), resolve paths with GetFinalPathNameByHandleW, take the
 * time from QueryPerformanceCounter and answer hr_os_find_writable from
 * the files' security descriptors (owner, and whether the ACL grants write
 * to anyone but the owner and the administrators).
 *
 * Errors are Python exceptions: OSError from errno, with the file name, as
 * the os module raises them, so callers report them like any other. */
#include "hotreload.h"

#if !defined(__unix__) && !defined(__APPLE__)
#error "base/platform.c speaks POSIX only: port this file to build the engine on this system"
#endif

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The modification time of `info` in nanoseconds since the epoch. */
static long long
mtime_ns_of(const struct stat *info)
{
#if defined(__APPLE__)
    const struct timespec *t = &info->st_mtimespec;
#else
    const struct timespec *t = &info->st_mtim;
#endif
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int
hr_os_read_file(PyObject *path, PyObject **data, long long *mtime_ns, long long *size)
{
    PyObject *encoded = NULL;
    PyObject *bytes = NULL;
    int fd = -1;
    int status = -1;

    if (!PyUnicode_FSConverter(path, &encoded)) {
        goto done;
    }
    /* O_NONBLOCK: a FIFO put in place of a source file must not hang the
     * reload (or a watcher) until something writes to it; fstat below
     * refuses anything but a regular file, where the flag changes nothing. */
    fd = open(PyBytes_AS_STRING(encoded), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        errno = EISDIR;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        goto done;
    }
    bytes = PyBytes_FromStringAndSize(NULL, info.st_size);
    if (bytes == NULL) {
        goto done;
    }
    Py_ssize_t filled = 0;
    while (filled < info.st_size) {
        ssize_t got = read(fd, PyBytes_AS_STRING(bytes) + filled, info.st_size - filled);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
            goto done;
        }
        if (got == 0) {
            break;  /* truncated while reading: keep what is there */
        }
        filled += got;
    }
    if (filled != info.st_size && _PyBytes_Resize(&bytes, filled) < 0) {
        goto done;
    }
    *mtime_ns = mtime_ns_of(&info);
    *size = filled;
    *data = bytes;
    bytes = NULL;
    status = 0;
done:
    if (fd >= 0) {
        close(fd);
    }
    Py_XDECREF(bytes);
    Py_XDECREF(encoded);
    return status;
}

int
hr_os_stat(PyObject *path, hr_os_file *out)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(path, &encoded)) {
        return -1;
    }
    struct stat info;
    int failed = stat(PyBytes_AS_STRING(encoded), &info) < 0;
    Py_DECREF(encoded);
    if (failed) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        return -1;
    }
    out->mtime_ns = mtime_ns_of(&info);
    out->size = (long long)info.st_size;
    return 0;
}

PyObject *
hr_os_real_path(PyObject *path)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(path, &encoded)) {
        return NULL;
    }
    char *real = realpath(PyBytes_AS_STRING(encoded), NULL);
    Py_DECREF(encoded);
    if (real == NULL) {
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    }
    PyObject *result = PyUnicode_DecodeFSDefault(real);
    free(real);
    return result;
}

/* 1 when a user other than the process's effective user and root can
 * change what the file or folder `info` describes holds: it belongs to
 * another user, or its group or everyone may write to it.  A sticky folder
 * (/tmp) may be writable by all: there others can add entries but not
 * replace or remove ours, and each entry below it is checked in turn. */
static int
writable_by_others(const struct stat *info)
{
    if (info->st_uid != geteuid() && info->st_uid != 0) {
        return 1;
    }
    if (S_ISDIR(info->st_mode) && (info->st_mode & S_ISVTX)) {
        return 0;
    }
    return (info->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* Fills `found` for the file or folder `path` that `info` describes.
 * 0, or -1 with an exception set. */
static int
describe_writable(const char *path, const struct stat *info, hr_os_writable *found)
{
    struct passwd entry, *owner = NULL;
    char names[4096];
    if (getpwuid_r(info->st_uid, &entry, names, sizeof(names), &owner) == 0 && owner != NULL) {
        snprintf(found->owner, sizeof(found->owner), "%s", owner->pw_name);
    }
    else {
        snprintf(found->owner, sizeof(found->owner), "uid %lu", (unsigned long)info->st_uid);
    }
    snprintf(found->mode, sizeof(found->mode), "%04o", (unsigned)(info->st_mode & 07777));
    found->path = PyUnicode_DecodeFSDefault(path);
    return found->path != NULL ? 0 : -1;
}

int
hr_os_find_writable(PyObject *path, hr_os_writable *found)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(path, &encoded)) {
        return -1;
    }
    /* The file, then each folder up to the root (as OpenSSH's StrictModes
     * checks them): whoever can write to any of them can put other text
     * where the file is.  A copy of the path is cut at each '/' in turn. */
    Py_ssize_t end = PyBytes_GET_SIZE(encoded);
    char *copy = PyMem_Malloc(end + 1);
    if (copy == NULL) {
        Py_DECREF(encoded);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(copy, PyBytes_AS_STRING(encoded), end + 1);
    Py_DECREF(encoded);
    int status = 0;
    while (end > 0) {
        struct stat info;
        if (stat(copy, &info) < 0) {
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, copy);
            status = -1;
            break;
        }
        if (writable_by_others(&info)) {
            status = describe_writable(copy, &info, found) < 0 ? -1 : 1;
            break;
        }
        while (end > 0 && copy[end - 1] != '/') {
            end--;
        }
        if (end == 0) {
            break;  /* a relative path: its first folder was the last one */
        }
        /* "/a/b" -> "/a", and "/a" -> "/" */
        end = end > 1 ? end - 1 : 1;
        if (copy[end] == '\0') {
            break;  /* "/" was just checked */
        }
        copy[end] = '\0';
    }
    PyMem_Free(copy);
    return status;
}

double
hr_os_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const void *
hr_memmem(const void *haystack, size_t length, const void *needle, size_t needle_length)
{
    /* memmem(3) is a GNU extension (also in the BSDs and macOS, not in
     * C11 or on Windows).  The needles the engine looks for are short
     * (names, keywords) and the texts are statements or one module's
     * source: memchr finds each candidate for the first byte, memcmp
     * checks the rest, and both are as fast as the C library makes them. */
    if (needle_length == 0) {
        return haystack;
    }
    if (length < needle_length) {
        return NULL;
    }
    const char *at = haystack;
    const char *last = at + (length - needle_length);  /* where a match starts last */
    const char first = *(const char *)needle;
    while (at <= last) {
        at = memchr(at, first, (size_t)(last - at) + 1);
        if (at == NULL) {
            return NULL;
        }
        if (memcmp(at + 1, (const char *)needle + 1, needle_length - 1) == 0) {
            return at;
        }
        at++;
    }
    return NULL;
}
