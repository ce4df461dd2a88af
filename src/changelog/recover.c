/*
 * recover.c - start-up recovery (see recover.h).
 */
#include "src/changelog/recover.h"
#include "src/core/log.h"
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
recover_dirs(const char *data_dir, char *log_dir, char *snap_dir, size_t len)
{
    snprintf(log_dir, len, "%s/log", data_dir);
    snprintf(snap_dir, len, "%s/snap", data_dir);
}

/* Loads one snapshot; on failure the table may hold part of it. */
static int
load_snapshot(recover_sink_t *s, const char *path, recover_stats_t *st,
              char *err, size_t errlen)
{
    snap_reader_t r;
    const char *w;
    size_t len;
    uint64_t count;
    int rc;

    if (snap_open(&r, path, err, errlen) != MEMDB_OK)
        return MEMDB_ERR;
    while ((rc = snap_next(&r, &w, &len, &count, err, errlen)) == MEMDB_OK) {
        if (s->add(s->arg, w, len, count) != MEMDB_OK) {
            snprintf(err, errlen,
                     "%s: store.max_memory too small for the "
                     "snapshot",
                     path);
            rc = MEMDB_ERR;
            break;
        }
    }
    if (rc == MEMDB_AGAIN && s->flush != NULL
        && s->flush(s->arg) != MEMDB_OK) {
        snprintf(err, errlen,
                 "%s: store.max_memory too small for the "
                 "snapshot",
                 path);
        rc = MEMDB_ERR;
    }
    if (rc == MEMDB_AGAIN) {
        st->snap_lsn = r.hdr.lsn;
        st->last_lsn = r.hdr.lsn;
        st->last_epoch = r.hdr.epoch;
        st->snap_words = r.nwords;
        snprintf(st->snap_path, sizeof(st->snap_path), "%s", path);
        rc = MEMDB_OK;
    }
    snap_close(&r);
    return rc;
}

static int
load_snapshots(recover_sink_t *s, const char *snap_dir, recover_stats_t *st,
               char *err, size_t errlen)
{
    snap_info_t *v;
    int n = snap_list(snap_dir, &v);

    if (n < 0) {
        snprintf(err, errlen, "%s: cannot list: %s", snap_dir,
                 strerror(errno));
        return MEMDB_ERR;
    }
    for (int i = 0; i < n; i++) {
        if (load_snapshot(s, v[i].path, st, err, errlen) == MEMDB_OK)
            break;
        log_warn("skipping snapshot: %s", err);
        s->clear(s->arg);
        err[0] = '\0';
    }
    free(v);
    return MEMDB_OK;
}

/* True if a valid record starts anywhere in (off, size): then the bad
 * record at off is damage in the middle, not a torn end. */
static bool
valid_record_after(seg_reader_t *r, uint64_t off)
{
    size_t n = (size_t) (r->size - off);
    char *b = malloc(n ? n : 1);
    bool found = false;
    uint32_t len;

    if (b == NULL || pread(r->fd, b, n, (off_t) off) != (ssize_t) n) {
        free(b);
        return true; /* cannot tell: do not cut */
    }
    for (size_t i = 1; i + REC_HDR <= n && !found; i++) {
        const char *m = memchr(b + i, 'M', n - i);
        if (m == NULL)
            break;
        i = (size_t) (m - b);
        found = rec_check(m, n - i, &len) == REC_OK;
    }
    free(b);
    return found;
}

/* A bad record at off of the last segment is a torn tail if it reaches
 * the end of the file or only zeros follow it, and no valid record starts
 * after it (a flipped length in the middle must not cut good records). */
static bool
torn_tail(seg_reader_t *r, uint64_t off, rec_status_e st)
{
    rec_hdr_t h;
    bool end = st == REC_SHORT;

    if (!end && pread(r->fd, &h, sizeof(h), (off_t) off) == (ssize_t) sizeof(h)
        && h.magic == REC_MAGIC && off + h.len >= r->size)
        end = true;
    if (!end && !seg_zero_tail(r->fd, off, r->size))
        return false;
    return !valid_record_after(r, off);
}

static int
truncate_tail(seg_reader_t *r, uint64_t off, rec_status_e st,
              recover_stats_t *rs)
{
    log_warn("%s: offset %llu: torn record at the end of the log (%s), "
             "cutting it off",
             r->path, (unsigned long long) off, rec_status_str(st));
    if (truncate(r->path, (off_t) off) < 0) {
        log_errno("truncate(%s) failed", r->path);
        return MEMDB_ERR;
    }
    rs->truncated_off = off;
    snprintf(rs->truncated, sizeof(rs->truncated), "%s", r->path);
    return MEMDB_OK;
}

static int
replay_record(recover_sink_t *s, const void *rec, recover_stats_t *st)
{
    rec_hdr_t hc; /* rec may be unaligned */
    const rec_hdr_t *h = memcpy(&hc, rec, sizeof(hc));
    rec_iter_t it;
    const char *w;
    size_t len;
    uint64_t d;

    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &len, &d) == MEMDB_OK)
        if (s->add(s->arg, w, len, d) != MEMDB_OK)
            return MEMDB_ERR;
    st->last_lsn = h->lsn;
    st->last_epoch = h->epoch;
    st->records++;
    return MEMDB_OK;
}

