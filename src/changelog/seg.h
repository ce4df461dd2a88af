/*
 * seg.h - change-log segment files: data_dir/log/<first-lsn>.seg.
 *
 * A segment is a 64-byte header followed by change records (rec.h) back
 * to back, in LSN order with no gap:
 *
 *   off  size
 *     0     8  magic "MDBSEG01"
 *     8     4  format version (2: records with an origin, rec.h)
 *    12     4  header size (64)
 *    16     8  first LSN the segment holds (the name says the same)
 *    24     8  epoch when the segment was opened
 *    32     8  creation time, ms since the epoch
 *    40    16  reserved, zero
 *    56     8  XXH3-64 of bytes 0..55
 *
 * The name is the first LSN in 20 decimal digits, so names sort in LSN
 * order.  A segment ends where the next one starts; when two overlap (a
 * rewrite after a write or fsync error), the later segment wins from its
 * first LSN on.
 */
#ifndef MEMDB_SRC_CHANGELOG_SEG_H
#define MEMDB_SRC_CHANGELOG_SEG_H

#include "src/core/memdb.h"
#include "src/core/buf.h"
#include "src/changelog/rec.h"
#include "src/core/util.h"

#define SEG_MAGIC   0x313047455342444dULL /* "MDBSEG01" */
#define SEG_HDR     64
#define SEG_VERSION 2
#define SEG_SUFFIX  ".seg"

typedef struct seg_hdr_s {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;
    uint64_t first_lsn;
    uint64_t epoch;
    uint64_t created_ms;
    uint64_t reserved[2];
    uint64_t checksum;
} seg_hdr_t;

_Static_assert(sizeof(seg_hdr_t) == SEG_HDR, "segment header is 64 bytes");

/* One segment of a directory listing. */
typedef util_lsnfile_t seg_info_t;

/* Lists the segments of dir (the log directory), sorted by first LSN.
 * Returns the count (0 when dir does not exist), -1 on error; *out is
 * malloc'ed. */
int seg_list(const char *dir, seg_info_t **out);
void seg_path(char *out, size_t len, const char *dir, uint64_t first_lsn);

/* Creates a new segment (O_EXCL) with its header written and fsynced.
 * Returns the fd or -1 (errno set, logged). */
int seg_create(const char *dir, uint64_t first_lsn, uint64_t epoch);
/* The same under the name "<first-lsn>.seg.tmp", which readers and
 * recovery ignore: a segment that must not count before it is complete
 * (the rewrite after a disk error, clogw.c).  seg_install() fsyncs it and
 * renames it to its real name, replacing a segment of the same first LSN;
 * MEMDB_ERR (logged) when either fails. */
int seg_create_tmp(const char *dir, uint64_t first_lsn, uint64_t epoch);
int seg_install(int fd, const char *dir, uint64_t first_lsn);
bool seg_hdr_valid(const seg_hdr_t *h);

/* Sequential reader with a growing buffer. */
typedef struct seg_reader_s {
    int fd;
    char path[1100];
    seg_hdr_t hdr;
    uint64_t size; /* file size at open */
    uint64_t off;  /* offset of the next record */
    buf_t buf;     /* bytes from buf_off on */
    uint64_t buf_off;
    size_t buf_pos; /* next record within buf */
} seg_reader_t;

typedef enum {
    SEG_REC = 0, /* a valid record */
    SEG_END,     /* clean end of file */
    SEG_BAD,     /* bad record at r->off (status in *st) */
    SEG_IOERR,
} seg_read_e;

/* MEMDB_OK, or MEMDB_ERR with a message in err. */
int seg_open(seg_reader_t *r, const char *path, char *err, size_t errlen);
/* Next record: *rec points into the reader's buffer until the next call.
 * r->off is the record's offset until seg_next is called again. */
seg_read_e seg_next(seg_reader_t *r, const void **rec, uint32_t *len,
                    rec_status_e *st);
/* Offset of the record last returned. */
uint64_t seg_rec_off(const seg_reader_t *r);
void seg_close(seg_reader_t *r);

/* True if every byte of fd from off to EOF is zero (a torn, preallocated
 * tail). */
bool seg_zero_tail(int fd, uint64_t off, uint64_t size);

#endif
