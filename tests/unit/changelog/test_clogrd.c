/*
 * test_clogrd.c - the one reader of the change log (src/changelog/clogrd.c):
 * each of its rules, on segment files written here.
 */
#define _GNU_SOURCE 1 /* nftw, before any system header */
#include <criterion/criterion.h>

#include "src/changelog/clogrd.h"
#include "src/changelog/rec.h"
#include "tests/unit/tmpdir.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[1100];
static char log_dir[1200];

static void
setup(void)
{
    tmpdir_make(dir, sizeof(dir), "clogrd");
    snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
    cr_assert_eq(mkdir(log_dir, 0755), 0);
}

static void
teardown(void)
{
    tmpdir_remove(dir);
}

TestSuite(clogrd, .init = setup, .fini = teardown);

static void
append_rec(int fd, uint64_t lsn)
{
    buf_t b = { 0 };
    char w[32];

    rec_begin(&b, REC_UPLOAD);
    snprintf(w, sizeof(w), "w%llu", (unsigned long long) lsn);
    rec_add(&b, w, strlen(w), 1);
    rec_finish(b.data, lsn, 1);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    buf_free(&b);
}

/* A segment starting at first with the records a..b (none when b < a);
 * returns its fd, open for appending more, and its path in path. */
static int
seg_with(uint64_t first, uint64_t a, uint64_t b, char *path, size_t plen)
{
    int fd = seg_create(log_dir, first, 1);

    cr_assert_geq(fd, 0);
    for (uint64_t l = a; b >= a && l <= b; l++)
        append_rec(fd, l);
    if (path != NULL)
        seg_path(path, plen, log_dir, first);
    return fd;
}

static void
seg_file(uint64_t first, uint64_t a, uint64_t b)
{
    close(seg_with(first, a, b, NULL, 0));
}

/* Reads from..to; returns the outcome, the LSNs read in lsns[0..*n). */
static clogrd_e
walk(uint64_t from, uint64_t to, uint64_t *lsns, int *n, clogrd_t *out)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e;

    *n = 0;
    cr_assert_eq(clogrd_open(&rd, log_dir, from, to), MEMDB_OK);
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        rec_hdr_t h;
        memcpy(&h, rec, sizeof(h));
        lsns[(*n)++] = h.lsn;
    }
    if (out != NULL)
        *out = rd;
    else
        clogrd_close(&rd);
    return e;
}

static void
expect_run(const uint64_t *lsns, int n, uint64_t a, uint64_t b)
{
    cr_assert_eq(n, (int) (b - a + 1), "%d records, wanted %llu..%llu", n,
                 (unsigned long long) a, (unsigned long long) b);
    for (int i = 0; i < n; i++)
        cr_assert_eq(lsns[i], a + (uint64_t) i);
}

Test(clogrd, reads_in_lsn_order_from_and_to)
{
    uint64_t l[64];
    int n;

    seg_file(1, 1, 5);
    seg_file(6, 6, 9);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, NULL), CLOGRD_END);
    expect_run(l, n, 1, 9);
    cr_assert_eq(walk(4, 7, l, &n, NULL), CLOGRD_END);
    expect_run(l, n, 4, 7);
    /* from 0: wherever the log starts (after a snapshot, say) */
    cr_assert_eq(walk(0, UINT64_MAX, l, &n, NULL), CLOGRD_END);
    expect_run(l, n, 1, 9);
}

/* A rewrite after a disk error starts a segment at the first LSN that was
 * not durable: from there on the later one counts, and what is left of the
 * earlier one does not, even when it is damaged. */
Test(clogrd, the_later_segment_wins_from_its_first_lsn)
{
    char path[1200];
    uint64_t l[64];
    int n, fd;

    fd = seg_with(1, 1, 6, path, sizeof(path));
    cr_assert_eq(write(fd, "garbage!", 8), 8);
    close(fd);
    seg_file(5, 5, 8);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, NULL), CLOGRD_END);
    expect_run(l, n, 1, 8);
}

