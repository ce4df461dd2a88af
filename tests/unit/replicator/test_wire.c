/*
 * test_wire.c - gossip datagrams: encoding and decoding of every type,
 * rejection of every truncation, of every bad header byte and bad field,
 * and of random garbage.
 */
#include <criterion/criterion.h>

#include "replicator/wire.h"
#include "replicator/auth.h"
#include "shm/shm.h"
#include "shm/roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

#define HDR sizeof(gsp_hdr_t)

static void
member(gsp_member_t *mb, const char *id, int port, uint8_t role, uint8_t state,
       uint64_t seed)
{
    memset(mb, 0, sizeof(*mb));
    snprintf(mb->id, sizeof(mb->id), "%s", id);
    snprintf(mb->gossip, sizeof(mb->gossip), "127.0.0.1:%d", port);
    snprintf(mb->repl, sizeof(mb->repl), "10.1.2.%d:%d", (int) (seed % 250),
             port + 1);
    snprintf(mb->http, sizeof(mb->http), "[::1]:%d", port + 2);
    mb->role = role;
    mb->state = state;
    mb->epoch = seed * 3 + 1;
    mb->lsn = seed * 1000 + 7;
    mb->incarnation = seed + 11;
}

static bool
has_target(uint8_t type)
{
    return type == GSP_PING_REQ || type == GSP_FORGET;
}

static bool
has_vreq(uint8_t type)
{
    return type == GSP_VOTE_REQ || type == GSP_TIMEOUT_NOW;
}

/* A message of type with nupd updates. */
static void
msg(gsp_msg_t *m, uint8_t type, int nupd, bool auth)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.seq = 0xdeadbeef;
    m->hdr.flags = auth ? GSP_F_AUTH : 0;
    m->hdr.time_ms = 1700000000123ULL;
    m->hdr.boot = 1700000000001ULL;
    m->hdr.msg_id = 424242;
    member(&m->from, "node-1", 7946, ROLE_LEADER, MS_ALIVE, 1);
    if (has_target(type))
        member(&m->target, "n_2.x", 7950, ROLE_REPLICA, MS_SUSPECT, 2);
    if (has_vreq(type)) {
        m->vreq.epoch = 9;
        m->vreq.last_epoch = 8;
        m->vreq.last_lsn = 12345;
        m->vreq.transfer = type == GSP_TIMEOUT_NOW;
    }
    if (type == GSP_VOTE) {
        m->vote.epoch = 9;
        m->vote.granted = 1;
    }
    for (int i = 0; i < nupd; i++) {
        char id[16];
        snprintf(id, sizeof(id), "upd-%d", i);
        member(&m->upd[i], id, 8000 + 10 * i, (uint8_t) (i % 3),
               (uint8_t) (i % 4), 10 + (uint64_t) i);
    }
    m->nupd = nupd;
}

static size_t
expect_len(uint8_t type, int nupd, bool auth)
{
    return HDR + GSP_MEMBER + wire_body_size(type) + (size_t) nupd * GSP_MEMBER
           + (auth ? AUTH_MAC : 0);
}

/* wire_decode on an exact-size heap copy, so reading past len is reading
 * past the allocation. */
static int
dec(const unsigned char *p, size_t len, gsp_msg_t *m, const char **why)
{
    unsigned char *q = malloc(len ? len : 1);
    int rc;

    cr_assert_not_null(q);
    memcpy(q, p, len);
    rc = wire_decode(q, len, m, why);
    free(q);
    return rc;
}

static void
assert_rejected(const unsigned char *p, size_t len, const char *what)
{
    gsp_msg_t m;
    const char *why = NULL;

    cr_assert_eq(dec(p, len, &m, &why), MEMDB_ERR, "%s: accepted", what);
    cr_assert_not_null(why, "%s: no reason", what);
    cr_assert(why[0] != '\0', "%s: empty reason", what);
}

static void
set_u16(unsigned char *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, 2);
}

