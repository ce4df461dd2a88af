/*
 * test_frame.c - replication frames: the header (every byte), and the
 * payload of every type, valid and invalid, at any alignment.
 */
#include <criterion/criterion.h>

#include "replicator/frame.h"
#include "src/changelog/rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

/* frame_check_payload on an exact-size heap copy at offset off (0..7), so
 * a read past len is a read past the allocation and unaligned fields are
 * exercised. */
static int
chk_at(uint8_t type, const void *p, size_t len, size_t off, const char **why)
{
    unsigned char *q = malloc(len + off + 1);
    int rc;

    cr_assert_not_null(q);
    memcpy(q + off, p, len);
    rc = frame_check_payload(type, q + off, (uint32_t) len, why);
    free(q);
    return rc;
}

static int
chk(uint8_t type, const void *p, size_t len)
{
    const char *why = NULL;
    int rc = chk_at(type, p, len, 0, &why);

    if (rc == MEMDB_OK) {
        cr_assert_null(why);
    } else {
        cr_assert_not_null(why, "rejection without a reason");
        cr_assert(why[0] != '\0');
    }
    return rc;
}

#define OK(type, p, len) \
    cr_assert_eq(chk(type, p, len), MEMDB_OK, "%s:%d", __FILE__, __LINE__)
#define BAD(type, p, len) \
    cr_assert_eq(chk(type, p, len), MEMDB_ERR, "%s:%d", __FILE__, __LINE__)

/* Appends a record with lsn and a few words to b. */
static void
add_rec(buf_t *b, uint16_t type, uint64_t lsn, int nwords)
{
    buf_t r = { 0 };

    rec_begin(&r, type);
    for (int i = 0; i < nwords; i++) {
        char w[16];
        int n = snprintf(w, sizeof(w), "w%d", i);
        rec_add(&r, w, (size_t) n, (uint64_t) (i + 1) * 300);
    }
    rec_finish(r.data, lsn, 4);
    buf_append(b, r.data, r.len);
    buf_free(&r);
}

static void
hello(buf_t *b, const char *id, uint32_t nhist)
{
    frame_hello_t h;

    memset(&h, 0, sizeof(h));
    snprintf(h.id, sizeof(h.id), "%s", id);
    memset(h.nonce, 0xa5, sizeof(h.nonce));
    h.epoch = nhist + 1;
    h.last_lsn = 1000;
    h.nhist = nhist;
    b->len = 0;
    buf_append(b, &h, sizeof(h));
    for (uint32_t i = 0; i < nhist; i++) {
        frame_hist_t e = { .epoch = i + 1, .start_lsn = 1 + 10 * i };
        buf_append(b, &e, sizeof(e));
    }
}

static void
welcome(buf_t *b, uint8_t mode, uint32_t nhist)
{
    frame_welcome_t w;

    memset(&w, 0, sizeof(w));
    w.mode = mode;
    w.from_lsn = 11;
    w.fork_lsn = 10;
    w.epoch = 3;
    w.nhist = nhist;
    b->len = 0;
    buf_append(b, &w, sizeof(w));
    for (uint32_t i = 0; i < nhist; i++) {
        frame_hist_t e = { .epoch = 2 * i + 1, .start_lsn = 1 + 5 * i };
        buf_append(b, &e, sizeof(e));
    }
}

static void
merge(buf_t *b, uint64_t seq, uint32_t nrecords)
{
    frame_merge_t m;

    memset(&m, 0, sizeof(m));
    m.seq = seq;
    m.nrecords = nrecords;
    b->len = 0;
    buf_append(b, &m, sizeof(m));
}

static frame_hist_t *
hist_at(buf_t *b, size_t fixed, uint32_t i)
{
    return (frame_hist_t *) (b->data + fixed + i * sizeof(frame_hist_t));
}

/* ---- header ----------------------------------------------------------- */

