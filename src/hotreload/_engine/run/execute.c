/* Running the chosen statements of a new source in a scratch namespace.
 *
 * The scratch namespace starts as a copy of the live module's dict, so the
 * statements that run see the live values of everything that does not run
 * again, while the live module itself is not touched until the commit.  The
 * statements are compiled together from a copy of the source in which every
 * other statement is blanked out, so line numbers and columns in
 * tracebacks and code objects are those of the file.
 *
 * Functions made while the statements run get the scratch dict as their
 * globals; at the commit they are pointed at the live dict.  They are found
 * in the youngest GC generation: collection is paused while a reload runs,
 * so every object it made is there (CPython's generational GC, 3.9-3.13). */
#include "hotreload.h"

#include <string.h>

/* New reference: the namespace the new code runs in. */
static PyObject *
make_scratch(hr_unit *u)
{
    if (!u->full) {
        return PyDict_Copy(u->live);
    }
    /* A module imported before install(): its whole source runs, as on a
     * first import, in a fresh namespace with the module's identity, and
     * no docstring until its code sets one (as a new module object). */
    PyObject *scratch = PyDict_New();
    if (scratch != NULL && PyDict_SetItemString(scratch, "__doc__", Py_None) < 0) {
        Py_CLEAR(scratch);
    }
    for (int i = 0; scratch && hr_module_metadata[i]; i++) {
        PyObject *value = hr_dict_get(u->live, hr_module_metadata[i]);
        if ((value == NULL && PyErr_Occurred())
            || (value != NULL
                && PyDict_SetItemString(scratch, hr_module_metadata[i], value) < 0)) {
            Py_CLEAR(scratch);
        }
    }
    return scratch;
}

/* ------------------------------------------------------------------------ */
/* Completing throw-away classes                                             */
/* ------------------------------------------------------------------------ */

/* A changed class runs with its unchanged members left out, so the class
 * the new code makes holds only what changed.  While the new code runs it
 * must be the whole new class (`DEFAULT = Config(8443)` needs the unchanged
 * __init__; a subclass needs the unchanged __init_subclass__), so the
 * scratch builtins get a __build_class__ that, once the class statement has
 * made its class, gives it the live values of the members left out, as
 * type.__setattr__ would.  That is before any class decorator runs (a
 * dataclass sees every method) and sets nothing on the live class.  The
 * live descriptors are not told the throw-away class is their owner
 * (__set_name__ does not run for them again).  A method whose zero-argument
 * super() names the live class is lent as a copy naming the new class, as
 * the class statement would have made it; the copy stands for the live
 * method afterwards.
 *
 * The members that run see the members left out too, with their live
 * values, as a module statement that runs again sees the live module's
 * names (`def pop(self, default=_marker)` takes the live marker the class
 * holds, `__copy__ = copy` the live method).  The only way into a class
 * namespace before its body runs is the metaclass's __prepare__, so the
 * class statement runs with a stand-in metaclass (a Lender) whose
 * __prepare__ asks the real metaclass for the namespace and binds the
 * members left out in it.  Called to make the class, the stand-in takes
 * them out again, unless the body rebound them, and calls the real
 * metaclass: the class is made from what the body bound, and completed
 * afterwards as above.
 *
 * `self` is the unit's `lending` (see hotreload.h).  A class statement is
 * recognised by its name and by its body's first line, which lies between
 * the first decorator's line and the `class` keyword's. */

typedef struct {
    PyObject_HEAD
    PyObject *meta;  /* the metaclass named by the class statement, or NULL;
                        the one that makes the class once __prepare__ ran */
    PyObject *fill;  /* dict: {key in the namespace: live value} */
} lender_object;

/* Borrowed: the metaclass a class statement with `bases` (and `meta`, the
 * one it names, or NULL) makes its class with: the most derived of it and
 * the metaclasses of the bases, as builtins.__build_class__ picks it
 * (_PyType_CalculateMetaclass, which is not public); a conflict is left to
 * type.__new__ to report.  A stand-in takes the calculation over because
 * __build_class__ does not calculate for a metaclass that is no class. */
static PyObject *
winning_metaclass(PyObject *meta, PyObject *bases)
{
    Py_ssize_t n = PyTuple_Check(bases) ? PyTuple_GET_SIZE(bases) : 0;
    if (meta == NULL) {
        meta = n > 0 ? (PyObject *)Py_TYPE(PyTuple_GET_ITEM(bases, 0)) : (PyObject *)&PyType_Type;
    }
    if (!PyType_Check(meta)) {
        return meta;
    }
    PyTypeObject *winner = (PyTypeObject *)meta;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *other = Py_TYPE(PyTuple_GET_ITEM(bases, i));
        if (!PyType_IsSubtype(winner, other) && PyType_IsSubtype(other, winner)) {
            winner = other;
        }
    }
    return (PyObject *)winner;
}

/* Lender.__prepare__(name, bases, **kwds): the real metaclass's namespace,
 * with the members left out bound in it. */
