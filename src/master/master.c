/*
 * master.c - the master process.
 *
 * NOTES
 *
 * What the master owns: the listen socket (bound here, or taken from
 * systemd), the shared segment (created before any fork), the data
 * directory, the configuration, and the table of children.  It keeps that
 * table in its own memory, not in shm, so a child that scribbles over the
 * segment cannot confuse supervision.  It never parses client input.
 *
 * Its loop: an epoll set with a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP)
 * and the eventfd workers write after publishing a change record, set up
 * with the skeleton every memdbd process shares (src/core/proc.h), as is
 * the master-death pipe its children watch.  Signals only set state that
 * the loop acts on.
 *
 * Children: N workers (slot numbers 0..N-1) and the replicator.  A child
 * that dies is reaped, the locks and half-done work it left in shm are
 * repaired (shm_repair_dead), its in-flight change record is finished from
 * its progress counter, and it is restarted after a backoff that doubles
 * from 100 ms to 5 s while it keeps dying young before it served or by
 * exiting on its own; a child killed by a signal after it served comes
 * back after 100 ms.  Exit status 2 means a configuration or init error:
 * that child is not restarted.
 *
 * Repair order.  Finishing a record takes partition locks, and another
 * child may have died holding one of them.  So every child that can be
 * reaped is repaired first (its locks released after their data are
 * repaired), and only then are the dead children's records finished.  A
 * child that dies while the master waits for one of its locks is found by
 * the lock's wait hook (master_lock_wait): the master reaps and repairs it
 * right there, so no lock wait of the master is ever bounded by a dead
 * holder.  A slot is restarted only once its record is finished.
 *
 * Shutdown (SIGTERM or SIGINT): stop accepting, SIGTERM the workers (they
 * finish the requests in progress), SIGKILL what is left after 15 s, write
 * out the change ring, exit 0.
 */
#include "src/master/master.h"
#include "src/core/fault.h"
#include "src/core/log.h"
#include "src/changelog/apply.h"
#include "src/changelog/loader.h"
#include "src/master/notify.h"
#include "src/master/persist.h"
#include "src/master/sweep.h"
#include "src/master/census.h"
#include "src/changelog/recover.h"
#include "src/core/proc.h"
#include "src/core/proctitle.h"
#include "src/core/util.h"
#include "shm/shm.h"
#include "replicator/cstate.h"
#include "replicator/replicator.h"
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MASTER_TICK_MS    100
#define MASTER_STOP_MS    15000
#define RESPAWN_MIN_MS    100
#define RESPAWN_MAX_MS    5000
#define RESPAWN_STABLE_MS 10000

typedef struct child_s {
    pid_t pid;
    int wake_fd;
    uint64_t started_ms;
    uint64_t respawn_at; /* 0: not waiting */
    uint64_t backoff_ms;
    bool disabled; /* exited 2 */
    bool used;     /* this slot has a child */
    pid_t dead;    /* died: its in-flight record is still to finish */
} child_t;

/* Every child slot in use: workers 0..N-1 and the replicator. */
/* NOLINTBEGIN(bugprone-macro-parentheses): i names the loop variable */
#define FOR_CHILDREN(m, i) \
    for (unsigned i = 0; i < SHM_MAX_WORKERS; i++) \
        if ((m)->workers[i].used)
/* NOLINTEND(bugprone-macro-parentheses) */

typedef struct master_s {
    conf_t *conf;
    shm_t shm;
    int listen_fd;
    proc_t proc; /* the signalfd and the epoll set */
    int notify_fd;
    int pdeath[2];
    unsigned nworkers;
    child_t workers[SHM_MAX_WORKERS];
    bool stopping;
    uint64_t stop_deadline;
    bool ready;           /* READY=1 sent */
    uint64_t watchdog_ms; /* 0: off */
    uint64_t next_watchdog;
    uint64_t next_status;
    persist_t persist;
    sweep_t sweep;   /* under way (active): turn again soon */
    census_t census; /* ...the same */
    int lock_fd;     /* data_dir/memdbd.lock, flock()ed */
} master_t;