/* Checks that a decoded message is what was encoded. */
static void
assert_same(const gsp_msg_t *a, const gsp_msg_t *b, size_t len)
{
    static const gsp_member_t zm;
    static const gsp_vote_req_t zvr;
    static const gsp_vote_t zv;
    uint8_t type = a->hdr.type;
    bool auth = (a->hdr.flags & GSP_F_AUTH) != 0;

    cr_assert_eq(b->hdr.magic, GSP_MAGIC);
    cr_assert_eq(b->hdr.version, GSP_VERSION);
    cr_assert_eq(b->hdr.type, type);
    cr_assert_eq(b->hdr.length, len);
    cr_assert_eq(b->hdr.seq, a->hdr.seq);
    cr_assert_eq(b->hdr.nupd, a->nupd);
    cr_assert_eq(b->hdr.flags, a->hdr.flags);
    cr_assert_eq(b->hdr.reserved, 0);
    cr_assert_eq(b->hdr.time_ms, a->hdr.time_ms);
    cr_assert_eq(b->hdr.boot, a->hdr.boot);
    cr_assert_eq(b->hdr.msg_id, a->hdr.msg_id);
    cr_assert(memcmp(&b->from, &a->from, GSP_MEMBER) == 0);
    if (has_target(type))
        cr_assert(memcmp(&b->target, &a->target, GSP_MEMBER) == 0);
    else
        cr_assert(memcmp(&b->target, &zm, GSP_MEMBER) == 0);
    if (has_vreq(type))
        cr_assert(memcmp(&b->vreq, &a->vreq, sizeof(b->vreq)) == 0);
    else
        cr_assert(memcmp(&b->vreq, &zvr, sizeof(b->vreq)) == 0);
    if (type == GSP_VOTE)
        cr_assert(memcmp(&b->vote, &a->vote, sizeof(b->vote)) == 0);
    else
        cr_assert(memcmp(&b->vote, &zv, sizeof(b->vote)) == 0);
    cr_assert_eq(b->nupd, a->nupd);
    for (int i = 0; i < a->nupd; i++)
        cr_assert(memcmp(&b->upd[i], &a->upd[i], GSP_MEMBER) == 0, "update %d",
                  i);
    for (int i = a->nupd; i < GSP_MAX_UPD; i++)
        cr_assert(memcmp(&b->upd[i], &zm, GSP_MEMBER) == 0);
    cr_assert_eq(b->mac_off, auth ? len - AUTH_MAC : 0);
}

/* xorshift64*: the same "random" numbers on every run. */
static uint64_t rng_state;

static uint64_t
rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void
rnd_fill(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) rnd();
}

/* ---- layout and encoding ---------------------------------------------- */

Test(wire, body_sizes)
{
    cr_assert_eq(wire_body_size(GSP_PING), 0);
    cr_assert_eq(wire_body_size(GSP_ACK), 0);
    cr_assert_eq(wire_body_size(GSP_PING_REQ), 240);
    cr_assert_eq(wire_body_size(GSP_SYNC_REQ), 0);
    cr_assert_eq(wire_body_size(GSP_SYNC), 0);
    cr_assert_eq(wire_body_size(GSP_VOTE_REQ), 32);
    cr_assert_eq(wire_body_size(GSP_VOTE), 16);
    cr_assert_eq(wire_body_size(GSP_TIMEOUT_NOW), 32);
    cr_assert_eq(wire_body_size(GSP_FORGET), 240);
    cr_assert_eq(wire_body_size(0), 0);
    cr_assert_eq(wire_body_size(GSP_TYPE_MAX + 1), 0);
    cr_assert_eq(wire_body_size(255), 0);
}

