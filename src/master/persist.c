/*
 * persist.c - change-log writer, snapshots and retention in the master (see
 * persist.h).
 */
#include "src/master/persist.h"
#include "src/core/fault.h"
#include "src/core/log.h"
#include "src/core/proc.h"
#include "src/core/proctitle.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SNAPS_KEPT 2

int
persist_init(persist_t *p, const conf_t *conf, shm_t *shm,
             const recover_stats_t *rs)
{
    memset(p, 0, sizeof(*p));
    p->conf = conf;
    p->shm = shm;
    recover_dirs(conf->data_dir, p->log_dir, p->snap_dir, sizeof(p->log_dir));
    p->snap_lsn = rs->snap_lsn;
    snprintf(p->snap_path, sizeof(p->snap_path), "%s", rs->snap_path);
    p->last_snap_ms = util_now_ms();
    if (util_mkdir_p(p->snap_dir) != MEMDB_OK) {
        log_errno("mkdir(%s) failed", p->snap_dir);
        return MEMDB_ERR;
    }
    atomic_store(&shm->node->snap_lsn, p->snap_lsn);
    return clogw_open(&p->lw, shm, p->log_dir, (int) conf->persist_fsync,
                      conf->persist_segment_size,
                      atomic_load(&shm->ring.hdr->next_lsn));
}

/* The lowest LSN another member of the cluster may still need from this
 * node's log: the lowest applied LSN the members reported (a member that
 * is down keeps the LSN it had, so the records it missed stay, and so do
 * the records an isolated leader accepted after the others last heard
 * from it: merge.c hands them over from the log).  0 keeps everything
 * while a member is in a newer epoch: a hand-over may be about to start.
 * UINT64_MAX when this node runs alone. */
static uint64_t
persist_member_floor(persist_t *p)
{
    static roster_member_t m[ROSTER_MAX_MEMBERS];
    char leader_id[ROSTER_ID_MAX], leader_http[ROSTER_ADDR_MAX];
    uint64_t floor = UINT64_MAX;
    uint64_t epoch = atomic_load(&p->shm->node->epoch);
    uint32_t n;

    if (!atomic_load(&p->shm->node->clustered))
        return UINT64_MAX;
    roster_read(p->shm->roster, m, &n, leader_id, leader_http);
    for (uint32_t i = 0; i < n; i++) {
        if (m[i].self || m[i].state == MS_LEFT)
            continue;
        if (m[i].epoch > epoch)
            return 0;
        floor = MEMDB_MIN(floor, m[i].lsn);
    }
    return floor;
}

/* Removes the segments covered by the snapshot, except the newest
 * keep_segments of them and those holding records after the member
 * floor, as long as these stay within replica_backlog bytes. */
static void
persist_remove_segments(persist_t *p)
{
    seg_info_t *segs;
    int n = seg_list(p->log_dir, &segs), covered = 0, first_kept;
    uint64_t floor = persist_member_floor(p), held = 0;

    /* segment i holds LSNs [first_i, first_{i+1}); covered if all <= snap */
    for (int i = 0; i + 1 < n; i++)
        if (segs[i + 1].first_lsn - 1 <= p->snap_lsn)
            covered = i + 1;
    first_kept = covered - (int) p->conf->persist_keep_segments;
    /* walking back from the newest removable segment, hold those a member
     * still needs while they fit in the backlog */
    for (int i = first_kept - 1; i >= 0; i--) {
        if (segs[i + 1].first_lsn - 1 <= floor
            || held + segs[i].size > p->conf->persist_replica_backlog)
            break;
        held += segs[i].size;
        first_kept = i;
    }
    if (first_kept > 0 && segs[first_kept].first_lsn - 1 > floor)
        log_warn("removing segments up to lsn %llu although a member is "
                 "at lsn %llu: persistence.replica_backlog (%llu bytes) is "
                 "full (a replica behind will need a full sync; records "
                 "this node took while cut off cannot be handed over)",
                 (unsigned long long) (segs[first_kept].first_lsn - 1),
                 (unsigned long long) floor,
                 (unsigned long long) p->conf->persist_replica_backlog);
    for (int i = 0; i < first_kept; i++) {
        if (unlink(segs[i].path) == 0)
            log_debug("removed %s", segs[i].path);
        else
            log_errno("unlink(%s) failed", segs[i].path);
    }
    free(segs);
}

