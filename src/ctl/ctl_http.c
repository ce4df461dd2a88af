/*
 * ctl_http.c - memdbctl's HTTP transport (libcurl): one blocking request
 * per call to ctl_request().
 *
 * Design:
 *   - The base URL is --node, else $MEMDB_URL, else http://127.0.0.1:9889
 *     (memdbctl.c picks it; ctl_base() adds "http://" and drops a trailing
 *     '/').  A token (--token-file, else $MEMDB_TOKEN) goes out as
 *     "Authorization: Bearer" on every request.
 *   - The header callback keeps the last status line and Location header,
 *     so a followed redirect (307 from a replica) reports the final answer.
 *   - A 2xx body is either collected in memory (small JSON answers) or, for
 *     streamed requests (dump), written as it arrives to a FILE that is
 *     opened on the first byte, so a failed request leaves no file behind.
 *     Error bodies are always collected: their "error" text is shown.
 *   - Upload bodies come from a ctl_src_t through a read callback, never
 *     loaded whole.  A regular file is sent with Content-Length and can be
 *     rewound (seek callback) when a redirect makes curl send it again;
 *     anything else (a pipe) goes chunked and can be "rewound" only while
 *     nothing has been read from it.
 *   - Errors map to the exit codes of ctl.h: transport failures 3, 4xx 4,
 *     5xx 5, local trouble (reading the input, writing the output) 1, a
 *     malformed node URL 2.  Every failure prints one "memdbctl: " line
 *     unless the request is marked quiet.
 */
#include "src/ctl/ctl.h"
#include "src/core/util.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTL_CONNECT_MS 3000
#define CTL_MAX_REDIRS 5
#define CTL_BAR_MS     100

static char ctl_base_url[1024];

/* Node i of the comma-separated list: as the base URL, without a
 * trailing '/', with "http://" added if no scheme. */
void
ctl_use_node(const ctl_opts_t *o, int i)
{
    const char *p = o->node;
    size_t n;

    for (; i > 0 && strchr(p, ',') != NULL; i--)
        p = strchr(p, ',') + 1;
    n = strcspn(p, ",");
    snprintf(ctl_base_url, sizeof(ctl_base_url), "%s%.*s",
             memmem(p, n, "://", 3) ? "" : "http://", (int) n, p);
    n = strlen(ctl_base_url);
    while (n > 0 && ctl_base_url[n - 1] == '/')
        ctl_base_url[--n] = '\0';
}

int
ctl_nodes(const ctl_opts_t *o)
{
    int n = 1;

    for (const char *p = o->node; (p = strchr(p, ',')) != NULL; p++)
        n++;
    return n;
}

const char *
ctl_base(const ctl_opts_t *o)
{
    if (ctl_base_url[0] == '\0')
        ctl_use_node(o, 0);
    return ctl_base_url;
}

/* Reads the token from file (first line, surrounding blanks dropped), else
 * from $MEMDB_TOKEN; none is fine. */
static int
token_load(ctl_opts_t *o, const char *file)
{
    static char tok[512];
    const char *env = getenv("MEMDB_TOKEN");
    FILE *f;
    size_t a = 0, n;

    if (file == NULL) {
        o->token = env != NULL && *env ? env : NULL;
        return CTL_OK;
    }
    if ((f = fopen(file, "r")) == NULL) {
        ctl_err("%s: %s", file, strerror(errno));
        return CTL_USAGE;
    }
    n = fgets(tok, sizeof(tok), f) ? strcspn(tok, "\r\n") : 0;
    fclose(f);
    while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        n--;
    tok[n] = '\0';
    while (tok[a] == ' ' || tok[a] == '\t')
        a++;
    if (tok[a] == '\0') {
        ctl_err("%s: no token in the file", file);
        return CTL_USAGE;
    }
    o->token = tok + a;
    return CTL_OK;
}

/* Before the first request: libcurl and the token. */
int
ctl_http_start(ctl_opts_t *o, const char *token_file)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ctl_err("cannot initialize libcurl");
        return CTL_BAD;
    }
    return token_load(o, token_file);
}

/* Appends "?key=value" or "&key=value" (value URL-encoded) to path. */
void
ctl_query(buf_t *path, const char *key, const char *val)
{
    char *e = curl_easy_escape(NULL, val, 0);

    buf_putc(path, memchr(path->data, '?', path->len) ? '&' : '?');
    buf_printf(path, "%s=%s", key, e ? e : "");
    curl_free(e);
}

