/*
 * clogrd.c - the one reader of the change log (rules in clogrd.h).
 */
#include "src/changelog/clogrd.h"
#include "src/changelog/rec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
clogrd_relist(clogrd_t *r)
{
    uint64_t first = r->cur >= 0 && r->cur < r->nsegs
                         ? r->segs[r->cur].first_lsn
                         : 0;
    seg_info_t *segs;
    int n = seg_list(r->dir, &segs);

    if (n < 0)
        return; /* keep the old listing */
    free(r->segs);
    r->segs = segs;
    r->nsegs = n;
    if (r->cur < 0)
        return;
    /* retention may have removed older segments: find ours again */
    r->cur = -1;
    for (int i = 0; i < n; i++)
        if (segs[i].first_lsn == first)
            r->cur = i;
}

int
clogrd_open(clogrd_t *r, const char *log_dir, uint64_t from, uint64_t to)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s", log_dir);
    r->next = from;
    r->to = to;
    r->cur = -1;
    r->rd.fd = -1;
    r->nsegs = seg_list(log_dir, &r->segs);
    if (r->nsegs < 0) {
        snprintf(r->err, sizeof(r->err), "%s: cannot list: %s", log_dir,
                 strerror(errno));
        r->nsegs = 0;
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

static void
clogrd_drop(clogrd_t *r)
{
    if (r->open)
        seg_close(&r->rd);
    r->open = false;
}

static clogrd_e
clogrd_fault(clogrd_t *r, clogrd_e e, const char *path, uint64_t off,
             const char *what)
{
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->off = off;
    r->after = r->next > 0 ? r->next - 1 : 0;
    snprintf(r->err, sizeof(r->err), "%s: offset %llu: %s", path,
             (unsigned long long) off, what);
    return e;
}

static bool
clogrd_last(const clogrd_t *r, int i)
{
    return i == r->nsegs - 1;
}

/* Opens the segment that holds r->next: CLOGRD_REC when one is open,
 * CLOGRD_END when none holds it (yet), else a fault. */
static clogrd_e
clogrd_start(clogrd_t *r)
{
    char err[1400], what[200];

    for (int i = r->cur < 0 ? 0 : r->cur; i < r->nsegs; i++) {
        uint64_t stop = i + 1 < r->nsegs ? r->segs[i + 1].first_lsn
                                         : UINT64_MAX;
        if (r->next != 0 && stop <= r->next)
            continue; /* wholly before the next LSN */
        if (r->next == 0)
            r->next = r->segs[i].first_lsn; /* from where the log starts */
        if (r->segs[i].first_lsn > r->next) {
            snprintf(what, sizeof(what),
                     "the segment starts at lsn %llu but the log so far "
                     "ends at lsn %llu: records are missing",
                     (unsigned long long) r->segs[i].first_lsn,
                     (unsigned long long) (r->next - 1));
            return clogrd_fault(r, CLOGRD_GAP, r->segs[i].path, 0, what);
        }
        if (seg_open(&r->rd, r->segs[i].path, err, sizeof(err)) != MEMDB_OK) {
            if (clogrd_last(r, i) && r->segs[i].size < SEG_HDR) {
                r->torn_file = true;
                return clogrd_fault(r, CLOGRD_TORN, r->segs[i].path, 0,
                                    "a segment cut off while it was created");
            }
            clogrd_fault(r, CLOGRD_BAD, r->segs[i].path, 0, "");
            snprintf(r->err, sizeof(r->err), "%s", err);
            return CLOGRD_BAD;
        }
        r->cur = i;
        r->stop = stop;
        r->open = true;
        return CLOGRD_REC;
    }
    return CLOGRD_END;
}

/* Does a valid record start anywhere after off?  (A flipped length in the
 * middle of the last segment must not pass for a torn tail.) */
static bool
clogrd_record_after(seg_reader_t *s, uint64_t off)
{
    size_t n = (size_t) (s->size - off);
    char *b = malloc(n ? n : 1);
    bool found = false;
    uint32_t len;

    if (b == NULL || pread(s->fd, b, n, (off_t) off) != (ssize_t) n) {
        free(b);
        return true; /* cannot tell: not a torn tail */
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

/* Is the bad record at off of the last segment a torn tail? */
static bool
clogrd_torn(seg_reader_t *s, uint64_t off, rec_status_e st)
{
    rec_hdr_t h;
    bool end = st == REC_SHORT;

    if (!end && pread(s->fd, &h, sizeof(h), (off_t) off) == (ssize_t) sizeof(h)
        && h.magic == REC_MAGIC && off + h.len >= s->size)
        end = true;
    if (!end && !seg_zero_tail(s->fd, off, s->size))
        return false;
    return !clogrd_record_after(s, off);
}

/* A bad record in the open segment. */
static clogrd_e
clogrd_bad(clogrd_t *r, rec_status_e st)
{
    uint64_t off = seg_rec_off(&r->rd);
    char what[300];

    r->st = st;
    if (clogrd_last(r, r->cur) && clogrd_torn(&r->rd, off, st)) {
        snprintf(what, sizeof(what), "torn record at the end of the log (%s)",
                 rec_status_str(st));
        return clogrd_fault(r, CLOGRD_TORN, r->rd.path, off, what);
    }
    snprintf(what, sizeof(what), "%s in the record after lsn %llu",
             rec_status_str(st),
             (unsigned long long) (r->next > 0 ? r->next - 1 : 0));
    return clogrd_fault(r, CLOGRD_BAD, r->rd.path, off, what);
}

/* The open segment ended.  true: go on (a later segment or more of this
 * one); false: *out says how the walk ends for now. */
static bool
clogrd_segment_end(clogrd_t *r, clogrd_e *out)
{
    if (r->stop == UINT64_MAX) {
        /* the last segment: a writer may have added more, or a new one */
        clogrd_relist(r);
        if (r->cur >= 0 && r->cur + 1 < r->nsegs) {
            r->stop = r->segs[r->cur + 1].first_lsn;
            return true; /* read this one to its end, then go on */
        }
        *out = CLOGRD_END;
        return false;
    }
    /* a segment that ends before the next one starts: clogrd_start()
     * reports the gap at the next one */
    clogrd_drop(r);
    r->cur++;
    return true;
}

clogrd_e
clogrd_next(clogrd_t *r, const void **rec, uint32_t *len)
{
    for (;;) {
        clogrd_e out;
        rec_status_e st = REC_OK;
        seg_read_e e;
        rec_hdr_t h;

        if (r->next != 0 && r->next > r->to)
            return CLOGRD_END;
        if (!r->open && (out = clogrd_start(r)) != CLOGRD_REC)
            return out;
        e = seg_next(&r->rd, rec, len, &st);
        if (e == SEG_REC) {
            memcpy(&h, *rec, sizeof(h)); /* *rec may be unaligned */
            if (h.lsn >= r->stop) {      /* the next segment holds it */
                clogrd_drop(r);
                r->cur++;
                continue;
            }
            if (h.lsn < r->next)
                continue; /* before the walk */
            if (h.lsn != r->next) {
                char what[200];
                snprintf(what, sizeof(what),
                         "lsn %llu follows lsn %llu: records are missing",
                         (unsigned long long) h.lsn,
                         (unsigned long long) (r->next - 1));
                return clogrd_fault(r, CLOGRD_GAP, r->rd.path,
                                    seg_rec_off(&r->rd), what);
            }
            r->next++;
            return CLOGRD_REC;
        }
        if (e == SEG_END) {
            if (!clogrd_segment_end(r, &out))
                return out;
            continue;
        }
        if (e == SEG_BAD && r->next >= r->stop) {
            clogrd_drop(r); /* the rest of it does not count */
            r->cur++;
            continue;
        }
        if (e == SEG_BAD)
            return clogrd_bad(r, st);
        return clogrd_fault(r, CLOGRD_IOERR, r->rd.path, seg_rec_off(&r->rd),
                            strerror(errno));
    }
}

void
clogrd_close(clogrd_t *r)
{
    clogrd_drop(r);
    free(r->segs);
    r->segs = NULL;
    r->nsegs = 0;
}
