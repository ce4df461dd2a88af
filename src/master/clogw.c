/*
 * clogw.c - the master's change-log writer (see clogw.h).
 */
#include "src/master/clogw.h"
#include "src/core/fault.h"
#include "src/core/conf.h"
#include "src/core/log.h"
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLOGW_BATCH_RECS  1024
#define CLOGW_BATCH_BYTES (16u << 20)

static void
clogw_fail(clogw_t *lw, const char *what, uint64_t now_ms)
{
    int e = errno;

    if (lw->err == 0)
        log_error("%s on segment %020llu failed: %s; uploads are refused "
                  "until the disk works again",
                  what, (unsigned long long) lw->seg_first, strerror(e));
    lw->err = e ? e : EIO;
    atomic_store(&lw->shm->node->disk_errno, (uint32_t) lw->err);
    if (lw->fd >= 0) {
        /* only a batch not completely written is cut: the records before
         * it were acknowledged */
        if (ftruncate(lw->fd, (off_t) lw->seg_bytes) < 0)
            log_errno("ftruncate(segment %020llu) failed",
                      (unsigned long long) lw->seg_first);
        close(lw->fd);
    }
    lw->fd = -1;
    /* Everything not known durable is still in the ring: it is written
     * again, into a segment that counts only once it holds all of it. */
    if (!lw->rewriting) {
        lw->rewrite_upto = lw->written_lsn;
        lw->rewrite_pos = lw->synced_pos;
    }
    lw->rewriting = true;
    lw->cursor = lw->synced_pos;
    lw->written_pos = lw->synced_pos;
    lw->written_lsn = lw->synced_lsn;
    lw->retry_ms = now_ms + 1000;
}

/* The temporary segment holds every record the old one had: fsync it and
 * rename it into place (MEMDB_OK), or fail like any disk error. */
static int
clogw_install(clogw_t *lw, uint64_t now_ms)
{
    int e = FAULT("clogw.install");

    if (e != 0 || seg_install(lw->fd, lw->dir, lw->seg_first) != MEMDB_OK) {
        if (e != 0)
            errno = e;
        clogw_fail(lw, "installing the rewritten segment", now_ms);
        return MEMDB_ERR;
    }
    lw->rewriting = false;
    log_info("segment %020llu rewritten from the ring after the disk error",
             (unsigned long long) lw->seg_first);
    return MEMDB_OK;
}

static int
clogw_new_segment(clogw_t *lw, uint64_t first_lsn)
{
    int fd = seg_create(lw->dir, first_lsn,
                        atomic_load(&lw->shm->node->epoch));
    if (fd < 0)
        return MEMDB_ERR;
    lw->fd = fd;
    lw->seg_first = first_lsn;
    lw->seg_bytes = SEG_HDR;
    lw->seg_synced = SEG_HDR;
    return MEMDB_OK;
}

int
clogw_open(clogw_t *lw, shm_t *shm, const char *dir, int mode,
           uint64_t seg_max, uint64_t first_lsn)
{
    memset(lw, 0, sizeof(*lw));
    lw->shm = shm;
    lw->fd = -1;
    snprintf(lw->dir, sizeof(lw->dir), "%s", dir);
    lw->mode = mode;
    lw->seg_max = seg_max;
    lw->written_lsn = lw->synced_lsn = first_lsn - 1;
    lw->cursor = atomic_load(&shm->ring.hdr->tail);
    lw->written_pos = lw->synced_pos = lw->cursor;
    if (util_mkdir_p(dir) != MEMDB_OK) {
        log_errno("mkdir(%s) failed", dir);
        return MEMDB_ERR;
    }
    return clogw_new_segment(lw, first_lsn);
}

