/*
 * metrics.c - GET /metrics in the Prometheus text format (version 0.0.4),
 * and the per-request accounting behind it.
 *
 * Each worker counts its own requests in its shm_stats_t slot (one writer
 * per slot, relaxed atomics); /metrics sums the slots of every worker.
 * Everything else comes from the shared node state, the table and the
 * roster (shm/roster.h).
 */
#include "worker/wrk.h"
#include "src/core/util.h"

#include <stdio.h>
#include <string.h>

static const int codes[STAT_CODES - 1] = {
    200, 307, 400, 401, 404, 405, 408, 409, 413, 417,
    431, 500, 503, 504, 505, 507, 411, 501, 422,
};

/* clang-format off */
static const char *const route_names[STAT_ROUTES] = {
    [RT_NONE] = "none", [RT_UPLOAD] = "upload", [RT_WORDCOUNT] = "wordcount",
    [RT_ALLWORDS] = "allwords", [RT_TOP] = "top", [RT_STATUS] = "status",
    [RT_HEALTHZ] = "healthz", [RT_SNAPSHOT] = "snapshot",
    [RT_CL_NODES] = "cluster_nodes", [RT_CL_MEET] = "cluster_meet",
    [RT_CL_FAILOVER] = "cluster_failover", [RT_CL_FORGET] = "cluster_forget",
    [RT_METRICS] = "metrics", [RT_OPENAPI] = "openapi", [RT_DOCS] = "docs",
    [RT_RETRACT] = "retract", [RT_FORGET_WORD] = "forget",
    [RT_TABLES_LIST] = "tables", [RT_TABLE_CREATE] = "table_create",
    [RT_TABLE_DESCRIBE] = "table", [RT_TABLE_DROP] = "table_drop",
    [RT_TABLE_TRUNCATE] = "table_truncate",
};
/* clang-format on */

/* upper bounds in microseconds; the last bucket is +Inf */
static const uint64_t bounds_us[STAT_BUCKETS - 1] = {
    100,   250,   500,    1000,   2500,   5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000,
};

_Static_assert(RT_DOCS < STAT_ROUTES, "every route has a stats row");

static unsigned
code_index(int status)
{
    for (unsigned i = 0; i < MEMDB_NELEM(codes); i++)
        if (codes[i] == status)
            return i;
    return STAT_CODES - 1; /* other */
}

