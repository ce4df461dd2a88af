/*
 * ship.c - the leader's side of replication (the framing both sides
 * share is rconn.c's).
 *
 * The leader accepts replica connections on cluster.replication.  After
 * the handshake (CHALLENGE, HELLO, WELCOME) it finds where the replica's
 * log parts from its own (cstate_fork over both epoch histories):
 *   - the replica's log is a prefix of ours and our segments still reach
 *     back to the next LSN: PARTIAL, stream from there;
 *   - otherwise FULL: send our newest snapshot, then stream from the LSN
 *     after it (segments after the newest snapshot are never removed).
 * Records are read from the segment files (the page cache holds the
 * recent ones), only up to the LSN the log writer has written, and sent
 * in RECORDS frames of about 1 MiB, at most 4 MiB queued per replica.
 * The master wakes this process when it writes new records.  ACKs from
 * the replica update its acknowledged LSN for upload?wait=N and lag.
 */
#include "replicator/repl.h"
#include "src/core/log.h"
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
#include <sys/stat.h>
#include <unistd.h>

enum { SHIP_HELLO = 1, SHIP_SNAP, SHIP_STREAM };

#define SHIP_QUEUE (4u << 20)
#define SHIP_BATCH (1u << 20)

static int ev_tcp = EVT_TCP;

int
ship_listen(repl_t *r)
{
    const conf_addr_t *a = &r->conf->cl_replication;
    int one = 1;

    r->tcp = socket(a->ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->tcp < 0) {
        log_errno("socket() failed");
        return MEMDB_ERR;
    }
    setsockopt(r->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(r->tcp, (const struct sockaddr *) &a->ss, a->len) < 0
        || listen(r->tcp, 64) < 0) {
        log_errno("bind/listen(%s) failed", a->text);
        return MEMDB_ERR;
    }
    return repl_watch(r, r->tcp, EPOLLIN, &ev_tcp, false);
}

static void
ship_unlist(repl_t *r, ship_t *s)
{
    for (int i = 0; i < r->nships; i++) {
        if (r->ships[i] == s) {
            r->ships[i] = r->ships[--r->nships];
            break;
        }
    }
}

static void
ship_free(repl_t *r, ship_t *s)
{
    ship_unlist(r, s);
    rconn_close(r, &s->c);
    if (s->rd_open)
        clogrd_close(&s->rd);
    if (s->snap_fd >= 0)
        close(s->snap_fd);
    free(s);
}

/* Closes s and gives up its slot now, but frees it only after this turn's
 * events (ship_free_dropped): one of them may still name it. */
static void
ship_drop(repl_t *r, ship_t *s)
{
    ship_unlist(r, s);
    rconn_close(r, &s->c);
    s->next_dropped = r->dropped;
    r->dropped = s;
}

static void
ship_free_dropped(repl_t *r)
{
    while (r->dropped != NULL) {
        ship_t *s = r->dropped;
        r->dropped = s->next_dropped;
        ship_free(r, s);
    }
}

void
ship_close_all(repl_t *r)
{
    while (r->nships > 0)
        ship_free(r, r->ships[0]);
    ship_free_dropped(r);
}

/* Makes room for one more connection from src waiting for its handshake:
 * drops the oldest waiting one of that source, or of all, when there are
 * too many (admit.h). */
static void
ship_admit(repl_t *r, const unsigned char *src)
{
    admit_t w[MEMDB_NELEM(r->ships)];
    ship_t *who[MEMDB_NELEM(r->ships)];
    int n = 0, v;

    for (int i = 0; i < r->nships; i++) {
        if (r->ships[i]->c.authed)
            continue;
        memcpy(w[n].src, r->ships[i]->src, ADMIT_KEY);
        w[n].since_ms = r->ships[i]->c.open_ms;
        who[n++] = r->ships[i];
    }
    v = admit_victim(w, n, src, ADMIT_PER_SOURCE, ADMIT_TOTAL);
    if (v < 0)
        return;
    rconn_bad(r, &who[v]->c,
              "too many connections waiting for their handshake: dropping "
              "the oldest");
    ship_drop(r, who[v]);
}

