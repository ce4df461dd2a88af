/*
 * fault.c - fault-injection points (see fault.h).
 *
 * The table is written by whoever arms (a worker answering the admin
 * request, the master from MEMDB_FAULTS) and read by every fault point:
 * a slot is claimed with a CAS (FREE or ARMED -> BUSY), filled, and
 * published with a release store of ARMED; a point only looks at ARMED
 * slots.  An arming whose count ran out stays in the table (inert) so
 * that a test can read how often it fired.
 */
#include "src/core/fault.h"
#include "src/core/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

fault_tab_t *fault_tab;
static uint32_t fault_proc = FAULT_P_OTHER;

static const char *const action_names[] = {
    NULL, "kill", "exit", "stop", "sleep", "error",
};

static const struct {
    const char *name;
    uint32_t mask;
} proc_names[] = {
    { "master", FAULT_P_MASTER },
    { "worker", FAULT_P_WORKER },
    { "replicator", FAULT_P_REPLICATOR },
    { "snapshot", FAULT_P_SNAPSHOT },
    { "any", FAULT_P_ANY },
};

void
fault_use(fault_tab_t *tab)
{
    fault_tab = tab;
}

void
fault_set_proc(uint32_t proc)
{
    fault_proc = proc;
}

int
fault_parse_action(fault_spec_t *spec, const char *action, const char *proc,
                   char *err, size_t errlen)
{
    const char *colon = strchr(action, ':');
    size_t alen = colon ? (size_t) (colon - action) : strlen(action);
    unsigned long arg = 0;

    spec->action = 0;
    for (uint32_t i = FAULT_KILL; i <= FAULT_ERROR; i++)
        if (strlen(action_names[i]) == alen
            && strncmp(action, action_names[i], alen) == 0)
            spec->action = i;
    if (spec->action == 0) {
        snprintf(err, errlen,
                 "unknown fault action \"%.*s\" (kill, exit, stop, "
                 "sleep:MS, error:ERRNO)",
                 (int) MEMDB_MIN(alen, 32), action);
        return MEMDB_ERR;
    }
    if (colon != NULL) {
        char *end;
        arg = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || end == colon + 1 || arg > 600000) {
            snprintf(err, errlen, "bad fault argument \"%.32s\"", colon + 1);
            return MEMDB_ERR;
        }
    }
    if ((spec->action == FAULT_SLEEP || spec->action == FAULT_ERROR)
        && colon == NULL) {
        snprintf(err, errlen, "fault action %s needs an argument (%s:N)",
                 action_names[spec->action], action_names[spec->action]);
        return MEMDB_ERR;
    }
    spec->arg = (uint32_t) arg;
    spec->procs = 0;
    for (size_t i = 0; i < MEMDB_NELEM(proc_names); i++)
        if (strcmp(proc != NULL ? proc : "any", proc_names[i].name) == 0)
            spec->procs = proc_names[i].mask;
    if (spec->procs == 0) {
        snprintf(err, errlen,
                 "unknown process \"%.32s\" (master, worker, replicator, "
                 "snapshot, any)",
                 proc);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* Claims the slot armed for name, or a free one; NULL when full. */
static fault_slot_t *
fault_claim(fault_tab_t *tab, const char *name, bool *was_armed)
{
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < FAULT_SLOTS; i++) {
            fault_slot_t *s = &tab->slot[i];
            uint32_t want = pass == 0 ? FAULT_ARMED : FAULT_FREE;

            if (pass == 0 && strncmp(s->name, name, FAULT_NAME) != 0)
                continue;
            if (atomic_compare_exchange_strong(&s->state, &want, FAULT_BUSY)) {
                *was_armed = pass == 0;
                return s;
            }
        }
    }
    return NULL;
}

int
fault_arm(fault_tab_t *tab, const fault_spec_t *spec)
{
    bool was_armed = false;
    fault_slot_t *s = fault_claim(tab, spec->name, &was_armed);

    if (s == NULL)
        return MEMDB_ERR;
    if (was_armed)
        atomic_fetch_sub(&tab->armed, 1);
    snprintf(s->name, sizeof(s->name), "%s", spec->name);
    s->action = spec->action;
    s->procs = spec->procs;
    s->arg = spec->arg;
    atomic_store(&s->skip, spec->skip);
    atomic_store(&s->left, spec->count ? spec->count : UINT64_MAX);
    atomic_store(&s->hits, 0);
    atomic_store(&s->fired, 0);
    atomic_store_explicit(&s->state, FAULT_ARMED, memory_order_release);
    atomic_fetch_add(&tab->armed, 1);
    return MEMDB_OK;
}

