/*
 * ctl_cmd.c - the memdbctl commands that talk to a running node over its
 * HTTP API: status, count, upload, top, dump, snapshot and cluster
 * nodes|meet|failover|forget (see usage() in memdbctl.c).
 *
 * Design:
 *   - One table (cmds[]) names each command, the options it accepts, how
 *     many arguments it takes and its handler; cmd_parse() checks all of
 *     that with getopt_long before any request is made, so usage errors
 *     (exit 2) never reach the network.
 *   - Handlers build a ctl_req_t (ctl_http.c does the transfer and the
 *     error messages), then print: with --json the node's JSON as it came,
 *     else aligned text - "key  value" lines for objects (nested keys
 *     flattened as persistence.fsync) or a table with a header row.
 *   - Text is aligned by UTF-8 code points, which is right for the usual
 *     one-column characters and close enough otherwise.
 *   - dump streams the body straight to its file or stdout; upload streams
 *     its input (ctl_src_t); neither holds the whole payload in memory.
 */
#include "src/ctl/ctl.h"
#include "src/core/util.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CTL_FAILOVER_MS 10000
#define CTL_POLL_MS     100
#define CTL_CELL_MAX    4096
#define CTL_RETRY_S     120  /* upload: retry this long by default */
#define CTL_STALL_S     10   /* upload: a node silent this long is down */
#define CTL_BACKOFF_MS  2000 /* upload: the longest pause between tries */

typedef struct ctl_args_s {
    bool json;
    const char *n, *prefix, *limit, *wait, *tmo, *key, *retry;
    int argc; /* the arguments left after the options */
    char **argv;
} ctl_args_t;

typedef int ctl_cmd_fn(const ctl_opts_t *o, const ctl_args_t *a);

typedef struct ctl_cmd_s {
    const char *name;
    const char *accept; /* option letters: j n p l w t */
    int min, max;       /* arguments */
    ctl_cmd_fn *fn;
    const char *usage;
} ctl_cmd_t;

/* ---- text output -------------------------------------------------------- */

typedef struct ctl_tbl_s {
    const char *align;   /* per column: 'l' or 'r' */
    size_t ncol, n, cap; /* n cells so far */
    char **cells;
} ctl_tbl_t;

static void
tbl_add(ctl_tbl_t *t, ...)
{
    va_list ap;

    va_start(ap, t);
    for (size_t i = 0; i < t->ncol; i++) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 64;
            t->cells = xrealloc(t->cells, t->cap * sizeof(char *));
        }
        t->cells[t->n++] = xstrdup(va_arg(ap, const char *));
    }
    va_end(ap);
}

static size_t
text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char) *s & 0xC0) != 0x80;
    return w;
}

/* Prints and frees the table: columns two spaces apart. */
static void
tbl_print(ctl_tbl_t *t)
{
    size_t width[16] = { 0 };

    for (size_t i = 0; i < t->n; i++)
        width[i % t->ncol] = MEMDB_MAX(width[i % t->ncol],
                                       text_width(t->cells[i]));
    for (size_t i = 0; i < t->n; i++) {
        size_t c = i % t->ncol, pad = width[c] - text_width(t->cells[i]);
        bool last = c + 1 == t->ncol;
        if (t->align[c] == 'r')
            printf("%*s", (int) pad, "");
        fputs(t->cells[i], stdout);
        if (!last && t->align[c] != 'r')
            printf("%*s", (int) pad, "");
        fputs(last ? "\n" : "  ", stdout);
        free(t->cells[i]);
    }
    free(t->cells);
    t->cells = NULL;
    t->n = t->cap = 0;
}

