/*
 * wrk.h - internals of the HTTP worker, shared by its files:
 *   worker.c   the event loop, accept, timeouts, signals, draining
 *   conn.c     one connection: its socket and life cycle (read, write,
 *              timeouts, close)
 *   http.c     the HTTP parser glue: libhttp_parser's callbacks, header
 *              fields, framing checks, refusals
 *   resp.c     building responses
 *   route.c    request routing and the read endpoints
 *   upload.c   POST /api/v1/upload: tokenize, aggregate, commit
 *   gate.c     the node's place in its cluster: 307 to the leader, the
 *              write quorum, ?wait=N replicas, ?min_lsn, the applied LSN
 *   members.c  GET /api/v1/cluster/nodes, POST .../meet|failover|forget
 *   stream.c   GET /api/v1/allwords, streamed in chunks
 *   metrics.c  GET /metrics
 *   apidoc.c   GET /openapi.yaml and GET /docs, compiled in
 *   faultapi.c the fault points' endpoint (test builds)
 */
#ifndef MEMDB_WORKER_WRK_H
#define MEMDB_WORKER_WRK_H

#include "worker/worker.h"
#include "src/words/agg.h"
#include "src/core/buf.h"
#include "src/core/proc.h"
#include "src/words/tok.h"
#include "src/words/prof.h"
#include "shm/shm.h"

#include <http_parser.h>

#define WRK_READ_CHUNK   (64 * 1024)
#define WRK_OUT_HIGH     (256 * 1024) /* pause parsing above this */
#define WRK_STREAM_CHUNK (64 * 1024)

typedef struct wrk_s wrk_t;
typedef struct conn_s conn_t;

enum { EV_LISTEN = 1, EV_WAKE, EV_PDEATH, EV_SIGNAL, EV_CONN };
enum { CONN_CLOSE, CONN_WAIT, CONN_AGAIN };

typedef enum {
    PH_IDLE,    /* between requests */
    PH_HEADERS, /* reading a request head */
    PH_BODY,    /* reading a body */
    PH_WAIT,    /* parked: waiting for the ring, fsync or replicas */
    PH_STREAM,  /* writing a streamed response */
    PH_CLOSING, /* flushing the last response, then close */
} conn_phase_e;

typedef enum {
    RT_NONE = 0,
    RT_UPLOAD,
    RT_WORDCOUNT,
    RT_ALLWORDS,
    RT_TOP,
    RT_STATUS,
    RT_HEALTHZ,
    RT_SNAPSHOT,
    RT_CL_NODES,
    RT_CL_MEET,
    RT_CL_FAILOVER,
    RT_CL_FORGET,
    RT_METRICS,
    RT_OPENAPI,
    RT_DOCS,
    RT_FAULT, /* test builds only (faultapi.c) */
    RT_RETRACT,
    RT_FORGET_WORD,
    RT_TABLES_LIST,
    RT_TABLE_CREATE,
    RT_TABLE_DESCRIBE,
    RT_TABLE_DROP,
    RT_TABLE_TRUNCATE,
} route_e;

/* Does this route's body carry words to count or take back (upload.c)? */
static inline bool
route_takes_words(route_e r)
{
    return r == RT_UPLOAD || r == RT_RETRACT;
}

/* What a write of words does (conn_t.up_kind, upload.c). */
enum { UP_ADD = 0, UP_RETRACT, UP_FORGET, UP_TABLE };

/* The Transfer-Encoding fields of a request (http.c). */
enum {
    TE_SEEN = 1,         /* a Transfer-Encoding field */
    TE_CHUNKED = 2,      /* chunked among the codings */
    TE_LAST_CHUNKED = 4, /* chunked is the last coding so far */
    TE_TWICE = 8,        /* chunked more than once */
    TE_OTHER = 16,       /* a coding memdb does not implement */
    TE_BAD = 32,         /* not a list of transfer codings */
};

/* conn_t.lf_check: the parser paused at a byte that must be LF (http.c) */
enum { LF_NONE, LF_LAST /* the last byte it took */, LF_NEXT /* the next */ };

