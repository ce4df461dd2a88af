/*
 * fuzz_http.c - the HTTP request path of a worker: what a client sends on
 * a connection, through worker/http.c (libhttp_parser with the worker's own
 * settings and callbacks: head limits, header handling, Expect, the request
 * target, body limits, pipelining and pausing) to the handlers.
 *
 * It links libworker.a as memdbd does and drives a connection with
 * conn_init() and http_parse(), so production code needs no hook: the
 * link (-Wl,--wrap=route_dispatch, Makefile.am) sends the parser glue's
 * calls of route_dispatch() to __wrap_route_dispatch() here.  The worker
 * around it is real but has no socket, no epoll and no master: a shared
 * segment made here holds a small table, the read endpoints (wordcount,
 * top, allwords, status, metrics, healthz, cluster nodes) run as they are,
 * and so do the parameter checks of the admin and cluster requests.  Only
 * what needs the other processes is replaced:
 *   - an upload is tokenized and aggregated by the real upload code, then
 *     turned into a change record that must pass rec_check(), and answered
 *     without going through the ring;
 *   - a parked request (min_lsn, snapshot, cluster command) is resumed as
 *     if its deadline passed or the master answered.
 *
 * Input: byte 0 picks how the rest is cut into reads (0: one read), the
 * rest is the byte stream from the client.  Checks: the output is a
 * sequence of well-formed HTTP/1.1 responses (status line, Content-Length
 * or chunked framing that matches the body, nothing after "Connection:
 * close"), every JSON body parses, and the worker never loops.  A second
 * parser, apart from the worker's, splits the input into requests: there
 * are no more final responses than requests (one answer each), and the
 * answer to a HEAD request ends at its blank line.
 */
#include "worker/wrk.h"
#include "tests/fuzz/fuzz.h"
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* route_dispatch() itself, and what the parser glue calls instead. */
void __real_route_dispatch(conn_t *c);
void __wrap_route_dispatch(conn_t *c);

static conf_t conf;
static shm_t shm;
static wrk_t w;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *words[] = {
        "the", "cat",         "hat",      "and",         "the",
        "dog", "caf\xc3\xa9", "quote\"d", "back\\slash", "\xe2\x82\xac",
        "pre", "prefix",      "pref",     "tab\x01ctl",
    };
    shm_params_t p = { .max_memory = 16ULL << 20,
                       .ring_size = 1 << 20,
                       .nworkers = 1,
                       .node_id = "n1" };
    buf_t b = { 0 };

    (void) argc;
    (void) argv;
    log_set_level(LOG_LVL_ERROR);
    conf_defaults(&conf);
    conf.http_max_header = 4096;
    conf.http_max_body = 1 << 16;
    conf.store_max_word = 256;
    snprintf(conf.admin_token, sizeof(conf.admin_token),
             "fuzz-admin-token-0123456789");
    if (shm_create(&shm, &p) != MEMDB_OK)
        abort();
    rec_begin(&b, REC_UPLOAD);
    for (size_t i = 0; i < MEMDB_NELEM(words); i++)
        rec_add(&b, words[i], strlen(words[i]), 1 + i);
    rec_finish(b.data, 1, 0);
    if (apply_record(&shm, b.data, 0, -1, NULL, 0) != MEMDB_OK)
        abort();
    buf_free(&b);
    atomic_store(&shm.node->clustered, 1);
    w.conf = &conf;
    w.shm = &shm;
    w.slot_no = 0;
    w.slot = shm_worker(&shm, 0);
    w.proc.epfd = w.listen_fd = w.wake_fd = w.notify_fd = -1;
    w.pdeath_fd = w.proc.sig_fd = -1;
    w.now_ms = 1000;
    return 0;
}

/* An upload whose body was read: what upload_complete() does before the
 * ring, then an answer. */
