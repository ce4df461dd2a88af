/*
 * elect.c - epochs, elections, leadership, manual failover.
 *
 * Epochs are terms: at most one leader per epoch, because a node grants at
 * most one vote per epoch (persisted with fsync before the vote is sent)
 * and a leader needs the votes of a majority of the members (dead members
 * count as members until forgotten, so a minority side never elects).
 * A node grants its vote only to a candidate whose (epoch of its last
 * record, last LSN) is at least its own, so the winner holds every record
 * a majority has; and only while it sees no live leader (or when the
 * leader itself hands over), so a partitioned replica that comes back
 * cannot depose a healthy leader.
 *
 * A replica starts an election when the leader is confirmed DEAD by the
 * gossip layer, after a delay ranked by how up to date it is (rank r waits
 * r probe intervals, plus up to half an interval at random), so the most
 * up-to-date replica usually asks first.  A node that sees a higher epoch
 * adopts it at once and steps down if it led.
 *
 * The write lease (cluster.write_quorum).  A node holds its vote, and does
 * not stand, for elect_hold_ms() after it last heard from its leader
 * (gossip from the leader itself, or any replication frame).  Each
 * replica's ACK says how long ago it last heard from the leader, so the
 * leader knows a time at which each replica still heard it; the time a
 * majority (itself included) still heard it, plus the hold, minus a
 * tenth for clock rates, is when the earliest other leader could be
 * elected: writes are taken until then.  This holds by construction
 * whatever the failure detector does (a leader seen SUSPECT by the
 * others), and after a pause of the leader: what it heard before the
 * pause dates from before it, and so does what replicas tell it then.
 *
 * Manual failover: the leader pauses writes (shm transfer flag), waits
 * until the target has acknowledged its last LSN, and sends it
 * TIMEOUT_NOW; the target runs an election at once, marked as a transfer,
 * which the leader and the others grant.
 */
#include "replicator/repl.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Persists the cluster state before anything that depends on it is sent
 * or acted on; on failure (ENOSPC, EIO) the caller must not act. */