/* conn_t.ikey: the request's Idempotency-Key field */
enum { IKEY_NONE, IKEY_OK, IKEY_BAD, IKEY_TWICE };

/* What a parked connection waits for. */
typedef enum {
    WAIT_RING = 1, /* room in the change ring */
    WAIT_DURABLE,  /* wait_val durable (persistence.fsync: always) */
    WAIT_SNAP,     /* snapshot request wait_val answered */
    WAIT_REPL,     /* wait_aux replicas acknowledged wait_val */
    WAIT_LSN,      /* this node applied wait_val (?min_lsn) */
    WAIT_ROLE,     /* a leadership hand-over ends */
    WAIT_CMD,      /* the replicator took cluster request wait_val */
} wait_e;

/* A request that reads the whole store before it answers (GET /top,
 * the tables' sizes): a stream that writes only its end.  next() names
 * the partition to read next, -1 when it has seen enough (NULL: all of
 * them in order), or SCAN_AGAIN: nothing to copy this time, call again
 * (it did a slice of work of its own); part() sees the words of one
 * partition (a consistent copy), done() answers, drop() frees arg (also
 * when the connection goes first). */
#define SCAN_AGAIN (-2)
typedef struct scan_ops_s {
    long (*next)(void *arg);
    void (*part)(void *arg, const ht_copy_t *cp);
    void (*done)(conn_t *c, void *arg);
    void (*drop)(void *arg);
} scan_ops_t;

typedef struct stream_s {
    const scan_ops_t *scan; /* a scan (stream_scan), or NULL */
    void *scan_arg;
    unsigned part; /* next partition */
    ht_copy_t cp;  /* the words of the current partition */
    size_t i;
    uint64_t emitted, limit;
    uint64_t gen; /* the table's generation (shm/catalog.h) */
    buf_t prefix;
    bool opened; /* '{' written */
    bool first;  /* no word written yet */
    bool chunked;
    const char *data; /* a static body (stream_static), or NULL */
    size_t data_len, data_off;
} stream_t;

struct conn_s {
    int ev; /* EV_CONN: first field, see worker.c */
    int fd;
    wrk_t *w;
    size_t idx; /* in w->conns */
    http_parser parser;
    buf_t in;
    size_t in_off; /* parsed bytes of in */
    buf_t out;
    size_t out_off; /* written bytes of out */
    char client[64];
    conn_phase_e phase;
    uint64_t deadline_ms;
    uint64_t req_start_ns;
    bool want_close;
    bool paused;
    bool eof;
    bool later;  /* queued in w->later */
    bool closed; /* freed at the end of the iteration */

    /* the request being read */
    buf_t url;
    size_t path_len;  /* path part of url */
    size_t path_off;  /* where the path starts in url */
    size_t path_word; /* .../words/{w}: where w starts in url */
    size_t head_bytes;
    buf_t hname;
    bool in_value;
    bool value_ended; /* the value's line ended: more of it is obs-fold */
    bool expect_continue;
    bool is_head;          /* HEAD: answers end after their header section */
    bool headers_done;     /* header fields from now on are trailer fields */
    unsigned hosts;        /* Host fields */
    bool host_bad;         /* a Host field that is not uri-host [":" port] */
    uint8_t te;            /* TE_* of the Transfer-Encoding fields */
    uint8_t lf_check;      /* LF_*: the parser paused to have a byte checked */
    const char *want;      /* framing bytes the stream must go on with */
    const char *want_what; /* what the error names if it does not */
    route_e route;
    const char *allow; /* Allow: for a 405 */
    wait_e wait;       /* while PH_WAIT */
    uint64_t wait_val;
    uint64_t wait_aux;
    uint64_t deadline_aux; /* a parked request's deadline */
    bool wait_ok;          /* resumed read: min_lsn reached */
    uint8_t ikey;          /* upload: IKEY_* of its key field */
    bool ikey_claimed;     /* upload: its key claimed in the key table */
    bool ikey_replay;      /* upload: the answer is the key's first upload's */
    bool retry_after;      /* a 409 that a retry may clear (key in flight) */
    uint8_t up_kind;       /* UP_*: what the write of words does */
    char auth[CONF_TOKEN_MAX + 8]; /* Authorization value */
    uint64_t up_wait;              /* upload ?wait=N */
    uint64_t up_timeout;           /* upload ?timeout_ms */
    uint64_t body_bytes;
    int status; /* last response status (for the log) */
    uint64_t resp_bytes;

