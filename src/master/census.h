/*
 * census.h - the master counts each table's words, distinct words and
 * bytes now and then, for GET /metrics.
 *
 * A table's sizes are a scan of the store (its words are among all the
 * others in the one hash table, shm/ht.h).  GET /api/v1/tables scans when
 * asked; /metrics, which is scraped every few seconds, must not stall a
 * worker that long on a large store.  So the master scans, 64 partitions
 * per turn of its loop, one census every CENSUS_EVERY_MS, and leaves the
 * result in each table's catalog entry (n_words, n_distinct, n_bytes, of
 * generation n_gen), where the workers read it in O(tables).
 */
#ifndef MEMDB_SRC_MASTER_CENSUS_H
#define MEMDB_SRC_MASTER_CENSUS_H

#include "shm/shm.h"

#define CENSUS_EVERY_MS 5000

typedef struct census_s {
    shm_t *shm;
    uint64_t next_ms; /* when the next one starts */
    bool active;
    unsigned part;
    shm_tally_t tab[CAT_MAX_TABLES]; /* idx: the catalog entry */
    size_t ntab;
    ht_copy_t cp;
} census_t;

void census_init(census_t *cs, shm_t *s);
/* One slice (cs->active while a census is under way: call again soon). */
void census_run(census_t *cs, uint64_t now_ms);
void census_free(census_t *cs);

#endif
