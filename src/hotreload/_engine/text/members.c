/* The member plan of a class statement: its body split into members, each
 * paired with its old self, and which members run again.  Computed once
 * per pair of class statements and kept with the unit, for the two stages
 * that need it: run/execute.c leaves the members that do not run out of the
 * class body it runs (hr_blank_unchanged_members), and run/classpatch.c
 * keeps their live values when it diffs the class. */
#include "hotreload.h"

/* A member that left the source may have bound a name that a member still
 * binds (`@x.setter def x` removed beside an unchanged `@property def x`):
 * the name held what the member that left made, so the member that now
 * binds it last runs again (runs[k] set), as in the module (plan.c's
 * find_removed). */
static int
rerun_last_binders(hr_state *state, const char *old_text, const hr_stmts *old_members,
                   int old_indent, const char *new_text, const hr_stmts *new_members,
                   int indent, const Py_ssize_t *match, char *runs)
{
    char *matched = PyMem_Calloc(old_members->count + 1, 1);
    PyObject *left_source = matched ? PySet_New(NULL) : NULL;
    int status = left_source ? 0 : -1;
    if (matched == NULL) {
        PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; status == 0 && k < new_members->count; k++) {
        if (match[k] >= 0) {
            matched[match[k]] = 1;
        }
    }
    for (Py_ssize_t j = 0; status == 0 && j < old_members->count; j++) {
        if (!matched[j]) {
            status = hr_add_binds(state, left_source, old_text, &old_members->items[j], old_indent);
        }
    }
    for (Py_ssize_t k = new_members->count - 1;
         status == 0 && PySet_GET_SIZE(left_source) > 0 && k >= 0; k--) {
        PyObject *binds = PySet_New(NULL);
        status = binds ? hr_add_binds(state, binds, new_text, &new_members->items[k], indent) : -1;
        PyObject *bound = status == 0 ? PyNumber_And(binds, left_source) : NULL;
        PyObject *rest = bound ? PyNumber_Subtract(left_source, binds) : NULL;
        if (rest == NULL) {
            status = -1;
        }
        else {
            runs[k] = runs[k] || PySet_GET_SIZE(bound) > 0;
            Py_SETREF(left_source, rest);
        }
        Py_XDECREF(binds);
        Py_XDECREF(bound);
    }
    Py_XDECREF(left_source);
    PyMem_Free(matched);
    return status;
}

/* Decides, per member of the new class body, whether it runs again: its
 * text changed, it is listed in the class's __reload_update__, or it
 * mentions a name that a data member running before it rebinds
 * (`DOUBLE = BASE * 2` after BASE changed) - the module's data rule, one
 * level down.  runs[k] is set for those. */
static int
members_rerun(hr_state *state, const char *old_text, const hr_stmts *old_members,
              int old_indent, const char *new_text, const hr_stmts *new_members,
              const Py_ssize_t *match, PyObject *update, int indent, char *runs)
{
    PyObject *rebound = PySet_New(NULL);
    if (rebound == NULL) {
        return -1;
    }
    for (Py_ssize_t k = 0; k < new_members->count; k++) {
        const hr_stmt *st = &new_members->items[k];
        int run = match[k] < 0 || !hr_same_norm(st->norm, old_members->items[match[k]].norm);
        if (!run && PySet_GET_SIZE(rebound) > 0) {
            run = hr_mentions(st->norm, rebound);
        }
        PyObject *binds = NULL;
        int mentioned = run == 0 && update != NULL && PySet_GET_SIZE(update) > 0
                        ? hr_mentions(st->norm, update) : 0;
        if (mentioned < 0) {
            run = -1;
        }
        else if (mentioned) {
            binds = hr_stmt_binds(state, new_text, st, indent);
            run = binds ? hr_any_in(binds, update) : -1;
        }
        if (run > 0 && st->kind == HR_STMT_OTHER) {
            if (binds == NULL) {
                binds = hr_stmt_binds(state, new_text, st, indent);
            }
            if (binds == NULL || hr_set_update(rebound, binds) < 0) {
                run = -1;
            }
        }
        Py_XDECREF(binds);
        if (run < 0) {
            Py_DECREF(rebound);
            return -1;
        }
        runs[k] = (char)run;
    }
    Py_DECREF(rebound);
    return rerun_last_binders(state, old_text, old_members, old_indent, new_text, new_members,
                              indent, match, runs);
}

/* Fills `plan` for the class statements old_stmt and new_stmt (both with a
 * body) of the unit. */