void
metrics_count(conn_t *c, uint64_t usec)
{
    shm_stats_t *st = &c->w->shm->stats[c->w->slot_no];
    unsigned r = c->route < STAT_ROUTES ? (unsigned) c->route : 0, b = 0;

    while (b < STAT_BUCKETS - 1 && usec > bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&st->req[r][code_index(c->status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&st->lat[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->lat_sum_us[r], usec, memory_order_relaxed);
}

static uint64_t
sum_req(shm_t *s, unsigned r, unsigned k)
{
    uint64_t t = 0;
    for (unsigned w = 0; w < SHM_MAX_WORKERS; w++)
        t += atomic_load_explicit(&s->stats[w].req[r][k],
                                  memory_order_relaxed);
    return t;
}

static void
put_requests(buf_t *b, shm_t *s)
{
    buf_puts(b, "# HELP memdb_http_requests_total HTTP requests answered, "
                "by route and status.\n# TYPE memdb_http_requests_total "
                "counter\n");
    for (unsigned r = 0; r < STAT_ROUTES; r++) {
        if (route_names[r] == NULL)
            continue;
        for (unsigned k = 0; k < STAT_CODES; k++) {
            uint64_t n = sum_req(s, r, k);
            if (n == 0)
                continue;
            if (k < STAT_CODES - 1)
                buf_printf(b,
                           "memdb_http_requests_total{route=\"%s\","
                           "status=\"%d\"} %llu\n",
                           route_names[r], codes[k], (unsigned long long) n);
            else
                buf_printf(b,
                           "memdb_http_requests_total{route=\"%s\","
                           "status=\"other\"} %llu\n",
                           route_names[r], (unsigned long long) n);
        }
    }
}

static void
put_latency(buf_t *b, shm_t *s)
{
    buf_puts(b, "# HELP memdb_http_request_duration_seconds Time from the "
                "first byte of a request to its answer.\n# TYPE "
                "memdb_http_request_duration_seconds histogram\n");
    for (unsigned r = 0; r < STAT_ROUTES; r++) {
        uint64_t cum = 0, sum = 0;
        if (route_names[r] == NULL)
            continue;
        for (unsigned w = 0; w < SHM_MAX_WORKERS; w++)
            sum += atomic_load_explicit(&s->stats[w].lat_sum_us[r],
                                        memory_order_relaxed);
        for (unsigned k = 0; k < STAT_BUCKETS; k++) {
            for (unsigned w = 0; w < SHM_MAX_WORKERS; w++)
                cum += atomic_load_explicit(&s->stats[w].lat[r][k],
                                            memory_order_relaxed);
            if (k < STAT_BUCKETS - 1)
                buf_printf(b,
                           "memdb_http_request_duration_seconds_bucket{"
                           "route=\"%s\",le=\"%g\"} %llu\n",
                           route_names[r], (double) bounds_us[k] / 1e6,
                           (unsigned long long) cum);
            else
                buf_printf(b,
                           "memdb_http_request_duration_seconds_bucket{"
                           "route=\"%s\",le=\"+Inf\"} %llu\n",
                           route_names[r], (unsigned long long) cum);
        }
        buf_printf(b,
                   "memdb_http_request_duration_seconds_sum{route=\"%s\"} "
                   "%.6f\n",
                   route_names[r], (double) sum / 1e6);
        buf_printf(b,
                   "memdb_http_request_duration_seconds_count{route=\"%s\""
                   "} %llu\n",
                   route_names[r], (unsigned long long) cum);
    }
}

static void
gauge(buf_t *b, const char *name, const char *help, const char *type,
      uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
               type, name, (unsigned long long) v);
}

/* The tables (shm/catalog.h). */
static void
put_tables(buf_t *b, shm_t *s)
{
    gauge(b, "memdb_tables", "Tables in the store, default included.", "gauge",
          cat_count(&s->cat));
    gauge(b, "memdb_tables_limit", "store.max_tables, and default.", "gauge",
          s->cat.hdr->max);
    gauge(b, "memdb_sweeps_total",
          "Sweeps of the words of dropped or truncated tables (and of "
          "words at 0) out of the store.",
          "counter", atomic_load(&s->node->sweeps));
    gauge(b, "memdb_swept_words_total",
          "Words those sweeps took out; new words reuse their memory.",
          "counter", atomic_load(&s->node->swept_words));
    tables_metrics(b, s);
}

/* The Idempotency-Key table (shm/idem.h). */
static void
put_keys(buf_t *b, idem_hdr_t *h)
{
    gauge(b, "memdb_idempotency_keys",
          "Idempotency-Keys remembered (counted or being counted).", "gauge",
          atomic_load(&h->live));
    gauge(b, "memdb_idempotency_keys_limit", "uploads.idempotency_max_keys.",
          "gauge", h->max_keys);
    gauge(b, "memdb_idempotency_memory_bytes",
          "Shared memory of the key table (allocated at start).", "gauge",
          idem_size(h->max_keys));
    gauge(b, "memdb_idempotency_replays_total",
          "Uploads answered as a replay of one counted before (and "
          "handed-over records a retry had counted).",
          "counter", atomic_load(&h->replays));
    gauge(b, "memdb_idempotency_conflicts_total",
          "Uploads refused: key in flight (409), another body (422), table "
          "full (503).",
          "counter", atomic_load(&h->conflicts));
    gauge(b, "memdb_idempotency_forgotten_total",
          "Keys forgotten before their window ended, for room "
          "(uploads.idempotency_max_keys).",
          "counter", atomic_load(&h->forgotten));
}

static void
put_node(buf_t *b, shm_t *s)
{
    shm_node_t *n = s->node;
    uint64_t distinct, total;
    uint32_t role = atomic_load(&n->role);

    ht_totals(&s->ht, &distinct, &total);
    gauge(b, "memdb_words", "Occurrences counted (sum of all counts).",
          "gauge", total);
    gauge(b, "memdb_distinct_words", "Distinct words stored.", "gauge",
          distinct);
    gauge(b, "memdb_memory_used_bytes", "Store memory in use.", "gauge",
          shm_mem_used(s));
    gauge(b, "memdb_memory_limit_bytes", "store.max_memory.", "gauge",
          shm_mem_limit(s));
    gauge(b, "memdb_uploads_total", "Uploads accepted.", "counter",
          atomic_load(&n->uploads));
    gauge(b, "memdb_uploads_rejected_total",
          "Uploads refused because the "
          "store was full.",
          "counter", atomic_load(&n->rejected));
    put_keys(b, s->idem.hdr);
    put_tables(b, s);
    buf_puts(b, "# HELP memdb_lsn Log sequence numbers of this node.\n"
                "# TYPE memdb_lsn gauge\n");
    buf_printf(b, "memdb_lsn{kind=\"last\"} %llu\n",
               (unsigned long long) (atomic_load(&s->ring.hdr->next_lsn) - 1));
    buf_printf(b, "memdb_lsn{kind=\"applied\"} %llu\n",
               (unsigned long long) gate_applied_lsn(s));
    buf_printf(b, "memdb_lsn{kind=\"written\"} %llu\n",
               (unsigned long long) atomic_load(&n->written_lsn));
    buf_printf(b, "memdb_lsn{kind=\"durable\"} %llu\n",
               (unsigned long long) atomic_load(&n->durable_lsn));
    buf_printf(b, "memdb_lsn{kind=\"snapshot\"} %llu\n",
               (unsigned long long) atomic_load(&n->snap_lsn));
    gauge(b, "memdb_fsync_total", "fsyncs of the change log.", "counter",
          atomic_load(&n->fsyncs));
    buf_printf(b,
               "# HELP memdb_fsync_seconds_total Time spent in fsync of "
               "the change log.\n# TYPE memdb_fsync_seconds_total counter\n"
               "memdb_fsync_seconds_total %.6f\n",
               (double) atomic_load(&n->fsync_ns) / 1e9);
    gauge(b, "memdb_disk_error", "1 while the change log cannot be written.",
          "gauge", atomic_load(&n->disk_errno) != 0);
    gauge(b, "memdb_epoch", "Current epoch (term).", "gauge",
          atomic_load(&n->epoch));
    buf_printf(b,
               "# HELP memdb_role Role of this node.\n# TYPE memdb_role "
               "gauge\nmemdb_role{role=\"%s\"} 1\n",
               shm_role_name(role));
}

static void
put_cluster(buf_t *b, shm_t *s)
{
    static roster_member_t m[ROSTER_MAX_MEMBERS];
    shm_roster_t *ro = s->roster;
    char lid[ROSTER_ID_MAX], lhttp[ROSTER_ADDR_MAX];
    uint32_t n, states[4] = { 0 };
    uint64_t last = atomic_load(&s->ring.hdr->next_lsn) - 1;
    bool leading = atomic_load(&s->node->role) == ROLE_LEADER;

    if (!atomic_load(&s->node->clustered))
        return;
    roster_read(ro, m, &n, lid, lhttp);
    for (uint32_t i = 0; i < n; i++)
        states[m[i].state < 4 ? m[i].state : 3]++;
    buf_puts(b, "# HELP memdb_cluster_members Members by gossip state.\n"
                "# TYPE memdb_cluster_members gauge\n");
    for (int k = 0; k < 4; k++)
        buf_printf(b, "memdb_cluster_members{state=\"%s\"} %u\n",
                   roster_state_name((uint32_t) k), states[k]);
    if (leading) {
        buf_puts(b, "# HELP memdb_replica_lag Records a replica has not "
                    "acknowledged yet.\n# TYPE memdb_replica_lag gauge\n");
        for (uint32_t i = 0; i < n; i++)
            if (!m[i].self)
                buf_printf(
                    b, "memdb_replica_lag{replica=\"%s\"} %llu\n", m[i].id,
                    (unsigned long long) (last > m[i].acked ? last - m[i].acked
                                                            : 0));
    }
    gauge(b, "memdb_handover_discarded_total",
          "Handed-over records whose table the new leader had dropped: "
          "their words were discarded.",
          "counter", atomic_load(&ro->merge_discarded));
    gauge(b, "memdb_gossip_malformed_total",
          "Gossip datagrams dropped as "
          "malformed.",
          "counter", atomic_load(&ro->gossip_bad));
    gauge(b, "memdb_replication_malformed_total",
          "Replication frames and "
          "connections refused.",
          "counter", atomic_load(&ro->repl_bad));
    gauge(b, "memdb_auth_failures_total",
          "Cluster traffic that failed "
          "authentication.",
          "counter", atomic_load(&ro->auth_bad));
}

void
metrics_handle(conn_t *c)
{
    buf_t *b = &c->w->tmp;

    b->len = 0;
    put_requests(b, c->w->shm);
    put_latency(b, c->w->shm);
    put_node(b, c->w->shm);
    put_cluster(b, c->w->shm);
    resp_head(c, 200, "text/plain; version=0.0.4; charset=utf-8",
              (int64_t) b->len, NULL);
    resp_body(c, b->data, b->len);
    resp_done(c);
}