static PyObject *
lender_prepare(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    lender_object *self = (lender_object *)op;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "__prepare__() takes a name and the bases");
        return NULL;
    }
    Py_XSETREF(self->meta, Py_NewRef(winning_metaclass(self->meta, args[1])));
    PyObject *prepare = PyObject_GetAttrString(self->meta, "__prepare__");
    PyObject *ns = NULL;
    if (prepare != NULL) {
        ns = PyObject_Vectorcall(prepare, args, nargs, kwnames);
        Py_DECREF(prepare);
    }
    else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();  /* a metaclass function has no __prepare__: a dict, as __build_class__ */
        ns = PyDict_New();
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (ns != NULL && PyDict_Next(self->fill, &pos, &key, &value)) {
        if (PyObject_SetItem(ns, key, value) < 0) {
            Py_CLEAR(ns);
        }
    }
    return ns;
}

/* 1 when setting `key` on a class of `meta` goes through a data descriptor
 * of the metaclass (type's __name__, __qualname__, __doc__...), which
 * refuses or transforms what a class statement stores in the class dict
 * as it is (`@property def __name__`); 0 when not; -1 on error. */
static int
metaclass_intercepts(PyObject *meta, PyObject *key)
{
    PyObject *mro = PyType_Check(meta) ? ((PyTypeObject *)meta)->tp_mro : NULL;
    int found = 0;
    for (Py_ssize_t i = 0; found == 0 && mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *dict = PyObject_GetAttrString(PyTuple_GET_ITEM(mro, i), "__dict__");
        PyObject *descr = dict ? PyObject_GetItem(dict, key) : NULL;
        if (descr != NULL) {
            found = Py_TYPE(descr)->tp_descr_set != NULL ? 1 : 0;
            found = found ? 1 : 2;  /* a plain attribute ends the search too */
        }
        else if (dict != NULL && PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();  /* not in this class of the metaclass's MRO */
        }
        else {
            found = -1;
        }
        Py_XDECREF(descr);
        Py_XDECREF(dict);
    }
    return found == 2 ? 0 : found;
}

/* Lender(name, bases, namespace, **kwds): the class, made by the real
 * metaclass from the namespace without the lent values the body left
 * alone, but for those the class could not take afterwards. */
static PyObject *
lender_call(PyObject *op, PyObject *args, PyObject *kwargs)
{
    lender_object *self = (lender_object *)op;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 3) {
        PyErr_SetString(PyExc_TypeError, "a class needs a name, bases and a namespace");
        return NULL;
    }
    PyObject *ns = PyTuple_GET_ITEM(args, 2);
    if (self->meta == NULL) {
        self->meta = Py_NewRef(winning_metaclass(NULL, PyTuple_GET_ITEM(args, 1)));
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Check(ns) && PyDict_Next(self->fill, &pos, &key, &value)) {
        PyObject *bound = PyDict_GetItemWithError(ns, key);  /* borrowed */
        int kept = bound == value ? metaclass_intercepts(self->meta, key) : 1;
        if ((bound == NULL && PyErr_Occurred()) || kept < 0
            || (!kept && PyDict_DelItem(ns, key) < 0)) {
            return NULL;
        }
    }
    return PyObject_Call(self->meta, args, kwargs);
}

static int
lender_traverse(PyObject *op, visitproc visit, void *arg)
{
    lender_object *self = (lender_object *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->meta);
    Py_VISIT(self->fill);
    return 0;
}

static int
lender_clear(PyObject *op)
{
    lender_object *self = (lender_object *)op;
    Py_CLEAR(self->meta);
    Py_CLEAR(self->fill);
    return 0;
}

static void
lender_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    lender_clear(op);
    type->tp_free(op);
    Py_DECREF(type);
}

