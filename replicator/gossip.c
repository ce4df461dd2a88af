/*
 * gossip.c - membership and failure detection, SWIM-style, over UDP.
 *
 * Every probe_interval this node pings the next member in round-robin
 * order.  No ACK within probe_timeout: it asks up to three other members
 * to ping that member for it (PING_REQ) and relays their ACK.  No ACK by
 * the end of the period: the member becomes SUSPECT; if it does not
 * refute that within suspicion_mult x max(1, log10(N)) x probe_interval
 * it is DEAD.  A member refutes a suspicion about itself by raising its
 * incarnation.  State changes ride on every message (at most GSP_MAX_UPD
 * updates each, each sent 3 x ceil(log2(N + 1)) times), and every message
 * carries the sender's own record, so LSNs, roles and epochs spread with
 * each probe.  Dead members are still pinged now and then, so a healed
 * partition or a restarted node is found again.  A joining node asks its
 * seeds (and its persisted members) for their member lists (SYNC_REQ);
 * members also pull a list from a random peer every 25 periods.
 *
 * Precedence of updates about member M (incarnation i):
 *   ALIVE(i)   wins over ALIVE/SUSPECT with an older incarnation
 *   SUSPECT(i) wins over ALIVE with incarnation <= i, SUSPECT older
 *   DEAD(i)    wins over ALIVE/SUSPECT with incarnation <= i
 * and any message from M itself proves it ALIVE at its incarnation.
 */
#include "replicator/repl.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int ev_udp = EVT_UDP;

static void
self_record(repl_t *r)
{
    gsp_member_t *m = &r->peers[0].m;
    const conf_t *c = r->conf;

    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", c->node_id);
    /* conf.c keeps cluster addresses shorter than GSP_ADDR */
    snprintf(m->gossip, sizeof(m->gossip), "%.47s", c->cl_gossip.text);
    snprintf(m->repl, sizeof(m->repl), "%.47s", c->cl_replication.text);
    snprintf(m->http, sizeof(m->http), "%.47s", c->http_listen.text);
    m->role = (uint8_t) atomic_load(&r->shm->node->role);
    m->state = MS_ALIVE;
    m->epoch = r->cs.epoch;
    m->lsn = repl_last_lsn(r);
    m->incarnation = r->incarnation;
}

int
gossip_find(const repl_t *r, const char *id)
{
    for (int i = 0; i < r->npeers; i++)
        if (strncmp(r->peers[i].m.id, id, GSP_ID) == 0)
            return i;
    return -1;
}

/* The live leader with the highest epoch, or -1. */
int
gossip_leader(const repl_t *r)
{
    int best = -1;

    for (int i = 0; i < r->npeers; i++) {
        const gsp_member_t *m = &r->peers[i].m;
        if (m->role != ROLE_LEADER
            || (!r->peers[i].self && m->state >= MS_DEAD))
            continue;
        if (best < 0 || m->epoch > r->peers[best].m.epoch)
            best = i;
    }
    return best;
}

/* A message from member i itself: if it leads our epoch or a later one,
 * it counts for the write lease (elect.c). */
static void
gossip_heard_leader(repl_t *r, int i)
{
    const gsp_member_t *m = &r->peers[i].m;

    if (m->role == ROLE_LEADER && m->epoch >= r->cs.epoch)
        r->leader_heard_ms = r->now_ms;
}

static int
peer_add(repl_t *r, const gsp_member_t *m)
{
    peer_t *p;

    if (r->npeers == ROSTER_MAX_MEMBERS || cstate_forgotten(&r->cs, m->id))
        return -1;
    p = &r->peers[r->npeers];
    memset(p, 0, sizeof(*p));
    p->m = *m;
    if (util_parse_addr(m->gossip, &p->addr, &p->alen) != MEMDB_OK)
        return -1;
    p->heard_ms = r->now_ms;
    log_info("member %s (%s) joined as %s", m->id, m->gossip,
             roster_state_name(m->state));
    cstate_member_set(&r->cs, m->id, m->gossip);
    (void) cstate_save(&r->cs);
    r->table_dirty = true;
    return r->npeers++;
}

