/*
 * frame.c - encoding and checking of replication frames (format in
 * frame.h).
 *
 * Payloads arrive at any alignment: every struct and record header is
 * copied out with memcpy before a field is read.
 */
#include "replicator/frame.h"
#include "src/core/util.h"
#include "src/changelog/rec.h"

#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the replication wire format assumes a little-endian host"
#endif

_Static_assert(sizeof(frame_hist_t) == 24, "history entry is 24 bytes");
_Static_assert(sizeof(frame_challenge_t) == FRAME_NONCE, "challenge");
_Static_assert(sizeof(frame_hello_t) == 120, "hello is 120 bytes");
_Static_assert(sizeof(frame_welcome_t) == 80, "welcome is 80 bytes");
_Static_assert(sizeof(frame_snap_t) == 24, "snap is 24 bytes");
_Static_assert(sizeof(frame_ack_t) == 32, "ack is 32 bytes");
_Static_assert(sizeof(frame_merge_t) == 16, "merge is 16 bytes");
_Static_assert(FRAME_PREAUTH_MAX == 6264, "HELLO with a full history");
_Static_assert(FRAME_PREAUTH_MAX
                   >= sizeof(frame_welcome_t)
                          + FRAME_MAX_HIST * sizeof(frame_hist_t),
               "a WELCOME fits before the handshake is done");

#define FRAME_MAX_ERROR 1024

void
frame_put_hdr(buf_t *b, uint8_t type, uint16_t flags, uint32_t len,
              uint64_t counter)
{
    frame_hdr_t h;

    memset(&h, 0, sizeof(h));
    h.magic = FRAME_MAGIC;
    h.version = FRAME_VERSION;
    h.type = type;
    h.flags = flags;
    h.length = len;
    h.reserved = 0;
    h.counter = counter;
    buf_append(b, &h, sizeof(h));
}

#define FAIL(s) \
    do { \
        *why = (s); \
        return MEMDB_ERR; \
    } while (0)

int
frame_check_hdr(const frame_hdr_t *h, const char **why)
{
    const char *dummy;
    frame_hdr_t c;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    memcpy(&c, h, sizeof(c));
    if (c.magic != FRAME_MAGIC)
        FAIL("bad frame magic");
    if (c.version != FRAME_VERSION)
        FAIL("bad frame version");
    if (c.type < 1 || c.type > FR_TYPE_MAX)
        FAIL("bad frame type");
    if (c.reserved != 0)
        FAIL("reserved frame header bits set");
    if ((c.flags & ~FRAME_F_AUTH) != 0)
        FAIL("unknown frame flags");
    if (c.length > FRAME_MAX)
        FAIL("frame too long");
    return MEMDB_OK;
}

static bool
zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* nhist entries at p (exactly the rest of the payload, checked by the
 * caller): epochs strictly increasing, start LSNs never decreasing (an
 * epoch in which nothing was written starts where the next one does). */
static int
check_hist(const unsigned char *p, uint32_t nhist, const char **why)
{
    frame_hist_t prev = { 0, 0, 0 }, e;

    for (uint32_t i = 0; i < nhist; i++) {
        memcpy(&e, p + (size_t) i * sizeof(e), sizeof(e));
        if (i > 0 && e.epoch <= prev.epoch)
            FAIL("history epochs not increasing");
        if (i > 0 && e.start_lsn < prev.start_lsn)
            FAIL("history LSNs decreasing");
        prev = e;
    }
    return MEMDB_OK;
}

/* Exactly n records back to back filling p[0..len) (n == 0: as many as
 * there are, at least one), none with LSN 0.  consecutive: each LSN is the
 * previous + 1 (so no wrap-around either). */
