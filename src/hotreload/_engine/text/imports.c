/* What an import statement imports: its modules resolved to absolute names,
 * and the names a `from` statement binds.  Read from the statement's syntax
 * tree, the one reader of import statements: the order of a batch, the plan
 * (from-imports of a batch module) and the importers that follow a reload
 * all ask here.  A relative module is resolved as importlib resolves it,
 * against the importing module's __package__. */
#include "hotreload.h"

/* New reference: the syntax tree of the one statement `stmt` of `source`;
 * NULL with no exception when it does not parse alone, NULL with an
 * exception on any other error. */
static PyObject *
parse_import(const char *source, const hr_stmt *stmt)
{
    PyCompilerFlags flags = {PyCF_ONLY_AST | PyCF_IGNORE_COOKIE, PY_MINOR_VERSION};
    PyObject *text = PyUnicode_DecodeUTF8(source + stmt->start, stmt->end - stmt->start, NULL);
    PyObject *tree = text ? Py_CompileStringExFlags(PyUnicode_AsUTF8(text), "<hotreload>",
                                                    Py_file_input, &flags, -1) : NULL;
    Py_XDECREF(text);
    PyObject *body = tree ? PyObject_GetAttrString(tree, "body") : NULL;
    Py_XDECREF(tree);
    PyObject *node = NULL;
    if (body != NULL && PyList_Check(body) && PyList_GET_SIZE(body) == 1) {
        node = Py_NewRef(PyList_GET_ITEM(body, 0));
    }
    Py_XDECREF(body);
    if (node == NULL && PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_SyntaxError)) {
        PyErr_Clear();  /* not a statement that parses alone: it runs as it is */
    }
    return node;
}

/* New reference: the absolute name of module `name` (a str, or None for
 * `from . import x`) imported at `level` dots by a module whose namespace
 * is `globals`, as importlib._bootstrap._resolve_name makes it; NULL with
 * no exception when it cannot be resolved (no __package__, or more dots
 * than the package has parts). */
static PyObject *
resolve(PyObject *globals, PyObject *name, long level)
{
    if (level == 0) {
        return PyUnicode_Check(name) ? Py_NewRef(name) : NULL;
    }
    PyObject *package = hr_dict_get(globals, "__package__");
    if (package == NULL || !PyUnicode_Check(package) || PyUnicode_GET_LENGTH(package) == 0) {
        return NULL;
    }
    /* package.rsplit(".", level - 1)[0], refused when it has too few parts. */
    Py_ssize_t end = PyUnicode_GET_LENGTH(package);
    for (long k = 1; k < level; k++) {
        end = PyUnicode_FindChar(package, '.', 0, end, -1);
        if (end < 0) {
            return NULL;  /* -1: beyond the top-level package; -2: an error */
        }
    }
    PyObject *base = PyUnicode_Substring(package, 0, end);
    if (base == NULL || !PyUnicode_Check(name)) {
        return base;
    }
    PyObject *full = PyUnicode_FromFormat("%U.%U", base, name);
    Py_DECREF(base);
    return full;
}

int
hr_from_import(const char *source, PyObject *globals, const hr_stmt *stmt, PyObject **module,
               PyObject **names)
{
    *module = *names = NULL;
    PyObject *node = parse_import(source, stmt);
    PyObject *level = node ? PyObject_GetAttrString(node, "level") : NULL;
    PyObject *target = level ? PyObject_GetAttrString(node, "module") : NULL;
    PyObject *aliases = target ? PyObject_GetAttrString(node, "names") : NULL;
    Py_XDECREF(node);
    if (aliases != NULL && PyLong_Check(level) && PyList_Check(aliases)) {
        long dots = PyLong_AsLong(level);
        *module = dots < 0 && PyErr_Occurred() ? NULL : resolve(globals, target, dots);
    }
    *names = *module ? PyList_New(0) : NULL;
    for (Py_ssize_t i = 0; *names && i < PyList_GET_SIZE(aliases); i++) {
        PyObject *alias = PyList_GET_ITEM(aliases, i);
        PyObject *pair = Py_BuildValue("(NN)", PyObject_GetAttrString(alias, "name"),
                                       PyObject_GetAttrString(alias, "asname"));
        if (pair == NULL || PyList_Append(*names, pair) < 0) {
            Py_CLEAR(*names);
        }
        Py_XDECREF(pair);
    }
    Py_XDECREF(level);
    Py_XDECREF(target);
    Py_XDECREF(aliases);
    if (*names == NULL) {
        Py_CLEAR(*module);
        return -1;
    }
    return 0;
}

PyObject *
hr_imported_modules(const char *source, PyObject *globals, const hr_stmt *stmt)
{
    PyObject *modules = PyList_New(0);
    if (modules == NULL) {
        return NULL;
    }
    if (stmt->kind == HR_STMT_FROM) {
        PyObject *module, *names;
        if (hr_from_import(source, globals, stmt, &module, &names) < 0) {
            return PyErr_Occurred() ? (Py_DECREF(modules), NULL) : modules;
        }
        int status = PyList_Append(modules, module);
        Py_DECREF(module);
        Py_DECREF(names);
        return status < 0 ? (Py_DECREF(modules), NULL) : modules;
    }
    /* `import a.b, c as d`: each alias's whole dotted name. */
    PyObject *node = parse_import(source, stmt);
    PyObject *aliases = node ? PyObject_GetAttrString(node, "names") : NULL;
    Py_XDECREF(node);
    int status = PyErr_Occurred() ? -1 : 0;
    for (Py_ssize_t i = 0; status == 0 && aliases && PyList_Check(aliases)
                           && i < PyList_GET_SIZE(aliases); i++) {
        PyObject *name = PyObject_GetAttrString(PyList_GET_ITEM(aliases, i), "name");
        status = name == NULL ? -1 : PyList_Append(modules, name);
        Py_XDECREF(name);
    }
    Py_XDECREF(aliases);
    if (status < 0) {
        Py_DECREF(modules);
        return NULL;
    }
    return modules;
}
