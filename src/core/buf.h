/*
 * buf.h - a growable byte buffer owned by one process.
 */
#ifndef MEMDB_SRC_CORE_BUF_H
#define MEMDB_SRC_CORE_BUF_H

#include "src/core/memdb.h"

#include <string.h>

typedef struct buf_s {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_grow(buf_t *b, size_t need);
void buf_free(buf_t *b);
void buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void buf_consume(buf_t *b, size_t n);

static inline void
buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra > b->cap)
        buf_grow(b, b->len + extra);
}

static inline void
buf_append(buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return; /* b->data and p may be NULL */
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void
buf_putc(buf_t *b, char c)
{
    buf_reserve(b, 1);
    b->data[b->len++] = c;
}

static inline void
buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Writes the decimal form of v, zero-padded to at least width digits
 * (at most 20), to out; returns its length.  No NUL. */
static inline size_t
buf_u64_digits(char out[20], uint64_t v, int width)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0 || (int) n < width);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Appends the decimal form of v. */
static inline void
buf_put_u64(buf_t *b, uint64_t v)
{
    buf_reserve(b, 20);
    b->len += buf_u64_digits(b->data + b->len, v, 1);
}

#endif
