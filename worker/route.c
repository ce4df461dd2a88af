/*
 * route.c - request routing and the read endpoints:
 *   GET /api/v1/wordcount?word=A&word=B   counts of the given words
 *   GET /api/v1/top?n=K                   the K most frequent words
 *   GET /api/v1/status                    node, version, counters
 *   GET /healthz                          200 while the node serves
 *   POST /api/v1/admin/snapshot           take a snapshot, answer its LSN
 * (uploads, retracts and resets of words: upload.c; allwords: stream.c; /openapi.yaml, /docs: apidoc.c)
 * Every GET path answers HEAD as well (resp.c leaves the body out).
 */
#include "worker/wrk.h"
#include "src/core/fault.h"
#include "src/core/json.h"
#include "src/core/url.h"
#include "src/core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WORDCOUNT_MAX_WORDS 1024
#define TOP_MAX             10000

typedef struct route_s {
    const char *path;
    int method;
    route_e route;
    const char *allow;
} route_t;

/* Every GET path takes HEAD too (RFC 9110 section 9.3.2). */
#define GET_HEAD "GET, HEAD"

/* clang-format off */
static const route_t routes[] = {
    { "/api/v1/upload",    HTTP_POST, RT_UPLOAD,    "POST" },
    { "/api/v1/wordcount", HTTP_GET,  RT_WORDCOUNT, GET_HEAD },
    { "/api/v1/allwords",  HTTP_GET,  RT_ALLWORDS,  GET_HEAD },
    { "/api/v1/top",       HTTP_GET,  RT_TOP,       GET_HEAD },
    { "/api/v1/status",    HTTP_GET,  RT_STATUS,    GET_HEAD },
    { "/healthz",          HTTP_GET,  RT_HEALTHZ,   GET_HEAD },
    { "/api/v1/admin/snapshot", HTTP_POST, RT_SNAPSHOT, "POST" },
    { "/api/v1/cluster/nodes",  HTTP_GET,  RT_CL_NODES, GET_HEAD },
    { "/api/v1/cluster/meet",   HTTP_POST, RT_CL_MEET, "POST" },
    { "/api/v1/cluster/failover", HTTP_POST, RT_CL_FAILOVER, "POST" },
    { "/api/v1/cluster/forget", HTTP_POST, RT_CL_FORGET, "POST" },
    { "/metrics",               HTTP_GET,  RT_METRICS, GET_HEAD },
    { "/openapi.yaml",          HTTP_GET,  RT_OPENAPI, GET_HEAD },
    { "/docs",                  HTTP_GET,  RT_DOCS,    GET_HEAD },
#if FAULT_INJECTION
    { "/api/v1/admin/fault",    HTTP_POST, RT_FAULT,   "GET, HEAD, POST" },
    { "/api/v1/admin/fault",    HTTP_GET,  RT_FAULT,   "GET, HEAD, POST" },
#endif
};
/* clang-format on */

#define TABLES_PREFIX "/api/v1/tables"

route_e
route_find(conn_t *c, const char *path, size_t len, int method)
{
    size_t tl = strlen(TABLES_PREFIX);

    tables_default(c);
    if (len >= tl && memcmp(path, TABLES_PREFIX, tl) == 0
        && (len == tl || path[tl] == '/'))
        return tables_route(c, path, len, method);
    for (size_t i = 0; i < MEMDB_NELEM(routes); i++) {
        const route_t *r = &routes[i];
        if (strlen(r->path) != len || memcmp(r->path, path, len) != 0)
            continue;
        if (r->method == method
            || (r->method == HTTP_GET && method == HTTP_HEAD))
            return r->route;
        c->allow = r->allow; /* a 405, unless another entry has method */
    }
    return RT_NONE;
}

/* The query string of the current request (without '?'). */
void
route_query(conn_t *c, const char **q, size_t *len)
{
    const char *mark = memchr(c->url.data, '?', c->url.len);

    if (mark == NULL) {
        *q = "";
        *len = 0;
        return;
    }
    *q = mark + 1;
    *len = c->url.len - (size_t) (mark + 1 - c->url.data);
    /* http_parser keeps a #fragment in the URL: drop it */
    const char *hash = memchr(*q, '#', *len);
    if (hash != NULL)
        *len = (size_t) (hash - *q);
}