static void master_wake_workers(master_t *m);
static master_t *the_master; /* for the lock wait hook */

enum { MEV_SIGNAL = 1, MEV_NOTIFY };
static int ev_signal = MEV_SIGNAL, ev_notify = MEV_NOTIFY;
static const int master_sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, 0 };

static int
master_listen(master_t *m)
{
    const conf_addr_t *a = &m->conf->http_listen;
    int fd, one = 1;

    fd = notify_listen_fd(); /* socket activation */
    if (fd >= 0) {
        util_set_nonblock(fd);
        m->listen_fd = fd;
        log_info("serving HTTP on the socket passed by systemd");
        return MEMDB_OK;
    }
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        log_errno("socket() failed");
        return MEMDB_ERR;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *) &a->ss, a->len) < 0) {
        log_errno("bind(%s) failed", a->text);
        close(fd);
        return MEMDB_ERR;
    }
    if (listen(fd, 4096) < 0) {
        log_errno("listen(%s) failed", a->text);
        close(fd);
        return MEMDB_ERR;
    }
    m->listen_fd = fd;
    return MEMDB_OK;
}

static int
master_run_replicator(master_t *m)
{
    int fds[SHM_MAX_WORKERS];
    repl_args_t a;

    close(m->listen_fd);
    for (unsigned i = 0; i < m->nworkers; i++)
        fds[i] = m->workers[i].wake_fd;
    a.conf = m->conf;
    a.shm = &m->shm;
    a.wake_fds = fds;
    a.nworkers = m->nworkers;
    a.wake_fd = m->workers[SHM_REPL_SLOT].wake_fd;
    a.master_fd = m->notify_fd;
    a.pdeath_fd = m->pdeath[0];
    return repl_main(&a);
}

static const char *
child_name(unsigned slot)
{
    return slot == SHM_REPL_SLOT ? "replicator" : "worker";
}

static int
master_spawn(master_t *m, unsigned slot)
{
    child_t *ch = &m->workers[slot];
    wrk_args_t args;
    pid_t pid;

    pid = fork();
    if (pid < 0) {
        log_errno("fork() failed");
        return MEMDB_ERR;
    }
    if (pid > 0) {
        ch->pid = pid;
        ch->started_ms = util_now_ms();
        ch->respawn_at = 0;
        return MEMDB_OK;
    }
    /* child */
    proc_child(&m->proc, m->pdeath[1], SIGTERM);
    lock_set_wait_hook(NULL);
    shm_attach_child(&m->shm);
    if (slot == SHM_REPL_SLOT)
        util_child_exit(master_run_replicator(m));
    log_set_role("worker");
    fault_set_proc(FAULT_P_WORKER);
    proctitle_set("memdbd: worker %u", slot);
    args.conf = m->conf;
    args.shm = &m->shm;
    args.slot = (int) slot;
    args.listen_fd = m->listen_fd;
    args.wake_fd = ch->wake_fd;
    args.notify_fd = m->notify_fd;
    args.pdeath_fd = m->pdeath[0];
    util_child_exit(wrk_main(&args));
}

/* Finishes the change record a dead worker was applying. */
static void
master_finish_inflight(master_t *m, unsigned slot)
{
    shm_worker_t *w = shm_worker(&m->shm, slot);
    uint64_t pos = atomic_load(&w->inflight_pos);
    ring_slot_t *s;
    uint32_t from;

    if (pos == SHM_NONE)
        return;
    s = ring_slot_at(&m->shm.ring, pos);
    from = atomic_load(&w->progress);
    if (atomic_load(&s->pos) == pos && atomic_load(&s->state) == RING_READY) {
        log_warn("%s %u died applying lsn %llu: applying the rest from "
                 "word %u",
                 child_name(slot), slot, (unsigned long long) s->lsn, from);
        apply_record(&m->shm, ring_slot_rec(s), from, -1, NULL, apply_gen(s));
    }
    atomic_store(&w->inflight_pos, SHM_NONE);
}

