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
#include <unicode/uchar.h>
#include <unicode/utf8.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CTL_FAILOVER_MS 10000
#define CTL_POLL_MS     100
#define CTL_CELL_MAX    4096
#define CTL_RETRY_S     120       /* upload: retry this long by default */
#define CTL_STALL_S     10        /* upload: a node silent this long is down */
#define CTL_BACKOFF_MS  2000      /* upload: the longest pause between tries */
#define CTL_PIECE       (8 << 20) /* upload: a large file's pieces */
#define CTL_PIECE_MIN   (16 << 20) /* ...from this size on */
#define CTL_PIECES_MAX  8          /* ...this many at once at most */

typedef struct ctl_args_s {
    bool json;
    const char *n, *prefix, *limit, *wait, *tmo, *key, *retry;
    const char *table, *tokenizer; /* --table T, --tokenizer JSON */
    int argc;                      /* the arguments left after the options */
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

/* Columns a terminal gives s (valid UTF-8 from the node): 2 for a wide
 * or fullwidth character (East Asian Width W, F: CJK, kana, Hangul), 0
 * for a combining mark or a format character, else 1. */
static size_t
text_width(const char *s)
{
    int32_t i = 0, n = (int32_t) strlen(s);
    size_t w = 0;

    while (i < n) {
        UChar32 ch;
        U8_NEXT(s, i, n, ch);
        if (ch < 0) {
            w++;
            continue;
        }
        int eaw = u_getIntPropertyValue(ch, UCHAR_EAST_ASIAN_WIDTH);
        int8_t gc = u_charType(ch);
        if (gc == U_NON_SPACING_MARK || gc == U_ENCLOSING_MARK
            || gc == U_FORMAT_CHAR)
            continue;
        w += eaw == U_EA_WIDE || eaw == U_EA_FULLWIDTH ? 2 : 1;
    }
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

/* --wait and --timeout-ms, as the node's query parameters. */
static void
wait_query(ctl_req_t *r, const ctl_args_t *a)
{
    if (a->wait)
        ctl_query(&r->path, "wait", a->wait);
    if (a->tmo)
        ctl_query(&r->path, "timeout_ms", a->tmo);
}

/* The path of a data endpoint of --table (what: "upload", "top", ...);
 * without --table, the original path of the table default. */
static const char *
table_path(const ctl_args_t *a, const char *what, char *out, size_t len)
{
    if (a->table == NULL && strcmp(what, "retract") != 0
        && strcmp(what, "words/") != 0)
        snprintf(out, len, "/api/v1/%s", what);
    else
        snprintf(out, len, "/api/v1/tables/%s/%s",
                 a->table ? a->table : "default", what);
    return out;
}

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

    char p[128];

    req_init(&r, "GET", table_path(a, "wordcount", p, sizeof(p)));
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
 * went silent, or said "not now" (503 no leader / disk, 409 with
 * Retry-After: the key in flight; a retract's 409 "below zero" is final).
 * A retry of an upload that counted is answered as a replay.  A 504 is
 * not retried: the upload counted, only fewer replicas than --wait have it
 * yet. */
static bool
upload_retryable(const ctl_req_t *r, int rc)
{
    if (r->transport)
        return rc == CTL_DOWN;
    return r->status == 503 || (r->status == 409 && r->retry_after);
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

/* One try of POSTing src to path; *again when it failed and is worth
 * another.  *words: the answer's word count; printed unless quiet. */
static int
upload_try(const ctl_opts_t *o, const ctl_args_t *a, const char *path,
           ctl_src_t *src, const char *key, bool retry, bool quiet,
           bool *again, long *status, uint64_t *words)
{
    ctl_req_t r;
    cJSON *j;
    int rc;

    req_init(&r, "POST", path);
    r.src = src;
    r.idem_key = key;
    r.stall_s = retry ? CTL_STALL_S : 0;
    wait_query(&r, a);
    rc = call(o, &r, &j);
    if (rc == CTL_OK && !quiet)
        upload_print(a, &r, j);
    if (rc == CTL_OK && cJSON_IsNumber(cJSON_GetObjectItem(j, "words")))
        *words = (uint64_t) cJSON_GetObjectItem(j, "words")->valuedouble;
    *again = rc != CTL_OK && retry && upload_retryable(&r, rc);
    *status = r.status;
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* Sends src to path with Idempotency-Key key and tries again with the
 * same key, rotating through the --node list, until it is answered or
 * --retry-for seconds have passed: it counts (or, a retract, is taken
 * back) once.  what names it in messages. */
static int
upload_keyed(const ctl_opts_t *o, const ctl_args_t *a, const char *path,
             const char *what, ctl_src_t *src, const char *key, bool quiet,
             uint64_t *words)
{
    uint64_t t0 = util_now_ms(), limit, pause = 100;
    int rc = CTL_OK, node = 0;
    bool again = true;
    long status;

    limit = (a->retry ? strtoull(a->retry, NULL, 10) : CTL_RETRY_S) * 1000;
    for (unsigned n = 1; again; n++) {
        rc = upload_try(o, a, path, src, key, limit > 0, quiet, &again,
                        &status, words);
        if (!again)
            break;
        if (util_now_ms() - t0 + pause > limit) {
            ctl_err("%s: no answer within %llu s (--retry-for); it may "
                    "have counted: retry with --key %s",
                    what, (unsigned long long) (limit / 1000), key);
            break;
        }
        if (ctl_src_rewind(src) != CTL_OK) {
            ctl_err("%s: %s cannot be read twice; it may have counted: "
                    "send the same input again with --key %s",
                    what, src->name, key);
            break;
        }
        if (status != 409) /* elsewhere: the node may be down */
            ctl_use_node(o, node = (node + 1) % ctl_nodes(o));
        else
            pause = MEMDB_MAX(pause, 1000); /* its Retry-After */
        ctl_err("%s: try %u failed; trying again in %.1f s at %s with "
                "the same Idempotency-Key",
                what, n, (double) pause / 1000, ctl_base(o));
        nanosleep(
            &(struct timespec) { .tv_sec = (time_t) (pause / 1000),
                                 .tv_nsec = (long) (pause % 1000) * 1000000L },
            NULL);
        pause = MEMDB_MIN(pause * 2, CTL_BACKOFF_MS);
    }
    return rc;
}

static int upload_parallel(const ctl_opts_t *o, const ctl_args_t *a,
                           const char *path, ctl_src_t *src, const char *key);

/* Sends FILE to path with an Idempotency-Key (--key, else a random one),
 * see upload_keyed; a large file to a node with several workers goes in
 * pieces, in parallel (upload_parallel). */
static int
upload_send(const ctl_opts_t *o, const ctl_args_t *a, const char *path,
            const char *what)
{
    ctl_src_t src;
    char key[64];
    uint64_t words = 0;
    int rc = ctl_src_open(&src, a->argv[0]);

    if (rc != CTL_OK)
        return rc;
    if (a->key == NULL)
        upload_key(key, sizeof(key));
    /* (a named file: each piece opens it again; stdin, even a file,
     * has one offset for all) */
    if (strcmp(what, "upload") == 0 && strcmp(a->argv[0], "-") != 0
        && src.seekable && src.size >= CTL_PIECE_MIN)
        rc = upload_parallel(o, a, path, &src, a->key ? a->key : key);
    else
        rc = upload_keyed(o, a, path, what, &src, a->key ? a->key : key, false,
                          &words);
    ctl_src_close(&src);
    return rc;
}

/* ---- a large file, in pieces ------------------------------------------
 *
 * A file of CTL_PIECE_MIN bytes or more is sent as pieces of about
 * CTL_PIECE bytes, each cut after a newline (a line is never split, so no
 * word is), each an upload of its own with the key KEY-i (KEY: --key, else
 * a random one), as many at once as the node has workers (at most
 * CTL_PIECES_MAX), each retried alone as upload_keyed retries.  Where the
 * pieces are cut depends only on the file, never on the node, so sending
 * the same file again with the same --key counts only the pieces that did
 * not count (the others are answered as replays).  A table whose profile
 * forms n-grams is sent whole: an n-gram may span a line.
 */

typedef struct piece_s {
    uint64_t off, len;
    pid_t pid;
    int fd; /* the child's answer: its word count */
    int rc;
    uint64_t words;
} piece_t;

/* Where the piece after off starts: the byte after the first newline at
 * or past off + CTL_PIECE, or the end. */
static uint64_t
piece_end(int fd, uint64_t off, uint64_t size)
{
    char buf[65536];
    uint64_t at = off + CTL_PIECE;

    while (at < size) {
        ssize_t n = pread(fd, buf, sizeof(buf), (off_t) at);
        if (n <= 0)
            return size;
        char *nl = memchr(buf, '\n', (size_t) n);
        if (nl != NULL)
            return at + (uint64_t) (nl - buf) + 1;
        at += (uint64_t) n;
    }
    return size;
}

/* The number at path's answer .obj.field, or dflt (not reached, or
 * not there). */
static double
get_number(const ctl_opts_t *o, const char *path, const char *obj,
           const char *field, double dflt)
{
    ctl_req_t r;
    cJSON *j = NULL, *v;

    req_init(&r, "GET", path);
    r.quiet = true;
    if (call(o, &r, &j) == CTL_OK) {
        v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, obj), field);
        if (cJSON_IsNumber(v))
            dflt = v->valuedouble;
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return dflt;
}

/* The node's workers, or 0 when the table must be sent whole (n-grams). */
static unsigned
upload_lanes(const ctl_opts_t *o, const ctl_args_t *a)
{
    char p[128];
    double alive = get_number(o, "/api/v1/status", "workers", "alive", 1);

    snprintf(p, sizeof(p), "/api/v1/tables/%s",
             a->table ? a->table : "default");
    if (get_number(o, p, "tokenizer", "ngrams", 1) > 1)
        return 0;
    return alive >= CTL_PIECES_MAX ? CTL_PIECES_MAX
           : alive >= 1            ? (unsigned) alive
                                   : 1;
}

/* A child: sends piece i and writes its word count to fd. */
static void __attribute__((noreturn))
piece_child(const ctl_opts_t *o, const ctl_args_t *a, const char *path,
            const piece_t *pc, unsigned i, const char *key, int fd)
{
    ctl_src_t src;
    char k[96], what[64];
    uint64_t words = 0;
    int rc;

    if (ctl_src_open(&src, a->argv[0]) != CTL_OK)
        _exit(CTL_BAD);
    src.base = (off_t) pc->off;
    src.size = (int64_t) pc->len;
    src.bar = false;
    if (ctl_src_rewind(&src) != CTL_OK)
        _exit(CTL_BAD);
    snprintf(k, sizeof(k), "%s-%u", key, i);
    snprintf(what, sizeof(what), "upload of piece %u", i);
    rc = upload_keyed(o, a, path, what, &src, k, true, &words);
    if (rc == CTL_OK)
        dprintf(fd, "%llu\n", (unsigned long long) words);
    _exit(rc);
}

/* A piece's child ended with wait status st. */
static void
piece_done(piece_t *pc, int st)
{
    char buf[32] = "";

    pc->rc = WIFEXITED(st) ? WEXITSTATUS(st) : CTL_BAD;
    if (read(pc->fd, buf, sizeof(buf) - 1) > 0)
        pc->words = strtoull(buf, NULL, 10);
    close(pc->fd);
    pc->pid = 0;
}

static void
parallel_report(const ctl_args_t *a, const piece_t *pcs, unsigned n,
                uint64_t size, uint64_t ms, unsigned lanes)
{
    ctl_tbl_t t = { .align = "ll", .ncol = 2 };
    uint64_t words = 0;
    char v[64];

    for (unsigned i = 0; i < n; i++)
        words += pcs[i].words;
    double s = (double) (ms ? ms : 1) / 1000;
    if (a->json) {
        printf("{\"words\":%llu,\"pieces\":%u,\"parallel\":%u,"
               "\"bytes\":%llu,\"seconds\":%.3f,\"mb_per_s\":%.1f,"
               "\"words_per_s\":%.0f}\n",
               (unsigned long long) words, n, lanes, (unsigned long long) size,
               s, (double) size / 1e6 / s, (double) words / s);
        return;
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long) words);
    tbl_add(&t, "words", v);
    snprintf(v, sizeof(v), "%u (%u at once)", n, lanes);
    tbl_add(&t, "pieces", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long) size);
    tbl_add(&t, "bytes", v);
    snprintf(v, sizeof(v), "%.2f s", s);
    tbl_add(&t, "time", v);
    snprintf(v, sizeof(v), "%.1f MB/s, %.0f words/s", (double) size / 1e6 / s,
             (double) words / s);
    tbl_add(&t, "rate", v);
    tbl_print(&t);
}

static int
upload_parallel(const ctl_opts_t *o, const ctl_args_t *a, const char *path,
                ctl_src_t *src, const char *key)
{
    uint64_t size = (uint64_t) src->size, t0 = util_now_ms(), words = 0;
    unsigned lanes = 0, n = 0, next = 0, running = 0;
    piece_t *pcs = xcalloc(size / CTL_PIECE + 2, sizeof(*pcs));
    int rc = CTL_OK;

    for (uint64_t off = 0; off < size; n++) {
        pcs[n].off = off;
        off = piece_end(src->fd, off, size);
        pcs[n].len = off - pcs[n].off;
    }
    /* whole, with the key itself: no newline to cut at, or n-grams */
    if (n == 1 || (lanes = upload_lanes(o, a)) == 0) {
        free(pcs);
        return upload_keyed(o, a, path, "upload", src, key, false, &words);
    }
    fflush(stdout);
    fflush(stderr);
    while (next < n || running > 0) {
        if (next < n && running < lanes && rc == CTL_OK) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0 || (pcs[next].pid = fork()) < 0) {
                ctl_err("upload: cannot start a piece: %s", strerror(errno));
                rc = CTL_BAD;
                continue;
            }
            if (pcs[next].pid == 0) {
                close(p[0]);
                piece_child(o, a, path, &pcs[next], next, key, p[1]);
            }
            close(p[1]);
            pcs[next++].fd = p[0];
            running++;
            continue;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break;
        for (unsigned k = 0; k < next; k++)
            if (pcs[k].pid == pid) {
                piece_done(&pcs[k], st);
                running--;
                if (pcs[k].rc != CTL_OK && rc == CTL_OK)
                    rc = pcs[k].rc;
            }
    }
    for (unsigned k = 0; k < n; k++)
        if (k >= next || pcs[k].rc != CTL_OK)
            ctl_err("upload: piece %u (bytes %llu-%llu) %s", k,
                    (unsigned long long) pcs[k].off,
                    (unsigned long long) (pcs[k].off + pcs[k].len - 1),
                    k >= next ? "was not sent" : "did not count");
    if (rc != CTL_OK)
        ctl_err("upload: send the same file again with --key %s: the "
                "pieces that counted are answered as replays",
                key);
    else
        parallel_report(a, pcs, n, size, util_now_ms() - t0, lanes);
    free(pcs);
    return rc;
}

static int
cmd_upload(const ctl_opts_t *o, const ctl_args_t *a)
{
    char p[128];

    return upload_send(o, a, table_path(a, "upload", p, sizeof(p)), "upload");
}

static int
cmd_retract(const ctl_opts_t *o, const ctl_args_t *a)
{
    char p[128];

    return upload_send(o, a, table_path(a, "retract", p, sizeof(p)),
                       "retract");
}

/* Resets each WORD to 0, one record each. */
static int
cmd_forget(const ctl_opts_t *o, const ctl_args_t *a)
{
    int rc = CTL_OK;

    for (int i = 0; i < a->argc && rc == CTL_OK; i++) {
        ctl_req_t r;
        cJSON *j;
        char p[128];

        req_init(&r, "DELETE", table_path(a, "words/", p, sizeof(p)));
        ctl_path_escape(&r.path, a->argv[i]);
        wait_query(&r, a);
        rc = call(o, &r, &j);
        if (rc == CTL_OK)
            upload_print(a, &r, j);
        cJSON_Delete(j);
        ctl_req_free(&r);
    }
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

    char p[128];

    req_init(&r, "GET", table_path(a, "top", p, sizeof(p)));
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

    char p[128];

    req_init(&r, "GET", table_path(a, "allwords", p, sizeof(p)));
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

/* ---- tables ------------------------------------------------------------- */

static int
table_list(const ctl_opts_t *o, const ctl_args_t *a)
{
    ctl_tbl_t t = { .align = "lrrrl", .ncol = 5 };
    ctl_req_t r;
    const cJSON *it;
    cJSON *j;
    char name[CTL_CELL_MAX], w[32], d[32], b[32], split[32];
    int rc;

    req_init(&r, "GET", "/api/v1/tables");
    if ((rc = call(o, &r, &j)) == CTL_OK && a->json)
        print_raw(&r);
    else if (rc == CTL_OK) {
        tbl_add(&t, "TABLE", "WORDS", "DISTINCT", "BYTES", "SPLIT");
        cJSON_ArrayForEach(it, j)
            tbl_add(&t, field(it, "name", name, sizeof(name)),
                    field(it, "words", w, sizeof(w)),
                    field(it, "distinct", d, sizeof(d)),
                    field(it, "bytes", b, sizeof(b)),
                    field(cJSON_GetObjectItemCaseSensitive(it, "tokenizer"),
                          "split", split, sizeof(split)));
        tbl_print(&t);
    }
    cJSON_Delete(j);
    ctl_req_free(&r);
    return rc;
}

/* POST /api/v1/tables with {"name": ..., "tokenizer": --tokenizer}. */
static int
table_create(const ctl_opts_t *o, const ctl_args_t *a, const char *name)
{
    cJSON *body = cJSON_CreateObject(), *tok = NULL;
    ctl_req_t r;
    char *s;
    int rc;

    if (a->tokenizer != NULL
        && !cJSON_IsObject(tok = cJSON_Parse(a->tokenizer))) {
        ctl_err("--tokenizer must be a JSON object, such as "
                "'{\"split\":\"unicode\",\"case\":\"fold\"}'");
        cJSON_Delete(tok);
        cJSON_Delete(body);
        return CTL_USAGE;
    }
    cJSON_AddStringToObject(body, "name", name);
    if (tok != NULL)
        cJSON_AddItemToObject(body, "tokenizer", tok);
    s = cJSON_PrintUnformatted(body);
    req_init(&r, "POST", "/api/v1/tables");
    r.data = s;
    rc = simple(o, a, &r);
    free(s);
    cJSON_Delete(body);
    return rc;
}

/* table list | describe T | create T | drop T | truncate T */
static int
cmd_table(const ctl_opts_t *o, const ctl_args_t *a)
{
    const char *sub = a->argv[0], *name = a->argc > 1 ? a->argv[1] : NULL;
    ctl_req_t r;

    if (strcmp(sub, "list") == 0 && name == NULL)
        return table_list(o, a);
    if (name == NULL || strcmp(sub, "list") == 0) {
        ctl_err("usage: memdbctl [GLOBAL OPTIONS] %s",
                cmd_find("table")->usage);
        return CTL_USAGE;
    }
    if (strcmp(sub, "create") == 0)
        return table_create(o, a, name);
    req_init(&r, "GET", "/api/v1/tables/");
    ctl_path_escape(&r.path, name);
    if (strcmp(sub, "drop") == 0) {
        r.method = "DELETE";
    } else if (strcmp(sub, "truncate") == 0) {
        r.method = "POST";
        buf_puts(&r.path, "/truncate");
    } else if (strcmp(sub, "describe") != 0) {
        ctl_req_free(&r);
        ctl_err("table: unknown subcommand \"%s\" (list, describe, create, "
                "drop, truncate)",
                sub);
        return CTL_USAGE;
    }
    wait_query(&r, a);
    return simple(o, a, &r);
}

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
    { "count", "jT", 1, -1, cmd_count, "count WORD... [--table T]" },
    { "upload", "jwtkrT", 1, 1, cmd_upload,
      "upload FILE|- [--table T] [--wait N] [--timeout-ms T] [--key K] "
      "[--retry-for S]" },
    { "retract", "jwtkrT", 1, 1, cmd_retract,
      "retract FILE|- [--table T] [--wait N] [--timeout-ms T] [--key K] "
      "[--retry-for S]" },
    { "forget", "jwtT", 1, -1, cmd_forget,
      "forget WORD... [--table T] [--wait N] [--timeout-ms T]" },
    { "top", "jnT", 0, 0, cmd_top, "top [-n K] [--table T]" },
    { "dump", "jplT", 0, 1, cmd_dump,
      "dump [FILE] [--table T] [--prefix P] [--limit N]" },
    { "table", "jzwt", 1, 2, cmd_table,
      "table list | describe T | create T [--tokenizer JSON] | drop T | "
      "truncate T" },
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
    { "table", required_argument, NULL, 'T' },
    { "tokenizer", required_argument, NULL, 'z' },
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
    case 'T': a->table = optarg; break;
    case 'z': a->tokenizer = optarg; break;
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
    case 'T': return "--table";
    case 'z': return "--tokenizer";
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
