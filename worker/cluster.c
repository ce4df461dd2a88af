/*
 * cluster.c - what the workers do for the cluster (the replicator does
 * the rest, see replicator/):
 *   - writes sent to a replica are redirected to the leader (307);
 *   - with cluster.write_quorum a leader that cannot see a majority
 *     refuses writes (503); during a hand-over (manual failover) uploads
 *     wait for it to end;
 *   - upload?wait=N answers once N replicas acknowledged the record
 *     (504 after timeout_ms); reads honour ?min_lsn=N (504 after
 *     timeout_ms) and carry X-Memdb-LSN;
 *   - GET /api/v1/cluster/nodes, POST /api/v1/cluster/meet|failover|forget
 *     (requests are handed to the replicator through shm).
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/url.h"
#include "src/core/util.h"

#include <stdio.h>
#include <string.h>

#define CMD_TIMEOUT_MS 3000
#define XFER_WAIT_MS   2000

uint64_t
cluster_applied_lsn(shm_t *s)
{
    uint64_t next, applied;

    if (atomic_load(&s->node->role) == ROLE_REPLICA)
        return atomic_load(&s->cluster->applied_lsn);
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
cluster_acked(shm_t *s, uint64_t lsn)
{
    uint64_t k = 0;

    for (unsigned i = 0; i < CL_MAX_MEMBERS; i++)
        k += atomic_load_explicit(&s->cluster->acked[i], memory_order_relaxed)
             >= lsn;
    return k;
}

bool
cluster_wait_params(conn_t *c, const char *qs, size_t qlen, const char *name,
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
        else if (c->route == RT_UPLOAD) {
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
cluster_write_gate(conn_t *c)
{
    shm_t *s = c->w->shm;
    uint32_t role = atomic_load(&s->node->role);
    char id[CL_ID_MAX], http[CL_ADDR_MAX];

    if (role == ROLE_STANDALONE)
        return true;
    if (role == ROLE_REPLICA) {
        static cl_member_t tmp[CL_MAX_MEMBERS];
        uint32_t n;
        cl_read(s->cluster, tmp, &n, id, http);
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
        && util_now_ms() > atomic_load(&s->cluster->quorum_until_ms)) {
        resp_error(c, 503,
                   "this leader cannot see a majority of the "
                   "cluster (cluster.write_quorum): write refused");
        resp_done(c);
        return false;
    }
    if (atomic_load(&s->cluster->transfer)) {
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
cluster_wait_replicas(conn_t *c, uint64_t lsn)
{
    c->deadline_aux = c->w->now_ms + c->up_timeout;
    wrk_park(c->w, c, WAIT_REPL, lsn);
}

static void
handle_nodes(conn_t *c)
{
    static cl_member_t m[CL_MAX_MEMBERS];
    shm_t *s = c->w->shm;
    char lid[CL_ID_MAX], lhttp[CL_ADDR_MAX];
    uint32_t n;
    uint64_t leader_lsn = 0;
    buf_t *b = &c->w->tmp;

    cl_read(s->cluster, m, &n, lid, lhttp);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(m[i].id, lid) == 0)
            leader_lsn = m[i].self ? cluster_applied_lsn(s) : m[i].lsn;
    b->len = 0;
    buf_printf(b, "{\"leader\":");
    json_cstr(b, lid);
    buf_puts(b, ",\"nodes\":[");
    for (uint32_t i = 0; i < n; i++) {
        uint64_t lsn = m[i].self ? cluster_applied_lsn(s) : m[i].lsn;
        if (i > 0)
            buf_putc(b, ',');
        buf_putc(b, '{');
        json_kv_str(b, "id", m[i].id, true);
        json_kv_str(b, "gossip", m[i].gossip, false);
        json_kv_str(b, "replication", m[i].repl, false);
        json_kv_str(b, "http", m[i].http, false);
        json_kv_str(b, "role", shm_role_name(m[i].role), false);
        json_kv_str(b, "state", cl_state_name(m[i].state), false);
        json_kv_u64(b, "epoch", m[i].epoch, false);
        json_kv_u64(b, "lsn", lsn, false);
        json_kv_u64(b, "acked_lsn", m[i].acked, false);
        uint64_t have = MEMDB_MAX(lsn, m[i].acked);
        json_kv_u64(b, "lag", leader_lsn > have ? leader_lsn - have : 0,
                    false);
        json_kv_u64(b, "incarnation", m[i].incarnation, false);
        json_key(b, "self", false);
        buf_puts(b, m[i].self ? "true" : "false");
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
    resp_json(c, 200, b, NULL);
    resp_done(c);
}

/* Reads ?NAME=VALUE (one of them) into out; 400 when missing or bad. */
static bool
one_param(conn_t *c, const char *name, char *out, size_t outlen, bool optional)
{
    const char *qs;
    size_t qlen;
    url_query_t q;
    buf_t key = { 0 }, v = { 0 };
    bool found = false, ok = true;

    out[0] = '\0';
    route_query(c, &qs, &qlen);
    url_query_init(&q, qs, qlen);
    while (ok && url_query_next(&q, &key, &v) == MEMDB_OK) {
        if (key.len == strlen(name) && memcmp(key.data, name, key.len) == 0
            && v.len > 0 && v.len < outlen && utf8_check(v.data, v.len) < 0) {
            memcpy(out, v.data, v.len);
            out[v.len] = '\0';
            found = true;
        } else {
            route_bad_param(c, &key);
            resp_done(c);
            ok = false;
        }
    }
    if (ok && !found && !optional) {
        char msg[96];
        snprintf(msg, sizeof(msg), "missing parameter \"%s\"", name);
        resp_error(c, 400, msg);
        resp_done(c);
        ok = false;
    }
    buf_free(&key);
    buf_free(&v);
    return ok;
}

