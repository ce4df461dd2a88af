/*
 * test_clogw.c - the change-log writer: draining the ring into segments in
 * LSN order, the three fsync modes, giving ring room back, voided slots,
 * rotation, and recovery from a failed write.
 */
#define _GNU_SOURCE 1 /* nftw, before any system header */
#include <criterion/criterion.h>

#include "tests/unit/tmpdir.h"

#include "src/master/clogw.h"
#include "src/words/agg.h"
#include "src/core/conf.h"
#include "src/changelog/rec.h"
#include "src/changelog/recover.h"
#include "src/changelog/seg.h"
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

#define RING  (1 << 20)
#define EPOCH 7

static shm_t s;
static clogw_t lw;
static char dir[256], log_dir[300];

static void
setup(void)
{
    shm_params_t p = { .max_memory = 16ULL << 20,
                       .ring_size = RING,
                       .nworkers = 2,
                       .node_id = "t" };
    cr_assert_eq(shm_create(&s, &p), MEMDB_OK);
    atomic_store(&s.node->epoch, EPOCH);
    ring_set_role(&s.ring, ROLE_STANDALONE, EPOCH, s.ht.self);
    tmpdir_make(dir, sizeof(dir), "clogw");
    snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
    memset(&lw, 0, sizeof(lw));
    lw.fd = -1;
}

static void
teardown(void)
{
    clogw_close(&lw);
    shm_destroy(&s);
    tmpdir_remove(dir);
}

TestSuite(clogw, .init = setup, .fini = teardown);

static void
open_log(int mode, uint64_t seg_max)
{
    cr_assert_eq(clogw_open(&lw, &s, log_dir, mode, seg_max, 1), MEMDB_OK);
}

/* Record lsn: "common" 1, "w<lsn>" lsn, and pad bytes of filler words
 * (so records can be made big). */
static void
make_rec(buf_t *b, uint64_t lsn, size_t pad)
{
    char w[64];
    int n;

    rec_begin(b, REC_UPLOAD);
    rec_add(b, "common", 6, 1);
    n = snprintf(w, sizeof(w), "w%06llu", (unsigned long long) lsn);
    rec_add(b, w, (size_t) n, lsn);
    if (pad > 0) {
        char *f = malloc(pad);
        memset(f, 'f', pad);
        rec_add(b, f, pad, 1);
        free(f);
    }
}

/* What a worker does: reserve, copy, seal with the slot's LSN, publish.
 * Returns the LSN. */
static uint64_t
publish(size_t pad)
{
    buf_t b = { 0 };
    ring_resv_t rv;
    ring_slot_t *sl;
    uint64_t lsn = atomic_load(&s.ring.hdr->next_lsn);

    make_rec(&b, lsn, pad);
    cr_assert_eq(
        ring_reserve(&s.ring, (uint32_t) b.len, 4242, RING_W_UPLOAD, &rv, &sl),
        MEMDB_OK);
    cr_assert_eq(sl->lsn, lsn);
    memcpy(ring_slot_rec(sl), b.data, b.len);
    rec_finish(ring_slot_rec(sl), sl->lsn, EPOCH);
    ring_publish(sl);
    buf_free(&b);
    return lsn;
}

static void
publish_n(int n, size_t pad)
{
    for (int i = 0; i < n; i++)
        publish(pad);
}

/* What the master does after a run: gives room back. */
static void
release(void)
{
    ring_release(&s.ring, clogw_release_pos(&lw));
}

static uint64_t
written(void)
{
    return atomic_load(&s.node->written_lsn);
}

static uint64_t
durable(void)
{
    return atomic_load(&s.node->durable_lsn);
}

static uint64_t
head(void)
{
    return atomic_load(&s.ring.hdr->head);
}

static size_t
file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
    return (size_t) st.st_size;
}

