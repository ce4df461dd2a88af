/*
 * rconn.c - a connection of the replication protocol, either side
 * (rconn_t, repl.h): the framing both the leader (ship.c) and a replica
 * (follow.c) use.
 *
 * Every frame is a header (frame.h), a payload and, with
 * cluster.secret_file, a MAC under the key of its direction
 * (rconn_keys, replicator/README).  Received frames are checked in this
 * order before they are handed to the side's handler: the header
 * (magic, version, length; before the handshake no longer than the
 * largest handshake frame), the MAC, the counter (1, 2, 3... per
 * direction), the payload.  Any failure drops the connection and counts
 * in repl_bad (rconn_bad).  A handler that cannot take a frame yet
 * pauses the connection: nothing more is read, and the frame is offered
 * again later.
 */
#include "replicator/repl.h"
#include "src/core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void
rconn_init(repl_t *r, rconn_t *c, int ev, int fd)
{
    memset(c, 0, sizeof(*c));
    c->ev = ev;
    c->fd = fd;
    c->open_ms = c->last_rx_ms = r->now_ms;
}

void
rconn_close(repl_t *r, rconn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(r->proc.epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->closed = true;
    buf_free(&c->in);
    buf_free(&c->out);
    c->out_off = 0;
    explicit_bzero(c->key_tx, AUTH_KEY);
    explicit_bzero(c->key_rx, AUTH_KEY);
}

void
rconn_keys(repl_t *r, rconn_t *c, int step)
{
    bool leader = c->ev == EVT_SHIP;
    const unsigned char *nl = leader ? c->nonce_mine : c->nonce_peer;
    const unsigned char *nr = leader ? c->nonce_peer : c->nonce_mine;
    unsigned char *kl = leader ? c->key_tx : c->key_rx; /* L's frames */
    unsigned char *kr = leader ? c->key_rx : c->key_tx; /* R's frames */

    if (step == RCONN_HANDSHAKE) {
        memcpy(kl, r->auth.key, AUTH_KEY); /* CHALLENGE */
        auth_session(r->auth.key, AUTH_K_HELLO, nl, NULL, FRAME_NONCE, kr);
        return;
    }
    auth_session(r->auth.key, AUTH_K_LEADER, nl, nr, FRAME_NONCE, kl);
    auth_session(r->auth.key, AUTH_K_REPLICA, nl, nr, FRAME_NONCE, kr);
}

void
rconn_send(repl_t *r, rconn_t *c, uint8_t type, const void *p, uint32_t len)
{
    size_t start = c->out.len;

    if (c->fd < 0)
        return;
    frame_put_hdr(&c->out, type, r->auth.on ? FRAME_F_AUTH : 0, len,
                  ++c->tx_counter);
    if (len > 0)
        buf_append(&c->out, p, len);
    if (r->auth.on) {
        buf_reserve(&c->out, AUTH_MAC);
        auth_mac(c->key_tx, c->out.data + start, c->out.len - start,
                 (unsigned char *) c->out.data + c->out.len);
        c->out.len += AUTH_MAC;
    }
    c->last_tx_ms = r->now_ms;
}

bool
rconn_flush(repl_t *r, rconn_t *c)
{
    (void) r;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
    c->out.len = c->out_off = 0;
    return true;
}

bool
rconn_bad(repl_t *r, rconn_t *c, const char *why)
{
    shm_roster_t *ro = r->shm->roster;

    if (atomic_fetch_add(&ro->repl_bad, 1) % 100 == 0)
        log_warn("dropping a replication connection %s %s: %s",
                 c->ev == EVT_SHIP ? "from" : "to", c->peer[0] ? c->peer : "?",
                 why);
    return false;
}

typedef bool (*rconn_fn)(repl_t *, rconn_t *, uint8_t, const unsigned char *,
                         uint32_t);

/* Why a header is refused, or NULL.  Before the handshake is done, no
 * frame may be longer than the largest handshake frame. */
static const char *
rconn_check_hdr(const rconn_t *c, const frame_hdr_t *h)
{
    static char other[96];
    const char *why;

    if (frame_check_hdr(h, &why) != MEMDB_OK) {
        if (h->magic != FRAME_MAGIC || h->version == FRAME_VERSION)
            return why;
        snprintf(other, sizeof(other),
                 "frame version %u, this node speaks %u (another memdb "
                 "release?)",
                 (unsigned) h->version, (unsigned) FRAME_VERSION);
        return other;
    }
    if (!c->authed && h->length > FRAME_PREAUTH_MAX)
        return "frame too long for a handshake";
    return NULL;
}

/* The complete frames in c->in: checked, authenticated, handed to fn. */
static bool
rconn_frames(repl_t *r, rconn_t *c, rconn_fn fn)
{
    size_t off = 0;

    while (c->in.len - off >= FRAME_HDR && !c->closed && !c->paused) {
        frame_hdr_t h;
        const char *why;

        memcpy(&h, c->in.data + off, sizeof(h));
        if ((why = rconn_check_hdr(c, &h)) != NULL)
            return rconn_bad(r, c, why);
        size_t mac = (h.flags & FRAME_F_AUTH) ? AUTH_MAC : 0;
        size_t need = FRAME_HDR + h.length + mac;
        if (c->in.len - off < need)
            break;
        const unsigned char *f = (const unsigned char *) c->in.data + off;
        if (r->auth.on
            && (!mac
                || !auth_verify(c->key_rx, f, FRAME_HDR + h.length,
                                f + FRAME_HDR + h.length))) {
            atomic_fetch_add(&r->shm->roster->auth_bad, 1);
            return rconn_bad(r, c, "frame failed authentication");
        }
        if (h.counter != c->rx_counter + 1)
            return rconn_bad(r, c, "frame out of sequence");
        c->rx_counter = h.counter;
        if (frame_check_payload(h.type, f + FRAME_HDR, h.length, &why)
            != MEMDB_OK)
            return rconn_bad(r, c, why);
        if (!fn(r, c, h.type, f + FRAME_HDR, h.length))
            return false;
        if (c->paused) {
            c->rx_counter = h.counter - 1; /* offered again later */
            break;
        }
        off += need;
    }
    buf_consume(&c->in, off);
    return !c->closed;
}

/* How much the next read may take: before the handshake is done, no more
 * than the largest handshake frame in all (so a connection that has not
 * authenticated holds a few KiB at most); after it, 256 KiB a read. */
static size_t
rconn_room(const rconn_t *c)
{
    size_t cap = FRAME_HDR + FRAME_PREAUTH_MAX + AUTH_MAC;

    if (c->authed)
        return 256 * 1024;
    return c->in.len < cap ? cap - c->in.len : 0;
}

/* Takes the frames already in (a paused connection first finishes what it
 * holds), then reads and takes what is there, unless a frame pauses it. */
bool
rconn_read(repl_t *r, rconn_t *c, rconn_fn fn)
{
    if (!rconn_frames(r, c, fn))
        return false;
    while (!c->paused) {
        size_t room = rconn_room(c);
        ssize_t n;

        if (room == 0)
            return rconn_bad(r, c, "handshake frame too long");
        buf_reserve(&c->in, room);
        n = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? !c->closed
                                                           : false;
        }
        c->in.len += (size_t) n;
        c->last_rx_ms = r->now_ms;
        /* frames are handled as they arrive, so the buffer never holds
         * more than one incomplete frame and one read */
        if (!rconn_frames(r, c, fn))
            return false;
    }
    return !c->closed;
}