/* Parses a decimal parameter in [lo, hi]; responds 400 on failure. */
bool
route_param_u64(conn_t *c, const char *name, const buf_t *v, uint64_t lo,
                uint64_t hi, uint64_t *out)
{
    char msg[160];
    uint64_t x = 0;
    size_t i;

    for (i = 0; i < v->len && v->data[i] >= '0' && v->data[i] <= '9'; i++) {
        if (x > (UINT64_MAX - 9) / 10)
            break;
        x = x * 10 + (uint64_t) (v->data[i] - '0');
    }
    if (v->len == 0 || i != v->len || x < lo || x > hi) {
        snprintf(msg, sizeof(msg),
                 "parameter \"%s\" must be an integer "
                 "from %llu to %llu",
                 name, (unsigned long long) lo, (unsigned long long) hi);
        resp_error(c, 400, msg);
        return false;
    }
    *out = x;
    return true;
}

/* Parameters every read accepts (read-your-writes on a replica). */
static bool
common_param(const buf_t *key)
{
    return (key->len == 7 && memcmp(key->data, "min_lsn", 7) == 0)
           || (key->len == 10 && memcmp(key->data, "timeout_ms", 10) == 0);
}

void
route_bad_param(conn_t *c, const buf_t *key)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "unknown parameter \"%.*s\"",
             (int) MEMDB_MIN(key->len, 64), key->data);
    if (utf8_check(msg, strlen(msg)) >= 0)
        snprintf(msg, sizeof(msg), "unknown parameter");
    resp_error(c, 400, msg);
}

static void
handle_wordcount(conn_t *c)
{
    wrk_t *w = c->w;
    url_query_t q;
    buf_t key = { 0 }, val = { 0 };
    agg_t *a = &c->agg;
    const char *qs;
    size_t qlen;
    int rc;

    route_query(c, &qs, &qlen);
    url_query_init(&q, qs, qlen);
    agg_reset(a);
    while ((rc = url_query_next(&q, &key, &val)) == MEMDB_OK) {
        if (common_param(&key))
            continue;
        if (key.len != 4 || memcmp(key.data, "word", 4) != 0) {
            route_bad_param(c, &key);
            goto out;
        }
        if (val.len == 0 || utf8_check(val.data, val.len) >= 0) {
            resp_error(c, 400, "parameter \"word\" must be non-empty UTF-8");
            goto out;
        }
        if (a->n >= WORDCOUNT_MAX_WORDS) {
            resp_error_at(c, 400, "too many words in one request", "limit",
                          WORDCOUNT_MAX_WORDS);
            goto out;
        }
        agg_add(a, val.data, val.len);
    }
    if (rc == MEMDB_ERR) {
        resp_error(c, 400, "malformed %-escape in query string");
        goto out;
    }
    if (a->n == 0) {
        resp_error(c, 400, "missing parameter \"word\"");
        goto out;
    }
    w->tmp.len = 0;
    buf_putc(&w->tmp, '{');
    for (size_t i = 0; i < a->n; i++) {
        const agg_ent_t *e = &a->ents[i];
        uint64_t n = tables_count(c, agg_key(a, e), e->len, e->hash);
        if (i > 0)
            buf_putc(&w->tmp, ',');
        json_str(&w->tmp, agg_key(a, e), e->len);
        buf_putc(&w->tmp, ':');
        buf_put_u64(&w->tmp, n);
    }
    buf_putc(&w->tmp, '}');
    resp_json(c, 200, &w->tmp, NULL);
out:
    buf_free(&key);
    buf_free(&val);
}

static void
handle_top(conn_t *c)
{
    url_query_t q;
    buf_t key = { 0 }, val = { 0 };
    uint64_t k = 10;
    const char *qs;
    size_t qlen;
    int rc;

    route_query(c, &qs, &qlen);
    url_query_init(&q, qs, qlen);
    while ((rc = url_query_next(&q, &key, &val)) == MEMDB_OK) {
        if (key.len == 1 && key.data[0] == 'n') {
            if (!route_param_u64(c, "n", &val, 1, TOP_MAX, &k))
                goto out;
        } else {
            if (common_param(&key))
                continue;
            route_bad_param(c, &key);
            goto out;
        }
    }
    if (rc == MEMDB_ERR) {
        resp_error(c, 400, "malformed %-escape in query string");
        goto out;
    }
    top_start(c, c->tbl.gen, (size_t) k);
out:
    buf_free(&key);
    buf_free(&val);
}

