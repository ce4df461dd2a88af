/*
 * sweep.h - the master gives the memory of dropped and truncated tables'
 * words back to the store.
 *
 * A drop or a truncate leaves its old generation's words in the hash table
 * (shm/catalog.h): no read sees them any more, but they hold memory.  The
 * master sweeps them out, a few partitions per turn of its loop, so that
 * its log writing never waits long (ht_sweep_part(); the entries go to the
 * arena's free lists, where new words take them).  Words whose count is 0
 * (reset, retracted, or zeroed by a full sync) go too.
 *
 * When.  A sweep starts once the catalog's kills counter moved, and only
 * when no record older than the last drop or truncate (kill_lsn) can still
 * be applying words to the old generation: the ring's oldest record is
 * newer than kill_lsn, or the ring is empty.  The master gives ring room
 * back only past records that are written and that no process is still
 * applying (master_release), so that is exact.  Records after it resolve
 * their table to the new generation (or to none) under the ring lock.
 *
 * What is dead.  The live generations are read from the catalog between
 * two equal even catalog versions: generations at or above next_gen then
 * are live (created since), the ones listed are live, every other one is
 * dead for good (generations are never reused).  Drops and truncates that
 * come later only kill more, so the set stays safe to use; a full sync
 * replaces the catalog (the version turns odd and changes), and a sweep
 * that sees that under a partition's lock stops and starts over.
 */
#ifndef MEMDB_SRC_MASTER_SWEEP_H
#define MEMDB_SRC_MASTER_SWEEP_H

#include "shm/shm.h"

typedef struct sweep_s {
    shm_t *shm;
    uint64_t seen;    /* kills the last finished sweep covered */
    uint64_t kills;   /* ...and the one under way covers */
    uint64_t version; /* catalog version its live set was read at */
    uint64_t next_gen;
    uint64_t live[CAT_MAX_TABLES]; /* sorted */
    size_t nlive;
    unsigned part; /* next partition of the sweep under way */
    bool active;
    uint64_t freed; /* entries given back by the sweep under way */
} sweep_t;

void sweep_init(sweep_t *sw, shm_t *s);
/* One slice: starts a sweep when one is due, or goes on with the one under
 * way (sw->active while one is: call again soon). */
void sweep_run(sweep_t *sw);

#endif
