/*
 * wire.h - the gossip datagram (UDP), encoded and checked.
 *
 * All integers are little-endian.  A datagram is:
 *
 *   gsp_hdr_t      40 bytes
 *   gsp_member_t   the sender as it sees itself (GSP_MEMBER bytes)
 *   body           by type (below)
 *   nupd x gsp_member_t   piggybacked updates about other members
 *   MAC            AUTH_MAC bytes when flags has GSP_F_AUTH (auth.h)
 *
 * Bodies:
 *   PING, ACK, SYNC_REQ   none
 *   PING_REQ             gsp_member_t: the member to probe for the sender
 *   SYNC                 none (the updates are the sender's member list)
 *   VOTE_REQ             gsp_vote_req_t
 *   VOTE                 gsp_vote_t
 *   TIMEOUT_NOW          gsp_vote_req_t (the leader hands over: start an
 *                        election now; last_epoch/last_lsn are the
 *                        leader's)
 *   FORGET               gsp_member_t: remove this member for good
 *
 * wire_decode() checks magic, version, type and length before it reads
 * anything else, then every field: ids must be non-empty, NUL-terminated
 * and made of node-id characters; addresses must parse; enums must be in
 * range.  A datagram that fails any check is rejected whole.
 */
#ifndef MEMDB_REPLICATOR_WIRE_H
#define MEMDB_REPLICATOR_WIRE_H

#include "src/core/memdb.h"

#define GSP_MAGIC   0x5053474dU /* "MGSP" */
#define GSP_VERSION 2           /* 2: the boot in the header */
#define GSP_MAX     1400        /* bytes per datagram */
#define GSP_ID      64
#define GSP_ADDR    48
#define GSP_MAX_UPD 4
#define GSP_F_AUTH  0x01

enum {
    GSP_PING = 1,
    GSP_ACK,
    GSP_PING_REQ,
    GSP_SYNC_REQ,
    GSP_SYNC,
    GSP_VOTE_REQ,
    GSP_VOTE,
    GSP_TIMEOUT_NOW,
    GSP_FORGET,
    GSP_TYPE_MAX = GSP_FORGET,
};

typedef struct gsp_hdr_s {
    uint32_t magic;
    uint8_t version;
    uint8_t type;
    uint16_t length; /* the whole datagram, MAC included */
    uint32_t seq;    /* probe number; an ACK echoes it */
    uint8_t nupd;
    uint8_t flags;
    uint16_t reserved; /* 0 */
    uint64_t time_ms;  /* sender's wall clock */
    uint64_t boot;     /* sender's boot number, never 0 (auth.h) */
    uint64_t msg_id;   /* 1, 2, 3... within each boot of the sender */
} gsp_hdr_t;

typedef struct gsp_member_s {
    char id[GSP_ID];
    char gossip[GSP_ADDR]; /* "HOST:PORT" */
    char repl[GSP_ADDR];
    char http[GSP_ADDR];
    uint8_t role;       /* ROLE_* (shm.h) */
    uint8_t state;      /* MS_* (roster.h) */
    uint16_t reserved;  /* 0 */
    uint32_t reserved2; /* 0 */
    uint64_t epoch;
    uint64_t lsn; /* applied */
    uint64_t incarnation;
} gsp_member_t;

typedef struct gsp_vote_req_s {
    uint64_t epoch;      /* the election's epoch */
    uint64_t last_epoch; /* epoch of the candidate's last record */
    uint64_t last_lsn;
    uint8_t transfer; /* 1: the leader hands over to it */
    uint8_t reserved[7];
} gsp_vote_req_t;

typedef struct gsp_vote_s {
    uint64_t epoch;
    uint8_t granted;
    uint8_t reserved[7];
} gsp_vote_t;

_Static_assert(sizeof(gsp_hdr_t) == 40, "gossip header is 40 bytes");
_Static_assert(sizeof(gsp_member_t) == 240, "member is 240 bytes");
_Static_assert(sizeof(gsp_vote_req_t) == 32, "vote request is 32 bytes");
_Static_assert(sizeof(gsp_vote_t) == 16, "vote is 16 bytes");

#define GSP_MEMBER sizeof(gsp_member_t)

/* A decoded datagram: pointers into the caller's buffer are not kept;
 * everything is copied. */
typedef struct gsp_msg_s {
    gsp_hdr_t hdr;
    gsp_member_t from;
    gsp_member_t target; /* PING_REQ, FORGET */
    gsp_vote_req_t vreq; /* VOTE_REQ, TIMEOUT_NOW */
    gsp_vote_t vote;     /* VOTE */
    gsp_member_t upd[GSP_MAX_UPD];
    int nupd;
    size_t mac_off; /* where the MAC starts (0: none) */
} gsp_msg_t;

/* Encodes m into out (at least GSP_MAX bytes), leaving room for a MAC
 * when m->hdr.flags has GSP_F_AUTH (the caller appends it: auth_sign).
 * Returns the datagram length. */
size_t wire_encode(const gsp_msg_t *m, unsigned char *out);
/* Decodes and checks.  MEMDB_OK, or MEMDB_ERR with a short reason. */
int wire_decode(const unsigned char *p, size_t len, gsp_msg_t *m,
                const char **why);
/* Checks one member record (also used for the sender). */
bool wire_member_ok(const gsp_member_t *mb);
/* Bytes of the body for a type (0 for none). */
size_t wire_body_size(uint8_t type);

#endif
