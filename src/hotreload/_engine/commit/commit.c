/* The commit: applies the planned actions (run/actions.c) in order, each
 * write through the journal (journal.c), so that a failure part way puts
 * back everything written before it. */
#include "hotreload.h"

/* The operands were checked when the action was planned (hr_plan_*).  A
 * value that is a new object standing for a live one is bound as the live
 * one: a name the new code bound to it (`__nonzero__ = __bool__` beside an
 * unchanged or patched __bool__) must not keep the throw-away alive; the
 * map is complete only now, whatever order the names were diffed in. */
static int
apply(hr_action *action, hr_journal *journal, const hr_identity *identity)
{
    switch (action->kind) {
    case HR_ACT_DICT_SET:
        assert(PyDict_Check(action->target));
        return hr_journal_dict_set(journal, action->target, action->key,
                                   hr_identity_get(identity, action->value));
    case HR_ACT_TYPE_SET:
        assert(PyType_Check(action->target));
        return hr_journal_type_set(journal, (PyTypeObject *)action->target, action->key,
                                   hr_identity_get(identity, action->value));
    case HR_ACT_PATCH:
        assert(PyFunction_Check(action->target) && PyFunction_Check(action->value));
        return hr_function_patch(journal, (PyFunctionObject *)action->target,
                                 (PyFunctionObject *)action->value, action->key, identity);
    case HR_ACT_ADOPT:
        assert(PyFunction_Check(action->target) && PyDict_Check(action->value));
        return hr_function_adopt((PyFunctionObject *)action->target, action->value, identity);
    case HR_ACT_BASES:
        assert(PyType_Check(action->target) && PyTuple_Check(action->value));
        return hr_journal_set_bases(journal, (PyTypeObject *)action->target, action->value);
    case HR_ACT_CODE:
        assert(PyFunction_Check(action->target) && PyCode_Check(action->value));
        return hr_function_set_code(journal, (PyFunctionObject *)action->target, action->value,
                                    action->key);
    case HR_ACT_DOC:
        assert(Py_IS_TYPE(action->target, &PyProperty_Type));
        return hr_journal_doc_set(journal, action->target, action->value);
    case HR_ACT_FORWARD:
        assert(hr_forward_check(action->target) == 0);
        return hr_forward_live(journal, action->target, identity);
    }
    return 0;
}

int
hr_actions_commit(hr_actions *actions, hr_journal *journal, const hr_identity *identity,
                  const hr_action **failed)
{
    /* Functions made by the reload first, so that whatever gets bound next
     * already sees the live globals; then code into live functions; then
     * the names that make the new objects reachable. */
    static const hr_action_kind order[] = {
        HR_ACT_ADOPT, HR_ACT_PATCH, HR_ACT_CODE, HR_ACT_BASES, HR_ACT_TYPE_SET,
        HR_ACT_DICT_SET, HR_ACT_DOC, HR_ACT_FORWARD,
    };
    *failed = NULL;
    for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
        for (Py_ssize_t i = 0; i < actions->count; i++) {
            hr_action *action = &actions->items[i];
            /* The live closures this pass writes lie all over the program's
             * heap: the one 2 * HR_AHEAD actions on is asked for, and the
             * cell tuple of the one HR_AHEAD on (arrived by now), which
             * CPython's __code__ setter reads.  (Here, not in a function of
             * their own: GCC drops calls to a function that only
             * prefetches.) */
            if (order[pass] == HR_ACT_CODE) {
                Py_ssize_t far = i + 2 * HR_AHEAD, near = i + HR_AHEAD;
                if (far < actions->count && actions->items[far].kind == HR_ACT_CODE) {
                    PyFunctionObject *func = (PyFunctionObject *)actions->items[far].target;
                    hr_prefetch(func);
                    hr_prefetch(&func->func_closure);
#if HR_PY311
                    hr_prefetch(&func->func_version);  /* the setter forgets it */
#endif
                }
                if (near < actions->count && actions->items[near].kind == HR_ACT_CODE) {
                    PyObject *cells = ((PyFunctionObject *)actions->items[near].target)->func_closure;
                    if (cells != NULL) {
                        hr_prefetch(cells);
                    }
                }
            }
            if (action->kind == order[pass] && apply(action, journal, identity) < 0) {
                *failed = action;
                hr_journal_rollback(journal);
                return -1;
            }
        }
    }
    return 0;
}