/* Reads the segment starting at first: its records must be first.. in
 * order, each one the record publish() made (NOOP for voided LSNs when
 * noop is that LSN).  Returns the last LSN (first - 1 if none). */
static uint64_t
read_seg(uint64_t first, uint64_t noop, size_t pad)
{
    char path[1100], err[2048];
    seg_reader_t r;
    const void *rec;
    uint32_t len;
    rec_status_e st;
    seg_read_e e;
    uint64_t next = first;
    buf_t b = { 0 };

    seg_path(path, sizeof(path), log_dir, first);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.hdr.first_lsn, first);
    cr_assert_eq(r.hdr.epoch, EPOCH);
    while ((e = seg_next(&r, &rec, &len, &st)) == SEG_REC) {
        rec_hdr_t hc; /* rec may be unaligned */
        const rec_hdr_t *h = memcpy(&hc, rec, sizeof(hc));
        cr_assert_eq(h->lsn, next, "%s: lsn %llu, expected %llu", path,
                     (unsigned long long) h->lsn, (unsigned long long) next);
        cr_assert_eq(h->epoch, EPOCH);
        if (h->lsn == noop) {
            cr_assert_eq(h->type, REC_NOOP);
            cr_assert_eq(h->len, REC_HDR);
            cr_assert_eq(h->nwords, 0);
        } else {
            make_rec(&b, next, pad);
            rec_finish(b.data, next, EPOCH);
            cr_assert_eq(len, b.len);
            cr_assert_eq(memcmp(rec, b.data, len), 0, "lsn %llu differs",
                         (unsigned long long) next);
        }
        next++;
    }
    cr_assert_eq(e, SEG_END, "%s: %d at %llu (%s)", path, (int) e,
                 (unsigned long long) seg_rec_off(&r), rec_status_str(st));
    seg_close(&r);
    buf_free(&b);
    return next - 1;
}

static int
sink_add(void *arg, const char *w, size_t len, uint64_t n)
{
    agg_add_n(arg, w, len, n);
    return MEMDB_OK;
}

static void
sink_clear(void *arg)
{
    agg_free(arg);
}

static uint64_t
count(const agg_t *a, const char *w)
{
    size_t len = strlen(w);
    for (size_t i = 0; i < a->n; i++)
        if (a->ents[i].len == len
            && memcmp(agg_key(a, &a->ents[i]), w, len) == 0)
            return a->ents[i].count;
    return 0;
}

/* Recovery over the data dir finds records 1..last exactly once. */
static void
expect_log(uint64_t last)
{
    agg_t a;
    recover_sink_t sink = { .add = sink_add,
                            .clear = sink_clear,
                            .arg = &a,
                            .repair = false };
    recover_stats_t st;
    char err[2048], w[32];

    memset(&a, 0, sizeof(a));
    cr_assert_eq(recover_run(dir, &sink, &st, err, sizeof(err)), MEMDB_OK,
                 "%s", err);
    cr_assert_eq(st.last_lsn, last);
    cr_assert_eq(st.records, last);
    cr_assert_eq(st.truncated_off, 0);
    cr_assert_eq(count(&a, "common"), last);
    for (uint64_t l = 1; l <= last + 1; l++) {
        snprintf(w, sizeof(w), "w%06llu", (unsigned long long) l);
        cr_assert_eq(count(&a, w), l <= last ? l : 0, "%s", w);
    }
    agg_free(&a);
}

static int
nsegs(seg_info_t **v)
{
    int n = seg_list(log_dir, v);
    cr_assert_geq(n, 0);
    return n;
}

/* Makes the next write to the current segment fail with EBADF: a
 * read-only descriptor takes the place of the segment's. */
static void
break_fd(void)
{
    int ro = open("/dev/null", O_RDONLY);
    cr_assert_geq(ro, 0);
    cr_assert_geq(lw.fd, 0);
    cr_assert_eq(dup2(ro, lw.fd), lw.fd);
    close(ro);
}

