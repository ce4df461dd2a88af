/*
 * http.c - the HTTP parser glue of a connection: libhttp_parser with the
 * worker's settings and callbacks (head and body limits, the header fields
 * memdb reads, Expect, the request target and its route), the framing
 * checks the parser does not make, and the answers to what is refused.
 * The socket and the life cycle of the connection are conn.c's.
 *
 * Framing (RFC 9112): what the parser lets through but the RFC does not
 * is refused here (see "framing bytes the parser does not check" and
 * on_headers_complete): a space in a field name, obs-fold, a version that
 * is not "HTTP/", a Host field missing in HTTP/1.1, repeated or invalid,
 * a Transfer-Encoding in HTTP/1.0 or with a coding other than chunked
 * (501), chunk framing that is not CRLF.  A refused request is answered
 * and the connection closed.
 *
 * Pausing: the parser is paused after a request whose answer is not done
 * (parked, streamed, closing) or when the output backs up, and where a
 * framing byte must be checked; conn.c resumes it.
 *
 * HEAD: every GET path answers it with the answer GET would get, without
 * its body (resp.c, stream.c).
 */
#include "worker/wrk.h"
#include "src/core/url.h"
#include "src/core/util.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t n);
static int on_header_field(http_parser *p, const char *at, size_t n);
static int on_header_value(http_parser *p, const char *at, size_t n);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t n);
static int on_message_complete(http_parser *p);
static int on_chunk_header(http_parser *p);
static int on_chunk_complete(http_parser *p);
static int finish_header(conn_t *c);
static int refuse(conn_t *c, int status, const char *msg);
static int refuse_too_large(conn_t *c);
static bool framing_pending(conn_t *c);
static bool framing_lf(conn_t *c);

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
};

/* ---- refusing a request -------------------------------------------- */

/* Answers status and closes the connection: what follows in the stream
 * cannot be trusted to be a request. */
static int
refuse(conn_t *c, int status, const char *msg)
{
    c->want_close = true;
    resp_error(c, status, msg);
    resp_done(c);
    return -1;
}

static int
refuse_too_large(conn_t *c)
{
    c->want_close = true;
    resp_error_at(c, 413, "request body too large", "limit",
                  c->w->conf->http_max_body);
    resp_done(c);
    return -1;
}

bool
http_has_body(const conn_t *c)
{
    return (c->parser.flags & F_CHUNKED)
           || (c->parser.content_length > 0
               && c->parser.content_length != ULLONG_MAX);
}

/* An error of the parser: 400.  A callback that failed has answered
 * already: one answer per request, then close.  A chunk size too big for
 * 64 bits (the parser calls it a bad Content-Length) is a body over
 * http.max_body. */
static void
parse_error(conn_t *c, enum http_errno e)
{
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete) {
        c->want_close = true;
        if (c->phase != PH_CLOSING)
            conn_set_phase(c, PH_CLOSING);
        return;
    }
    if (c->phase == PH_CLOSING)
        return;
    /* past its method, a HEAD request gets no body whatever went wrong
     * (on_url may not have run: the target is what failed); a bad method
     * may be the first byte of a request, after a HEAD */
    c->is_head = e != HPE_INVALID_METHOD && c->parser.method == HTTP_HEAD;
    if (e == HPE_INVALID_CONTENT_LENGTH && c->headers_done
        && !(c->parser.flags & F_TRAILING)) {
        (void) refuse_too_large(c);
        return;
    }
    (void) refuse(c, 400, http_errno_description(e));
}

