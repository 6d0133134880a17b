/* The identity map of a reload: each new object (function, class) made by
 * running new code that stands for a live object which keeps its identity.
 * References the new code made to the new object are redirected to the
 * live one (closure cells, __class__ cells, wrapper attributes, bases).
 *
 * Keyed by address, so that no user-defined __hash__ or __eq__ runs, in a
 * table of its own (open addressing, power-of-two size): a look-up never
 * allocates, so it cannot fail, and a lost MemoryError can never make a
 * throw-away object escape unmapped. */
#include "hotreload.h"

#include <string.h>

/* Borrowed: the entry for `key`, or the empty slot where it would go. */
static hr_identity_entry *
find(hr_identity_entry *slots, Py_ssize_t capacity, const void *key)
{
    size_t k = hr_address_slot(key, capacity);
    while (slots[k].fresh != NULL && (const void *)slots[k].fresh != key) {
        k = (k + 1) & (size_t)(capacity - 1);
    }
    return &slots[k];
}

static int
grow(hr_identity *map)
{
    Py_ssize_t capacity = map->capacity ? map->capacity * 2 : 64;
    hr_identity_entry *slots = PyMem_Calloc(capacity, sizeof(hr_identity_entry));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < map->capacity; i++) {
        if (map->slots[i].fresh != NULL) {
            *find(slots, capacity, map->slots[i].fresh) = map->slots[i];
        }
    }
    PyMem_Free(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return 0;
}

int
hr_identity_add(hr_identity *map, PyObject *new_obj, PyObject *live_obj)
{
    if ((map->count + 1) * 2 > map->capacity && grow(map) < 0) {
        return -1;
    }
    hr_identity_entry *entry = find(map->slots, map->capacity, new_obj);
    if (entry->fresh == NULL) {
        /* The entry keeps the new object alive too, so its address stays
         * unique for as long as the map exists. */
        entry->fresh = Py_NewRef(new_obj);
        map->count++;
    }
    Py_XSETREF(entry->live, Py_NewRef(live_obj));
    return 0;
}

PyObject *
hr_identity_get(const hr_identity *map, PyObject *obj)
{
    if (map == NULL || obj == NULL || map->count == 0) {
        return obj;
    }
    hr_identity_entry *entry = find(map->slots, map->capacity, obj);
    return entry->fresh != NULL ? entry->live : obj;
}

void
hr_identity_clear(hr_identity *map)
{
    for (Py_ssize_t i = 0; i < map->capacity; i++) {
        Py_CLEAR(map->slots[i].fresh);
        Py_CLEAR(map->slots[i].live);
    }
    PyMem_Free(map->slots);
    memset(map, 0, sizeof(*map));
}