/* ---- writing ---------------------------------------------------------- */

Test(clogw, open_creates_the_first_segment)
{
    char path[1100];
    seg_info_t *v;

    open_log(FSYNC_ALWAYS, 1 << 20);
    seg_path(path, sizeof(path), log_dir, 1);
    cr_assert_eq(file_size(path), SEG_HDR);
    cr_assert_eq(clogw_seg_first(&lw), 1);
    cr_assert_eq(nsegs(&v), 1);
    free(v);
    cr_assert_eq(read_seg(1, 0, 0), 0);
    cr_assert(!clogw_run(&lw, 0), "nothing to do is no progress");
}

Test(clogw, always_writes_in_lsn_order_and_syncs)
{
    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(10, 0);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 10);
    cr_assert_eq(durable(), 10);
    cr_assert_eq(clogw_release_pos(&lw), head());
    cr_assert_eq(lw.fsyncs, 1);
    release();
    cr_assert_eq(ring_used(&s.ring), 0);
    cr_assert_eq(read_seg(1, 0, 0), 10);

    publish_n(5, 0);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 15);
    cr_assert_eq(durable(), 15);
    cr_assert_eq(lw.fsyncs, 2);
    cr_assert_eq(read_seg(1, 0, 0), 15);
    expect_log(15);
}

Test(clogw, many_records_in_several_batches_of_one_run)
{
    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(3000, 40); /* more than one 1024-record batch */
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 3000);
    cr_assert_eq(durable(), 3000);
    cr_assert_eq(read_seg(1, 0, 40), 3000);
}

Test(clogw, records_not_yet_published_wait)
{
    ring_resv_t rv;
    ring_slot_t *sl;
    buf_t b = { 0 };

    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(2, 0);
    /* lsn 3 reserved, still being copied; lsn 4 ready behind it */
    make_rec(&b, 3, 0);
    cr_assert_eq(
        ring_reserve(&s.ring, (uint32_t) b.len, 4242, RING_W_UPLOAD, &rv, &sl),
        MEMDB_OK);
    cr_assert_eq(sl->lsn, 3);
    publish_n(1, 0);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 2);
    cr_assert_eq(durable(), 2);
    cr_assert_eq(read_seg(1, 0, 0), 2);
    /* the copy ends */
    memcpy(ring_slot_rec(sl), b.data, b.len);
    rec_finish(ring_slot_rec(sl), 3, EPOCH);
    ring_publish(sl);
    buf_free(&b);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 4);
    cr_assert_eq(read_seg(1, 0, 0), 4);
}

Test(clogw, void_slot_is_written_as_a_noop_with_its_lsn)
{
    ring_resv_t rv;
    ring_slot_t *sl;
    char path[1100];

    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(2, 0);
    cr_assert_eq(ring_reserve(&s.ring, 300, 4242, RING_W_UPLOAD, &rv, &sl),
                 MEMDB_OK);
    cr_assert_eq(sl->lsn, 3);
    memset(ring_slot_rec(sl), 0xee, 300); /* half-copied garbage */
    atomic_store(&sl->state, RING_VOID);
    publish_n(2, 0);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 5);
    cr_assert_eq(durable(), 5);
    cr_assert_eq(read_seg(1, 3, 0), 5);
    seg_path(path, sizeof(path), log_dir, 1);
    /* and recovery counts nothing for it */
    agg_t a;
    recover_sink_t sink = { .add = sink_add,
                            .clear = sink_clear,
                            .arg = &a,
                            .repair = false };
    recover_stats_t st;
    char err[2048];
    memset(&a, 0, sizeof(a));
    cr_assert_eq(recover_run(dir, &sink, &st, err, sizeof(err)), MEMDB_OK,
                 "%s", err);
    cr_assert_eq(st.last_lsn, 5);
    cr_assert_eq(count(&a, "common"), 4);
    cr_assert_eq(count(&a, "w000003"), 0);
    cr_assert_eq(count(&a, "w000004"), 4);
    agg_free(&a);
}