static void
gossip_queue(repl_t *r, const gsp_member_t *m)
{
    int left = 3 * (int) ceil(log2((double) r->npeers + 1.0)) + 1;

    for (int i = 0; i < r->nupd; i++) {
        if (strncmp(r->upd[i].m.id, m->id, GSP_ID) == 0) {
            r->upd[i].m = *m;
            r->upd[i].left = left;
            return;
        }
    }
    if (r->nupd == REPL_UPD_MAX)
        r->nupd--; /* drop the oldest news */
    memmove(&r->upd[1], &r->upd[0], sizeof(update_t) * (size_t) r->nupd);
    r->upd[0].m = *m;
    r->upd[0].left = left;
    r->nupd++;
}

/* Our record changed (role, epoch): a new incarnation, so that older
 * copies still travelling in piggybacked updates cannot undo it. */
void
gossip_self_changed(repl_t *r)
{
    r->incarnation++;
    r->peers[0].m.incarnation = r->incarnation;
    r->peers[0].m.lsn = repl_last_lsn(r);
    gossip_queue(r, &r->peers[0].m);
    r->table_dirty = true;
}

static void
set_state(repl_t *r, int i, uint8_t state, uint64_t inc)
{
    peer_t *p = &r->peers[i];
    if (p->m.state == state && p->m.incarnation == inc)
        return;
    if (p->m.state != state)
        log_info("member %s is %s (incarnation %llu)", p->m.id,
                 roster_state_name(state), (unsigned long long) inc);
    p->m.state = state;
    p->m.incarnation = inc;
    if (state == MS_SUSPECT)
        p->suspect_ms = r->now_ms;
    gossip_queue(r, &p->m);
    r->table_dirty = true;
    elect_seen(r, i);
}

/* Applies news about a member (or the sender's own record). */
static void
gossip_apply(repl_t *r, const gsp_member_t *m, bool from_itself)
{
    int i = gossip_find(r, m->id);
    peer_t *p;

    if (i == 0) {
        /* about me: refute suspicion or death */
        if (m->state != MS_ALIVE && m->incarnation >= r->incarnation) {
            r->incarnation = m->incarnation + 1;
            r->peers[0].m.incarnation = r->incarnation;
            log_info("refuting %s about myself (incarnation now %llu)",
                     m->state == MS_SUSPECT ? "suspicion" : "death",
                     (unsigned long long) r->incarnation);
            gossip_self_changed(r);
        }
        return;
    }
    if (i < 0) {
        if (m->state == MS_LEFT)
            return;
        i = peer_add(r, m);
        if (i < 0)
            return;
        if (from_itself) {
            r->peers[i].m.state = MS_ALIVE;
            r->peers[i].heard_ms = r->now_ms;
            gossip_heard_leader(r, i);
        }
        gossip_queue(r, &r->peers[i].m);
        elect_seen(r, i);
        return;
    }
    p = &r->peers[i];
    if (from_itself) {
        uint8_t st = p->m.state;
        uint64_t inc = p->m.incarnation;
        bool moved = strcmp(p->m.gossip, m->gossip) != 0;

        p->heard_ms = r->now_ms;
        p->m = *m;
        gossip_heard_leader(r, i);
        p->m.state = st;
        p->m.incarnation = inc;
        if (moved) {
            util_parse_addr(m->gossip, &p->addr, &p->alen);
            cstate_member_set(&r->cs, m->id, m->gossip);
            (void) cstate_save(&r->cs);
        }
        if (st != MS_ALIVE || m->incarnation > inc)
            set_state(r, i, MS_ALIVE, MEMDB_MAX(inc, m->incarnation));
        r->table_dirty = true;
        elect_seen(r, i);
        return;
    }
    /* second-hand news: the record's fields (role, epoch) only from a
     * newer incarnation (every change of them makes one) */
    if (m->incarnation > p->m.incarnation) {
        p->m.role = m->role;
        p->m.epoch = MEMDB_MAX(p->m.epoch, m->epoch);
        r->table_dirty = true;
    }
    if (m->lsn > p->m.lsn) {
        p->m.lsn = m->lsn;
        r->table_dirty = true;
    }
    switch (m->state) {
    case MS_ALIVE:
        if (m->incarnation > p->m.incarnation)
            set_state(r, i, MS_ALIVE, m->incarnation);
        break;
    case MS_SUSPECT:
        if ((p->m.state == MS_ALIVE && m->incarnation >= p->m.incarnation)
            || (p->m.state == MS_SUSPECT && m->incarnation > p->m.incarnation))
            set_state(r, i, MS_SUSPECT, m->incarnation);
        break;
    case MS_DEAD:
        if (p->m.state <= MS_SUSPECT && m->incarnation >= p->m.incarnation)
            set_state(r, i, MS_DEAD, m->incarnation);
        break;
    default: break;
    }
}

