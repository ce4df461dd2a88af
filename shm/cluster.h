/*
 * cluster.h - the cluster as the workers see it: a table in the shared
 * segment that only the replicator writes.
 *
 * The replicator owns membership (gossip), elections and replication; it
 * publishes what the workers need here: every member with its addresses,
 * role, state, epoch and LSNs, who leads, each replica's acknowledged LSN
 * (for upload?wait=N), and until when the leader has seen a majority (for
 * cluster.write_quorum).
 *
 * The member array is written under a sequence lock (seq odd while the
 * replicator writes); readers copy it and retry if seq changed.  acked[]
 * and the scalars are single atomics, read without the lock.
 */
#ifndef MEMDB_CLUSTER_H
#define MEMDB_CLUSTER_H

#include "memdb.h"

#include <stdatomic.h>

#define CL_MAX_MEMBERS 64
#define CL_ID_MAX      64
#define CL_ADDR_MAX    64

enum { MS_ALIVE = 0, MS_SUSPECT = 1, MS_DEAD = 2, MS_LEFT = 3 };

/* The name of an MS_* state, as the API, metrics and logs spell it. */
static inline const char *
cl_state_name(uint32_t state)
{
    static const char *const names[] = { "alive", "suspect", "dead", "left" };

    return state < 4 ? names[state] : "unknown";
}

typedef struct cl_member_s {
    char id[CL_ID_MAX];
    char gossip[CL_ADDR_MAX];
    char repl[CL_ADDR_MAX];
    char http[CL_ADDR_MAX];
    uint32_t role;  /* ROLE_* (shm.h) */
    uint32_t state; /* MS_* */
    uint64_t epoch;
    uint64_t lsn;   /* applied LSN it reported */
    uint64_t acked; /* LSN it acknowledged to us (if we lead) */
    uint64_t incarnation;
    uint64_t seen_ms; /* last heard from, our clock */
    bool self;
} cl_member_t;

#define CL_CMDS 16
enum { CMD_MEET = 1, CMD_FAILOVER, CMD_FORGET };

typedef struct cl_cmd_s {
    _Atomic uint64_t seq; /* written last: the slot is complete */
    uint32_t kind;        /* CMD_* */
    char arg[CL_ADDR_MAX];
    char error[160]; /* the replicator's answer, "" = ok */
} cl_cmd_t;

typedef struct shm_cluster_s {
    _Atomic uint32_t seq;
    uint32_t n;
    cl_member_t m[CL_MAX_MEMBERS];
    char leader_id[CL_ID_MAX];
    char leader_http[CL_ADDR_MAX];
    /* single atomics */
    _Atomic uint64_t acked[CL_MAX_MEMBERS]; /* per replica, 0 if none */
    _Atomic uint64_t quorum_until_ms;       /* monotonic ms */
    _Atomic uint64_t applied_lsn;           /* replica: applied so far */
    _Atomic uint32_t transfer;              /* leadership being handed */
    _Atomic uint64_t gossip_bad;            /* malformed datagrams */
    _Atomic uint64_t repl_bad;              /* malformed frames */
    _Atomic uint64_t auth_bad;              /* failed authentication */
    _Atomic uint32_t pending_merges;        /* tails not handed over yet */
    /* requests from workers (meet, failover, forget), in one sequence:
     * a worker takes the next number, fills cmds[seq % CL_CMDS] and sets
     * its seq last; the replicator runs them in order and moves cmd_done */
    _Atomic uint64_t cmd_req;
    _Atomic uint64_t cmd_done;
    cl_cmd_t cmds[CL_CMDS];
} shm_cluster_t;

static inline void
cl_write_begin(shm_cluster_t *c)
{
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_release);
}

static inline void
cl_write_end(shm_cluster_t *c)
{
    atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
}

/* Copies the member table (and leader) consistently. */
static inline void
cl_read(shm_cluster_t *c, cl_member_t *out, uint32_t *n, char *leader_id,
        char *leader_http)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s & 1)
            continue;
        *n = c->n < CL_MAX_MEMBERS ? c->n : CL_MAX_MEMBERS;
        __builtin_memcpy(out, c->m, *n * sizeof(cl_member_t));
        __builtin_memcpy(leader_id, c->leader_id, CL_ID_MAX);
        __builtin_memcpy(leader_http, c->leader_http, CL_ADDR_MAX);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&c->seq, memory_order_relaxed) == s)
            return;
    }
}

#endif