/* Finishes the records of every child that died, once all are repaired. */
static void
master_finish_dead(master_t *m)
{
    FOR_CHILDREN (m, i) {
        pid_t dead = m->workers[i].dead;
        unsigned n;

        if (dead == 0)
            continue;
        m->workers[i].dead = 0;
        master_finish_inflight(m, i);
        /* after the record: a published one made its key DONE */
        n = idem_release_dead(&m->shm.idem, (uint32_t) dead, m->shm.ht.self);
        if (n > 0)
            log_warn("gave back %u idempotency keys claimed by pid %d", n,
                     (int) dead);
    }
    /* a retract or reset a dead child held the subtract lock for is
     * finished now: later ones may see its counts */
    shm_sub_repaired(&m->shm);
    ring_repaired(&m->shm.ring, m->shm.ht.self);
}

static void
master_child_died(master_t *m, pid_t pid, int status)
{
    uint64_t now = util_now_ms();
    unsigned repaired;

    FOR_CHILDREN (m, i) {
        child_t *ch = &m->workers[i];
        if (ch->pid != pid)
            continue;

        if (WIFSIGNALED(status))
            log_warn("%s %u (pid %d) killed by signal %d", child_name(i), i,
                     pid, WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0 || !m->stopping)
            log_warn("%s %u (pid %d) exited with status %d", child_name(i), i,
                     pid, WEXITSTATUS(status));
        repaired = shm_repair_dead(&m->shm, pid, (int) i);
        if (repaired > 0)
            log_warn("repaired %u locks or ring slots left by pid %d",
                     repaired, pid);
        ch->dead = pid;
        shm_worker_t *w = shm_worker(&m->shm, i);
        bool served = atomic_load(&w->ready) != 0;
        atomic_store(&w->pid, 0);
        atomic_store(&w->ready, 0);
        atomic_store(&w->want_wake, 0);
        ch->pid = 0;
        if (m->stopping)
            return;
        if (WIFEXITED(status) && WEXITSTATUS(status) == MEMDB_EXIT_CONFIG) {
            log_error("%s %u failed to initialize: not restarting it",
                      child_name(i), i);
            ch->disabled = true;
            return;
        }
        /* the backoff is for a child that cannot start (or keeps exiting
         * on its own); one killed after it served comes back at once */
        if (now - ch->started_ms > RESPAWN_STABLE_MS
            || (served && WIFSIGNALED(status)))
            ch->backoff_ms = 0;
        ch->backoff_ms = ch->backoff_ms == 0
                             ? RESPAWN_MIN_MS
                             : MEMDB_MIN(ch->backoff_ms * 2, RESPAWN_MAX_MS);
        ch->respawn_at = now + ch->backoff_ms;
        return;
    }
}

static void
master_reap(master_t *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (persist_child_exited(&m->persist, pid, status))
            master_wake_workers(m);
        else
            master_child_died(m, pid, status);
    }
    master_finish_dead(m);
}

/* The master waits for a lock that holder holds (lock.h): if the holder
 * is a child that died, reap and repair it now, which releases the lock.
 * Its record is finished by master_finish_dead() afterwards. */
static void
master_lock_wait(uint32_t holder)
{
    master_t *m = the_master;
    int status;

    FOR_CHILDREN (m, i) {
        if (m->workers[i].pid != (pid_t) holder)
            continue;
        if (waitpid((pid_t) holder, &status, WNOHANG) == (pid_t) holder) {
            log_warn("pid %u died holding a lock the master waits for",
                     holder);
            master_child_died(m, (pid_t) holder, status);
        }
        return;
    }
}