/* ---- sending -------------------------------------------------------- */

static size_t
build(repl_t *r, unsigned char *out, uint8_t type, uint32_t seq,
      const void *body, int skip_peer)
{
    gsp_msg_t m;
    size_t len;

    memset(&m, 0, sizeof(m));
    m.hdr.type = type;
    m.hdr.seq = seq;
    m.hdr.flags = r->auth.on ? GSP_F_AUTH : 0;
    m.hdr.time_ms = util_wall_ms();
    m.hdr.boot = r->cs.boot;
    m.hdr.msg_id = ++r->msg_id;
    r->peers[0].m.lsn = repl_last_lsn(r);
    m.from = r->peers[0].m;
    if (type == GSP_PING_REQ || type == GSP_FORGET)
        memcpy(&m.target, body, sizeof(m.target));
    else if (type == GSP_VOTE_REQ || type == GSP_TIMEOUT_NOW)
        memcpy(&m.vreq, body, sizeof(m.vreq));
    else if (type == GSP_VOTE)
        memcpy(&m.vote, body, sizeof(m.vote));
    if (type == GSP_SYNC && body != NULL) {
        const gsp_member_t *list = body;
        for (int i = 0; i < GSP_MAX_UPD && list[i].id[0]; i++)
            m.upd[m.nupd++] = list[i];
    } else {
        /* a member-sized body leaves room for one update less */
        int cap = wire_body_size(type) == GSP_MEMBER ? GSP_MAX_UPD - 1
                                                     : GSP_MAX_UPD;
        for (int i = 0; i < r->nupd && m.nupd < cap; i++) {
            if (skip_peer >= 0
                && strncmp(r->upd[i].m.id, r->peers[skip_peer].m.id, GSP_ID)
                       == 0
                && r->upd[i].m.state == MS_ALIVE)
                continue;
            m.upd[m.nupd++] = r->upd[i].m;
            if (--r->upd[i].left <= 0) {
                memmove(&r->upd[i], &r->upd[i + 1],
                        sizeof(update_t) * (size_t) (r->nupd - i - 1));
                r->nupd--;
                i--;
            }
        }
    }
    m.hdr.nupd = (uint8_t) m.nupd;
    len = wire_encode(&m, out);
    if (len == 0) {
        log_error("a gossip message of type %u does not fit in a datagram",
                  type);
        return 0;
    }
    if (r->auth.on)
        auth_mac(r->auth.key, out, len - AUTH_MAC, out + len - AUTH_MAC);
    return len;
}

static void
gossip_send_addr(repl_t *r, const struct sockaddr *sa, socklen_t alen,
                 uint8_t type, uint32_t seq, const void *body)
{
    unsigned char buf[GSP_MAX];
    size_t len = build(r, buf, type, seq, body, -1);

    if (len > 0 && sendto(r->udp, buf, len, MSG_DONTWAIT, sa, alen) < 0
        && errno != EAGAIN)
        log_debug("sendto failed: %s", strerror(errno));
}

void
gossip_send(repl_t *r, int peer, uint8_t type, uint32_t seq, const void *body)
{
    unsigned char buf[GSP_MAX];
    size_t len = build(r, buf, type, seq, body, peer);
    peer_t *p = &r->peers[peer];

    if (len > 0
        && sendto(r->udp, buf, len, MSG_DONTWAIT, (struct sockaddr *) &p->addr,
                  p->alen)
               < 0
        && errno != EAGAIN)
        log_debug("sendto(%s) failed: %s", p->m.gossip, strerror(errno));
}