Test(wire, encoded_bytes)
{
    gsp_msg_t m;
    unsigned char out[GSP_MAX];
    size_t n;
    uint16_t l;
    uint64_t v;

    msg(&m, GSP_PING, 1, false);
    m.hdr.seq = 0x04030201;
    m.hdr.boot = 0x0102030405060708ULL;
    m.hdr.msg_id = 0x1122334455667788ULL;
    n = wire_encode(&m, out);
    cr_assert_eq(n, HDR + 2 * 240);
    cr_assert(memcmp(out, "MGSP", 4) == 0, "magic spells MGSP");
    cr_assert_eq(out[4], GSP_VERSION);
    cr_assert_eq(out[5], GSP_PING);
    memcpy(&l, out + 6, 2);
    cr_assert_eq(l, n);
    cr_assert(memcmp(out + 8, "\x01\x02\x03\x04", 4) == 0, "seq is LE");
    cr_assert_eq(out[12], 1, "nupd");
    cr_assert_eq(out[13], 0, "flags");
    cr_assert_eq(out[14], 0);
    cr_assert_eq(out[15], 0);
    cr_assert(memcmp(out + 24, "\x08\x07\x06\x05\x04\x03\x02\x01", 8) == 0,
              "boot is LE");
    cr_assert(memcmp(out + 32, "\x88\x77\x66\x55\x44\x33\x22\x11", 8) == 0,
              "msg_id is LE");
    cr_assert_str_eq((const char *) out + HDR, "node-1");
    cr_assert_str_eq((const char *) out + HDR + 64, "127.0.0.1:7946");
    cr_assert_eq(out[HDR + 208], ROLE_LEADER);
    memcpy(&v, out + HDR + 216, 8);
    cr_assert_eq(v, m.from.epoch);
    cr_assert_str_eq((const char *) out + HDR + 240, "upd-0");
}

Test(wire, round_trip_every_type)
{
    for (uint8_t t = 1; t <= GSP_TYPE_MAX; t++)
        for (int nupd = 0; nupd <= GSP_MAX_UPD; nupd++)
            for (int auth = 0; auth <= 1; auth++) {
                gsp_msg_t m, d;
                unsigned char out[GSP_MAX];
                const char *why = NULL;
                size_t want = expect_len(t, nupd, auth), n;

                msg(&m, t, nupd, auth);
                memset(out, 0xee, sizeof(out));
                n = wire_encode(&m, out);
                if (want > GSP_MAX) {
                    cr_assert_eq(n, 0,
                                 "type %d nupd %d auth %d: %zu bytes"
                                 " do not fit",
                                 t, nupd, auth, want);
                    continue;
                }
                cr_assert_eq(n, want, "type %d nupd %d auth %d", t, nupd,
                             auth);
                /* Nothing written past the datagram, and the MAC is left
                 * to the caller. */
                for (size_t i = n - (auth ? AUTH_MAC : 0); i < GSP_MAX; i++)
                    cr_assert_eq(out[i], 0xee, "byte %zu written", i);
                cr_assert_eq(dec(out, n, &d, &why), MEMDB_OK,
                             "type %d nupd %d auth %d: %s", t, nupd, auth,
                             why);
                assert_same(&m, &d, n);
            }
}

Test(wire, largest_datagrams_fit)
{
    gsp_msg_t m;
    unsigned char out[GSP_MAX];

    /* Types with a member body carry at most 3 updates... */
    msg(&m, GSP_PING_REQ, 3, true);
    cr_assert_eq(wire_encode(&m, out), HDR + 5 * 240 + AUTH_MAC);
    msg(&m, GSP_FORGET, 4, false);
    cr_assert_eq(wire_encode(&m, out), 0, "1480 bytes > GSP_MAX");
    /* ...the others all 4, with a MAC. */
    msg(&m, GSP_VOTE_REQ, 4, true);
    cr_assert_eq(wire_encode(&m, out), HDR + 5 * 240 + 32 + AUTH_MAC);
    msg(&m, GSP_SYNC, 4, true);
    cr_assert_eq(wire_encode(&m, out), HDR + 5 * 240 + AUTH_MAC);
}

/* The datagrams of version 1 (a 32-byte header without the boot) are
 * refused by their version byte, before their length is looked at. */
Test(wire, other_versions_rejected)
{
    gsp_msg_t m, d;
    unsigned char out[GSP_MAX];
    const char *why = NULL;
    size_t n;

    msg(&m, GSP_PING, 0, true);
    n = wire_encode(&m, out);
    for (int v = 0; v < 256; v++) {
        if (v == GSP_VERSION)
            continue;
        out[4] = (unsigned char) v;
        cr_assert_eq(dec(out, n, &d, &why), MEMDB_ERR, "version %d", v);
        cr_assert_str_eq(why, "bad version");
        out[4] = (unsigned char) v;
        cr_assert_eq(dec(out, n - 8, &d, &why), MEMDB_ERR, "version %d", v);
        cr_assert_str_eq(why, "bad version");
    }
}

