/*
 * follow.c - a replica's side of replication.
 *
 * The replica connects to the leader it learned from gossip, answers the
 * CHALLENGE with a HELLO (its id, epoch history and last LSN) and follows
 * the WELCOME:
 *   PARTIAL  records arrive from the LSN after its last one;
 *   FULL     a snapshot arrives first: it is written to data_dir/snap,
 *            checked, and then (1) the workers answer reads 503 while
 *            (2) every count is set to the snapshot's, (3) the master
 *            starts the log over after the snapshot's LSN (rebase), and
 *            (4) the epoch history becomes the leader's up to there.
 * Each record is checked, put in the ring under its own LSN (the ring
 * hands out exactly the next LSN: on a replica the replicator is the only
 * producer), published for the log writer, and applied to the table with
 * progress reporting like a worker's upload (slot SHM_REPL_SLOT), so the
 * master repairs and finishes it if the replicator dies.  ACKs (applied,
 * written, durable) go back every REPL_ACK_MS and after each batch.
 *
 * A full sync persists "syncing" in the cluster state before anything is
 * replaced and clears it once the leader's snapshot is installed, the log
 * starts over and the history is the leader's.  A node that crashed in
 * between (or whose replicator died) serves no reads and does not stand,
 * and its next HELLO asks for a FULL sync (FR_HELLO_FULL).
 */
#include "replicator/repl.h"
#include "src/core/fault.h"
#include "src/changelog/loader.h"
#include "src/core/log.h"
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void
follow_stop(repl_t *r)
{
    follow_t *f = &r->fol;

    if (!f->on)
        return;
    rconn_close(r, &f->c);
    if (f->snap_fd >= 0) {
        close(f->snap_fd);
        unlink(f->snap_tmp);
    }
    f->snap_fd = -1;
    f->on = false;
    f->retry_ms = r->now_ms + REPL_RETRY_MS;
}

static void
follow_fail(repl_t *r, const char *why)
{
    if (why != NULL)
        log_warn("replication from %s stopped: %s", r->fol.leader, why);
    follow_stop(r);
}

static void
follow_connect(repl_t *r, int l)
{
    follow_t *f = &r->fol;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    f->retry_ms = r->now_ms + REPL_RETRY_MS;
    if (util_parse_addr(r->peers[l].m.repl, &ss, &len) != MEMDB_OK)
        return;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *) &ss, len) < 0
        && errno != EINPROGRESS) {
        close(fd);
        return;
    }
    rconn_init(r, &f->c, EVT_FOLLOW, fd);
    rconn_keys(r, &f->c, RCONN_HANDSHAKE); /* for the CHALLENGE */
    snprintf(f->c.peer, sizeof(f->c.peer), "%s", r->peers[l].m.repl);
    f->merge_seq = 0;
    f->merge_file[0] = '\0';
    f->merge_off = 0;
    f->snap_fd = -1;
    f->on = true;
    f->stage = FOL_CONNECT;
    snprintf(f->leader, sizeof(f->leader), "%s", r->peers[l].m.id);
    if (repl_watch(r, fd, EPOLLIN | EPOLLOUT | EPOLLET, &f->c, false)
        != MEMDB_OK)
        follow_fail(r, NULL);
}

static void
follow_hello(repl_t *r)
{
    follow_t *f = &r->fol;
    frame_hello_t h;
    buf_t b = { 0 };
    bool resync = atomic_load(&r->shm->node->syncing) != 0;

    memset(&h, 0, sizeof(h));
    snprintf(h.id, sizeof(h.id), "%s", r->conf->node_id);
    auth_nonce(f->c.nonce_mine, FRAME_NONCE);
    rconn_keys(r, &f->c, RCONN_HANDSHAKE); /* the HELLO's key */
    memcpy(h.nonce, f->c.nonce_mine, FRAME_NONCE);
    h.epoch = r->cs.epoch;
    h.last_lsn = resync ? 0 : repl_last_lsn(r);
    h.nhist = resync ? 0 : (uint32_t) r->cs.nhist;
    h.flags = resync ? FR_HELLO_FULL : 0;
    buf_append(&b, &h, sizeof(h));
    buf_append(&b, r->cs.hist, sizeof(frame_hist_t) * h.nhist);
    rconn_send(r, &f->c, FR_HELLO, b.data, (uint32_t) b.len);
    buf_free(&b);
    /* the WELCOME and all after it: keys of both nonces, so a recorded
     * handshake replayed to us fails */
    rconn_keys(r, &f->c, RCONN_SESSION);
    f->stage = FOL_WELCOME;
}