static PyMethodDef lender_methods[] = {
    {"__prepare__", (PyCFunction)(void (*)(void))lender_prepare, METH_FASTCALL | METH_KEYWORDS,
     "The real metaclass's namespace, with the unchanged members bound."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot lender_slots[] = {
    {Py_tp_doc, "Metaclass stand-in of a class body that a reload runs with its unchanged "
                "members left out: lends their live values to the body."},
    {Py_tp_methods, lender_methods},
    {Py_tp_call, lender_call},
    {Py_tp_traverse, lender_traverse},
    {Py_tp_clear, lender_clear},
    {Py_tp_dealloc, lender_dealloc},
    {0, NULL},
};

static PyType_Spec lender_spec = {
    .name = "hotreload._hotreload.Lender",
    .basicsize = sizeof(lender_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = lender_slots,
};

int
hr_execute_init(PyObject *module, hr_state *state)
{
    state->LenderType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &lender_spec, NULL);
    return state->LenderType ? 0 : -1;
}

/* Borrowed: the {member: live value} lent to the class statement whose
 * body is `body` and whose class is `name`, or NULL (an exception set on
 * error). */
static PyObject *
find_fill(PyObject *fills, PyObject *name, PyObject *body)
{
    PyObject *entries = PyDict_GetItemWithError(fills, name);  /* borrowed */
    if (entries == NULL) {
        return NULL;
    }
    int first_line = ((PyCodeObject *)PyFunction_GET_CODE(body))->co_firstlineno;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(entries); k++) {
        PyObject *entry = PyList_GET_ITEM(entries, k);  /* (first, last, fill) */
        long first = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
        long last = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        if (first_line >= first && first_line <= last) {
            return PyTuple_GET_ITEM(entry, 2);
        }
    }
    return NULL;
}

/* New reference: builtins.__build_class__(*args, **kwds) with a Lender of
 * `fill` as the metaclass (standing for the one the statement names). */
static PyObject *
build_lending(PyObject *real, PyTypeObject *lender_type, PyObject *fill,
              PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *positional = PyTuple_New(nargs);
    PyObject *keywords = positional ? PyDict_New() : NULL;
    lender_object *lender = keywords ? PyObject_GC_New(lender_object, lender_type) : NULL;
    PyObject *cls = NULL;
    if (lender == NULL) {
        goto done;
    }
    lender->meta = NULL;
    lender->fill = Py_NewRef(fill);
    PyObject_GC_Track((PyObject *)lender);
    for (Py_ssize_t k = 0; k < nargs; k++) {
        PyTuple_SET_ITEM(positional, k, Py_NewRef(args[k]));
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        if (PyUnicode_CompareWithASCIIString(key, "metaclass") == 0) {
            lender->meta = Py_NewRef(args[nargs + k]);
        }
        else if (PyDict_SetItem(keywords, key, args[nargs + k]) < 0) {
            goto done;
        }
    }
    if (PyDict_SetItemString(keywords, "metaclass", (PyObject *)lender) == 0) {
        cls = PyObject_Call(real, positional, keywords);
    }
done:
    Py_XDECREF((PyObject *)lender);
    Py_XDECREF(keywords);
    Py_XDECREF(positional);
    return cls;
}

static PyObject *
build_class(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *real = PyTuple_GET_ITEM(self, 0), *fills = PyTuple_GET_ITEM(self, 1);
    PyObject *copies = PyTuple_GET_ITEM(self, 2);
    PyObject *lender_type = PyTuple_GET_ITEM(self, 3);
    assert(PyType_Check(lender_type));  /* put there by lend_members */
    PyObject *fill = nargs >= 2 && PyFunction_Check(args[0]) && PyUnicode_Check(args[1])
                     ? find_fill(fills, args[1], args[0]) : NULL;  /* borrowed */
    if (fill == NULL) {
        return PyErr_Occurred() ? NULL : PyObject_Vectorcall(real, args, nargs, kwnames);
    }
    Py_INCREF(fill);  /* held across the class body and metaclass, which run user code */
    PyObject *cls = build_lending(real, (PyTypeObject *)lender_type, fill, args, nargs, kwnames);
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (cls != NULL && PyType_Check(cls) && PyDict_Next(fill, &pos, &name, &value)) {
        PyObject *own = ((PyTypeObject *)cls)->tp_dict;
        int present = PyDict_Contains(own, name);
        PyObject *lent = present == 0 ? hr_member_for_class(value, cls, copies) : NULL;
        int status = present < 0 || (present == 0 && lent == NULL) ? -1
                     : present == 0 ? hr_type_write((PyTypeObject *)cls, name, lent) : 0;
        Py_XDECREF(lent);
        if (status < 0) {
            Py_CLEAR(cls);
        }
    }
    Py_DECREF(fill);
    return cls;
}

static PyMethodDef build_class_def = {
    "__build_class__", (PyCFunction)(void (*)(void))build_class, METH_FASTCALL | METH_KEYWORDS,
    "__build_class__ of a reload's scratch namespace: completes throw-away classes.",
};

/* Records that the class statement new_stmts[i] of `u` is completed from
 * `fill`, and on the first one gives the scratch namespace its own builtins
 * with the completing __build_class__. */
static int
lend_members(hr_state *state, hr_unit *u, const hr_stmt *st, PyObject *fill)
{
    if (u->lending == NULL) {
        /* The builtins the module's code sees, as a function of it would. */
        PyObject *builtins = hr_builtins_of(u->scratch);
        if (builtins == NULL && (PyErr_Occurred()
                                 || (builtins = Py_NewRef(PyEval_GetBuiltins())) == NULL)) {
            return -1;
        }
        PyObject *real = hr_dict_get(builtins, "__build_class__");
        if (real == NULL) {
            Py_DECREF(builtins);
            return PyErr_Occurred() ? -1 : 0;  /* no class statement can run */
        }
        PyObject *fills = PyDict_New();
        PyObject *copies = fills ? PyList_New(0) : NULL;
        PyObject *self = copies ? PyTuple_Pack(4, real, fills, copies, state->LenderType) : NULL;
        Py_XDECREF(copies);
        Py_XDECREF(fills);
        PyObject *hook = self ? PyCFunction_New(&build_class_def, self) : NULL;
        PyObject *copy = hook ? PyDict_Copy(builtins) : NULL;
        int status = copy != NULL && PyDict_SetItemString(copy, "__build_class__", hook) == 0
                     && PyDict_SetItemString(u->scratch, "__builtins__", copy) == 0 ? 0 : -1;
        Py_XDECREF(copy);
        Py_XDECREF(hook);
        Py_DECREF(builtins);
        if (status < 0) {
            Py_XDECREF(self);
            return -1;
        }
        u->lending = self;
    }
    PyObject *fills = PyTuple_GET_ITEM(u->lending, 1);
    PyObject *name = PyUnicode_DecodeUTF8(u->new_utf8 + st->name, st->name_len, NULL);
    PyObject *entry = name ? Py_BuildValue("(iiO)", st->line, st->head_line, fill) : NULL;
    PyObject *entries = entry ? PyDict_GetItemWithError(fills, name) : NULL;
    int status = -1;
    if (entries != NULL) {
        status = PyList_Append(entries, entry);
    }
    else if (entry != NULL && !PyErr_Occurred()) {
        entries = PyList_New(1);
        if (entries != NULL) {
            PyList_SET_ITEM(entries, 0, Py_NewRef(entry));
            status = PyDict_SetItem(fills, name, entries);
            Py_DECREF(entries);
        }
    }
    Py_XDECREF(entry);
    Py_XDECREF(name);
    return status;
}

/* After the run the scratch namespace names the live module's builtins
 * again, so that nothing it hands on (to the diff, to functions adopted at
 * the commit) sees the completing __build_class__.  Keeps a pending
 * exception. */
static int
restore_builtins(hr_unit *u)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *live = hr_dict_get(u->live, "__builtins__");
    int status = PyErr_Occurred() ? -1
                 : live != NULL ? PyDict_SetItemString(u->scratch, "__builtins__", live)
                 : PyDict_DelItemString(u->scratch, "__builtins__");
    if (type != NULL) {
        if (status < 0) {
            PyErr_Clear();  /* the first failure is the one reported */
        }
        PyErr_Restore(type, value, tb);
    }
    return status;
}

