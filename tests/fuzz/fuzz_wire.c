/*
 * fuzz_wire.c - gossip datagrams (replicator/wire.c): wire_decode() on
 * whatever arrives on the UDP port.
 *
 * A datagram that decodes is encoded again: the encoding has the length of
 * the datagram, decodes, and encodes to the same bytes (the round trip is
 * stable: what a node relays is what it understood).
 */
#include "tests/fuzz/fuzz.h"
#include "replicator/wire.h"
#include "replicator/auth.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gsp_msg_t m, m2;
    const char *why = NULL;
    unsigned char enc[GSP_MAX], enc2[GSP_MAX];
    size_t n, n2;

    if (wire_decode(data, size, &m, &why) != MEMDB_OK) {
        FUZZ_CHECK(why != NULL);
        return 0;
    }
    FUZZ_CHECK(why == NULL);
    FUZZ_CHECK(m.hdr.length == size);
    FUZZ_CHECK(m.nupd >= 0 && m.nupd <= GSP_MAX_UPD);
    FUZZ_CHECK(wire_member_ok(&m.from));
    for (int i = 0; i < m.nupd; i++)
        FUZZ_CHECK(wire_member_ok(&m.upd[i]));
    if (m.hdr.flags & GSP_F_AUTH)
        FUZZ_CHECK(m.mac_off == size - AUTH_MAC);
    else
        FUZZ_CHECK(m.mac_off == 0);

    memset(enc, 0, sizeof(enc));
    n = wire_encode(&m, enc);
    FUZZ_CHECK(n == size);
    if (wire_decode(enc, n, &m2, &why) != MEMDB_OK) {
        fprintf(stderr, "re-encoded datagram rejected: %s\n", why);
        FUZZ_CHECK(!"re-encoded datagram decodes");
    }
    memset(enc2, 0, sizeof(enc2));
    n2 = wire_encode(&m2, enc2);
    FUZZ_CHECK(n2 == n && memcmp(enc, enc2, n) == 0);
    return 0;
}
