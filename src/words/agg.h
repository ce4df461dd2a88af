/*
 * agg.h - per-upload aggregation: word -> occurrences in this upload, in
 * first-seen order.  Process-local; one per upload in progress, freed (or
 * reset for reuse) when the upload ends.  Nothing reaches the shared table
 * until the whole body has been read and validated: an upload is all or
 * nothing.
 */
#ifndef MEMDB_SRC_WORDS_AGG_H
#define MEMDB_SRC_WORDS_AGG_H

#include "src/core/memdb.h"
#include "src/core/buf.h"

typedef struct agg_ent_s {
    uint64_t hash;
    uint64_t count;
    uint32_t off; /* into keys */
    uint32_t len;
} agg_ent_t;

#define AGG_BATCH      16 /* words agg_push holds before it adds them */
#define AGG_BATCH_WORD 40 /* longer ones go in at once */

typedef struct agg_pend_s {
    uint64_t hash;
    uint32_t len;
    char w[AGG_BATCH_WORD];
} agg_pend_t;

typedef struct agg_s {
    agg_ent_t *ents; /* first-seen order */
    size_t n, ncap;
    uint32_t *slots; /* open addressing: index + 1, 0 empty */
    size_t scap;     /* power of two */
    buf_t keys;
    uint64_t words; /* occurrences */
    uint64_t cost;  /* worst-case bytes in the shared table */
    size_t npend;   /* agg_push's words not added yet */
    agg_pend_t pend[AGG_BATCH];
} agg_t;

void agg_reset(agg_t *a);
void agg_free(agg_t *a);
void agg_add(agg_t *a, const char *w, size_t len);
/* Adds n occurrences at once (replay, compaction). */
void agg_add_n(agg_t *a, const char *w, size_t len, uint64_t n);
/* agg_add for a stream of words (an upload's body): the words are
 * hashed and their slots prefetched AGG_BATCH at a time, so that the
 * cache misses of a batch overlap.  Nothing of a's state (n, ents,
 * words, cost) counts them until agg_flush(), which a reader of the
 * aggregate calls first. */
void agg_push(agg_t *a, const char *w, size_t len);
void agg_flush(agg_t *a);
static inline const char *
agg_key(const agg_t *a, const agg_ent_t *e)
{
    return a->keys.data + e->off;
}

#endif
