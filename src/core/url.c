/*
 * url.c - percent-decoding and query strings, and the syntax of a Host
 * field (see url.h).
 */
#include "src/core/url.h"

#include <string.h>

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* plus: '+' means a space (a query), else it is itself (a path). */
static int
url_unescape(buf_t *out, const char *s, size_t len, bool plus)
{
    buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' && plus) {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0
                || (lo = hexval(s[i + 2])) < 0)
                return MEMDB_ERR;
            c = (char) (hi << 4 | lo);
            i += 2;
        }
        out->data[out->len++] = c;
    }
    return MEMDB_OK;
}

int
url_decode(buf_t *out, const char *s, size_t len)
{
    return url_unescape(out, s, len, true);
}

int
url_decode_path(buf_t *out, const char *s, size_t len)
{
    return url_unescape(out, s, len, false);
}

void
url_query_init(url_query_t *q, const char *s, size_t len)
{
    q->p = s;
    q->end = s + len;
}

int
url_query_next(url_query_t *q, buf_t *key, buf_t *val)
{
    const char *amp, *eq;

    key->len = 0;
    val->len = 0;
    while (q->p < q->end && *q->p == '&')
        q->p++;
    if (q->p >= q->end)
        return MEMDB_AGAIN;
    for (amp = q->p; amp < q->end && *amp != '&'; amp++)
        ;
    for (eq = q->p; eq < amp && *eq != '='; eq++)
        ;
    if (url_decode(key, q->p, (size_t) (eq - q->p)) != MEMDB_OK)
        return MEMDB_ERR;
    if (eq < amp
        && url_decode(val, eq + 1, (size_t) (amp - eq - 1)) != MEMDB_OK)
        return MEMDB_ERR;
    q->p = amp;
    return MEMDB_OK;
}

/* unreserved / sub-delims (RFC 3986 section 2) */
static bool
host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* IP-literal: "[" IPv6address / IPvFuture "]"; returns its length, 0 if
 * it is not one. */
static size_t
host_ip_literal(const char *s, size_t len)
{
    bool future = len > 1 && (s[1] == 'v' || s[1] == 'V');
    size_t i;

    for (i = 1; i < len && s[i] != ']'; i++) {
        bool ok = future ? host_char(s[i]) || s[i] == ':'
                         : hexval(s[i]) >= 0 || s[i] == ':' || s[i] == '.';
        if (!ok)
            return 0;
    }
    return i < len && i > 1 ? i + 1 : 0;
}

/* reg-name or IPv4address: returns its length, or len + 1 if it holds a
 * byte it may not. */
static size_t
host_reg_name(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && s[i] != ':') {
        if (s[i] == '%') {
            if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return len + 1;
            i += 3;
        } else if (host_char(s[i])) {
            i++;
        } else {
            return len + 1;
        }
    }
    return i;
}

bool
url_host_valid(const char *s, size_t len)
{
    size_t i = len > 0 && s[0] == '[' ? host_ip_literal(s, len)
                                      : host_reg_name(s, len);

    if (i == 0 && len > 0 && s[0] == '[')
        return false;
    if (i > len)
        return false;
    if (i == len)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}