/* ---- fsync modes ------------------------------------------------------ */

Test(clogw, no_mode_gives_room_back_without_syncing)
{
    uint64_t tail = atomic_load(&s.ring.hdr->tail), sealed;

    open_log(FSYNC_NO, 64 << 20);
    publish_n(5, 0);
    cr_assert(clogw_run(&lw, 5000));
    cr_assert_eq(written(), 5);
    cr_assert_eq(durable(), 0, "not synced");
    cr_assert_eq(lw.fsyncs, 0);
    cr_assert_neq(clogw_release_pos(&lw), tail);
    cr_assert_eq(clogw_release_pos(&lw), head(), "room back at once");
    release();
    cr_assert_eq(read_seg(1, 0, 0), 5);
    publish_n(5, 0);
    cr_assert(clogw_run(&lw, 99000));
    cr_assert_eq(durable(), 0);
    /* sealing syncs even in this mode */
    cr_assert_eq(clogw_rotate(&lw, 99000, &sealed), MEMDB_OK);
    cr_assert_eq(sealed, 10);
    cr_assert_eq(durable(), 10);
    expect_log(10);
}

Test(clogw, everysec_syncs_once_a_second)
{
    uint64_t tail = atomic_load(&s.ring.hdr->tail);

    open_log(FSYNC_EVERYSEC, 64 << 20);
    publish_n(3, 0);
    cr_assert(!clogw_run(&lw, 100), "written but no room back: no progress");
    cr_assert_eq(written(), 3);
    cr_assert_eq(durable(), 0);
    cr_assert_eq(clogw_release_pos(&lw), tail, "no room back before sync");
    cr_assert_eq(read_seg(1, 0, 0), 3, "but written");
    cr_assert(!clogw_run(&lw, 999));
    cr_assert_eq(durable(), 0);
    cr_assert(clogw_run(&lw, 1000));
    cr_assert_eq(durable(), 3);
    cr_assert_eq(clogw_release_pos(&lw), head());
    release();

    publish_n(2, 0);
    cr_assert(!clogw_run(&lw, 1500));
    cr_assert_eq(written(), 5);
    cr_assert_eq(durable(), 3);
    cr_assert(!clogw_run(&lw, 1999));
    cr_assert_eq(durable(), 3);
    cr_assert(clogw_run(&lw, 2000));
    cr_assert_eq(durable(), 5);
    release();

    /* clogw_sync forces it */
    publish_n(1, 0);
    cr_assert(!clogw_run(&lw, 2100));
    cr_assert_eq(durable(), 5);
    cr_assert_eq(clogw_sync(&lw, 2100), MEMDB_OK);
    cr_assert_eq(durable(), 6);
    release();

    /* nothing new: no sync at all */
    uint64_t n = lw.fsyncs;
    cr_assert(!clogw_run(&lw, 9000));
    cr_assert_eq(lw.fsyncs, n);
    cr_assert_eq(clogw_sync(&lw, 9000), MEMDB_OK);
    cr_assert_eq(lw.fsyncs, n);
    expect_log(6);
}

Test(clogw, everysec_syncs_early_when_the_ring_is_half_full)
{
    open_log(FSYNC_EVERYSEC, 64 << 20);
    publish_n(1, 0);
    cr_assert(clogw_run(&lw, 1000)); /* synced at 1000 */
    release();
    publish_n(10, 1000);
    cr_assert(!clogw_run(&lw, 1100));
    cr_assert_eq(written(), 11);
    cr_assert_eq(durable(), 1);
    /* over half the ring used (not released): sync without waiting */
    while (ring_used(&s.ring) <= RING / 2)
        publish(1000);
    uint64_t last = atomic_load(&s.ring.hdr->next_lsn) - 1;
    cr_assert(clogw_run(&lw, 1200));
    cr_assert_eq(durable(), last);
    release();
    cr_assert_eq(ring_used(&s.ring), 0);
}