Test(frame, put_hdr_layout)
{
    buf_t b = { 0 };
    frame_hdr_t h;
    const char *why = NULL;

    buf_puts(&b, "xyz"); /* appends after what is there */
    frame_put_hdr(&b, FR_RECORDS, FRAME_F_AUTH, 0x01020304, 0x1122334455ULL);
    cr_assert_eq(b.len, 3 + FRAME_HDR);
    cr_assert(memcmp(b.data, "xyz", 3) == 0);
    cr_assert(memcmp(b.data + 3, "MREP", 4) == 0, "magic spells MREP");
    cr_assert_eq((unsigned char) b.data[3 + 4], FRAME_VERSION);
    cr_assert_eq((unsigned char) b.data[3 + 5], FR_RECORDS);
    cr_assert(memcmp(b.data + 3 + 6, "\x01\x00", 2) == 0);
    cr_assert(memcmp(b.data + 3 + 8, "\x04\x03\x02\x01", 4) == 0);
    cr_assert(memcmp(b.data + 3 + 12, "\0\0\0\0", 4) == 0);
    cr_assert(memcmp(b.data + 3 + 16, "\x55\x44\x33\x22\x11\0\0\0", 8) == 0);
    memcpy(&h, b.data + 3, sizeof(h));
    cr_assert_eq(h.length, 0x01020304);
    cr_assert_eq(h.counter, 0x1122334455ULL);
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_OK, "%s", why);
    buf_free(&b);
}

Test(frame, hdr_checks)
{
    buf_t b = { 0 };
    frame_hdr_t h, g;
    const char *why;

    frame_put_hdr(&b, FR_PING, 0, 0, 1);
    memcpy(&g, b.data, sizeof(g));
    cr_assert_eq(frame_check_hdr(&g, &why), MEMDB_OK);

    for (int t = 0; t < 256; t++) {
        h = g;
        h.type = (uint8_t) t;
        cr_assert_eq(frame_check_hdr(&h, &why),
                     t >= 1 && t <= FR_TYPE_MAX ? MEMDB_OK : MEMDB_ERR,
                     "type %d", t);
    }
    h = g;
    h.magic = REC_MAGIC;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.version = FRAME_VERSION + 1;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.version = FRAME_VERSION - 1;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.version = 1; /* the handshake of version 1 replays */
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    cr_assert_str_eq(why, "bad frame version");
    h = g;
    h.version = 0;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.flags = FRAME_F_AUTH;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_OK);
    for (int bit = 1; bit < 16; bit++) {
        h = g;
        h.flags = (uint16_t) (1u << bit);
        cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR, "flag %d", bit);
    }
    h = g;
    h.reserved = 1;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.length = FRAME_MAX;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_OK);
    h = g;
    h.length = FRAME_MAX + 1;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.length = UINT32_MAX;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_ERR);
    h = g;
    h.counter = 0; /* the counter is the connection's business */
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_OK);
    h = g;
    h.counter = UINT64_MAX;
    cr_assert_eq(frame_check_hdr(&h, &why), MEMDB_OK);
    cr_assert_eq(frame_check_hdr(&g, NULL), MEMDB_OK);
    h = g;
    h.magic = 0;
    cr_assert_eq(frame_check_hdr(&h, NULL), MEMDB_ERR);
    buf_free(&b);
}

Test(frame, every_hdr_byte)
{
    buf_t b = { 0 };
    unsigned char raw[FRAME_HDR];

    frame_put_hdr(&b, FR_ACK, 0, 24, 7);
    memcpy(raw, b.data, FRAME_HDR);
    for (size_t off = 0; off < FRAME_HDR; off++)
        for (int v = 0; v < 256; v++) {
            frame_hdr_t h;
            const char *why;
            bool ok;

            if (v == raw[off])
                continue;
            memcpy(&h, raw, sizeof(h));
            ((unsigned char *) &h)[off] = (unsigned char) v;
            if (off < 5)
                ok = false; /* magic, version */
            else if (off == 5)
                ok = v >= 1 && v <= FR_TYPE_MAX; /* type */
            else if (off == 6)
                ok = v == FRAME_F_AUTH; /* flags */
            else if (off == 7)
                ok = false;
            else if (off < 12)
                ok = h.length <= FRAME_MAX; /* length */
            else if (off < 16)
                ok = false; /* reserved */
            else
                ok = true; /* counter */
            cr_assert_eq(frame_check_hdr(&h, &why), ok ? MEMDB_OK : MEMDB_ERR,
                         "byte %zu = %d", off, v);
        }
    buf_free(&b);
}

