/*
 * json.c - JSON writer (see json.h).
 */
#include "src/core/json.h"

static const char hex[] = "0123456789abcdef";

void
json_str(buf_t *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + len;
    const unsigned char *run = p;

    buf_reserve(b, len + 2);
    buf_putc(b, '"');
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, run, (size_t) (p - run));
        run = p + 1;
        switch (c) {
        case '"': buf_append(b, "\\\"", 2); break;
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        case '\b': buf_append(b, "\\b", 2); break;
        case '\f': buf_append(b, "\\f", 2); break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            buf_append(b, u, 6);
        }
        }
    }
    buf_append(b, run, (size_t) (p - run));
    buf_putc(b, '"');
}

void
json_key(buf_t *b, const char *key, bool first)
{
    if (!first)
        buf_putc(b, ',');
    json_cstr(b, key);
    buf_putc(b, ':');
}

void
json_kv_u64(buf_t *b, const char *key, uint64_t v, bool first)
{
    json_key(b, key, first);
    buf_put_u64(b, v);
}

void
json_kv_str(buf_t *b, const char *key, const char *v, bool first)
{
    json_key(b, key, first);
    json_cstr(b, v);
}
