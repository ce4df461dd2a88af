/*
 * rec.h - the change record: the unit of the change ring, the log segments
 * and replication.
 *
 * One accepted upload is one record (a retract or a reset of words is one
 * too, REC_RETRACT and REC_FORGET: their deltas are subtracted):
 *
 *   rec_hdr_t (64 bytes, little-endian, fields below)
 *   nwords times: varint len, len bytes of the word, varint delta
 *
 * Two identities.  (lsn, epoch) is the record's place in a log: LSNs start
 * at 1, grow by exactly one per record and are never reused; a record
 * whose writer died before it was complete becomes a REC_NOOP record with
 * the same LSN and no words.  epoch is the leadership term of the leader
 * that put it there (0 for a node that never joined a cluster).
 *
 * (origin, origin_epoch, origin_lsn) is where the record was first
 * accepted: origin is the boot id of that memdbd (a random 64-bit number
 * drawn at every start, so unique in the cluster), and the two others are
 * its place in that node's log then.  An upload's origin is its own place;
 * copies keep it: replication ships records byte for byte, and a record
 * handed over after a failover (REC_MERGE, replicator/merge.c) gets a new
 * place in the new leader's log but keeps its origin.  The hand-over
 * deduplicates by origin, whoever holds the copy and however often it is
 * offered.
 *
 * A record of a table other than default names it (flag REC_F_TABLE): the
 * table's uid, the same on every node (shm/catalog.h), in a block after
 * the key block.  Table operations (REC_TABLE_*) carry no words but the
 * table's name and profile (rec_table_op).
 *
 * An upload sent with an Idempotency-Key carries it (flag REC_F_IDEM): a
 * rec_idem_t block between the header and the words, with the hash of the
 * key and of the body and the upload's answer, so that every node that
 * applies the record remembers the key (shm/idem.h).  A record handed over
 * keeps the block (on its first piece).
 *
 * checksum is XXH3-64 of the header (with checksum = 0) followed by the
 * payload.
 */
#ifndef MEMDB_SRC_CHANGELOG_REC_H
#define MEMDB_SRC_CHANGELOG_REC_H

#include "src/core/memdb.h"
#include "src/core/buf.h"

#define REC_MAGIC   0x3243524dU /* "MRC2" */
#define REC_HDR     64
#define REC_MAX_LEN (1U << 31)

enum {
    REC_UPLOAD = 1,  /* counts added by an upload */
    REC_NOOP = 2,    /* voided: keeps its LSN, carries nothing */
    REC_MERGE = 3,   /* a record handed over after a failover: its origin's
                        words, and the hand-over mark (merge.c) */
    REC_RETRACT = 4, /* counts taken back: the words of a retracted text */
    REC_FORGET = 5,  /* words reset: each word's count when it was reset */
    REC_TABLE_CREATE = 6,   /* a table is created (name, profile) */
    REC_TABLE_DROP = 7,     /* a table is dropped */
    REC_TABLE_TRUNCATE = 8, /* a table is emptied */
};

/* A table operation: no words, a rec_tblop_t payload (rec_table_op). */
static inline bool
rec_type_table(uint16_t type)
{
    return type >= REC_TABLE_CREATE && type <= REC_TABLE_TRUNCATE;
}

/* Does a record of this type take its deltas away?  rec_next() gives such
 * a record's deltas negated (modulo 2^64), so that whoever sums deltas
 * (the table, recovery, compaction, memdbctl) gets the right total in any
 * order; who needs the magnitude (the log printer) negates it back. */
static inline bool
rec_type_subtracts(uint16_t type)
{
    return type == REC_RETRACT || type == REC_FORGET;
}

/* rec_hdr_t.flags */
#define REC_F_IDEM    1U /* a rec_idem_t block follows the header */
#define REC_F_TABLE   2U /* a table block (its uid, 8 bytes) follows that */
#define REC_TABLE_LEN 8

typedef struct rec_hdr_s {
    uint32_t magic;
    uint32_t len; /* header + payload */
    uint64_t lsn;
    uint64_t epoch;
    uint16_t type;
    uint16_t flags;
    uint32_t nwords;
    uint64_t origin; /* boot id of the node that first accepted it */
    uint64_t origin_epoch;
    uint64_t origin_lsn;
    uint64_t checksum;
} rec_hdr_t;

_Static_assert(sizeof(rec_hdr_t) == REC_HDR, "record header is 64 bytes");
_Static_assert(offsetof(rec_hdr_t, checksum) == 56, "checksum at 56");