static void
master_stop(master_t *m)
{
    if (m->stopping)
        return;
    notify_stopping();
    log_info("shutting down");
    m->stopping = true;
    m->stop_deadline = util_now_ms() + MASTER_STOP_MS;
    atomic_store(&m->shm.node->accepting, 0);
    FOR_CHILDREN (m, i)
        if (m->workers[i].pid > 0)
            kill(m->workers[i].pid, SIGTERM);
}

/* SIGHUP: re-read the configuration, apply what can change at run time,
 * reopen the logs, and pass it on to the children (they do the same). */
static void
master_reload(master_t *m)
{
    char err[1024], fixed[1024];

    notify_reloading();
    if (conf_reload(m->conf, err, sizeof(err), fixed, sizeof(fixed))
        != MEMDB_OK) {
        log_error("reload: %s; keeping the running configuration", err);
    } else {
        log_set_level((int) m->conf->log_level);
        log_set_files(m->conf->log_file, m->conf->log_activity);
        if (fixed[0])
            log_warn("reload: %s changed but need a restart to take effect",
                     fixed);
        log_info("configuration reloaded from %s",
                 m->conf->path[0] ? m->conf->path : "(defaults)");
    }
    log_reopen();
    FOR_CHILDREN (m, i)
        if (m->workers[i].pid > 0)
            kill(m->workers[i].pid, SIGHUP);
    notify_ready();
}

static void
master_signals(master_t *m)
{
    int sig;

    while ((sig = proc_signal(&m->proc)) != 0) {
        switch (sig) {
        case SIGCHLD: master_reap(m); break;
        case SIGHUP: master_reload(m); break;
        default: master_stop(m); break;
        }
    }
}

/* Wakes the workers that wait for ring room or a durable LSN. */
static void
master_wake_workers(master_t *m)
{
    uint64_t one = 1;

    FOR_CHILDREN (m, i) {
        shm_worker_t *w = shm_worker(&m->shm, i);
        if (m->workers[i].pid > 0 && atomic_exchange(&w->want_wake, 0))
            (void) write(m->workers[i].wake_fd, &one, sizeof(one));
    }
}

/* Gives back ring room up to what the log writer has made durable, but
 * never past a record a live worker is still applying; wakes the workers
 * that wait for room, durability or a snapshot. */
static void
master_release(master_t *m, bool progress)
{
    ring_t *r = &m->shm.ring;
    uint64_t upto = clogw_release_pos(&m->persist.lw);

    FOR_CHILDREN (m, i) {
        uint64_t p = atomic_load(&shm_worker(&m->shm, i)->inflight_pos);
        if (p < upto)
            upto = p;
    }
    if (upto > atomic_load(&r->hdr->tail)) {
        ring_release(r, upto);
        progress = true;
    }
    if (progress)
        master_wake_workers(m);
}

static void
master_respawn(master_t *m)
{
    uint64_t now = util_now_ms();

    FOR_CHILDREN (m, i) {
        child_t *ch = &m->workers[i];
        if (ch->pid == 0 && !ch->disabled && ch->dead == 0
            && ch->respawn_at != 0 && now >= ch->respawn_at) {
            if (master_spawn(m, i) == MEMDB_OK)
                log_info("%s %u restarted (pid %d)", child_name(i), i,
                         ch->pid);
            else
                ch->respawn_at = now + RESPAWN_MAX_MS;
        }
    }
}

static unsigned
master_alive(const master_t *m, unsigned *usable)
{
    unsigned n = 0, u = 0;

    FOR_CHILDREN (m, i) {
        n += m->workers[i].pid > 0;
        u += i != SHM_REPL_SLOT && !m->workers[i].disabled;
    }
    *usable = u;
    return n;
}