static void
upload_stub(conn_t *c)
{
    uint64_t sum = 0;
    uint32_t len;
    buf_t *b = &c->w->tmp;

    if (tok_finish(&c->tok) != TOK_OK) {
        (void) upload_body(c, "", 0); /* answers the error */
        return;
    }
    rec_begin(&c->rec, REC_UPLOAD);
    for (size_t i = 0; i < c->agg.n; i++) {
        const agg_ent_t *e = &c->agg.ents[i];
        FUZZ_CHECK(e->len > 0 && e->len <= conf.store_max_word);
        FUZZ_CHECK(utf8_check(agg_key(&c->agg, e), e->len) == -1);
        rec_add(&c->rec, agg_key(&c->agg, e), e->len, e->count);
        sum += e->count;
    }
    FUZZ_CHECK(sum == c->agg.words);
    rec_finish(c->rec.data, 2, 0);
    FUZZ_CHECK(rec_check(c->rec.data, c->rec.len, &len) == REC_OK);
    FUZZ_CHECK(len == c->rec.len);
    b->len = 0;
    buf_printf(b, "{\"words\":%llu,\"distinct\":%zu,\"lsn\":2}",
               (unsigned long long) c->agg.words, c->agg.n);
    resp_json(c, 200, b, NULL);
    resp_done(c);
}

void
__wrap_route_dispatch(conn_t *c)
{
    if (c->route == RT_UPLOAD)
        upload_stub(c);
    else
        __real_route_dispatch(c);
}

/* A parked request: the master or the replicator answered (snapshot,
 * cluster command) or the deadline passed (min_lsn). */
static void
resume_parked(conn_t *c)
{
    bool done;

    if (c->wait == WAIT_SNAP)
        atomic_store(&shm.node->snap_done, c->wait_val);
    done = route_resume(c, true);
    wrk_unpark(&w, c);
    FUZZ_CHECK(done);
    FUZZ_CHECK(c->phase != PH_WAIT);
}

/* ---- the requests, as a parser of their own sees them ---------------- */

#define MAX_REQS 4096

typedef struct reqs_s {
    bool head[MAX_REQS]; /* request i is HEAD */
    size_t n;
    bool open; /* request n - 1 is not complete yet */
} reqs_t;

static reqs_t reqs;

static int
req_begin(http_parser *p)
{
    (void) p;
    if (reqs.n < MAX_REQS)
        reqs.head[reqs.n++] = false;
    reqs.open = true;
    return 0;
}

static int
req_url(http_parser *p, const char *at, size_t n)
{
    (void) at;
    (void) n;
    if (reqs.n > 0)
        reqs.head[reqs.n - 1] = p->method == HTTP_HEAD;
    return 0;
}

static int
req_complete(http_parser *p)
{
    (void) p;
    reqs.open = false;
    return 0;
}

/* The requests in p[0..n): a request the parser fails on counts too (it
 * is answered 400), and is HEAD if the parser read that method. */
static void
split_requests(const char *p, size_t n)
{
    static const http_parser_settings s = {
        .on_message_begin = req_begin,
        .on_url = req_url,
        .on_message_complete = req_complete
    };
    http_parser hp;

    memset(&reqs, 0, sizeof(reqs));
    http_parser_init(&hp, HTTP_REQUEST);
    http_parser_execute(&hp, &s, p, n);
    if (HTTP_PARSER_ERRNO(&hp) == HPE_OK)
        return;
    if (!reqs.open && reqs.n < MAX_REQS)
        reqs.head[reqs.n++] = false;
    else if (reqs.open && HTTP_PARSER_ERRNO(&hp) != HPE_INVALID_METHOD)
        reqs.head[reqs.n - 1] = hp.method == HTTP_HEAD;
}

/* ---- checking the output -------------------------------------------- */

static const char *
find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);

    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

static void
check_json(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);

    if (j == NULL) {
        fprintf(stderr, "bad JSON body: %.*s\n", (int) MEMDB_MIN(n, 300), p);
        FUZZ_CHECK(!"JSON bodies parse");
    }
    cJSON_Delete(j);
}