/* ---- rotation --------------------------------------------------------- */

Test(clogw, segments_rotate_at_seg_max)
{
    seg_info_t *v;
    int n;

    open_log(FSYNC_ALWAYS, 64 << 10);
    for (int round = 0; round < 100; round++) {
        publish_n(20, 100);
        clogw_run(&lw, (uint64_t) round);
        release();
    }
    cr_assert_eq(written(), 2000);
    cr_assert_eq(durable(), 2000);
    n = nsegs(&v);
    cr_assert_geq(n, 3, "%d segments", n);
    cr_assert_eq(v[0].first_lsn, 1);
    for (int i = 0; i < n; i++) {
        uint64_t last = read_seg(v[i].first_lsn, 0, 100);
        if (i + 1 < n) {
            cr_assert_eq(v[i + 1].first_lsn, last + 1,
                         "segment %d ends at "
                         "%llu, the next starts at %llu",
                         i, (unsigned long long) last,
                         (unsigned long long) v[i + 1].first_lsn);
            cr_assert_geq(v[i].size, 64 << 10);
            /* rotated as soon as the limit is reached: not much over */
            cr_assert_lt(v[i].size, (64 << 10) + 20 * 200);
        } else {
            cr_assert_eq(last, 2000);
            cr_assert_eq(clogw_seg_first(&lw), v[i].first_lsn);
        }
    }
    free(v);
    expect_log(2000);
}

Test(clogw, rotate_seals_and_returns_the_last_lsn)
{
    seg_info_t *v;
    uint64_t sealed = 12345;
    char path[1100];

    open_log(FSYNC_EVERYSEC, 64 << 20);
    /* an empty current segment: nothing sealed, no new file (a new one
     * would carry the new epoch in its header) */
    atomic_store(&s.node->epoch, EPOCH + 1);
    cr_assert_eq(clogw_rotate(&lw, 0, &sealed), MEMDB_OK);
    atomic_store(&s.node->epoch, EPOCH);
    cr_assert_eq(sealed, 0);
    cr_assert_eq(nsegs(&v), 1);
    free(v);
    cr_assert_eq(read_seg(1, 0, 0), 0);

    publish_n(7, 0);
    cr_assert(!clogw_run(&lw, 10));
    cr_assert_eq(durable(), 0);
    cr_assert_eq(clogw_rotate(&lw, 20, &sealed), MEMDB_OK);
    cr_assert_eq(sealed, 7);
    cr_assert_eq(durable(), 7, "sealing syncs");
    cr_assert_eq(clogw_release_pos(&lw), head());
    cr_assert_eq(clogw_seg_first(&lw), 8);
    seg_path(path, sizeof(path), log_dir, 8);
    cr_assert_eq(file_size(path), SEG_HDR);
    cr_assert_eq(nsegs(&v), 2);
    free(v);

    /* again with nothing new: seg_first - 1, still two files */
    sealed = 12345;
    atomic_store(&s.node->epoch, EPOCH + 1);
    cr_assert_eq(clogw_rotate(&lw, 30, &sealed), MEMDB_OK);
    atomic_store(&s.node->epoch, EPOCH);
    cr_assert_eq(sealed, 7);
    cr_assert_eq(nsegs(&v), 2);
    free(v);
    cr_assert_eq(clogw_seg_first(&lw), 8);
    cr_assert_eq(read_seg(8, 0, 0), 7, "the same, empty segment");

    publish_n(3, 0);
    cr_assert(clogw_run(&lw, 5000));
    cr_assert_eq(read_seg(1, 0, 0), 7);
    cr_assert_eq(read_seg(8, 0, 0), 10);
    expect_log(10);
}

