/*
 * rec.c - encoding and checking of change records (format in rec.h).
 */
#include "src/changelog/rec.h"

#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

const char *
rec_status_str(rec_status_e s)
{
    switch (s) {
    case REC_OK: return "ok";
    case REC_SHORT: return "truncated record";
    case REC_BAD_MAGIC: return "bad record magic";
    case REC_BAD_LEN: return "bad record length";
    case REC_BAD_CHECKSUM: return "checksum mismatch";
    case REC_BAD_PAYLOAD: return "malformed record payload";
    }
    return "unknown";
}

size_t
varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char) v;
    return n;
}

size_t
varint_get(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned shift = 0, n = 0; p + n < end && shift < 64; shift += 7) {
        unsigned char c = p[n++];
        if (shift == 63 && c > 1)
            return 0;
        r |= (uint64_t) (c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *v = r;
            return n;
        }
    }
    return 0;
}

static size_t
varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void
rec_begin(buf_t *b, uint16_t type)
{
    rec_hdr_t h;

    memset(&h, 0, sizeof(h));
    h.magic = REC_MAGIC;
    h.type = type;
    h.len = REC_HDR;
    b->len = 0;
    buf_append(b, &h, sizeof(h));
}

void
rec_set_idem(buf_t *b, const rec_idem_t *id)
{
    rec_hdr_t *h = (rec_hdr_t *) b->data;

    if (b->len != REC_HDR || h->nwords != 0)
        abort(); /* the block goes before the words */
    buf_append(b, id, sizeof(*id));
    h = (rec_hdr_t *) b->data;
    h->flags |= REC_F_IDEM;
    h->len = (uint32_t) b->len;
}

bool
rec_idem(const void *rec, rec_idem_t *out)
{
    rec_hdr_t h;

    memcpy(&h, rec, sizeof(h));
    if (!(h.flags & REC_F_IDEM) || h.len < REC_HDR + REC_IDEM_LEN)
        return false;
    memcpy(out, (const char *) rec + REC_HDR, sizeof(*out));
    return true;
}

/* Bytes of the blocks before the words (rec_check validated them). */
static size_t
rec_blocks(const rec_hdr_t *h)
{
    return ((h->flags & REC_F_IDEM) ? REC_IDEM_LEN : 0)
           + ((h->flags & REC_F_TABLE) ? REC_TABLE_LEN : 0);
}

void
rec_set_table(buf_t *b, uint64_t uid)
{
    rec_hdr_t *h = (rec_hdr_t *) b->data;

    if (h->nwords != 0 || (h->flags & REC_F_TABLE)
        || b->len != REC_HDR + rec_blocks(h))
        abort(); /* the block goes before the words */
    buf_append(b, &uid, sizeof(uid));
    h = (rec_hdr_t *) b->data;
    h->flags |= REC_F_TABLE;
    h->len = (uint32_t) b->len;
}

uint64_t
rec_table(const void *rec)
{
    rec_hdr_t h;
    uint64_t uid;
    size_t off;

    memcpy(&h, rec, sizeof(h));
    off = REC_HDR + ((h.flags & REC_F_IDEM) ? REC_IDEM_LEN : 0);
    if (!(h.flags & REC_F_TABLE) || h.len < off + REC_TABLE_LEN)
        return 0;
    memcpy(&uid, (const char *) rec + off, sizeof(uid));
    return uid;
}

void
rec_set_table_op(buf_t *b, const char *name, size_t len, const void *prof,
                 size_t prof_len, uint64_t time_ms)
{
    unsigned char n = (unsigned char) len;
    uint32_t pl = (uint32_t) prof_len;

    buf_append(b, &n, 1);
    buf_append(b, name, len);
    buf_append(b, &pl, sizeof(pl));
    buf_append(b, prof, prof_len);
    buf_append(b, &time_ms, sizeof(time_ms));
    ((rec_hdr_t *) b->data)->len = (uint32_t) b->len;
}

/* Parses a table operation's payload p..end. */
static bool
tblop_parse(const unsigned char *p, const unsigned char *end, rec_tblop_t *op)
{
    uint32_t pl;

    if (end - p < 1 || p[0] == 0 || end - p < 1 + p[0] + 4)
        return false;
    op->name_len = p[0];
    op->name = (const char *) p + 1;
    p += 1 + op->name_len;
    memcpy(&pl, p, sizeof(pl));
    p += 4;
    if ((uint64_t) (end - p) != (uint64_t) pl + 8)
        return false;
    op->prof = p;
    op->prof_len = pl;
    memcpy(&op->time_ms, p + pl, 8);
    return true;
}

bool
rec_table_op(const void *rec, rec_tblop_t *op)
{
    rec_hdr_t h;
    const unsigned char *p = rec;

    memcpy(&h, rec, sizeof(h));
    if (!rec_type_table(h.type) || !(h.flags & REC_F_TABLE)
        || h.len < REC_HDR + rec_blocks(&h))
        return false;
    return tblop_parse(p + REC_HDR + rec_blocks(&h), p + h.len, op);
}