Test(wire, encode_refuses_bad_update_counts)
{
    gsp_msg_t m;
    unsigned char out[GSP_MAX];

    msg(&m, GSP_PING, 0, false);
    m.nupd = GSP_MAX_UPD + 1;
    cr_assert_eq(wire_encode(&m, out), 0);
    m.nupd = -1;
    cr_assert_eq(wire_encode(&m, out), 0);
}

Test(wire, encode_normalizes_padding_and_reserved)
{
    gsp_msg_t m, d;
    unsigned char out[GSP_MAX];
    const char *why;
    size_t n;

    msg(&m, GSP_VOTE, 1, false);
    /* Stale bytes after the NULs, and reserved fields set. */
    memcpy(m.from.id, "n1\0garbage", 10);
    memset(m.upd[0].gossip + strlen(m.upd[0].gossip) + 1, 'x', 10);
    m.from.reserved = 7;
    m.upd[0].reserved2 = 9;
    m.hdr.reserved = 3;
    m.hdr.nupd = 0; /* m.nupd is what counts */
    m.vote.reserved[3] = 1;
    n = wire_encode(&m, out);
    cr_assert_eq(n, expect_len(GSP_VOTE, 1, false));
    cr_assert_eq(dec(out, n, &d, &why), MEMDB_OK, "%s", why);
    cr_assert_str_eq(d.from.id, "n1");
    for (size_t i = 3; i < GSP_ID; i++)
        cr_assert_eq(d.from.id[i], 0);
    for (size_t i = strlen(d.upd[0].gossip); i < GSP_ADDR; i++)
        cr_assert_eq(d.upd[0].gossip[i], 0);
    cr_assert_eq(d.from.reserved, 0);
    cr_assert_eq(d.upd[0].reserved2, 0);
    cr_assert_eq(d.hdr.reserved, 0);
    cr_assert_eq(d.hdr.nupd, 1);
    cr_assert_eq(d.nupd, 1);
    cr_assert_eq(d.vote.reserved[3], 0);
}

Test(wire, unaligned_buffers)
{
    gsp_msg_t m, d;
    unsigned char raw[GSP_MAX + 8];
    const char *why;

    for (size_t off = 1; off < 8; off++) {
        size_t n;
        msg(&m, GSP_PING_REQ, 3, true);
        n = wire_encode(&m, raw + off);
        cr_assert_eq(n, expect_len(GSP_PING_REQ, 3, true));
        cr_assert_eq(wire_decode(raw + off, n, &d, &why), MEMDB_OK, "%s", why);
        assert_same(&m, &d, n);
    }
}

/* ---- rejection -------------------------------------------------------- */

/* A few datagrams of different shapes, encoded. */
static size_t
sample(int k, unsigned char *out)
{
    static const struct {
        uint8_t type;
        int nupd;
        bool auth;
    } s[] = {
        { GSP_PING, 0, false },    { GSP_ACK, 2, true },
        { GSP_PING_REQ, 3, true }, { GSP_VOTE_REQ, 1, false },
        { GSP_VOTE, 4, true },     { GSP_TIMEOUT_NOW, 0, true },
        { GSP_FORGET, 1, false },  { GSP_SYNC, 4, false },
    };
    gsp_msg_t m;

    if (k < 0 || (size_t) k >= MEMDB_NELEM(s))
        return 0;
    msg(&m, s[k].type, s[k].nupd, s[k].auth);
    return wire_encode(&m, out);
}

Test(wire, every_truncation_rejected)
{
    unsigned char out[GSP_MAX], cut[GSP_MAX];
    size_t n;

    for (int k = 0; (n = sample(k, out)) != 0; k++) {
        for (size_t l = 0; l < n; l++) {
            char what[64];
            snprintf(what, sizeof(what), "sample %d cut at %zu", k, l);
            /* As received... */
            assert_rejected(out, l, what);
            /* ...and with the length field claiming the cut size. */
            if (l >= 8) {
                memcpy(cut, out, l);
                set_u16(cut, 6, (uint16_t) l);
                assert_rejected(cut, l, what);
            }
        }
    }
}