/* ---- fixed-size payloads ---------------------------------------------- */

Test(frame, fixed_sizes)
{
    static const struct {
        uint8_t type;
        size_t size;
    } fx[] = {
        { FR_CHALLENGE, sizeof(frame_challenge_t) },
        { FR_SNAP_BEGIN, sizeof(frame_snap_t) },
        { FR_ACK, sizeof(frame_ack_t) },
    };
    unsigned char p[256];

    memset(p, 0x5a, sizeof(p));
    for (size_t i = 0; i < MEMDB_NELEM(fx); i++)
        for (size_t l = 0; l < sizeof(p); l++)
            cr_assert_eq(chk(fx[i].type, p, l),
                         l == fx[i].size ? MEMDB_OK : MEMDB_ERR,
                         "type %d len %zu", fx[i].type, l);
    cr_assert_eq(sizeof(frame_challenge_t), 32);
    cr_assert_eq(sizeof(frame_snap_t), 24);
    cr_assert_eq(sizeof(frame_ack_t), 32);
}

Test(frame, snap_data_end_ping)
{
    unsigned char *big = calloc(1, 1 << 20);

    cr_assert_not_null(big);
    BAD(FR_SNAP_DATA, big, 0);
    OK(FR_SNAP_DATA, big, 1);
    OK(FR_SNAP_DATA, big, 1 << 20);
    memset(big, 0xff, 64);
    OK(FR_SNAP_DATA, big, 64); /* raw bytes: anything goes */
    for (size_t l = 0; l < 32; l++)
        cr_assert_eq(chk(FR_SNAP_END, big, l),
                     l == 0 || l == 8 ? MEMDB_OK : MEMDB_ERR, "len %zu", l);
    OK(FR_PING, big, 0);
    for (size_t l = 1; l < 32; l++)
        BAD(FR_PING, big, l);
    free(big);
}

Test(frame, unknown_types)
{
    unsigned char p[64] = { 0 };

    for (int t = 0; t < 256; t++) {
        if (t >= 1 && t <= FR_TYPE_MAX)
            continue;
        for (size_t l = 0; l < sizeof(p); l += 8)
            cr_assert_eq(chk((uint8_t) t, p, l), MEMDB_ERR, "type %d", t);
    }
}

Test(frame, payload_over_max)
{
    unsigned char p[8] = { 0 };
    const char *why;

    /* Only the length is looked at, before any byte. */
    cr_assert_eq(frame_check_payload(FR_SNAP_DATA, p, FRAME_MAX + 1, &why),
                 MEMDB_ERR);
    cr_assert_not_null(why);
}

/* ---- HELLO and WELCOME ------------------------------------------------ */

Test(frame, hello_valid)
{
    buf_t b = { 0 };
    const char *why;

    for (uint32_t n = 0; n <= 5; n++) {
        hello(&b, "replica-1", n);
        cr_assert_eq(b.len, 120 + sizeof(frame_hist_t) * n);
        OK(FR_HELLO, b.data, b.len);
        for (size_t off = 1; off < 8; off++)
            cr_assert_eq(chk_at(FR_HELLO, b.data, b.len, off, &why), MEMDB_OK,
                         "unaligned %zu: %s", off, why);
    }
    hello(&b, "a.B-9_z", FRAME_MAX_HIST);
    OK(FR_HELLO, b.data, b.len);
    /* An epoch in which nothing was written starts where the next one
     * does. */
    hello(&b, "r", 3);
    hist_at(&b, 120, 2)->start_lsn = hist_at(&b, 120, 1)->start_lsn;
    OK(FR_HELLO, b.data, b.len);
    buf_free(&b);
}

