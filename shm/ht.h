/*
 * ht.h - the shared word -> count hash table.
 *
 * Layout.  The table is split into HT_PARTS partitions by the top bits of
 * the word's XXH3 hash.  Each partition has its own pid lock, its own
 * open-addressing index (linear probing, power-of-two capacity, at most 3/4
 * full) and its own entry chunk.  An index slot is one 64-bit word:
 * (28 low bits of the hash) << 36 | (entry offset / 8); 0 is empty.  An
 * entry is { u64 count; u16 len; key bytes }, 8-byte aligned and never
 * moved.  A count may go down (a retract, a reset: the delta is negated
 * modulo 2^64) and a word whose count is 0 is absent; its entry stays, for
 * the word's next upload, until a sweep.  Arithmetic is modulo 2^64, so
 * deltas applied in any order give the same counts (recovery's threads
 * rely on it); count is the number of entries whose count is not 0.
 *
 * Sweeps (ht_sweep_part, run by the master after a table was dropped or
 * truncated, see master_sweep) take out of a partition's index the entries
 * a predicate names dead (an old generation's, or at 0): a new index is
 * built beside the old one without them and swapped in like a grown one,
 * and the entries then go to the arena's free lists, where a new word of
 * the same size takes one.
 *
 * Writers (ht_incr) take the partition lock.  Readers (ht_get, the scans)
 * take no lock: a slot is published with a release store after its entry is
 * complete, counts are read with atomic loads, and an index that is replaced
 * by a bigger one is freed only after the partition's seq is bumped, so a
 * reader that raced with a resize sees seq change and retries.  A sweep
 * bumps seq the same way before it frees anything, so a reader that raced
 * with one retries too: no reader keeps an entry's offset past its seq
 * check (scans copy what they need, ht_part_copy).  Every offset a reader
 * follows is bounds-checked, so a stale read cannot fault.  The one reader
 * that locks is ht_part_top: a partition's leaders (its few highest
 * words, kept by the writers) are read as a set, under the lock.
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

#define HT_TOP       4           /* leaders kept per partition */
#define HT_TOP_STALE 0xffffffffu /* to be found again (ht_part_top) */

typedef struct ht_part_s {
    lock_t lock;
    _Atomic uint32_t seq;   /* bumped before an old index is freed */
    _Atomic uint64_t index; /* log2(cap) << 56 | arena offset */
    _Atomic uint64_t count; /* entries with a count above 0 */
    _Atomic uint64_t total; /* sum of the counts */
    uint64_t chunk_off;     /* entry chunk being filled */
    /* undo of the count change in progress (valid when undo_entry != 0) */
    uint64_t undo_entry;
    uint64_t undo_old;
    uint32_t undo_idx;    /* word index in the change record */
    int32_t undo_worker;  /* worker slot, -1 for the master */
    uint64_t used;        /* slots in use (load factor) */
    _Atomic uint64_t max; /* no count in it is higher (see ht_part_max) */
    uint32_t chunk_left;  /* bytes left in chunk_off's chunk */
    /* its leaders (see ht_part_top); lock held to read or write them */
    uint32_t ntop;        /* in top[], or HT_TOP_STALE */
    uint64_t top[HT_TOP]; /* entry offsets */
    uint64_t top_min;     /* a full list's counts are all at least this */
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
/* Adds delta (modulo 2^64) to key's count, inserting it when new.
 * MEMDB_ERR only when the arena is exhausted (callers reserve room first,
 * see ht_reserve). */
int ht_incr(ht_t *ht, uint64_t h, const char *key, uint16_t len,
            uint64_t delta, ht_progress_t *pg);
uint64_t ht_get(ht_t *ht, uint64_t h, const char *key, size_t len);
/* The offset of key's entry, 0 if absent: only for a caller that holds
 * its partition's lock or knows no sweep runs (tests). */
uint64_t ht_lookup(ht_t *ht, uint64_t h, const char *key, size_t len);

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

/* Scans.  ht_part_copy() copies every word of partition p whose count is
 * not 0 (a consistent set: counts and keys as of one instant) into c,
 * replacing what c held, and returns how many; -1 when out of memory. */
typedef struct ht_item_s {
    uint64_t count;
    size_t koff; /* key bytes at keys + koff */
    uint16_t len;
} ht_item_t;
typedef struct ht_copy_s {
    ht_item_t *items;
    size_t n, cap;
    char *keys;
    size_t klen, kcap;
} ht_copy_t;
long ht_part_copy(ht_t *ht, unsigned p, ht_copy_t *c);
void ht_copy_free(ht_copy_t *c);
static inline const char *
ht_copy_key(const ht_copy_t *c, size_t i)
{
    return c->keys + c->items[i].koff;
}

/* A sweep of partition p (see the top of this file): dead(key, len, count,
 * arg) names the entries to take out; internal keys are never taken.
 * MEMDB_OK (*freed: entries taken out; those of at most ARENA_EMAX bytes
 * are reused), or MEMDB_AGAIN when the
 * partition grew meanwhile or stop(arg) said so once its lock was held
 * (nothing changed; try again). */
typedef bool (*ht_dead_fn)(const char *key, size_t len, uint64_t count,
                           void *arg);
typedef bool (*ht_stop_fn)(void *arg);
int ht_sweep_part(ht_t *ht, unsigned p, ht_dead_fn dead, ht_stop_fn stop,
                  void *arg, uint64_t *freed);
static inline ht_entry_t *
ht_entry(ht_t *ht, uint64_t off)
{
    return (ht_entry_t *) (ht->base + off);
}

/* An upper bound of the counts of partition p's words (internal keys
 * aside): the highest count a change left below 2^63 (a count on its way
 * through a negative delta applied early, in recovery, is "above"), and
 * exact again after a sweep or a repair of the partition.  A count that
 * goes down leaves it as it was.  GET /top visits the partitions from the
 * highest bound down and stops where no word left can rank. */
static inline uint64_t
ht_part_max(const ht_t *ht, unsigned p)
{
    return atomic_load_explicit(&ht->parts[p].max, memory_order_relaxed);
}

/* The leaders of partition p: its HT_TOP entries of the highest counts
 * (internal keys aside), kept up to date by every count change, with
 * the partition lock held.  A count that rises above the smallest
 * leader's takes its place; one that falls leaves the list as it was
 * unless it was a leader's: then the list is stale, and found again by
 * the next ht_part_top (a scan of the partition).  A sweep and a repair
 * find it again too.  ht_part_top copies the leaders with a count above
 * 0 into c under the partition lock (a consistent set) and sets *rest
 * to a bound of every other word's count in p (0: there is none);
 * returns how many, -1 when out of memory.  GET /top reads a partition's
 * leaders first and copies the whole partition only when it needs more
 * of its words than the leaders. */
long ht_part_top(ht_t *ht, unsigned p, ht_copy_t *c, uint64_t *rest);

/* Sets every count to 0 (a replica's full sync, before it loads the
 * leader's snapshot).  Readers see counts drop; callers fence reads off. */
void ht_zero(ht_t *ht);

/* Master, after a child died: repairs every partition the dead pid held.
 * progress_of(worker) returns that worker slot's progress counter. */
typedef uint32_t (*ht_progress_fn)(int32_t worker, void *arg);
unsigned ht_repair(ht_t *ht, uint32_t dead, ht_progress_fn progress_of,
                   void *arg);

#endif