/* Runs module code in the scratch namespace. */
static int
run_code(hr_batch *batch, hr_unit *u, PyObject *code)
{
    PyObject *result = PyEval_EvalCode(code, u->scratch, u->scratch);
    if (result == NULL) {
        return hr_raise(batch->state, u->name, NULL, "the new code raised while it ran");
    }
    Py_DECREF(result);
    return 0;
}

/* Compiles the buffer and runs it in the scratch namespace. */
static int
run_buffer(hr_batch *batch, hr_unit *u, const char *buffer)
{
    PyObject *code = hr_compile_piece(buffer, u->new_len, u->path);
    if (code == NULL) {
        return hr_raise(batch->state, u->name, NULL, "the new source does not compile");
    }
    int status = run_code(batch, u, code);
    Py_DECREF(code);
    return status;
}

/* 1 when an object has an identity worth keeping: an instance of a class
 * written in Python, a dict, list or set, a function.  An int or a str
 * made again is the same value. */
static int
has_identity(PyObject *obj)
{
    return PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_HEAPTYPE) || PyDict_CheckExact(obj)
           || PyList_CheckExact(obj) || PySet_CheckExact(obj) || PyFunction_Check(obj);
}

/* In the dict `container`, the keys where the statement that just ran put a
 * new object (not the one `before` held) of the type of the one `saved`
 * held before the reload: appends (key, that live object) to `out`. */
