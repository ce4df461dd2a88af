/*
 * fault.h - named fault-injection points, for tests (a build configured
 * with --enable-fault-injection; in any other build FAULT() is 0 and the
 * points cost nothing).
 *
 * A crash window a few hundred nanoseconds wide is never hit by a random
 * kill -9.  A fault point names such a place in the code:
 *
 *     ring_reserve(...);
 *     FAULT("follow.reserved");     <- kill the replicator exactly here
 *     memcpy(...);
 *
 * and a test arms it while the daemon runs (POST /api/v1/admin/fault in a
 * fault-injection build, see doc/testing.md), in the process it names:
 *
 *   kill      SIGKILL this process, as kill -9 would, at this very line
 *   exit      _exit(FAULT_EXIT_CODE)
 *   stop      SIGSTOP this process (a pause; the test sends SIGCONT)
 *   sleep N   sleep N ms, then go on (a slow disk, a stalled process)
 *   error N   the call site fails as if its system call had returned
 *             errno N (FAULT() returns N; only points that say so)
 *
 * An arming fires after `skip` hits that pass, `count` times (0: every
 * time), in the processes of one kind (master, worker, replicator,
 * snapshot) or any.  Armed points live in a small table in the shared
 * segment (fault_tab_t), so every process of the node sees an arming at
 * once and a point in a child that is restarted stays armed.  Before the
 * segment exists the master reads MEMDB_FAULTS from its environment
 * ("point=action[:arg][@process][+skip][*count],..."), for points on the
 * way up (recovery).
 */
#ifndef MEMDB_SRC_CORE_FAULT_H
#define MEMDB_SRC_CORE_FAULT_H

#include "src/core/memdb.h"

#include <stdatomic.h>

#define FAULT_NAME      48
#define FAULT_SLOTS     16
#define FAULT_EXIT_CODE 86

enum {
    FAULT_KILL = 1,
    FAULT_EXIT,
    FAULT_STOP,
    FAULT_SLEEP,
    FAULT_ERROR,
};

enum {
    FAULT_P_MASTER = 1,
    FAULT_P_WORKER = 2,
    FAULT_P_REPLICATOR = 4,
    FAULT_P_SNAPSHOT = 8,
    FAULT_P_OTHER = 16, /* memdbctl, unit tests */
    FAULT_P_ANY = 31,
};

enum { FAULT_FREE = 0, FAULT_BUSY, FAULT_ARMED };

typedef struct fault_slot_s {
    _Atomic uint32_t state; /* FAULT_FREE, _BUSY (being filled), _ARMED */
    uint32_t action;        /* FAULT_KILL ... */
    uint32_t procs;         /* FAULT_P_* mask */
    uint32_t arg;           /* ms for sleep, errno for error */
    _Atomic uint64_t skip;  /* hits that pass before it fires */
    _Atomic uint64_t left;  /* fires left; UINT64_MAX: no limit */
    _Atomic uint64_t hits;
    _Atomic uint64_t fired;
    char name[FAULT_NAME];
} fault_slot_t;

typedef struct fault_tab_s {
    _Atomic uint32_t armed; /* slots in state FAULT_ARMED */
    uint32_t _pad;
    fault_slot_t slot[FAULT_SLOTS];
} fault_tab_t;

/* One arming, as a test asks for it. */
typedef struct fault_spec_s {
    char name[FAULT_NAME];
    uint32_t action;
    uint32_t procs;
    uint32_t arg;
    uint64_t skip;
    uint64_t count; /* 0: every hit */
} fault_spec_t;

#ifdef MEMDB_FAULT_INJECTION
extern fault_tab_t *fault_tab;
int fault_hit(const char *name);
#define FAULT(name) \
    (unlikely( \
         fault_tab != NULL \
         && atomic_load_explicit(&fault_tab->armed, memory_order_relaxed)) \
         ? fault_hit(name) \
         : 0)
#define FAULT_INJECTION 1
#else
#define FAULT(name)     0
#define FAULT_INJECTION 0
#endif

/* The table fault points consult (the shared segment's); the points of a
 * process are silent until this is called. */
void fault_use(fault_tab_t *tab);
/* The kind of this process (FAULT_P_*), for arming by process. */
void fault_set_proc(uint32_t proc);
/* Parses "action[:arg]" and a process name into spec; MEMDB_ERR with a
 * message in err. */
int fault_parse_action(fault_spec_t *spec, const char *action,
                       const char *proc, char *err, size_t errlen);
/* Arms spec (replacing an arming of the same point); "off" disarms.
 * MEMDB_ERR when the table is full. */
int fault_arm(fault_tab_t *tab, const fault_spec_t *spec);
void fault_disarm(fault_tab_t *tab, const char *name);
/* Arms what MEMDB_FAULTS lists; MEMDB_ERR with a message when it does not
 * parse. */
int fault_arm_env(fault_tab_t *tab, const char *env, char *err, size_t errlen);

#endif