static void
ship_new(repl_t *r, int fd, const struct sockaddr *sa)
{
    ship_t *s;
    frame_challenge_t ch;
    unsigned char src[ADMIT_KEY];
    int one = 1;

    admit_source(sa, src);
    ship_admit(r, src);
    if (r->nships == (int) MEMDB_NELEM(r->ships)) {
        close(fd); /* every slot holds an authenticated replica */
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s = xcalloc(1, sizeof(*s));
    rconn_init(r, &s->c, EVT_SHIP, fd);
    util_format_addr(sa, s->c.peer, sizeof(s->c.peer));
    memcpy(s->src, src, ADMIT_KEY);
    s->snap_fd = -1;
    s->stage = SHIP_HELLO;
    r->ships[r->nships++] = s;
    if (repl_watch(r, fd, EPOLLIN | EPOLLOUT | EPOLLET, s, false)
        != MEMDB_OK) {
        ship_free(r, s);
        return;
    }
    auth_nonce(s->c.nonce_mine, FRAME_NONCE);
    rconn_keys(r, &s->c, RCONN_HANDSHAKE);
    memcpy(ch.nonce, s->c.nonce_mine, FRAME_NONCE);
    rconn_send(r, &s->c, FR_CHALLENGE, &ch, sizeof(ch));
}

void
ship_accept(repl_t *r)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(r->tcp, (struct sockaddr *) &ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        ship_new(r, fd, (struct sockaddr *) &ss);
    }
}

/* The oldest LSN our segments hold, or UINT64_MAX when there are none. */
static uint64_t
oldest_lsn(repl_t *r)
{
    seg_info_t *segs;
    int n = seg_list(r->log_dir, &segs);
    uint64_t v = n > 0 ? segs[0].first_lsn : UINT64_MAX;

    free(segs);
    return v;
}

static bool
ship_start_full(repl_t *r, ship_t *s)
{
    snap_info_t *snaps;
    int n = snap_list(r->snap_dir, &snaps);
    frame_snap_t fs;
    struct stat st;

    memset(&fs, 0, sizeof(fs));
    s->snap_fd = -1;
    if (n > 0) {
        s->snap_fd = open(snaps[0].path, O_RDONLY | O_CLOEXEC);
        if (s->snap_fd < 0 || fstat(s->snap_fd, &st) < 0) {
            log_errno("open(%s) failed", snaps[0].path);
            free(snaps);
            return false;
        }
        fs.lsn = snaps[0].lsn;
        fs.size = (uint64_t) st.st_size;
    } else if (oldest_lsn(r) > 1 && repl_last_lsn(r) > 0) {
        free(snaps);
        log_error("no snapshot and no segment from lsn 1: cannot full-sync "
                  "%s",
                  s->id);
        return false;
    }
    free(snaps);
    fs.epoch = cstate_epoch_at(r->cs.hist, r->cs.nhist, fs.lsn);
    rconn_send(r, &s->c, FR_SNAP_BEGIN, &fs, sizeof(fs));
    s->snap_left = fs.size;
    s->next = fs.lsn + 1;
    s->stage = SHIP_SNAP;
    log_info("full sync of %s from snapshot at lsn %llu (%llu bytes)", s->id,
             (unsigned long long) fs.lsn, (unsigned long long) fs.size);
    return true;
}