Test(wire, every_extension_rejected)
{
    unsigned char out[GSP_MAX + 300];
    size_t n;

    for (int k = 0; (n = sample(k, out)) != 0; k++) {
        memset(out + n, 0, sizeof(out) - n);
        for (size_t l = n + 1; l <= GSP_MAX + 1 && l <= n + 300; l++) {
            char what[64];
            snprintf(what, sizeof(what), "sample %d grown to %zu", k, l);
            set_u16(out, 6, (uint16_t) n);
            assert_rejected(out, l, what);
            set_u16(out, 6, (uint16_t) l);
            assert_rejected(out, l, what);
        }
    }
}

Test(wire, every_header_byte)
{
    unsigned char out[GSP_MAX], buf[GSP_MAX];
    gsp_msg_t m, d;
    const char *why;
    size_t n;

    msg(&m, GSP_PING_REQ, 2, true);
    n = wire_encode(&m, out);
    cr_assert_gt(n, 0);
    for (size_t off = 0; off < HDR; off++) {
        for (int v = 0; v < 256; v++) {
            bool free_form = (off >= 8 && off < 12) || off >= 16;
            bool ok;
            int rc;

            if (v == out[off])
                continue;
            memcpy(buf, out, n);
            buf[off] = (unsigned char) v;
            if (free_form)
                ok = true;     /* seq, time_ms, boot, msg_id */
            else if (off == 5) /* type: same body size only */
                ok = v >= 1 && v <= GSP_TYPE_MAX
                     && wire_body_size((uint8_t) v)
                            == wire_body_size(GSP_PING_REQ);
            else
                ok = false;
            rc = dec(buf, n, &d, &why);
            cr_assert_eq(rc, ok ? MEMDB_OK : MEMDB_ERR, "byte %zu = %d: %s",
                         off, v, why ? why : "ok");
            if (ok) {
                gsp_hdr_t h;
                memcpy(&h, buf, sizeof(h));
                cr_assert(memcmp(&d.hdr, &h, sizeof(h)) == 0);
                cr_assert_eq(d.mac_off, n - AUTH_MAC);
            } else {
                cr_assert_eq(d.nupd, 0, "a rejected datagram leaves nothing");
            }
        }
    }
}

/* Every value of every byte of the non-string fields of the member at
 * base: role and state in range, reserved fields zero, numbers free. */
static void
member_bytes(const unsigned char *out, size_t n, size_t base)
{
    unsigned char buf[GSP_MAX];
    gsp_msg_t d;
    const char *why;

    for (size_t f = offsetof(gsp_member_t, role); f < GSP_MEMBER; f++) {
        for (int v = 0; v < 256; v++) {
            size_t off = base + f;
            bool ok;

            if (v == out[off])
                continue;
            if (f == offsetof(gsp_member_t, role))
                ok = v <= ROLE_REPLICA;
            else if (f == offsetof(gsp_member_t, state))
                ok = v <= MS_LEFT;
            else if (f < offsetof(gsp_member_t, epoch))
                ok = false; /* reserved, reserved2 */
            else
                ok = true; /* epoch, lsn, incarnation */
            memcpy(buf, out, n);
            buf[off] = (unsigned char) v;
            cr_assert_eq(dec(buf, n, &d, &why), ok ? MEMDB_OK : MEMDB_ERR,
                         "member at %zu, byte %zu = %d: %s", base, f, v,
                         why ? why : "ok");
        }
    }
}

Test(wire, every_member_field_byte)
{
    unsigned char out[GSP_MAX];
    gsp_msg_t m;
    size_t n;

    msg(&m, GSP_FORGET, 2, true);
    n = wire_encode(&m, out);
    cr_assert_gt(n, 0);
    member_bytes(out, n, HDR);       /* sender */
    member_bytes(out, n, HDR + 240); /* target */
    member_bytes(out, n, HDR + 480); /* first update */
    member_bytes(out, n, HDR + 720); /* last update */
}

