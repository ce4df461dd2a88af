/*
 * resp.c - writing HTTP responses into a connection's output buffer.  The
 * answer to a HEAD request is the one to GET without its body: the same
 * status and header fields, Content-Length included (RFC 9110 section
 * 9.3.2), and nothing after the blank line (RFC 9112 section 6.3).
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <stdio.h>
#include <time.h>

static const char *
resp_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

/* "Date: ..." formatted once per second. */
static const char *
date_header(void)
{
    static char hdr[64];
    static time_t last;
    time_t now = time(NULL);

    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(hdr, sizeof(hdr), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    return hdr;
}

void
resp_head(conn_t *c, int status, const char *ctype, int64_t clen,
          const char *extra)
{
    buf_t *b = &c->out;

    c->status = status;
    if (c->w->draining)
        c->want_close = true;
    buf_puts(b, "HTTP/1.1 ");
    buf_put_u64(b, (uint64_t) status);
    buf_putc(b, ' ');
    buf_puts(b, resp_reason(status));
    buf_puts(b, "\r\nServer: memdb\r\n");
    buf_puts(b, date_header());
    if (ctype != NULL) {
        buf_puts(b, "Content-Type: ");
        buf_puts(b, ctype);
        buf_puts(b, "\r\n");
    }
    if (clen >= 0) {
        buf_puts(b, "Content-Length: ");
        buf_put_u64(b, (uint64_t) clen);
        buf_puts(b, "\r\n");
    } else if (c->parser.http_minor >= 1) {
        buf_puts(b, "Transfer-Encoding: chunked\r\n");
    } else {
        c->want_close = true; /* HTTP/1.0: close delimits */
    }
    if (extra != NULL)
        buf_puts(b, extra);
    if (c->parser.method == HTTP_GET || c->is_head) {
        buf_puts(b, "X-Memdb-LSN: ");
        buf_put_u64(b, gate_applied_lsn(c->w->shm));
        buf_puts(b, "\r\n");
    }
    if (c->want_close)
        buf_puts(b, "Connection: close\r\n");
    else if (c->parser.http_minor == 0)
        buf_puts(b, "Connection: keep-alive\r\n");
    buf_puts(b, "\r\n");
    if (clen > 0 && !c->is_head)
        c->resp_bytes += (uint64_t) clen;
}

void
resp_body(conn_t *c, const void *p, size_t n)
{
    if (!c->is_head)
        buf_append(&c->out, p, n);
}

void
resp_json(conn_t *c, int status, const buf_t *body, const char *extra)
{
    resp_head(c, status, "application/json", (int64_t) body->len + 1, extra);
    resp_body(c, body->data, body->len);
    resp_body(c, "\n", 1);
}

void
resp_error_at(conn_t *c, int status, const char *msg, const char *key,
              uint64_t val)
{
    buf_t *b = &c->w->tmp;
    char extra[256] = "";

    b->len = 0;
    buf_putc(b, '{');
    json_kv_str(b, "error", msg, true);
    json_kv_u64(b, "status", (uint64_t) status, false);
    if (key != NULL)
        json_kv_u64(b, key, val, false);
    buf_putc(b, '}');
    if (status == 405 && c->allow != NULL)
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", c->allow);
    if (status == 409 && c->retry_after) /* its key is in flight */
        snprintf(extra, sizeof(extra), "Retry-After: 1\r\n");
    if (status == 401)
        snprintf(extra, sizeof(extra),
                 "WWW-Authenticate: Bearer "
                 "realm=\"memdb\"\r\n");
    resp_json(c, status, b, extra[0] ? extra : NULL);
}

void
resp_error(conn_t *c, int status, const char *msg)
{
    resp_error_at(c, status, msg, NULL, 0);
}

void
resp_done(conn_t *c)
{
    const char *method = http_method_str((enum http_method) c->parser.method);
    uint64_t usec = (util_now_ns() - c->req_start_ns) / 1000;
    size_t plen = c->path_len ? c->path_len : c->url.len;

    log_activity(c->client, method, plen ? c->url.data : "-", plen ? plen : 1,
                 c->status, c->resp_bytes, usec);
    atomic_fetch_add_explicit(&c->w->slot->requests, 1, memory_order_relaxed);
    metrics_count(c, usec);
    upload_end(c);
    c->url.len = 0;
    c->path_len = 0;
    conn_set_phase(c, c->want_close ? PH_CLOSING : PH_IDLE);
}
