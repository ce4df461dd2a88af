/*
 * frame.h - replication frames (TCP), encoded and checked.
 *
 * A frame is:
 *   frame_hdr_t   24 bytes: magic "MREP", version, type, flags, payload
 *                 length, frame counter
 *   payload       length bytes (at most FRAME_MAX)
 *   MAC           AUTH_MAC bytes when flags has FRAME_F_AUTH
 *
 * The counter starts at 1 on each connection and grows by one per frame
 * in each direction; a frame with any other counter is rejected (replay,
 * reordering or injection).  frame_check_hdr() validates the header before
 * a byte of the payload is trusted.  Until its handshake is done, a
 * connection takes no frame longer than FRAME_PREAUTH_MAX (the largest
 * HELLO or WELCOME).
 *
 * Conversation (leader L, replica R), with the key each frame's MAC is
 * made with when the cluster has a secret (auth.h):
 *   L->R CHALLENGE   frame_challenge_t: L's nonce          (the secret's
 *                    key: replayable, and carries nothing else)
 *   R->L HELLO       frame_hello_t + history entries: who R is, where its
 *                    log ends, R's nonce            (AUTH_K_HELLO: fresh
 *                    for L's nonce)
 *   L->R WELCOME     frame_welcome_t + L's history: PARTIAL from an LSN,
 *                    or FULL (a snapshot follows)    (AUTH_K_LEADER: fresh
 *                    for both nonces, like every later frame of L; R's
 *                    later frames have AUTH_K_REPLICA)
 *   L->R SNAP_BEGIN  frame_snap_t, then SNAP_DATA (raw snapshot bytes)
 *                    frames, then SNAP_END
 *   L->R RECORDS     change records (rec.h) back to back, in LSN order
 *   R->L ACK         frame_ack_t, at least every 100 ms and on progress
 *   R->L MERGE       frame_merge_t + records: part of a divergent tail
 *                    handed over (merge.c)
 *   L->R MERGED      frame_merge_t: L took that batch
 *   either ERROR     text, then the connection closes
 *   either PING      keeps an idle connection alive
 */
#ifndef MEMDB_REPLICATOR_FRAME_H
#define MEMDB_REPLICATOR_FRAME_H

#include "src/core/memdb.h"
#include "src/core/buf.h"

#define FRAME_MAGIC   0x5045524dU /* "MREP" */
#define FRAME_VERSION 3 /* 3: history entries and records with origins, */
                        /* merge batches; keys per direction, WELCOME */
                        /* under them */
#define FRAME_HDR      24
#define FRAME_MAX      (64u << 20)
#define FRAME_F_AUTH   0x01
#define FRAME_NONCE    32
#define FRAME_MAX_HIST 256

enum {
    FR_CHALLENGE = 1,
    FR_HELLO,
    FR_WELCOME,
    FR_SNAP_BEGIN,
    FR_SNAP_DATA,
    FR_SNAP_END,
    FR_RECORDS,
    FR_ACK,
    FR_MERGE,
    FR_MERGED,
    FR_ERROR,
    FR_PING,
    FR_TYPE_MAX = FR_PING,
};

enum { FR_MODE_PARTIAL = 1, FR_MODE_FULL = 2 };

typedef struct frame_hdr_s {
    uint32_t magic;
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t length;   /* payload bytes */
    uint32_t reserved; /* 0 */
    uint64_t counter;
} frame_hdr_t;

/* An epoch of a log: the records from start_lsn on were put there by the
 * leader of epoch, whose boot id is boot (the records' place identity;
 * two leaders of one epoch, from two clusters that met, differ in boot). */
typedef struct frame_hist_s {
    uint64_t epoch;
    uint64_t start_lsn;
    uint64_t boot;
} frame_hist_t;

typedef struct frame_challenge_s {
    unsigned char nonce[FRAME_NONCE];
} frame_challenge_t;

typedef struct frame_hello_s {
    char id[64];
    unsigned char nonce[FRAME_NONCE];
    uint64_t epoch;    /* R's current epoch */
    uint64_t last_lsn; /* R's log ends here */
    uint32_t nhist;    /* frame_hist_t entries that follow */
    uint32_t flags;    /* FR_HELLO_FULL */
} frame_hello_t;

/* R's log and table are not whole (a full sync that did not finish):
 * only a FULL sync will do. */
#define FR_HELLO_FULL 0x1

typedef struct frame_welcome_s {
    uint8_t mode; /* FR_MODE_* */
    uint8_t reserved[7];
    uint64_t from_lsn; /* PARTIAL: first LSN to come */
    uint64_t fork_lsn; /* R's log matches L's up to here */
    uint64_t epoch;    /* L's epoch */
    uint32_t nhist;
    uint32_t reserved2;
    char cluster[40]; /* L's cluster id, NUL-terminated */
} frame_welcome_t;

typedef struct frame_snap_s {
    uint64_t lsn;
    uint64_t epoch;
    uint64_t size; /* bytes of SNAP_DATA to follow */
} frame_snap_t;

typedef struct frame_ack_s {
    uint64_t applied_lsn;
    uint64_t written_lsn;
    uint64_t durable_lsn;
    uint64_t leader_age_ms; /* since R last heard from L (the write lease) */
} frame_ack_t;

/* MERGE: a batch of records handed over (they follow); MERGED: the
 * leader's answer to batch seq, nrecords = how many it took as new. */
typedef struct frame_merge_s {
    uint32_t nrecords;
    uint32_t reserved;
    uint64_t seq;
} frame_merge_t;

_Static_assert(sizeof(frame_hdr_t) == FRAME_HDR, "frame header is 24 bytes");

/* The longest payload before the handshake is done: a HELLO with a full
 * epoch history (120 + 256 x 24 = 6264 bytes; a WELCOME is 40 less). */
#define FRAME_PREAUTH_MAX \
    (sizeof(frame_hello_t) + FRAME_MAX_HIST * sizeof(frame_hist_t))

/* Appends a frame header for a payload of len bytes to b. */
void frame_put_hdr(buf_t *b, uint8_t type, uint16_t flags, uint32_t len,
                   uint64_t counter);
/* Checks a header (magic, version, type, reserved, length).  MEMDB_OK or
 * MEMDB_ERR with a reason. */
int frame_check_hdr(const frame_hdr_t *h, const char **why);
/* Checks a payload for its type: fixed-size parts present, counts
 * consistent with the length, ids NUL-terminated, records (RECORDS,
 * MERGE) each passing rec_check().  MEMDB_OK or MEMDB_ERR with a reason. */
int frame_check_payload(uint8_t type, const unsigned char *p, uint32_t len,
                        const char **why);

#endif
