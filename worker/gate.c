/*
 * gate.c - what lets a request through, or holds it, by this node's place
 * in its cluster, as the roster (shm/roster.h) and the node state say
 * (the replicator decides them, see replicator/):
 *   - writes sent to a replica are redirected to the leader (307);
 *   - with cluster.write_quorum a leader that cannot see a majority
 *     refuses writes (503); during a hand-over (manual failover) uploads
 *     wait for it to end;
 *   - upload?wait=N answers once N replicas acknowledged the record
 *     (504 after timeout_ms); reads honour ?min_lsn=N (504 after
 *     timeout_ms) and carry X-Memdb-LSN, the LSN this node applied.
 * The cluster endpoints are members.c's.
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/url.h"
#include "src/core/util.h"

#include <stdio.h>
#include <string.h>

#define XFER_WAIT_MS 2000

uint64_t
gate_applied_lsn(shm_t *s)
{
    uint64_t next, applied;

    if (atomic_load(&s->node->role) == ROLE_REPLICA)
        return atomic_load(&s->roster->applied_lsn);
    next = atomic_load(&s->ring.hdr->next_lsn);
    applied = next - 1;
    /* the producers: the workers and the replicator (merges) */
    for (unsigned i = 0; i < SHM_MAX_WORKERS;
         i = i + 1 == s->node->nworkers ? SHM_REPL_SLOT : i + 1) {
        uint64_t pos = atomic_load_explicit(&s->workers[i].inflight_pos,
                                            memory_order_acquire);
        if (pos == SHM_NONE)
            continue;
        uint64_t lsn = ring_slot_at(&s->ring, pos)->lsn;
        if (lsn > 0 && lsn <= applied)
            applied = lsn - 1;
    }
    return applied;
}

uint64_t
gate_acked(shm_t *s, uint64_t lsn)
{
    uint64_t k = 0;

    for (unsigned i = 0; i < ROSTER_MAX_MEMBERS; i++)
        k += atomic_load_explicit(&s->roster->acked[i], memory_order_relaxed)
             >= lsn;
    return k;
}

uint64_t
gate_majority_acks(shm_t *s)
{
    roster_member_t m[ROSTER_MAX_MEMBERS];
    char lid[ROSTER_ID_MAX], lhttp[ROSTER_ADDR_MAX];
    uint32_t n;

    if (atomic_load(&s->node->role) != ROLE_LEADER)
        return 0;
    roster_read(s->roster, m, &n, lid, lhttp);
    return n / 2; /* n members, this one among them: n/2 + 1 hold it */
}

bool
gate_wait_params(conn_t *c, const char *qs, size_t qlen, const char *name,
                 uint64_t *val, uint64_t *tmo)
{
    url_query_t q;
    buf_t key = { 0 }, v = { 0 };
    bool ok = true;
    int rc;

    url_query_init(&q, qs, qlen);
    while (ok && (rc = url_query_next(&q, &key, &v)) == MEMDB_OK) {
        if (key.len == strlen(name) && memcmp(key.data, name, key.len) == 0)
            ok = route_param_u64(c, name, &v, 0, UINT64_MAX - 1, val);
        else if (key.len == 10 && memcmp(key.data, "timeout_ms", 10) == 0)
            ok = route_param_u64(c, "timeout_ms", &v, 0, 600000, tmo);
        else if (route_takes_words(c->route)) {
            route_bad_param(c, &key);
            ok = false;
        }
    }
    if (ok && rc == MEMDB_ERR) {
        resp_error(c, 400, "malformed %-escape in query string");
        ok = false;
    }
    if (!ok && c->status == 400)
        resp_done(c);
    buf_free(&key);
    buf_free(&v);
    return ok;
}

/* 307 to the leader, with the same path and query. */
static void
redirect(conn_t *c, const char *leader_id, const char *leader_http)
{
    buf_t *b = &c->w->tmp;
    char loc[480], hdr[512];

    snprintf(loc, sizeof(loc), "http://%s%.*s", leader_http,
             (int) MEMDB_MIN(c->url.len, 400), c->url.data);
    snprintf(hdr, sizeof(hdr), "Location: %s\r\n", loc);
    b->len = 0;
    buf_putc(b, '{');
    json_kv_str(b, "error", "this node is a read-only replica", true);
    json_kv_u64(b, "status", 307, false);
    json_kv_str(b, "leader", leader_id, false);
    json_kv_str(b, "location", loc, false);
    buf_putc(b, '}');
    resp_json(c, 307, b, hdr);
    resp_done(c);
}

bool
gate_write(conn_t *c)
{
    shm_t *s = c->w->shm;
    uint32_t role = atomic_load(&s->node->role);
    char id[ROSTER_ID_MAX], http[ROSTER_ADDR_MAX];

    if (role == ROLE_STANDALONE)
        return true;
    if (role == ROLE_REPLICA) {
        static roster_member_t tmp[ROSTER_MAX_MEMBERS];
        uint32_t n;
        roster_read(s->roster, tmp, &n, id, http);
        if (id[0] && http[0])
            redirect(c, id, http);
        else {
            resp_error(c, 503,
                       "no leader is known: the cluster is electing "
                       "one; retry shortly");
            resp_done(c);
        }
        return false;
    }
    /* a fresh clock: the loop's may date from before a pause */
    if (c->w->conf->cl_write_quorum
        && util_now_ms() > atomic_load(&s->roster->quorum_until_ms)) {
        resp_error(c, 503,
                   "this leader cannot see a majority of the "
                   "cluster (cluster.write_quorum): write refused");
        resp_done(c);
        return false;
    }
    if (atomic_load(&s->roster->transfer)) {
        if (c->phase == PH_WAIT && c->wait == WAIT_ROLE) {
            resp_error(c, 503,
                       "the leadership is being handed over; retry "
                       "shortly");
            resp_done(c);
            return false;
        }
        c->deadline_aux = c->w->now_ms + XFER_WAIT_MS;
        wrk_park(c->w, c, WAIT_ROLE, 0);
        return false;
    }
    return true;
}

void
gate_wait_replicas(conn_t *c, uint64_t lsn)
{
    c->deadline_aux = c->w->now_ms + c->up_timeout;
    wrk_park(c->w, c, WAIT_REPL, lsn);
}