/* Gathers up to a batch of ready records from the ring into lw->iov. */
static int
clogw_gather(clogw_t *lw, uint64_t *end_pos, uint64_t *last_lsn, size_t *bytes)
{
    ring_t *r = &lw->shm->ring;
    uint64_t pos = lw->cursor;
    ring_slot_t *s;
    int n = 0;

    lw->noop.len = 0;
    buf_reserve(&lw->noop, CLOGW_BATCH_RECS * REC_HDR);
    *bytes = 0;
    if (lw->iov_cap < CLOGW_BATCH_RECS) {
        lw->iov_cap = CLOGW_BATCH_RECS;
        lw->iov = xrealloc(lw->iov, lw->iov_cap * sizeof(struct iovec));
    }
    while (n < CLOGW_BATCH_RECS && *bytes < CLOGW_BATCH_BYTES
           && (s = ring_next(r, &pos, false)) != NULL) {
        if (atomic_load(&s->state) == RING_VOID) {
            rec_hdr_t *h = (rec_hdr_t *) (lw->noop.data + lw->noop.len);
            memset(h, 0, REC_HDR);
            h->magic = REC_MAGIC;
            h->len = REC_HDR;
            h->type = REC_NOOP;
            rec_set_origin(h, lw->shm->node->boot_id, 0, 0);
            rec_finish(h, s->lsn, s->epoch);
            lw->noop.len += REC_HDR;
            lw->iov[n].iov_base = h;
            lw->iov[n].iov_len = REC_HDR;
        } else {
            lw->iov[n].iov_base = ring_slot_rec(s);
            lw->iov[n].iov_len = s->reclen;
        }
        *bytes += lw->iov[n].iov_len;
        *last_lsn = s->lsn;
        pos += s->size;
        n++;
    }
    *end_pos = pos;
    return n;
}