void
http_parse(conn_t *c)
{
    while (!c->paused && c->phase != PH_CLOSING && c->in_off < c->in.len) {
        if (!framing_pending(c))
            break;
        size_t n = http_parser_execute(&c->parser, &settings,
                                       c->in.data + c->in_off,
                                       c->in.len - c->in_off);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

        c->in_off += n;
        if (e == HPE_PAUSED && c->lf_check != LF_NONE) {
            if (!framing_lf(c))
                break;
            continue;
        }
        if (e == HPE_PAUSED)
            break;
        if (e != HPE_OK) {
            parse_error(c, e);
            break;
        }
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
        if (c->in.cap > 4 * WRK_READ_CHUNK)
            buf_free(&c->in);
    } else if (c->in_off > WRK_READ_CHUNK) {
        buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
}

/* ---- framing bytes the parser does not check ------------------------ */

/*
 * libhttp_parser 2.9 is built with -DHTTP_PARSER_STRICT=0 (the library
 * target of its Makefile, which Debian uses; the header's default of 1
 * changes nothing in the library).  It then takes any letters for the
 * "TTP/" of "HTTP/", any byte for the LF after the CR of a chunk-size
 * line and of the end of the trailers, any two bytes for the CRLF after
 * chunk data, and a space in a field name ("Content-Length : 5").  memdb
 * checks them itself:
 *   - bytes the stream must go on with (framing_expect: "HTTP/" after the
 *     request target, CRLF after chunk data) are compared as far as they
 *     have arrived; the rest (c->want) before the parser sees the next
 *     read (framing_pending);
 *   - at a byte that must be the LF after a CR, the callback that runs
 *     there pauses the parser, and http_parse() looks at the byte
 *     (c->lf_check, framing_lf).
 */
static const char *
in_end(const conn_t *c)
{
    return c->in.data + c->in.len;
}

/* The stream goes on at p with the bytes of s; else 400 naming what. */
static int
framing_expect(conn_t *c, const char *p, const char *s, const char *what)
{
    size_t n = MEMDB_MIN(strlen(s), (size_t) (in_end(c) - p));

    if (memcmp(p, s, n) != 0) {
        c->want = NULL;
        return refuse(c, 400, what);
    }
    c->want = s[n] != '\0' ? s + n : NULL;
    c->want_what = what;
    return 0;
}

/* Before the parser sees more input: the rest of c->want.  false if the
 * request was refused. */
static bool
framing_pending(conn_t *c)
{
    if (c->want == NULL)
        return true;
    return framing_expect(c, c->in.data + c->in_off, c->want, c->want_what)
           == 0;
}

/* The parser paused where a byte must be LF: the last one it took
 * (LF_LAST) or the next one (LF_NEXT).  false if the request was
 * refused. */
static bool
framing_lf(conn_t *c)
{
    static const char what[] = "chunked body: CR not followed by LF";
    int lf = c->lf_check;

    c->lf_check = LF_NONE;
    if (lf == LF_LAST && c->in.data[c->in_off - 1] != '\n') {
        (void) refuse(c, 400, what);
        return false;
    }
    if (lf == LF_NEXT
        && framing_expect(c, c->in.data + c->in_off, "\n", what) != 0)
        return false;
    http_parser_pause(&c->parser, 0);
    return true;
}

/* ---- parser callbacks ---------------------------------------------- */

static int
head_limit(conn_t *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes <= c->w->conf->http_max_header)
        return 0;
    c->want_close = true;
    resp_error_at(c, 431, "request headers too large", "limit",
                  c->w->conf->http_max_header);
    resp_done(c);
    return -1;
}

static int
on_message_begin(http_parser *p)
{
    conn_t *c = p->data;

    c->url.len = 0;
    c->hname.len = 0;
    c->head_bytes = 0;
    c->in_value = false;
    c->value_ended = false;
    c->expect_continue = false;
    c->is_head = false;
    c->headers_done = false;
    c->hosts = 0;
    c->host_bad = false;
    c->te = 0;
    c->ikey = IKEY_NONE;
    c->ikey_replay = false;
    c->retry_after = false;
    c->route = RT_NONE;
    c->body_bytes = 0;
    c->status = 0;
    c->resp_bytes = 0;
    c->allow = NULL;
    c->deadline_aux = 0;
    c->wait_ok = false;
    c->auth[0] = '\0';
    c->req_start_ns = util_now_ns();
    conn_set_phase(c, PH_HEADERS);
    return 0;
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;

    c->is_head = p->method == HTTP_HEAD;
    if (head_limit(c, n))
        return -1;
    buf_append(&c->url, at, n);
    /* the target ends at the SP before the version (a piece that ends
     * sooner ends with the read) */
    if (at + n < in_end(c) && at[n] == ' ')
        return framing_expect(c, at + n, " HTTP/", "malformed HTTP version");
    return 0;
}

static bool
name_is(const conn_t *c, const char *name)
{
    size_t n = strlen(name);

    return c->hname.len == n && strncasecmp(c->hname.data, name, n) == 0;
}

/* tchar (RFC 9110 section 5.6.2) */
static bool
token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9')
           || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* One transfer coding, OWS trimmed: chunked (without parameters, as it
 * has none) or one memdb does not implement. */