/* Loads the data directory into the fresh segment, then opens the log. */
static int
master_recover(master_t *m)
{
    recover_stats_t rs;
    recover_sink_t sink;
    loader_t *ld = loader_new(&m->shm, loader_helpers(), notify_extend);
    shm_node_t *n = m->shm.node;
    char err[2048];

    log_info("recovering from %s", m->conf->data_dir);
    notify_status("recovering");
    notify_extend();
    loader_sink(ld, &sink);
    int rc = recover_run(m->conf->data_dir, &sink, &rs, err, sizeof(err));
    if (loader_finish(ld) != MEMDB_OK && rc == MEMDB_OK) {
        snprintf(err, sizeof(err),
                 "store.max_memory is too small for the "
                 "data in %s",
                 m->conf->data_dir);
        rc = MEMDB_ERR;
    }
    if (rc != MEMDB_OK) {
        log_error("recovery failed: %s", err);
        return MEMDB_ERR;
    }
    atomic_store(&m->shm.ring.hdr->next_lsn, rs.last_lsn + 1);
    atomic_store(&n->written_lsn, rs.last_lsn);
    atomic_store(&n->durable_lsn, rs.last_lsn);
    atomic_store(&n->fsync_mode, (uint32_t) m->conf->persist_fsync);
    ring_set_role(&m->shm.ring,
                  conf_clustered(m->conf) ? ROLE_REPLICA : ROLE_STANDALONE,
                  rs.last_epoch, m->shm.ht.self);
    atomic_store(&n->role,
                 conf_clustered(m->conf) ? ROLE_REPLICA : ROLE_STANDALONE);
    atomic_store(&n->clustered, conf_clustered(m->conf));
    /* a full sync that did not finish: no reads before one does (the
     * replicator takes it from there) */
    atomic_store(&n->syncing,
                 conf_clustered(m->conf) && cstate_syncing(m->conf->data_dir));
    atomic_store(&n->epoch, rs.last_epoch);
    atomic_store(&m->shm.roster->applied_lsn, rs.last_lsn);
    n->rec_snap_lsn = rs.snap_lsn;
    n->rec_snap_words = rs.snap_words;
    n->rec_records = rs.records;
    n->rec_ms = rs.ms;
    n->rec_truncated_off = rs.truncated_off;
    snprintf(n->rec_truncated, sizeof(n->rec_truncated), "%s", rs.truncated);
    snprintf(n->snap_path, sizeof(n->snap_path), "%s", rs.snap_path);
    log_info("recovered lsn %llu in %llu ms: snapshot at lsn %llu (%llu "
             "words) and %llu records",
             (unsigned long long) rs.last_lsn, (unsigned long long) rs.ms,
             (unsigned long long) rs.snap_lsn,
             (unsigned long long) rs.snap_words,
             (unsigned long long) rs.records);
    return persist_init(&m->persist, m->conf, &m->shm, &rs);
}

/* Takes data_dir/memdbd.lock (flock, held until the process group is
 * gone: the children inherit the descriptor) and writes this pid in it.
 * A second memdbd on the same directory would append to the same log. */
static int
master_lock_dir(master_t *m)
{
    char path[1100], pid[32] = "";
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%.1000s/memdbd.lock", m->conf->data_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_errno("open(%s) failed", path);
        return MEMDB_ERR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        log_error("%s is in use by another memdbd (pid %s): one data "
                  "directory, one memdbd",
                  m->conf->data_dir, pid[0] ? pid : "unknown");
        close(fd);
        return MEMDB_ERR;
    }
    n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t) n, 0) != n)
        log_errno("writing %s failed", path);
    m->lock_fd = fd;
    return MEMDB_OK;
}

/* Test builds: fault points consult the shared table, armed from
 * MEMDB_FAULTS for the points on the way up (see fault.h). */