Test(wire, every_vote_byte)
{
    unsigned char out[GSP_MAX], buf[GSP_MAX];
    gsp_msg_t m, d;
    const char *why;
    size_t n, base = HDR + 240;

    msg(&m, GSP_VOTE, 1, false);
    n = wire_encode(&m, out);
    for (size_t f = 0; f < sizeof(gsp_vote_t); f++)
        for (int v = 0; v < 256; v++) {
            bool ok;
            if (v == out[base + f])
                continue;
            if (f < 8)
                ok = true; /* epoch */
            else if (f == 8)
                ok = v <= 1; /* granted */
            else
                ok = false; /* reserved */
            memcpy(buf, out, n);
            buf[base + f] = (unsigned char) v;
            cr_assert_eq(dec(buf, n, &d, &why), ok ? MEMDB_OK : MEMDB_ERR,
                         "vote byte %zu = %d", f, v);
            if (ok && f == 8)
                cr_assert_eq(d.vote.granted, v);
        }
}

Test(wire, every_vote_request_byte)
{
    static const uint8_t types[] = { GSP_VOTE_REQ, GSP_TIMEOUT_NOW };
    unsigned char out[GSP_MAX], buf[GSP_MAX];
    gsp_msg_t m, d;
    const char *why;
    size_t base = HDR + 240;

    for (size_t t = 0; t < MEMDB_NELEM(types); t++) {
        size_t n;
        msg(&m, types[t], 2, true);
        n = wire_encode(&m, out);
        for (size_t f = 0; f < sizeof(gsp_vote_req_t); f++)
            for (int v = 0; v < 256; v++) {
                bool ok;
                if (v == out[base + f])
                    continue;
                if (f < 24)
                    ok = true; /* epochs, lsn */
                else if (f == 24)
                    ok = v <= 1; /* transfer */
                else
                    ok = false; /* reserved */
                memcpy(buf, out, n);
                buf[base + f] = (unsigned char) v;
                cr_assert_eq(dec(buf, n, &d, &why), ok ? MEMDB_OK : MEMDB_ERR,
                             "type %d byte %zu = %d", types[t], f, v);
                if (ok && f < 8)
                    cr_assert_eq(d.vreq.epoch >> (8 * f) & 0xff, (uint64_t) v);
            }
    }
}

/* ---- members ---------------------------------------------------------- */

typedef struct mcase_s {
    const char *what;
    int field;       /* 0 id, 1 gossip, 2 repl, 3 http */
    const char *val; /* NULL: fill the field without a NUL */
    bool ok;
} mcase_t;

static const mcase_t mcases[] = {
    { "plain id", 0, "n1", true },
    { "every id char", 0, "azAZ09._-", true },
    { "63-char id", 0,
      "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz01234567890",
      true },
    { "empty id", 0, "", false },
    { "id with space", 0, "n 1", false },
    { "id with slash", 0, "a/b", false },
    { "id with colon", 0, "a:b", false },
    { "id with newline", 0, "n1\n", false },
    { "non-ASCII id", 0, "n\xc3\xb6", false },
    { "id with DEL", 0, "n\x7f", false },
    { "id without NUL", 0, NULL, false },
    { "IPv4 gossip", 1, "192.168.0.1:1", true },
    { "IPv6 gossip", 1, "[fe80::1]:7946", true },
    { "47-char gossip", 1, "[1111:2222:3333:4444:5555:6666:7777:8888]:65535",
      true },
    { "empty gossip", 1, "", false },
    { "gossip without port", 1, "127.0.0.1", false },
    { "gossip with empty port", 1, "127.0.0.1:", false },
    { "gossip port too big", 1, "127.0.0.1:65536", false },
    { "gossip port not a number", 1, "127.0.0.1:80x", false },
    { "gossip negative port", 1, "127.0.0.1:-1", false },
    { "gossip without host", 1, ":80", false },
    { "gossip bare IPv6", 1, "::1:80", false },
    { "gossip unclosed bracket", 1, "[::1:80", false },
    { "gossip bad IPv4", 1, "300.1.1.1:80", false },
    { "gossip without NUL", 1, NULL, false },
    /* Names are checked for syntax, never resolved. */
    { "host name", 1, "localhost:9889", true },
    { "long host name", 1, "memdb-0.memdb.default.svc.cluster.local:7946",
      true },
    { "name that does not resolve", 1, "no-such-host.invalid:1", true },
    { "name with underscore", 1, "a_b:80", false },
    { "name starting with -", 1, "-a:80", false },
    { "name ending with -", 1, "a-:80", false },
    { "label ending with -", 1, "a-.b:80", false },
    { "empty label", 1, "a..b:80", false },
    { "leading dot", 1, ".a:80", false },
    { "trailing dot", 1, "a.:80", false },
    { "short IPv4", 1, "1.2.3:80", false },
    { "name in brackets", 1, "[localhost]:80", false },
    { "IPv6 with zone", 1, "[fe80::1%eth0]:80", true },
    { "IPv6 with empty zone", 1, "[fe80::1%]:80", false },
    { "IPv6 with bad zone", 1, "[fe80::1%a/b]:80", false },
    { "mapped IPv4", 1, "[::ffff:1.2.3.4]:80", true },
    { "bad IPv6", 1, "[::g]:80", false },
    { "empty brackets", 1, "[]:80", false },
    { "space in host", 1, "a b:80", false },
    { "space after port", 1, "1.2.3.4:80 ", false },
    { "empty repl", 2, "", true },
    { "IPv6 repl", 2, "[::1]:1", true },
    { "bad repl", 2, "nowhere", false },
    { "repl without NUL", 2, NULL, false },
    { "empty http", 3, "", true },
    { "bad http", 3, "[::1]", false },
    { "http port too big", 3, "1.2.3.4:99999", false },
    { "http without NUL", 3, NULL, false },
};

