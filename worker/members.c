/*
 * members.c - the cluster endpoints of a worker: GET /api/v1/cluster/nodes
 * (the members as the roster, shm/roster.h, lists them) and POST
 * /api/v1/cluster/meet|failover|forget, requests handed to the replicator
 * through the roster and answered once it took them (503 after 3 s).
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/url.h"

#include <stdio.h>
#include <string.h>

#define CMD_TIMEOUT_MS 3000

static void
handle_nodes(conn_t *c)
{
    static roster_member_t m[ROSTER_MAX_MEMBERS];
    shm_t *s = c->w->shm;
    char lid[ROSTER_ID_MAX], lhttp[ROSTER_ADDR_MAX];
    uint32_t n;
    uint64_t leader_lsn = 0;
    buf_t *b = &c->w->tmp;

    roster_read(s->roster, m, &n, lid, lhttp);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(m[i].id, lid) == 0)
            leader_lsn = m[i].self ? gate_applied_lsn(s) : m[i].lsn;
    b->len = 0;
    buf_printf(b, "{\"leader\":");
    json_cstr(b, lid);
    buf_puts(b, ",\"nodes\":[");
    for (uint32_t i = 0; i < n; i++) {
        uint64_t lsn = m[i].self ? gate_applied_lsn(s) : m[i].lsn;
        if (i > 0)
            buf_putc(b, ',');
        buf_putc(b, '{');
        json_kv_str(b, "id", m[i].id, true);
        json_kv_str(b, "gossip", m[i].gossip, false);
        json_kv_str(b, "replication", m[i].repl, false);
        json_kv_str(b, "http", m[i].http, false);
        json_kv_str(b, "role", shm_role_name(m[i].role), false);
        json_kv_str(b, "state", roster_state_name(m[i].state), false);
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
members_handle(conn_t *c)
{
    shm_t *s = c->w->shm;
    shm_roster_t *ro = s->roster;
    char arg[ROSTER_ADDR_MAX];
    uint64_t my;
    uint32_t kind;
    roster_cmd_t *cmd;
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
    my = atomic_fetch_add(&ro->cmd_req, 1) + 1;
    cmd = &ro->cmds[my % ROSTER_CMDS];
    cmd->kind = kind;
    cmd->error[0] = '\0';
    snprintf(cmd->arg, sizeof(cmd->arg), "%s", arg);
    atomic_store_explicit(&cmd->seq, my, memory_order_release);
    c->deadline_aux = c->w->now_ms + CMD_TIMEOUT_MS;
    wrk_park(c->w, c, WAIT_CMD, my);
}

bool
members_resume(conn_t *c, bool expired)
{
    shm_roster_t *ro = c->w->shm->roster;
    buf_t *b = &c->w->tmp;

    if (atomic_load(&ro->cmd_done) < c->wait_val) {
        if (!expired)
            return false;
        resp_error(c, 503,
                   "the replicator did not take the request in "
                   "time");
        resp_done(c);
        return true;
    }
    roster_cmd_t *cmd = &ro->cmds[c->wait_val % ROSTER_CMDS];
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