/* The bound on frames before the handshake is done is the largest
 * HELLO, and a WELCOME with a full history fits under it too. */
Test(frame, preauth_max_is_the_largest_handshake_frame)
{
    buf_t b = { 0 };

    hello(&b, "r", FRAME_MAX_HIST);
    cr_assert_eq(b.len, FRAME_PREAUTH_MAX);
    OK(FR_HELLO, b.data, b.len);
    hello(&b, "r", FRAME_MAX_HIST + 1);
    BAD(FR_HELLO, b.data, b.len);
    welcome(&b, FR_MODE_FULL, FRAME_MAX_HIST);
    cr_assert_leq(b.len, FRAME_PREAUTH_MAX);
    OK(FR_WELCOME, b.data, b.len);
    cr_assert_lt(FRAME_HDR + FRAME_PREAUTH_MAX + 32, 6400, "a few KiB");
    buf_free(&b);
}

Test(frame, hello_invalid)
{
    buf_t b = { 0 };
    frame_hello_t *h;

    /* Sizes. */
    hello(&b, "r1", 2);
    for (size_t l = 0; l < b.len; l++)
        BAD(FR_HELLO, b.data, l);
    buf_putc(&b, 0);
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r1", 2);
    ((frame_hello_t *) b.data)->nhist = 1;
    BAD(FR_HELLO, b.data, b.len);
    ((frame_hello_t *) b.data)->nhist = 3;
    BAD(FR_HELLO, b.data, b.len);
    ((frame_hello_t *) b.data)->nhist = UINT32_MAX;
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r1", FRAME_MAX_HIST + 1);
    BAD(FR_HELLO, b.data, b.len);

    /* Ids. */
    hello(&b, "", 1);
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r 1", 1);
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r/1", 1);
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r\xc3\xa9", 1);
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r1", 1);
    h = (frame_hello_t *) b.data;
    memset(h->id, 'a', sizeof(h->id)); /* no NUL */
    BAD(FR_HELLO, b.data, b.len);
    h->id[63] = '\0'; /* 63 chars */
    OK(FR_HELLO, b.data, b.len);

    /* Flags: FULL is one, any other bit is reserved. */
    h->flags = FR_HELLO_FULL;
    OK(FR_HELLO, b.data, b.len);
    h->flags = 2;
    BAD(FR_HELLO, b.data, b.len);
    h->flags = 0;

    /* History order. */
    hello(&b, "r1", 3);
    hist_at(&b, 120, 1)->epoch = hist_at(&b, 120, 0)->epoch;
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r1", 3);
    hist_at(&b, 120, 2)->epoch = 1;
    BAD(FR_HELLO, b.data, b.len);
    hello(&b, "r1", 3);
    hist_at(&b, 120, 2)->start_lsn = hist_at(&b, 120, 1)->start_lsn - 1;
    BAD(FR_HELLO, b.data, b.len);
    buf_free(&b);
}