static void status_persistence(buf_t *b, shm_node_t *n);
static void status_keys(buf_t *b, shm_t *s);

static void
handle_status(conn_t *c)
{
    wrk_t *w = c->w;
    shm_t *s = w->shm;
    uint64_t distinct, total;
    uint32_t role = atomic_load(&s->node->role);
    buf_t *b = &w->tmp;
    unsigned alive = 0;

    ht_totals(&s->ht, &distinct, &total);
    for (unsigned i = 0; i < s->node->nworkers; i++)
        alive += atomic_load(&s->workers[i].ready) != 0;
    b->len = 0;
    buf_putc(b, '{');
    json_kv_str(b, "node", s->node->node_id, true);
    json_kv_str(b, "version", MEMDB_VERSION, false);
    json_kv_str(b, "role", shm_role_name(role), false);
    json_kv_u64(b, "uptime_s", (util_now_ms() - s->node->start_mono_ms) / 1000,
                false);
    json_kv_u64(b, "words", total, false);
    json_kv_u64(b, "distinct", distinct, false);
    json_kv_u64(b, "lsn", atomic_load(&s->ring.hdr->next_lsn) - 1, false);
    json_kv_u64(b, "epoch", atomic_load(&s->node->epoch), false);
    json_key(b, "memory", false);
    buf_putc(b, '{');
    json_kv_u64(b, "used", shm_mem_used(s), true);
    json_kv_u64(b, "limit", shm_mem_limit(s), false);
    buf_putc(b, '}');
    json_key(b, "workers", false);
    buf_putc(b, '{');
    json_kv_u64(b, "configured", s->node->nworkers, true);
    json_kv_u64(b, "alive", alive, false);
    buf_putc(b, '}');
    json_kv_u64(b, "uploads", atomic_load(&s->node->uploads), false);
    json_kv_u64(b, "tables", cat_count(&s->cat), false);
    status_keys(b, s);
    status_persistence(b, s->node);
    if (atomic_load(&s->node->clustered)) {
        shm_roster_t *ro = s->roster;
        json_key(b, "cluster", false);
        buf_putc(b, '{');
        json_kv_u64(b, "applied_lsn", gate_applied_lsn(s), true);
        json_kv_u64(b, "members", ro->tab[atomic_load(&ro->cur) & 1].n, false);
        json_kv_u64(b, "gossip_bad", atomic_load(&ro->gossip_bad), false);
        json_kv_u64(b, "repl_bad", atomic_load(&ro->repl_bad), false);
        json_kv_u64(b, "auth_bad", atomic_load(&ro->auth_bad), false);
        json_kv_u64(b, "pending_merges", atomic_load(&ro->pending_merges),
                    false);
        json_key(b, "syncing", false);
        buf_puts(b, atomic_load(&s->node->syncing) ? "true" : "false");
        buf_putc(b, '}');
    }
    buf_putc(b, '}');
    resp_json(c, 200, b, NULL);
}

/* "idempotency": the Idempotency-Key table (shm/idem.h) */
static void
status_keys(buf_t *b, shm_t *s)
{
    idem_hdr_t *h = s->idem.hdr;

    json_key(b, "idempotency", false);
    buf_putc(b, '{');
    json_kv_u64(b, "keys", atomic_load(&h->live), true);
    json_kv_u64(b, "max_keys", h->max_keys, false);
    json_kv_u64(b, "window_ms", h->window_ms, false);
    json_kv_u64(b, "bytes", idem_size(h->max_keys), false);
    json_kv_u64(b, "replays", atomic_load(&h->replays), false);
    json_kv_u64(b, "conflicts", atomic_load(&h->conflicts), false);
    json_kv_u64(b, "forgotten", atomic_load(&h->forgotten), false);
    buf_putc(b, '}');
}

