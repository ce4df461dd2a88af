/*
 * cstate.h - the cluster state a node keeps on disk, in
 * data_dir/cluster/state, written with fsync before it is acted on.
 *
 *   cluster  the cluster's id (random, chosen by the founder; a node that
 *            joins takes its leader's)
 *   epoch    the highest epoch (term) this node has seen
 *   voted    the epoch and candidate of its last vote (one per epoch)
 *   history  (epoch, first LSN, leader's boot id) for each epoch of this
 *            node's log: record LSN x belongs to the last entry whose first
 *            LSN is <= x.  Two logs agree up to the fork point, the last
 *            LSN up to which both name the same (epoch, boot) for every
 *            record (cstate_fork).
 *   member   id and gossip address of every member known (a restarted
 *            node rejoins through them)
 *   forgot   ids removed with `memdbctl cluster forget`
 *   syncing  a full sync is under way: the log and table are not this
 *            history's until it is through (no reads, no candidacy, and
 *            the next HELLO asks for a full sync again)
 *   boot     the number of the replicator's last start (auth.h: gossip
 *            replay windows are per boot); raised and saved at each start
 *            before anything is sent
 *
 * The file is text, one item per line, ending with a line "sum <XXH3>"
 * over the lines before it; it is written to a temp file, fsynced and
 * renamed, and the directory fsynced.
 */
#ifndef MEMDB_REPLICATOR_CSTATE_H
#define MEMDB_REPLICATOR_CSTATE_H

#include "src/core/memdb.h"
#include "replicator/frame.h"

#define CS_MAX_HIST    FRAME_MAX_HIST
#define CS_MAX_MEMBERS 64
#define CS_ID          64
#define CS_ADDR        48
#define CS_CLUSTER_ID  33

typedef struct cstate_s {
    char path[1100];
    char dir[1100];
    char cluster[CS_CLUSTER_ID];
    uint64_t epoch;
    uint64_t voted_epoch;
    char voted_for[CS_ID];
    frame_hist_t hist[CS_MAX_HIST];
    int nhist;
    struct {
        char id[CS_ID];
        char gossip[CS_ADDR];
    } members[CS_MAX_MEMBERS];
    int nmembers;
    char forgot[CS_MAX_MEMBERS][CS_ID];
    int nforgot;
    bool syncing;
    uint64_t boot;
} cstate_t;

/* Loads data_dir/cluster/state (an absent file is an empty state).
 * MEMDB_ERR with a message when it is damaged. */
int cstate_load(cstate_t *cs, const char *data_dir, char *err, size_t errlen);
int cstate_save(cstate_t *cs);
/* Does data_dir's cluster state say a full sync is under way? (false when
 * it cannot be read: the replicator reports that) */
bool cstate_syncing(const char *data_dir);

/* Epoch of the record at lsn according to h (0 before the first entry). */
uint64_t cstate_epoch_at(const frame_hist_t *h, int n, uint64_t lsn);
/* The entry the record at lsn belongs to, NULL before the first. */
const frame_hist_t *cstate_hist_at(const frame_hist_t *h, int n, uint64_t lsn);
/* The entry of (epoch, boot) in h, NULL if none; *end gets the last LSN
 * it covers (UINT64_MAX for the newest). */
const frame_hist_t *cstate_hist_find(const frame_hist_t *h, int n,
                                     uint64_t epoch, uint64_t boot,
                                     uint64_t *end);
/* Records that the log enters epoch (led by boot) at start_lsn: drops
 * entries at or after start_lsn first (a log rewritten from there). */
void cstate_hist_add(cstate_t *cs, uint64_t epoch, uint64_t start_lsn,
                     uint64_t boot);
/* The last LSN up to which two logs agree. */
uint64_t cstate_fork(const frame_hist_t *a, int na, uint64_t last_a,
                     const frame_hist_t *b, int nb, uint64_t last_b);

void cstate_member_set(cstate_t *cs, const char *id, const char *gossip);
bool cstate_forgotten(const cstate_t *cs, const char *id);
void cstate_forget(cstate_t *cs, const char *id);
void cstate_new_cluster_id(cstate_t *cs);

#endif