Test(clogrd, a_gap_between_segments_or_inside_one_is_a_gap)
{
    uint64_t l[64];
    int n;
    clogrd_t rd;

    seg_file(1, 1, 5);
    seg_file(8, 8, 9);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, &rd), CLOGRD_GAP);
    expect_run(l, n, 1, 5);
    cr_assert_eq(rd.after, 5);
    cr_assert_eq(rd.off, 0);
    cr_assert_not_null(strstr(rd.err, "starts at lsn 8"), "%s", rd.err);
    cr_assert_not_null(strstr(rd.err, "missing"), "%s", rd.err);
    clogrd_close(&rd);

    tmpdir_remove(dir);
    setup();
    int fd = seg_with(1, 1, 3, NULL, 0);
    append_rec(fd, 5);
    close(fd);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, &rd), CLOGRD_GAP);
    expect_run(l, n, 1, 3);
    cr_assert_not_null(strstr(rd.err, "lsn 5 follows lsn 3"), "%s", rd.err);
    clogrd_close(&rd);
}

Test(clogrd, a_cut_record_at_the_end_is_a_torn_tail)
{
    char path[1200];
    uint64_t l[64];
    int n, fd;
    clogrd_t rd;
    off_t size;

    fd = seg_with(1, 1, 4, path, sizeof(path));
    size = lseek(fd, 0, SEEK_END);
    cr_assert_eq(write(fd, "MRC2\x90\x00\x00\x00", 8), 8); /* short */
    close(fd);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, &rd), CLOGRD_TORN);
    expect_run(l, n, 1, 4);
    cr_assert_eq(rd.off, (uint64_t) size);
    cr_assert_str_eq(rd.path, path);
    cr_assert(!rd.torn_file);
    clogrd_close(&rd);
}

/* The same bad bytes in a segment that is not the last are damage. */
Test(clogrd, a_bad_record_before_the_last_segment_is_damage)
{
    uint64_t l[64];
    int n, fd;
    clogrd_t rd;

    fd = seg_with(1, 1, 4, NULL, 0);
    cr_assert_eq(write(fd, "MRC2\x90\x00\x00\x00", 8), 8);
    close(fd);
    seg_file(6, 6, 7);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, &rd), CLOGRD_BAD);
    expect_run(l, n, 1, 4);
    cr_assert_eq(rd.after, 4);
    clogrd_close(&rd);
}

/* A flipped byte in the middle of the last segment, with good records
 * after it, is damage, not a torn tail. */
Test(clogrd, damage_in_the_middle_of_the_last_segment_is_not_torn)
{
    char path[1200];
    uint64_t l[64];
    int n;
    clogrd_t rd;

    close(seg_with(1, 1, 6, path, sizeof(path)));
    int fd = open(path, O_RDWR);
    char c;
    off_t at = SEG_HDR + 3 * 70 + REC_HDR + 2; /* inside a record */
    cr_assert_eq(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    cr_assert_eq(pwrite(fd, &c, 1, at), 1);
    close(fd);
    clogrd_e e = walk(1, UINT64_MAX, l, &n, &rd);
    cr_assert_eq(e, CLOGRD_BAD, "%d: %s", e, rd.err);
    clogrd_close(&rd);
}

Test(clogrd, a_last_segment_shorter_than_its_header_is_torn)
{
    char path[1200];
    uint64_t l[64];
    int n;
    clogrd_t rd;

    seg_file(1, 1, 3);
    seg_path(path, sizeof(path), log_dir, 4);
    int fd = open(path, O_WRONLY | O_CREAT, 0640);
    cr_assert_eq(write(fd, "MDBSEG", 6), 6);
    close(fd);
    cr_assert_eq(walk(1, UINT64_MAX, l, &n, &rd), CLOGRD_TORN);
    expect_run(l, n, 1, 3);
    cr_assert(rd.torn_file);
    cr_assert_str_eq(rd.path, path);
    clogrd_close(&rd);
}

/* A reader of a live log takes up where it stopped: the file that grew,
 * then a segment that appeared. */
Test(clogrd, a_live_log_is_taken_up_where_it_stopped)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    int fd = seg_with(1, 1, 3, NULL, 0);

    cr_assert_eq(clogrd_open(&rd, log_dir, 2, UINT64_MAX), MEMDB_OK);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_REC);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_REC);
    cr_assert_eq(clogrd_lsn(&rd), 4);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_END);
    append_rec(fd, 4);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_REC);
    cr_assert_eq(clogrd_lsn(&rd), 5);
    close(fd);
    seg_file(5, 5, 6); /* rotated */
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_REC);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_REC);
    cr_assert_eq(clogrd_lsn(&rd), 7);
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_END);
    /* a limit that moves (shipping up to the written LSN) */
    rd.to = 6;
    cr_assert_eq(clogrd_next(&rd, &rec, &len), CLOGRD_END);
    clogrd_close(&rd);
}
