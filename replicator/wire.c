/*
 * wire.c - encoding and checking of gossip datagrams (format in wire.h).
 *
 * The wire format is the in-memory layout of the structs on a
 * little-endian host; the buffer may be unaligned, so every struct is
 * copied with memcpy, never read through a cast pointer.
 *
 * Addresses are checked for syntax only (see addr_ok): decoding never
 * resolves a name.
 */
#include "replicator/wire.h"
#include "src/core/util.h"
#include "replicator/auth.h"
#include "shm/shm.h"
#include "shm/roster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the gossip wire format assumes a little-endian host"
#endif

size_t
wire_body_size(uint8_t type)
{
    switch (type) {
    case GSP_PING_REQ:
    case GSP_FORGET: return sizeof(gsp_member_t);
    case GSP_VOTE_REQ:
    case GSP_TIMEOUT_NOW: return sizeof(gsp_vote_req_t);
    case GSP_VOTE: return sizeof(gsp_vote_t);
    default: return 0;
    }
}

/* Copies a string field up to its NUL and zero-fills the rest, so no
 * stale bytes of the caller's struct go on the wire. */
static void
copy_field(char *dst, const char *src, size_t n)
{
    size_t l = strnlen(src, n);

    memcpy(dst, src, l);
    memset(dst + l, 0, n - l);
}

static unsigned char *
put_member(unsigned char *p, const gsp_member_t *mb)
{
    gsp_member_t c;

    memset(&c, 0, sizeof(c));
    copy_field(c.id, mb->id, sizeof(c.id));
    copy_field(c.gossip, mb->gossip, sizeof(c.gossip));
    copy_field(c.repl, mb->repl, sizeof(c.repl));
    copy_field(c.http, mb->http, sizeof(c.http));
    c.role = mb->role;
    c.state = mb->state;
    c.epoch = mb->epoch;
    c.lsn = mb->lsn;
    c.incarnation = mb->incarnation;
    memcpy(p, &c, sizeof(c));
    return p + sizeof(c);
}

size_t
wire_encode(const gsp_msg_t *m, unsigned char *out)
{
    gsp_hdr_t h;
    unsigned char *p = out;
    size_t body = wire_body_size(m->hdr.type), total;

    if (m->nupd < 0 || m->nupd > GSP_MAX_UPD)
        return 0;
    total = sizeof(gsp_hdr_t) + GSP_MEMBER + body
            + (size_t) m->nupd * GSP_MEMBER
            + ((m->hdr.flags & GSP_F_AUTH) ? AUTH_MAC : 0);
    if (total > GSP_MAX)
        return 0;

    h = m->hdr;
    h.magic = GSP_MAGIC;
    h.version = GSP_VERSION;
    h.length = (uint16_t) total;
    h.nupd = (uint8_t) m->nupd;
    h.reserved = 0;
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    p = put_member(p, &m->from);

    switch (m->hdr.type) {
    case GSP_PING_REQ:
    case GSP_FORGET: p = put_member(p, &m->target); break;
    case GSP_VOTE_REQ:
    case GSP_TIMEOUT_NOW: {
        gsp_vote_req_t v = m->vreq;
        memset(v.reserved, 0, sizeof(v.reserved));
        memcpy(p, &v, sizeof(v));
        p += sizeof(v);
        break;
    }
    case GSP_VOTE: {
        gsp_vote_t v = m->vote;
        memset(v.reserved, 0, sizeof(v.reserved));
        memcpy(p, &v, sizeof(v));
        p += sizeof(v);
        break;
    }
    default: break;
    }
    for (int i = 0; i < m->nupd; i++)
        p = put_member(p, &m->upd[i]);
    /* The MAC's AUTH_MAC bytes (if any) are the caller's. */
    return total;
}

/* A host name: dot-separated labels of letters, digits and '-', not
 * starting or ending with '-'.  All digits and dots: must be an IPv4
 * address (no "1.2.3" or "300.1.1.1"). */
static bool
hostname_ok(const char *h, size_t n)
{
    size_t label = 0;
    bool numeric = true;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (c >= '0' && c <= '9') {
            /* fine */
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            numeric = false;
        } else if (c == '-') {
            if (label == 0)
                return false;
            numeric = false;
        } else {
            return false;
        }
        if (++label > 63)
            return false;
    }
    if (h[n - 1] == '-' || h[n - 1] == '.')
        return false;
    if (numeric) {
        char tmp[INET_ADDRSTRLEN];
        struct in_addr a4;
        if (n >= sizeof(tmp))
            return false;
        memcpy(tmp, h, n);
        tmp[n] = '\0';
        return inet_pton(AF_INET, tmp, &a4) == 1;
    }
    return true;
}

/* An IPv6 literal, optionally with a %zone of id characters. */
static bool
ipv6_ok(const char *h, size_t n)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    const char *pct = memchr(h, '%', n);
    size_t an = pct != NULL ? (size_t) (pct - h) : n;

    if (an == 0 || an >= sizeof(tmp))
        return false;
    if (pct != NULL) {
        size_t zn = n - an - 1;
        if (zn == 0 || zn > 15)
            return false;
        for (size_t i = 0; i < zn; i++) {
            unsigned char c = (unsigned char) pct[1 + i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '.' || c == '_'
                  || c == '-'))
                return false;
        }
    }
    memcpy(tmp, h, an);
    tmp[an] = '\0';
    return inet_pton(AF_INET6, tmp, &a6) == 1;
}

