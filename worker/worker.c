/*
 * worker.c - the HTTP worker's event loop (see worker.h).
 *
 * One epoll set holds: the shared listen socket (EPOLLEXCLUSIVE), the
 * worker's wake eventfd (written by the master when the ring has room or an
 * LSN became durable), the read end of the master's death pipe (EOF when
 * the master is gone), a signalfd (SIGTERM, SIGINT, SIGHUP) and every
 * connection (edge-triggered).
 *
 * Each iteration: handle events, continue connections queued for fairness,
 * retry parked uploads when woken, expire deadlines (checked every
 * 100 ms), flush the activity log, and stamp the heartbeat the master's
 * watchdog reads.  On SIGTERM the worker stops accepting, finishes every
 * request in progress, closes idle connections, and exits 0 (or when
 * the drain deadline passes).
 */
#include "worker/wrk.h"
#include "src/core/log.h"
#include "src/core/proc.h"
#include "src/core/proctitle.h"
#include "src/core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define WRK_MAX_EVENTS 256
#define WRK_TICK_MS    100
#define WRK_DRAIN_MS   10000

static int ev_listen = EV_LISTEN, ev_wake = EV_WAKE, ev_pdeath = EV_PDEATH,
           ev_signal = EV_SIGNAL;
static const int wrk_sigs[] = { SIGTERM, SIGINT, SIGHUP, 0 };

static void
list_add(conn_t ***list, size_t *n, size_t *cap, conn_t *c)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = xrealloc(*list, *cap * sizeof(conn_t *));
    }
    (*list)[(*n)++] = c;
}

static void
list_del(conn_t **list, size_t *n, conn_t *c)
{
    for (size_t i = 0; i < *n; i++) {
        if (list[i] == c) {
            memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(conn_t *));
            (*n)--;
            return;
        }
    }
}

void
wrk_park(wrk_t *w, conn_t *c, wait_e what, uint64_t val)
{
    if (c->phase != PH_WAIT)
        list_add(&w->parked, &w->nparked, &w->parked_cap, c);
    conn_set_phase(c, PH_WAIT);
    if (c->deadline_aux != 0)
        c->deadline_ms = c->deadline_aux;
    c->wait = what;
    c->wait_val = val;
    atomic_store(&w->slot->want_wake, 1);
}

void
wrk_unpark(wrk_t *w, conn_t *c)
{
    list_del(w->parked, &w->nparked, c);
}

void
wrk_later(wrk_t *w, conn_t *c)
{
    if (c->later)
        return;
    c->later = true;
    list_add(&w->later, &w->nlater, &w->later_cap, c);
}

void
wrk_forget(wrk_t *w, conn_t *c)
{
    if (c->later)
        list_del(w->later, &w->nlater, c);
    if (c->phase == PH_WAIT)
        list_del(w->parked, &w->nparked, c);
}

void
wrk_notify_master(wrk_t *w)
{
    uint64_t one = 1;

    /* The master sleeps only after setting log_idle; skip the syscall when
     * it is awake and will see the record anyway. */
    if (atomic_exchange(&w->shm->node->writer_idle, 0) != 0)
        (void) write(w->notify_fd, &one, sizeof(one));
}

void
wrk_bury(wrk_t *w, conn_t *c)
{
    list_add(&w->dead, &w->ndead, &w->dead_cap, c);
}

/* Frees the connections closed during this iteration: until now, events
 * and lists of this iteration could still point at them. */
static void
wrk_reap(wrk_t *w)
{
    for (size_t i = 0; i < w->ndead; i++)
        free(w->dead[i]);
    w->ndead = 0;
}

static void
wrk_accept(wrk_t *w)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(w->listen_fd, (struct sockaddr *) &ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                log_errno("accept4() failed");
            return;
        }
        if ((int64_t) w->nconns >= w->conf->http_max_connections) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = conn_new(w, fd, (struct sockaddr *) &ss);
        if (c != NULL)
            conn_resume(c);
    }
}

