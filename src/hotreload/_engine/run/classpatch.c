/* Patching a live class from a new one.
 *
 * The live class object stays: instances, subclasses (in any module),
 * isinstance checks and pickled references keep working.  Its members are
 * compared with the new class's member by member, the way module
 * statements are: a member whose statement did not change keeps its live
 * value, a changed method is poured into the live function, changed data
 * takes the new value, a member whose statement left the source goes, and
 * an attribute set at run time (never in the source) stays.  Writes go
 * through type.__setattr__ at the commit, so slots (__eq__, __len__...) and
 * the type caches of the class and its subclasses follow. */
#include "hotreload.h"

#include <string.h>

/* What the class statements say about the class's members, for both
 * sources: the member plan (text/members.c), when both are known. */
typedef struct {
    int known;                   /* 0: no source to compare with */
    int remade;                  /* no source, but made again: data takes new values */
    const hr_member_plan *plan;  /* when known (borrowed from the unit) */
} members;

static int
members_read(hr_batch *batch, hr_unit *u, const hr_stmt *old_stmt, const hr_stmt *new_stmt,
             members *m)
{
    memset(m, 0, sizeof(*m));
    if (old_stmt == NULL || new_stmt == NULL || old_stmt->body < 0 || new_stmt->body < 0) {
        return 0;
    }
    if ((m->plan = hr_member_plan_of(batch->state, u, old_stmt, new_stmt)) == NULL) {
        return -1;
    }
    m->known = 1;
    return 0;
}

/* Entries of a class dict that belong to that very class object and must
 * never move to another: its layout descriptors and bookkeeping. */
static int
is_class_bookkeeping(PyTypeObject *owner, PyObject *name, PyObject *value)
{
    static const char *const names[] = {
        "__dict__", "__weakref__", "__module__", "__qualname__", "__slots__",
        "__classcell__", "__static_attributes__", "__firstlineno__",
        /* abc: the virtual-subclass registry stays; the abstract set is
         * recomputed on the live class after the commit */
        "_abc_impl", "__abstractmethods__", NULL,
    };
    for (int i = 0; names[i]; i++) {
        if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) {
            return 1;
        }
    }
    /* A slot's member descriptor reads a fixed offset of its own class. */
    return PyObject_TypeCheck(value, &PyMemberDescr_Type)
           && ((PyDescrObject *)value)->d_type == owner;
}

static int
is_function_like(PyObject *obj)
{
    return PyFunction_Check(obj) || PyObject_TypeCheck(obj, &PyStaticMethod_Type)
           || PyObject_TypeCheck(obj, &PyClassMethod_Type)
           || PyObject_TypeCheck(obj, &PyProperty_Type);
}

/* 1 when `obj` wraps a function named `name` (__wrapped__ and the like),
 * 0 when not, -1 on error. */
static int
wraps_function(PyObject *obj, PyObject *name)
{
    PyFunctionObject *inner = hr_unwrap(obj, name);
    Py_XDECREF(inner);
    return inner != NULL ? 1 : PyErr_Occurred() ? -1 : 0;
}

/* New reference: the names of the slots a class itself declares (its own
 * member descriptors). */
static PyObject *
slot_names(PyTypeObject *type)
{
    PyObject *names = PySet_New(NULL);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (names && PyDict_Next(type->tp_dict, &pos, &key, &value)) {
        if (PyObject_TypeCheck(value, &PyMemberDescr_Type)
            && ((PyDescrObject *)value)->d_type == type && PySet_Add(names, key) < 0) {
            Py_CLEAR(names);
        }
    }
    return names;
}

/* 1 when both classes declare slots of the same names (the sizes may match
 * while the names differ: x, y -> x, z). */
static int
same_slot_names(PyTypeObject *live, PyTypeObject *fresh)
{
    PyObject *a = slot_names(live);
    PyObject *b = a ? slot_names(fresh) : NULL;
    int same = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return same;
}