static void
follow_ack(repl_t *r)
{
    frame_ack_t a;
    shm_node_t *n = r->shm->node;

    a.applied_lsn = atomic_load(&r->shm->roster->applied_lsn);
    a.written_lsn = atomic_load(&n->written_lsn);
    a.durable_lsn = atomic_load(&n->durable_lsn);
    a.leader_age_ms = r->now_ms - MEMDB_MIN(r->now_ms, r->fol.c.last_rx_ms);
    rconn_send(r, &r->fol.c, FR_ACK, &a, sizeof(a));
    r->fol.ack_ms = r->now_ms;
}

/* The boot id of the leader that put h in its log: from the leader's
 * history (WELCOME), which holds every epoch it can send. */
static uint64_t
follow_epoch_boot(const repl_t *r, const rec_hdr_t *h)
{
    const follow_t *f = &r->fol;

    for (int i = f->nlhist - 1; i >= 0; i--)
        if (f->lhist[i].epoch == h->epoch && f->lhist[i].start_lsn <= h->lsn)
            return f->lhist[i].boot;
    return h->origin_epoch == h->epoch && h->origin_lsn == h->lsn ? h->origin
                                                                  : 0;
}

/* Puts one record from the leader in the ring and applies it.  MEMDB_OK
 * (also for a record applied before: a frame taken up again after a
 * pause), MEMDB_AGAIN when the ring is full (the log writer is behind:
 * the caller pauses and offers this record again), MEMDB_ERR. */
static int
follow_record(repl_t *r, const void *rec, uint32_t len)
{
    follow_t *f = &r->fol;
    shm_worker_t *me = shm_worker(r->shm, SHM_REPL_SLOT);
    ring_slot_t *slot;
    rec_hdr_t h;
    bool done;
    int rc;

    memcpy(&h, rec, sizeof(h));
    if (h.lsn < f->next)
        return MEMDB_OK;
    if (h.lsn != f->next) {
        log_error("record lsn %llu where %llu was expected",
                  (unsigned long long) h.lsn, (unsigned long long) f->next);
        return MEMDB_ERR;
    }
    if (h.epoch > cstate_epoch_at(r->cs.hist, r->cs.nhist, h.lsn)) {
        cstate_hist_add(&r->cs, h.epoch, h.lsn, follow_epoch_boot(r, &h));
        if (cstate_save(&r->cs) != MEMDB_OK)
            return MEMDB_ERR;
    }
    if (!apply_fits(r->shm, rec)) {
        /* never log what cannot be applied: wait (reads go on; the lag
         * shows) until a restart with a larger store.max_memory */
        if (f->full_lsn != h.lsn)
            log_error("the store is full (store.max_memory): record lsn "
                      "%llu of the leader is not taken; this replica stops "
                      "following until it has room",
                      (unsigned long long) h.lsn);
        f->full_lsn = h.lsn;
        return MEMDB_AGAIN;
    }
    me->resv.lsn = h.lsn; /* the fence: exactly this LSN, as a replica */
    rc = apply_reserve(r->shm, rec, len, RING_W_REPLICATE, me, false, &slot,
                       &done);
    if (rc == MEMDB_AGAIN)
        return MEMDB_AGAIN;
    if (rc != MEMDB_OK) {
        log_error("cannot put record lsn %llu in the ring: %s",
                  (unsigned long long) h.lsn,
                  rc == MEMDB_BUSY     ? "this node is not a replica, or its "
                                         "log does not end just before it"
                  : rc == MEMDB_NOENT  ? "its table does not exist here"
                  : rc == MEMDB_EXISTS ? "a table of that name exists here"
                                       : "it is larger than the ring allows");
        return MEMDB_ERR;
    }
    if (!done) {
        FAULT("follow.reserved");
        atomic_store(&me->progress, 0);
        atomic_store(&me->inflight_pos, me->resv.pos);
        memcpy(ring_slot_rec(slot), rec, len);
        FAULT("follow.copied");
        ring_publish(slot);
        (void) apply_record(r->shm, ring_slot_rec(slot), 0, SHM_REPL_SLOT,
                            &me->progress, apply_gen(slot));
    }
    atomic_store(&me->inflight_pos, SHM_NONE);
    atomic_store(&r->shm->roster->applied_lsn, h.lsn);
    f->next = h.lsn + 1;
    return MEMDB_OK;
}

/* A RECORDS frame.  When the ring is full the connection pauses: nothing
 * more is read (TCP pushes back on the leader) and the frame is offered
 * again from follow_tick once the log writer made room; the replicator's
 * loop keeps turning meanwhile (gossip, elections). */