static void
apply(gsp_member_t *mb, const mcase_t *c)
{
    char *f[] = { mb->id, mb->gossip, mb->repl, mb->http };
    size_t n = c->field == 0 ? GSP_ID : GSP_ADDR;

    memset(f[c->field], 0, n);
    if (c->val == NULL)
        memset(f[c->field], c->field == 0 ? 'a' : '1', n);
    else
        memcpy(f[c->field], c->val, strlen(c->val));
}

Test(wire, member_fields)
{
    for (size_t i = 0; i < MEMDB_NELEM(mcases); i++) {
        gsp_member_t mb;
        member(&mb, "n1", 7946, ROLE_REPLICA, MS_ALIVE, 5);
        cr_assert(wire_member_ok(&mb));
        apply(&mb, &mcases[i]);
        cr_assert_eq(wire_member_ok(&mb), mcases[i].ok, "%s", mcases[i].what);
    }
}

Test(wire, member_enums_and_reserved)
{
    gsp_member_t mb;

    for (int r = 0; r < 256; r++) {
        member(&mb, "n1", 7946, (uint8_t) r, MS_ALIVE, 5);
        cr_assert_eq(wire_member_ok(&mb), r <= ROLE_REPLICA, "role %d", r);
    }
    for (int s = 0; s < 256; s++) {
        member(&mb, "n1", 7946, ROLE_STANDALONE, (uint8_t) s, 5);
        cr_assert_eq(wire_member_ok(&mb), s <= MS_LEFT, "state %d", s);
    }
    member(&mb, "n1", 7946, ROLE_LEADER, MS_LEFT, 5);
    cr_assert(wire_member_ok(&mb));
    mb.reserved = 1;
    cr_assert_not(wire_member_ok(&mb));
    mb.reserved = 0x8000;
    cr_assert_not(wire_member_ok(&mb));
    mb.reserved = 0;
    mb.reserved2 = 0x80000000U;
    cr_assert_not(wire_member_ok(&mb));
    mb.reserved2 = 0;
    mb.epoch = mb.lsn = mb.incarnation = UINT64_MAX;
    cr_assert(wire_member_ok(&mb));
}

/* Every bad member is rejected wherever it sits in a datagram (written
 * raw, as encode would clean it). */