/* A JSON value as text: numbers without a fraction, "-" for "". */
static const char *
scalar(const cJSON *v, char *out, size_t len)
{
    double d = v ? v->valuedouble : 0;
    char *s;

    if (v != NULL && cJSON_IsString(v))
        snprintf(out, len, "%s", *v->valuestring ? v->valuestring : "-");
    else if (cJSON_IsNumber(v) && d > -9e18 && d < 9e18
             && d == (double) (long long) d)
        snprintf(out, len, "%lld", (long long) d);
    else if (cJSON_IsNumber(v))
        snprintf(out, len, "%g", d);
    else if (v == NULL)
        snprintf(out, len, "-");
    else {
        s = cJSON_PrintUnformatted(v);
        snprintf(out, len, "%s", s ? s : "?");
        free(s);
    }
    return out;
}

static const char *
field(const cJSON *obj, const char *key, char *out, size_t len)
{
    return scalar(cJSON_GetObjectItemCaseSensitive(obj, key), out, len);
}

static void
flatten(ctl_tbl_t *t, const cJSON *obj, const char *prefix)
{
    const cJSON *it;
    char key[256], val[CTL_CELL_MAX];

    cJSON_ArrayForEach(it, obj)
    {
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
                 it->string);
        if (cJSON_IsObject(it))
            flatten(t, it, key);
        else
            tbl_add(t, key, scalar(it, val, sizeof(val)));
    }
}

static void
print_raw(const ctl_req_t *r)
{
    fwrite(r->body.data, 1, r->body.len, stdout);
    if (r->body.len == 0 || r->body.data[r->body.len - 1] != '\n')
        putchar('\n');
}

/* An object answer: raw JSON, or "key  value" lines. */
static void
print_object(const ctl_args_t *a, const ctl_req_t *r, const cJSON *j)
{
    ctl_tbl_t t = { .align = "ll", .ncol = 2 };

    if (a->json) {
        print_raw(r);
        return;
    }
    flatten(&t, j, "");
    tbl_print(&t);
}

/* ---- requests ----------------------------------------------------------- */

static void
req_init(ctl_req_t *r, const char *method, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    buf_puts(&r->path, path);
}

/* One request with a JSON answer; *j is NULL unless CTL_OK. */
static int
call(const ctl_opts_t *o, ctl_req_t *r, cJSON **j)
{
    int rc = ctl_call(o, r, j);

    if (rc == CTL_OK && !cJSON_IsObject(*j) && !cJSON_IsArray(*j)) {
        ctl_err("unexpected answer from %s", ctl_base(o));
        rc = CTL_BAD;
    }
    return rc;
}

/* GET or POST path, then print the object answer. */
static int
simple(const ctl_opts_t *o, const ctl_args_t *a, ctl_req_t *r)
{
    cJSON *j;
    int rc = call(o, r, &j);

    if (rc == CTL_OK)
        print_object(a, r, j);
    cJSON_Delete(j);
    ctl_req_free(r);
    return rc;
}

/* ---- commands ----------------------------------------------------------- */

static int
cmd_status(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_req_t r;

    req_init(&r, "GET", "/api/v1/status");
    return simple(o, a, &r);
}

static int
cmd_snapshot(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_req_t r;

    req_init(&r, "POST", "/api/v1/admin/snapshot");
    return simple(o, a, &r);
}

static int
cmd_count(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_tbl_t t = { .align = "lr", .ncol = 2 };
    ctl_req_t r;
    const cJSON *it;
    cJSON *j;
    char v[64];
    int rc;

    req_init(&r, "GET", "/api/v1/wordcount");
    for (int i = 0; i < a->argc; i++)
        ctl_query(&r.path, "word", a->argv[i]);
    if ((rc = call(o, &r, &j)) == CTL_OK && a->json)
        print_raw(&r);
    else if (rc == CTL_OK) {
        tbl_add(&t, "WORD", "COUNT");
        cJSON_ArrayForEach(it, j)
            tbl_add(&t, it->string, scalar(it, v, sizeof(v)));
        tbl_print(&t);
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* A random key for one upload (128 bits, hex). */
static void
upload_key(char *out, size_t len)
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0)
            got += (size_t) n;
    }
    snprintf(out, len, "memdbctl-");
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 9 + 2 * i, len - 9 - 2 * i, "%02x", b[i]);
}