/* Sends our whole member list to a peer, GSP_MAX_UPD members a datagram. */
static void
send_sync(repl_t *r, const struct sockaddr *sa, socklen_t alen)
{
    gsp_member_t list[GSP_MAX_UPD + 1];
    int n = 0;

    for (int i = 0; i < r->npeers; i++) {
        list[n++] = r->peers[i].m;
        if (n == GSP_MAX_UPD || i == r->npeers - 1) {
            memset(&list[n], 0, sizeof(list[n]));
            gossip_send_addr(r, sa, alen, GSP_SYNC, 0, list);
            n = 0;
        }
    }
}

/* ---- receiving ------------------------------------------------------ */

/* The replay window of member id, or NULL (not a member, or us). */
static auth_window_t *
window_of(repl_t *r, const char *id)
{
    int i = gossip_find(r, id);

    return i > 0 ? &r->peers[i].win : NULL;
}

/* NULL if the datagram may be taken, else why not.  The MAC is checked
 * before anything else, so that nothing unauthenticated moves a replay
 * window.  A sender not yet a member has no window: the caller starts
 * one once it is added (start_window). */
static const char *
unauthentic(repl_t *r, const unsigned char *buf, const gsp_msg_t *m)
{
    auth_window_t *w;
    int64_t skew;
    uint64_t was;
    auth_win_e e;

    if (!r->auth.on)
        return NULL;
    if (!(m->hdr.flags & GSP_F_AUTH))
        return "no MAC";
    if (!auth_verify(r->auth.key, buf, m->mac_off, buf + m->mac_off))
        return "bad MAC";
    skew = (int64_t) util_wall_ms() - (int64_t) m->hdr.time_ms;
    if (skew > AUTH_WINDOW_MS || skew < -AUTH_WINDOW_MS)
        return "timestamp too far from this node's clock";
    if ((w = window_of(r, m->from.id)) == NULL)
        return NULL;
    was = w->boot;
    e = auth_window_check(w, m->hdr.boot, m->hdr.msg_id);
    if (!auth_win_ok(e))
        return auth_win_str(e);
    if (e == AUTH_WIN_NEW_BOOT && was != 0)
        log_info("member %s restarted (boot %llu, was %llu)", m->from.id,
                 (unsigned long long) m->hdr.boot, (unsigned long long) was);
    return NULL;
}

/* A member just added from its own datagram: its window starts there. */
static void
start_window(repl_t *r, const gsp_msg_t *m)
{
    auth_window_t *w = window_of(r, m->from.id);

    if (r->auth.on && w != NULL)
        (void) auth_window_check(w, m->hdr.boot, m->hdr.msg_id);
}

/* Counted, and logged once every 100: a datagram that does not decode. */
static void
log_malformed(repl_t *r, const unsigned char *buf, ssize_t n,
              const struct sockaddr *sa, const char *why)
{
    char from[80];

    if (atomic_fetch_add(&r->shm->roster->gossip_bad, 1) % 100 != 0)
        return;
    util_format_addr(sa, from, sizeof(from));
    if (strcmp(why, "bad version") == 0)
        log_warn("dropped a gossip datagram of version %u from %s: this "
                 "node speaks version %u (another memdb release?)",
                 (unsigned) buf[4], from, (unsigned) GSP_VERSION);
    else
        log_warn("dropped a malformed gossip datagram from %s (%zd bytes): "
                 "%s",
                 from, n, why);
}

static void
on_ack(repl_t *r, int from, uint32_t seq)
{
    /* an ACK for a probe we relay goes back to whoever asked */
    for (size_t i = 0; i < MEMDB_NELEM(r->relay); i++) {
        if (r->relay[i].seq == seq && r->relay[i].until > r->now_ms) {
            gossip_send(r, r->relay[i].peer, GSP_ACK, r->relay[i].their_seq,
                        NULL);
            r->relay[i].seq = 0;
            return;
        }
    }
    if (r->probe.peer >= 0 && seq == r->probe.seq) {
        r->probe.acked = true;
        peer_t *p = &r->peers[r->probe.peer];
        p->heard_ms = r->now_ms;
        if (p->m.state != MS_ALIVE)
            set_state(r, r->probe.peer, MS_ALIVE, p->m.incarnation);
    }
    (void) from;
}