/* "persistence": {...}, "recovery": {...} */
static void
status_persistence(buf_t *b, shm_node_t *n)
{
    uint32_t e = atomic_load(&n->disk_errno);

    json_key(b, "persistence", false);
    buf_putc(b, '{');
    json_kv_str(b, "fsync", conf_fsync_name(atomic_load(&n->fsync_mode)),
                true);
    json_kv_u64(b, "written_lsn", atomic_load(&n->written_lsn), false);
    json_kv_u64(b, "durable_lsn", atomic_load(&n->durable_lsn), false);
    json_kv_u64(b, "snapshot_lsn", atomic_load(&n->snap_lsn), false);
    json_kv_u64(b, "snapshot_ms", atomic_load(&n->snap_ms), false);
    json_kv_u64(b, "snapshot_failures", atomic_load(&n->snap_failures), false);
    json_kv_str(b, "disk_error", e ? strerror((int) e) : "", false);
    buf_putc(b, '}');
    json_key(b, "recovery", false);
    buf_putc(b, '{');
    json_kv_u64(b, "snapshot_lsn", n->rec_snap_lsn, true);
    json_kv_u64(b, "snapshot_words", n->rec_snap_words, false);
    json_kv_u64(b, "records", n->rec_records, false);
    json_kv_u64(b, "ms", n->rec_ms, false);
    json_kv_str(b, "truncated_file", n->rec_truncated, false);
    json_kv_u64(b, "truncated_offset", n->rec_truncated_off, false);
    buf_putc(b, '}');
}

static void
snapshot_answer(conn_t *c)
{
    shm_node_t *n = c->w->shm->node;
    buf_t *b = &c->w->tmp;

    if (atomic_load(&n->snap_failures) != c->wait_aux) {
        resp_error(c, 500, "the snapshot failed; see the server log");
        resp_done(c);
        return;
    }
    b->len = 0;
    buf_putc(b, '{');
    json_kv_u64(b, "lsn", atomic_load(&n->snap_lsn), true);
    json_kv_str(b, "path", n->snap_path, false);
    json_kv_u64(b, "ms", atomic_load(&n->snap_ms), false);
    buf_putc(b, '}');
    resp_json(c, 200, b, NULL);
    resp_done(c);
}

/* Asks the master for a snapshot and parks until it is taken. */
static void
handle_snapshot(conn_t *c)
{
    shm_node_t *n = c->w->shm->node;
    uint64_t my = atomic_fetch_add(&n->snap_req, 1) + 1;

    c->wait_aux = atomic_load(&n->snap_failures);
    wrk_park(c->w, c, WAIT_SNAP, my);
    wrk_notify_master(c->w);
}

/* Answers a parked snapshot request if it is done; true if answered. */
static bool
route_snapshot_resume(conn_t *c)
{
    if (atomic_load(&c->w->shm->node->snap_done) < c->wait_val)
        return false;
    snapshot_answer(c);
    return true;
}

static void
handle_allwords(conn_t *c)
{
    url_query_t q;
    buf_t key = { 0 }, val = { 0 }, prefix = { 0 };
    uint64_t limit = UINT64_MAX;
    const char *qs;
    size_t qlen;
    int rc;

    route_query(c, &qs, &qlen);
    url_query_init(&q, qs, qlen);
    while ((rc = url_query_next(&q, &key, &val)) == MEMDB_OK) {
        if (key.len == 6 && memcmp(key.data, "prefix", 6) == 0) {
            if (utf8_check(val.data, val.len) >= 0) {
                resp_error(c, 400, "parameter \"prefix\" must be UTF-8");
                goto out;
            }
            prefix.len = 0;
            buf_append(&prefix, val.data, val.len);
        } else if (key.len == 5 && memcmp(key.data, "limit", 5) == 0) {
            if (!route_param_u64(c, "limit", &val, 0, UINT64_MAX - 1, &limit))
                goto out;
        } else {
            if (common_param(&key))
                continue;
            route_bad_param(c, &key);
            goto out;
        }
    }
    if (rc == MEMDB_ERR) {
        resp_error(c, 400, "malformed %-escape in query string");
        goto out;
    }
    stream_start(c, c->tbl.gen, prefix.data, prefix.len, limit);
out:
    buf_free(&key);
    buf_free(&val);
    buf_free(&prefix);
}

/* Reads wait for ?min_lsn (read your writes on a replica), and are refused
 * while a replica installs a full sync. */
static bool
read_ready(conn_t *c)
{
    uint64_t min_lsn = 0, tmo = 1000;
    const char *qs;
    size_t qlen;

    if (atomic_load(&c->w->shm->node->syncing)) {
        resp_error(c, 503,
                   "this replica is being resynchronized from the "
                   "leader; retry shortly");
        resp_done(c);
        return false;
    }
    route_query(c, &qs, &qlen);
    if (qlen == 0 || c->wait_ok)
        return true;
    if (!gate_wait_params(c, qs, qlen, "min_lsn", &min_lsn, &tmo))
        return false;
    if (min_lsn == 0 || gate_applied_lsn(c->w->shm) >= min_lsn)
        return true;
    c->deadline_aux = c->w->now_ms + tmo;
    wrk_park(c->w, c, WAIT_LSN, min_lsn);
    return false;
}