static int
master_faults(master_t *m)
{
    char err[256];

    if (!FAULT_INJECTION)
        return MEMDB_OK;
    fault_use(m->shm.faults);
    fault_set_proc(FAULT_P_MASTER);
    if (fault_arm_env(m->shm.faults, getenv("MEMDB_FAULTS"), err, sizeof(err))
        != MEMDB_OK) {
        log_error("%s", err);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

static int
master_setup(master_t *m)
{
    shm_params_t sp;

    if (util_mkdir_p(m->conf->data_dir) != MEMDB_OK) {
        log_errno("mkdir(%s) failed", m->conf->data_dir);
        return MEMDB_ERR;
    }
    if (master_lock_dir(m) != MEMDB_OK)
        return MEMDB_ERR;
    if (master_listen(m) != MEMDB_OK)
        return MEMDB_ERR;
    sp.max_memory = m->conf->store_max_memory;
    sp.ring_size = m->conf->persist_ring_size;
    sp.nworkers = m->nworkers;
    sp.node_id = m->conf->node_id;
    sp.idem_max_keys = (uint64_t) m->conf->up_idem_max_keys;
    sp.idem_window_ms = m->conf->up_idem_window_ms;
    sp.max_tables = (uint32_t) m->conf->store_max_tables;
    if (shm_create(&m->shm, &sp) != MEMDB_OK)
        return MEMDB_ERR;
    if (master_faults(m) != MEMDB_OK)
        return MEMDB_ERR;
    if (master_recover(m) != MEMDB_OK)
        return MEMDB_ERR;
    sweep_init(&m->sweep, &m->shm);
    census_init(&m->census, &m->shm);
    atomic_store(&m->shm.node->accepting, 1);

    signal(SIGPIPE, SIG_IGN);
    if (proc_open(&m->proc, master_sigs, &ev_signal) != MEMDB_OK
        || proc_pdeath_pipe(m->pdeath) != MEMDB_OK)
        return MEMDB_ERR;
    m->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->notify_fd < 0) {
        log_errno("eventfd() failed");
        return MEMDB_ERR;
    }
    if (proc_watch(&m->proc, m->notify_fd, EPOLLIN, &ev_notify) != MEMDB_OK)
        return MEMDB_ERR;
    for (unsigned i = 0; i < m->nworkers; i++)
        m->workers[i].used = true;
    if (conf_clustered(m->conf))
        m->workers[SHM_REPL_SLOT].used = true;
    FOR_CHILDREN (m, i) {
        m->workers[i].wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (m->workers[i].wake_fd < 0) {
            log_errno("eventfd() failed");
            return MEMDB_ERR;
        }
    }
    return MEMDB_OK;
}

/* Sleep until the next thing to do: at once if records wait to be written
 * (or are being written), else the tick. */
static int
master_timeout(master_t *m)
{
    const clogw_t *lw = &m->persist.lw;

    if (atomic_load(&m->shm.ring.hdr->head) > lw->cursor || m->sweep.active
        || m->census.active)
        return 1;
    if (lw->written_pos != lw->synced_pos)
        return 10;
    return MASTER_TICK_MS;
}

/* READY=1 once every worker (and the replicator) serves. */
static void
master_check_ready(master_t *m)
{
    if (m->ready || m->stopping)
        return;
    FOR_CHILDREN (m, i)
        if (!m->workers[i].disabled
            && !atomic_load(&shm_worker(&m->shm, i)->ready))
            return;
    m->ready = true;
    notify_ready();
    log_info("ready");
}

/* WATCHDOG=1 only while every child's loop turns. */
static void
master_watchdog(master_t *m, uint64_t now)
{
    uint64_t limit = m->watchdog_ms;

    if (limit == 0 || now < m->next_watchdog)
        return;
    m->next_watchdog = now + limit / 3;
    FOR_CHILDREN (m, i) {
        child_t *ch = &m->workers[i];
        uint64_t hb = atomic_load(&shm_worker(&m->shm, i)->heartbeat_ms);
        if (ch->pid > 0 && now - ch->started_ms > limit
            && now - hb > limit / 2) {
            log_warn("%s %u has not run its loop for %llu ms: no watchdog "
                     "ping",
                     child_name(i), i, (unsigned long long) (now - hb));
            return;
        }
    }
    notify_watchdog();
}

static void
master_status(master_t *m, uint64_t now)
{
    shm_node_t *n = m->shm.node;
    uint64_t distinct, total;
    uint32_t role = atomic_load(&n->role);
    char s[256];

    if (now < m->next_status)
        return;
    m->next_status = now + 1000;
    ht_totals(&m->shm.ht, &distinct, &total);
    snprintf(s, sizeof(s),
             "%s, epoch %llu, lsn %llu, %llu words (%llu "
             "distinct)%s",
             shm_role_name(role), (unsigned long long) atomic_load(&n->epoch),
             (unsigned long long) atomic_load(&n->written_lsn),
             (unsigned long long) total, (unsigned long long) distinct,
             atomic_load(&n->disk_errno) ? ", LOG NOT WRITABLE" : "");
    notify_status(s);
}

static int
master_loop(master_t *m)
{
    struct epoll_event evs[8];
    uint64_t v;

    for (;;) {
        unsigned usable, alive = master_alive(m, &usable);

        if (m->stopping && alive == 0)
            break;
        if (!m->stopping && usable == 0) {
            log_error("no worker can run; exiting");
            return MEMDB_EXIT_FATAL;
        }
        if (m->stopping && util_now_ms() > m->stop_deadline) {
            FOR_CHILDREN (m, i)
                if (m->workers[i].pid > 0)
                    kill(m->workers[i].pid, SIGKILL);
        }
        atomic_store(&m->shm.node->writer_idle, 1);
        int n = epoll_wait(m->proc.epfd, evs, 8, master_timeout(m));
        atomic_store(&m->shm.node->writer_idle, 0);
        for (int i = 0; i < n; i++) {
            if (*(int *) evs[i].data.ptr == MEV_SIGNAL)
                master_signals(m);
            else
                (void) read(m->notify_fd, &v, sizeof(v));
        }
        /* uploads are answered once written: new written LSNs wake too */
        uint64_t written = atomic_load(&m->shm.node->written_lsn);
        bool progress = persist_run(&m->persist, util_now_ms());
        atomic_store(&m->shm.node->fsyncs, m->persist.lw.fsyncs);
        atomic_store(&m->shm.node->fsync_ns, m->persist.lw.fsync_ns);
        master_release(
            m, progress || atomic_load(&m->shm.node->written_lsn) != written);
        master_finish_dead(m);
        if (!m->stopping) {
            master_respawn(m);
            sweep_run(&m->sweep);
            census_run(&m->census, util_now_ms());
        }
        uint64_t now = util_now_ms();
        master_check_ready(m);
        master_watchdog(m, now);
        master_status(m, now);
    }
    persist_shutdown(&m->persist);
    census_free(&m->census);
    return MEMDB_EXIT_OK;
}

int
master_run(conf_t *conf)
{
    static master_t m;
    int rc;

    memset(&m, 0, sizeof(m));
    the_master = &m;
    lock_set_wait_hook(master_lock_wait);
    m.conf = conf;
    m.listen_fd = -1;
    m.nworkers = (unsigned) MEMDB_MIN(conf->http_workers, SHM_REPL_SLOT);
    m.watchdog_ms = notify_watchdog_ms();
    log_set_role("master");
    proctitle_set("memdbd: master -c %s",
                  conf->path[0] ? conf->path : "(defaults)");
    if (master_setup(&m) != MEMDB_OK)
        return MEMDB_EXIT_CONFIG;
    FOR_CHILDREN (&m, i)
        if (master_spawn(&m, i) != MEMDB_OK)
            return MEMDB_EXIT_FATAL;
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char where[128] = "?";
        if (getsockname(m.listen_fd, (struct sockaddr *) &ss, &len) == 0)
            util_format_addr((struct sockaddr *) &ss, where, sizeof(where));
        log_info("memdbd %s node %s listening on %s with %u workers",
                 MEMDB_VERSION, conf->node_id, where, m.nworkers);
    }
    rc = master_loop(&m);
    log_info("stopped");
    log_close();
    return rc;
}