/* Replays one segment from LSN *next on, stopping before LSN stop. */
static int
replay_segment(recover_sink_t *s, const seg_info_t *seg, bool last,
               uint64_t stop, uint64_t *next, recover_stats_t *st, char *err,
               size_t errlen)
{
    seg_reader_t r;
    const void *rec;
    uint32_t len;
    rec_status_e rs = REC_OK;
    seg_read_e e;
    int rc = MEMDB_OK;

    if (seg_open(&r, seg->path, err, errlen) != MEMDB_OK) {
        /* a crash while creating the last segment leaves it shorter than
         * its header: nothing was ever acknowledged from it */
        if (last && seg->size < SEG_HDR) {
            if (s->repair) {
                log_warn("%s: removing a segment cut off while it was "
                         "created",
                         seg->path);
                unlink(seg->path);
            }
            err[0] = '\0';
            return MEMDB_OK;
        }
        return MEMDB_ERR;
    }
    while ((e = seg_next(&r, &rec, &len, &rs)) == SEG_REC) {
        rec_hdr_t hc; /* rec may be unaligned */
        const rec_hdr_t *h = memcpy(&hc, rec, sizeof(hc));
        if (h->lsn >= stop)
            break;
        if (h->lsn < *next)
            continue; /* covered by the snapshot */
        if (h->lsn != *next) {
            snprintf(err, errlen,
                     "%s: offset %llu: lsn %llu follows lsn "
                     "%llu: records are missing (see memdbctl log verify)",
                     r.path, (unsigned long long) seg_rec_off(&r),
                     (unsigned long long) h->lsn,
                     (unsigned long long) (*next - 1));
            rc = MEMDB_ERR;
            break;
        }
        if (replay_record(s, rec, st) != MEMDB_OK) {
            snprintf(err, errlen,
                     "%s: store.max_memory too small to replay "
                     "the log",
                     r.path);
            rc = MEMDB_ERR;
            break;
        }
        (*next)++;
    }
    /* the next segment holds everything from here on (a rewrite after a
     * disk error): what is left of this one does not count, bad or not */
    if (rc == MEMDB_OK && e == SEG_BAD && *next >= stop)
        e = SEG_END;
    if (rc == MEMDB_OK && e == SEG_BAD) {
        uint64_t off = seg_rec_off(&r);
        if (last && torn_tail(&r, off, rs) && s->repair)
            rc = truncate_tail(&r, off, rs, st);
        else if (last && torn_tail(&r, off, rs)) {
            st->truncated_off = off; /* reported, left in place */
            snprintf(st->truncated, sizeof(st->truncated), "%s", r.path);
        } else {
            snprintf(err, errlen,
                     "%s: offset %llu: %s in the record after "
                     "lsn %llu; the log is damaged: check it with `memdbctl "
                     "log verify` and cut it with `memdbctl log truncate`",
                     r.path, (unsigned long long) off, rec_status_str(rs),
                     (unsigned long long) (*next - 1));
            rc = MEMDB_ERR;
        }
    } else if (rc == MEMDB_OK && e == SEG_IOERR) {
        snprintf(err, errlen, "%s: offset %llu: read error: %s", r.path,
                 (unsigned long long) seg_rec_off(&r), strerror(errno));
        rc = MEMDB_ERR;
    }
    seg_close(&r);
    return rc;
}

static int
replay_segments(recover_sink_t *s, const char *log_dir, recover_stats_t *st,
                char *err, size_t errlen)
{
    seg_info_t *segs;
    int n = seg_list(log_dir, &segs), rc = MEMDB_OK;
    uint64_t next = st->last_lsn + 1;

    if (n < 0) {
        snprintf(err, errlen, "%s: cannot list: %s", log_dir, strerror(errno));
        return MEMDB_ERR;
    }
    for (int i = 0; i < n && rc == MEMDB_OK; i++) {
        uint64_t stop = i + 1 < n ? segs[i + 1].first_lsn : UINT64_MAX;
        if (stop <= next)
            continue; /* wholly covered */
        if (segs[i].first_lsn > next) {
            snprintf(err, errlen,
                     "%s: offset 0: the segment starts at lsn "
                     "%llu but the log so far ends at lsn %llu: records are "
                     "missing",
                     segs[i].path, (unsigned long long) segs[i].first_lsn,
                     (unsigned long long) (next - 1));
            rc = MEMDB_ERR;
            break;
        }
        rc = replay_segment(s, &segs[i], i == n - 1, stop, &next, st, err,
                            errlen);
    }
    free(segs);
    return rc;
}

int
recover_run(const char *data_dir, recover_sink_t *s, recover_stats_t *st,
            char *err, size_t errlen)
{
    char log_dir[1100], snap_dir[1100];
    uint64_t t0 = util_now_ms();

    memset(st, 0, sizeof(*st));
    err[0] = '\0';
    recover_dirs(data_dir, log_dir, snap_dir, sizeof(log_dir));
    if (load_snapshots(s, snap_dir, st, err, errlen) != MEMDB_OK
        || replay_segments(s, log_dir, st, err, errlen) != MEMDB_OK)
        return MEMDB_ERR;
    if (s->flush != NULL && s->flush(s->arg) != MEMDB_OK) {
        snprintf(err, errlen,
                 "%s: store.max_memory too small to replay the "
                 "log",
                 log_dir);
        return MEMDB_ERR;
    }
    st->ms = util_now_ms() - t0;
    return MEMDB_OK;
}