static void
on_ping_req(repl_t *r, int from, const gsp_msg_t *m)
{
    int t = gossip_find(r, m->target.id);
    uint32_t seq = ++r->seq;

    if (t <= 0 || from < 0)
        return;
    for (size_t i = 0; i < MEMDB_NELEM(r->relay); i++) {
        if (r->relay[i].until <= r->now_ms) {
            r->relay[i].seq = seq;
            r->relay[i].peer = from;
            r->relay[i].their_seq = m->hdr.seq;
            r->relay[i].until = r->now_ms + r->conf->cl_probe_interval_ms;
            break;
        }
    }
    gossip_send(r, t, GSP_PING, seq, NULL);
}

static void
dispatch(repl_t *r, int from, const gsp_msg_t *m, const struct sockaddr *sa,
         socklen_t alen)
{
    switch (m->hdr.type) {
    case GSP_PING:
        gossip_send_addr(r, sa, alen, GSP_ACK, m->hdr.seq, NULL);
        break;
    case GSP_ACK: on_ack(r, from, m->hdr.seq); break;
    case GSP_PING_REQ: on_ping_req(r, from, m); break;
    case GSP_SYNC_REQ: send_sync(r, sa, alen); break;
    case GSP_SYNC: break; /* the updates are the list */
    case GSP_VOTE_REQ:
    case GSP_TIMEOUT_NOW:
        if (from > 0)
            elect_on_vote_req(r, from, &m->vreq,
                              m->hdr.type == GSP_TIMEOUT_NOW);
        break;
    case GSP_VOTE:
        if (from > 0)
            elect_on_vote(r, from, &m->vote);
        break;
    case GSP_FORGET:
        if (strncmp(m->target.id, r->peers[0].m.id, GSP_ID) != 0)
            gossip_forget(r, m->target.id);
        break;
    }
}

void
gossip_recv(repl_t *r)
{
    unsigned char buf[GSP_MAX + 1];
    struct sockaddr_storage ss;
    shm_roster_t *c = r->shm->roster;

    for (int k = 0; k < 256; k++) {
        socklen_t alen = sizeof(ss);
        ssize_t n = recvfrom(r->udp, buf, sizeof(buf), MSG_DONTWAIT,
                             (struct sockaddr *) &ss, &alen);
        gsp_msg_t m;
        const char *why;
        int from;

        if (n < 0)
            return;
        if (wire_decode(buf, (size_t) n, &m, &why) != MEMDB_OK) {
            log_malformed(r, buf, n, (struct sockaddr *) &ss, why);
            continue;
        }
        from = gossip_find(r, m.from.id);
        if ((why = unauthentic(r, buf, &m)) != NULL) {
            if (atomic_fetch_add(&c->auth_bad, 1) % 100 == 0)
                log_warn("dropped gossip from %s that failed "
                         "authentication: %s",
                         m.from.gossip, why);
            continue;
        }
        if (from == 0)
            continue; /* our own echo */
        if (cstate_forgotten(&r->cs, m.from.id))
            continue;
        gossip_apply(r, &m.from, true);
        if (from < 0)
            start_window(r, &m);
        from = gossip_find(r, m.from.id);
        for (int i = 0; i < m.nupd; i++)
            gossip_apply(r, &m.upd[i], false);
        dispatch(r, from, &m, (struct sockaddr *) &ss, alen);
    }
}

/* ---- probing -------------------------------------------------------- */

static uint64_t
suspicion_ms(const repl_t *r)
{
    double f = MEMDB_MAX(1.0, log10((double) r->npeers));
    return (uint64_t) ((double) r->conf->cl_suspicion_mult * f
                       * (double) r->conf->cl_probe_interval_ms);
}

/* The next member to probe: alive and suspect ones in turn, and a dead one
 * every fourth period. */