static void
te_coding(conn_t *c, const char *s, size_t n)
{
    size_t name = 0;

    while (name < n && token_char(s[name]))
        name++;
    if (name == 0
        || (name < n && s[name] != ';' && s[name] != ' ' && s[name] != '\t')) {
        c->te |= TE_BAD;
        return;
    }
    if (name == 7 && strncasecmp(s, "chunked", 7) == 0) {
        if (name < n)
            c->te |= TE_BAD;
        if (c->te & TE_CHUNKED)
            c->te |= TE_TWICE;
        c->te |= TE_CHUNKED | TE_LAST_CHUNKED;
        return;
    }
    c->te |= TE_OTHER;
    c->te &= (uint8_t) ~TE_LAST_CHUNKED;
}

/* A Transfer-Encoding field: a list of transfer codings (RFC 9112 section
 * 6.1).  Empty elements are skipped (RFC 9110 section 5.6.1), but the
 * parser does not take "chunked," as chunked: te_check() refuses what
 * the parser did not see as chunked. */
static void
te_field(conn_t *c, const char *v, size_t n)
{
    size_t i = 0;

    c->te |= TE_SEEN;
    while (i < n) {
        size_t start, end;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        start = i;
        while (i < n && v[i] != ',')
            i++;
        end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > start)
            te_coding(c, v + start, end - start);
    }
}

/* Called with a complete header: only a few are of interest, and none of
 * the trailer fields. */
static int
header_done(conn_t *c, const char *val, size_t vlen)
{
    if (c->headers_done)
        return 0;
    while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
        vlen--;
    if (name_is(c, "authorization")) {
        if (vlen < sizeof(c->auth)) {
            memcpy(c->auth, val, vlen);
            c->auth[vlen] = '\0';
        }
    } else if (name_is(c, "expect")) {
        if (vlen != 12 || strncasecmp(val, "100-continue", 12) != 0)
            return refuse(c, 417,
                          "only \"Expect: 100-continue\" is supported");
        c->expect_continue = true;
    } else if (name_is(c, "host")) {
        c->hosts++;
        if (!url_host_valid(val, vlen))
            c->host_bad = true;
    } else if (name_is(c, "transfer-encoding")) {
        te_field(c, val, vlen);
    } else if (name_is(c, "idempotency-key")) {
        upload_key_field(c, val, vlen);
    }
    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;

    if (head_limit(c, n))
        return -1;
    /* the parser lets a space through ("Content-Length : 5") */
    if (memchr(at, ' ', n) != NULL)
        return refuse(c, 400, "whitespace in a header field name");
    if (c->in_value) {
        if (finish_header(c))
            return -1;
        c->in_value = false;
        c->value_ended = false;
        c->hname.len = 0;
    }
    buf_append(&c->hname, at, n);
    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;

    if (head_limit(c, n))
        return -1;
    /* RFC 9112 section 5.2: refuse obs-fold (a line that goes on with
     * a space or tab); the parser would join the lines */
    if (c->value_ended)
        return refuse(c, 400, "obsolete line folding in a header field");
    /* Values of interest are short and arrive in one piece unless the
     * client trickles them; accumulate those in hname after a NUL. */
    if (!c->in_value) {
        c->in_value = true;
        buf_putc(&c->hname, '\0');
    }
    buf_append(&c->hname, at, n);
    /* a piece that ends before the read does ends at its CR or LF */
    c->value_ended = at + n < in_end(c);
    return 0;
}

/* hname holds "name\0value" once the value started. */
static int
finish_header(conn_t *c)
{
    const char *nul;
    size_t keep = c->hname.len;
    int rc;

    if (!c->in_value)
        return 0;
    nul = memchr(c->hname.data, '\0', c->hname.len);
    if (nul == NULL)
        return 0;
    c->hname.len = (size_t) (nul - c->hname.data);
    rc = header_done(c, nul + 1, keep - c->hname.len - 1);
    c->hname.len = keep;
    return rc;
}

/* Transfer-Encoding (RFC 9112 section 6): chunked, once and last, and not
 * in HTTP/1.0, where it means the framing is faulty (section 6.1). */