/* pwritev of the whole batch at the end of the segment. */
static int
clogw_write(clogw_t *lw, int n, size_t bytes)
{
    struct iovec *iov = lw->iov;
    uint64_t off = lw->seg_bytes;
    int e = FAULT("clogw.write"); /* sleep: a slow disk; error: ENOSPC... */

    if (e != 0) {
        errno = e;
        return MEMDB_ERR;
    }
    while (n > 0) {
        ssize_t w = pwritev(lw->fd, iov, MEMDB_MIN(n, 1024), (off_t) off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return MEMDB_ERR;
        }
        off += (uint64_t) w;
        while (n > 0 && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0 && w > 0) {
            iov->iov_base = (char *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    lw->seg_bytes += bytes;
    lw->bytes += bytes;
    return MEMDB_OK;
}

int
clogw_sync(clogw_t *lw, uint64_t now_ms)
{
    uint64_t t0;

    if (lw->fd < 0)
        return MEMDB_ERR;
    if (lw->synced_pos == lw->written_pos && lw->seg_synced == lw->seg_bytes)
        return MEMDB_OK;
    t0 = util_now_ns();
    int e = FAULT("clogw.fsync");
    if (e != 0 || fdatasync(lw->fd) < 0) {
        if (e != 0)
            errno = e;
        clogw_fail(lw, "fdatasync", now_ms);
        return MEMDB_ERR;
    }
    if (lw->rewriting) {
        /* durable in a file that does not count yet */
        if (lw->written_lsn < lw->rewrite_upto
            || clogw_install(lw, now_ms) != MEMDB_OK)
            return MEMDB_OK;
    }
    lw->fsyncs++;
    lw->fsync_ns += util_now_ns() - t0;
    lw->synced_pos = lw->written_pos;
    lw->synced_lsn = lw->written_lsn;
    lw->seg_synced = lw->seg_bytes;
    lw->last_sync_ms = now_ms;
    atomic_store(&lw->shm->node->durable_lsn, lw->synced_lsn);
    return MEMDB_OK;
}

static bool
clogw_retry(clogw_t *lw, uint64_t now_ms)
{
    int fd;

    if (now_ms < lw->retry_ms)
        return false;
    FAULT("clogw.retry");
    fd = seg_create_tmp(lw->dir, lw->synced_lsn + 1,
                        atomic_load(&lw->shm->node->epoch));
    if (fd < 0) {
        lw->retry_ms = now_ms + 1000;
        return false;
    }
    lw->fd = fd;
    lw->seg_first = lw->synced_lsn + 1;
    lw->seg_bytes = lw->seg_synced = SEG_HDR;
    return true;
}

static bool
clogw_sync_due(const clogw_t *lw, uint64_t now_ms)
{
    if (lw->rewriting)
        return lw->written_lsn >= lw->rewrite_upto;
    if (lw->written_pos == lw->synced_pos)
        return false;
    if (lw->mode == FSYNC_ALWAYS)
        return true;
    if (lw->mode == FSYNC_EVERYSEC)
        return now_ms - lw->last_sync_ms >= 1000
               || ring_used(&lw->shm->ring) > lw->shm->ring.hdr->size / 2;
    return false;
}

bool
clogw_run(clogw_t *lw, uint64_t now_ms)
{
    uint64_t before = clogw_release_pos(lw), end_pos, last = 0;
    size_t bytes;
    int n;

    if (lw->fd < 0 && !clogw_retry(lw, now_ms))
        return false;
    while ((n = clogw_gather(lw, &end_pos, &last, &bytes)) > 0) {
        if (clogw_write(lw, n, bytes) != MEMDB_OK) {
            clogw_fail(lw, "write", now_ms);
            return false;
        }
        lw->cursor = lw->written_pos = end_pos;
        lw->written_lsn = last;
        if (last > atomic_load(&lw->shm->node->written_lsn))
            atomic_store(&lw->shm->node->written_lsn, last);
        if (lw->mode == FSYNC_NO && !lw->rewriting) {
            lw->synced_pos = end_pos; /* room can go back at once */
            lw->synced_lsn = last;    /* ...so a retry starts after it */
            lw->seg_synced = lw->seg_bytes;
        }
    }
    if (clogw_sync_due(lw, now_ms) && clogw_sync(lw, now_ms) != MEMDB_OK)
        return false;
    if (lw->seg_bytes >= lw->seg_max && !lw->rewriting) {
        uint64_t sealed;
        if (clogw_rotate(lw, now_ms, &sealed) != MEMDB_OK)
            return false;
    }
    if (lw->err != 0 && !lw->rewriting && lw->synced_pos == lw->written_pos) {
        log_info("the log is writable again (segment %020llu)",
                 (unsigned long long) lw->seg_first);
        lw->err = 0;
        atomic_store(&lw->shm->node->disk_errno, 0);
    }
    return clogw_release_pos(lw) != before;
}

int
clogw_rotate(clogw_t *lw, uint64_t now_ms, uint64_t *sealed)
{
    uint64_t next;

    if (lw->fd < 0 || lw->rewriting)
        return MEMDB_ERR;
    if (lw->seg_bytes == SEG_HDR) {
        *sealed = lw->seg_first - 1; /* nothing in the current one */
        return MEMDB_OK;
    }
    /* `no` still seals with an fsync: snapshots read sealed segments */
    if (fdatasync(lw->fd) < 0) {
        clogw_fail(lw, "fdatasync", now_ms);
        return MEMDB_ERR;
    }
    lw->synced_pos = lw->written_pos;
    lw->synced_lsn = lw->written_lsn;
    lw->seg_synced = lw->seg_bytes;
    atomic_store(&lw->shm->node->durable_lsn, lw->synced_lsn);
    close(lw->fd);
    lw->fd = -1;
    next = lw->written_lsn + 1;
    if (clogw_new_segment(lw, next) != MEMDB_OK) {
        lw->err = errno ? errno : EIO;
        atomic_store(&lw->shm->node->disk_errno, (uint32_t) lw->err);
        lw->retry_ms = now_ms + 1000;
        return MEMDB_ERR;
    }
    *sealed = next - 1;
    return MEMDB_OK;
}

uint64_t
clogw_release_pos(const clogw_t *lw)
{
    return lw->rewriting ? lw->rewrite_pos : lw->synced_pos;
}

uint64_t
clogw_seg_first(const clogw_t *lw)
{
    return lw->seg_first;
}

void
clogw_close(clogw_t *lw)
{
    if (lw->fd >= 0)
        close(lw->fd);
    lw->fd = -1;
    buf_free(&lw->noop);
    free(lw->iov);
    lw->iov = NULL;
}