static int
next_target(repl_t *r)
{
    bool dead_turn = (r->seq % 4) == 0;

    for (int tries = 0; tries < 2; tries++, dead_turn = !dead_turn) {
        for (int k = 0; k < r->npeers; k++) {
            int i = 1 + (r->rr + k) % MEMDB_MAX(r->npeers - 1, 1);
            if (i >= r->npeers)
                continue;
            bool dead = r->peers[i].m.state >= MS_DEAD;
            if (dead == dead_turn) {
                r->rr = i;
                return i;
            }
        }
    }
    return -1;
}

static void
probe_fail(repl_t *r)
{
    int i = r->probe.peer;
    peer_t *p = &r->peers[i];

    if (p->m.state == MS_ALIVE)
        set_state(r, i, MS_SUSPECT, p->m.incarnation);
}

static void
probe_indirect(repl_t *r)
{
    int sent = 0;
    gsp_member_t target = r->peers[r->probe.peer].m;

    for (int k = 1; k < r->npeers && sent < 3; k++) {
        int i = 1 + (r->rr + k) % (r->npeers - 1);
        if (i == r->probe.peer || r->peers[i].m.state != MS_ALIVE)
            continue;
        gossip_send(r, i, GSP_PING_REQ, r->probe.seq, &target);
        sent++;
    }
    r->probe.indirect = true;
}

static void
expire_suspects(repl_t *r)
{
    uint64_t limit = suspicion_ms(r);

    for (int i = 1; i < r->npeers; i++) {
        peer_t *p = &r->peers[i];
        if (p->m.state == MS_SUSPECT && r->now_ms - p->suspect_ms >= limit)
            set_state(r, i, MS_DEAD, p->m.incarnation);
    }
}

static void
ask_seeds(repl_t *r)
{
    const conf_t *c = r->conf;

    for (int i = 0; i < c->cl_nseeds; i++)
        if (strcmp(c->cl_seeds[i].text, c->cl_gossip.text) != 0)
            gossip_send_addr(r, (const struct sockaddr *) &c->cl_seeds[i].ss,
                             c->cl_seeds[i].len, GSP_SYNC_REQ, 0, NULL);
    for (int i = 0; i < r->cs.nmembers; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (strcmp(r->cs.members[i].id, r->conf->node_id) != 0
            && util_parse_addr(r->cs.members[i].gossip, &ss, &len) == MEMDB_OK)
            gossip_send_addr(r, (struct sockaddr *) &ss, len, GSP_SYNC_REQ, 0,
                             NULL);
    }
}

void
gossip_tick(repl_t *r)
{
    const conf_t *c = r->conf;

    if (r->probe.peer >= 0 && !r->probe.acked) {
        if (!r->probe.indirect && r->now_ms >= r->probe.timeout_ms)
            probe_indirect(r);
        if (r->now_ms >= r->probe.end_ms) {
            probe_fail(r);
            r->probe.peer = -1;
        }
    }
    expire_suspects(r);
    if (r->now_ms >= r->next_sync_ms) {
        if (r->npeers <= 1)
            ask_seeds(r);
        else {
            int i = 1 + rand() % (r->npeers - 1);
            if (r->peers[i].m.state == MS_ALIVE)
                gossip_send(r, i, GSP_SYNC_REQ, 0, NULL);
        }
        r->next_sync_ms = r->now_ms
                          + (r->npeers <= 1 ? 500
                                            : 25 * c->cl_probe_interval_ms);
    }
    if (r->now_ms < r->next_probe_ms)
        return;
    r->next_probe_ms = r->now_ms + c->cl_probe_interval_ms;
    if (r->probe.peer >= 0 && !r->probe.acked)
        probe_fail(r);
    r->probe.peer = next_target(r);
    if (r->probe.peer < 0)
        return;
    r->probe.seq = ++r->seq;
    r->probe.acked = false;
    r->probe.indirect = false;
    r->probe.timeout_ms = r->now_ms + c->cl_probe_timeout_ms;
    r->probe.end_ms = r->now_ms + c->cl_probe_interval_ms - 1;
    gossip_send(r, r->probe.peer, GSP_PING, r->probe.seq, NULL);
}

