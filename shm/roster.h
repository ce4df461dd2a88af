/*
 * roster.h - the roster: the cluster as the workers see it, a table in
 * the shared segment that only the replicator writes.
 *
 * The replicator owns membership (gossip), elections and replication; it
 * publishes what the workers need here: every member with its addresses,
 * role, state, epoch and LSNs, who leads, each replica's acknowledged LSN
 * (for upload?wait=N), and until when the leader has seen a majority (for
 * cluster.write_quorum).  The workers hand it their cluster requests
 * (meet, failover, forget) here too.
 *
 * The member table is double-buffered: the replicator fills the table
 * that readers are not directed to (its seq odd meanwhile), then points
 * `cur` at it.  A reader copies tab[cur] and retries only if that table's
 * seq changed under it, which needs the writer to have published twice
 * meanwhile.  So a replicator that is paused or killed half way through
 * (seq left odd) never makes a reader wait: readers keep the last complete
 * table, and the next writer starts over on the table it left.  acked[]
 * and the scalars are single atomics, read without either.
 */
#ifndef MEMDB_SHM_ROSTER_H
#define MEMDB_SHM_ROSTER_H

#include "src/core/memdb.h"

#include <stdatomic.h>

#define ROSTER_MAX_MEMBERS 64
#define ROSTER_ID_MAX      64
#define ROSTER_ADDR_MAX    64

enum { MS_ALIVE = 0, MS_SUSPECT = 1, MS_DEAD = 2, MS_LEFT = 3 };

/* The name of an MS_* state, as the API, metrics and logs spell it. */
static inline const char *
roster_state_name(uint32_t state)
{
    static const char *const names[] = { "alive", "suspect", "dead", "left" };

    return state < 4 ? names[state] : "unknown";
}

typedef struct roster_member_s {
    char id[ROSTER_ID_MAX];
    char gossip[ROSTER_ADDR_MAX];
    char repl[ROSTER_ADDR_MAX];
    char http[ROSTER_ADDR_MAX];
    uint32_t role;  /* ROLE_* (shm.h) */
    uint32_t state; /* MS_* */
    uint64_t epoch;
    uint64_t lsn;   /* applied LSN it reported */
    uint64_t acked; /* LSN it acknowledged to us (if we lead) */
    uint64_t incarnation;
    uint64_t seen_ms; /* last heard from, our clock */
    bool self;
} roster_member_t;

#define ROSTER_CMDS 16
enum { CMD_MEET = 1, CMD_FAILOVER, CMD_FORGET };

typedef struct roster_cmd_s {
    _Atomic uint64_t seq; /* written last: the slot is complete */
    uint32_t kind;        /* CMD_* */
    char arg[ROSTER_ADDR_MAX];
    char error[160]; /* the replicator's answer, "" = ok */
} roster_cmd_t;

/* One copy of the member table (see the top of this file). */
typedef struct roster_table_s {
    _Atomic uint32_t seq; /* odd while being written */
    uint32_t n;
    roster_member_t m[ROSTER_MAX_MEMBERS];
    char leader_id[ROSTER_ID_MAX];
    char leader_http[ROSTER_ADDR_MAX];
} roster_table_t;

typedef struct shm_roster_s {
    _Atomic uint32_t cur; /* the table readers copy: tab[cur] */
    uint32_t _pad;
    roster_table_t tab[2];
    /* single atomics */
    _Atomic uint64_t acked[ROSTER_MAX_MEMBERS]; /* per replica, 0 if none */
    _Atomic uint64_t quorum_until_ms;           /* monotonic ms */
    _Atomic uint64_t applied_lsn;               /* replica: applied so far */
    _Atomic uint32_t transfer;                  /* leadership being handed */
    _Atomic uint64_t gossip_bad;                /* malformed datagrams */
    _Atomic uint64_t repl_bad;                  /* malformed frames */
    _Atomic uint64_t auth_bad;                  /* failed authentication */
    _Atomic uint32_t pending_merges;            /* tails not handed over yet */
    _Atomic uint64_t merge_discarded; /* handed over to a dropped table */
    /* requests from workers (meet, failover, forget), in one sequence:
     * a worker takes the next number, fills cmds[seq % ROSTER_CMDS] and sets
     * its seq last; the replicator runs them in order and moves cmd_done */
    _Atomic uint64_t cmd_req;
    _Atomic uint64_t cmd_done;
    roster_cmd_t cmds[ROSTER_CMDS];
} shm_roster_t;

/* Writer (the replicator only): the table to fill, its seq made odd (it
 * already is when the previous writer died half way). */
static inline roster_table_t *
roster_write_begin(shm_roster_t *c)
{
    roster_table_t *t = &c->tab[1 - atomic_load(&c->cur)];

    if ((atomic_load_explicit(&t->seq, memory_order_relaxed) & 1) == 0)
        atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return t;
}

/* Publishes the table roster_write_begin() returned. */
static inline void
roster_write_end(shm_roster_t *c, roster_table_t *t)
{
    atomic_fetch_add_explicit(&t->seq, 1, memory_order_release);
    atomic_store_explicit(&c->cur, (uint32_t) (t - c->tab),
                          memory_order_release);
}

/* Copies the member table (and leader) consistently; never waits for a
 * writer. */
static inline void
roster_read(shm_roster_t *c, roster_member_t *out, uint32_t *n,
            char *leader_id, char *leader_http)
{
    for (;;) {
        const roster_table_t *t =
            &c->tab[atomic_load_explicit(&c->cur, memory_order_acquire) & 1];
        uint32_t s = atomic_load_explicit(&t->seq, memory_order_acquire);
        if (s & 1)
            continue; /* reused under us: cur has moved on */
        *n = t->n < ROSTER_MAX_MEMBERS ? t->n : ROSTER_MAX_MEMBERS;
        __builtin_memcpy(out, t->m, *n * sizeof(roster_member_t));
        __builtin_memcpy(leader_id, t->leader_id, ROSTER_ID_MAX);
        __builtin_memcpy(leader_http, t->leader_http, ROSTER_ADDR_MAX);
        leader_id[ROSTER_ID_MAX - 1] = leader_http[ROSTER_ADDR_MAX - 1] = '\0';
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&t->seq, memory_order_relaxed) == s)
            return;
    }
}

#endif
