/*
 * conn.c - one client connection: its socket and its life cycle (accept,
 * read, write, timeouts, close).  What arrives is handed to the HTTP
 * parser glue (http.c).
 *
 * Ownership: a conn_t and its buffers belong to the worker that accepted
 * it.  Only the top-level entry points (conn_on_event, conn_resume,
 * conn_timeout) may free it; everything they call marks the connection
 * PH_CLOSING instead, and the entry point closes it once the last response
 * has been written.
 *
 * Pipelining: requests are parsed as they arrive and answered in order,
 * one answer each.
 * When a response cannot be finished at once (a parked upload, a streamed
 * body) or the output backs up, the parser is paused (http.c) and nothing
 * more is read until the response is done: a client cannot make the
 * worker buffer without bound.
 */
#include "worker/wrk.h"
#include "src/core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void
conn_set_phase(conn_t *c, conn_phase_e ph)
{
    const conf_t *cf = c->w->conf;

    c->phase = ph;
    switch (ph) {
    case PH_IDLE:
        c->deadline_ms = c->w->now_ms + cf->http_idle_timeout_ms;
        break;
    case PH_HEADERS:
        c->deadline_ms = c->w->now_ms + cf->http_header_timeout_ms;
        break;
    case PH_BODY:
        c->deadline_ms = c->w->now_ms + cf->http_body_timeout_ms;
        break;
    case PH_WAIT: c->deadline_ms = UINT64_MAX; break;
    case PH_STREAM:
    case PH_CLOSING:
        c->deadline_ms = c->w->now_ms + cf->http_idle_timeout_ms;
        break;
    }
}

void
conn_init(conn_t *c, wrk_t *w, int fd)
{
    c->ev = EV_CONN;
    c->fd = fd;
    c->w = w;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    conn_set_phase(c, PH_IDLE);
}

void
conn_release(conn_t *c)
{
    upload_end(c);
    free(c->ibody);
    c->ibody = NULL;
    stream_free(c);
    tok_free(&c->tok);
    ptok_free(&c->ptok);
    prof_free(&c->tprof);
    agg_free(&c->agg);
    buf_free(&c->rec);
    buf_free(&c->body);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->url);
    buf_free(&c->hname);
}

conn_t *
conn_new(wrk_t *w, int fd, const struct sockaddr *sa)
{
    conn_t *c = xcalloc(1, sizeof(*c));

    conn_init(c, w, fd);
    util_format_addr(sa, c->client, sizeof(c->client));
    if (proc_watch(&w->proc, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, c)
        != MEMDB_OK) {
        close(fd);
        free(c);
        return NULL;
    }
    if (w->nconns == w->conns_cap) {
        w->conns_cap = w->conns_cap ? w->conns_cap * 2 : 64;
        w->conns = xrealloc(w->conns, w->conns_cap * sizeof(conn_t *));
    }
    c->idx = w->nconns;
    w->conns[w->nconns++] = c;
    return c;
}

static void
conn_close(conn_t *c)
{
    wrk_t *w = c->w;

    if (c->closed)
        return;
    c->closed = true;
    wrk_forget(w, c);
    w->conns[c->idx] = w->conns[--w->nconns];
    w->conns[c->idx]->idx = c->idx;
    close(c->fd);
    conn_release(c);
    wrk_bury(w, c);
}

/* Writes what is pending.  Returns false if the socket failed. */
static bool
conn_write(conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t) n;
            if (c->phase == PH_STREAM || c->phase == PH_CLOSING)
                conn_set_phase(c, c->phase); /* push the send deadline */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > 4 * WRK_OUT_HIGH)
        buf_free(&c->out);
    return true;
}

/* Reads and parses until EAGAIN, a pause or the end of input.  false:
 * nothing more will happen on this connection, close it. */
static bool
conn_read(conn_t *c)
{
    while (!c->paused && !c->eof && c->phase != PH_CLOSING) {
        ssize_t n;

        buf_reserve(&c->in, WRK_READ_CHUNK);
        size_t room = c->in.cap - c->in.len;
        n = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n > 0) {
            c->in.len += (size_t) n;
            http_parse(c);
            /* A short read drained the socket: with edge-triggered epoll
             * new data raises a new event, so skip the recv that would
             * only say EAGAIN. */
            if ((size_t) n < room)
                return true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        c->eof = true; /* EOF or reset: answer, then close */
        c->want_close = true;
    }
    return !(c->eof && c->out_off == c->out.len && !c->paused
             && (c->phase == PH_IDLE || c->phase == PH_HEADERS
                 || c->phase == PH_BODY));
}

/* Moves a connection forward: writes, streams more, resumes parsing, reads.
 * Returns CONN_CLOSE, CONN_WAIT (for an event) or CONN_AGAIN (more to do
 * at once, but let other connections run first). */
static int
conn_progress(conn_t *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (!conn_write(c))
            return CONN_CLOSE;
        if (c->out_off < c->out.len)
            return CONN_WAIT; /* until EPOLLOUT */
        if (c->phase == PH_CLOSING)
            return CONN_CLOSE;
        if (c->phase == PH_STREAM) {
            if (stream_fill(c))
                resp_done(c);
            continue;
        }
        if (c->phase == PH_WAIT)
            return CONN_WAIT;
        if (c->paused) {
            c->paused = false;
            http_parser_pause(&c->parser, 0);
            http_parse(c);
            continue;
        }
        if (!conn_read(c))
            return CONN_CLOSE;
        if (c->out_off == c->out.len && !c->paused && c->phase != PH_STREAM
            && c->phase != PH_CLOSING)
            return CONN_WAIT;
    }
    return CONN_AGAIN;
}

static void
conn_run(conn_t *c)
{
    switch (conn_progress(c)) {
    case CONN_CLOSE: conn_close(c); break;
    case CONN_AGAIN: wrk_later(c->w, c); break;
    default: break;
    }
}

void
conn_on_event(conn_t *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(c);
        return;
    }
    conn_run(c);
}

void
conn_resume(conn_t *c)
{
    conn_run(c);
}

void
conn_flush(conn_t *c)
{
    (void) conn_write(c);
}

void
conn_timeout(conn_t *c)
{
    if (c->phase == PH_HEADERS || c->phase == PH_BODY) {
        c->want_close = true;
        resp_error(c, 408,
                   c->phase == PH_HEADERS
                       ? "request headers not received in time"
                       : "request body not received in time");
        resp_done(c);
        conn_write(c);
    }
    conn_close(c);
}