void
gossip_meet(repl_t *r, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (util_parse_addr(addr, &ss, &len) != MEMDB_OK) {
        snprintf(r->cmd_err, CMD_ERR_MAX, "\"%s\" is not an address HOST:PORT",
                 addr);
        return;
    }
    log_info("meeting %s", addr);
    gossip_send_addr(r, (struct sockaddr *) &ss, len, GSP_SYNC_REQ, 0, NULL);
    gossip_send_addr(r, (struct sockaddr *) &ss, len, GSP_PING, 0, NULL);
}

void
gossip_forget(repl_t *r, const char *id)
{
    int i = gossip_find(r, id);
    gsp_member_t t;

    if (i == 0) {
        snprintf(r->cmd_err, CMD_ERR_MAX, "a node cannot forget itself");
        return;
    }
    if (cstate_forgotten(&r->cs, id))
        return;
    if (i < 0) {
        snprintf(r->cmd_err, CMD_ERR_MAX, "no member \"%s\"", id);
        return;
    }
    if (r->peers[i].m.state < MS_DEAD) {
        snprintf(r->cmd_err, CMD_ERR_MAX,
                 "member \"%s\" is not dead: stop it first", id);
        return;
    }
    log_info("forgetting member %s", id);
    t = r->peers[i].m;
    r->peers[i] = r->peers[--r->npeers];
    for (int k = 0; k < r->nupd; k++)
        if (strncmp(r->upd[k].m.id, id, GSP_ID) == 0)
            r->upd[k] = r->upd[--r->nupd];
    cstate_forget(&r->cs, id);
    (void) cstate_save(&r->cs);
    for (int k = 1; k < r->npeers; k++)
        gossip_send(r, k, GSP_FORGET, 0, &t);
    r->table_dirty = true;
}

/* This start is a new boot: its number is on disk before the first
 * datagram goes out, so the next start is numbered higher even if the
 * clock went back (auth_next_boot). */
static void
gossip_boot(repl_t *r)
{
    r->cs.boot = auth_next_boot(r->cs.boot, util_wall_ms());
    r->msg_id = 0;
    if (cstate_save(&r->cs) != MEMDB_OK)
        log_error("cannot persist boot number %llu: after the next start, "
                  "peers may refuse this node's gossip for a while",
                  (unsigned long long) r->cs.boot);
}

int
gossip_open(repl_t *r)
{
    const conf_addr_t *a = &r->conf->cl_gossip;
    int one = 1;

    gossip_boot(r);

    r->udp = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (r->udp < 0) {
        log_errno("socket(UDP) failed");
        return MEMDB_ERR;
    }
    setsockopt(r->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(r->udp, (const struct sockaddr *) &a->ss, a->len) < 0) {
        log_errno("bind(%s) failed", a->text);
        return MEMDB_ERR;
    }
    r->incarnation = util_wall_ms(); /* above any before a restart */
    r->npeers = 1;
    r->peers[0].self = true;
    self_record(r);
    /* members from the state file come back as dead until heard from */
    for (int i = 0; i < r->cs.nmembers; i++) {
        gsp_member_t m;
        if (strcmp(r->cs.members[i].id, r->conf->node_id) == 0)
            continue;
        memset(&m, 0, sizeof(m));
        snprintf(m.id, sizeof(m.id), "%s", r->cs.members[i].id);
        snprintf(m.gossip, sizeof(m.gossip), "%s", r->cs.members[i].gossip);
        m.state = MS_DEAD;
        m.role = ROLE_REPLICA;
        if (r->npeers < ROSTER_MAX_MEMBERS) {
            peer_t *p = &r->peers[r->npeers];
            memset(p, 0, sizeof(*p));
            p->m = m;
            if (util_parse_addr(m.gossip, &p->addr, &p->alen) == MEMDB_OK)
                r->npeers++;
        }
    }
    cstate_member_set(&r->cs, r->conf->node_id, r->conf->cl_gossip.text);
    r->next_sync_ms = 0;
    return repl_watch(r, r->udp, EPOLLIN, &ev_udp, false);
}
