/*
 * clogw.h - the change-log writer: the master drains the change ring, in
 * LSN order, into the current segment file of data_dir/log.
 *
 * Durability (persistence.fsync):
 *   always    every batch is fdatasync'ed before its LSNs count as durable;
 *             uploads wait for that (group commit: all records that arrived
 *             while the previous fsync ran share the next one)
 *   everysec  fdatasync at most once a second (sooner if the ring is half
 *             full)
 *   no        the kernel decides; fsync only when a segment is sealed
 * Ring room is given back only once records are durable (written, for
 * `no`), so after a failed write or fsync every record not known to be
 * durable is still in the ring and is written again.
 *
 * Errors: a failed write or fsync sets shm node->disk_errno (workers then
 * answer uploads 503).  The segment is cut back only over a batch that was
 * not completely written, so every record an upload was answered for stays
 * in it (a crash of the process group still finds it in the page cache),
 * and closed.  After an fsync error the kernel may have dropped the dirty
 * pages, so those records are not trusted to the old file: once a second,
 * a new segment is tried from the first LSN that is not durable, under a
 * temporary name that readers ignore; it is written from the ring (ring
 * room is given back only once records are durable, so they are all
 * there), and only when it holds every record the old one had and is
 * fsynced is it renamed into place, replacing the old one from its first
 * LSN on.  Then disk_errno is cleared.  At no instant does the log on disk
 * hold less than what was acknowledged.
 */
#ifndef MEMDB_SRC_MASTER_CLOGW_H
#define MEMDB_SRC_MASTER_CLOGW_H

#include "src/core/memdb.h"
#include "src/core/buf.h"
#include "shm/shm.h"

#include <sys/uio.h>

typedef struct clogw_s {
    shm_t *shm;
    char dir[1100];
    int mode;
    uint64_t seg_max;
    int fd; /* current segment; -1 after an error */
    uint64_t seg_first;
    uint64_t seg_bytes;  /* complete records written */
    uint64_t seg_synced; /* bytes known durable */
    uint64_t cursor;     /* ring position of the next record */
    uint64_t written_pos, synced_pos;
    uint64_t written_lsn, synced_lsn;
    uint64_t last_sync_ms;
    int err;
    uint64_t retry_ms;
    bool rewriting;        /* fd is a temporary segment (see above) */
    uint64_t rewrite_upto; /* ...that must reach this LSN to be installed */
    uint64_t rewrite_pos;  /* ring room is kept from here until then */
    buf_t noop;
    struct iovec *iov;
    size_t iov_cap;
    /* counters for status and metrics */
    uint64_t fsyncs;
    uint64_t fsync_ns;
    uint64_t bytes;
} clogw_t;

/* Opens a new segment at first_lsn (the ring's next LSN).  The ring must be
 * empty. */
int clogw_open(clogw_t *lw, shm_t *shm, const char *dir, int mode,
               uint64_t seg_max, uint64_t first_lsn);
/* Writes what is ready and syncs as the mode says.  Returns true if it made
 * progress (new durable LSNs or ring room). */
bool clogw_run(clogw_t *lw, uint64_t now_ms);
/* Forces an fsync of everything written. */
int clogw_sync(clogw_t *lw, uint64_t now_ms);
/* Seals the current segment (sync, start a new one) if it holds records.
 * *sealed gets the last LSN of the sealed segments.  MEMDB_ERR on disk
 * errors. */
int clogw_rotate(clogw_t *lw, uint64_t now_ms, uint64_t *sealed);
/* Ring position up to which room can be given back. */
uint64_t clogw_release_pos(const clogw_t *lw);
/* First LSN of the current segment (segments before it are sealed). */
uint64_t clogw_seg_first(const clogw_t *lw);
void clogw_close(clogw_t *lw);

#endif
