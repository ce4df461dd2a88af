/*
 * ht.h - the shared word -> count hash table.
 *
 * Layout.  The table is split into HT_PARTS partitions by the top bits of
 * the word's XXH3 hash.  Each partition has its own pid lock, its own
 * open-addressing index (linear probing, power-of-two capacity, at most 3/4
 * full) and its own entry chunk.  An index slot is one 64-bit word:
 * (28 low bits of the hash) << 36 | (entry offset / 8); 0 is empty.  An
 * entry is { u64 count; u16 len; key bytes }, 8-byte aligned, never moved
 * and never freed: counts only grow and words are never deleted.
 *
 * Writers (ht_incr) take the partition lock.  Readers (ht_get, the scans)
 * take no lock: a slot is published with a release store after its entry is
 * complete, counts are read with atomic loads, and an index that is replaced
 * by a bigger one is freed only after the partition's seq is bumped, so a
 * reader that raced with a resize sees seq change and retries.  Every
 * offset a reader follows is bounds-checked, so a stale read cannot fault.
 *
 * A partition grows alone (rehash of 1/HT_PARTS of the table under its own
 * lock): the table never stops the world to grow.
 *
 * Crash safety.  A writer killed with SIGKILL inside ht_incr leaves the
 * partition lock holding its pid.  Before changing a count the writer
 * records an undo (entry, old count, word index) in the partition, and it
 * advances the worker's progress counter while still holding the lock.  The
 * master, after waitpid(), calls ht_repair(): a count changed by a word the
 * worker's progress does not cover is rolled back, the entry counter is
 * recomputed, and only then is the lock released.  The master then finishes
 * the dead worker's change record from its progress (see master.c).
 */
#ifndef MEMDB_SHM_HT_H
#define MEMDB_SHM_HT_H

#include "shm/arena.h"

#define HT_PARTS_LOG2 12
#define HT_PARTS      (1u << HT_PARTS_LOG2)
#define HT_INIT_LOG2  3 /* first index: 8 slots */
#define HT_POS_BITS   28
#define HT_OFF_BITS   36
#define HT_MAX_WORD   65535

/* Words starting with this byte are the table's own (merge tokens, see
 * replicator/merge.c): never UTF-8, so no upload can make one; they are
 * left out of counts, allwords and top. */
#define HT_INTERNAL 0xff
static inline bool
ht_internal(const char *key, size_t len)
{
    return len > 0 && (unsigned char) key[0] == HT_INTERNAL;
}

typedef struct ht_part_s {
    lock_t lock;
    _Atomic uint32_t seq;   /* bumped before an old index is freed */
    _Atomic uint64_t index; /* log2(cap) << 56 | arena offset */
    _Atomic uint64_t count; /* entries with a count above 0 */
    _Atomic uint64_t total; /* sum of the counts */
    uint64_t chunk_off;     /* entry chunk being filled */
    uint64_t chunk_left;
    /* undo of the count change in progress (valid when undo_entry != 0) */
    uint64_t undo_entry;
    uint64_t undo_old;
    uint32_t undo_idx;   /* word index in the change record */
    int32_t undo_worker; /* worker slot, -1 for the master */
    uint64_t used;       /* slots in use (load factor) */
    char _pad[128 - 80];
} ht_part_t;

_Static_assert(sizeof(ht_part_t) == 128, "ht_part_t is two cache lines");

typedef struct ht_entry_s {
    _Atomic uint64_t count;
    uint16_t len;
    char key[];
} ht_entry_t;

#define HT_ENTRY_HDR offsetof(ht_entry_t, key)
_Static_assert(offsetof(ht_entry_t, key) == 10, "entry header is 10 bytes");

/* Per-process handle on the shared table. */
typedef struct ht_s {
    ht_part_t *parts;
    arena_t *arena;
    char *base;    /* arena data; offsets are relative to it */
    uint32_t self; /* this process's pid, for the locks */
} ht_t;

/* Progress reporting for crash repair (see the top of this file). */
typedef struct ht_progress_s {
    int32_t worker;             /* slot number, -1 for the master */
    _Atomic uint32_t *progress; /* words of the record applied so far */
    uint32_t idx;               /* index of the word being applied */
} ht_progress_t;

uint64_t ht_hash(const void *key, size_t len);
void ht_init(ht_t *ht);
/* Adds delta to key's count, inserting it when new.  MEMDB_ERR only when
 * the arena is exhausted (callers reserve room first, see ht_reserve). */
int ht_incr(ht_t *ht, uint64_t h, const char *key, uint16_t len,
            uint64_t delta, ht_progress_t *pg);
uint64_t ht_get(ht_t *ht, uint64_t h, const char *key, size_t len);

/* Batches: the table is far bigger than the caches, so one lookup costs
 * two cache misses (index slot, entry).  ht_prefetch() issues the loads of
 * a batch of words at once so that their misses overlap; the ht_incr()
 * calls that follow then find the lines in cache.  A hint only: it changes
 * nothing. */
#define HT_BATCH 32
typedef struct ht_op_s {
    uint64_t h;
    const char *key;
    uint64_t delta;
    uint16_t len;
} ht_op_t;
void ht_prefetch(ht_t *ht, const ht_op_t *ops, size_t n);
/* Worst-case bytes that inserting a word of len bytes may use. */
uint64_t ht_cost(size_t len);
void ht_totals(ht_t *ht, uint64_t *distinct, uint64_t *total);

/* Scans.  ht_part_entries() fills offs with the offsets of every entry of
 * partition p (a consistent set) and returns how many; *cap grows offs. */
size_t ht_part_entries(ht_t *ht, unsigned p, uint64_t **offs, size_t *cap);
static inline ht_entry_t *
ht_entry(ht_t *ht, uint64_t off)
{
    return (ht_entry_t *) (ht->base + off);
}

/* Sets every count to 0 (a replica's full sync, before it loads the
 * leader's snapshot).  Readers see counts drop; callers fence reads off. */
void ht_zero(ht_t *ht);

/* Master, after a child died: repairs every partition the dead pid held.
 * progress_of(worker) returns that worker slot's progress counter. */
typedef uint32_t (*ht_progress_fn)(int32_t worker, void *arg);
unsigned ht_repair(ht_t *ht, uint32_t dead, ht_progress_fn progress_of,
                   void *arg);

#endif