static int
made_again_in(PyObject *container, PyObject *before, PyObject *saved, PyObject *out)
{
    Py_ssize_t pos = 0;
    PyObject *key, *made;
    while (PyDict_Next(container, &pos, &key, &made)) {
        PyObject *was = PyDict_GetItemWithError(before, key);  /* borrowed */
        PyObject *live = was != made && !PyErr_Occurred()
                         ? PyDict_GetItemWithError(saved, key) : NULL;  /* borrowed */
        if (PyErr_Occurred()) {
            return -1;
        }
        if (live != NULL && live != made && Py_TYPE(live) == Py_TYPE(made) && has_identity(made)) {
            PyObject *pair = PyTuple_Pack(2, key, live);
            int status = pair ? PyList_Append(out, pair) : -1;
            Py_XDECREF(pair);
            if (status < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Runs `buffer`, a statement that runs only because it acts on an object a
 * statement before it acted on (plan.c act_again), with `mine` the
 * (container, copy before the reload) pairs of what it may write.  Its
 * inputs did not change, so what it makes stands for what it made when the
 * module first ran: where it puts into a dict a new object of the type the
 * dict held there before the reload, the live object goes back, with its
 * state (six makes its lazy `moves.urllib_parse` module again, after the
 * live one's class gave up the descriptors it resolved: the new one would
 * not resolve them). */
static int
run_acting_again(hr_batch *batch, hr_unit *u, const char *buffer, PyObject *mine)
{
    Py_ssize_t n = PyList_GET_SIZE(mine);
    PyObject *before = PyList_New(n);  /* per pair: copy of a dict's items, or None */
    int status = before ? 0 : -1;
    for (Py_ssize_t k = 0; status == 0 && k < n; k++) {
        PyObject *container = PyTuple_GET_ITEM(PyList_GET_ITEM(mine, k), 0);
        PyObject *copy = PyDict_CheckExact(container) ? PyDict_Copy(container) : Py_NewRef(Py_None);
        if (copy == NULL) {
            status = -1;
            break;
        }
        PyList_SET_ITEM(before, k, copy);
    }
    if (status == 0) {
        status = run_buffer(batch, u, buffer);
    }
    for (Py_ssize_t k = 0; status == 0 && k < n; k++) {
        PyObject *pair = PyList_GET_ITEM(mine, k);
        PyObject *container = PyTuple_GET_ITEM(pair, 0);
        PyObject *found = PyList_New(0);
        status = found ? 0 : -1;
        if (status == 0 && PyDict_CheckExact(container)) {
            status = made_again_in(container, PyList_GET_ITEM(before, k), PyTuple_GET_ITEM(pair, 1),
                                   found);
        }
        /* Put back once the walk is over: dropping the object made again
         * may run its finalizer, which must not see the dict mid-walk. */
        for (Py_ssize_t j = 0; status == 0 && j < PyList_GET_SIZE(found); j++) {
            PyObject *entry = PyList_GET_ITEM(found, j);
            status = PyDict_SetItem(container, PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1));
        }
        Py_XDECREF(found);
    }
    Py_XDECREF(before);
    return status;
}

/* Borrowed: what new statement i acts on again (u->acting: the pairs
 * run_acting_again takes), or NULL (an exception set on error). */
static PyObject *
acting_pairs(hr_unit *u, Py_ssize_t i)
{
    if (u->acting == NULL) {
        return NULL;
    }
    PyObject *index = PyLong_FromSsize_t(i);
    PyObject *pairs = index ? PyDict_GetItemWithError(u->acting, index) : NULL;
    Py_XDECREF(index);
    return pairs;
}

/* At most this many defs run again are compiled one by one rather than in
 * a piece the size of the module: blanking and scanning the piece costs
 * about 1 ms per MB of source, a def alone a few microseconds. */
#define DEFS_ALONE_MAX 16

/* New reference: the code of each statement that runs again, in order,
 * when they are all defs, each compiled ahead (hotreload.ahead) or, when
 * they are few, compiled alone; NULL without an exception otherwise, and
 * the piece compiles them (also when one does not compile: the piece
 * reports that as always).  All are compiled before any runs. */
static PyObject *
defs_alone(hr_unit *u)
{
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (!u->run[i] || hr_is_future_import(st)) {
            continue;
        }
        if (st->kind != HR_STMT_DEF || PyList_GET_ITEM(u->emulated, i) != Py_None) {
            return NULL;
        }
        count++;
    }
    int may_compile = count <= DEFS_ALONE_MAX;
    int ahead = u->precompiled != NULL && PyDict_GET_SIZE(u->precompiled) > 0;
    if (count == 0 || (!may_compile && !ahead)) {
        return NULL;
    }
    PyObject *codes = PyList_New(0);
    for (Py_ssize_t i = 0; codes != NULL && i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (!u->run[i] || hr_is_future_import(st)) {
            continue;
        }
        if (acting_pairs(u, i) != NULL || PyErr_Occurred()) {
            Py_CLEAR(codes);  /* it runs alone, watched (run_acting_again) */
            break;
        }
        PyObject *code = hr_def_to_run(u, st, u->strip[i], may_compile);
        if (code == NULL || PyList_Append(codes, code) < 0) {
            Py_XDECREF(code);
            Py_CLEAR(codes);
            /* What compile() raises for bad source: the piece compiles it
             * again and reports it as always, with its place in the file. */
            if (PyErr_Occurred()
                && (PyErr_ExceptionMatches(PyExc_SyntaxError)
                    || PyErr_ExceptionMatches(PyExc_ValueError)
                    || PyErr_ExceptionMatches(PyExc_RecursionError)
                    || PyErr_ExceptionMatches(PyExc_OverflowError))) {
                PyErr_Clear();
            }
            break;
        }
        Py_DECREF(code);
    }
    return codes;
}

int
hr_execute(hr_batch *batch, hr_unit *u)
{
    const char *text = u->new_utf8;
    Py_ssize_t len = u->new_len;
    char *buffer = NULL;
    int status = -1;
    /* What the stages before it left: a plan per new statement (or a full
     * run), and no run yet. */
    assert(u->full || (u->run != NULL && u->strip != NULL && u->match != NULL
                       && PyList_GET_SIZE(u->emulated) == u->new_stmts.count));
    assert(u->scratch == NULL && !u->done);

    if ((u->scratch = make_scratch(u)) == NULL) {
        goto done;
    }
    if (u->full) {
        status = run_buffer(batch, u, text);
        goto done;
    }
    PyObject *codes = defs_alone(u);
    if (codes == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (codes != NULL) {
        status = 0;
        for (Py_ssize_t k = 0; status == 0 && k < PyList_GET_SIZE(codes); k++) {
            status = run_code(batch, u, PyList_GET_ITEM(codes, k));
        }
        Py_DECREF(codes);
        goto done;
    }
    if ((buffer = PyMem_Malloc(len + 1)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    hr_start_piece(buffer, u);
    int pending = 0;  /* statements copied into the buffer, not yet run */
    for (Py_ssize_t i = 0; i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (!u->run[i] || hr_is_future_import(st)) {
            continue;
        }
        if (PyList_GET_ITEM(u->emulated, i) != Py_None) {
            if ((pending && run_buffer(batch, u, buffer) < 0)
                || hr_emulate_from(batch, u, i) < 0) {
                goto done;
            }
            hr_start_piece(buffer, u);
            pending = 0;
            continue;
        }
        PyObject *acting = acting_pairs(u, i);  /* borrowed */
        if (acting == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (acting != NULL) {
            /* Alone, so that what it writes is told from what ran before. */
            if (pending && run_buffer(batch, u, buffer) < 0) {
                goto done;
            }
            hr_start_piece(buffer, u);
            memcpy(buffer + st->start, text + st->start, st->end - st->start);
            if (run_acting_again(batch, u, buffer, acting) < 0) {
                goto done;
            }
            hr_start_piece(buffer, u);
            pending = 0;
            continue;
        }
        /* A def whose decorators did not change runs without them: they
         * are not applied twice; the live wrapper keeps working and the
         * function it wraps takes the new code. */
        Py_ssize_t from = u->strip[i] ? st->head : st->start;
        memcpy(buffer + from, text + from, st->end - from);
        if (st->kind == HR_STMT_CLASS && u->match[i] >= 0) {
            PyObject *fill;
            if (hr_blank_unchanged_members(batch->state, u, i, buffer, &fill) < 0) {
                goto done;
            }
            int added = fill != NULL ? lend_members(batch->state, u, st, fill) : 0;
            Py_XDECREF(fill);
            if (added < 0) {
                goto done;
            }
        }
        pending = 1;
    }
    status = pending ? run_buffer(batch, u, buffer) : 0;
done:
    PyMem_Free(buffer);
    if (u->lending != NULL && restore_builtins(u) < 0) {
        status = -1;
    }
    if (status == 0 && u->lending != NULL) {
        /* A copy lent to a throw-away class stands for the live function. */
        PyObject *copies = PyTuple_GET_ITEM(u->lending, 2);
        for (Py_ssize_t k = 0; status == 0 && k < PyList_GET_SIZE(copies); k++) {
            PyObject *pair = PyList_GET_ITEM(copies, k);
            status = hr_identity_add(&batch->identity, PyTuple_GET_ITEM(pair, 0),
                                     PyTuple_GET_ITEM(pair, 1));
        }
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* What the reload made                                                      */
/* ------------------------------------------------------------------------ */

/* Borrowed: the unit whose scratch namespace `globals` is, or NULL. */
static hr_unit *
unit_of_scratch(hr_batch *batch, PyObject *globals)
{
    for (Py_ssize_t k = 0; k < batch->count; k++) {
        if (batch->units[k].scratch == globals) {
            return &batch->units[k];
        }
    }
    return NULL;
}

/* Moves an instance made by re-run code from a throw-away class to the live
 * class it stands for, with object.__setattr__'s own layout checks.  The
 * instance is new, so this happens before the commit. */
static int
adopt_instance(hr_state *state, PyObject *obj, PyObject *live_type)
{
    return PyBaseObject_Type.tp_setattro(obj, state->strings[HR_STR_CLASS], live_type);
}

/* A class the reload made (a new subclass, `class Child(Base)` added while
 * Base changed) was built on the throw-away copies of its bases; it takes
 * the live classes they stand for, or isinstance(Child(), Base) would be
 * false.  type.__bases__'s setter checks the layouts (equal: classdiff
 * refused any other) and recomputes the MRO.  The class is new, so this
 * happens before the commit. */
static int
rebase_made_class(hr_batch *batch, PyTypeObject *type)
{
    PyObject *bases = type->tp_bases;
    Py_ssize_t n = bases && (type->tp_flags & Py_TPFLAGS_HEAPTYPE) ? PyTuple_GET_SIZE(bases) : 0;
    PyObject *live_bases = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *base = PyTuple_GET_ITEM(bases, i);
        PyObject *live = hr_identity_get(&batch->identity, base);
        if (live == base) {
            continue;
        }
        if (live_bases == NULL && (live_bases = PyTuple_GetSlice(bases, 0, n)) == NULL) {
            return -1;
        }
        Py_SETREF(PyTuple_GET_ITEM(live_bases, i), Py_NewRef(live));
    }
    if (live_bases == NULL) {
        return 0;
    }
    PyObject *module = hr_dict_get(type->tp_dict, "__module__");  /* borrowed */
    if (module == NULL && PyErr_Occurred()) {
        Py_DECREF(live_bases);
        return -1;
    }
    Py_XINCREF(module);
    int status = PyObject_SetAttrString((PyObject *)type, "__bases__", live_bases);
    Py_DECREF(live_bases);
    if (status < 0) {
        hr_raise(batch->state, module && PyUnicode_Check(module) ? module : NULL,
                 ((PyHeapTypeObject *)type)->ht_qualname,
                 "a new class cannot take the live classes as its bases");
    }
    Py_XDECREF(module);
    return status;
}

int
hr_collect_made(hr_batch *batch, PyObject *young)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(young); i++) {
        PyObject *obj = PyList_GET_ITEM(young, i);
        if (PyType_Check(obj) && hr_identity_get(&batch->identity, obj) == obj
            && rebase_made_class(batch, (PyTypeObject *)obj) < 0) {
            return -1;
        }
        if (PyFunction_Check(obj)) {
            hr_unit *u = unit_of_scratch(batch, PyFunction_GET_GLOBALS(obj));
            if (u != NULL
                && hr_plan_adopt(&batch->actions, obj, u->live) < 0) {
                return -1;
            }
            continue;
        }
        PyObject *type = (PyObject *)Py_TYPE(obj);
        PyObject *live = hr_identity_get(&batch->identity, type);
        if (live != type && PyType_Check(live) && !PyType_Check(obj)
            && adopt_instance(batch->state, obj, live) < 0) {
            /* An incompatible layout (TypeError from object.__setattr__)
             * keeps the instance as it is; anything else fails the reload. */
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();
        }
    }
    return 0;
}

/* Index of the __class__ free variable of `func`, -1 when it has none, -2
 * on error. */
static Py_ssize_t
class_cell_index(PyFunctionObject *func)
{
    PyObject *names = hr_code_freevars(func->func_code);
    if (names == NULL) {
        return -2;
    }
    Py_ssize_t index = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names) && index < 0; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__class__") == 0) {
            index = i;
        }
    }
    Py_DECREF(names);
    return index;
}

/* New reference: `func`, or a copy of it whose __class__ cell holds `cls`,
 * as the class statement would have made it: same code, globals, defaults,
 * keyword defaults, annotations, name, qualname, docstring and __dict__
 * (shallow), and the other cells shared. */
static PyObject *
function_for_class(PyObject *obj, PyObject *cls, PyObject *copies)
{
    if (!PyFunction_Check(obj)) {
        return Py_NewRef(obj);
    }
    PyFunctionObject *func = (PyFunctionObject *)obj;
    Py_ssize_t index = class_cell_index(func);
    if (index < -1) {
        return NULL;
    }
    if (index < 0 || func->func_closure == NULL || !PyTuple_Check(func->func_closure)
        || index >= PyTuple_GET_SIZE(func->func_closure)) {
        return Py_NewRef(obj);
    }
    PyObject *copy = PyFunction_NewWithQualName(func->func_code, func->func_globals,
                                                func->func_qualname);
    /* A new tuple: slicing a whole tuple would return the live one. */
    Py_ssize_t n = PyTuple_GET_SIZE(func->func_closure);
    PyObject *closure = copy ? PyTuple_New(n) : NULL;
    PyObject *cell = closure ? PyCell_New(cls) : NULL;
    int status = cell != NULL ? 0 : -1;
    if (status == 0) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyTuple_SET_ITEM(closure, i, i == index ? cell
                                         : Py_NewRef(PyTuple_GET_ITEM(func->func_closure, i)));
        }
        hr_function_fields fields;
        status = hr_function_fields_read(func, &fields);
        if (status == 0) {
            /* The copy's own identity: its closure, and a dict of its own. */
            Py_XSETREF(fields.closure, Py_NewRef(closure));
            Py_XSETREF(fields.dict, fields.dict ? PyDict_Copy(fields.dict) : NULL);
            status = (fields.dict == NULL && func->func_dict != NULL) ? -1
                     : hr_function_fields_write((PyFunctionObject *)copy, &fields);
            hr_function_fields_clear(&fields);
        }
    }
    if (status == 0) {
        PyObject *pair = PyTuple_Pack(2, copy, obj);
        status = pair ? PyList_Append(copies, pair) : -1;
        Py_XDECREF(pair);
    }
    Py_XDECREF(closure);
    if (status < 0) {
        Py_CLEAR(copy);
    }
    return copy;
}