/* Removes what the newest snapshot made unneeded. */
static void
persist_retain(persist_t *p)
{
    snap_info_t *snaps;
    int n;

    persist_remove_segments(p);
    n = snap_list(p->snap_dir, &snaps);
    for (int i = SNAPS_KEPT; i < n; i++)
        if (unlink(snaps[i].path) < 0)
            log_errno("unlink(%s) failed", snaps[i].path);
    free(snaps);
}

static void
persist_child(persist_t *p, uint64_t target)
{
    char err[1400], out[1100];
    const char *prev = p->snap_path[0] ? p->snap_path : NULL;
    uint64_t t0 = util_now_ms();

    proc_parent_death(SIGKILL);
    log_set_role("snapshot");
    fault_set_proc(FAULT_P_SNAPSHOT);
    proctitle_set("memdbd: snapshot at lsn %llu", (unsigned long long) target);
    signal(SIGTERM, SIG_DFL);
    snap_keep_t keep = { .window_ms = p->shm->idem.hdr->window_ms,
                         .max_keys = p->shm->idem.hdr->max_keys };

    if (snap_compact(p->snap_dir, p->log_dir, prev, target,
                     atomic_load(&p->shm->node->epoch), &keep, out,
                     sizeof(out), err, sizeof(err))
        != MEMDB_OK) {
        log_error("snapshot at lsn %llu failed: %s",
                  (unsigned long long) target, err);
        util_child_exit(MEMDB_EXIT_FATAL);
    }
    log_info("snapshot %s written in %llu ms", out,
             (unsigned long long) (util_now_ms() - t0));
    util_child_exit(MEMDB_EXIT_OK);
}

/* Seals the log and forks the compaction child. */
static void
persist_start_snapshot(persist_t *p, uint64_t now_ms, uint64_t req)
{
    uint64_t sealed;
    pid_t pid;

    if (clogw_rotate(&p->lw, now_ms, &sealed) != MEMDB_OK)
        return; /* retried on the next turn */
    p->last_snap_ms = now_ms;
    if (sealed <= p->snap_lsn) { /* nothing new: answer at once */
        atomic_store(&p->shm->node->snap_done, req);
        return;
    }
    pid = fork();
    if (pid < 0) {
        log_errno("fork() for a snapshot failed");
        return;
    }
    if (pid == 0)
        persist_child(p, sealed);
    p->child = pid;
    p->child_target = sealed;
    p->child_req = req;
    p->child_start_ms = now_ms;
}

static bool
persist_snapshot_due(persist_t *p, uint64_t now_ms)
{
    const conf_t *c = p->conf;
    uint64_t changes = p->lw.written_lsn - p->snap_lsn;

    if (changes == 0)
        return false;
    if (c->persist_snap_changes && changes >= c->persist_snap_changes)
        return true;
    return c->persist_snap_ms
           && now_ms - p->last_snap_ms >= c->persist_snap_ms;
}

/* A replica loaded its leader's snapshot (full sync): its own log is
 * another history now.  Once the ring is written out, drop every segment
 * and snapshot, newest first, then rename the leader's snapshot (a
 * temporary file, which recovery ignores) into place and start the log at
 * lsn.  A crash at any point leaves a prefix of the old history or the
 * new one, never the leader's snapshot under the old segments; the
 * replicator persisted "syncing" before, so the node does not serve reads
 * or stand for election until a full sync is through. */
