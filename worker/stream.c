/*
 * stream.c - GET /api/v1/allwords: every word and its count as one JSON
 * object, written in HTTP chunks as the client reads them.
 *
 * Memory: the stream holds the entry offsets of one partition at a time
 * (1/4096 of the table) and at most WRK_STREAM_CHUNK bytes of output, so
 * it runs in the same small memory however big the table is.  Each
 * partition's set of words is read consistently (ht_part_entries); counts
 * are read as the chunk is written.  Words appear in hash order.
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
stream_start(conn_t *c, const char *prefix, size_t plen, uint64_t limit)
{
    stream_t *s = xcalloc(1, sizeof(*s));

    s->limit = limit;
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
    free(c->stream->offs);
    buf_free(&c->stream->prefix);
    free(c->stream);
    c->stream = NULL;
}

static bool
stream_match(const stream_t *s, const ht_entry_t *e)
{
    /* no prefix: prefix.data is NULL, and memcmp must not get NULL even
     * for 0 bytes */
    return s->prefix.len == 0
           || (e->len >= s->prefix.len
               && memcmp(e->key, s->prefix.data, s->prefix.len) == 0);
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

bool
stream_fill(conn_t *c)
{
    stream_t *s = c->stream;
    ht_t *ht = &c->w->shm->ht;
    buf_t *b = &c->w->tmp;

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
        if (s->i == s->n) {
            if (s->part == HT_PARTS)
                break;
            s->n = ht_part_entries(ht, s->part++, &s->offs, &s->cap);
            s->i = 0;
            continue;
        }
        ht_entry_t *e = ht_entry(ht, s->offs[s->i++]);
        uint64_t n = atomic_load_explicit(&e->count, memory_order_relaxed);
        if (n == 0 || ht_internal(e->key, e->len) || !stream_match(s, e))
            continue;
        if (!s->first)
            buf_putc(b, ',');
        s->first = false;
        json_str(b, e->key, e->len);
        buf_putc(b, ':');
        buf_put_u64(b, n);
        s->emitted++;
    }
    if (s->emitted < s->limit && (s->part < HT_PARTS || s->i < s->n)) {
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
