/*
 * snap.h - snapshots: data_dir/snap/<lsn>.snap, a consistent image of the
 * table at one LSN.
 *
 *   header (64 bytes): magic "MDBSNAP1", version 3, header size, lsn,
 *                      epoch, creation time, 16 reserved bytes, XXH3-64 of
 *                      bytes 0..55
 *   catalog blocks:    u32 payload bytes, u32 0xfffffffd, u64 XXH3-64 of
 *                      the payload; the payloads together are the catalog
 *                      (shm/catalog.h): u64 next generation, u32 tables,
 *                      then each: u32 entry, u64 commit word, u64 uid,
 *                      u64 op LSN, u64 created, u8 name length, name, u32
 *                      profile length, profile.  Only when the store has
 *                      a table besides default or default was truncated
 *                      (none: the catalog a store starts with).  Words of
 *                      a table are stored under their generation's prefix
 *                      as the hash table keeps them.
 *   key blocks:        u32 payload bytes, u32 0xfffffffe, u64 XXH3-64 of
 *                      the payload, payload = snap_key_t entries (64 bytes
 *                      each, oldest first); at most SNAP_BLOCK bytes each
 *   blocks:            u32 payload bytes, u32 entries, u64 XXH3-64 of the
 *                      payload, payload = entries of varint len, word,
 *                      varint count; at most SNAP_BLOCK bytes each
 *   trailer:           u32 0, u32 0xffffffff, u64 "MDBSNEND", u64 words,
 *                      u64 sum of counts, u64 keys, u64 XXH3-64 of those 32
 *                      bytes seeded with the header checksum
 *
 * Version 1 (read, never written) has no key blocks and a trailer without
 * the key count (its checksum covers 24 bytes); version 2 (read, never
 * written) has no catalog blocks.
 *
 * The keys are the Idempotency-Keys of the uploads the snapshot counts
 * that are still inside their window (shm/idem.h): the previous
 * snapshot's and those of the records compacted, the newest of each key,
 * at most max_keys of them, so that recovery and a full sync remember
 * them as the table did.
 *
 * Words are sorted (memcmp order, shorter first on a tie), so a new
 * snapshot is built by merging the previous one with the sorted changes of
 * the sealed segments after it (snap_compact), in memory proportional to
 * the changes, not to the table.  A snapshot is written to a .tmp file,
 * fsynced, renamed and the directory fsynced; one without a valid trailer
 * is incomplete and ignored.
 */
#ifndef MEMDB_SRC_CHANGELOG_SNAP_H
#define MEMDB_SRC_CHANGELOG_SNAP_H

#include "src/core/memdb.h"
#include "src/core/buf.h"
#include "src/core/util.h"
#include "src/changelog/rec.h"
#include "shm/catalog.h"

#define SNAP_MAGIC     0x3150414e5342444dULL /* "MDBSNAP1" */
#define SNAP_END_MAGIC 0x444e454e5342444dULL /* "MDBSNEND" */
#define SNAP_HDR       64
#define SNAP_BLOCK     (1 << 20)
#define SNAP_SUFFIX    ".snap"

typedef struct snap_hdr_s {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t lsn;
    uint64_t epoch;
    uint64_t created_ms;
    uint64_t reserved[2];
    uint64_t checksum;
} snap_hdr_t;

_Static_assert(sizeof(snap_hdr_t) == SNAP_HDR, "snapshot header is 64 bytes");

/* An Idempotency-Key (little-endian): the record's block and its LSN. */
typedef struct snap_key_s {
    rec_idem_t id;
    uint64_t lsn;
} snap_key_t;

_Static_assert(sizeof(snap_key_t) == 64, "snapshot key is 64 bytes");

/* Which keys a compaction keeps. */
typedef struct snap_keep_s {
    uint64_t window_ms; /* those accepted less than this long ago */
    uint64_t max_keys;  /* the newest this many */
} snap_keep_t;

typedef util_lsnfile_t snap_info_t;

/* Snapshots in dir, newest (highest LSN) first.  Count, or -1. */
int snap_list(const char *dir, snap_info_t **out);
void snap_path(char *out, size_t len, const char *dir, uint64_t lsn);

typedef struct snap_writer_s {
    int fd;
    char tmp[1200];
    char path[1100];
    char dir[1024];
    snap_hdr_t hdr;
    buf_t block;
    uint32_t nblock;
    uint64_t nwords;
    uint64_t total;
    uint64_t nkeys;
    uint64_t bytes;
    buf_t last;     /* previous word: order check */
    char err[1400]; /* what failed, after MEMDB_ERR */
} snap_writer_t;

/* The writer logs nothing: a call that fails returns MEMDB_ERR with
 * w->err naming the call and the file, for the caller to report (the
 * compaction child's err, a test). */
int snap_writer_open(snap_writer_t *w, const char *dir, uint64_t lsn,
                     uint64_t epoch);
/* The catalog, before the keys (nothing for the one a store starts with). */
int snap_writer_catalog(snap_writer_t *w, const cat_t *c);
/* The keys, oldest first, before any word. */
int snap_writer_keys(snap_writer_t *w, const snap_key_t *k, size_t n);
/* Words must come in snapshot order, each once; a count of 0 is left
 * out (a word retracted or reset to 0 is absent). */
int snap_writer_add(snap_writer_t *w, const char *word, size_t len,
                    uint64_t count);
/* fsyncs the file, renames it into place, fsyncs the directory; aborts
 * the writer when it fails. */
int snap_writer_commit(snap_writer_t *w);
void snap_writer_abort(snap_writer_t *w);

typedef struct snap_reader_s {
    int fd;
    char path[1100];
    snap_hdr_t hdr;
    uint64_t size;
    uint64_t off; /* file offset of the next block */
    buf_t block;
    size_t pos;
    uint32_t left; /* entries left in the block */
    uint64_t nwords, total;
    bool done;
    buf_t keys; /* snap_open reads them all: snap_key_t, oldest first */
    size_t nkeys;
    buf_t cat; /* the catalog blocks' payloads (empty: none) */
} snap_reader_t;

/* Opens a snapshot and reads its header and keys (r->keys). */
int snap_open(snap_reader_t *r, const char *path, char *err, size_t errlen);
/* Key i of an open snapshot (i < r->nkeys). */
snap_key_t snap_key(const snap_reader_t *r, size_t i);
/* Sets c (emptied first) to the snapshot's catalog, or to the one a store
 * starts with when it has none.  MEMDB_ERR with file and offset when the
 * catalog is malformed or has more tables than c can hold. */
int snap_catalog(const snap_reader_t *r, cat_t *c, char *err, size_t errlen);
/* MEMDB_OK with the next word, MEMDB_AGAIN at the (verified) end,
 * MEMDB_ERR with a message naming file and offset. */
int snap_next(snap_reader_t *r, const char **word, size_t *len,
              uint64_t *count, char *err, size_t errlen);
void snap_close(snap_reader_t *r);

/* Compare two words in snapshot order. */
int snap_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Builds the snapshot at target_lsn from the snapshot prev (NULL for none)
 * and the segments of log_dir holding LSNs after it, up to target_lsn,
 * with the keys keep says (NULL: every key).  Writes it into snap_dir;
 * *out_path gets its path.  Runs in the compaction child. */
int snap_compact(const char *snap_dir, const char *log_dir, const char *prev,
                 uint64_t target_lsn, uint64_t epoch, const snap_keep_t *keep,
                 char *out_path, size_t out_len, char *err, size_t errlen);

#endif