/* Worth another try with the same key: the node could not be reached or
 * went silent, or said "not now" (503 no leader / disk, 409 the key in
 * flight).  A retry of an upload that counted is answered as a replay.
 * A 504 is not retried: the upload counted, only fewer replicas than
 * --wait have it yet. */
static bool
upload_retryable(const ctl_req_t *r, int rc)
{
    if (r->transport)
        return rc == CTL_DOWN;
    return r->status == 503 || r->status == 409;
}

static void
upload_print(const ctl_args_t *a, const ctl_req_t *r, const cJSON *j)
{
    ctl_tbl_t t = { .align = "ll", .ncol = 2 };

    if (a->json) {
        print_raw(r);
        return;
    }
    flatten(&t, j, "");
    if (r->replayed)
        tbl_add(&t, "replayed", "true"); /* counted by an earlier try */
    tbl_print(&t);
}

/* One try; *again when it failed and is worth another. */
static int
upload_try(const ctl_opts_t *o, const ctl_args_t *a, ctl_src_t *src,
           const char *key, bool retry, bool *again, long *status)
{
    ctl_req_t r;
    cJSON *j;
    int rc;

    req_init(&r, "POST", "/api/v1/upload");
    r.src = src;
    r.idem_key = key;
    r.stall_s = retry ? CTL_STALL_S : 0;
    if (a->wait)
        ctl_query(&r.path, "wait", a->wait);
    if (a->tmo)
        ctl_query(&r.path, "timeout_ms", a->tmo);
    rc = call(o, &r, &j);
    if (rc == CTL_OK)
        upload_print(a, &r, j);
    *again = rc != CTL_OK && retry && upload_retryable(&r, rc);
    *status = r.status;
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* Sends the upload with an Idempotency-Key (--key, else a random one) and
 * tries again with the same key, rotating through the --node list, until
 * it is answered or --retry-for seconds have passed: it counts once. */
static int
cmd_upload(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_src_t src;
    char key[64];
    uint64_t t0 = util_now_ms(), limit, pause = 100;
    int rc = ctl_src_open(&src, a->argv[0]), node = 0;
    bool again = true;
    long status;

    if (rc != CTL_OK)
        return rc;
    if (a->key == NULL)
        upload_key(key, sizeof(key));
    limit = (a->retry ? strtoull(a->retry, NULL, 10) : CTL_RETRY_S) * 1000;
    for (unsigned n = 1; again; n++) {
        rc = upload_try(o, a, &src, a->key ? a->key : key, limit > 0, &again,
                        &status);
        if (!again)
            break;
        if (util_now_ms() - t0 + pause > limit) {
            ctl_err("upload: no answer within %llu s (--retry-for); it may "
                    "have counted: retry with --key %s",
                    (unsigned long long) (limit / 1000),
                    a->key ? a->key : key);
            break;
        }
        if (ctl_src_rewind(&src) != CTL_OK) {
            ctl_err("upload: %s cannot be read twice; it may have counted: "
                    "send the same input again with --key %s",
                    src.name, a->key ? a->key : key);
            break;
        }
        if (status != 409) /* elsewhere: the node may be down */
            ctl_use_node(o, node = (node + 1) % ctl_nodes(o));
        else
            pause = MEMDB_MAX(pause, 1000); /* its Retry-After */
        ctl_err("upload: try %u failed; trying again in %.1f s at %s with "
                "the same Idempotency-Key",
                n, (double) pause / 1000, ctl_base(o));
        nanosleep(
            &(struct timespec) { .tv_sec = (time_t) (pause / 1000),
                                 .tv_nsec = (long) (pause % 1000) * 1000000L },
            NULL);
        pause = MEMDB_MIN(pause * 2, CTL_BACKOFF_MS);
    }
    ctl_src_close(&src);
    return rc;
}

static int
cmd_top(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_tbl_t t = { .align = "rlr", .ncol = 3 };
    ctl_req_t r;
    const cJSON *it;
    cJSON *j;
    char rank[32], w[CTL_CELL_MAX], c[64];
    int rc, k = 0;

    req_init(&r, "GET", "/api/v1/top");
    if (a->n)
        ctl_query(&r.path, "n", a->n);
    if ((rc = call(o, &r, &j)) == CTL_OK && a->json)
        print_raw(&r);
    else if (rc == CTL_OK) {
        tbl_add(&t, "RANK", "WORD", "COUNT");
        cJSON_ArrayForEach(it, j)
        {
            snprintf(rank, sizeof(rank), "%d", ++k);
            tbl_add(&t, rank, field(it, "word", w, sizeof(w)),
                    field(it, "count", c, sizeof(c)));
        }
        tbl_print(&t);
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

static int
cmd_dump(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_req_t r;
    int rc;

    req_init(&r, "GET", "/api/v1/allwords");
    if (a->prefix)
        ctl_query(&r.path, "prefix", a->prefix);
    if (a->limit)
        ctl_query(&r.path, "limit", a->limit);
    r.stream = true;
    r.out_path = a->argc > 0 ? a->argv[0] : NULL;
    rc = ctl_request(o, &r); /* the node ends it with a newline */
    ctl_req_free(&r);
    return rc;
}

static const struct ctl_cmd_s *cmd_find(const char *name);

/* ---- cluster ------------------------------------------------------------ */

static void
node_row(ctl_tbl_t *t, const cJSON *m)
{
    char id[160], role[32], state[32], epoch[32], lsn[32], lag[32];
    char http[CTL_CELL_MAX], gossip[CTL_CELL_MAX];

    field(m, "id", id, sizeof(id) - 1);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "self")))
        strncat(id, "*", sizeof(id) - strlen(id) - 1);
    tbl_add(t, id, field(m, "role", role, sizeof(role)),
            field(m, "state", state, sizeof(state)),
            field(m, "epoch", epoch, sizeof(epoch)),
            field(m, "lsn", lsn, sizeof(lsn)),
            field(m, "lag", lag, sizeof(lag)),
            field(m, "http", http, sizeof(http)),
            field(m, "gossip", gossip, sizeof(gossip)));
}