    /* the table the request names (tables.c) */
    char tname[CAT_NAME_MAX + 1];
    uint8_t tname_len;
    uint16_t tbl_op; /* UP_TABLE: REC_TABLE_* */
    cat_view_t tbl;  /* resolved (tables_resolve) */
    buf_t body;      /* a create request's body */
    prof_t tprof;    /* the table's tokenizer profile */
    ptok_t ptok;

    /* upload */
    tok_t tok;
    agg_t agg;
    buf_t rec;
    uint64_t up_words, up_distinct; /* the answer */
    /* its Idempotency-Key (upload.c; ikey* flags are above) */
    idem_key_t ikey_hash;
    uint64_t up_body[2]; /* hash of the body */
    uint64_t up_time_ms; /* accepted at (wall clock) */
    struct crypto_generichash_blake2b_state *ibody; /* hashing the body */

    stream_t *stream;
};

struct wrk_s {
    const conf_t *conf;
    shm_t *shm;
    shm_worker_t *slot;
    int slot_no;
    proc_t proc; /* the signalfd and the epoll set */
    int listen_fd;
    int wake_fd;
    int notify_fd;
    int pdeath_fd;
    bool draining;
    bool listening;
    conn_t **conns;
    size_t nconns, conns_cap;
    conn_t **parked; /* waiting for the ring */
    size_t nparked, parked_cap;
    conn_t **later; /* to continue next iteration */
    size_t nlater, later_cap;
    conn_t **dead; /* closed this iteration */
    size_t ndead, dead_cap;
    uint64_t now_ms;
    buf_t tmp; /* scratch for one handler */
    buf_t tmp2;
};

/* conn.c */
/* State of a new connection, no socket work (the fuzz target uses it). */
void conn_init(conn_t *c, wrk_t *w, int fd);
/* Frees what a connection holds besides its socket and itself. */
void conn_release(conn_t *c);
conn_t *conn_new(wrk_t *w, int fd, const struct sockaddr *sa);
void conn_on_event(conn_t *c, uint32_t events);
/* Continues a connection that was parked or streaming. */
void conn_resume(conn_t *c);
void conn_flush(conn_t *c);
void conn_timeout(conn_t *c);
void conn_set_phase(conn_t *c, conn_phase_e ph);

/* http.c (the fuzz target drives a connection through these) */
/* Parses what c->in holds past c->in_off, with the checks the parser does
 * not make, until a pause, a refused request or the end of the input;
 * consumed input is dropped from c->in. */
void http_parse(conn_t *c);
/* The request being read has a body (Content-Length > 0 or chunked). */
bool http_has_body(const conn_t *c);

/* resp.c */
void resp_head(conn_t *c, int status, const char *ctype, int64_t clen,
               const char *extra);
void resp_json(conn_t *c, int status, const buf_t *body, const char *extra);
/* Appends n bytes of body, unless the request is HEAD. */
void resp_body(conn_t *c, const void *p, size_t n);
/* {"error": msg, "status": N} plus an optional numeric field. */
void resp_error(conn_t *c, int status, const char *msg);
void resp_error_at(conn_t *c, int status, const char *msg, const char *key,
                   uint64_t val);
/* Request done: logs it and readies the connection for the next one. */
void resp_done(conn_t *c);

/* route.c */
route_e route_find(conn_t *c, const char *path, size_t len, int method);
void route_dispatch(conn_t *c);
bool route_resume(conn_t *c, bool expired);
void route_query(conn_t *c, const char **q, size_t *len);
bool route_param_u64(conn_t *c, const char *name, const buf_t *v, uint64_t lo,
                     uint64_t hi, uint64_t *out);
void route_bad_param(conn_t *c, const buf_t *key);

/* metrics.c */
void metrics_count(conn_t *c, uint64_t usec);
void metrics_handle(conn_t *c);

