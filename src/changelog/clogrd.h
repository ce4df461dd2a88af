/*
 * clogrd.h - the one reader of the change log: data_dir/log as recovery,
 * snapshot compaction, log shipping, the hand-over and `memdbctl log`
 * walk it.  The rules, in one place:
 *
 *   - segments are read in LSN order; segment i holds the records
 *     [first_i, first_{i+1}): what is left of it from the next segment's
 *     first LSN on does not count, bad or not (a rewrite after a disk
 *     error starts a segment at the first LSN that was not durable);
 *   - records before `from` are skipped (covered by a snapshot, or already
 *     sent), and the walk ends after `to`;
 *   - a gap is CLOGRD_GAP: a segment that starts past the next LSN, or a
 *     record whose LSN is not the next one;
 *   - a bad record in the last segment is a torn tail (CLOGRD_TORN) when it
 *     is short (the file ends inside it), its length reaches the end of
 *     the file, or only zero bytes follow it, and no valid record starts
 *     after it; a last segment shorter than its header is one cut off
 *     while it was created (CLOGRD_TORN at offset 0, torn_file);
 *   - a bad record anywhere else, or a bad segment header, is damage
 *     (CLOGRD_BAD);
 *   - the end of the last segment is CLOGRD_END.  A reader of a live log
 *     (shipping) calls clogrd_next() again later: it takes up where it
 *     stopped, in the same file if it grew, else in the next segment.
 *
 * Where a walk stopped is in path, off, after (the last good LSN) and err
 * ("FILE: offset N: what"), for every outcome but CLOGRD_REC.  What to do
 * with each outcome is the caller's rule: recovery stops at damage and
 * cuts a torn tail, compaction refuses anything but a whole log, shipping
 * and the hand-over stop at a gap, memdbctl reports.
 */
#ifndef MEMDB_SRC_CHANGELOG_CLOGRD_H
#define MEMDB_SRC_CHANGELOG_CLOGRD_H

#include "src/changelog/seg.h"

typedef enum {
    CLOGRD_REC = 0, /* a record: LSN clogrd_lsn() - 1 */
    CLOGRD_END,     /* no more records (for now) */
    CLOGRD_GAP,     /* the next LSN is missing */
    CLOGRD_TORN,    /* a torn tail at the end of the last segment */
    CLOGRD_BAD,     /* damage */
    CLOGRD_IOERR,
} clogrd_e;

typedef struct clogrd_s {
    char dir[1100];
    seg_info_t *segs;
    int nsegs;
    int cur; /* the segment open in rd, or the one to take up (-1) */
    seg_reader_t rd;
    bool open;
    uint64_t stop; /* first LSN of the segment after cur */
    uint64_t next; /* LSN of the next record wanted (0: the log's first) */
    uint64_t to;   /* the last LSN wanted */
    /* where it stopped (all but CLOGRD_REC) */
    char path[1100];
    uint64_t off;
    uint64_t after; /* the last LSN before the fault */
    rec_status_e st;
    bool torn_file; /* CLOGRD_TORN: the segment's header itself is cut */
    char err[1500];
} clogrd_t;

/* Starts a walk of log_dir from LSN from (0: from wherever the log
 * starts) to LSN to (UINT64_MAX: the end).  MEMDB_ERR with r->err when the
 * directory cannot be listed. */
int clogrd_open(clogrd_t *r, const char *log_dir, uint64_t from, uint64_t to);
/* The next record (*rec points into the reader until the next call). */
clogrd_e clogrd_next(clogrd_t *r, const void **rec, uint32_t *len);
/* The LSN the walk wants next. */
static inline uint64_t
clogrd_lsn(const clogrd_t *r)
{
    return r->next;
}
void clogrd_close(clogrd_t *r);

#endif