/* The layout of instances cannot change under live objects. */
static int
check_layout(hr_batch *batch, hr_unit *u, PyTypeObject *live, PyTypeObject *fresh,
             PyObject *qualname)
{
    if (!(live->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return hr_raise(batch->state, u->name, qualname,
                        "it is a built-in or extension type, which cannot be patched");
    }
    if (live->tp_basicsize != fresh->tp_basicsize || live->tp_itemsize != fresh->tp_itemsize
        || live->tp_dictoffset != fresh->tp_dictoffset
        || live->tp_weaklistoffset != fresh->tp_weaklistoffset) {
        return hr_raise(batch->state, u->name, qualname,
                        "the memory layout of its instances changed (__slots__ or a base "
                        "with a different layout); live instances cannot take it");
    }
    int same_slots = same_slot_names(live, fresh);
    if (same_slots <= 0) {
        return same_slots < 0 ? -1
            : hr_raise(batch->state, u->name, qualname,
                       "its __slots__ changed; live instances cannot take the new layout");
    }
    PyObject *meta = hr_identity_get(&batch->identity, (PyObject *)Py_TYPE(fresh));
    if (meta != (PyObject *)Py_TYPE(live)) {
        return hr_raise(batch->state, u->name, qualname, "its metaclass changed from %s to %s",
                        Py_TYPE(live)->tp_name, Py_TYPE(fresh)->tp_name);
    }
    return 0;
}

/* New bases, when the class statement names others: given at the commit
 * through type.__bases__'s own checks (layout, MRO), which refuse an
 * incompatible change; the commit is then undone. */
static int
plan_bases(hr_batch *batch, PyTypeObject *live, PyTypeObject *fresh)
{
    PyObject *bases = fresh->tp_bases;
    Py_ssize_t n = PyTuple_GET_SIZE(bases);
    int same = n == PyTuple_GET_SIZE(live->tp_bases);
    for (Py_ssize_t i = 0; same && i < n; i++) {
        same = hr_identity_get(&batch->identity, PyTuple_GET_ITEM(bases, i))
               == PyTuple_GET_ITEM(live->tp_bases, i);
    }
    if (same) {
        return 0;
    }
    PyObject *mapped = PyTuple_New(n);
    for (Py_ssize_t i = 0; mapped && i < n; i++) {
        PyTuple_SET_ITEM(mapped, i, Py_NewRef(hr_identity_get(&batch->identity,
                                                              PyTuple_GET_ITEM(bases, i))));
    }
    int status = mapped ? hr_plan_bases(&batch->actions, (PyObject *)live, mapped) : -1;
    Py_XDECREF(mapped);
    return status;
}

static int
set_member(hr_batch *batch, PyTypeObject *live, PyObject *name, PyObject *value)
{
    return hr_plan_type_set(&batch->actions, (PyObject *)live, name, value);
}

/* New reference: "<qualname>.<member>". */
static PyObject *
member_path(PyObject *qualname, PyObject *name)
{
    return PyUnicode_FromFormat("%U.%U", qualname, name);
}

/* For a member the old class body bound and that the live class lacks:
 * 1 when the body itself does not delete it and a top-level statement
 * still names it (`del S._calc_mean`, `delattr(S, "_calc_mean")`): the
 * module deleted it from the class after the class statement, once done
 * with it (`mean = property(_calc_mean)`), and does so on a fresh import
 * too; 0 when not; -1 on error. */
static int
deleted_after_use(hr_unit *u, members *m, PyObject *name)
{
    PyObject *names = PySet_New(NULL);
    int status = names ? PySet_Add(names, name) : -1;
    for (Py_ssize_t j = 0; status == 0 && j < m->plan->old_members.count; j++) {
        const hr_stmt *member = &m->plan->old_members.items[j];
        int mentions = member->traits & HR_TRAIT_DEL ? hr_mentions(member->norm, names) : 0;
        status = mentions < 0 ? -1 : mentions ? 1 : 0;
    }
    if (status != 0) {
        Py_XDECREF(names);
        return status < 0 ? -1 : 0;  /* deleted in the body, as on a fresh import */
    }
    int named = 0;
    for (Py_ssize_t i = 0; named == 0 && i < u->new_stmts.count; i++) {
        const hr_stmt *st = &u->new_stmts.items[i];
        if (st->kind != HR_STMT_CLASS && st->kind != HR_STMT_DEF) {
            named = hr_mentions(st->norm, names);
        }
    }
    Py_DECREF(names);
    return named;
}

/* New reference: the live function named `path` ("<class>.<member>") that
 * a member of the live class holds (a property's getter, a descriptor's
 * func), found through what wraps it; or NULL: none (no exception), or an
 * error (an exception set). */
static PyFunctionObject *
held_function(PyTypeObject *live_cls, PyObject *name, PyObject *path)
{
    PyFunctionObject *held = NULL;
    /* A list, not the dict itself: unwrapping reads attributes (user code). */
    PyObject *values = PyDict_Values(live_cls->tp_dict);
    for (Py_ssize_t i = 0; values && held == NULL && i < PyList_GET_SIZE(values); i++) {
        PyFunctionObject *func = hr_unwrap(PyList_GET_ITEM(values, i), name);
        int same = func ? PyUnicode_Compare(func->func_qualname, path) : -1;
        if (same == 0) {
            held = func;
        }
        else {
            Py_XDECREF(func);
        }
        if (PyErr_Occurred()) {
            Py_CLEAR(held);
            Py_CLEAR(values);
        }
    }
    Py_XDECREF(values);
    return held;
}

/* 1 when `fresh`, the value of a member whose text did not change, is a
 * new function of the module that stands for nothing yet (`mapped`, its
 * entry in the identity map, is itself) and `live` the live function of
 * the same qualified name: the member aliases a def of the body that ran
 * again.  0 when not. */
static int
alias_of_rerun_def(hr_unit *u, PyObject *live, PyObject *fresh, PyObject *mapped)
{
    if (mapped != fresh || live == fresh || !PyFunction_Check(live) || !PyFunction_Check(fresh)) {
        return 0;
    }
    PyFunctionObject *a = (PyFunctionObject *)live, *b = (PyFunctionObject *)fresh;
    if (a->func_globals != u->live || b->func_globals != u->scratch
        || !PyUnicode_Check(a->func_qualname) || !PyUnicode_Check(b->func_qualname)) {
        return 0;
    }
    /* Two str: the comparison cannot fail. */
    return PyUnicode_Compare(a->func_qualname, b->func_qualname) == 0;
}

static int
diff_member(hr_batch *batch, hr_unit *u, PyTypeObject *live_cls, members *m, PyObject *qualname,
            PyObject *name, PyObject *live, PyObject *fresh)
{
    PyObject *path = member_path(qualname, name);
    if (path == NULL) {
        return -1;
    }
    int status = -1;
    int unchanged = m->known ? PySet_Contains(m->plan->unchanged, name) : 0;
    if (unchanged < 0) {
        goto done;
    }
    if (live == NULL) {
        /* A member of the old source that the live class lacks: the module
         * deleted it from the class after use.  The live function that the
         * members made from it hold takes the new code; the member comes
         * back only when the module no longer deletes it. */
        int bound = m->known ? PySet_Contains(m->plan->in_old_source, name) : 0;
        PyFunctionObject *held = bound > 0 ? held_function(live_cls, name, path) : NULL;
        int deleted = bound > 0 && !PyErr_Occurred() ? deleted_after_use(u, m, name) : 0;
        int patched = held && deleted >= 0 ? hr_function_diff(batch, (PyObject *)held, fresh,
                                                              name, 0) : 0;
        PyObject *value = patched > 0 && PyFunction_Check(fresh) ? (PyObject *)held : fresh;
        if (bound < 0 || PyErr_Occurred() || deleted < 0 || patched < 0) {
            status = -1;
        }
        else if (deleted) {
            status = patched ? hr_report(batch->updated, u->name, path) : 0;
        }
        else {
            status = set_member(batch, live_cls, name, value) < 0 ? -1
                     : hr_report(patched ? batch->updated : batch->added, u->name, path);
        }
        Py_XDECREF(held);
        goto done;
    }
    int keep = m->known ? PySet_Contains(m->plan->keep, name) : 0;
    if (keep != 0) {
        status = keep < 0 ? -1 : hr_report(batch->kept, u->name, path);
        goto done;
    }
    if (unchanged) {
        /* Same text: the live member stays; the new one, if it is a
         * function or class, stands for it.  But a function no member
         * poured yet, of the same name as the live one, was made by a def
         * that ran again, which this member aliases and the body then
         * deletes (boltons' FrozenDict: `__setitem__ = update =
         * _raise_frozen_typeerror`, then `del _raise_frozen_typeerror`):
         * there is no member of the def's own name to pour it, so the live
         * function the aliases hold takes its code here, once. */
        int aliased = alias_of_rerun_def(u, live, fresh, hr_identity_get(&batch->identity, fresh));
        int patched = aliased > 0 ? hr_function_diff(batch, live, fresh,
                                                     ((PyFunctionObject *)fresh)->func_name, 0)
                                  : aliased;
        if (patched != 0) {
            status = patched < 0 ? -1 : hr_report(batch->updated, u->name, path);
            goto done;
        }
        status = (is_function_like(fresh) || PyType_Check(fresh)) && PyType_Check(live) == PyType_Check(fresh)
                 ? hr_identity_add(&batch->identity, fresh, live) : 0;
        goto done;
    }
    if (PyType_Check(live) && PyType_Check(fresh)) {
        const hr_stmt *old_stmt = m->known
            ? hr_find_definition(u->old_utf8, &m->plan->old_members, HR_STMT_CLASS, name) : NULL;
        const hr_stmt *new_stmt = m->known
            ? hr_find_definition(u->new_utf8, &m->plan->new_members, HR_STMT_CLASS, name) : NULL;
        status = PyErr_Occurred() ? -1
            : hr_class_diff(batch, u, (PyTypeObject *)live, (PyTypeObject *)fresh, old_stmt,
                            new_stmt, path, 0);
        if (status == 0) {
            status = hr_report(batch->updated, u->name, path);
        }
        goto done;
    }
    int wrapper = is_function_like(fresh) || is_function_like(live);
    if (!wrapper) {
        /* A caching or other wrapper of a method (functools.lru_cache):
         * the function inside takes the new code, so that bound methods
         * made before keep working on it. */
        wrapper = wraps_function(live, name);
        wrapper = wrapper > 0 ? wraps_function(fresh, name) : wrapper;
        if (wrapper < 0) {
            goto done;
        }
    }
    if (wrapper) {
        int patched = hr_function_diff(batch, live, fresh, name, 0);
        if (patched > 0) {
            status = hr_report(batch->updated, u->name, path);
        }
        else if (patched == 0) {
            status = set_member(batch, live_cls, name, fresh) < 0 ? -1
                     : hr_report(batch->replaced, u->name, path);
        }
        goto done;
    }
    if (!m->known && !m->remade) {
        /* No source to compare with: class data is kept, as module data. */
        status = hr_report(batch->kept, u->name, path);
        goto done;
    }
    status = set_member(batch, live_cls, name, fresh) < 0 ? -1
             : hr_report(batch->replaced, u->name, path);
done:
    Py_DECREF(path);
    return status;
}

/* For a class without a recorded source: a member is removed only if it
 * is a function the class itself defined (its qualified name says so). */
static int
defined_in_class(PyObject *value, PyObject *class_qualname)
{
    PyObject *func = value;
    if (is_function_like(value) && !PyFunction_Check(value)) {
        func = PyObject_GetAttrString(value, PyObject_TypeCheck(value, &PyProperty_Type)
                                              ? "fget" : "__func__");
        if (func == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                return -1;
            }
            PyErr_Clear();
            return 0;
        }
        Py_DECREF(func);  /* still held by the wrapper */
    }
    if (!PyFunction_Check(func)) {
        return 0;
    }
    PyObject *prefix = PyUnicode_FromFormat("%U.", class_qualname);
    if (prefix == NULL) {
        return -1;
    }
    PyObject *own = ((PyFunctionObject *)func)->func_qualname;
    int inside = PyUnicode_Tailmatch(own, prefix, 0, PY_SSIZE_T_MAX, -1) == 1;
    Py_DECREF(prefix);
    return inside;
}