/* Responses back to back in p[0..n). */
static void
check_responses(const char *p, size_t n)
{
    const char *end;
    size_t k = 0; /* final responses so far */

    if (n == 0)
        return;
    end = p + n;
    while (p < end) {
        const char *eoh, *cl, *te, *ct;
        bool json, close, head;
        int status;

        FUZZ_CHECK(end - p >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0);
        FUZZ_CHECK(isdigit((unsigned char) p[9])
                   && isdigit((unsigned char) p[10])
                   && isdigit((unsigned char) p[11]) && p[12] == ' ');
        status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        eoh = find(p, end, "\r\n\r\n");
        FUZZ_CHECK(eoh != NULL);
        eoh += 4;
        cl = find(p, eoh, "\r\nContent-Length: ");
        te = find(p, eoh, "\r\nTransfer-Encoding: chunked\r\n");
        ct = find(p, eoh, "\r\nContent-Type: application/json\r\n");
        json = ct != NULL;
        close = find(p, eoh, "\r\nConnection: close\r\n") != NULL;
        if (status == 100) {
            FUZZ_CHECK(cl == NULL && te == NULL);
            p = eoh;
            continue;
        }
        FUZZ_CHECK(k < reqs.n); /* one answer per request */
        head = reqs.head[k++];
        if (head) {
            /* the head GET would get: its framing, and no body */
            FUZZ_CHECK(cl != NULL || te != NULL || close);
            p = eoh;
        } else if (cl != NULL) {
            char *e;
            unsigned long long len = strtoull(cl + 18, &e, 10);
            FUZZ_CHECK(te == NULL);
            FUZZ_CHECK(e[0] == '\r' && e[1] == '\n');
            FUZZ_CHECK(len <= (unsigned long long) (end - eoh));
            if (json)
                check_json(eoh, (size_t) len);
            p = eoh + len;
        } else if (te != NULL) {
            buf_t body = { 0 };
            const char *q = eoh;
            for (;;) {
                char *e;
                unsigned long long len = strtoull(q, &e, 16);
                FUZZ_CHECK(e != q && e[0] == '\r' && e[1] == '\n');
                q = e + 2;
                FUZZ_CHECK(len + 2 <= (unsigned long long) (end - q));
                if (len == 0) {
                    FUZZ_CHECK(q[0] == '\r' && q[1] == '\n');
                    q += 2;
                    break;
                }
                buf_append(&body, q, len);
                FUZZ_CHECK(q[len] == '\r' && q[len + 1] == '\n');
                q += len + 2;
            }
            if (json)
                check_json(body.data, body.len);
            buf_free(&body);
            p = q;
        } else {
            /* HTTP/1.0 stream: the body runs to the close */
            FUZZ_CHECK(close);
            if (json)
                check_json(eoh, (size_t) (end - eoh));
            p = end;
        }
        if (close)
            FUZZ_CHECK(p == end);
    }
}

/* ---- driving the connection ------------------------------------------ */

/* What conn_progress() does between reads, minus the socket. */
static void
pump(conn_t *c, buf_t *all)
{
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (c->out.len > c->out_off)
            buf_append(all, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len = c->out_off = 0;
        if (c->phase == PH_CLOSING)
            return;
        if (c->phase == PH_STREAM) {
            if (stream_fill(c))
                resp_done(c);
            continue;
        }
        if (c->phase == PH_WAIT) {
            resume_parked(c);
            continue;
        }
        if (c->paused) {
            c->paused = false;
            http_parser_pause(&c->parser, 0);
            http_parse(c);
            continue;
        }
        return;
    }
    FUZZ_CHECK(!"the connection makes progress");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    conn_t *c;
    buf_t all = { 0 };
    size_t chunk, off = 1;

    if (size < 1)
        return 0;
    chunk = data[0];
    split_requests((const char *) data + 1, size - 1);
    c = xcalloc(1, sizeof(*c));
    conn_init(c, &w, -1);
    snprintf(c->client, sizeof(c->client), "127.0.0.1:40000");

    while (off < size && c->phase != PH_CLOSING) {
        size_t n = chunk ? MEMDB_MIN(chunk, size - off) : size - off;

        buf_append(&c->in, data + off, n);
        off += n;
        http_parse(c);
        pump(c, &all);
    }
    check_responses(all.data, all.len);

    buf_free(&all);
    conn_release(c);
    free(c);
    return 0;
}