PyObject *
hr_member_for_class(PyObject *member, PyObject *cls, PyObject *copies)
{
    if (PyFunction_Check(member)) {
        return function_for_class(member, cls, copies);
    }
    if (Py_IS_TYPE(member, &PyClassMethod_Type) || Py_IS_TYPE(member, &PyStaticMethod_Type)) {
        PyObject *inner = PyObject_GetAttrString(member, "__func__");
        PyObject *copy = inner ? function_for_class(inner, cls, copies) : NULL;
        PyObject *result = NULL;
        if (copy != NULL) {
            result = copy == inner ? Py_NewRef(member)
                     : Py_IS_TYPE(member, &PyClassMethod_Type) ? PyClassMethod_New(copy)
                                                               : PyStaticMethod_New(copy);
        }
        Py_XDECREF(copy);
        Py_XDECREF(inner);
        return result;
    }
    if (Py_IS_TYPE(member, &PyProperty_Type)) {
        static const char *const accessors[] = {"fget", "fset", "fdel"};
        PyObject *parts[4] = {NULL, NULL, NULL, NULL};
        int copied = 0, status = 0;
        for (int i = 0; i < 3 && status == 0; i++) {
            PyObject *accessor = PyObject_GetAttrString(member, accessors[i]);
            parts[i] = accessor ? function_for_class(accessor, cls, copies) : NULL;
            copied |= parts[i] != NULL && parts[i] != accessor;
            status = parts[i] != NULL ? 0 : -1;
            Py_XDECREF(accessor);
        }
        PyObject *result = NULL;
        if (status == 0 && !copied) {
            result = Py_NewRef(member);
        }
        else if (status == 0 && (parts[3] = PyObject_GetAttrString(member, "__doc__")) != NULL) {
            result = PyObject_CallFunctionObjArgs((PyObject *)&PyProperty_Type, parts[0],
                                                  parts[1], parts[2], parts[3], NULL);
        }
        for (int i = 0; i < 4; i++) {
            Py_XDECREF(parts[i]);
        }
        return result;
    }
    return Py_NewRef(member);
}