/* Admin requests (anything that changes more than counts) need
 * "Authorization: Bearer <admin.token_file>" when a token is configured.
 * The comparison takes the same time wherever the first difference is. */
static bool
admin_ok(conn_t *c)
{
    const char *tok = c->w->conf->admin_token;
    const char *got = c->auth;
    size_t n = strlen(tok);
    unsigned char diff = 0;

    if (tok[0] == '\0')
        return true;
    if (strncasecmp(got, "Bearer ", 7) == 0 && strlen(got + 7) == n) {
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char) (got[7 + i] ^ tok[i]);
        if (diff == 0)
            return true;
    }
    resp_error(c, 401,
               c->auth[0]
                   ? "wrong bearer token"
                   : "this request needs \"Authorization: Bearer <token>\"");
    resp_done(c);
    return false;
}

void
route_dispatch(conn_t *c)
{
    switch (c->route) {
    case RT_SNAPSHOT:
    case RT_CL_MEET:
    case RT_CL_FAILOVER:
    case RT_CL_FORGET:
    case RT_FAULT:
        if (!admin_ok(c))
            return;
        break;
    case RT_WORDCOUNT:
    case RT_ALLWORDS:
    case RT_TOP:
        if (!read_ready(c) || !tables_resolve(c))
            return;
        break;
    case RT_TABLES_LIST:
    case RT_TABLE_DESCRIBE:
        if (!read_ready(c))
            return;
        break;
    default: break;
    }
    c->wait_ok = false;
    switch (c->route) {
    case RT_UPLOAD:
    case RT_RETRACT: upload_complete(c); return;
    case RT_FORGET_WORD: upload_forget(c); return;
    case RT_TABLES_LIST:
    case RT_TABLE_CREATE:
    case RT_TABLE_DESCRIBE:
    case RT_TABLE_DROP:
    case RT_TABLE_TRUNCATE: tables_handle(c); return;
    case RT_WORDCOUNT: handle_wordcount(c); break;
    case RT_ALLWORDS:
        handle_allwords(c);
        if (c->phase == PH_STREAM)
            return;
        break;
    case RT_TOP:
        handle_top(c);
        if (c->phase == PH_STREAM)
            return;
        break;
    case RT_STATUS: handle_status(c); break;
    case RT_SNAPSHOT: handle_snapshot(c); return;
    case RT_CL_NODES:
    case RT_CL_MEET:
    case RT_CL_FAILOVER:
    case RT_CL_FORGET: members_handle(c); return;
    case RT_METRICS: metrics_handle(c); return;
    case RT_FAULT: faultapi_handle(c); break;
    case RT_OPENAPI:
    case RT_DOCS: apidoc_handle(c); return; /* streamed: done when written */
    case RT_HEALTHZ:
        if (c->w->draining) {
            resp_error(c, 503, "shutting down");
        } else {
            buf_t *b = &c->w->tmp;
            b->len = 0;
            buf_puts(b, "{\"status\":\"ok\"}");
            resp_json(c, 200, b, NULL);
        }
        break;
    default:
        if (c->allow != NULL)
            resp_error(c, 405, "method not allowed");
        else
            resp_error(c, 404, "no such endpoint");
        break;
    }
    resp_done(c);
}

/* Moves a parked connection on; expired: its deadline passed.  Returns
 * true when it was answered (or its request resumed). */
bool
route_resume(conn_t *c, bool expired)
{
    switch (c->wait) {
    case WAIT_SNAP: return route_snapshot_resume(c);
    case WAIT_LSN:
        if (gate_applied_lsn(c->w->shm) >= c->wait_val) {
            c->wait_ok = true;
            c->phase = PH_BODY;
            route_dispatch(c);
            return c->phase != PH_WAIT;
        }
        if (!expired)
            return false;
        resp_error_at(c, 504, "this node did not apply min_lsn in time", "lsn",
                      gate_applied_lsn(c->w->shm));
        resp_done(c);
        return true;
    case WAIT_CMD: return members_resume(c, expired);
    default: return upload_resume(c, expired);
    }
}