/* gate.c */
/* The LSN this node applied: every record up to it is in its table. */
uint64_t gate_applied_lsn(shm_t *s);
/* Parses NAME=N and timeout_ms=T from a query (others ignored); 400 on a
 * bad value.  true if fine. */
bool gate_wait_params(conn_t *c, const char *qs, size_t qlen, const char *name,
                      uint64_t *val, uint64_t *tmo);
/* Before an upload: true if this node takes writes now; else it answered
 * (307 to the leader, 503) or parked the request (hand-over). */
bool gate_write(conn_t *c);
/* After an upload is durable: ?wait=N replicas. */
void gate_wait_replicas(conn_t *c, uint64_t lsn);
/* How many replicas acknowledged lsn. */
uint64_t gate_acked(shm_t *s, uint64_t lsn);
/* Replicas that must acknowledge a record before a majority of the
 * cluster holds it (0 unless this node leads a cluster). */
uint64_t gate_majority_acks(shm_t *s);

/* members.c */
void members_handle(conn_t *c);
/* Answers a parked cluster request once the replicator took it (or
 * expired); true if answered. */
bool members_resume(conn_t *c, bool expired);

/* upload.c */
int upload_begin(conn_t *c);
int upload_body(conn_t *c, const char *p, size_t n);
void upload_complete(conn_t *c);
/* Moves a parked upload on; true when it was answered. */
bool upload_resume(conn_t *c, bool expired);
/* An Idempotency-Key field of the request (OWS trimmed). */
void upload_key_field(conn_t *c, const char *v, size_t n);
/* The request ends (answered, or its connection closed): a claim it
 * still holds is given back. */
void upload_end(conn_t *c);
/* DELETE /api/v1/tables/{t}/words/{word}. */
void upload_forget(conn_t *c);
/* Commits the table operation tables.c built in c->rec. */
void upload_table_op(conn_t *c);

/* tables.c */
void tables_default(conn_t *c);
/* A path under /api/v1/tables: its route (c->tname set), or RT_NONE. */
route_e tables_route(conn_t *c, const char *path, size_t len, int method);
/* c->tbl for c->tname; false when answered 404. */
bool tables_resolve(conn_t *c);
bool tables_resolve_write(conn_t *c);
/* A word's count in the table c->tbl (h: its ht_hash()). */
uint64_t tables_count(conn_t *c, const char *word, size_t len, uint64_t h);
int tables_body(conn_t *c, const char *p, size_t n);
void tables_handle(conn_t *c);
/* Answers a table operation committed at lsn. */
void tables_answer(conn_t *c, uint64_t lsn);
/* Per-table gauges for GET /metrics (the master's census, census.h). */
void tables_metrics(buf_t *b, shm_t *s);

/* top.c: GET /top, a scan. */
void top_start(conn_t *c, uint64_t gen, size_t k);

/* stream.c */
/* Starts a scan (scan_ops_t above): a few partitions a call, so a turn
 * of the event loop looks at 1/64 of the store at most. */
void stream_scan(conn_t *c, const scan_ops_t *ops, void *arg);
void stream_start(conn_t *c, uint64_t gen, const char *prefix, size_t plen,
                  uint64_t lim);
/* Writes more of the stream; true when it ended. */
bool stream_fill(conn_t *c);
/* Answers 200 with a static body of len bytes (Content-Length), written
 * WRK_STREAM_CHUNK bytes at a time as the client reads it. */
void stream_static(conn_t *c, const char *ctype, const char *data, size_t len);
void stream_free(conn_t *c);

/* faultapi.c */
void faultapi_handle(conn_t *c);

/* apidoc.c */
void apidoc_handle(conn_t *c);

/* worker.c */
void wrk_park(wrk_t *w, conn_t *c, wait_e what, uint64_t val);
void wrk_unpark(wrk_t *w, conn_t *c);
void wrk_notify_master(wrk_t *w);
/* Continues c on the next loop iteration (fairness between clients). */
void wrk_later(wrk_t *w, conn_t *c);
/* Drops c from the worker's lists; wrk_bury frees it after the iteration. */
void wrk_forget(wrk_t *w, conn_t *c);
void wrk_bury(wrk_t *w, conn_t *c);

#endif