/* `from m import *`: the names of m's __all__, else its public names.
 * A new function or class of m that stands for a live one is imported as
 * the live one, as the module itself will hold it after the commit. */
static int
emulate_star(hr_batch *batch, hr_unit *u, hr_unit *source)
{
    PyObject *all = hr_dict_get(source->scratch, "__all__");
    if (all == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *names = all ? PySequence_List(all) : PyDict_Keys(source->scratch);
    int status = names ? 0 : -1;
    for (Py_ssize_t i = 0; status == 0 && i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        if (!PyUnicode_Check(name)
            || (all == NULL && PyUnicode_READ_CHAR(name, 0) == '_')) {
            continue;
        }
        /* A def that ran without its decorators is bare in the scratch
         * namespace: the name keeps the live wrapper, which takes the code. */
        int stripped = PySet_Contains(source->stripped, name);
        if (stripped < 0) {
            return -1;
        }
        PyObject *value = PyDict_GetItemWithError(stripped ? source->live : source->scratch, name);
        if (value != NULL) {
            status = PyDict_SetItem(u->scratch, name, hr_identity_get(&batch->identity, value));
        }
        else if (PyErr_Occurred()) {
            status = -1;
        }
    }
    return status;
}

/* `del a, b` done by hand (emulate_deletions): as the statement would, it
 * deletes the names from the scratch namespace, and keeps what it takes
 * out in unit->vanished, for the diff.  A name that is not there is
 * NameError, unless it is one of `bound` (a statement before the `del`
 * binds it) and the live module lacks it too: the `del` deleted it when it
 * first ran. */
static int
emulate_del(hr_batch *batch, hr_unit *u, PyObject *names, PyObject *bound)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *value = PyDict_GetItemWithError(u->scratch, name);
        if (value == NULL) {
            int live = PyErr_Occurred() ? -1 : PyDict_Contains(u->live, name);
            int known = live < 0 ? -1 : PySet_Contains(bound, name);
            if (known < 0) {
                return -1;
            }
            if (known && !live) {
                continue;
            }
            PyErr_Format(PyExc_NameError, "name %R is not defined", name);
            return hr_raise(batch->state, u->name, NULL, "the new code raised while it ran");
        }
        if ((u->vanished == NULL && (u->vanished = PyDict_New()) == NULL)
            || PyDict_SetItem(u->vanished, name, value) < 0
            || PyDict_DelItem(u->scratch, name) < 0) {
            return -1;
        }
    }
    return 0;
}

