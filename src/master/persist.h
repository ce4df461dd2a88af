/*
 * persist.h - the master's persistence duties: the change-log writer
 * (clogw.c), snapshots (taken by a compaction child, snap.c), and
 * retention of old segments and snapshots.
 *
 * A snapshot is taken every persistence.snapshot_every (changes and/or
 * time), when a worker asks for one (POST /api/v1/admin/snapshot), and at
 * clean shutdown.  Taking one: seal the current segment (clogw_rotate), then
 * fork a child that merges the newest snapshot with the sealed segments
 * after it (snap_compact) into data_dir/snap/<lsn>.snap.  The hot path
 * never waits for it.  When the child succeeds, segments wholly covered by
 * the new snapshot are removed except the newest persistence.keep_segments
 * of them (replicas catch up from those), and snapshots except the two
 * newest.
 */
#ifndef MEMDB_SRC_MASTER_PERSIST_H
#define MEMDB_SRC_MASTER_PERSIST_H

#include "src/core/conf.h"
#include "src/master/clogw.h"
#include "src/changelog/recover.h"

typedef struct persist_s {
    const conf_t *conf;
    shm_t *shm;
    clogw_t lw;
    char log_dir[1100];
    char snap_dir[1100];
    pid_t child;
    uint64_t child_target;
    uint64_t child_req; /* snap_req value it answers */
    uint64_t child_start_ms;
    uint64_t snap_lsn;
    char snap_path[1100];
    uint64_t last_snap_ms;
    uint64_t pending_req; /* requests seen but not started */
} persist_t;

/* After recovery: opens the log at the ring's next LSN. */
int persist_init(persist_t *p, const conf_t *conf, shm_t *shm,
                 const recover_stats_t *rs);
/* One turn of the master loop: log writer, then snapshot triggers.
 * Returns true if waiting workers should be woken. */
bool persist_run(persist_t *p, uint64_t now_ms);
/* The master reaped pid: true if it was the compaction child. */
bool persist_child_exited(persist_t *p, pid_t pid, int status);
/* Clean shutdown: write and sync everything, take a final snapshot. */
void persist_shutdown(persist_t *p);

#endif