static void
wrk_stop_listening(wrk_t *w)
{
    if (!w->listening)
        return;
    epoll_ctl(w->proc.epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
    w->listening = false;
}

static void
wrk_signal(wrk_t *w)
{
    int sig;

    while ((sig = proc_signal(&w->proc)) != 0) {
        if (sig == SIGHUP) {
            char err[1024], fixed[1024];
            /* the master reports problems; apply what can change */
            if (conf_reload((conf_t *) w->conf, err, sizeof(err), fixed,
                            sizeof(fixed))
                == MEMDB_OK) {
                log_set_level((int) w->conf->log_level);
                log_set_files(w->conf->log_file, w->conf->log_activity);
            }
            log_reopen();
        } else if (!w->draining) {
            log_info("draining %zu connections", w->nconns);
            w->draining = true;
            wrk_stop_listening(w);
        }
    }
}

/* One pass over the parked connections, in arrival order; returns how
 * many moved on.  Uploads waiting for ring room keep their order: the
 * first that still cannot get room stops the others. */
static size_t
wrk_parked_pass(wrk_t *w)
{
    size_t n = w->nparked, moved = 0;
    conn_t **batch;
    bool ring_blocked = false;

    if (n == 0)
        return 0;
    batch = xmalloc(n * sizeof(conn_t *));
    memcpy(batch, w->parked, n * sizeof(conn_t *));
    for (size_t i = 0; i < n; i++) {
        conn_t *c = batch[i];
        bool done;

        if (c->closed || c->phase != PH_WAIT)
            continue;
        if (c->wait == WAIT_RING && ring_blocked)
            continue;
        wait_e before = c->wait;
        done = route_resume(c, false);
        if (before == WAIT_RING && c->phase == PH_WAIT && c->wait == WAIT_RING)
            ring_blocked = true;
        if (done || c->wait != before) {
            moved++;
            if (done) {
                wrk_unpark(w, c);
                conn_resume(c);
            }
        }
    }
    free(batch);
    return moved;
}

/* Serves parked connections; leaves want_wake set while some remain, set
 * before the last check so that no wake-up from the master is lost. */
static void
wrk_service_parked(wrk_t *w)
{
    while (w->nparked > 0) {
        atomic_store(&w->slot->want_wake, 1);
        if (wrk_parked_pass(w) == 0)
            return;
    }
}

static void
wrk_woken(wrk_t *w)
{
    uint64_t v;

    (void) read(w->wake_fd, &v, sizeof(v));
    wrk_service_parked(w);
}

static void
wrk_run_later(wrk_t *w)
{
    size_t n = w->nlater;
    conn_t **batch = xmalloc((n ? n : 1) * sizeof(conn_t *));

    memcpy(batch, w->later, n * sizeof(conn_t *));
    w->nlater = 0;
    for (size_t i = 0; i < n; i++)
        batch[i]->later = false;
    for (size_t i = 0; i < n; i++)
        if (!batch[i]->closed && !batch[i]->later)
            conn_resume(batch[i]);
    free(batch);
}

static void
wrk_expire(wrk_t *w)
{
    for (size_t i = 0; i < w->nconns;) {
        conn_t *c = w->conns[i];
        if (c->phase == PH_WAIT) {
            if (c->deadline_ms <= w->now_ms && route_resume(c, true)) {
                wrk_unpark(w, c);
                wrk_later(w, c);
            }
            i++;
            continue;
        }
        bool idle_drain = w->draining && c->phase == PH_IDLE
                          && c->in_off == c->in.len;
        if (c->deadline_ms <= w->now_ms || idle_drain) {
            conn_timeout(c); /* frees c: index i now holds another */
            continue;
        }
        i++;
    }
}

static int
wrk_setup(wrk_t *w, const wrk_args_t *a)
{
    w->conf = a->conf;
    w->shm = a->shm;
    w->slot_no = a->slot;
    w->slot = shm_worker(a->shm, (unsigned) a->slot);
    w->listen_fd = a->listen_fd;
    w->wake_fd = a->wake_fd;
    w->notify_fd = a->notify_fd;
    w->pdeath_fd = a->pdeath_fd;

    if (proc_open(&w->proc, wrk_sigs, &ev_signal) != MEMDB_OK
        || proc_watch(&w->proc, w->listen_fd, EPOLLIN | EPOLLEXCLUSIVE,
                      &ev_listen)
        || proc_watch(&w->proc, w->wake_fd, EPOLLIN, &ev_wake)
        || proc_watch(&w->proc, w->pdeath_fd, EPOLLIN, &ev_pdeath))
        return MEMDB_ERR;
    w->listening = true;
    return MEMDB_OK;
}

static void
wrk_dispatch(wrk_t *w, struct epoll_event *ev)
{
    int tag = *(int *) ev->data.ptr;

    switch (tag) {
    case EV_LISTEN:
        if (!w->draining)
            wrk_accept(w);
        break;
    case EV_WAKE: wrk_woken(w); break;
    case EV_PDEATH:
        log_warn("master is gone; exiting");
        w->draining = true;
        wrk_stop_listening(w);
        epoll_ctl(w->proc.epfd, EPOLL_CTL_DEL, w->pdeath_fd, NULL);
        break;
    case EV_SIGNAL: wrk_signal(w); break;
    default:
        if (!((conn_t *) ev->data.ptr)->closed)
            conn_on_event(ev->data.ptr, ev->events);
        break;
    }
}

int
wrk_main(const wrk_args_t *a)
{
    wrk_t w;
    struct epoll_event evs[WRK_MAX_EVENTS];
    uint64_t next_tick = 0, drain_deadline = 0;

    memset(&w, 0, sizeof(w));
    if (wrk_setup(&w, a) != MEMDB_OK)
        return MEMDB_EXIT_CONFIG;
    atomic_store(&w.slot->pid, (int32_t) getpid());
    atomic_store(&w.slot->ready, 1);
    log_debug("worker %d serving", a->slot);

    for (;;) {
        int timeout = w.nlater > 0 ? 0 : WRK_TICK_MS;
        int n = epoll_wait(w.proc.epfd, evs, WRK_MAX_EVENTS, timeout);

        w.now_ms = util_now_ms();
        for (int i = 0; i < n; i++)
            wrk_dispatch(&w, &evs[i]);
        if (w.nlater > 0)
            wrk_run_later(&w);
        if (w.nparked > 0)
            wrk_service_parked(&w);
        if (w.now_ms >= next_tick || w.draining) {
            wrk_expire(&w);
            next_tick = w.now_ms + WRK_TICK_MS;
            atomic_store_explicit(&w.slot->heartbeat_ms, w.now_ms,
                                  memory_order_relaxed);
        }
        log_activity_flush();
        wrk_reap(&w);
        if (w.draining) {
            if (drain_deadline == 0)
                drain_deadline = w.now_ms + WRK_DRAIN_MS;
            if (w.nconns == 0 || w.now_ms >= drain_deadline)
                break;
        }
    }
    atomic_store(&w.slot->ready, 0);
    log_activity_flush();
    return MEMDB_EXIT_OK;
}