static bool
port_ok(const char *p)
{
    uint32_t v = 0;

    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint32_t) (*p - '0');
        if (v > 65535)
            return false;
    }
    return true;
}

/*
 * An address as util_parse_addr() takes it ("HOST:PORT", "[V6]:PORT"),
 * checked for syntax only: a datagram must never make the receiver
 * resolve a name (a blocking DNS lookup per member, on the gossip loop,
 * triggered by whoever sends a datagram).  Names are resolved when the
 * address is used.
 */
static bool
addr_ok(const char *a, size_t n, bool may_be_empty)
{
    size_t l = strnlen(a, n);
    const char *colon;

    if (l == n)
        return false; /* not NUL-terminated */
    if (l == 0)
        return may_be_empty;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (close == NULL || close[1] != ':')
            return false;
        return ipv6_ok(a + 1, (size_t) (close - a - 1)) && port_ok(close + 2);
    }
    colon = strchr(a, ':');
    if (colon == NULL || strchr(colon + 1, ':') != NULL)
        return false;
    return hostname_ok(a, (size_t) (colon - a)) && port_ok(colon + 1);
}

bool
wire_member_ok(const gsp_member_t *mb)
{
    return util_id_ok(mb->id, sizeof(mb->id)) && mb->role <= ROLE_REPLICA
           && mb->state <= MS_LEFT && mb->reserved == 0 && mb->reserved2 == 0
           && addr_ok(mb->gossip, sizeof(mb->gossip), false)
           && addr_ok(mb->repl, sizeof(mb->repl), true)
           && addr_ok(mb->http, sizeof(mb->http), true);
}

static bool
zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* On failure nothing of the datagram is left in *m. */
#define FAIL(s) \
    do { \
        memset(m, 0, sizeof(*m)); \
        *why = (s); \
        return MEMDB_ERR; \
    } while (0)

int
wire_decode(const unsigned char *p, size_t len, gsp_msg_t *m, const char **why)
{
    const char *dummy;
    gsp_hdr_t h;
    size_t body, expect, off;
    bool auth;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    memset(m, 0, sizeof(*m));

    if (len < sizeof(gsp_hdr_t))
        FAIL("short datagram");
    if (len > GSP_MAX)
        FAIL("datagram too long");
    memcpy(&h, p, sizeof(h));
    if (h.magic != GSP_MAGIC)
        FAIL("bad magic");
    if (h.version != GSP_VERSION)
        FAIL("bad version");
    if (h.type < 1 || h.type > GSP_TYPE_MAX)
        FAIL("bad type");
    if (h.reserved != 0)
        FAIL("reserved header bits set");
    if ((h.flags & ~GSP_F_AUTH) != 0)
        FAIL("unknown flags");
    if (h.nupd > GSP_MAX_UPD)
        FAIL("too many updates");
    if (h.length != len)
        FAIL("length mismatch");
    auth = (h.flags & GSP_F_AUTH) != 0;
    body = wire_body_size(h.type);
    expect = sizeof(gsp_hdr_t) + GSP_MEMBER + body
             + (size_t) h.nupd * GSP_MEMBER + (auth ? AUTH_MAC : 0);
    if (len != expect)
        FAIL("bad size for type");

    off = sizeof(gsp_hdr_t);
    memcpy(&m->from, p + off, GSP_MEMBER);
    off += GSP_MEMBER;
    if (!wire_member_ok(&m->from))
        FAIL("bad sender");

    switch (h.type) {
    case GSP_PING_REQ:
    case GSP_FORGET:
        memcpy(&m->target, p + off, GSP_MEMBER);
        if (!wire_member_ok(&m->target))
            FAIL("bad target");
        break;
    case GSP_VOTE_REQ:
    case GSP_TIMEOUT_NOW:
        memcpy(&m->vreq, p + off, sizeof(m->vreq));
        if (m->vreq.transfer > 1)
            FAIL("bad transfer flag");
        if (!zero(m->vreq.reserved, sizeof(m->vreq.reserved)))
            FAIL("reserved vote request bytes set");
        break;
    case GSP_VOTE:
        memcpy(&m->vote, p + off, sizeof(m->vote));
        if (m->vote.granted > 1)
            FAIL("bad granted flag");
        if (!zero(m->vote.reserved, sizeof(m->vote.reserved)))
            FAIL("reserved vote bytes set");
        break;
    default: break;
    }
    off += body;

    for (int i = 0; i < h.nupd; i++) {
        memcpy(&m->upd[i], p + off, GSP_MEMBER);
        off += GSP_MEMBER;
        if (!wire_member_ok(&m->upd[i]))
            FAIL("bad update");
    }

    m->hdr = h;
    m->nupd = h.nupd;
    m->mac_off = auth ? len - AUTH_MAC : 0;
    return MEMDB_OK;
}