size_t
rec_word_size(size_t len, uint64_t delta)
{
    return varint_len(len) + len + varint_len(delta);
}

void
rec_add(buf_t *b, const char *word, size_t len, uint64_t delta)
{
    unsigned char *p;

    buf_reserve(b, 20 + len);
    p = (unsigned char *) b->data + b->len;
    p += varint_put(p, len);
    memcpy(p, word, len);
    p += len;
    p += varint_put(p, delta);
    b->len = (size_t) ((char *) p - b->data);
    ((rec_hdr_t *) b->data)->nwords++;
    ((rec_hdr_t *) b->data)->len = (uint32_t) b->len;
}

void
rec_seal(void *rec)
{
    rec_hdr_t *h = rec;

    h->checksum = 0;
    h->checksum = XXH3_64bits(rec, h->len);
}

void
rec_finish(void *rec, uint64_t lsn, uint64_t epoch)
{
    rec_hdr_t *h = rec;

    h->lsn = lsn;
    h->epoch = epoch;
    if (h->origin_lsn == 0) {
        h->origin_epoch = epoch;
        h->origin_lsn = lsn;
    }
    rec_seal(rec);
}

void
rec_set_origin(void *rec, uint64_t boot, uint64_t epoch, uint64_t lsn)
{
    rec_hdr_t *h = rec;

    h->origin = boot;
    h->origin_epoch = epoch;
    h->origin_lsn = lsn;
}

rec_origin_t
rec_origin(const void *rec)
{
    rec_hdr_t h;
    rec_origin_t o;

    memcpy(&h, rec, sizeof(h));
    o.boot = h.origin;
    o.epoch = h.origin_epoch;
    o.lsn = h.origin_lsn;
    return o;
}

rec_status_e
rec_check(const void *p, size_t avail, uint32_t *len)
{
    rec_hdr_t h;
    uint64_t sum;
    rec_iter_t it;
    const char *w;
    size_t wl;
    uint64_t d;
    int rc;

    if (avail < REC_HDR)
        return REC_SHORT;
    memcpy(&h, p, sizeof(h));
    if (h.magic != REC_MAGIC)
        return REC_BAD_MAGIC;
    if (h.len < REC_HDR || h.len > REC_MAX_LEN)
        return REC_BAD_LEN;
    if (h.len > avail)
        return REC_SHORT;
    sum = h.checksum;
    {
        XXH3_state_t st;
        uint64_t zero = 0;
        XXH3_64bits_reset(&st);
        XXH3_64bits_update(&st, p, offsetof(rec_hdr_t, checksum));
        XXH3_64bits_update(&st, &zero, 8);
        XXH3_64bits_update(&st, (const char *) p + REC_HDR, h.len - REC_HDR);
        if (XXH3_64bits_digest(&st) != sum)
            return REC_BAD_CHECKSUM;
    }
    if ((h.flags & ~(REC_F_IDEM | REC_F_TABLE)) != 0
        || h.len < REC_HDR + rec_blocks(&h))
        return REC_BAD_PAYLOAD;
    if (rec_type_table(h.type)) {
        rec_tblop_t op;
        if (!(h.flags & REC_F_TABLE) || h.nwords != 0 || !rec_table_op(p, &op))
            return REC_BAD_PAYLOAD;
        *len = h.len;
        return REC_OK;
    }
    rec_iter_init(&it, p);
    while ((rc = rec_next(&it, &w, &wl, &d)) == MEMDB_OK)
        ;
    if (rc != MEMDB_AGAIN || it.p != it.end)
        return REC_BAD_PAYLOAD;
    *len = h.len;
    return REC_OK;
}

void
rec_iter_init(rec_iter_t *it, const void *rec)
{
    rec_hdr_t h;

    memcpy(&h, rec, sizeof(h)); /* rec may be unaligned */
    it->p = (const unsigned char *) rec + REC_HDR;
    it->end = (const unsigned char *) rec + h.len;
    it->left = h.nwords;
    it->neg = rec_type_subtracts(h.type);
    if (h.len >= REC_HDR + rec_blocks(&h))
        it->p += rec_blocks(&h); /* the blocks (rec_check refuses less) */
    if (rec_type_table(h.type))
        it->left = 0; /* no words */
}

int
rec_next(rec_iter_t *it, const char **word, size_t *len, uint64_t *delta)
{
    uint64_t l, d;
    size_t n;

    if (it->left == 0)
        return MEMDB_AGAIN;
    n = varint_get(it->p, it->end, &l);
    if (n == 0 || l == 0 || l > 65535 || l > (uint64_t) (it->end - it->p - n))
        return MEMDB_ERR;
    *word = (const char *) it->p + n;
    *len = (size_t) l;
    it->p += n + l;
    n = varint_get(it->p, it->end, &d);
    if (n == 0 || d == 0)
        return MEMDB_ERR;
    it->p += n;
    *delta = it->neg ? 0 - d : d;
    it->left--;
    return MEMDB_OK;
}
