/*
 * shm.h - the shared segment: one anonymous MAP_SHARED mapping created by
 * the master before it forks, inherited by every child.
 *
 *   +--------------------+ 0
 *   | shm_hdr_t          |  magic, layout version, sizes, section offsets
 *   | shm_node_t         |  role, epoch, LSNs, counters
 *   | shm_worker_t[64]   |  one slot per worker (pid, in-flight record)
 *   | fault_tab_t        |  armed fault points (test builds)
 *   | ht_part_t[4096]    |  hash-table partitions
 *   | ring_hdr_t         |
 *   | ring data          |  persistence.ring_size bytes
 *   | idem table         |  the idempotency keys (idem.h)
 *   | catalog            |  the tables (catalog.h)
 *   | arena_t + data     |  entries and indexes, store.max_memory + slack
 *   +--------------------+ map_size
 *
 * Sections are found by offset, never by pointer, and each process builds
 * its own handle (shm_t) from the header.  Only the master writes the header
 * and the node identity; children write their worker slot and the data
 * structures through the ht_/ring_ APIs.  Locks held by a child that died
 * are found and repaired by the master (shm_repair_dead).
 */
#ifndef MEMDB_SHM_SHM_H
#define MEMDB_SHM_SHM_H

#include "shm/arena.h"
#include "shm/roster.h"
#include "src/core/fault.h"
#include "shm/catalog.h"
#include "shm/ht.h"
#include "shm/idem.h"
#include "shm/ring.h"

#define SHM_MAGIC       0x4d48534244424d4dULL /* "MMDBSHMM" */
#define SHM_LAYOUT      1
#define SHM_MAX_WORKERS 64
#define SHM_REPL_SLOT   (SHM_MAX_WORKERS - 1) /* the replicator's slot */
#define SHM_NONE        UINT64_MAX

/* The name of a ROLE_* value, as the API, metrics and logs spell it. */
static inline const char *
shm_role_name(uint32_t role)
{
    static const char *const names[] = { "standalone", "leader", "replica" };

    return role < 3 ? names[role] : "unknown";
}

typedef struct shm_worker_s {
    _Atomic int32_t pid;
    _Atomic uint32_t ready;        /* set when the worker serves */
    _Atomic uint32_t progress;     /* words of the in-flight record applied */
    _Atomic uint32_t want_wake;    /* wants its eventfd written */
    _Atomic uint64_t inflight_pos; /* ring position, SHM_NONE when idle */
    _Atomic uint64_t mem_reserved; /* bytes promised to the current upload */
    ring_resv_t resv;              /* last ring reservation */
    _Atomic uint64_t requests;
    _Atomic uint64_t wait_lsn;     /* durable LSN it waits for, 0 none */
    _Atomic uint64_t heartbeat_ms; /* last event-loop iteration */
} __attribute__((aligned(128))) shm_worker_t;

_Static_assert(sizeof(shm_worker_t) == 128, "worker slot is 128 bytes");

/* Request counters of one worker (read by GET /metrics). */
#define STAT_ROUTES  24
#define STAT_CODES   20
#define STAT_BUCKETS 14
typedef struct shm_stats_s {
    _Atomic uint64_t req[STAT_ROUTES][STAT_CODES];
    _Atomic uint64_t lat[STAT_ROUTES][STAT_BUCKETS]; /* per bucket */
    _Atomic uint64_t lat_sum_us[STAT_ROUTES];
} shm_stats_t;

typedef struct shm_node_s {
    _Atomic uint32_t role;
    _Atomic uint32_t accepting;   /* 0 while shutting down */
    _Atomic uint32_t writer_idle; /* master sleeps: write its eventfd */
    lock_t mem_lock;              /* shm_mem_reserve: check and promise */
    lock_t sub_lock;              /* a subtracting record: check to apply */
    _Atomic uint64_t epoch;
    _Atomic uint64_t written_lsn; /* written to the log file */
    _Atomic uint64_t durable_lsn; /* fsynced */
    _Atomic uint64_t uploads;
    _Atomic uint64_t rejected;
    uint64_t start_ms; /* wall clock */
    uint64_t start_mono_ms;
    uint32_t nworkers;
    int32_t master_pid;
    uint64_t boot_id; /* random, drawn at start: the origin of its records */
    char node_id[64];

    /* persistence (written by the master) */
    _Atomic uint32_t disk_errno; /* the log cannot be written */
    _Atomic uint32_t fsync_mode;
    _Atomic uint64_t snap_req;  /* bumped by a worker asking for one */
    _Atomic uint64_t snap_done; /* requests up to here are answered */
    _Atomic uint64_t snap_lsn;  /* newest snapshot */
    _Atomic uint64_t snap_ms;   /* time the last one took */
    _Atomic uint64_t snap_failures;
    char snap_path[1100];
    _Atomic uint64_t fsyncs; /* log writer counters */
    _Atomic uint64_t fsync_ns;
    _Atomic uint64_t sweeps;      /* sweeps of dead words (master) */
    _Atomic uint64_t swept_words; /* ...and the entries they gave back */
    /* the node in its cluster (written by the replicator) */
    _Atomic uint32_t syncing; /* full sync: reads answer 503 */
    _Atomic uint32_t clustered;
    _Atomic uint64_t rebase_lsn;  /* replicator asks: log starts over */
    _Atomic uint64_t rebase_done; /* master answers with the same LSN */
    char rebase_snap[1200];       /* ...from this snapshot ("" none) */
    /* what start-up recovery found */
    uint64_t rec_snap_lsn;
    uint64_t rec_snap_words;
    uint64_t rec_records;
    uint64_t rec_ms;
    uint64_t rec_truncated_off;
    char rec_truncated[1100];
} shm_node_t;