static int
cluster_nodes(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_tbl_t t = { .align = "lllrrrll", .ncol = 8 };
    ctl_req_t r;
    const cJSON *it;
    cJSON *j;
    int rc;

    req_init(&r, "GET", "/api/v1/cluster/nodes");
    if ((rc = call(o, &r, &j)) == CTL_OK && a->json)
        print_raw(&r);
    else if (rc == CTL_OK) {
        tbl_add(&t, "ID", "ROLE", "STATE", "EPOCH", "LSN", "LAG", "HTTP",
                "GOSSIP");
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "nodes"))
            node_row(&t, it);
        tbl_print(&t);
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* POST /api/v1/cluster/WHAT?key=val; prints done (or the JSON answer). */
static int
cluster_post(const ctl_opts_t *o, const ctl_args_t *a, const char *what,
             const char *key, const char *val, const char *done)
{
    ctl_req_t r;
    cJSON *j;
    char path[64];
    int rc;

    snprintf(path, sizeof(path), "/api/v1/cluster/%s", what);
    req_init(&r, "POST", path);
    if (val != NULL)
        ctl_query(&r.path, key, val);
    if ((rc = call(o, &r, &j)) == CTL_OK && a->json)
        print_raw(&r);
    else if (rc == CTL_OK && done != NULL)
        printf("%s\n", done);
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* The leader the node reports ("" when none). */
static int
leader_of(const ctl_opts_t *o, char *out, size_t len, bool quiet)
{
    ctl_req_t r;
    cJSON *j;
    const cJSON *l;
    int rc;

    out[0] = '\0';
    req_init(&r, "GET", "/api/v1/cluster/nodes");
    r.quiet = quiet;
    if ((rc = call(o, &r, &j)) == CTL_OK) {
        l = cJSON_GetObjectItemCaseSensitive(j, "leader");
        snprintf(out, len, "%s", cJSON_IsString(l) ? l->valuestring : "");
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static void
print_new_leader(const ctl_args_t *a, const char *now, const char *was)
{
    cJSON *j;
    char *s;

    if (!a->json) {
        printf("leader: %s (was %s)\n", now, *was ? was : "none");
        return;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "leader", now);
    cJSON_AddStringToObject(j, "was", was);
    s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

/* Asks the node (the leader) to hand over, then waits until it reports
 * another leader. */
static int
cluster_failover(const ctl_opts_t *o, const ctl_args_t *a, const char *to)
{
    ctl_args_t quiet = *a;
    char was[256], now[256];
    uint64_t deadline;
    int rc;

    if ((rc = leader_of(o, was, sizeof(was), false)) != CTL_OK)
        return rc;
    quiet.json = false;
    if ((rc = cluster_post(o, &quiet, "failover", "to", to, NULL)) != CTL_OK)
        return rc;
    deadline = util_now_ms() + CTL_FAILOVER_MS;
    while (util_now_ms() < deadline) {
        if (leader_of(o, now, sizeof(now), true) == CTL_OK && now[0]
            && strcmp(now, was) != 0) {
            print_new_leader(a, now, was);
            return CTL_OK;
        }
        sleep_ms(CTL_POLL_MS);
    }
    ctl_err("%s reported no new leader within %d s (the leader was %s)",
            ctl_base(o), CTL_FAILOVER_MS / 1000, *was ? was : "none");
    return CTL_BAD;
}

static int
cmd_cluster(const ctl_opts_t *o, const ctl_args_t *a)
{
    const char *sub = a->argv[0], *arg = a->argc > 1 ? a->argv[1] : NULL;
    char done[300];
    bool one = a->argc == 2;

    if (strcmp(sub, "nodes") == 0 && a->argc == 1)
        return cluster_nodes(o, a);
    if (strcmp(sub, "failover") == 0)
        return cluster_failover(o, a, arg);
    if (strcmp(sub, "meet") == 0 && one) {
        snprintf(done, sizeof(done), "ok: meeting %s", arg);
        return cluster_post(o, a, "meet", "addr", arg, done);
    }
    if (strcmp(sub, "forget") == 0 && one) {
        snprintf(done, sizeof(done), "ok: %s forgotten", arg);
        return cluster_post(o, a, "forget", "node", arg, done);
    }
    if (strcmp(sub, "nodes") != 0 && strcmp(sub, "meet") != 0
        && strcmp(sub, "forget") != 0)
        ctl_err("cluster: unknown subcommand \"%s\"", sub);
    else
        ctl_err("cluster %s: wrong number of arguments", sub);
    ctl_err("usage: memdbctl [GLOBAL OPTIONS] %s", cmd_find("cluster")->usage);
    return CTL_USAGE;
}

/* ---- dispatch ----------------------------------------------------------- */

static const ctl_cmd_t cmds[] = {
    { "status", "j", 0, 0, cmd_status, "status" },
    { "count", "j", 1, -1, cmd_count, "count WORD..." },
    { "upload", "jwtkr", 1, 1, cmd_upload,
      "upload FILE|- [--wait N] [--timeout-ms T] [--key K] "
      "[--retry-for S]" },
    { "top", "jn", 0, 0, cmd_top, "top [-n K]" },
    { "dump", "jpl", 0, 1, cmd_dump, "dump [FILE] [--prefix P] [--limit N]" },
    { "snapshot", "j", 0, 0, cmd_snapshot, "snapshot" },
    { "cluster", "j", 1, 2, cmd_cluster,
      "cluster nodes | meet HOST:PORT | failover [NODE] | forget NODE" },
};

static const struct option ctl_lopts[] = {
    { "json", no_argument, NULL, 'j' },
    { "prefix", required_argument, NULL, 'p' },
    { "limit", required_argument, NULL, 'l' },
    { "wait", required_argument, NULL, 'w' },
    { "timeout-ms", required_argument, NULL, 't' },
    { "key", required_argument, NULL, 'k' },
    { "retry-for", required_argument, NULL, 'r' },
    { NULL, 0, NULL, 0 },
};

static const ctl_cmd_t *
cmd_find(const char *name)
{
    for (size_t i = 0; i < MEMDB_NELEM(cmds); i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

bool
ctl_cmd_exists(const char *name)
{
    return cmd_find(name) != NULL;
}

static bool
digits(const char *s)
{
    return s == NULL || (*s && strspn(s, "0123456789") == strlen(s));
}

/* An Idempotency-Key as the node takes it. */
static bool
key_ok(const char *k)
{
    size_t n = strlen(k);

    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return n >= 1 && n <= 255;
}

/* Stores one option; false if the command does not take it. */
static bool
cmd_opt(const ctl_cmd_t *c, int ch, ctl_args_t *a)
{
    if (strchr(c->accept, ch) == NULL)
        return false;
    switch (ch) {
    case 'j': a->json = true; break;
    case 'n': a->n = optarg; break;
    case 'p': a->prefix = optarg; break;
    case 'l': a->limit = optarg; break;
    case 'w': a->wait = optarg; break;
    case 't': a->tmo = optarg; break;
    case 'k': a->key = optarg; break;
    case 'r': a->retry = optarg; break;
    }
    return true;
}

static const char *
opt_name(int ch)
{
    switch (ch) {
    case 'j': return "--json";
    case 'n': return "-n";
    case 'p': return "--prefix";
    case 'l': return "--limit";
    case 'w': return "--wait";
    case 't': return "--timeout-ms";
    case 'k': return "--key";
    case 'r': return "--retry-for";
    default: return "an option";
    }
}

/* The options of command c into a; false (with a message) on a bad one. */
static bool
cmd_opts(const ctl_cmd_t *c, int argc, char **argv, ctl_args_t *a)
{
    int ch;

    optind = 0; /* restart getopt on the command's argv */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":jn:", ctl_lopts, NULL)) != -1) {
        if (ch == ':')
            ctl_err("%s: missing value for %s", c->name, opt_name(optopt));
        else if (ch == '?')
            ctl_err("%s: unknown option \"%s\"", c->name,
                    optopt ? (char[]) { '-', (char) optopt, 0 }
                           : argv[optind - 1]);
        else if (!cmd_opt(c, ch, a))
            ctl_err("%s: %s is not an option of this command", c->name,
                    opt_name(ch));
        else
            continue;
        return false;
    }
    return true;
}

/* Options and argument count of command c; CTL_USAGE with a message. */
static int
cmd_parse(const ctl_cmd_t *c, const ctl_opts_t *o, int argc, char **argv,
          ctl_args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->json = o->json;
    if (!cmd_opts(c, argc, argv, a))
        goto usage;
    a->argc = argc - optind;
    a->argv = argv + optind;
    if (a->argc < c->min || (c->max >= 0 && a->argc > c->max)) {
        ctl_err("%s: %s", c->name,
                a->argc < c->min ? "missing argument" : "too many arguments");
        goto usage;
    }
    if (!digits(a->n) || !digits(a->limit) || !digits(a->wait)
        || !digits(a->tmo) || !digits(a->retry)
        || (a->retry && strlen(a->retry) > 6)) {
        ctl_err("%s: option values must be non-negative integers", c->name);
        goto usage;
    }
    if (a->key && !key_ok(a->key)) {
        ctl_err("%s: --key must be 1 to 255 visible ASCII characters",
                c->name);
        goto usage;
    }
    return CTL_OK;
usage:
    ctl_err("usage: memdbctl [GLOBAL OPTIONS] %s", c->usage);
    return CTL_USAGE;
}

/* argv[0] is the command (ctl_cmd_exists() said it is one). */
int
ctl_cmd(const ctl_opts_t *o, int argc, char **argv)
{
    const ctl_cmd_t *c = cmd_find(argv[0]);
    ctl_args_t a;
    int rc = cmd_parse(c, o, argc, argv, &a);

    return rc != CTL_OK ? rc : c->fn(o, &a);
}