void
ctl_path_escape(buf_t *path, const char *val)
{
    char *e = curl_easy_escape(NULL, val, 0);

    buf_puts(path, e ? e : "");
    curl_free(e);
}

/* ---- upload sources ------------------------------------------------- */

int
ctl_src_open(ctl_src_t *s, const char *path)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    s->name = strcmp(path, "-") == 0 ? "stdin" : path;
    s->fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        ctl_err("%s: %s", s->name, strerror(errno));
        return CTL_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        ctl_err("%s: %s", s->name, strerror(EISDIR));
        return CTL_USAGE;
    }
    s->size = -1;
    if (S_ISREG(st.st_mode) && (s->base = lseek(s->fd, 0, SEEK_CUR)) >= 0) {
        s->seekable = true;
        s->size = st.st_size > s->base ? st.st_size - s->base : 0;
    }
    s->bar = isatty(STDERR_FILENO);
    return CTL_OK;
}

/* Back to the first byte for another attempt: CTL_OK, or CTL_BAD when
 * bytes were read from a stream that cannot be read twice. */
int
ctl_src_rewind(ctl_src_t *s)
{
    if (s->seekable) {
        if (lseek(s->fd, s->base, SEEK_SET) < 0)
            return CTL_BAD;
        s->sent = 0;
        return CTL_OK;
    }
    return s->sent == 0 ? CTL_OK : CTL_BAD;
}

void
ctl_src_close(ctl_src_t *s)
{
    if (s->fd > 0)
        close(s->fd);
    s->fd = -1;
}

static size_t
src_read(char *p, size_t sz, size_t nmemb, void *arg)
{
    ctl_src_t *s = arg;
    size_t want = sz * nmemb;
    ssize_t n;

    if (s->size >= 0)
        want = MEMDB_MIN(want, (uint64_t) s->size - s->sent);
    if (want == 0)
        return 0;
    do
        n = read(s->fd, p, want);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        s->err = errno;
        return CURL_READFUNC_ABORT;
    }
    s->sent += (uint64_t) n;
    return (size_t) n;
}

static int
src_seek(void *arg, curl_off_t off, int origin)
{
    ctl_src_t *s = arg;

    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    if (s->seekable) {
        if (lseek(s->fd, s->base + (off_t) off, SEEK_SET) < 0)
            return CURL_SEEKFUNC_FAIL;
        s->sent = (uint64_t) off;
        return CURL_SEEKFUNC_OK;
    }
    if ((uint64_t) off == s->sent)
        return CURL_SEEKFUNC_OK; /* nothing read yet: nothing to undo */
    s->rewind_failed = true;
    return CURL_SEEKFUNC_CANTSEEK;
}

static void
human(char *out, size_t len, double v)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    unsigned u = 0;

    while (v >= 1024 && u + 1 < MEMDB_NELEM(units)) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* The progress bar, redrawn at most every CTL_BAR_MS (stderr is a tty). */
static int
src_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
             curl_off_t ultotal, curl_off_t ulnow)
{
    ctl_src_t *s = arg;
    uint64_t now = util_now_ms();
    char done[32], all[32];
    int pct, width = 30;

    if (now - s->drawn_ms < CTL_BAR_MS || ulnow == 0)
        return 0;
    s->drawn_ms = now;
    human(done, sizeof(done), (double) ulnow);
    if (s->size <= 0) {
        fprintf(stderr, "\r\033[Kuploading %s: %s sent", s->name, done);
        return 0;
    }
    human(all, sizeof(all), (double) s->size);
    pct = (int) (100.0 * (double) ulnow / (double) s->size);
    pct = MEMDB_MIN(pct, 100);
    fprintf(stderr, "\r\033[K[%-*.*s] %3d%%  %s / %s", width,
            pct * width / 100, "##############################", pct, done,
            all);
    return 0;
}

/* ---- one request ---------------------------------------------------- */