Test(frame, welcome)
{
    buf_t b = { 0 };
    frame_welcome_t *w;
    const char *why;

    for (uint32_t n = 0; n <= 4; n++) {
        welcome(&b, FR_MODE_PARTIAL, n);
        cr_assert_eq(b.len,
                     sizeof(frame_welcome_t) + sizeof(frame_hist_t) * n);
        OK(FR_WELCOME, b.data, b.len);
        cr_assert_eq(chk_at(FR_WELCOME, b.data, b.len, 3, &why), MEMDB_OK);
        welcome(&b, FR_MODE_FULL, n);
        OK(FR_WELCOME, b.data, b.len);
    }
    welcome(&b, FR_MODE_FULL, FRAME_MAX_HIST);
    OK(FR_WELCOME, b.data, b.len);
    welcome(&b, FR_MODE_FULL, FRAME_MAX_HIST + 1);
    BAD(FR_WELCOME, b.data, b.len);

    for (int m = 0; m < 256; m++) {
        welcome(&b, (uint8_t) m, 1);
        cr_assert_eq(chk(FR_WELCOME, b.data, b.len),
                     m == FR_MODE_PARTIAL || m == FR_MODE_FULL ? MEMDB_OK
                                                               : MEMDB_ERR,
                     "mode %d", m);
    }
    welcome(&b, FR_MODE_PARTIAL, 2);
    for (size_t l = 0; l < b.len; l++)
        BAD(FR_WELCOME, b.data, l);
    buf_putc(&b, 0);
    BAD(FR_WELCOME, b.data, b.len);

    for (size_t i = 0; i < 7; i++) {
        welcome(&b, FR_MODE_PARTIAL, 0);
        ((frame_welcome_t *) b.data)->reserved[i] = 0x10;
        BAD(FR_WELCOME, b.data, b.len);
    }
    welcome(&b, FR_MODE_PARTIAL, 0);
    w = (frame_welcome_t *) b.data;
    w->reserved2 = 1;
    BAD(FR_WELCOME, b.data, b.len);
    /* the cluster id must be NUL-terminated */
    welcome(&b, FR_MODE_PARTIAL, 0);
    w = (frame_welcome_t *) b.data;
    memset(w->cluster, 'a', sizeof(w->cluster));
    BAD(FR_WELCOME, b.data, b.len);
    w->cluster[sizeof(w->cluster) - 1] = '\0';
    OK(FR_WELCOME, b.data, b.len);

    welcome(&b, FR_MODE_PARTIAL, 2);
    hist_at(&b, sizeof(frame_welcome_t), 1)->epoch =
        hist_at(&b, sizeof(frame_welcome_t), 0)->epoch;
    BAD(FR_WELCOME, b.data, b.len);
    welcome(&b, FR_MODE_PARTIAL, 2);
    hist_at(&b, sizeof(frame_welcome_t), 1)->start_lsn = 0;
    BAD(FR_WELCOME, b.data, b.len);
    buf_free(&b);
}

/* ---- RECORDS ---------------------------------------------------------- */

Test(frame, records_valid)
{
    buf_t b = { 0 };
    const char *why;

    add_rec(&b, REC_UPLOAD, 5, 3);
    OK(FR_RECORDS, b.data, b.len);
    add_rec(&b, REC_NOOP, 6, 0);
    add_rec(&b, REC_MERGE, 7, 1);
    add_rec(&b, REC_UPLOAD, 8, 40);
    OK(FR_RECORDS, b.data, b.len);
    for (size_t off = 1; off < 8; off++)
        cr_assert_eq(chk_at(FR_RECORDS, b.data, b.len, off, &why), MEMDB_OK,
                     "offset %zu: %s", off, why);
    buf_free(&b);

    /* A single record with the largest LSN. */
    add_rec(&b, REC_UPLOAD, UINT64_MAX, 1);
    OK(FR_RECORDS, b.data, b.len);
    buf_free(&b);
}

