/* The attributes the import system gives a module before its code runs.
 * A module imported before install() runs its whole source again in a fresh
 * namespace (run/execute.c): the namespace starts with these, taken from
 * the live module, and the diff leaves them alone (run/diff.c). */
#include "hotreload.h"

const char *const hr_module_metadata[] = {
    "__name__", "__file__", "__package__", "__loader__", "__spec__",
    "__path__", "__cached__", "__builtins__", NULL,
};

int
hr_is_module_metadata(PyObject *name)
{
    for (int i = 0; hr_module_metadata[i]; i++) {
        if (PyUnicode_CompareWithASCIIString(name, hr_module_metadata[i]) == 0) {
            return 1;
        }
    }
    return 0;
}