static bool
follow_records(repl_t *r, const unsigned char *p, uint32_t len)
{
    uint64_t one = 1;
    int rc = MEMDB_OK;

    while (len > 0) {
        rec_hdr_t h;
        memcpy(&h, p, sizeof(h));
        if ((rc = follow_record(r, p, h.len)) != MEMDB_OK)
            break;
        p += h.len;
        len -= h.len;
    }
    if (rc == MEMDB_ERR)
        return false;
    if (rc == MEMDB_AGAIN) {
        r->fol.c.paused = true;
        r->fol.c.last_rx_ms = r->now_ms;
    }
    (void) write(r->master_fd, &one, sizeof(one));
    repl_wake_workers(r);
    follow_ack(r);
    return true;
}

/* Sets every count to the snapshot's: zero the table, then add, with the
 * recovery's loader (every CPU, batched lookups): the replicator's loop
 * does not turn meanwhile, so this is kept short. */
static bool
follow_load_snapshot(repl_t *r, const char *path)
{
    snap_reader_t rd;
    recover_sink_t sink;
    loader_t *ld;
    char err[1400];
    const char *w;
    size_t len;
    uint64_t c;
    int rc;

    ht_zero(&r->shm->ht);
    idem_reset(&r->shm->idem, r->shm->ht.self);
    cat_reset(&r->shm->cat);
    if (path == NULL) {
        cat_loaded(&r->shm->cat);
        return true;
    }
    if (snap_open(&rd, path, err, sizeof(err)) != MEMDB_OK) {
        log_error("%s", err);
        return false;
    }
    if (snap_catalog(&rd, &r->shm->cat, err, sizeof(err)) != MEMDB_OK) {
        log_error("full sync: %s", err);
        snap_close(&rd);
        return false;
    }
    cat_loaded(&r->shm->cat);
    ld = loader_new(r->shm, loader_helpers(), NULL);
    loader_sink(ld, &sink);
    for (size_t i = 0; i < rd.nkeys; i++) {
        snap_key_t k = snap_key(&rd, i);
        sink.key(sink.arg, &k.id, k.lsn);
    }
    while ((rc = snap_next(&rd, &w, &len, &c, err, sizeof(err))) == MEMDB_OK)
        if (sink.add(sink.arg, w, len, c) != MEMDB_OK)
            break;
    snap_close(&rd);
    if (loader_finish(ld) != MEMDB_OK) {
        snprintf(err, sizeof(err), "store.max_memory too small");
        rc = MEMDB_ERR;
    }
    if (rc != MEMDB_AGAIN)
        log_error("full sync: %s", err);
    return rc == MEMDB_AGAIN;
}

/* The leader's snapshot is all in (its temporary file): fsynced and read
 * through once.  false when it is damaged. */
static bool
follow_snap_check(follow_t *f)
{
    snap_reader_t rd;
    char err[1400];
    const char *w;
    size_t l;
    uint64_t c;
    int rc = MEMDB_ERR;

    if (fsync(f->snap_fd) < 0) {
        log_errno("fsync(%s) failed", f->snap_tmp);
        return false;
    }
    close(f->snap_fd);
    f->snap_fd = -1;
    if (snap_open(&rd, f->snap_tmp, err, sizeof(err)) == MEMDB_OK) {
        while ((rc = snap_next(&rd, &w, &l, &c, err, sizeof(err))) == MEMDB_OK)
            ;
        snap_close(&rd);
    }
    if (rc != MEMDB_AGAIN)
        log_error("the leader's snapshot is damaged: %s", err);
    return rc == MEMDB_AGAIN;
}

/* Asks the master to start the log over after the snapshot, installing
 * it (rebase, persist.c); waits for it. */
static bool
follow_rebase(repl_t *r, const char *snap)
{
    shm_node_t *n = r->shm->node;
    uint64_t lsn = r->fol.snap_lsn + 1, one = 1;

    snprintf(n->rebase_snap, sizeof(n->rebase_snap), "%s", snap);
    atomic_store(&n->rebase_done, 0);
    atomic_store(&n->rebase_lsn, lsn);
    (void) write(r->master_fd, &one, sizeof(one));
    for (int i = 0; i < 20000 && atomic_load(&n->rebase_done) != lsn; i++)
        usleep(500);
    if (atomic_load(&n->rebase_done) != lsn) {
        log_error("the master did not rebase the log");
        return false;
    }
    return true;
}