/* ------------------------------------------------------------------------ */
/* Declarative classes                                                       */
/* ------------------------------------------------------------------------ */

/* 1 for an enum class, 0 for another, -1 on error. */
static int
is_enum(PyTypeObject *type)
{
    int is = hr_dict_get(type->tp_dict, "_member_map_") != NULL
             && hr_dict_get(type->tp_dict, "_member_names_") != NULL;
    return PyErr_Occurred() ? -1 : is;
}

/* 1 when both classes are enums, 0 when not, -1 on error. */
static int
both_enums(PyTypeObject *live, PyTypeObject *fresh)
{
    int a = is_enum(live);
    int b = a > 0 ? is_enum(fresh) : a;
    return b;
}

/* Enum bookkeeping whose values are members (or lists of them). */
static const char *const enum_tables[] = {
    "_member_map_", "_member_names_", "_value2member_map_", "_unhashable_values_",
    "_unhashable_values_map_", NULL,
};

/* New reference: a copy of an enum table whose members are the live ones. */
static PyObject *
map_table(hr_batch *b, PyObject *table)
{
    if (PyDict_Check(table)) {
        PyObject *copy = PyDict_New();
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (copy && PyDict_Next(table, &pos, &key, &value)) {
            if (PyDict_SetItem(copy, key, hr_identity_get(&b->identity, value)) < 0) {
                Py_CLEAR(copy);
            }
        }
        return copy;
    }
    if (PyList_Check(table)) {
        PyObject *copy = PyList_New(PyList_GET_SIZE(table));
        for (Py_ssize_t i = 0; copy && i < PyList_GET_SIZE(table); i++) {
            PyList_SET_ITEM(copy, i, Py_NewRef(hr_identity_get(&b->identity, PyList_GET_ITEM(table, i))));
        }
        return copy;
    }
    return Py_NewRef(table);
}

