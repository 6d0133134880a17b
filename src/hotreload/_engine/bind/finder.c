/* The import hook that records sources.
 *
 * A reload compares the new source with the text the live module was built
 * from, so that text must be captured when the module is imported: the file
 * may be edited any time after.  The hook is a meta path finder placed just
 * before PathFinder (built-in and frozen modules keep their own finders and
 * their order); it asks PathFinder for the spec, reads the source of
 * reloadable source modules, and returns the spec unchanged, so importing
 * costs one extra read of a file the loader is about to read anyway. */
#include "hotreload.h"

typedef struct {
    PyObject_HEAD
    PyObject *find_spec;        /* PathFinder.find_spec */
    PyObject *source_loader;    /* importlib.machinery.SourceFileLoader */
} finder_object;

/* Records the source of a module about to be imported, if it is a
 * reloadable source file.  Failing to read is not the hook's business: the
 * import itself will report it, so errors are cleared. */
static void
record_spec(hr_state *state, finder_object *finder, PyObject *name, PyObject *spec)
{
    PyObject *origin = NULL, *loader = NULL, *source = NULL;
    long long mtime_ns, size;

    loader = PyObject_GetAttrString(spec, "loader");
    if (loader == NULL || PyObject_IsInstance(loader, finder->source_loader) != 1) {
        goto done;
    }
    origin = PyObject_GetAttrString(spec, "origin");
    if (origin == NULL || !PyUnicode_Check(origin) || hr_path_allowed(state, origin) != 1) {
        goto done;
    }
    if (hr_os_read_file(origin, &source, &mtime_ns, &size) < 0) {
        goto done;
    }
    (void)hr_record_put(state, name, origin, source, mtime_ns, size);
done:
    /* A full clear: the import must not fail because its source could not
     * be recorded.  The module is then one without a record, which a
     * reload treats as imported before install(), and says so. */
    PyErr_Clear();
    Py_XDECREF(source);
    Py_XDECREF(origin);
    Py_XDECREF(loader);
}

static PyObject *
finder_find_spec(PyObject *self, PyObject *args, PyObject *kwargs)
{
    finder_object *finder = (finder_object *)self;
    static char *keywords[] = {"fullname", "path", "target", NULL};
    PyObject *name, *path = Py_None, *target = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "U|OO:find_spec", keywords,
                                     &name, &path, &target)) {
        return NULL;
    }
    PyObject *spec = PyObject_CallFunctionObjArgs(finder->find_spec, name, path, target, NULL);
    if (spec == NULL || spec == Py_None) {
        return spec;
    }
    hr_state *state = PyType_GetModuleState(Py_TYPE(self));
    if (state != NULL) {
        record_spec(state, finder, name, spec);
    }
    else {
        PyErr_Clear();  /* a full clear, as in record_spec: the import goes on */
    }
    return spec;
}

static int
finder_traverse(PyObject *self, visitproc visit, void *arg)
{
    finder_object *finder = (finder_object *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(finder->find_spec);
    Py_VISIT(finder->source_loader);
    return 0;
}

static int
finder_clear(PyObject *self)
{
    finder_object *finder = (finder_object *)self;
    Py_CLEAR(finder->find_spec);
    Py_CLEAR(finder->source_loader);
    return 0;
}

static void
finder_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    finder_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef finder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))finder_find_spec, METH_VARARGS | METH_KEYWORDS,
     "Finds the spec through PathFinder and records the module's source."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot finder_slots[] = {
    {Py_tp_doc, "hotreload's import hook: records the source of every module imported."},
    {Py_tp_methods, finder_methods},
    {Py_tp_traverse, finder_traverse},
    {Py_tp_clear, finder_clear},
    {Py_tp_dealloc, finder_dealloc},
    {0, NULL},
};

static PyType_Spec finder_spec = {
    .name = "hotreload._hotreload.SourceRecorder",
    .basicsize = sizeof(finder_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = finder_slots,
};

int
hr_records_init(PyObject *module, hr_state *state)
{
    state->FinderType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &finder_spec, NULL);
    if (state->FinderType == NULL) {
        return -1;
    }
    state->records = PyDict_New();
    state->watched = PyDict_New();
    return state->records && state->watched ? 0 : -1;
}

/* New reference: the finder, made on first use. */
static PyObject *
make_finder(hr_state *state)
{
    PyObject *machinery = PyImport_ImportModule("importlib.machinery");
    if (machinery == NULL) {
        return NULL;
    }
    finder_object *finder = PyObject_GC_New(finder_object, state->FinderType);
    if (finder != NULL) {
        PyObject *path_finder = PyObject_GetAttrString(machinery, "PathFinder");
        finder->find_spec = path_finder ? PyObject_GetAttrString(path_finder, "find_spec") : NULL;
        finder->source_loader = PyObject_GetAttrString(machinery, "SourceFileLoader");
        Py_XDECREF(path_finder);
        PyObject_GC_Track(finder);
        if (finder->find_spec == NULL || finder->source_loader == NULL) {
            Py_CLEAR(finder);
        }
    }
    Py_DECREF(machinery);
    return (PyObject *)finder;
}

int
hr_install(PyObject *module, hr_state *state)
{
    (void)module;
    PyObject *meta_path = PySys_GetObject("meta_path");  /* borrowed */
    if (meta_path == NULL || !PyList_Check(meta_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.meta_path is not a list");
        return -1;
    }
    if (state->finder == NULL && (state->finder = make_finder(state)) == NULL) {
        return -1;
    }
    /* Before the path finder, which would otherwise load the source first. */
    PyObject *machinery = PyImport_ImportModule("importlib.machinery");
    PyObject *path_finder = machinery ? PyObject_GetAttrString(machinery, "PathFinder") : NULL;
    Py_XDECREF(machinery);
    if (path_finder == NULL) {
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(meta_path);
    Py_ssize_t where = n;
    int installed = 0;
    for (Py_ssize_t i = 0; i < n && !installed; i++) {
        PyObject *entry = PyList_GET_ITEM(meta_path, i);
        installed = entry == state->finder;
        if (where == n && entry == path_finder) {
            where = i;
        }
    }
    Py_DECREF(path_finder);
    return installed ? 0 : PyList_Insert(meta_path, where, state->finder);
}

int
hr_uninstall(hr_state *state)
{
    PyObject *meta_path = PySys_GetObject("meta_path");
    if (state->finder == NULL || meta_path == NULL || !PyList_Check(meta_path)) {
        return 0;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(meta_path) - 1; i >= 0; i--) {
        if (PyList_GET_ITEM(meta_path, i) == state->finder
            && PySequence_DelItem(meta_path, i) < 0) {
            return -1;
        }
    }
    return 0;
}