/* The snapshot is complete: check it, load it, have the master install
 * it and start the log over, take the leader's history.  "syncing" is
 * persisted before anything is replaced and cleared once all of it is
 * done, so a crash in between leaves a node that serves no reads, does
 * not stand, and asks for a full sync again (persist_rebase). */
static bool
follow_snap_end(repl_t *r)
{
    follow_t *f = &r->fol;
    shm_node_t *n = r->shm->node;
    bool have = f->snap_fd >= 0;

    if (have && !follow_snap_check(f))
        return false;
    r->cs.syncing = true;
    if (cstate_save(&r->cs) != MEMDB_OK)
        return false;
    atomic_store(&n->syncing, 1);
    repl_wake_workers(r);
    FAULT("follow.snapshot_in");
    if (!follow_load_snapshot(r, have ? f->snap_tmp : NULL)
        || !follow_rebase(r, have ? f->snap_tmp : ""))
        return false;
    r->cs.nhist = 0;
    for (int i = 0; i < f->nlhist && f->lhist[i].start_lsn <= f->snap_lsn; i++)
        r->cs.hist[r->cs.nhist++] = f->lhist[i];
    r->cs.syncing = false;
    if (cstate_save(&r->cs) != MEMDB_OK)
        return false;
    atomic_store(&r->shm->roster->applied_lsn, f->snap_lsn);
    atomic_store(&n->syncing, 0);
    repl_wake_workers(r);
    f->next = f->snap_lsn + 1;
    f->stage = FOL_STREAM;
    log_info("full sync installed the snapshot at lsn %llu",
             (unsigned long long) f->snap_lsn);
    follow_ack(r);
    return true;
}

static bool
follow_welcome(repl_t *r, const unsigned char *p)
{
    follow_t *f = &r->fol;
    frame_welcome_t w;

    memcpy(&w, p, sizeof(w));
    memcpy(f->lhist, p + sizeof(w), w.nhist * sizeof(frame_hist_t));
    f->nlhist = (int) w.nhist;
    f->c.authed = true;
    if (w.epoch > r->cs.epoch || strcmp(w.cluster, r->cs.cluster) != 0) {
        r->cs.epoch = MEMDB_MAX(w.epoch, r->cs.epoch);
        snprintf(r->cs.cluster, sizeof(r->cs.cluster), "%.32s", w.cluster);
        if (cstate_save(&r->cs) != MEMDB_OK)
            return false;
    }
    if (w.mode == FR_MODE_PARTIAL) {
        if (w.from_lsn != repl_last_lsn(r) + 1) {
            log_error("the leader offers lsn %llu, we need %llu",
                      (unsigned long long) w.from_lsn,
                      (unsigned long long) (repl_last_lsn(r) + 1));
            return false;
        }
        f->next = w.from_lsn;
        f->stage = FOL_STREAM;
        log_info("following %s from lsn %llu", f->leader,
                 (unsigned long long) f->next);
        follow_ack(r);
        return true;
    }
    f->stage = FOL_SNAP;
    log_info("full sync from %s (our log parts from it after lsn %llu)",
             f->leader, (unsigned long long) w.fork_lsn);
    if (w.fork_lsn < repl_last_lsn(r) && !atomic_load(&r->shm->node->syncing)
        && merge_prepare(r, w.fork_lsn, repl_last_lsn(r)) != MEMDB_OK)
        return false; /* nothing is replaced before that */
    FAULT("follow.merge_prepared");
    f->merge_ms = 0;
    return true;
}

static bool
follow_snap_begin(repl_t *r, const unsigned char *p)
{
    follow_t *f = &r->fol;
    frame_snap_t s;

    memcpy(&s, p, sizeof(s));
    f->snap_lsn = s.lsn;
    f->snap_epoch = s.epoch;
    f->snap_left = s.size;
    f->snap_fd = -1;
    if (s.size == 0)
        return true; /* no snapshot: start from zero */
    util_mkdir_p(r->snap_dir);
    snprintf(f->snap_tmp, sizeof(f->snap_tmp), "%s/%020llu.snap.tmp",
             r->snap_dir, (unsigned long long) s.lsn);
    f->snap_fd = open(f->snap_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0640);
    if (f->snap_fd < 0) {
        log_errno("open(%s) failed", f->snap_tmp);
        return false;
    }
    return true;
}