Test(wire, bad_members_in_datagrams)
{
    static const size_t where[] = { HDR, HDR + 240, HDR + 480, HDR + 720 };
    unsigned char out[GSP_MAX], buf[GSP_MAX];
    gsp_msg_t m, d;
    const char *why;
    size_t n;

    msg(&m, GSP_PING_REQ, 2, false);
    n = wire_encode(&m, out);
    for (size_t w = 0; w < MEMDB_NELEM(where); w++)
        for (size_t i = 0; i < MEMDB_NELEM(mcases); i++) {
            gsp_member_t mb;
            memcpy(&mb, out + where[w], sizeof(mb));
            apply(&mb, &mcases[i]);
            memcpy(buf, out, n);
            memcpy(buf + where[w], &mb, sizeof(mb));
            cr_assert_eq(dec(buf, n, &d, &why),
                         mcases[i].ok ? MEMDB_OK : MEMDB_ERR, "%s at %zu",
                         mcases[i].what, where[w]);
        }
}

/* ---- garbage ---------------------------------------------------------- */

Test(wire, random_garbage_rejected)
{
    unsigned char *buf = malloc(GSP_MAX + 64);
    gsp_msg_t d;
    const char *why;

    cr_assert_not_null(buf);
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 100000; i++) {
        size_t len = (size_t) (rnd() % (GSP_MAX + 64));

        rnd_fill(buf, len);
        if (i % 2 == 1 && len >= HDR) {
            /* A valid header for a datagram of exactly this shape. */
            gsp_hdr_t h;
            uint8_t type = (uint8_t) (1 + rnd() % GSP_TYPE_MAX);
            uint8_t nupd = (uint8_t) (rnd() % (GSP_MAX_UPD + 1));
            bool auth = rnd() & 1;
            memcpy(&h, buf, sizeof(h));
            h.magic = GSP_MAGIC;
            h.version = GSP_VERSION;
            h.type = type;
            h.nupd = nupd;
            h.flags = auth ? GSP_F_AUTH : 0;
            h.reserved = 0;
            len = expect_len(type, nupd, auth);
            if (len > GSP_MAX)
                len = GSP_MAX;
            rnd_fill(buf + HDR, len - HDR);
            h.length = (uint16_t) len;
            memcpy(buf, &h, sizeof(h));
        }
        cr_assert_eq(dec(buf, len, &d, &why), MEMDB_ERR, "buffer %d", i);
        cr_assert_not_null(why);
    }
    free(buf);
}

Test(wire, random_mutations_never_crash)
{
    unsigned char out[GSP_MAX], buf[GSP_MAX];
    int ok = 0, bad = 0;

    rng_state = 0x0123456789abcdefULL;
    for (int i = 0; i < 100000; i++) {
        gsp_msg_t d;
        const char *why;
        size_t n = sample((int) (rnd() % 8), out), len = n;
        int nmut = 1 + (int) (rnd() % 4);

        memcpy(buf, out, n);
        for (int k = 0; k < nmut; k++)
            buf[rnd() % n] = (unsigned char) rnd();
        if (rnd() % 8 == 0)
            len = (size_t) (rnd() % (n + 1));
        if (dec(buf, len, &d, &why) == MEMDB_OK) {
            /* Whatever got through is well-formed. */
            ok++;
            cr_assert_eq(d.hdr.magic, GSP_MAGIC);
            cr_assert_eq(d.hdr.length, len);
            cr_assert_leq(d.nupd, GSP_MAX_UPD);
            cr_assert_eq(d.nupd, d.hdr.nupd);
            cr_assert_eq(
                len, expect_len(d.hdr.type, d.nupd, d.hdr.flags & GSP_F_AUTH));
            cr_assert(wire_member_ok(&d.from));
            for (int u = 0; u < d.nupd; u++)
                cr_assert(wire_member_ok(&d.upd[u]));
            if (has_target(d.hdr.type))
                cr_assert(wire_member_ok(&d.target));
        } else {
            bad++;
            cr_assert_not_null(why);
        }
    }
    cr_assert_gt(ok, 1000, "mutations of free fields decode (%d)", ok);
    cr_assert_gt(bad, 1000, "mutations of checked fields fail (%d)", bad);
}

Test(wire, why_is_optional_and_short_input_safe)
{
    gsp_msg_t d;
    unsigned char b[HDR] = { 0 };

    cr_assert_eq(wire_decode(b, 0, &d, NULL), MEMDB_ERR);
    cr_assert_eq(wire_decode(b, HDR - 1, &d, NULL), MEMDB_ERR);
    cr_assert_eq(wire_decode(b, HDR, &d, NULL), MEMDB_ERR);
}
