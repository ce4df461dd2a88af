/*
 * admit.h - which connections to the replication port may wait for their
 * handshake.
 *
 * Until it has sent a valid HELLO, a connection costs the leader a slot
 * and a buffer but has proven nothing.  So (ship.c):
 *   - it gets REPL_AUTH_MS from accept to finish the handshake, however
 *     many bytes it sends meanwhile;
 *   - it may send one frame of at most FRAME_PREAUTH_MAX bytes;
 *   - at most ADMIT_PER_SOURCE of them wait from one source (an IPv4
 *     address, or an IPv6 /64) and ADMIT_TOTAL in all.  When a new
 *     connection would exceed either, the oldest waiting one of that
 *     source (or of all) is dropped for it.
 * Dropping the oldest rather than refusing the newest means idle
 * connections cannot lock anyone out: a real replica's handshake takes a
 * round trip, and a connection opened before it is dropped before it.  To
 * push a real replica's connection out, a peer must open ADMIT_PER_SOURCE
 * connections from that replica's own source (ADMIT_TOTAL from many)
 * within that round trip.
 */
#ifndef MEMDB_REPLICATOR_ADMIT_H
#define MEMDB_REPLICATOR_ADMIT_H

#include "src/core/memdb.h"

#include <sys/socket.h>

#define ADMIT_PER_SOURCE 8
#define ADMIT_TOTAL      32
#define ADMIT_KEY        17 /* family byte + 16 address bytes */

/* A connection waiting for its handshake. */
typedef struct admit_s {
    unsigned char src[ADMIT_KEY]; /* admit_source() */
    uint64_t since_ms;            /* accepted */
} admit_t;

/* The source of a peer address: its IPv4 address (IPv4-mapped IPv6
 * included), or the /64 of an IPv6 address; zeros for anything else. */
void admit_source(const struct sockaddr *sa, unsigned char out[ADMIT_KEY]);
/* Of the n connections waiting, the index of the one to drop so that one
 * more from src fits within per_source and total, or -1 if it fits. */
int admit_victim(const admit_t *waiting, int n, const unsigned char *src,
                 int per_source, int total);

#endif