static bool
ship_hello(repl_t *r, ship_t *s, const unsigned char *p, uint32_t len)
{
    frame_hello_t h;
    frame_hist_t hist[FRAME_MAX_HIST];
    buf_t b = { 0 };
    frame_welcome_t w;
    uint64_t last = repl_last_lsn(r), fork;

    memcpy(&h, p, sizeof(h));
    memcpy(hist, p + sizeof(h), h.nhist * sizeof(frame_hist_t));
    snprintf(s->id, sizeof(s->id), "%s", h.id);
    /* the HELLO was fresh for our nonce: from here on, both directions
     * are under keys of both nonces, the WELCOME included */
    memcpy(s->c.nonce_peer, h.nonce, FRAME_NONCE);
    rconn_keys(r, &s->c, RCONN_SESSION);
    s->c.authed = true;
    if (atomic_load(&r->shm->node->role) != ROLE_LEADER) {
        static const char msg[] = "not the leader";
        rconn_send(r, &s->c, FR_ERROR, msg, sizeof(msg) - 1);
        return true;
    }
    fork = cstate_fork(hist, (int) h.nhist, h.last_lsn, r->cs.hist,
                       r->cs.nhist, last);
    memset(&w, 0, sizeof(w));
    w.fork_lsn = fork;
    w.epoch = r->cs.epoch;
    w.nhist = (uint32_t) r->cs.nhist;
    snprintf(w.cluster, sizeof(w.cluster), "%s", r->cs.cluster);
    w.mode = !(h.flags & FR_HELLO_FULL)
                     && ((fork == h.last_lsn && oldest_lsn(r) <= fork + 1)
                         || (fork == h.last_lsn && fork == last))
                 ? FR_MODE_PARTIAL
                 : FR_MODE_FULL;
    w.from_lsn = fork + 1;
    buf_append(&b, &w, sizeof(w));
    buf_append(&b, r->cs.hist, sizeof(frame_hist_t) * (size_t) r->cs.nhist);
    rconn_send(r, &s->c, FR_WELCOME, b.data, (uint32_t) b.len);
    buf_free(&b);
    log_info("replica %s connected at lsn %llu (fork %llu): %s", s->id,
             (unsigned long long) h.last_lsn, (unsigned long long) fork,
             w.mode == FR_MODE_PARTIAL ? "partial resync" : "full sync");
    if (w.mode == FR_MODE_FULL)
        return ship_start_full(r, s);
    s->next = fork + 1;
    s->stage = SHIP_STREAM;
    return true;
}

static bool
ship_frame(repl_t *r, rconn_t *c, uint8_t type, const unsigned char *p,
           uint32_t len)
{
    ship_t *s = (ship_t *) c;

    if (s->stage == SHIP_HELLO) {
        if (type != FR_HELLO)
            return rconn_bad(r, c, "expected HELLO");
        return ship_hello(r, s, p, len);
    }
    switch (type) {
    case FR_ACK: {
        frame_ack_t a;
        int i = gossip_find(r, s->id);
        memcpy(&a, p, sizeof(a));
        s->acked = a.written_lsn;
        if (i > 0 && a.leader_age_ms < r->now_ms)
            r->peers[i].proven_ms = MEMDB_MAX(r->peers[i].proven_ms,
                                              r->now_ms - a.leader_age_ms);
        if (i > 0 && r->peers[i].acked != a.written_lsn) {
            r->peers[i].acked = a.written_lsn;
            atomic_store(&r->shm->roster->acked[i], a.written_lsn);
            repl_wake_workers(r);
        }
        return true;
    }
    case FR_PING: return true;
    case FR_MERGE: return merge_on_merge(r, c, p, len);
    case FR_ERROR:
        log_warn("replica %s: %.*s", s->id, (int) len, (const char *) p);
        return false;
    default: return rconn_bad(r, c, "unexpected frame from a replica");
    }
}

/* Sends the next piece of the snapshot. */
static bool
ship_snap(repl_t *r, ship_t *s)
{
    char chunk[256 * 1024];

    while (s->snap_left > 0 && s->c.out.len - s->c.out_off < SHIP_QUEUE) {
        ssize_t n = read(
            s->snap_fd, chunk,
            (size_t) MEMDB_MIN((uint64_t) sizeof(chunk), s->snap_left));
        if (n <= 0) {
            log_errno("reading the snapshot for %s failed", s->id);
            return false;
        }
        rconn_send(r, &s->c, FR_SNAP_DATA, chunk, (uint32_t) n);
        s->snap_left -= (uint64_t) n;
    }
    if (s->snap_left == 0) {
        rconn_send(r, &s->c, FR_SNAP_END, NULL, 0);
        if (s->snap_fd >= 0)
            close(s->snap_fd);
        s->snap_fd = -1;
        s->stage = SHIP_STREAM;
    }
    return true;
}

