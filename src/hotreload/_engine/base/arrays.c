/* Growing an array of entries: the one place that computes a new capacity,
 * checks it for overflow and reallocates. */
#include "hotreload.h"

void *
hr_array_grow(void *items, size_t size, Py_ssize_t need, Py_ssize_t *capacity,
              Py_ssize_t initial)
{
    assert(need > *capacity && initial > 0 && size > 0);
    Py_ssize_t grown = *capacity > 0 ? *capacity : initial;
    while (grown < need) {
        if (grown > PY_SSIZE_T_MAX / 2) {
            return PyErr_NoMemory();
        }
        grown *= 2;
    }
    if ((size_t)grown > PY_SSIZE_T_MAX / size) {
        return PyErr_NoMemory();
    }
    void *resized = PyMem_Realloc(items, (size_t)grown * size);
    if (resized == NULL) {
        return PyErr_NoMemory();
    }
    *capacity = grown;
    return resized;
}