typedef struct shm_hdr_s {
    uint64_t magic;
    uint32_t layout;
    uint32_t hdr_size;
    uint64_t map_size;
    uint64_t node_off;
    uint64_t workers_off;
    uint64_t roster_off;
    uint64_t stats_off;
    uint64_t faults_off;
    uint64_t parts_off;
    uint64_t ring_off;
    uint64_t ring_data_off;
    uint64_t ring_size;
    uint64_t idem_off;
    uint64_t cat_off;
    uint64_t arena_off;
    uint64_t arena_data_off;
    uint64_t arena_size;
} shm_hdr_t;

typedef struct shm_s {
    char *base;
    shm_hdr_t *hdr;
    shm_node_t *node;
    shm_worker_t *workers;
    shm_roster_t *roster;
    shm_stats_t *stats; /* [SHM_MAX_WORKERS] */
    fault_tab_t *faults;
    arena_t *arena;
    ht_t ht;
    ring_t ring;
    idem_t idem;
    cat_t cat;
} shm_t;

typedef struct shm_params_s {
    uint64_t max_memory;
    uint64_t ring_size; /* power of two */
    uint32_t nworkers;
    const char *node_id;
    uint64_t idem_max_keys; /* uploads.idempotency_max_keys */
    uint64_t idem_window_ms;
    uint32_t max_tables; /* store.max_tables, the table default aside */
} shm_params_t;

/* Master: creates and formats the segment. */
int shm_create(shm_t *s, const shm_params_t *p);
void shm_destroy(shm_t *s);
/* Any process: refreshes the per-process parts of the handle (the pid used
 * for locks) after fork. */
void shm_attach_child(shm_t *s);

shm_worker_t *shm_worker(shm_t *s, unsigned i);
/* Master: after a child died, repairs what it left half done.  Returns the
 * number of locks or slots repaired.  Its claims of idempotency keys stay
 * until the master finished its record (idem_release_dead). */
unsigned shm_repair_dead(shm_t *s, pid_t dead, int worker);

/* The subtract lock (shm_node_t.sub_lock).  A retract or a reset of words
 * checks the counts, reserves its record and applies it while holding it,
 * so that two of them never both count on the same count, and what one
 * sees includes every subtraction before it (see doc/design.md, "Deletes").
 * A holder that dies keeps it held, by the master, until the master has
 * finished the dead holder's record: shm_repair_dead() takes it over,
 * shm_sub_repaired() releases it. */
void shm_sub_lock(shm_t *s);
void shm_sub_unlock(shm_t *s);
void shm_sub_repaired(shm_t *s);

/* Tables' sizes by a scan of the store (the tables list, describe, the
 * master's census): one tally per table generation, sorted by gen
 * (shm_tally_sort); shm_tally() adds the words of one partition's copy
 * (ht_part_copy) to the tally of their generation.  idx is the caller's
 * (which table the tally is). */
typedef struct shm_tally_s {
    uint64_t gen, words, distinct, bytes;
    uint32_t idx;
} shm_tally_t;
void shm_tally_sort(shm_tally_t *t, size_t n);
void shm_tally(shm_tally_t *t, size_t n, const ht_copy_t *cp);

/* Bytes the store uses and may use (store.max_memory). */
uint64_t shm_mem_used(shm_t *s);
uint64_t shm_mem_limit(shm_t *s);
/* How far the area may be cut at most (the limit and half the slack past
 * it): swept entries are counted free, but only a word of the same entry
 * size reuses one, so what was ever cut is bounded too. */
uint64_t shm_mem_room(shm_t *s);
/* Promises bytes to an upload of worker w: MEMDB_OK, or MEMDB_BUSY when
 * store.max_memory would be exceeded, or the area cut past shm_mem_room().
 * The check and the promise are one step (under mem_lock), so two workers
 * cannot both be promised the last room.  shm_mem_done() ends the
 * promise. */
int shm_mem_reserve(shm_t *s, shm_worker_t *w, uint64_t bytes);
void shm_mem_done(shm_worker_t *w);

#endif