/* A member whose value is its own immutable payload (IntEnum, StrEnum...)
 * cannot take another value in place. */
static int
value_is_payload(PyObject *member)
{
    return PyLong_Check(member) || PyUnicode_Check(member) || PyFloat_Check(member)
           || PyBytes_Check(member) || PyTuple_Check(member);
}

/* Enums: a member that stays keeps its identity (`old is Color.RED`) and
 * takes a changed value; new members move to the live class; removed ones
 * go.  EnumMeta refuses these writes from Python; the commit writes through
 * type.__setattr__ itself.  Adds the names it handled to `handled`. */
static int
enum_diff(hr_batch *b, hr_unit *u, PyTypeObject *live, PyTypeObject *fresh, PyObject *qualname,
          PyObject *handled)
{
    PyObject *live_map = hr_dict_get(live->tp_dict, "_member_map_");
    PyObject *fresh_map = live_map ? hr_dict_get(fresh->tp_dict, "_member_map_") : NULL;
    PyObject *name, *member;
    Py_ssize_t pos = 0;
    if (live_map == NULL || fresh_map == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    /* First the identities, so the tables below map to live members. */
    while (PyDict_Next(fresh_map, &pos, &name, &member)) {
        PyObject *canonical = PyObject_GetAttrString(member, "_name_");
        PyObject *old = canonical ? PyDict_GetItemWithError(live_map, canonical) : NULL;
        if (old != NULL) {
            /* In the live class that name may be an alias of another member
             * (CRIMSON = 1 beside RED = 1): it is not the member this one
             * continues. */
            PyObject *old_name = PyObject_GetAttrString(old, "_name_");
            int same = old_name ? PyObject_RichCompareBool(old_name, canonical, Py_EQ) : -1;
            Py_XDECREF(old_name);
            if (same < 0) {
                Py_XDECREF(canonical);
                return -1;
            }
            if (!same) {
                old = NULL;
            }
        }
        PyObject *path = canonical ? member_path(qualname, name) : NULL;
        int status = path == NULL || PySet_Add(handled, name) < 0 ? -1 : 0;
        if (status == 0 && PyUnicode_Compare(canonical, name) != 0) {
            /* An alias: it follows its canonical member. */
        }
        else if (status == 0 && old == NULL) {
            PyObject *member_dict = PyObject_GetAttrString(member, "__dict__");
            status = member_dict ? PyDict_SetItemString(member_dict, "__objclass__", (PyObject *)live) : -1;
            Py_XDECREF(member_dict);
            if (status == 0) {
                status = hr_report(b->added, u->name, path);
            }
        }
        else if (status == 0) {
            PyObject *old_value = PyObject_GetAttrString(old, "_value_");
            PyObject *new_value = old_value ? PyObject_GetAttrString(member, "_value_") : NULL;
            int same = new_value ? PyObject_RichCompareBool(old_value, new_value, Py_EQ) : -1;
            if (same < 0) {
                status = -1;
            }
            else if (same || !value_is_payload(old)) {
                PyObject *old_dict = same ? NULL : PyObject_GetAttrString(old, "__dict__");
                status = hr_identity_add(&b->identity, member, old);
                if (status == 0 && !same) {
                    PyObject *key = old_dict ? PyUnicode_FromString("_value_") : NULL;
                    status = key ? hr_plan_dict_set(&b->actions, old_dict, key, new_value) : -1;
                    Py_XDECREF(key);
                    status = status == 0 ? hr_report(b->updated, u->name, path) : -1;
                }
                Py_XDECREF(old_dict);
            }
            else {
                status = hr_report(b->replaced, u->name, path);
            }
            Py_XDECREF(old_value);
            Py_XDECREF(new_value);
        }
        Py_XDECREF(canonical);
        Py_XDECREF(path);
        if (status < 0) {
            return -1;
        }
    }
    /* Members that left the source. */
    pos = 0;
    while (PyDict_Next(live_map, &pos, &name, &member)) {
        int present = PyDict_Contains(fresh_map, name);
        if (present < 0 || PySet_Add(handled, name) < 0) {
            return -1;
        }
        if (!present) {
            PyObject *path = member_path(qualname, name);
            int ok = path && hr_plan_type_set(&b->actions, (PyObject *)live, name, NULL) == 0
                     && hr_report(b->removed, u->name, path) == 0;
            Py_XDECREF(path);
            if (!ok) {
                return -1;
            }
        }
    }
    /* The class attributes of members, and the tables, now with live members. */
    pos = 0;
    while (PyDict_Next(fresh_map, &pos, &name, &member)) {
        PyObject *target = hr_identity_get(&b->identity, member);
        PyObject *current = PyDict_GetItemWithError(live->tp_dict, name);
        if ((current == NULL && PyErr_Occurred())
            || (current != target
                && hr_plan_type_set(&b->actions, (PyObject *)live, name, target) < 0)) {
            return -1;
        }
    }
    for (int i = 0; enum_tables[i]; i++) {
        PyObject *table = hr_dict_get(fresh->tp_dict, enum_tables[i]);
        if (table == NULL && PyErr_Occurred()) {
            return -1;
        }
        PyObject *key = PyUnicode_FromString(enum_tables[i]);
        PyObject *mapped = table && key ? map_table(b, table) : NULL;
        int status = key == NULL || PySet_Add(handled, key) < 0 ? -1 : 0;
        if (status == 0 && mapped != NULL) {
            status = hr_plan_type_set(&b->actions, (PyObject *)live, key, mapped);
        }
        else if (status == 0 && table != NULL) {
            status = -1;
        }
        Py_XDECREF(mapped);
        Py_XDECREF(key);
        if (status < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Named tuples                                                              */
/* ------------------------------------------------------------------------ */

/* __repr__ for a named tuple whose fields changed: an old instance is a
 * tuple of the old length, which the generated repr (a format string with
 * one slot per field) cannot print.  Pairs fields and items as far as both
 * go: Point(x=1, y=2). */
static PyObject *
tolerant_repr(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *fields = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_fields");
    PyObject *parts = fields ? PyList_New(0) : NULL;
    PyObject *result = NULL;
    if (parts == NULL || !PyTuple_Check(fields)) {
        goto done;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(fields) < PyTuple_GET_SIZE(self)
                   ? PyTuple_GET_SIZE(fields) : PyTuple_GET_SIZE(self);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *part = PyUnicode_FromFormat("%S=%R", PyTuple_GET_ITEM(fields, i),
                                              PyTuple_GET_ITEM(self, i));
        if (part == NULL || PyList_Append(parts, part) < 0) {
            Py_XDECREF(part);
            goto done;
        }
        Py_DECREF(part);
    }
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *inner = sep ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    PyObject *name = inner ? PyObject_GetAttrString((PyObject *)Py_TYPE(self), "__name__") : NULL;
    result = name ? PyUnicode_FromFormat("%S(%U)", name, inner) : NULL;
    Py_XDECREF(name);
    Py_XDECREF(inner);
done:
    Py_XDECREF(parts);
    Py_XDECREF(fields);
    return result;
}

static PyMethodDef tolerant_repr_def = {
    "__repr__", tolerant_repr, METH_NOARGS,
    "Return a repr that pairs the current fields with the tuple's items "
    "(set by hotreload when the fields changed).",
};

/* When a named tuple's fields changed, old instances keep their length:
 * the class's __repr__ becomes one that prints them too. */
static int
plan_named_tuple(hr_batch *batch, PyTypeObject *live, PyTypeObject *fresh)
{
    PyObject *old_fields = hr_dict_get(live->tp_dict, "_fields");
    PyObject *new_fields = old_fields ? hr_dict_get(fresh->tp_dict, "_fields") : NULL;
    if (old_fields == NULL || new_fields == NULL || !PyType_IsSubtype(live, &PyTuple_Type)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int same = PyObject_RichCompareBool(old_fields, new_fields, Py_EQ);
    if (same != 0) {
        return same < 0 ? -1 : 0;
    }
    PyObject *repr = PyDescr_NewMethod(&PyTuple_Type, &tolerant_repr_def);
    PyObject *name = repr ? PyUnicode_FromString("__repr__") : NULL;
    int status = name ? hr_plan_type_set(&batch->actions, (PyObject *)live, name, repr) : -1;
    Py_XDECREF(name);
    Py_XDECREF(repr);
    return status;
}

int
hr_class_diff(hr_batch *batch, hr_unit *u, PyTypeObject *live, PyTypeObject *fresh,
              const hr_stmt *old_stmt, const hr_stmt *new_stmt, PyObject *qualname, int remade)
{
    members m;
    memset(&m, 0, sizeof(m));
    int status = -1;
    PyObject *pair = PyTuple_Pack(2, (PyObject *)live, (PyObject *)fresh);
    int listed = pair ? PyList_Append(batch->patched, pair) : -1;
    Py_XDECREF(pair);
    if (listed < 0 || hr_identity_add(&batch->identity, (PyObject *)fresh, (PyObject *)live) < 0) {
        return -1;
    }
    PyObject *handled = PySet_New(NULL);
    int enums;
    if (handled == NULL || members_read(batch, u, old_stmt, new_stmt, &m) < 0
        || check_layout(batch, u, live, fresh, qualname) < 0
        || plan_bases(batch, live, fresh) < 0
        || (enums = both_enums(live, fresh)) < 0
        || (enums && enum_diff(batch, u, live, fresh, qualname, handled) < 0)) {
        goto done;
    }
    m.remade = remade && !m.known;
    PyObject *name, *fresh_value, *live_value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(fresh->tp_dict, &pos, &name, &fresh_value)) {
        if (!PyUnicode_Check(name) || is_class_bookkeeping(fresh, name, fresh_value)
            || PySet_Contains(handled, name) > 0) {
            continue;
        }
        live_value = PyDict_GetItemWithError(live->tp_dict, name);
        if (live_value == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (live_value == fresh_value) {
            continue;
        }
        int member = m.known && PyUnicode_CompareWithASCIIString(name, "__doc__") == 0
                     ? PySet_Contains(m.plan->in_new_source, name) : 0;
        if (member < 0) {
            goto done;
        }
        if (!member && PyUnicode_CompareWithASCIIString(name, "__doc__") == 0) {
            /* The docstring is part of the class statement's text; a member
             * the body binds to __doc__ (an instance property, toolz's
             * excepts) is a member like any other, and overrides it. */
            int same = live_value ? PyObject_RichCompareBool(live_value, fresh_value, Py_EQ) : 0;
            if (same < 0 || (!same && set_member(batch, live, name, fresh_value) < 0)) {
                goto done;
            }
            continue;
        }
        if (diff_member(batch, u, live, &m, qualname, name, live_value, fresh_value) < 0) {
            goto done;
        }
    }
    pos = 0;
    while (PyDict_Next(live->tp_dict, &pos, &name, &live_value)) {
        int present = PyDict_Contains(fresh->tp_dict, name);
        if (present == 0 && PySet_Contains(handled, name) > 0) {
            continue;
        }
        if (present != 0 || !PyUnicode_Check(name)) {
            if (present < 0) {
                goto done;
            }
            continue;
        }
        /* A member blanked because it did not change is absent from the
         * new class but still in the new source: it stays. */
        int gone = m.known ? PySet_Contains(m.plan->in_old_source, name) > 0
                                 && PySet_Contains(m.plan->in_new_source, name) == 0
                           : defined_in_class(live_value, qualname);
        if (gone < 0) {
            goto done;
        }
        if (gone) {
            PyObject *path = member_path(qualname, name);
            int ok = path && set_member(batch, live, name, NULL) == 0
                     && hr_report(batch->removed, u->name, path) == 0;
            Py_XDECREF(path);
            if (!ok) {
                goto done;
            }
        }
    }
    if (plan_named_tuple(batch, live, fresh) < 0) {
        goto done;
    }
    status = 0;
done:
    Py_XDECREF(handled);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Members that do not run again                                             */
/* ------------------------------------------------------------------------ */

/* New reference: the name a member statement binds when it is one we may
 * leave out (a def, a class, or a plain `name = value` whose name is not a
 * dunder), else NULL with no exception. */
static PyObject *
skippable_name(const char *text, const hr_stmt *st)
{
    if (st->kind == HR_STMT_DEF || st->kind == HR_STMT_CLASS) {
        return PyUnicode_DecodeUTF8(text + st->name, st->name_len, NULL);
    }
    if (st->kind != HR_STMT_OTHER) {
        return NULL;
    }
    PyObject *set = hr_simple_assignment(text, st->start, st->end);
    if (set == NULL) {
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(set);
    PyObject *name = iterator ? PyIter_Next(iterator) : NULL;  /* the only one */
    Py_XDECREF(iterator);
    Py_DECREF(set);
    if (name == NULL) {
        return NULL;
    }
    /* __slots__, __hash__ = None and other dunders shape the class itself:
     * they always run.  A private `__marker` is no dunder: it is data. */
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if (n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_'
        && PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_') {
        Py_CLEAR(name);
    }
    return name;
}

/* 1 when a member that runs (runs[other], other != k) mentions `name`. */
static int
needed_by_running(const hr_stmts *members, const char *runs, Py_ssize_t k, PyObject *name)
{
    PyObject *names = PySet_New(NULL);
    int needed = names ? PySet_Add(names, name) : -1;
    for (Py_ssize_t other = 0; needed == 0 && other < members->count; other++) {
        if (runs[other] && other != k) {
            needed = hr_mentions(members->items[other].norm, names);
        }
    }
    Py_XDECREF(names);
    return needed;
}

/* 1 when a class-body statement is an expression that binds no name and
 * is not a string (the docstring, or a comment-like literal), 0 when not,
 * -1 on error. */
static int
acts_only(hr_state *state, const char *text, const hr_stmt *st, int indent)
{
    const char *start = text + st->start;
    for (int k = 0; k < 2 && strchr("rRbBuUfF", *start) != NULL && *start != '\0'; k++) {
        start++;  /* a string prefix */
    }
    if (st->kind != HR_STMT_OTHER || *start == '"' || *start == '\'' || text[st->start] == '(') {
        return 0;
    }
    for (const char *c = text + st->start; c < text + st->end && *c != '\n'; c++) {
        if (*c == '=' || *c == ':') {
            return 0;  /* an assignment, a block: it binds or may bind */
        }
    }
    PyObject *binds = PySet_New(NULL);
    int status = binds ? hr_add_binds(state, binds, text, st, indent) : -1;
    int acts = status == 0 && PySet_GET_SIZE(binds) == 0;
    Py_XDECREF(binds);
    return status < 0 ? -1 : acts;
}

/* A def that runs and whose name the live class does not hold (the body
 * deletes it once its aliases are bound: `update = _raise_frozen_typeerror`
 * then `del _raise_frozen_typeerror`) has no member of its own name to
 * take its new code: the unchanged members left out that mention it run
 * again (runs[k] set, left_out[k] cleared), so that the new function
 * reaches their names, and the live function they hold takes its code
 * (diff_member). */
static int
rerun_aliases_of_deleted_defs(hr_unit *u, const hr_stmts *members, char *runs, char *left_out,
                              PyObject *cls_name, PyTypeObject *live_cls)
{
    PyObject *defs = PySet_New(NULL);
    int status = defs ? 0 : -1;
    for (Py_ssize_t k = 0; status == 0 && k < members->count; k++) {
        const hr_stmt *st = &members->items[k];
        if (!runs[k] || st->kind != HR_STMT_DEF) {
            continue;
        }
        PyObject *name = PyUnicode_DecodeUTF8(u->new_utf8 + st->name, st->name_len, NULL);
        PyObject *key = name ? hr_mangled(cls_name, name) : NULL;
        int held = key ? PyDict_Contains(live_cls->tp_dict, key) : -1;
        status = held < 0 ? -1 : held ? 0 : PySet_Add(defs, name);
        Py_XDECREF(name);
        Py_XDECREF(key);
    }
    for (Py_ssize_t k = 0; status == 0 && PySet_GET_SIZE(defs) > 0 && k < members->count; k++) {
        int mentions = left_out[k] ? hr_mentions(members->items[k].norm, defs) : 0;
        if (mentions < 0) {
            status = -1;
        }
        else if (mentions) {
            left_out[k] = 0;
            runs[k] = 1;
        }
    }
    Py_XDECREF(defs);
    return status;
}

int
hr_blank_unchanged_members(hr_state *state, hr_unit *u, Py_ssize_t i, char *buffer,
                           PyObject **fill)
{
    *fill = NULL;
    const hr_stmt *new_stmt = &u->new_stmts.items[i];
    const hr_stmt *old_stmt = &u->old_stmts.items[u->match[i]];
    char *runs = NULL, *left_out = NULL;
    PyObject *names = NULL, *bound_before = NULL;
    int status = -1;
    if (old_stmt->body < 0 || new_stmt->body < 0) {
        return 0;
    }
    /* The data members of an enum or a dataclass are its structure. */
    PyObject *cls_name = PyUnicode_DecodeUTF8(u->new_utf8 + new_stmt->name, new_stmt->name_len,
                                              NULL);
    PyObject *live_cls = cls_name ? PyDict_GetItemWithError(u->live, cls_name) : NULL;
    if (PyErr_Occurred()) {
        Py_XDECREF(cls_name);
        return -1;
    }
    if (live_cls == NULL || !PyType_Check(live_cls)) {
        /* The module deleted the name (`del _Base`) or does no longer:
         * there is no live class whose members the blanked ones would
         * keep, so the whole body runs. */
        Py_DECREF(cls_name);
        return 0;
    }
    int declarative = hr_class_is_declarative(live_cls);
    if (declarative < 0) {
        Py_DECREF(cls_name);
        return -1;
    }
    /* A custom metaclass may read or validate the whole namespace (an ORM's
     * declarative base, a registry): it gets the whole body.  Only type and
     * abc.ABCMeta, which do not, see a body with unchanged members left out. */
    int plain = Py_TYPE(live_cls) == &PyType_Type
                ? 1 : hr_is_abc_meta(state, (PyObject *)Py_TYPE(live_cls));
    if (plain <= 0) {
        Py_DECREF(cls_name);
        return plain;
    }
    const hr_member_plan *plan = hr_member_plan_of(state, u, old_stmt, new_stmt);
    if (plan == NULL) {
        goto done;
    }
    const hr_stmts *members = &plan->new_members;
    Py_ssize_t n = members->count;
    /* The plan's own runs, grown here by what the live class lacks. */
    runs = PyMem_Malloc(n + 1);
    left_out = PyMem_Calloc(n + 1, 1);
    if (runs == NULL || left_out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(runs, plan->runs, n + 1);
    if ((names = PyList_New(n)) == NULL) {
        goto done;
    }
    /* Every unchanged member the live class holds is left out, and lent:
     * the members that run see its live value (execute.c binds it in the
     * class namespace before the body runs), as a module statement that
     * runs again sees the live module's names.  Running it again instead
     * would make a new object the live class does not hold (a second
     * `_marker = object()`, which a re-run `def pop(self, default=_marker)`
     * would take as its default) and would need in turn every member it
     * reads. */
    bound_before = PySet_New(NULL);  /* names the members that run bound so far */
    for (Py_ssize_t k = 0; bound_before && k < n; k++) {
        const hr_stmt *st = &members->items[k];
        if (runs[k]) {
            if (hr_add_binds(state, bound_before, u->new_utf8, st, new_stmt->body_indent) < 0) {
                Py_CLEAR(bound_before);
            }
            continue;
        }
        if (declarative && st->kind != HR_STMT_DEF) {
            continue;
        }
        PyObject *name = skippable_name(u->new_utf8, st);
        /* A member that runs bound the name before this one: this one
         * runs again to bind it last, as in the file (the implementation
         * after a changed @typing.overload stub). */
        int rebinds = name ? PySet_Contains(bound_before, name) : 0;
        if (rebinds != 0) {
            runs[k] = rebinds > 0;
            Py_XDECREF(name);
            if (rebinds < 0) {
                Py_CLEAR(bound_before);
            }
            continue;
        }
        PyObject *key = name ? hr_mangled(cls_name, name) : NULL;
        PyObject *value = key ? PyDict_GetItemWithError(((PyTypeObject *)live_cls)->tp_dict, key)
                              : NULL;  /* borrowed */
        if (PyErr_Occurred()
            || (value != NULL && *fill == NULL && (*fill = PyDict_New()) == NULL)
            || (value != NULL && PyDict_SetItem(*fill, key, value) < 0)) {
            Py_XDECREF(name);
            Py_XDECREF(key);
            goto done;
        }
        Py_XDECREF(key);
        /* An unchanged statement that binds nothing (`parts.append("b")` on
         * class data) acted on what it reads, which the live class keeps:
         * running it again would act twice. */
        int acts = name == NULL ? acts_only(state, u->new_utf8, st, new_stmt->body_indent) : 0;
        if (acts < 0) {
            goto done;
        }
        left_out[k] = name != NULL || acts;
        PyList_SET_ITEM(names, k, name != NULL && value == NULL ? name : Py_NewRef(Py_None));
        if (name != NULL && value != NULL) {
            Py_DECREF(name);
        }
    }
    if (bound_before == NULL
        || rerun_aliases_of_deleted_defs(u, members, runs, left_out, cls_name,
                                         (PyTypeObject *)live_cls) < 0) {
        goto done;
    }
    /* An unchanged member the live class no longer holds (the body or the
     * module deleted it after use) has no live value to lend: it runs again
     * when a member that runs mentions it, and so does, in turn, what it
     * mentions (`count = property(_calc_count)` needs `_calc_count`). */
    for (int grew = 1; grew;) {
        grew = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            PyObject *name = PyList_GET_ITEM(names, k);
            if (!left_out[k] || name == Py_None) {
                continue;
            }
            int needed = needed_by_running(members, runs, k, name);
            if (needed < 0) {
                goto done;
            }
            if (needed) {
                left_out[k] = 0;
                runs[k] = 1;
                grew = 1;
            }
        }
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        const hr_stmt *st = &members->items[k];
        if (!left_out[k]) {
            continue;
        }
        for (Py_ssize_t c = st->start; c < st->end; c++) {
            buffer[c] = u->new_utf8[c] == '\n' ? '\n' : ' ';
        }
        buffer[st->start] = '0';
    }
    status = 0;
done:
    if (status < 0) {
        Py_CLEAR(*fill);
    }
    Py_XDECREF(cls_name);
    Py_XDECREF(names);
    Py_XDECREF(bound_before);
    PyMem_Free(runs);
    PyMem_Free(left_out);
    return status;
}

/* Plans what text/shape.c read of a class whose methods' bodies alone
 * changed, and which the plan left out of the run: each changed method
 * takes its new code. */
static int
plan_method_bodies(hr_batch *batch, hr_unit *u, PyObject *changes)
{
    PyObject *cls = PyList_GET_ITEM(changes, 0);
    batch->owner = u->live;  /* as while the unit is diffed: its functions only */
    PyObject *no_cells = PyTuple_New(0);
    int bodies = 0;
    int status = no_cells ? 0 : -1;
    for (Py_ssize_t k = 1; status == 0 && k < PyList_GET_SIZE(changes); k++) {
        PyObject *change = PyList_GET_ITEM(changes, k);
        PyObject *member = PyTuple_GET_ITEM(change, 0);
        PyFunctionObject *target = (PyFunctionObject *)PyTuple_GET_ITEM(change, 1);
        PyObject *fresh = PyTuple_GET_ITEM(change, 2);
        if (PyTuple_GET_ITEM(change, 3) == Py_False) {
            status = hr_plan_code(&batch->actions, (PyObject *)target, fresh,
                                  target->func_closure ? target->func_closure : no_cells);
            continue;
        }
        status = hr_patch_held(batch, member, (PyObject *)target, fresh);
        if (status == 0) {
            /* read_method checked it is: never reported as patched if not. */
            PyErr_Format(PyExc_RuntimeError, "%U is not a function of module %U",
                         target->func_qualname, u->name);
            status = -1;
        }
        status = status < 0 ? -1 : hr_report(batch->updated, u->name, target->func_qualname);
        bodies++;
    }
    if (status == 0 && bodies > 0) {
        /* A patched class: its __reload_class__ and __reload_instance__
         * hooks run, as for a class whose statement ran again. */
        PyObject *pair = PyTuple_Pack(2, cls, cls);
        PyObject *qualname = pair ? PyObject_GetAttrString(cls, "__qualname__") : NULL;
        status = qualname == NULL || PyList_Append(batch->patched, pair) < 0
                 || hr_report(batch->updated, u->name, qualname) < 0 ? -1 : 0;
        Py_XDECREF(pair);
        Py_XDECREF(qualname);
    }
    Py_XDECREF(no_cells);
    return status;
}

int
hr_plan_bodies(hr_batch *batch, hr_unit *u)
{
    assert(u->bodies == NULL || PyList_GET_SIZE(u->bodies) == u->new_stmts.count);
    /* From the last class up, the order the plan decided them in. */
    for (Py_ssize_t i = u->bodies ? PyList_GET_SIZE(u->bodies) - 1 : -1; i >= 0; i--) {
        PyObject *changes = PyList_GET_ITEM(u->bodies, i);
        if (changes != Py_None && plan_method_bodies(batch, u, changes) < 0) {
            return -1;
        }
    }
    return 0;
}