/* The Idempotency-Key block (little-endian, after the header). */
typedef struct rec_idem_s {
    uint64_t key[2];  /* hash of the client's key */
    uint64_t body[2]; /* hash of the upload's body */
    uint64_t time_ms; /* accepted at: the accepting leader's wall clock */
    uint64_t words;   /* the upload's answer: words and distinct words */
    uint64_t distinct;
} rec_idem_t;

#define REC_IDEM_LEN 56
_Static_assert(sizeof(rec_idem_t) == REC_IDEM_LEN, "key block is 56 bytes");

/* A table operation's payload (after the blocks): u8 name length, the
 * name, u32 profile length, the encoded profile (src/words/prof.h; 0
 * bytes: the default profile), u64 the leader's wall clock. */
typedef struct rec_tblop_s {
    const char *name;
    size_t name_len;
    const void *prof;
    size_t prof_len;
    uint64_t time_ms;
} rec_tblop_t;

/* A record's origin (see the top of this file). */
typedef struct rec_origin_s {
    uint64_t boot;
    uint64_t epoch;
    uint64_t lsn;
} rec_origin_t;

typedef enum {
    REC_OK = 0,
    REC_SHORT, /* fewer bytes than the header or len claims */
    REC_BAD_MAGIC,
    REC_BAD_LEN,
    REC_BAD_CHECKSUM,
    REC_BAD_PAYLOAD, /* checksum fine but words do not decode */
} rec_status_e;

const char *rec_status_str(rec_status_e s);

/* Builder: rec_begin() starts the record in b, rec_add() appends a word
 * (keeping the header's len and nwords current), rec_finish() sets lsn and
 * epoch and seals the checksum.  A record whose origin LSN is not set yet
 * (0) gets this place as its origin; rec_set_origin() sets it before. */
void rec_begin(buf_t *b, uint16_t type);
void rec_add(buf_t *b, const char *word, size_t len, uint64_t delta);
/* Adds the key block to a record rec_begin() started, before any word. */
void rec_set_idem(buf_t *b, const rec_idem_t *id);
/* The key block of a record (rec may be unaligned): false if none. */
bool rec_idem(const void *rec, rec_idem_t *out);
/* Names the table (its uid) of a record rec_begin() started, after any
 * key block and before any word.  No block: the table default (uid 0). */
void rec_set_table(buf_t *b, uint64_t uid);
/* The table uid of a record: 0 (default) when it has no table block. */
uint64_t rec_table(const void *rec);
/* The payload of a table operation, after rec_set_table(). */
void rec_set_table_op(buf_t *b, const char *name, size_t len, const void *prof,
                      size_t prof_len, uint64_t time_ms);
/* The payload of a checked table operation record. */
bool rec_table_op(const void *rec, rec_tblop_t *op);
/* Bytes rec_add() will append for this word. */
size_t rec_word_size(size_t len, uint64_t delta);
void rec_finish(void *rec, uint64_t lsn, uint64_t epoch);
/* Sets the origin (no seal): boot id, and epoch and LSN, 0 for "this
 * record's own place, once rec_finish() gives it one". */
void rec_set_origin(void *rec, uint64_t boot, uint64_t epoch, uint64_t lsn);
/* The origin of a record (rec may be unaligned). */
rec_origin_t rec_origin(const void *rec);
/* Recomputes the checksum in place (after lsn/epoch/type changed). */
void rec_seal(void *rec);

/* Checks header, length and checksum of the record at p, of which avail
 * bytes are readable.  On REC_OK, *len is the record's length. */
rec_status_e rec_check(const void *p, size_t avail, uint32_t *len);

/* Iterates over the words of a checked record. */
typedef struct rec_iter_s {
    const unsigned char *p, *end;
    uint32_t left;
    bool neg; /* a subtracting record (rec_type_subtracts) */
} rec_iter_t;

void rec_iter_init(rec_iter_t *it, const void *rec);
/* MEMDB_OK with the next word, MEMDB_AGAIN at the end, MEMDB_ERR when the
 * payload is malformed.  *delta is the change to the word's count modulo
 * 2^64: negated for a subtracting record. */
int rec_next(rec_iter_t *it, const char **word, size_t *len, uint64_t *delta);

size_t varint_put(unsigned char *p, uint64_t v);
/* Returns bytes read, 0 on malformed or truncated input. */
size_t varint_get(const unsigned char *p, const unsigned char *end,
                  uint64_t *v);

#endif