static int
check_records(const unsigned char *p, size_t len, uint32_t n, bool consecutive,
              const char **why)
{
    size_t off = 0;
    uint32_t count = 0;
    uint64_t prev = 0;

    if (len == 0)
        FAIL("no records");
    while (off < len) {
        rec_hdr_t h;
        uint32_t rl;
        rec_status_e st;

        if (n != 0 && count == n)
            FAIL("bytes after the last record");
        st = rec_check(p + off, len - off, &rl);
        if (st != REC_OK)
            FAIL(rec_status_str(st));
        memcpy(&h, p + off, sizeof(h));
        if (h.lsn == 0)
            FAIL("record LSN 0"); /* LSNs start at 1 */
        if (consecutive && count > 0 && h.lsn != prev + 1)
            FAIL("record LSNs not consecutive");
        prev = h.lsn;
        off += rl;
        count++;
    }
    if (n != 0 && count != n)
        FAIL("record count mismatch");
    return MEMDB_OK;
}

int
frame_check_payload(uint8_t type, const unsigned char *p, uint32_t len,
                    const char **why)
{
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    if (len > FRAME_MAX)
        FAIL("frame too long");

    switch (type) {
    case FR_CHALLENGE:
        if (len != sizeof(frame_challenge_t))
            FAIL("bad challenge size");
        return MEMDB_OK;

    case FR_HELLO: {
        frame_hello_t h;
        if (len < sizeof(h))
            FAIL("short hello");
        memcpy(&h, p, sizeof(h));
        if (!util_id_ok(h.id, sizeof(h.id)))
            FAIL("bad node id");
        if ((h.flags & ~(uint32_t) FR_HELLO_FULL) != 0)
            FAIL("reserved hello bits set");
        if (h.nhist > FRAME_MAX_HIST)
            FAIL("history too long");
        if (len != sizeof(h) + (size_t) h.nhist * sizeof(frame_hist_t))
            FAIL("bad hello size");
        return check_hist(p + sizeof(h), h.nhist, why);
    }

    case FR_WELCOME: {
        frame_welcome_t w;
        if (len < sizeof(w))
            FAIL("short welcome");
        memcpy(&w, p, sizeof(w));
        if (w.mode != FR_MODE_PARTIAL && w.mode != FR_MODE_FULL)
            FAIL("bad welcome mode");
        if (!zero(w.reserved, sizeof(w.reserved)) || w.reserved2 != 0)
            FAIL("reserved welcome bits set");
        if (memchr(w.cluster, '\0', sizeof(w.cluster)) == NULL)
            FAIL("cluster id not terminated");
        if (w.nhist > FRAME_MAX_HIST)
            FAIL("history too long");
        if (len != sizeof(w) + (size_t) w.nhist * sizeof(frame_hist_t))
            FAIL("bad welcome size");
        return check_hist(p + sizeof(w), w.nhist, why);
    }

    case FR_SNAP_BEGIN:
        if (len != sizeof(frame_snap_t))
            FAIL("bad snapshot header size");
        return MEMDB_OK;

    case FR_SNAP_DATA:
        if (len == 0)
            FAIL("empty snapshot data");
        return MEMDB_OK;

    case FR_SNAP_END:
        if (len != 0 && len != 8)
            FAIL("bad snapshot end size");
        return MEMDB_OK;

    case FR_RECORDS: return check_records(p, len, 0, true, why);

    case FR_ACK:
        if (len != sizeof(frame_ack_t))
            FAIL("bad ack size");
        return MEMDB_OK;

    case FR_MERGE:
    case FR_MERGED: {
        frame_merge_t mg;
        if (len < sizeof(mg))
            FAIL("short merge");
        memcpy(&mg, p, sizeof(mg));
        if (mg.reserved != 0)
            FAIL("reserved merge bits set");
        if (type == FR_MERGED) {
            if (len != sizeof(mg))
                FAIL("bad merged size");
            return MEMDB_OK;
        }
        if (mg.nrecords == 0)
            FAIL("merge without records");
        return check_records(p + sizeof(mg), len - sizeof(mg), mg.nrecords,
                             false, why);
    }

    case FR_ERROR:
        if (len == 0 || len > FRAME_MAX_ERROR)
            FAIL("bad error text size");
        for (uint32_t i = 0; i < len; i++)
            if (p[i] < 0x20 || p[i] > 0x7e)
                FAIL("unprintable error text");
        return MEMDB_OK;

    case FR_PING:
        if (len != 0)
            FAIL("ping with payload");
        return MEMDB_OK;

    default: FAIL("bad frame type");
    }
}