static int
te_check(conn_t *c)
{
    uint8_t te = c->te;

    if (!(te & TE_SEEN))
        return (c->parser.flags & F_CHUNKED)
                   ? refuse(c, 400, "malformed Transfer-Encoding")
                   : 0;
    if (c->parser.http_minor == 0)
        return refuse(c, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if ((te & TE_BAD) || !(te & (TE_CHUNKED | TE_OTHER)))
        return refuse(c, 400, "malformed Transfer-Encoding");
    if (!(te & TE_LAST_CHUNKED))
        return refuse(c, 400, "chunked must be the last transfer coding");
    if (te & TE_TWICE)
        return refuse(c, 400, "chunked applied more than once");
    if (te & TE_OTHER)
        return refuse(c, 501,
                      "transfer coding not implemented: only chunked is");
    if (!(c->parser.flags & F_CHUNKED))
        return refuse(c, 400, "malformed Transfer-Encoding");
    return 0;
}

/* Host (RFC 9112 section 3.2): at most one, valid, and one in HTTP/1.1. */
static int
host_check(conn_t *c)
{
    if (c->hosts > 1)
        return refuse(c, 400, "more than one Host field");
    if (c->host_bad)
        return refuse(c, 400, "invalid Host field");
    if (c->hosts == 0 && c->parser.http_minor >= 1)
        return refuse(c, 400, "HTTP/1.1 request without a Host field");
    return 0;
}

/* The request target and the route it names. */
static int
target_route(conn_t *c)
{
    struct http_parser_url u;

    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0
        || !(u.field_set & (1 << UF_PATH)))
        return refuse(c, 400, "malformed request target");
    c->path_off = u.field_data[UF_PATH].off;
    c->path_len = u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;
    c->route = route_find(c, c->url.data + u.field_data[UF_PATH].off,
                          u.field_data[UF_PATH].len, c->parser.method);
    return 0;
}

/* Expect: 100-continue (RFC 9110 section 10.1.1) on an HTTP/1.1 request
 * with a body: 100 at once, or the final status if the head decides it
 * (404, 405), and then close, as the client may send the body or not.
 * An HTTP/1.0 client gets no 1xx: its expectation is ignored. */
static int
expect_continue(conn_t *c)
{
    if (!c->expect_continue || c->parser.http_minor == 0 || !http_has_body(c))
        return 0;
    if (c->route == RT_NONE) {
        c->want_close = true;
        route_dispatch(c);
        return -1;
    }
    buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    conn_flush(c);
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;

    /* The value of each header is checked when the next name starts. */
    if (finish_header(c))
        return -1;
    c->headers_done = true;
    c->in_value = false;
    c->value_ended = false;
    c->hname.len = 0;
    if (p->http_major != 1 || p->http_minor > 1)
        return refuse(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (target_route(c) || te_check(c) || host_check(c))
        return -1;
    if ((p->flags & F_CONTENTLENGTH)
        && p->content_length > c->w->conf->http_max_body)
        return refuse_too_large(c);
    conn_set_phase(c, PH_BODY);
    if (route_takes_words(c->route) && upload_begin(c) != MEMDB_OK)
        return -1;
    c->body.len = 0;
    return expect_continue(c);
}

/* A chunk-size line was read: its size is known before its data. */
static int
on_chunk_header(http_parser *p)
{
    conn_t *c = p->data;

    if (p->content_length > c->w->conf->http_max_body - c->body_bytes)
        return refuse_too_large(c);
    c->lf_check = LF_LAST;
    http_parser_pause(p, 1);
    return 0;
}

/* After the last chunk: the end of the trailer section is next. */
static int
on_chunk_complete(http_parser *p)
{
    conn_t *c = p->data;

    if (p->flags & F_TRAILING) {
        c->lf_check = LF_NEXT;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;

    c->body_bytes += n;
    if (c->body_bytes > c->w->conf->http_max_body)
        return refuse_too_large(c);
    /* the end of a chunk's data (else the read ended): CRLF must follow */
    if ((p->flags & F_CHUNKED) && p->content_length == 0
        && framing_expect(c, at + n, "\r\n",
                          "chunk data not followed by CRLF"))
        return -1;
    if (route_takes_words(c->route))
        return upload_body(c, at, n);
    if (c->route == RT_TABLE_CREATE)
        return tables_body(c, at, n);
    return 0;
}

static int
on_message_complete(http_parser *p)
{
    conn_t *c = p->data;

    if (!http_should_keep_alive(p))
        c->want_close = true;
    route_dispatch(c);
    if (c->phase == PH_WAIT || c->phase == PH_STREAM || c->want_close
        || c->out.len - c->out_off > WRK_OUT_HIGH) {
        c->paused = true;
        http_parser_pause(p, 1);
    }
    return 0;
}
