/*
 * url.c - percent-decoding and query strings (see url.h).
 */
#include "url.h"

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

int
url_decode(buf_t *out, const char *s, size_t len)
{
    buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
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