Test(frame, records_invalid)
{
    buf_t b = { 0 };
    size_t first;

    BAD(FR_RECORDS, "", 0);

    /* Gaps, repeats and going back. */
    add_rec(&b, REC_UPLOAD, 5, 2);
    add_rec(&b, REC_UPLOAD, 7, 2);
    BAD(FR_RECORDS, b.data, b.len);
    b.len = 0;
    add_rec(&b, REC_UPLOAD, 5, 2);
    add_rec(&b, REC_UPLOAD, 5, 2);
    BAD(FR_RECORDS, b.data, b.len);
    b.len = 0;
    add_rec(&b, REC_UPLOAD, 5, 2);
    add_rec(&b, REC_UPLOAD, 4, 2);
    BAD(FR_RECORDS, b.data, b.len);
    b.len = 0;
    add_rec(&b, REC_UPLOAD, UINT64_MAX, 1);
    add_rec(&b, REC_UPLOAD, 0, 1); /* wraps around */
    BAD(FR_RECORDS, b.data, b.len);
    b.len = 0;
    add_rec(&b, REC_UPLOAD, 0, 1); /* LSNs start at 1 */
    BAD(FR_RECORDS, b.data, b.len);
    b.len = 0;
    add_rec(&b, REC_UPLOAD, 1, 1);
    OK(FR_RECORDS, b.data, b.len);

    /* Every truncation and every corrupted byte of three records. */
    b.len = 0;
    add_rec(&b, REC_UPLOAD, 10, 3);
    first = b.len;
    add_rec(&b, REC_NOOP, 11, 0);
    add_rec(&b, REC_UPLOAD, 12, 5);
    OK(FR_RECORDS, b.data, b.len);
    for (size_t l = 0; l < b.len; l++)
        cr_assert_eq(chk(FR_RECORDS, b.data, l),
                     l == first || l == first + REC_HDR ? MEMDB_OK : MEMDB_ERR,
                     "cut at %zu", l);
    for (size_t i = 0; i < b.len; i++)
        for (int x = 1; x < 256; x <<= 1) {
            b.data[i] ^= (char) x;
            cr_assert_eq(chk(FR_RECORDS, b.data, b.len), MEMDB_ERR,
                         "byte %zu ^ %d", i, x);
            b.data[i] ^= (char) x;
        }
    OK(FR_RECORDS, b.data, b.len);

    /* Trailing bytes that are not a record. */
    buf_append(&b, "\0\0\0\0", 4);
    BAD(FR_RECORDS, b.data, b.len);
    buf_free(&b);
}

Test(frame, records_resealed_with_a_gap)
{
    buf_t b = { 0 };
    rec_hdr_t h;
    size_t second;

    /* A gap that is not a checksum error: the record is valid by itself. */
    add_rec(&b, REC_UPLOAD, 20, 1);
    second = b.len;
    add_rec(&b, REC_UPLOAD, 21, 1);
    OK(FR_RECORDS, b.data, b.len);
    {
        /* rec_seal wants an aligned record: reseal a copy. */
        size_t rl = b.len - second;
        uint64_t *al = malloc(rl);
        cr_assert_not_null(al);
        memcpy(al, b.data + second, rl);
        memcpy(&h, al, sizeof(h));
        h.lsn = 22;
        memcpy(al, &h, sizeof(h));
        rec_seal(al);
        cr_assert_eq(rec_check(al, rl, &(uint32_t) { 0 }), REC_OK);
        memcpy(b.data + second, al, rl);
        free(al);
    }
    BAD(FR_RECORDS, b.data, b.len);
    buf_free(&b);
}

/* ---- MERGE and MERGED ------------------------------------------------- */

