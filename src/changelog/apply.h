/*
 * apply.h - change records into the shared table: the one place that
 * knows both the record format (rec.h) and the table (shm/ht.h).  The
 * store offers ht_incr(), ht_prefetch() and the progress counter; the
 * words of a record reach it from here, HT_BATCH at a time after
 * ht_prefetch(), so the misses of a batch overlap.
 *
 * Callers: a worker applying its upload, the master finishing a dead
 * worker's record, the replicator applying a replicated or handed-over
 * record.  gen is the generation of the record's table (apply_gen() of its
 * slot): its words are keyed under it.
 */
#ifndef MEMDB_SRC_CHANGELOG_APPLY_H
#define MEMDB_SRC_CHANGELOG_APPLY_H

#include "shm/shm.h"

/* Can the table take every word of a checked record (a replicated or
 * handed-over one, which no store.max_memory check let in here)?  Counts
 * the words not in the table yet at their worst-case cost against the
 * store's room beyond the limit as well (a replica follows its leader's
 * limit), keeping half of that room for index growth.  A record that does
 * not fit must not be logged: it could only be applied in part. */
bool apply_fits(shm_t *s, const void *rec);
/* Applies the words of a checked change record, from word index `from`,
 * reporting progress in *progress (NULL for none) for crash repair; then,
 * for a record with an Idempotency-Key block, makes the key DONE in the
 * key table (shm/idem.h) with the record's answer.  worker
 * is the slot number of the caller, -1 for the master.  MEMDB_ERR (logged,
 * with the record's LSN) when the store is full or the record is
 * malformed. */
int apply_record(shm_t *s, const void *rec, uint32_t from, int worker,
                 _Atomic uint32_t *progress, uint64_t gen);

/* Tables.  A record's words go to the generation of its table current at
 * its LSN (shm/catalog.h).  apply_reserve() reserves the ring slot of
 * rec (len bytes, for what: RING_W_*) and, under the ring lock:
 *   - for a table operation, copies it into the slot (sealed with the
 *     slot's LSN and epoch if seal), notes it in flight in me, publishes
 *     it and applies it to the catalog: *done is set, nothing is left to
 *     do but clear me->inflight_pos;
 *   - for any other record, notes its table's generation in slot->aux
 *     (apply_gen()); the caller copies, publishes and applies it as before.
 * MEMDB_NOENT: its table does not exist (dropped meanwhile), MEMDB_EXISTS:
 * a table of that name exists, MEMDB_FULL: no room for another table
 * (store.max_tables), MEMDB_BUSY as ring_reserve(), MEMDB_AGAIN: the ring
 * is full. */
int apply_reserve(shm_t *s, const void *rec, uint32_t len, int what,
                  shm_worker_t *me, bool seal, ring_slot_t **slot, bool *done);
/* The generation apply_reserve() noted for a slot. */
static inline uint64_t
apply_gen(const ring_slot_t *slot)
{
    return slot->aux >> 1;
}
/* The words of a checked record as table keys, for a reader that keeps
 * its own catalog in LSN order (recovery, compaction, memdbctl): a table
 * operation is applied to c; any other record's words are handed to fn
 * under its table's generation, with their deltas (negated for a
 * subtracting record).  MEMDB_ERR when fn fails; MEMDB_NOENT (nothing
 * handed) when c has no table of the record's uid. */
typedef int (*apply_word_fn)(void *arg, const char *key, size_t len,
                             uint64_t delta);
int apply_words(cat_t *c, const void *rec, apply_word_fn fn, void *arg);
/* Writes the table key of word (the generation's prefix, then the word)
 * into out (CAT_PREFIX_MAX + len bytes); its length. */
size_t apply_key(uint64_t gen, const char *word, size_t len, char *out);

#endif