Test(clogw, open_at_a_later_lsn)
{
    char path[1100];

    atomic_store(&s.ring.hdr->next_lsn, 501);
    cr_assert_eq(clogw_open(&lw, &s, log_dir, FSYNC_ALWAYS, 64 << 20, 501),
                 MEMDB_OK);
    seg_path(path, sizeof(path), log_dir, 501);
    cr_assert_eq(file_size(path), SEG_HDR);
    publish_n(4, 0);
    cr_assert(clogw_run(&lw, 0));
    cr_assert_eq(written(), 504);
    cr_assert_eq(read_seg(501, 0, 0), 504);
}

/* ---- disk errors ------------------------------------------------------ */

Test(clogw, failed_write_is_retried_in_a_new_segment)
{
    seg_info_t *v;
    uint64_t tail;

    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(3, 0);
    cr_assert(clogw_run(&lw, 1000));
    release();
    cr_assert_eq(durable(), 3);

    break_fd();
    tail = clogw_release_pos(&lw);
    publish_n(3, 0);
    cr_assert(!clogw_run(&lw, 5000));
    cr_assert_eq(atomic_load(&s.node->disk_errno), EBADF);
    cr_assert_eq(written(), 3);
    cr_assert_eq(durable(), 3);
    cr_assert_eq(clogw_release_pos(&lw), tail, "the records stay in the ring");
    cr_assert_eq(lw.fd, -1);

    /* before the retry time: nothing happens */
    publish_n(1, 0);
    cr_assert(!clogw_run(&lw, 5999));
    cr_assert_eq(atomic_load(&s.node->disk_errno), EBADF);
    cr_assert_eq(nsegs(&v), 1);
    free(v);

    /* then a new segment at the first LSN not durable */
    cr_assert(clogw_run(&lw, 6000));
    cr_assert_eq(atomic_load(&s.node->disk_errno), 0);
    cr_assert_eq(lw.err, 0);
    cr_assert_eq(written(), 7);
    cr_assert_eq(durable(), 7);
    cr_assert_eq(clogw_release_pos(&lw), head());
    cr_assert_eq(nsegs(&v), 2);
    cr_assert_eq(v[0].first_lsn, 1);
    cr_assert_eq(v[1].first_lsn, 4);
    free(v);
    cr_assert_eq(read_seg(1, 0, 0), 3);
    cr_assert_eq(read_seg(4, 0, 0), 7);
    expect_log(7);
}

/* Records written but not yet synced when the write fails are written
 * again: the new segment overlaps the old one, and wins. */
Test(clogw, failed_write_rewrites_what_was_not_durable)
{
    seg_info_t *v;

    open_log(FSYNC_EVERYSEC, 64 << 20);
    publish_n(2, 0);
    cr_assert(clogw_run(&lw, 1000));
    cr_assert_eq(durable(), 2);
    release();
    publish_n(2, 0);
    cr_assert(!clogw_run(&lw, 1100));
    cr_assert_eq(written(), 4);
    cr_assert_eq(durable(), 2);
    cr_assert_eq(read_seg(1, 0, 0), 4, "3 and 4 are in the file");

    break_fd();
    publish_n(1, 0);
    cr_assert(!clogw_run(&lw, 1200));
    cr_assert_eq(atomic_load(&s.node->disk_errno), EBADF);
    cr_assert(!clogw_run(&lw, 2199));
    cr_assert(clogw_run(&lw, 2200));
    cr_assert_eq(atomic_load(&s.node->disk_errno), 0);
    cr_assert_eq(written(), 5);
    cr_assert_eq(durable(), 5);
    cr_assert_eq(nsegs(&v), 2);
    cr_assert_eq(v[1].first_lsn, 3, "the first LSN that was not durable");
    free(v);
    cr_assert_eq(read_seg(3, 0, 0), 5);
    expect_log(5);
}