void
fault_disarm(fault_tab_t *tab, const char *name)
{
    for (unsigned i = 0; i < FAULT_SLOTS; i++) {
        fault_slot_t *s = &tab->slot[i];
        uint32_t want = FAULT_ARMED;

        if (strncmp(s->name, name, FAULT_NAME) == 0
            && atomic_compare_exchange_strong(&s->state, &want, FAULT_BUSY)) {
            atomic_fetch_sub(&tab->armed, 1);
            memset(s->name, 0, sizeof(s->name));
            atomic_store(&s->state, FAULT_FREE);
        }
    }
}

/* One item of MEMDB_FAULTS: point=action[:arg][@process][+skip][*count] */
static int
fault_arm_item(fault_tab_t *tab, char *item, char *err, size_t errlen)
{
    fault_spec_t spec;
    char *eq = strchr(item, '='), *at, *plus, *star;
    const char *proc = "any";

    memset(&spec, 0, sizeof(spec));
    if (eq == NULL || eq == item || (size_t) (eq - item) >= FAULT_NAME) {
        snprintf(err, errlen, "MEMDB_FAULTS: \"%.64s\" is not point=action",
                 item);
        return MEMDB_ERR;
    }
    *eq = '\0';
    snprintf(spec.name, sizeof(spec.name), "%s", item);
    if ((star = strchr(eq + 1, '*')) != NULL) {
        *star = '\0';
        spec.count = strtoull(star + 1, NULL, 10);
    }
    if ((plus = strchr(eq + 1, '+')) != NULL) {
        *plus = '\0';
        spec.skip = strtoull(plus + 1, NULL, 10);
    }
    if ((at = strchr(eq + 1, '@')) != NULL) {
        *at = '\0';
        proc = at + 1;
    }
    if (fault_parse_action(&spec, eq + 1, proc, err, errlen) != MEMDB_OK)
        return MEMDB_ERR;
    if (fault_arm(tab, &spec) != MEMDB_OK) {
        snprintf(err, errlen, "MEMDB_FAULTS: more than %d points",
                 FAULT_SLOTS);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

int
fault_arm_env(fault_tab_t *tab, const char *env, char *err, size_t errlen)
{
    char *copy, *item, *save = NULL;
    int rc = MEMDB_OK;

    if (env == NULL || env[0] == '\0')
        return MEMDB_OK;
    copy = strdup(env);
    if (copy == NULL)
        abort();
    for (item = strtok_r(copy, ",", &save); item != NULL && rc == MEMDB_OK;
         item = strtok_r(NULL, ",", &save))
        rc = fault_arm_item(tab, item, err, errlen);
    free(copy);
    return rc;
}

/* Takes one unit from *v if it is above 0; false when it was 0. */
static bool
take_one(_Atomic uint64_t *v)
{
    uint64_t cur = atomic_load(v);

    while (cur > 0 && cur != UINT64_MAX)
        if (atomic_compare_exchange_weak(v, &cur, cur - 1))
            return true;
    return cur == UINT64_MAX;
}

static int
fault_fire(fault_slot_t *s)
{
    struct timespec ts;

    atomic_fetch_add(&s->fired, 1);
    log_warn("fault point %s: %s", s->name, action_names[s->action]);
    switch (s->action) {
    case FAULT_KILL: raise(SIGKILL); break;
    case FAULT_EXIT: _exit(FAULT_EXIT_CODE);
    case FAULT_STOP: raise(SIGSTOP); break;
    case FAULT_SLEEP:
        ts.tv_sec = s->arg / 1000;
        ts.tv_nsec = (long) (s->arg % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        break;
    case FAULT_ERROR: return (int) s->arg;
    }
    return 0;
}

int
fault_hit(const char *name)
{
    for (unsigned i = 0; i < FAULT_SLOTS; i++) {
        fault_slot_t *s = &fault_tab->slot[i];

        if (atomic_load_explicit(&s->state, memory_order_acquire)
                != FAULT_ARMED
            || (s->procs & fault_proc) == 0
            || strncmp(s->name, name, FAULT_NAME) != 0)
            continue;
        atomic_fetch_add(&s->hits, 1);
        uint64_t skip = atomic_load(&s->skip);
        if (skip > 0 && take_one(&s->skip))
            return 0;
        if (!take_one(&s->left))
            return 0;
        return fault_fire(s);
    }
    return 0;
}
