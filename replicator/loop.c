/*
 * loop.c - the replicator's event loop and what it publishes in shm (see
 * replicator.h, repl.h).
 *
 * One epoll set: the UDP gossip socket, the TCP replication listener, the
 * replication connections, a signalfd, the eventfd the master writes when
 * new records are in the log, and the master's death pipe.  Timers (probe
 * periods, elections, acks, reconnects) are checked every iteration; the
 * loop sleeps at most a tenth of the probe interval.
 *
 * What the workers need (members, leader, acks) is published in the
 * roster (shm/roster.h) whenever it changes.
 */
#include "replicator/repl.h"
#include "src/core/fault.h"
#include "src/core/log.h"
#include "src/core/proc.h"
#include "src/core/proctitle.h"
#include "src/changelog/recover.h"
#include "src/core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int ev_sig = EVT_SIG, ev_wake = EVT_WAKE, ev_pdeath = EVT_PDEATH;
static const int repl_sigs[] = { SIGTERM, SIGINT, SIGHUP, 0 };

int
repl_watch(repl_t *r, int fd, uint32_t events, void *tag, bool mod)
{
    struct epoll_event ev = { .events = events, .data.ptr = tag };

    if (!mod)
        return proc_watch(&r->proc, fd, events, tag);
    if (epoll_ctl(r->proc.epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        log_errno("epoll_ctl(MOD, %d) failed", fd);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

uint64_t
repl_last_lsn(const repl_t *r)
{
    return atomic_load(&r->shm->ring.hdr->next_lsn) - 1;
}

uint64_t
repl_last_epoch(const repl_t *r)
{
    return cstate_epoch_at(r->cs.hist, r->cs.nhist, repl_last_lsn(r));
}

int
repl_majority(const repl_t *r)
{
    return r->npeers / 2 + 1;
}

void
repl_wake_workers(repl_t *r)
{
    uint64_t one = 1;

    for (unsigned i = 0; i < r->nworkers; i++)
        if (atomic_exchange(&shm_worker(r->shm, i)->want_wake, 0))
            (void) write(r->wake_fds[i], &one, sizeof(one));
}

/* Changes this node's role and epoch: first the write fence in the ring
 * (from now on only reservations of the new role, stamped with the new
 * epoch), then what shm shows and the gossip record. */
void
repl_set_role(repl_t *r, uint32_t role, uint64_t epoch)
{
    shm_node_t *n = r->shm->node;
    uint32_t old = atomic_load(&n->role);

    if (old != role)
        log_info("role %s -> %s, epoch %llu", shm_role_name(old),
                 shm_role_name(role), (unsigned long long) epoch);
    ring_set_role(&r->shm->ring, role, epoch, r->shm->ht.self);
    atomic_store(&n->epoch, epoch);
    /* a replica reports what it applied; a node that just stopped leading
     * has applied everything up to its last LSN */
    if (role == ROLE_REPLICA && old != ROLE_REPLICA)
        atomic_store(&r->shm->roster->applied_lsn, repl_last_lsn(r));
    atomic_store(&n->role, role);
    r->peers[0].m.role = (uint8_t) role;
    r->peers[0].m.epoch = epoch;
    gossip_self_changed(r);
    repl_wake_workers(r);
}

/* Writes the member table into shm for the workers. */
static void
repl_publish(repl_t *r)
{
    shm_roster_t *c = r->shm->roster;
    int l = gossip_leader(r);
    roster_table_t *t;

    r->peers[0].m.lsn = repl_last_lsn(r);
    t = roster_write_begin(c);
    FAULT("roster.publish");
    t->n = (uint32_t) r->npeers;
    for (int i = 0; i < r->npeers; i++) {
        const peer_t *p = &r->peers[i];
        roster_member_t *m = &t->m[i];

        memcpy(m->id, p->m.id, sizeof(m->id));
        memcpy(m->gossip, p->m.gossip, GSP_ADDR);
        memcpy(m->repl, p->m.repl, GSP_ADDR);
        memcpy(m->http, p->m.http, GSP_ADDR);
        m->role = p->m.role;
        m->state = p->self ? MS_ALIVE : p->m.state;
        m->epoch = p->m.epoch;
        m->lsn = p->m.lsn;
        m->acked = p->acked;
        m->incarnation = p->m.incarnation;
        m->seen_ms = p->heard_ms;
        m->self = p->self;
        atomic_store(&c->acked[i], p->self ? 0 : p->acked);
    }
    snprintf(t->leader_id, sizeof(t->leader_id), "%s",
             l >= 0 ? r->peers[l].m.id : "");
    snprintf(t->leader_http, sizeof(t->leader_http), "%s",
             l >= 0 ? r->peers[l].m.http : "");
    roster_write_end(c, t);
    r->table_dirty = false;
}

static void
repl_signals(repl_t *r, bool *stop)
{
    int sig;

    while ((sig = proc_signal(&r->proc)) != 0) {
        if (sig == SIGHUP) {
            char err[1024], fixed[1024];
            if (conf_reload((conf_t *) r->conf, err, sizeof(err), fixed,
                            sizeof(fixed))
                == MEMDB_OK) {
                log_set_level((int) r->conf->log_level);
                log_set_files(r->conf->log_file, r->conf->log_activity);
            }
            log_reopen();
        } else
            *stop = true;
    }
}

/* Requests the workers put in shm (meet, failover, forget), in order. */
static void
repl_commands(repl_t *r)
{
    shm_roster_t *c = r->shm->roster;

    while (r->cmd_seen < atomic_load(&c->cmd_req)) {
        uint64_t next = r->cmd_seen + 1;
        roster_cmd_t *cmd = &c->cmds[next % ROSTER_CMDS];

        if (atomic_load_explicit(&cmd->seq, memory_order_acquire) != next)
            break; /* not filled in yet: next turn */
        r->cmd_err = cmd->error;
        r->cmd_err[0] = '\0';
        if (cmd->kind == CMD_MEET)
            gossip_meet(r, cmd->arg);
        else if (cmd->kind == CMD_FAILOVER)
            elect_failover(r, cmd->arg);
        else
            gossip_forget(r, cmd->arg);
        if (cmd->kind == CMD_FAILOVER && !cmd->error[0])
            snprintf(cmd->arg, sizeof(cmd->arg), "%s", r->xfer.target);
        r->cmd_err = r->cmd_scratch;
        r->cmd_seen = next;
        atomic_store(&c->cmd_done, next);
        repl_wake_workers(r);
    }
}

static int
repl_setup(repl_t *r, const repl_args_t *a)
{
    char err[1400];

    r->conf = a->conf;
    r->shm = a->shm;
    r->wake_fds = a->wake_fds;
    r->nworkers = a->nworkers;
    r->wake_fd = a->wake_fd;
    r->master_fd = a->master_fd;
    r->pdeath_fd = a->pdeath_fd;
    r->probe.peer = -1;
    r->cmd_err = r->cmd_scratch;
    r->now_ms = util_now_ms();
    r->start_ms = r->now_ms;
    recover_dirs(r->conf->data_dir, r->log_dir, r->snap_dir,
                 sizeof(r->log_dir));
    if (cstate_load(&r->cs, r->conf->data_dir, err, sizeof(err)) != MEMDB_OK) {
        log_error("%s", err);
        return MEMDB_ERR;
    }
    if (r->conf->cl_secret_file[0]
        && auth_load(&r->auth, r->conf->cl_secret_file, err, sizeof(err))
               != MEMDB_OK) {
        log_error("cluster.secret_file: %s", err);
        return MEMDB_ERR;
    }
    if (proc_open(&r->proc, repl_sigs, &ev_sig) != MEMDB_OK
        || gossip_open(r) != MEMDB_OK || ship_listen(r) != MEMDB_OK
        || proc_watch(&r->proc, r->wake_fd, EPOLLIN, &ev_wake)
        || proc_watch(&r->proc, r->pdeath_fd, EPOLLIN, &ev_pdeath))
        return MEMDB_ERR;
    return MEMDB_OK;
}

static void
repl_dispatch(repl_t *r, struct epoll_event *ev, bool *stop)
{
    int tag = *(int *) ev->data.ptr;
    uint64_t v;

    switch (tag) {
    case EVT_UDP: gossip_recv(r); break;
    case EVT_TCP: ship_accept(r); break;
    case EVT_SIG: repl_signals(r, stop); break;
    case EVT_WAKE: (void) read(r->wake_fd, &v, sizeof(v)); break;
    case EVT_PDEATH:
        log_warn("master is gone; exiting");
        *stop = true;
        break;
    case EVT_SHIP: ship_event(r, (ship_t *) ev->data.ptr, ev->events); break;
    case EVT_FOLLOW: follow_event(r, ev->events); break;
    }
}

int
repl_main(const repl_args_t *a)
{
    static repl_t r;
    struct epoll_event evs[64];
    bool stop = false;
    uint64_t last_lsn = 0;

    memset(&r, 0, sizeof(r));
    srand((unsigned) (util_now_ns() ^ (uint64_t) getpid()));
    log_set_role("replicator");
    fault_set_proc(FAULT_P_REPLICATOR);
    proctitle_set("memdbd: replicator");
    if (repl_setup(&r, a) != MEMDB_OK)
        return MEMDB_EXIT_CONFIG;
    /* a full sync that did not finish (a crash): no reads until one does */
    if (r.cs.syncing)
        atomic_store(&r.shm->node->syncing, 1);
    FAULT("repl.started");
    /* a replica reports what it applied: a replicator that died left that
     * behind what the master then finished for it */
    if (atomic_load(&r.shm->node->role) == ROLE_REPLICA)
        atomic_store(&r.shm->roster->applied_lsn, repl_last_lsn(&r));
    atomic_store(&shm_worker(r.shm, SHM_REPL_SLOT)->pid, (int32_t) getpid());
    atomic_store(&shm_worker(r.shm, SHM_REPL_SLOT)->ready, 1);
    r.cmd_seen = atomic_load(&r.shm->roster->cmd_done);
    repl_publish(&r);
    while (!stop) {
        int tmo = (int) MEMDB_MAX(r.conf->cl_probe_interval_ms / 10, 1);
        atomic_store(&shm_worker(r.shm, SHM_REPL_SLOT)->want_wake, 1);
        int n = epoll_wait(r.proc.epfd, evs, 64, tmo);

        r.now_ms = util_now_ms();
        for (int i = 0; i < n; i++)
            repl_dispatch(&r, &evs[i], &stop);
        gossip_tick(&r);
        elect_tick(&r);
        follow_tick(&r);
        ship_pump(&r);
        repl_commands(&r);
        if (repl_last_lsn(&r) != last_lsn) {
            last_lsn = repl_last_lsn(&r);
            r.table_dirty = true;
        }
        if (r.table_dirty)
            repl_publish(&r);
        atomic_store_explicit(&shm_worker(r.shm, SHM_REPL_SLOT)->heartbeat_ms,
                              r.now_ms, memory_order_relaxed);
        log_activity_flush();
    }
    ship_close_all(&r);
    follow_stop(&r);
    return MEMDB_EXIT_OK;
}