static int
plan_members(hr_state *state, hr_unit *u, const hr_stmt *old_stmt, const hr_stmt *new_stmt,
             hr_member_plan *plan)
{
    if (hr_split_body(u->old_utf8, old_stmt, &plan->old_members) < 0
        || hr_split_body(u->new_utf8, new_stmt, &plan->new_members) < 0) {
        return -1;
    }
    Py_ssize_t n_new = plan->new_members.count, n_old = plan->old_members.count;
    plan->match = PyMem_Calloc(n_new + 1, sizeof(Py_ssize_t));
    plan->old_used = PyMem_Calloc(n_old + 1, 1);
    plan->runs = PyMem_Calloc(n_new + 1, 1);
    if (plan->match == NULL || plan->old_used == NULL || plan->runs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    plan->unchanged = PySet_New(NULL);
    plan->in_old_source = PySet_New(NULL);
    plan->in_new_source = PySet_New(NULL);
    if (plan->unchanged == NULL || plan->in_old_source == NULL || plan->in_new_source == NULL
        || hr_match(u->old_utf8, &plan->old_members, u->new_utf8, &plan->new_members,
                    plan->match, plan->old_used) < 0
        || hr_read_declaration(state, u->name, u->new_utf8, &plan->new_members,
                               HR_TRAIT_DECLARES_KEEP, &plan->keep) < 0
        || hr_read_declaration(state, u->name, u->new_utf8, &plan->new_members,
                               HR_TRAIT_DECLARES_UPDATE, &plan->update) < 0
        || members_rerun(state, u->old_utf8, &plan->old_members, old_stmt->body_indent,
                         u->new_utf8, &plan->new_members, plan->match, plan->update,
                         new_stmt->body_indent, plan->runs) < 0) {
        return -1;
    }
    /* A name is unchanged only when no member that runs again binds it:
     * `@property def x` unchanged beside a new `@x.setter def x` binds x
     * to a new property, which must not be taken for the live one. */
    PyObject *running = PySet_New(NULL);
    int status = running ? 0 : -1;
    for (Py_ssize_t i = 0; status == 0 && i < n_new; i++) {
        const hr_stmt *st = &plan->new_members.items[i];
        status = hr_add_binds(state, plan->runs[i] ? running : plan->unchanged, u->new_utf8, st,
                              new_stmt->body_indent);
        if (status == 0) {
            status = hr_add_binds(state, plan->in_new_source, u->new_utf8, st,
                                  new_stmt->body_indent);
        }
    }
    if (status == 0 && PySet_GET_SIZE(running) > 0) {
        PyObject *left = PyNumber_Subtract(plan->unchanged, running);
        status = left ? 0 : -1;
        if (left != NULL) {
            Py_SETREF(plan->unchanged, left);
        }
    }
    Py_XDECREF(running);
    for (Py_ssize_t j = 0; status == 0 && j < n_old; j++) {
        status = hr_add_binds(state, plan->in_old_source, u->old_utf8,
                              &plan->old_members.items[j], old_stmt->body_indent);
    }
    return status;
}

static void
plan_free(hr_member_plan *plan)
{
    hr_stmts_clear(&plan->old_members);
    hr_stmts_clear(&plan->new_members);
    PyMem_Free(plan->match);
    PyMem_Free(plan->old_used);
    PyMem_Free(plan->runs);
    Py_CLEAR(plan->unchanged);
    Py_CLEAR(plan->in_old_source);
    Py_CLEAR(plan->in_new_source);
    Py_CLEAR(plan->keep);
    Py_CLEAR(plan->update);
    PyMem_Free(plan);
}

const hr_member_plan *
hr_member_plan_of(hr_state *state, hr_unit *u, const hr_stmt *old_stmt, const hr_stmt *new_stmt)
{
    assert(old_stmt->body >= 0 && new_stmt->body >= 0);
    for (hr_member_plan *plan = u->member_plans; plan != NULL; plan = plan->next) {
        if (plan->old_stmt == old_stmt && plan->new_stmt == new_stmt) {
            return plan;
        }
    }
    hr_member_plan *plan = PyMem_Calloc(1, sizeof(hr_member_plan));
    if (plan == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    plan->old_stmt = old_stmt;
    plan->new_stmt = new_stmt;
    if (plan_members(state, u, old_stmt, new_stmt, plan) < 0) {
        plan_free(plan);
        return NULL;
    }
    plan->next = u->member_plans;
    u->member_plans = plan;
    return plan;
}

void
hr_member_plans_clear(hr_unit *u)
{
    /* Newest first: a nested class's plan points into its outer class's. */
    while (u->member_plans != NULL) {
        hr_member_plan *next = u->member_plans->next;
        plan_free(u->member_plans);
        u->member_plans = next;
    }
}