static size_t
on_header(char *p, size_t sz, size_t nmemb, void *arg)
{
    ctl_req_t *r = arg;
    size_t n = sz * nmemb;
    char line[600];
    long code;

    snprintf(line, sizeof(line), "%.*s", (int) MEMDB_MIN(n, 599), p);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0
        && sscanf(line, "HTTP/%*s %ld", &code) == 1) {
        const char *sp = strchr(line, ' ');
        r->status = code;
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        snprintf(r->reason, sizeof(r->reason), "%s", sp ? sp + 1 : "");
        r->replayed = false; /* a new response (after a redirect) */
        r->retry_after = false;
    } else if (strncasecmp(line, "location:", 9) == 0) {
        snprintf(r->location, sizeof(r->location), "%s",
                 line + 9 + strspn(line + 9, " \t"));
    } else if (strncasecmp(line, "idempotent-replayed:", 20) == 0) {
        r->replayed = strstr(line + 20, "true") != NULL;
    } else if (strncasecmp(line, "retry-after:", 12) == 0) {
        r->retry_after = true;
    }
    return n;
}

/* Opens the stream target on the first byte of a 2xx body. */
static bool
sink_open(ctl_req_t *r)
{
    if (r->out != NULL)
        return true;
    if (r->out_path == NULL || strcmp(r->out_path, "-") == 0) {
        r->out = stdout;
        return true;
    }
    if ((r->out = fopen(r->out_path, "w")) == NULL) {
        r->werr = errno;
        return false;
    }
    r->created = true;
    return true;
}

static size_t
on_body(char *p, size_t sz, size_t nmemb, void *arg)
{
    ctl_req_t *r = arg;
    size_t n = sz * nmemb;

    if (!r->stream || r->status / 100 != 2) {
        buf_append(&r->body, p, n);
        return n;
    }
    if (!sink_open(r))
        return 0;
    if (fwrite(p, 1, n, r->out) != n) {
        r->werr = errno;
        return 0;
    }
    r->streamed += n;
    return n;
}

static struct curl_slist *
req_headers(const ctl_opts_t *o, const ctl_req_t *r)
{
    struct curl_slist *h = NULL;
    char line[600];

    if (o->token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", o->token);
        h = curl_slist_append(h, line);
    }
    if (r->src != NULL)
        h = curl_slist_append(h, "Content-Type: text/plain");
    if (r->idem_key != NULL) {
        snprintf(line, sizeof(line), "Idempotency-Key: %s", r->idem_key);
        h = curl_slist_append(h, line);
    }
    return h;
}

static void
req_body(CURL *h, ctl_req_t *r)
{
    ctl_src_t *s = r->src;

    if (s == NULL && r->data != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(r->data));
        return;
    }
    if (s == NULL) {
        if (strcmp(r->method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        return;
    }
    curl_easy_setopt(h, CURLOPT_READFUNCTION, src_read);
    curl_easy_setopt(h, CURLOPT_READDATA, s);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, src_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, s);
    /* -1: unknown size, curl sends it chunked */
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) s->size);
    if (s->bar) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, src_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
}

static CURL *
req_handle(const ctl_opts_t *o, ctl_req_t *r, buf_t *url, char *ebuf)
{
    CURL *h = curl_easy_init();

    if (h == NULL)
        return NULL;
    buf_puts(url, ctl_base(o));
    buf_append(url, r->path.data, r->path.len);
    buf_putc(url, '\0');
    curl_easy_setopt(h, CURLOPT_URL, url->data);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "memdbctl/" MEMDB_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) CTL_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long) CTL_MAX_REDIRS);
    curl_easy_setopt(h, CURLOPT_POSTREDIR, (long) CURL_REDIR_POST_ALL);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (strcmp(r->method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POST, 1L);
    else if (strcmp(r->method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->stall_s > 0) {
        /* a node that stopped (paused, cut off) is given up on */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, r->stall_s);
    }
    req_body(h, r);
    return h;
}

/* scheme://host:port of url, for "cannot reach" */
static void
url_origin(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    size_t n = p ? (size_t) (p + 3 - url) + strcspn(p + 3, "/?#")
                 : strlen(url);

    snprintf(out, len, "%.*s", (int) n, url);
}