Test(frame, merge)
{
    buf_t b = { 0 };
    frame_merge_t *m;
    const char *why;

    merge(&b, 7, 2);
    add_rec(&b, REC_UPLOAD, 31, 2);
    add_rec(&b, REC_UPLOAD, 37, 4); /* need not be consecutive */
    OK(FR_MERGE, b.data, b.len);
    for (size_t off = 1; off < 8; off++)
        cr_assert_eq(chk_at(FR_MERGE, b.data, b.len, off, &why), MEMDB_OK,
                     "offset %zu: %s", off, why);
    for (size_t l = 0; l < b.len; l++)
        BAD(FR_MERGE, b.data, l);
    for (size_t i = sizeof(frame_merge_t); i < b.len; i++) {
        b.data[i] ^= 0x20;
        BAD(FR_MERGE, b.data, b.len);
        b.data[i] ^= 0x20;
    }

    m = (frame_merge_t *) b.data;
    m->nrecords = 1;
    BAD(FR_MERGE, b.data, b.len);
    m->nrecords = 3;
    BAD(FR_MERGE, b.data, b.len);
    m->nrecords = 0;
    BAD(FR_MERGE, b.data, b.len);
    m->nrecords = 2;
    m->reserved = 1;
    BAD(FR_MERGE, b.data, b.len);
    m->reserved = 0;
    OK(FR_MERGE, b.data, b.len);

    merge(&b, 1, 1);
    add_rec(&b, REC_UPLOAD, 0, 1); /* LSNs start at 1 */
    BAD(FR_MERGE, b.data, b.len);
    merge(&b, 1, 0); /* nothing handed over */
    BAD(FR_MERGE, b.data, b.len);
    merge(&b, 1, 1);
    BAD(FR_MERGE, b.data, b.len); /* record missing */
    buf_free(&b);
}

Test(frame, merged)
{
    buf_t b = { 0 };
    frame_merge_t *m;

    merge(&b, 7, 0);
    OK(FR_MERGED, b.data, b.len);
    for (size_t l = 0; l < b.len; l++)
        BAD(FR_MERGED, b.data, l);
    m = (frame_merge_t *) b.data;
    m->nrecords = 1; /* how many the leader took */
    OK(FR_MERGED, b.data, b.len);
    m->nrecords = 0;
    m->reserved = 2;
    BAD(FR_MERGED, b.data, b.len);
    m->reserved = 0;
    merge(&b, 2, 0);
    add_rec(&b, REC_UPLOAD, 1, 1);
    BAD(FR_MERGED, b.data, b.len); /* MERGED has no records */
    buf_free(&b);
}

/* ---- ERROR ------------------------------------------------------------ */

Test(frame, error_text)
{
    char t[1100];

    OK(FR_ERROR, "leader stepped down", 19);
    OK(FR_ERROR, " ", 1);
    OK(FR_ERROR, "~", 1);
    BAD(FR_ERROR, "", 0);
    memset(t, 'e', sizeof(t));
    OK(FR_ERROR, t, 1024);
    BAD(FR_ERROR, t, 1025);
    for (int c = 0; c < 256; c++) {
        t[10] = (char) c;
        cr_assert_eq(chk(FR_ERROR, t, 20),
                     c >= 0x20 && c <= 0x7e ? MEMDB_OK : MEMDB_ERR, "char %d",
                     c);
    }
}

/* ---- garbage ---------------------------------------------------------- */

Test(frame, random_payloads_never_crash)
{
    uint64_t s = 0xfeedfacecafebeefULL;
    unsigned char *p = malloc(4096);
    int accepted = 0;

    cr_assert_not_null(p);
    for (int i = 0; i < 50000; i++) {
        uint8_t type = (uint8_t) (i % (FR_TYPE_MAX + 2));
        size_t len;

        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        len = (size_t) ((s * 0x2545F4914F6CDD1DULL) >> 40) % 4096;
        for (size_t k = 0; k < len; k++) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            p[k] = (unsigned char) ((s * 0x2545F4914F6CDD1DULL) >> 56);
        }
        if (chk(type, p, len) == MEMDB_OK) {
            accepted++;
            /* Only the raw kinds take random bytes (and text that
             * happens to be printable). */
            if (type == FR_ERROR) {
                for (size_t k = 0; k < len; k++)
                    cr_assert(p[k] >= 0x20 && p[k] <= 0x7e);
                continue;
            }
            cr_assert(type == FR_SNAP_DATA || type == FR_SNAP_BEGIN
                          || type == FR_ACK || type == FR_CHALLENGE
                          || type == FR_SNAP_END || type == FR_PING,
                      "type %d accepted %zu random bytes", type, len);
        }
    }
    cr_assert_gt(accepted, 0);
    free(p);
}
