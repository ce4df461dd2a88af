/*
 * buf.h - a growable byte buffer owned by one process.
 */
#ifndef MEMDB_BUF_H
#define MEMDB_BUF_H

#include "memdb.h"

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

/* Appends the decimal form of v. */
static inline void
buf_put_u64(buf_t *b, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    buf_reserve(b, (size_t) n);
    while (n > 0)
        b->data[b->len++] = tmp[--n];
}

#endif