/* The message and exit code of an HTTP status >= 300. */
static int
http_fail(ctl_req_t *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body.data, r->body.len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    buf_t msg = { 0 };
    const cJSON *it;

    buf_printf(&msg, "%ld%s%s", r->status, r->reason[0] ? " " : "", r->reason);
    if (cJSON_IsString(e))
        buf_printf(&msg, ": %s", e->valuestring);
    else if (r->body.len > 0 && j == NULL) {
        buf_putc(&r->body, '\0');
        buf_printf(&msg, ": %.*s",
                   (int) MEMDB_MIN(strcspn(r->body.data, "\r\n"), 200),
                   r->body.data);
    }
    if (cJSON_IsObject(j)) {
        /* details such as {"offset": 17} or {"limit": 1024} */
        cJSON_ArrayForEach(it, j) if (cJSON_IsNumber(it)
                                      && strcmp(it->string, "status") != 0)
            buf_printf(&msg, " (%s %.0f)", it->string, it->valuedouble);
    }
    buf_putc(&msg, '\0');
    if (!r->quiet)
        ctl_err("%s", msg.data);
    buf_free(&msg);
    cJSON_Delete(j);
    return r->status >= 500 ? CTL_5XX : r->status >= 400 ? CTL_4XX : CTL_BAD;
}

static bool
unreachable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: return true;
    default: return false;
    }
}

/* The message and exit code of a transfer that failed in curl. */
static int
curl_fail(ctl_req_t *r, CURL *h, CURLcode rc, const char *ebuf)
{
    const char *why = ebuf[0] ? ebuf : curl_easy_strerror(rc);
    char *eff = NULL, origin[600];

    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    url_origin(eff ? eff : "", origin, sizeof(origin));
    if (r->quiet)
        return unreachable(rc) ? CTL_DOWN : CTL_BAD;
    if (rc == CURLE_SEND_FAIL_REWIND || (r->src && r->src->rewind_failed)) {
        ctl_err("the node redirected the upload to %s, but %s cannot be "
                "read twice: upload a file, or use --node with the leader",
                r->location[0] ? r->location : "the leader", r->src->name);
        return CTL_BAD;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && r->src && r->src->err) {
        ctl_err("%s: %s", r->src->name, strerror(r->src->err));
        return CTL_BAD;
    }
    if (rc == CURLE_WRITE_ERROR && r->werr) {
        ctl_err("%s: %s",
                r->out_path && strcmp(r->out_path, "-") != 0 ? r->out_path
                                                             : "stdout",
                strerror(r->werr));
        return CTL_BAD;
    }
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        ctl_err("bad node URL \"%s\": %s", ctl_base_url, why);
        return CTL_USAGE;
    }
    if (unreachable(rc)) {
        ctl_err("cannot reach %s: %s", origin, why);
        return CTL_DOWN;
    }
    ctl_err("request to %s failed: %s", origin, why);
    return CTL_BAD;
}

/* Runs the request; prints the reason of a failure; returns a CTL_ code. */
int
ctl_request(const ctl_opts_t *o, ctl_req_t *r)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    buf_t url = { 0 };
    struct curl_slist *hdrs = req_headers(o, r);
    CURL *h = req_handle(o, r, &url, ebuf);
    CURLcode rc;
    int ret = CTL_OK;

    if (h == NULL) {
        ctl_err("cannot start libcurl");
        curl_slist_free_all(hdrs);
        buf_free(&url);
        return CTL_BAD;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(h);
    if (r->src != NULL && r->src->drawn_ms)
        fputs("\r\033[K", stderr);
    r->transport = rc != CURLE_OK && !(unreachable(rc) && r->status >= 400);
    if (r->transport)
        ret = curl_fail(r, h, rc, ebuf);
    else if (r->status >= 300 || r->status < 200)
        ret = http_fail(r);
    if (r->out != NULL && r->out != stdout && fclose(r->out) != 0 && !ret) {
        ctl_err("%s: %s", r->out_path, strerror(errno));
        ret = CTL_BAD;
    }
    r->out = NULL;
    if (ret != CTL_OK && r->created)
        remove(r->out_path); /* no half-written dump */
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    buf_free(&url);
    return ret;
}

void
ctl_req_free(ctl_req_t *r)
{
    buf_free(&r->path);
    buf_free(&r->body);
}

/* A request with a JSON answer: *out is the parsed body (cJSON_Delete it). */
int
ctl_call(const ctl_opts_t *o, ctl_req_t *r, cJSON **out)
{
    int rc = ctl_request(o, r);

    *out = NULL;
    if (rc != CTL_OK)
        return rc;
    *out = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (*out == NULL) {
        if (!r->quiet)
            ctl_err("the answer of %s%.*s is not JSON", ctl_base(o),
                    (int) r->path.len, r->path.data);
        return CTL_BAD;
    }
    return CTL_OK;
}