static void
persist_rebase(persist_t *p, uint64_t lsn)
{
    shm_node_t *n = p->shm->node;
    ring_t *r = &p->shm->ring;
    uint64_t head = atomic_load(&r->hdr->head);
    seg_info_t *segs;
    snap_info_t *snaps;
    int ns, nn;
    char keep[1100];

    if (p->lw.cursor != head)
        return; /* not written out yet */
    if (p->child > 0) {
        int st;
        kill(p->child, SIGKILL);
        waitpid(p->child, &st, 0);
        atomic_store(&n->snap_done, p->child_req);
        p->child = 0;
    }
    clogw_close(&p->lw);
    ns = seg_list(p->log_dir, &segs);
    for (int i = ns - 1; i >= 0; i--)
        unlink(segs[i].path);
    free(segs);
    snap_path(keep, sizeof(keep), p->snap_dir, lsn - 1);
    nn = snap_list(p->snap_dir, &snaps); /* newest first */
    for (int i = 0; i < nn; i++)
        unlink(snaps[i].path);
    free(snaps);
    util_fsync_dir(p->log_dir);
    util_fsync_dir(p->snap_dir);
    FAULT("rebase.removed");
    if (n->rebase_snap[0] != '\0'
        && (rename(n->rebase_snap, keep) < 0
            || util_fsync_dir(p->snap_dir) != MEMDB_OK)) {
        log_errno("installing the leader's snapshot %s failed",
                  n->rebase_snap);
        return; /* the replicator gives up and syncs again */
    }
    ring_release(r, head);
    lock_acquire(&r->hdr->lock, p->shm->ht.self);
    atomic_store(&r->hdr->next_lsn, lsn);
    lock_release(&r->hdr->lock);
    if (clogw_open(&p->lw, p->shm, p->log_dir, (int) p->conf->persist_fsync,
                   p->conf->persist_segment_size, lsn)
        != MEMDB_OK)
        return;
    atomic_store(&n->written_lsn, lsn - 1);
    atomic_store(&n->durable_lsn, lsn - 1);
    p->snap_lsn = access(keep, F_OK) == 0 ? lsn - 1 : 0;
    snprintf(p->snap_path, sizeof(p->snap_path), "%s",
             p->snap_lsn ? keep : "");
    snprintf(n->snap_path, sizeof(n->snap_path), "%s", p->snap_path);
    atomic_store(&n->snap_lsn, p->snap_lsn);
    log_info("the log starts over at lsn %llu (full sync)",
             (unsigned long long) lsn);
    atomic_store(&n->rebase_done, lsn);
}

bool
persist_run(persist_t *p, uint64_t now_ms)
{
    uint64_t rb = atomic_load(&p->shm->node->rebase_lsn);

    if (rb != 0 && atomic_load(&p->shm->node->rebase_done) != rb)
        persist_rebase(p, rb);
    bool progress = clogw_run(&p->lw, now_ms);
    uint64_t req = atomic_load(&p->shm->node->snap_req);
    uint64_t done = atomic_load(&p->shm->node->snap_done);

    if (p->child == 0 && p->lw.err == 0) {
        if (req > done) {
            persist_start_snapshot(p, now_ms, req);
            progress |= atomic_load(&p->shm->node->snap_done) == req;
        } else if (persist_snapshot_due(p, now_ms)) {
            persist_start_snapshot(p, now_ms, done);
        }
    }
    return progress;
}

bool
persist_child_exited(persist_t *p, pid_t pid, int status)
{
    shm_node_t *n = p->shm->node;

    if (pid != p->child || p->child == 0)
        return false;
    p->child = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        p->snap_lsn = p->child_target;
        snap_path(p->snap_path, sizeof(p->snap_path), p->snap_dir,
                  p->snap_lsn);
        snprintf(n->snap_path, sizeof(n->snap_path), "%s", p->snap_path);
        atomic_store(&n->snap_lsn, p->snap_lsn);
        atomic_store(&n->snap_ms, util_now_ms() - p->child_start_ms);
        persist_retain(p);
    } else {
        log_error("the snapshot child (pid %d) failed", pid);
        atomic_fetch_add(&n->snap_failures, 1);
    }
    atomic_store(&n->snap_done, p->child_req);
    return true;
}

void
persist_shutdown(persist_t *p)
{
    uint64_t now = util_now_ms();
    int status;

    for (int i = 0; i < 10000 && p->lw.err == 0
                    && p->lw.cursor != atomic_load(&p->shm->ring.hdr->head);
         i++)
        clogw_run(&p->lw, now);
    clogw_sync(&p->lw, now);
    if (p->child > 0) {
        waitpid(p->child, &status, 0);
        persist_child_exited(p, p->child, status);
    }
    persist_start_snapshot(p, now, atomic_load(&p->shm->node->snap_req));
    if (p->child > 0) {
        pid_t c = p->child;
        waitpid(c, &status, 0);
        persist_child_exited(p, c, status);
    }
    clogw_close(&p->lw);
}