/* Queues records up to the written LSN, read from the log as they are in
 * it (clogrd.h: the reader keeps its place between calls, and takes up the
 * segment where it grew or the next one).  A gap (retention removed what
 * the replica needs) or damage ends the connection: the replica's next
 * HELLO gets a full sync. */
static bool
ship_records(repl_t *r, ship_t *s)
{
    uint64_t limit = atomic_load(&r->shm->node->written_lsn);
    buf_t b = { 0 };
    clogrd_e e = CLOGRD_END;

    if (!s->rd_open) {
        if (clogrd_open(&s->rd, r->log_dir, s->next, limit) != MEMDB_OK) {
            log_error("%s", s->rd.err);
            return false;
        }
        s->rd_open = true;
    }
    s->rd.to = limit;
    while (s->c.out.len - s->c.out_off + b.len < SHIP_QUEUE) {
        const void *rec;
        uint32_t len;

        if ((e = clogrd_next(&s->rd, &rec, &len)) != CLOGRD_REC)
            break;
        buf_append(&b, rec, len);
        s->next = clogrd_lsn(&s->rd);
        if (b.len >= SHIP_BATCH) {
            rconn_send(r, &s->c, FR_RECORDS, b.data, (uint32_t) b.len);
            b.len = 0;
        }
    }
    if (b.len > 0)
        rconn_send(r, &s->c, FR_RECORDS, b.data, (uint32_t) b.len);
    buf_free(&b);
    if (e == CLOGRD_REC || e == CLOGRD_END)
        return true;
    log_warn("replica %s needs lsn %llu: %s", s->id,
             (unsigned long long) s->next, s->rd.err);
    return false;
}

static bool
ship_run(repl_t *r, ship_t *s)
{
    if (atomic_load(&r->shm->node->role) != ROLE_LEADER)
        return false;
    if (s->stage == SHIP_SNAP && !ship_snap(r, s))
        return false;
    if (s->c.paused) {
        /* a handed-over record waited (ring full, its key in flight):
         * offer the held frame again, then read on */
        s->c.paused = false;
        s->c.last_rx_ms = r->now_ms;
        if (!rconn_read(r, &s->c, ship_frame))
            return false;
    }
    if (s->stage == SHIP_STREAM && !ship_records(r, s))
        return false;
    /* an idle replica hears from us often: its ACKs tell when it last
     * did, which is what the write lease is made of (elect.c) */
    if (s->c.out.len == s->c.out_off
        && r->now_ms - s->c.last_tx_ms >= elect_hold_ms(r) / 8)
        rconn_send(r, &s->c, FR_PING, NULL, 0);
    if (r->now_ms - s->c.last_rx_ms
        > 10 * r->conf->cl_probe_interval_ms + 5000) {
        log_warn("replica %s is silent: closing", s->id);
        return false;
    }
    return rconn_flush(r, &s->c);
}

void
ship_event(repl_t *r, ship_t *s, uint32_t events)
{
    if (s->c.closed)
        return; /* dropped (ship_drop): freed after this turn's events */
    if ((events & (EPOLLERR | EPOLLHUP))
        || ((events & EPOLLIN) && !rconn_read(r, &s->c, ship_frame))
        || (s->stage == SHIP_HELLO ? !rconn_flush(r, &s->c)
                                   : !ship_run(r, s))) {
        log_info("replica %s disconnected", s->id[0] ? s->id : "?");
        ship_free(r, s);
    }
}

void
ship_pump(repl_t *r)
{
    ship_free_dropped(r);
    for (int i = 0; i < r->nships; i++) {
        ship_t *s = r->ships[i];
        /* ship_free() moves the last ship into slot i, hence i--; the
         * analyzer assumes two slots may hold the same ship. */
        if (s->stage != SHIP_HELLO /* NOLINT(clang-analyzer-unix.Malloc) */
            && !ship_run(r, s)) {
            log_info("replica %s disconnected", s->id);
            ship_free(r, s);
            i--;
        } else if (!s->c.authed && r->now_ms - s->c.open_ms > REPL_AUTH_MS) {
            /* a fixed deadline from accept: bytes do not extend it */
            rconn_bad(r, &s->c, "no handshake in time");
            ship_free(r, s);
            i--;
        }
    }
}
