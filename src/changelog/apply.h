/*
 * apply.h - change records into the shared table: the one place that
 * knows both the record format (rec.h) and the table (shm/ht.h).  The
 * store offers ht_incr(), ht_prefetch() and the progress counter; the
 * words of a record reach it from here, HT_BATCH at a time after
 * ht_prefetch(), so the misses of a batch overlap.
 *
 * Callers: a worker applying its upload, the master finishing a dead
 * worker's record, the replicator applying a replicated or handed-over
 * record.
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
                 _Atomic uint32_t *progress);

#endif