void
cluster_handle(conn_t *c)
{
    shm_t *s = c->w->shm;
    shm_cluster_t *cl = s->cluster;
    char arg[CL_ADDR_MAX];
    uint64_t my;
    uint32_t kind;
    cl_cmd_t *cmd;
    bool ok;

    if (c->route == RT_CL_NODES) {
        handle_nodes(c);
        return;
    }
    if (!atomic_load(&s->node->clustered)) {
        resp_error(c, 409,
                   "this node runs alone: configure cluster.gossip "
                   "to make it a member");
        resp_done(c);
        return;
    }
    switch (c->route) {
    case RT_CL_MEET:
        kind = CMD_MEET;
        ok = one_param(c, "addr", arg, sizeof(arg), false);
        break;
    case RT_CL_FAILOVER:
        kind = CMD_FAILOVER;
        ok = one_param(c, "to", arg, sizeof(arg), true);
        break;
    default:
        kind = CMD_FORGET;
        ok = one_param(c, "node", arg, sizeof(arg), false);
        break;
    }
    if (!ok)
        return;
    my = atomic_fetch_add(&cl->cmd_req, 1) + 1;
    cmd = &cl->cmds[my % CL_CMDS];
    cmd->kind = kind;
    cmd->error[0] = '\0';
    snprintf(cmd->arg, sizeof(cmd->arg), "%s", arg);
    atomic_store_explicit(&cmd->seq, my, memory_order_release);
    c->deadline_aux = c->w->now_ms + CMD_TIMEOUT_MS;
    wrk_park(c->w, c, WAIT_CMD, my);
}

bool
cluster_resume(conn_t *c, bool expired)
{
    shm_cluster_t *cl = c->w->shm->cluster;
    buf_t *b = &c->w->tmp;

    if (atomic_load(&cl->cmd_done) < c->wait_val) {
        if (!expired)
            return false;
        resp_error(c, 503,
                   "the replicator did not take the request in "
                   "time");
        resp_done(c);
        return true;
    }
    cl_cmd_t *cmd = &cl->cmds[c->wait_val % CL_CMDS];
    if (atomic_load(&cmd->seq) == c->wait_val && cmd->error[0]) {
        resp_error(c, 409, cmd->error);
        resp_done(c);
        return true;
    }
    b->len = 0;
    buf_putc(b, '{');
    json_kv_str(b, "status", "ok", true);
    if (c->route == RT_CL_FAILOVER && atomic_load(&cmd->seq) == c->wait_val)
        json_kv_str(b, "to", cmd->arg, false);
    buf_putc(b, '}');
    resp_json(c, 200, b, NULL);
    resp_done(c);
    return true;
}