/* A failed fsync is handled the same way. */
Test(clogw, failed_sync_is_retried)
{
    seg_info_t *v;

    open_log(FSYNC_EVERYSEC, 64 << 20);
    publish_n(2, 0);
    cr_assert(clogw_run(&lw, 1000));
    release();
    publish_n(2, 0);
    cr_assert(!clogw_run(&lw, 1100));
    /* fdatasync of a pipe fails (EINVAL) */
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    cr_assert_eq(dup2(pfd[0], lw.fd), lw.fd);
    close(pfd[0]);
    close(pfd[1]);
    cr_assert_eq(clogw_sync(&lw, 1200), MEMDB_ERR);
    cr_assert_neq(atomic_load(&s.node->disk_errno), 0);
    cr_assert_eq(durable(), 2);
    cr_assert(clogw_run(&lw, 2200));
    cr_assert_eq(atomic_load(&s.node->disk_errno), 0);
    cr_assert_eq(durable(), 4);
    cr_assert_eq(nsegs(&v), 2);
    cr_assert_eq(v[1].first_lsn, 3);
    free(v);
    expect_log(4);
}

/* With fsync `no`, room goes back once written: after a failed write
 * the new segment must start after what was written, since those records
 * are no longer in the ring to be written again, and the old segment with
 * them must stay. */
Test(clogw, failed_write_in_no_mode_keeps_what_was_written)
{
    seg_info_t *v;

    open_log(FSYNC_NO, 64 << 20);
    publish_n(3, 0);
    cr_assert(clogw_run(&lw, 1000));
    release();
    cr_assert_eq(ring_used(&s.ring), 0);

    break_fd();
    publish_n(2, 0);
    cr_assert(!clogw_run(&lw, 1100));
    cr_assert_eq(atomic_load(&s.node->disk_errno), EBADF);
    cr_assert(clogw_run(&lw, 2100));
    cr_assert_eq(atomic_load(&s.node->disk_errno), 0);
    cr_assert_eq(written(), 5);
    cr_assert_eq(nsegs(&v), 2);
    cr_assert_eq(v[0].first_lsn, 1);
    cr_assert_eq(v[1].first_lsn, 4);
    free(v);
    cr_assert_eq(read_seg(1, 0, 0), 3);
    cr_assert_eq(read_seg(4, 0, 0), 5);
    expect_log(5);
}

/* The same after a rotation: the new segment must not replace the
 * current one. */
Test(clogw, failed_write_in_no_mode_after_a_rotation)
{
    uint64_t sealed;

    open_log(FSYNC_NO, 64 << 20);
    publish_n(2, 0);
    cr_assert(clogw_run(&lw, 1000));
    cr_assert_eq(clogw_rotate(&lw, 1000, &sealed), MEMDB_OK);
    cr_assert_eq(sealed, 2);
    publish_n(3, 0);
    cr_assert(clogw_run(&lw, 1000));
    release();
    break_fd();
    publish_n(1, 0);
    cr_assert(!clogw_run(&lw, 1100));
    cr_assert(clogw_run(&lw, 2100));
    cr_assert_eq(read_seg(3, 0, 0), 5);
    cr_assert_eq(read_seg(6, 0, 0), 6);
    expect_log(6);
}

Test(clogw, rotate_after_a_failure_reports_it)
{
    uint64_t sealed;

    open_log(FSYNC_ALWAYS, 64 << 20);
    publish_n(2, 0);
    cr_assert(clogw_run(&lw, 0));
    break_fd();
    publish_n(1, 0);
    cr_assert(!clogw_run(&lw, 100));
    cr_assert_eq(clogw_rotate(&lw, 200, &sealed), MEMDB_ERR);
    cr_assert_eq(clogw_sync(&lw, 200), MEMDB_ERR);
    cr_assert(clogw_run(&lw, 1100));
    cr_assert_eq(clogw_rotate(&lw, 1200, &sealed), MEMDB_OK);
    cr_assert_eq(sealed, 3);
    expect_log(3);
}