static int
elect_save(repl_t *r)
{
    if (cstate_save(&r->cs) != MEMDB_OK) {
        log_error("cannot persist the cluster state: no vote, candidacy or "
                  "leadership until it can be");
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* A higher epoch was seen: adopt it, step down if we led. */
static void
adopt_epoch(repl_t *r, uint64_t e)
{
    if (e <= r->cs.epoch)
        return;
    r->cs.epoch = e;
    (void) elect_save(r); /* stepping down is safe either way */
    if (r->el.running && r->el.epoch < e)
        r->el.running = false;
    if (atomic_load(&r->shm->node->role) == ROLE_LEADER)
        log_info("epoch %llu is higher than ours: stepping down",
                 (unsigned long long) e);
    repl_set_role(r, ROLE_REPLICA, e);
}

/* Won epoch el.epoch: the log enters it at the next LSN (no record can be
 * reserved meanwhile: this node is still a replica for the write fence,
 * and the replicator, its only producer, is here), which is persisted
 * before the first upload of the epoch can be taken. */
static void
become_leader(repl_t *r)
{
    uint64_t e = r->el.epoch;
    frame_hist_t saved[CS_MAX_HIST];
    int nsaved = r->cs.nhist;

    r->el.running = false;
    r->el.start_ms = 0;
    follow_stop(r);
    memcpy(saved, r->cs.hist, sizeof(saved));
    cstate_hist_add(&r->cs, e, repl_last_lsn(r) + 1, r->shm->node->boot_id);
    if (r->cs.cluster[0] == '\0')
        cstate_new_cluster_id(&r->cs);
    if (elect_save(r) != MEMDB_OK) {
        memcpy(r->cs.hist, saved, sizeof(saved));
        r->cs.nhist = nsaved;
        return;
    }
    log_info("became leader for epoch %llu of cluster %s with %d of %d "
             "votes at lsn %llu",
             (unsigned long long) e, r->cs.cluster, r->el.votes, r->npeers,
             (unsigned long long) repl_last_lsn(r));
    repl_set_role(r, ROLE_LEADER, e);
    r->leader_seen_ms = r->now_ms;
    for (int i = 1; i < r->npeers; i++)
        gossip_send(r, i, GSP_PING, 0, NULL); /* announce */
}

static void
start_election(repl_t *r, bool transfer)
{
    gsp_vote_req_t v;

    if (atomic_load(&r->shm->node->syncing))
        return; /* a full sync is half done: this node's table is not whole */
    r->cs.epoch++;
    r->cs.voted_epoch = r->cs.epoch;
    snprintf(r->cs.voted_for, sizeof(r->cs.voted_for), "%s", r->conf->node_id);
    if (elect_save(r) != MEMDB_OK) {
        cstate_t disk;
        char err[256];
        /* what the file still says is what this node has promised */
        if (cstate_load(&disk, r->conf->data_dir, err, sizeof(err))
            == MEMDB_OK) {
            r->cs.epoch = disk.epoch;
            r->cs.voted_epoch = disk.voted_epoch;
            memcpy(r->cs.voted_for, disk.voted_for, sizeof(disk.voted_for));
        }
        r->el.start_ms = r->now_ms + r->conf->cl_probe_interval_ms;
        return;
    }
    r->el.running = true;
    r->el.start_ms = 0;
    r->el.epoch = r->cs.epoch;
    r->el.votes = 1;
    r->el.transfer = transfer;
    snprintf(r->el.voters[0], CS_ID, "%s", r->conf->node_id);
    r->el.deadline_ms = r->now_ms + 4 * r->conf->cl_probe_interval_ms;
    log_info("asking for votes for epoch %llu (last record: epoch %llu, "
             "lsn %llu)%s",
             (unsigned long long) r->el.epoch,
             (unsigned long long) repl_last_epoch(r),
             (unsigned long long) repl_last_lsn(r),
             transfer ? ", handed over" : "");
    r->peers[0].m.epoch = r->cs.epoch;
    atomic_store(&r->shm->node->epoch, r->cs.epoch);
    gossip_self_changed(r);
    if (r->el.votes >= repl_majority(r)) {
        become_leader(r);
        return;
    }
    memset(&v, 0, sizeof(v));
    v.epoch = r->el.epoch;
    v.last_epoch = repl_last_epoch(r);
    v.last_lsn = repl_last_lsn(r);
    v.transfer = transfer;
    for (int i = 1; i < r->npeers; i++)
        gossip_send(r, i, GSP_VOTE_REQ, 0, &v);
}

/* How many live replicas are ahead of us. */
static int
rank_of(repl_t *r)
{
    uint64_t mine = repl_last_lsn(r);
    int rank = 0;

    for (int i = 1; i < r->npeers; i++) {
        const gsp_member_t *m = &r->peers[i].m;
        if (m->state != MS_ALIVE)
            continue;
        if (m->lsn > mine
            || (m->lsn == mine && strcmp(m->id, r->conf->node_id) < 0))
            rank++;
    }
    return rank;
}

void
elect_seen(repl_t *r, int peer)
{
    const gsp_member_t *m = &r->peers[peer].m;

    if (m->role == ROLE_LEADER && m->state == MS_ALIVE
        && m->epoch >= r->cs.epoch)
        r->leader_seen_ms = r->now_ms;
}

static bool
leader_alive(repl_t *r, int except)
{
    int l = gossip_leader(r);
    return l >= 0 && l != except
           && (l == 0 || r->peers[l].m.state == MS_ALIVE);
}

/* The founder of a cluster leads it from epoch 1. */
static void
found(repl_t *r)
{
    log_info("founding a cluster");
    cstate_new_cluster_id(&r->cs);
    /* records from before the cluster: epoch 0, labelled as this node's */
    if (repl_last_lsn(r) > 0 && r->cs.nhist == 0)
        cstate_hist_add(&r->cs, 0, 1, r->shm->node->boot_id);
    r->el.epoch = 1;
    r->el.votes = 1;
    r->cs.epoch = 1;
    r->cs.voted_epoch = 1;
    snprintf(r->cs.voted_for, sizeof(r->cs.voted_for), "%s", r->conf->node_id);
    become_leader(r);
}

/* Another live member that leads our epoch or a later one, or -1. */
static int
other_leader(const repl_t *r)
{
    int best = -1;

    for (int i = 1; i < r->npeers; i++) {
        const gsp_member_t *m = &r->peers[i].m;
        if (m->role == ROLE_LEADER && m->state == MS_ALIVE
            && m->epoch >= r->cs.epoch
            && (best < 0 || m->epoch > r->peers[best].m.epoch))
            best = i;
    }
    return best;
}

/* Of two leaders in one epoch, the one with fewer records (then the
 * smaller id) yields. */
static bool
yield_to(repl_t *r, int l)
{
    uint64_t mine = repl_last_lsn(r), theirs = r->peers[l].m.lsn;

    if (r->peers[l].m.epoch > r->cs.epoch)
        return true;
    if (mine != theirs)
        return mine < theirs;
    return strcmp(r->conf->node_id, r->peers[l].m.id) < 0;
}

uint64_t
elect_hold_ms(const repl_t *r)
{
    return 2 * r->conf->cl_probe_interval_ms;
}

/* Has this node heard from a leader too recently to vote or stand? */
static bool
elect_holding(const repl_t *r)
{
    return r->leader_heard_ms != 0
           && r->now_ms - r->leader_heard_ms < elect_hold_ms(r);
}

static int
cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* The leader: writes may be taken until the earliest time another leader
 * could be elected (see the top of this file). */
static void
quorum_tick(repl_t *r)
{
    uint64_t proven[ROSTER_MAX_MEMBERS], hold = elect_hold_ms(r), until;
    int n = 0;

    proven[n++] = r->now_ms;
    for (int i = 1; i < r->npeers; i++)
        if (r->peers[i].m.state != MS_LEFT)
            proven[n++] = r->peers[i].proven_ms;
    qsort(proven, (size_t) n, sizeof(proven[0]), cmp_desc);
    until = proven[repl_majority(r) - 1] + hold - hold / 10;
    if (until > atomic_load(&r->shm->roster->quorum_until_ms))
        atomic_store(&r->shm->roster->quorum_until_ms, until);
}

static void
transfer_tick(repl_t *r)
{
    int t = gossip_find(r, r->xfer.target);
    gsp_vote_req_t v;

    if (t < 0 || r->now_ms >= r->xfer.deadline_ms) {
        log_warn("failover to %s did not complete in time; keeping the "
                 "lead",
                 r->xfer.target);
        r->xfer.on = false;
        atomic_store(&r->shm->roster->transfer, 0);
        repl_wake_workers(r);
        return;
    }
    if (r->xfer.sent || r->peers[t].acked < repl_last_lsn(r)
        || atomic_load(&r->shm->node->written_lsn) < repl_last_lsn(r))
        return;
    memset(&v, 0, sizeof(v));
    v.epoch = r->cs.epoch;
    v.last_epoch = repl_last_epoch(r);
    v.last_lsn = repl_last_lsn(r);
    v.transfer = 1;
    log_info("%s has every record (lsn %llu): handing the lead over",
             r->xfer.target, (unsigned long long) repl_last_lsn(r));
    gossip_send(r, t, GSP_TIMEOUT_NOW, 0, &v);
    r->xfer.sent = true;
}

void
elect_tick(repl_t *r)
{
    uint32_t role = atomic_load(&r->shm->node->role);
    int l = gossip_leader(r);

    if (l > 0 && r->peers[l].m.epoch > r->cs.epoch) {
        adopt_epoch(r, r->peers[l].m.epoch);
        role = atomic_load(&r->shm->node->role);
    }
    int o = role == ROLE_LEADER ? other_leader(r) : -1;
    if (o > 0 && yield_to(r, o)) {
        l = o;
        /* Two leaders of one epoch: two clusters met (cluster meet).  The
         * one with less data yields.  The histories tell the two apart
         * (each epoch names its leader's boot id), so the fork point is
         * where the logs really part, and only what follows is handed
         * over. */
        log_warn("member %s also leads epoch %llu and has more data: "
                 "joining it",
                 r->peers[l].m.id, (unsigned long long) r->cs.epoch);
        r->cs.cluster[0] = '\0';
        (void) elect_save(r);
        repl_set_role(r, ROLE_REPLICA, r->cs.epoch);
        role = ROLE_REPLICA;
    }
    if (r->xfer.on && role != ROLE_LEADER) {
        r->xfer.on = false;
        atomic_store(&r->shm->roster->transfer, 0);
        repl_wake_workers(r);
    }
    if (role == ROLE_LEADER) {
        quorum_tick(r);
        if (r->xfer.on)
            transfer_tick(r);
        return;
    }
    if (r->cs.epoch == 0 && r->conf->cl_nseeds == 0 && r->npeers == 1
        && r->cs.nmembers <= 1) {
        found(r);
        return;
    }
    if (r->el.running && r->now_ms >= r->el.deadline_ms) {
        log_info("election for epoch %llu got %d of %d votes: retrying",
                 (unsigned long long) r->el.epoch, r->el.votes,
                 repl_majority(r));
        r->el.running = false;
        r->el.start_ms = r->now_ms
                         + r->conf->cl_probe_interval_ms
                               * (1 + (uint64_t) (rand() % 3));
    }
    if (r->cs.epoch == 0 || leader_alive(r, -1) || elect_holding(r)) {
        r->el.start_ms = 0;
        return;
    }
    /* just started: give gossip time to find a live leader first */
    if (r->now_ms - r->start_ms < 2 * r->conf->cl_probe_interval_ms
                                      * (uint64_t) r->conf->cl_suspicion_mult)
        return;
    if (!r->el.running && r->el.start_ms == 0) {
        uint64_t p = r->conf->cl_probe_interval_ms;
        r->el.start_ms = r->now_ms + (uint64_t) rank_of(r) * p
                         + (uint64_t) rand() % (p / 2 + 1);
    }
    if (!r->el.running && r->el.start_ms && r->now_ms >= r->el.start_ms)
        start_election(r, false);
}

void
elect_on_vote_req(repl_t *r, int from, const gsp_vote_req_t *v,
                  bool timeout_now)
{
    gsp_vote_t out;
    const char *cand = r->peers[from].m.id;
    bool up_to_date;

    if (timeout_now) {
        int l = gossip_leader(r);
        if (l == from && v->epoch == r->cs.epoch)
            start_election(r, true);
        return;
    }
    memset(&out, 0, sizeof(out));
    out.epoch = MEMDB_MAX(v->epoch, r->cs.epoch);
    if (v->epoch < r->cs.epoch) {
        gossip_send(r, from, GSP_VOTE, 0, &out);
        return;
    }
    /* heard from a leader within the hold: its lease may still run */
    if (!v->transfer && elect_holding(r)) {
        out.epoch = r->cs.epoch;
        gossip_send(r, from, GSP_VOTE, 0, &out);
        return;
    }
    /* a live leader is not deposed unless it hands over itself */
    bool leading = atomic_load(&r->shm->node->role) == ROLE_LEADER;
    if (!v->transfer && (leading || leader_alive(r, from))) {
        out.epoch = r->cs.epoch;
        gossip_send(r, from, GSP_VOTE, 0, &out);
        return;
    }
    if (v->transfer && leading && strcmp(r->xfer.target, cand) != 0) {
        out.epoch = r->cs.epoch;
        gossip_send(r, from, GSP_VOTE, 0, &out);
        return;
    }
    if (v->epoch > r->cs.epoch)
        adopt_epoch(r, v->epoch);
    up_to_date = v->last_epoch > repl_last_epoch(r)
                 || (v->last_epoch == repl_last_epoch(r)
                     && v->last_lsn >= repl_last_lsn(r));
    if (up_to_date
        && (r->cs.voted_epoch != v->epoch
            || strcmp(r->cs.voted_for, cand) == 0)) {
        uint64_t was_epoch = r->cs.voted_epoch;
        char was_for[CS_ID];

        memcpy(was_for, r->cs.voted_for, sizeof(was_for));
        r->cs.voted_epoch = v->epoch;
        snprintf(r->cs.voted_for, sizeof(r->cs.voted_for), "%s", cand);
        if (elect_save(r) == MEMDB_OK) {
            out.granted = 1;
            log_info("voted for %s in epoch %llu", cand,
                     (unsigned long long) v->epoch);
        } else {
            r->cs.voted_epoch = was_epoch; /* not promised: not granted */
            memcpy(r->cs.voted_for, was_for, sizeof(was_for));
        }
    }
    gossip_send(r, from, GSP_VOTE, 0, &out);
}

void
elect_on_vote(repl_t *r, int from, const gsp_vote_t *v)
{
    const char *id = r->peers[from].m.id;

    if (v->epoch > r->cs.epoch) {
        adopt_epoch(r, v->epoch);
        return;
    }
    if (!r->el.running || v->epoch != r->el.epoch || !v->granted)
        return;
    for (int i = 0; i < r->el.votes; i++)
        if (strcmp(r->el.voters[i], id) == 0)
            return;
    memcpy(r->el.voters[r->el.votes++], id, CS_ID);
    if (r->el.votes >= repl_majority(r))
        become_leader(r);
}

void
elect_failover(repl_t *r, const char *target)
{
    shm_roster_t *c = r->shm->roster;
    int best = -1;

    if (atomic_load(&r->shm->node->role) != ROLE_LEADER) {
        snprintf(r->cmd_err, CMD_ERR_MAX, "this node is not the leader");
        return;
    }
    for (int i = 1; i < r->npeers; i++) {
        const peer_t *p = &r->peers[i];
        if (p->m.state != MS_ALIVE)
            continue;
        if (target[0] && strcmp(p->m.id, target) != 0)
            continue;
        if (best < 0 || p->acked > r->peers[best].acked)
            best = i;
    }
    if (best < 0) {
        snprintf(r->cmd_err, CMD_ERR_MAX,
                 target[0] ? "no live member \"%s\"" : "no live replica%s",
                 target);
        return;
    }
    snprintf(r->xfer.target, sizeof(r->xfer.target), "%s",
             r->peers[best].m.id);
    r->xfer.on = true;
    r->xfer.sent = false;
    r->xfer.deadline_ms = r->now_ms + 3000;
    atomic_store(&c->transfer, 1);
    log_info("failover to %s requested: pausing writes", r->xfer.target);
}