/* For execute.c: emulates `from <batch module> import names` with the new
 * values of that module, so that statements after it compute with them;
 * or a `del` of names whose definitions the diff needs (module name None). */
int
hr_emulate_from(hr_batch *batch, hr_unit *u, Py_ssize_t index)
{
    PyObject *parsed = PyList_GET_ITEM(u->emulated, index);
    assert(PyTuple_Check(parsed));
    if (PyTuple_GET_ITEM(parsed, 0) == Py_None) {
        return emulate_del(batch, u, PyTuple_GET_ITEM(parsed, 1), PyTuple_GET_ITEM(parsed, 2));
    }
    hr_unit *source = hr_done_unit(batch, PyTuple_GET_ITEM(parsed, 0));
    PyObject *names = PyTuple_GET_ITEM(parsed, 1);
    assert(source != NULL);  /* found when planned; the batch has not changed */
    int status = 0;
    for (Py_ssize_t i = 0; source && status == 0 && i < PyList_GET_SIZE(names); i++) {
        PyObject *pair = PyList_GET_ITEM(names, i);
        if (hr_is_star(pair)) {
            status = emulate_star(batch, u, source);
            continue;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        PyObject *asname = PyTuple_GET_ITEM(pair, 1);
        /* A def that ran without its decorators is bare in the scratch
         * namespace: the name keeps the live wrapper, which takes the code. */
        int stripped = PySet_Contains(source->stripped, name);
        if (stripped < 0) {
            return -1;
        }
        PyObject *value = PyDict_GetItemWithError(stripped ? source->live : source->scratch, name);
        if (value != NULL) {
            /* The live object a new one stands for: never a throw-away. */
            status = PyDict_SetItem(u->scratch, asname == Py_None ? name : asname,
                                    hr_identity_get(&batch->identity, value));
        }
        else if (!PyErr_Occurred()) {
            /* As the statement itself would. */
            PyErr_Format(PyExc_ImportError, "cannot import name %R from %R", name,
                         source->name);
            status = hr_raise(batch->state, u->name, NULL, "the new code raised while it ran");
        }
        else {
            status = -1;
        }
    }
    return status;
}