static bool
follow_frame(repl_t *r, rconn_t *c, uint8_t type, const unsigned char *p,
             uint32_t len)
{
    follow_t *f = &r->fol;

    (void) c;
    if (type == FR_ERROR) {
        log_warn("leader %s: %.*s", f->leader, (int) len, (const char *) p);
        return false;
    }
    r->leader_heard_ms = r->now_ms; /* any checked frame of the leader */
    if (type == FR_PING)
        return true;
    switch (f->stage) {
    case FOL_CHALLENGE:
        if (type != FR_CHALLENGE)
            break;
        memcpy(f->c.nonce_peer, p, FRAME_NONCE);
        follow_hello(r);
        return true;
    case FOL_WELCOME:
        if (type != FR_WELCOME)
            break;
        return follow_welcome(r, p);
    case FOL_SNAP:
        if (type == FR_SNAP_BEGIN)
            return follow_snap_begin(r, p);
        if (type == FR_SNAP_DATA && f->snap_fd >= 0 && len <= f->snap_left) {
            f->snap_left -= len;
            return util_write_all(f->snap_fd, p, len) == MEMDB_OK;
        }
        if (type == FR_SNAP_END && f->snap_left == 0)
            return follow_snap_end(r);
        break;
    case FOL_STREAM:
        if (type == FR_RECORDS)
            return follow_records(r, p, len);
        if (type == FR_MERGED)
            return merge_on_merged(r, p);
        break;
    }
    log_warn("unexpected frame type %u from the leader", type);
    atomic_fetch_add(&r->shm->roster->repl_bad, 1);
    return false;
}

void
follow_event(repl_t *r, uint32_t events)
{
    follow_t *f = &r->fol;

    if (!f->on)
        return;
    if (f->stage == FOL_CONNECT) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(f->c.fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            follow_fail(r, NULL);
            return;
        }
        f->stage = FOL_CHALLENGE;
    }
    if ((events & EPOLLIN) && !rconn_read(r, &f->c, follow_frame)) {
        follow_fail(r, f->c.closed ? NULL : "connection lost");
        return;
    }
    if (!rconn_flush(r, &f->c))
        follow_fail(r, "write failed");
}

/* A node that just stopped leading may still have uploads in flight: wait
 * until every record it accepted is in its log before saying where its
 * log ends. */
static bool
follow_quiet(repl_t *r)
{
    shm_t *s = r->shm;

    for (unsigned i = 0; i < SHM_MAX_WORKERS; i++)
        if (atomic_load(&s->workers[i].inflight_pos) != SHM_NONE)
            return false;
    return atomic_load(&s->node->written_lsn) == repl_last_lsn(r);
}

void
follow_tick(repl_t *r)
{
    follow_t *f = &r->fol;
    int l = gossip_leader(r);
    bool replica = atomic_load(&r->shm->node->role) == ROLE_REPLICA;

    if (r->now_ms >= f->merge_ms && (!f->on || f->stage != FOL_STREAM)) {
        merge_tick(r, false); /* keep the pending count true */
        f->merge_ms = r->now_ms + 1000;
    }
    if (!replica || l <= 0) {
        if (f->on)
            follow_fail(r, NULL);
        return;
    }
    if (f->on && strcmp(f->leader, r->peers[l].m.id) != 0) {
        log_info("the leader is now %s", r->peers[l].m.id);
        follow_fail(r, NULL);
    }
    if (!f->on) {
        if (r->now_ms >= f->retry_ms && follow_quiet(r))
            follow_connect(r, l);
        return;
    }
    if (f->c.paused) {
        /* the ring was full: offer the held frame again, then read on */
        f->c.paused = false;
        f->c.last_rx_ms = r->now_ms;
        if (!rconn_read(r, &f->c, follow_frame)) {
            follow_fail(r, f->c.closed ? NULL : "connection lost");
            return;
        }
    }
    if (f->stage == FOL_STREAM && r->now_ms - f->ack_ms >= REPL_ACK_MS)
        follow_ack(r);
    if (f->stage == FOL_STREAM && r->now_ms >= f->merge_ms) {
        merge_tick(r, true);
        f->merge_ms = r->now_ms + 2000;
    }
    if (!f->c.authed && r->now_ms - f->c.open_ms > REPL_AUTH_MS) {
        /* a fixed deadline from connect: bytes do not extend it */
        if (f->stage != FOL_CONNECT)
            rconn_bad(r, &f->c, "no handshake in time");
        follow_fail(r, f->stage == FOL_CONNECT
                           ? "connect timed out"
                           : "the leader did not complete the handshake "
                             "in time");
        return;
    }
    if (f->stage >= FOL_CHALLENGE
        && r->now_ms - f->c.last_rx_ms
               > 10 * r->conf->cl_probe_interval_ms + 5000) {
        follow_fail(r, "the leader is silent");
        return;
    }
    if (!rconn_flush(r, &f->c))
        follow_fail(r, "write failed");
}
