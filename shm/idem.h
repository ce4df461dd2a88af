/*
 * idem.h - the idempotency keys: which uploads sent with an
 * Idempotency-Key this node has counted, in the shared segment.
 *
 * A key is known by a 128-bit hash of its bytes (the worker computes it,
 * BLAKE2b; the key itself is not kept).  An entry holds the hash of the
 * upload's body, the answer it got (LSN, words, distinct words) and the
 * time it was accepted (the accepting leader's wall clock, carried in the
 * change record, so every node expires a key at the same moment).
 *
 *   FREE      an unused entry
 *   CLAIMED   a worker (pid) is committing an upload with this key: any
 *             other upload with it is answered 409
 *   DONE      the record with this key is in the table: an upload with the
 *             key and the same body is answered the same again (a replay)
 *             and counts nothing; another body gets 422
 *
 * DONE entries are made by applying a record that carries a key
 * (src/changelog/apply.c), so a worker's own upload, a replica following
 * its leader, recovery, a full sync and a hand-over fill the table the
 * same way.  A key is remembered for the window (uploads.
 * idempotency_window); a DONE entry older than that is treated as absent.
 *
 * Memory.  max_keys entries (uploads.idempotency_max_keys) are allocated
 * at start, in the order they are taken: a pool used as a ring, so the
 * entry taken next is the oldest, which is forgotten (early, if its window
 * has not ended: counted in `forgotten`).  A CLAIMED entry is never
 * forgotten; when the oldest is one, a claim is refused (IDEM_FULL).
 * Lookups go through chained buckets (1-based entry numbers, 0 ends a
 * chain, so the zero pages of a new segment are an empty table and cost no
 * memory until used).
 *
 * One pid lock covers the table; every operation is a short chain walk.
 * Writes are ordered so that a holder killed anywhere leaves entries that
 * are whole or FREE: the pool cursor moves first, an entry's state is
 * stored after its fields.  The master then rebuilds the chains from the
 * entries (idem_repair_lock), and gives back a dead worker's claims once
 * it finished the worker's record (idem_release_dead), which makes the key
 * DONE if the record was published.
 */
#ifndef MEMDB_SHM_IDEM_H
#define MEMDB_SHM_IDEM_H

#include "shm/lock.h"

enum { IDEM_FREE = 0, IDEM_CLAIMED, IDEM_DONE };

/* What idem_claim() found. */
enum {
    IDEM_NEW = 0,  /* claimed: commit the upload (it becomes DONE) */
    IDEM_REPLAY,   /* DONE with the same body: answer *ans again */
    IDEM_MISMATCH, /* DONE with another body */
    IDEM_INFLIGHT, /* claimed by another upload */
    IDEM_FULL,     /* the oldest entry is still claimed */
};

typedef struct idem_key_s {
    uint64_t h[2];
} idem_key_t;

typedef struct idem_ans_s {
    uint64_t body[2]; /* hash of the body */
    uint64_t lsn;
    uint64_t words;
    uint64_t distinct;
    uint64_t time_ms; /* accepted at (wall clock) */
} idem_ans_t;

typedef struct idem_ent_s {
    idem_key_t key;
    idem_ans_t ans;
    _Atomic uint32_t state;
    uint32_t pid;  /* CLAIMED: the claiming process */
    uint32_t next; /* chain: entry number (1-based), 0 ends it */
    uint32_t _pad;
} idem_ent_t;

typedef struct idem_hdr_s {
    lock_t lock;
    uint32_t nbuckets; /* power of two */
    uint64_t max_keys; /* 0: keys are not remembered */
    uint64_t window_ms;
    uint64_t cursor;            /* entries ever taken; next is cursor % max */
    _Atomic uint64_t live;      /* CLAIMED and DONE entries */
    _Atomic uint64_t forgotten; /* taken over before their window ended */
    _Atomic uint64_t replays;   /* counters for status and metrics */
    _Atomic uint64_t conflicts; /* 409 and 422 */
} idem_hdr_t;

/* A process's handle. */
typedef struct idem_s {
    idem_hdr_t *hdr;
    idem_ent_t *ent;
    uint32_t *bucket;
} idem_t;

/* Bytes of shared memory for max_keys keys. */
uint64_t idem_size(uint64_t max_keys);
/* The master formats the table in mem (idem_size bytes, zeroed). */
void idem_init(idem_t *t, void *mem, uint64_t max_keys, uint64_t window_ms);

/* Process self is about to commit an upload with key k and body hash
 * body: IDEM_NEW (claimed), IDEM_REPLAY (*ans filled), IDEM_MISMATCH (*ans
 * filled), IDEM_INFLIGHT or IDEM_FULL.  now_ms is the wall clock. */
int idem_claim(idem_t *t, const idem_key_t *k, const uint64_t body[2],
               uint32_t self, uint64_t now_ms, idem_ans_t *ans);
/* Gives back self's claim of k (its upload was not committed). */
void idem_release(idem_t *t, const idem_key_t *k, uint32_t self);
/* A record with key k was applied: the key is DONE with answer a. */
void idem_done(idem_t *t, const idem_key_t *k, const idem_ans_t *a,
               uint32_t self);
/* Is k DONE and inside its window at now_ms?  *a gets its answer. */
bool idem_find(idem_t *t, const idem_key_t *k, uint64_t now_ms, uint32_t self,
               idem_ans_t *a);

/* Forgets every key (a full sync replaces the table). */
void idem_reset(idem_t *t, uint32_t self);

/* The master, after a child died holding the lock: rebuilds the chains
 * and the live count, then releases it.  true if it held the lock. */
bool idem_repair_lock(idem_t *t, uint32_t dead);
/* The master, once the dead child's record is finished: gives its claims
 * back.  Returns how many. */
unsigned idem_release_dead(idem_t *t, uint32_t dead, uint32_t self);

/* Calls fn for every DONE entry inside its window at now_ms, oldest
 * first (a snapshot of the keys, a test). */
void idem_each(idem_t *t, uint64_t now_ms, uint32_t self,
               void (*fn)(void *arg, const idem_key_t *k, const idem_ans_t *a),
               void *arg);

#endif
