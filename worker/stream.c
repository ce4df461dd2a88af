/*
 * stream.c - GET /api/v1/allwords: every word and its count as one JSON
 * object, written in HTTP chunks as the client reads them.
 *
 * Memory: the stream holds a copy of one partition's words at a time
 * (1/4096 of the table) and at most WRK_STREAM_CHUNK bytes of output, so
 * it runs in the same small memory however big the table is.  Each
 * partition's words and counts are copied as of one instant
 * (ht_part_copy).  Words appear in hash order.
 *
 * stream_scan runs a request that must read the whole store before it
 * answers (GET /top, the tables' sizes) the same way: a few partitions a
 * call, at most 16 calls a turn of the event loop (conn_progress), then
 * the other connections run; it writes its answer at the end.
 *
 * stream_static writes a body that is in memory already (the API
 * description, apidoc.c) the same way, a chunk at a time as the client
 * reads, so that a slow reader does not make the worker copy all of it.
 *
 * A HEAD request gets the head of either (chunked framing or
 * Content-Length, as GET) and the stream ends at once.
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
stream_chunk(conn_t *c, const buf_t *data)
{
    char hdr[24];
    int n;

    if (data->len == 0)
        return;
    if (c->stream->chunked) {
        n = snprintf(hdr, sizeof(hdr), "%zx\r\n", data->len);
        buf_append(&c->out, hdr, (size_t) n);
    }
    buf_append(&c->out, data->data, data->len);
    if (c->stream->chunked)
        buf_append(&c->out, "\r\n", 2);
    c->resp_bytes += data->len;
}

void
stream_start(conn_t *c, uint64_t gen, const char *prefix, size_t plen,
             uint64_t limit)
{
    stream_t *s = xcalloc(1, sizeof(*s));

    s->limit = limit;
    s->gen = gen;
    s->first = true;
    if (plen > 0)
        buf_append(&s->prefix, prefix, plen);
    c->stream = s;
    resp_head(c, 200, "application/json", -1, NULL);
    s->chunked = c->parser.http_minor >= 1;
    conn_set_phase(c, PH_STREAM);
}

void
stream_free(conn_t *c)
{
    if (c->stream == NULL)
        return;
    ht_copy_free(&c->stream->cp);
    if (c->stream->scan != NULL)
        c->stream->scan->drop(c->stream->scan_arg);
    buf_free(&c->stream->prefix);
    free(c->stream);
    c->stream = NULL;
}

/* Is key a word of the stream's table generation with its prefix?  *skip:
 * the bytes of the generation's own prefix, before the word. */
static bool
stream_match(const stream_t *s, const char *key, size_t len, size_t *skip)
{
    uint64_t gen;

    if (!cat_key_gen(key, len, &gen, skip) || gen != s->gen)
        return false; /* an internal key, or another table's */
    /* no prefix: prefix.data is NULL, and memcmp must not get NULL even
     * for 0 bytes */
    return s->prefix.len == 0
           || (len - *skip >= s->prefix.len
               && memcmp(key + *skip, s->prefix.data, s->prefix.len) == 0);
}

void
stream_static(conn_t *c, const char *ctype, const char *data, size_t len)
{
    stream_t *s = xcalloc(1, sizeof(*s));

    s->data = data;
    s->data_len = len;
    c->stream = s;
    resp_head(c, 200, ctype, (int64_t) len, NULL);
    conn_set_phase(c, PH_STREAM);
}

/* The next piece of a static body; true when it was the last. */
static bool
stream_fill_static(conn_t *c)
{
    stream_t *s = c->stream;
    size_t n = MEMDB_MIN(s->data_len - s->data_off, (size_t) WRK_STREAM_CHUNK);

    buf_append(&c->out, s->data + s->data_off, n);
    s->data_off += n;
    if (s->data_off < s->data_len)
        return false;
    stream_free(c);
    return true;
}

#define SCAN_SLICE 4 /* partitions a call: 16 calls a turn, 1/64 of all */

void
stream_scan(conn_t *c, const scan_ops_t *ops, void *arg)
{
    stream_t *s = xcalloc(1, sizeof(*s));

    s->scan = ops;
    s->scan_arg = arg;
    c->stream = s;
    conn_set_phase(c, PH_STREAM);
}

/* The next slice of a scan; true when it answered. */
static bool
stream_fill_scan(conn_t *c)
{
    stream_t *s = c->stream;
    long p = 0;

    for (unsigned i = 0; i < SCAN_SLICE; i++) {
        if (s->scan->next != NULL)
            p = s->scan->next(s->scan_arg);
        else
            p = s->part < HT_PARTS ? (long) s->part++ : -1;
        if (p == SCAN_AGAIN)
            continue;
        if (p < 0)
            break;
        if (ht_part_copy(&c->w->shm->ht, (unsigned) p, &s->cp) < 0)
            s->cp.n = 0; /* out of memory: (not reached) */
        s->scan->part(s->scan_arg, &s->cp);
    }
    if (p >= 0 || p == SCAN_AGAIN)
        return false;
    s->scan->done(c, s->scan_arg);
    stream_free(c);
    return true;
}

bool
stream_fill(conn_t *c)
{
    stream_t *s = c->stream;
    ht_t *ht = &c->w->shm->ht;
    buf_t *b = &c->w->tmp;

    if (s->scan != NULL) /* (its head comes at its end, HEAD too) */
        return stream_fill_scan(c);
    if (c->is_head) { /* the head was all of it */
        stream_free(c);
        return true;
    }
    if (s->data != NULL)
        return stream_fill_static(c);
    b->len = 0;
    if (!s->opened) {
        buf_putc(b, '{');
        s->opened = true;
    }
    while (b->len < WRK_STREAM_CHUNK && s->emitted < s->limit) {
        if (s->i == s->cp.n) {
            if (s->part == HT_PARTS)
                break;
            if (ht_part_copy(ht, s->part++, &s->cp) < 0)
                s->cp.n = 0; /* out of memory: (not reached) */
            s->i = 0;
            continue;
        }
        const char *key = ht_copy_key(&s->cp, s->i);
        size_t len = s->cp.items[s->i].len, skip;
        uint64_t n = s->cp.items[s->i++].count;
        if (!stream_match(s, key, len, &skip))
            continue;
        if (!s->first)
            buf_putc(b, ',');
        s->first = false;
        json_str(b, key + skip, len - skip);
        buf_putc(b, ':');
        buf_put_u64(b, n);
        s->emitted++;
    }
    if (s->emitted < s->limit && (s->part < HT_PARTS || s->i < s->cp.n)) {
        stream_chunk(c, b);
        return false;
    }
    buf_putc(b, '}');
    buf_putc(b, '\n');
    stream_chunk(c, b);
    if (s->chunked)
        buf_append(&c->out, "0\r\n\r\n", 5);
    stream_free(c);
    return true;
}
