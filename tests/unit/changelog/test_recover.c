/*
 * test_recover.c - start-up recovery: every combination of snapshots and
 * segments, fallback from a damaged snapshot, torn tails (repaired or
 * reported), damage that must stop the start, gaps and overlaps.
 */
#define _GNU_SOURCE 1 /* nftw, before any system header */
#include <criterion/criterion.h>

#include "tests/unit/tmpdir.h"

#include "src/changelog/recover.h"
#include "src/words/agg.h"
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static char dir[256], snap_dir[300], log_dir[300];
static agg_t table;
static recover_stats_t st;
static char err[4096];
static unsigned clears;

static void
setup(void)
{
    tmpdir_make(dir, sizeof(dir), "recover");
    snprintf(snap_dir, sizeof(snap_dir), "%s/snap", dir);
    snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
    cr_assert_eq(mkdir(snap_dir, 0750), 0);
    cr_assert_eq(mkdir(log_dir, 0750), 0);
    memset(&table, 0, sizeof(table));
    clears = 0;
}

static void
teardown(void)
{
    agg_free(&table);
    tmpdir_remove(dir);
}

TestSuite(recover, .init = setup, .fini = teardown);

static int
sink_add(void *arg, const char *w, size_t len, uint64_t n)
{
    agg_add_n(arg, w, len, n);
    return MEMDB_OK;
}

static void
sink_clear(void *arg)
{
    clears++;
    agg_free(arg);
}

static int
run(bool repair)
{
    recover_sink_t s = { .add = sink_add,
                         .clear = sink_clear,
                         .arg = &table,
                         .repair = repair };
    agg_free(&table);
    return recover_run(dir, &s, &st, err, sizeof(err));
}

static uint64_t
count(const char *w)
{
    size_t len = strlen(w);
    for (size_t i = 0; i < table.n; i++)
        if (table.ents[i].len == len
            && memcmp(agg_key(&table, &table.ents[i]), w, len) == 0)
            return table.ents[i].count;
    return 0;
}

static size_t
file_size(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "stat(%s): %s", path, strerror(errno));
    return (size_t) sb.st_size;
}

/* Record lsn: "common" 1, "w<lsn>" lsn, "even" 2 on even LSNs; alt
 * records (a rewrite with other content) have "alt<lsn>" instead. */
static void
make_rec(buf_t *b, uint64_t lsn, int alt)
{
    char w[64];
    int n;

    rec_begin(b, REC_UPLOAD);
    rec_add(b, "common", 6, 1);
    n = snprintf(w, sizeof(w), "%s%06llu", alt ? "alt" : "w",
                 (unsigned long long) lsn);
    rec_add(b, w, (size_t) n, lsn);
    if (lsn % 2 == 0)
        rec_add(b, "even", 4, 2);
    rec_finish(b->data, lsn, 100 + lsn);
}

/* Writes records first..last (alt content from alt_from on) into a new
 * segment; offs[i] gets the offset of record first+i.  Returns its path
 * in path (if not NULL). */
static void
write_seg_alt(uint64_t first, uint64_t last, uint64_t alt_from, uint64_t *offs,
              char *path)
{
    buf_t b = { 0 };
    int fd = seg_create(log_dir, first, 1);
    uint64_t off = SEG_HDR;

    cr_assert_geq(fd, 0);
    for (uint64_t l = first; l <= last; l++) {
        make_rec(&b, l, l >= alt_from);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
        if (offs)
            offs[l - first] = off;
        off += b.len;
    }
    close(fd);
    buf_free(&b);
    if (path)
        seg_path(path, 1100, log_dir, first);
}

static void
write_seg(uint64_t first, uint64_t last, uint64_t *offs, char *path)
{
    write_seg_alt(first, last, UINT64_MAX, offs, path);
}

static int
wc_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return snap_cmp(*x, strlen(*x), *y, strlen(*y));
}

/* The snapshot of records 1..lsn. */
static void
write_snap(uint64_t lsn, char *path)
{
    snap_writer_t w;
    char(*names)[16] = calloc(lsn + 2, 16);
    const char **v = calloc(lsn + 2, sizeof(char *));
    size_t n = 0;

    snprintf(names[n], 16, "common");
    v[n] = names[n];
    n++;
    if (lsn >= 2) {
        snprintf(names[n], 16, "even");
        v[n] = names[n];
        n++;
    }
    for (uint64_t l = 1; l <= lsn; l++) {
        snprintf(names[n], 16, "w%06llu", (unsigned long long) l);
        v[n] = names[n];
        n++;
    }
    qsort(v, n, sizeof(char *), wc_cmp);
    cr_assert_eq(snap_writer_open(&w, snap_dir, lsn, 1), MEMDB_OK);
    for (size_t i = 0; i < n; i++) {
        uint64_t c = strcmp(v[i], "common") == 0 ? lsn
                     : strcmp(v[i], "even") == 0
                         ? lsn / 2 * 2
                         : strtoull(v[i] + 1, NULL, 10);
        cr_assert_eq(snap_writer_add(&w, v[i], strlen(v[i]), c), MEMDB_OK);
    }
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    if (path)
        snap_path(path, 1100, snap_dir, lsn);
    free(names);
    free(v);
}

/* The table holds exactly records 1..last, each once. */
static void
expect_table(uint64_t last)
{
    char w[32];

    cr_assert_eq(count("common"), last, "common: %llu, expected %llu",
                 (unsigned long long) count("common"),
                 (unsigned long long) last);
    cr_assert_eq(count("even"), last / 2 * 2);
    for (uint64_t l = 1; l <= last + 1; l++) {
        snprintf(w, sizeof(w), "w%06llu", (unsigned long long) l);
        cr_assert_eq(count(w), l <= last ? l : 0, "%s: %llu", w,
                     (unsigned long long) count(w));
    }
    cr_assert_eq(table.n, last + (last >= 2) + (last >= 1), "distinct words");
}

static void
flip(const char *path, uint64_t off, unsigned char mask)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &c, 1, (off_t) off), 1);
    c ^= mask;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t) off), 1);
    close(fd);
}

static void
append_zeros(const char *path, size_t n)
{
    char *z = calloc(1, n);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, z, n), (ssize_t) n);
    close(fd);
    free(z);
}

static void
zero_range(const char *path, uint64_t off, size_t n)
{
    char *z = calloc(1, n);
    int fd = open(path, O_WRONLY);
    cr_assert_eq(pwrite(fd, z, n, (off_t) off), (ssize_t) n);
    close(fd);
    free(z);
}

/* ---- what is there ---------------------------------------------------- */

Test(recover, nonexistent_data_dir)
{
    char p[600];
    recover_sink_t s = { .add = sink_add,
                         .clear = sink_clear,
                         .arg = &table,
                         .repair = true };

    snprintf(p, sizeof(p), "%s/none", dir);
    cr_assert_eq(recover_run(p, &s, &st, err, sizeof(err)), MEMDB_OK, "%s",
                 err);
    cr_assert_eq(st.last_lsn, 0);
    cr_assert_eq(st.snap_lsn, 0);
    cr_assert_eq(st.records, 0);
    cr_assert_eq(table.n, 0);
    cr_assert_eq(access(p, F_OK), -1, "recovery creates nothing");
}

Test(recover, empty_data_dir)
{
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_eq(st.last_lsn, 0);
    cr_assert_eq(st.snap_lsn, 0);
    cr_assert_eq(st.records, 0);
    cr_assert_eq(st.truncated_off, 0);
    cr_assert_eq(table.n, 0);
}

Test(recover, empty_segment_only)
{
    write_seg(1, 0, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_eq(st.last_lsn, 0);
    cr_assert_eq(table.n, 0);
}

Test(recover, snapshot_only)
{
    char p[1100];
    write_snap(30, p);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(30);
    cr_assert_eq(st.snap_lsn, 30);
    cr_assert_eq(st.last_lsn, 30);
    cr_assert_eq(st.last_epoch, 1);
    cr_assert_eq(st.snap_words, 32);
    cr_assert_eq(st.records, 0);
    cr_assert_str_eq(st.snap_path, p);
}

Test(recover, segments_only)
{
    write_seg(1, 10, NULL, NULL);
    write_seg(11, 11, NULL, NULL);
    write_seg(12, 40, NULL, NULL);
    write_seg(41, 40, NULL, NULL); /* the empty current one */
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(40);
    cr_assert_eq(st.snap_lsn, 0);
    cr_assert_eq(st.records, 40);
    cr_assert_eq(st.last_lsn, 40);
    cr_assert_eq(st.last_epoch, 140);
    cr_assert_eq(st.snap_path[0], '\0');
    cr_assert_eq(st.truncated_off, 0);
}

Test(recover, snapshot_and_segments_skip_what_it_covers)
{
    write_snap(15, NULL);
    write_seg(1, 10, NULL, NULL);  /* wholly covered */
    write_seg(11, 20, NULL, NULL); /* partly covered */
    write_seg(21, 25, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(25);
    cr_assert_eq(st.snap_lsn, 15);
    cr_assert_eq(st.records, 10);
    cr_assert_eq(st.last_lsn, 25);
    cr_assert_eq(st.last_epoch, 125);
}

Test(recover, snapshot_at_the_end_of_the_log)
{
    write_seg(1, 10, NULL, NULL);
    write_snap(10, NULL);
    write_seg(11, 10, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(10);
    cr_assert_eq(st.records, 0);
    cr_assert_eq(st.last_lsn, 10);
}

Test(recover, newest_damaged_snapshot_falls_back_to_the_older)
{
    char older[1100], newer[1100];
    size_t n;

    write_seg(1, 30, NULL, NULL);
    write_snap(8, older);
    write_snap(20, newer);
    /* a block byte of the newest: its words never reach the table */
    flip(newer, SNAP_HDR + 30, 0x01);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(30);
    cr_assert_eq(st.snap_lsn, 8);
    cr_assert_str_eq(st.snap_path, older);
    cr_assert_eq(st.records, 22);
    cr_assert_eq(st.last_lsn, 30);
    flip(newer, SNAP_HDR + 30, 0x01);

    /* its trailer's total: every word was added before the damage shows,
     * so the table must be cleared before the older one loads */
    n = file_size(newer);
    flip(newer, n - 16, 0x01);
    clears = 0;
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_geq(clears, 1);
    expect_table(30);
    cr_assert_eq(st.snap_lsn, 8);
    cr_assert_eq(st.records, 22);
    cr_assert_eq(st.snap_words, 10);

    /* cut short: the same */
    cr_assert_eq(truncate(newer, (off_t) (n - 40)), 0);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(30);
    cr_assert_eq(st.snap_lsn, 8);

    /* both damaged: segments alone */
    flip(older, 3, 0x01);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(30);
    cr_assert_eq(st.snap_lsn, 0);
    cr_assert_eq(st.records, 30);
}

Test(recover, damaged_snapshot_without_the_log_before_it)
{
    char newer[1100];

    write_snap(8, NULL);
    write_snap(20, newer);
    write_seg(15, 30, NULL, NULL); /* 9..14 were removed */
    flip(newer, SNAP_HDR + 30, 0x01);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
    cr_assert_not_null(strstr(err, "lsn 15"), "%s", err);
}

/* ---- torn tails ------------------------------------------------------- */

enum { TORN_CUT, TORN_ZEROED, TORN_ZEROS_AFTER, TORN_FEW_ZEROS_AFTER };

/* Segments 1..10 and 11..20, the last record of the second torn as kind
 * says.  Returns the offset the repair cuts at and the original size. */
static uint64_t
torn_setup(int kind, char *path, size_t *size)
{
    uint64_t offs[10];

    write_seg(1, 10, NULL, NULL);
    write_seg(11, 20, offs, path);
    *size = file_size(path);
    switch (kind) {
    case TORN_CUT:
        /* in the payload of the last record */
        cr_assert_gt(*size, offs[9] + 50);
        cr_assert_eq(truncate(path, (off_t) (offs[9] + 50)), 0);
        return offs[9];
    case TORN_ZEROED:
        zero_range(path, offs[9], *size - offs[9]);
        return offs[9];
    case TORN_ZEROS_AFTER: append_zeros(path, 8192); return *size;
    default: append_zeros(path, 7); return *size;
    }
}

static void
torn_check(int kind, bool repair)
{
    char path[1100];
    size_t size, before;
    uint64_t cut = torn_setup(kind, path, &size);
    uint64_t last = kind == TORN_CUT || kind == TORN_ZEROED ? 19 : 20;

    before = file_size(path);
    cr_assert_eq(run(repair), MEMDB_OK, "kind %d: %s", kind, err);
    expect_table(last);
    cr_assert_eq(st.last_lsn, last);
    cr_assert_eq(st.records, last);
    cr_assert_eq(st.truncated_off, cut,
                 "kind %d: cut at %llu, expected "
                 "%llu",
                 kind, (unsigned long long) st.truncated_off,
                 (unsigned long long) cut);
    cr_assert_str_eq(st.truncated, path);
    cr_assert_eq(file_size(path), repair ? cut : before);
    if (repair) {
        /* cut off for good: the next start finds a clean log */
        cr_assert_eq(run(repair), MEMDB_OK, "%s", err);
        expect_table(last);
        cr_assert_eq(st.truncated_off, 0);
        cr_assert_eq(st.truncated[0], '\0');
    }
}

Test(recover, torn_tail_cut_in_the_middle_repaired)
{
    torn_check(TORN_CUT, true);
}

Test(recover, torn_tail_cut_in_the_middle_reported)
{
    torn_check(TORN_CUT, false);
}

Test(recover, torn_tail_zeroed_record_repaired)
{
    torn_check(TORN_ZEROED, true);
}

Test(recover, torn_tail_zeroed_record_reported)
{
    torn_check(TORN_ZEROED, false);
}

Test(recover, torn_tail_zeros_after_the_last_record_repaired)
{
    torn_check(TORN_ZEROS_AFTER, true);
}

Test(recover, torn_tail_zeros_after_the_last_record_reported)
{
    torn_check(TORN_ZEROS_AFTER, false);
}

Test(recover, torn_tail_few_zeros_after_the_last_record_repaired)
{
    torn_check(TORN_FEW_ZEROS_AFTER, true);
}

Test(recover, torn_tail_few_zeros_after_the_last_record_reported)
{
    torn_check(TORN_FEW_ZEROS_AFTER, false);
}

/* Only the header of the last record made it (the rest is zeros, the
 * file as long as the record): torn. */
Test(recover, torn_tail_payload_zeroed)
{
    char path[1100];
    uint64_t offs[5];

    write_seg(1, 5, offs, path);
    zero_range(path, offs[4] + REC_HDR, file_size(path) - offs[4] - REC_HDR);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(4);
    cr_assert_eq(st.truncated_off, offs[4]);
    cr_assert_eq(file_size(path), offs[4]);
}

/* The only record of the only segment is torn: the log is empty. */
Test(recover, torn_first_record)
{
    char path[1100];
    uint64_t offs[1];

    write_seg(1, 1, offs, path);
    cr_assert_eq(truncate(path, (off_t) (offs[0] + 3)), 0);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_eq(table.n, 0);
    cr_assert_eq(st.last_lsn, 0);
    cr_assert_eq(st.truncated_off, SEG_HDR);
    cr_assert_eq(file_size(path), SEG_HDR);
}

Test(recover, last_segment_shorter_than_its_header_is_removed)
{
    char path[1100];

    write_seg(1, 6, NULL, NULL);
    write_seg(7, 6, NULL, path);
    cr_assert_eq(truncate(path, 10), 0);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(6);
    cr_assert_eq(access(path, F_OK), -1, "removed");
    cr_assert_eq(errno, ENOENT);
}

Test(recover, last_segment_shorter_than_its_header_is_left_without_repair)
{
    char path[1100];

    write_seg(1, 6, NULL, NULL);
    write_seg(7, 6, NULL, path);
    cr_assert_eq(truncate(path, 0), 0);
    cr_assert_eq(run(false), MEMDB_OK, "%s", err);
    expect_table(6);
    cr_assert_eq(access(path, F_OK), 0, "a report-only run removes nothing");
}

Test(recover, non_last_segment_shorter_than_its_header_is_damage)
{
    char path[1100];

    write_seg(1, 6, NULL, path);
    write_seg(7, 9, NULL, NULL);
    cr_assert_eq(truncate(path, 10), 0);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_eq(file_size(path), 10);
}

/* ---- damage ----------------------------------------------------------- */

Test(recover, damaged_record_in_the_middle_stops_the_start)
{
    char path[1100], want[64];
    uint64_t offs[10];
    size_t size;

    write_seg(1, 10, offs, path);
    size = file_size(path);
    flip(path, offs[4] + REC_HDR + 2, 0x08); /* record 5 */
    for (int repair = 0; repair < 2; repair++) {
        cr_assert_eq(run(repair), MEMDB_ERR);
        cr_assert_not_null(strstr(err, path), "%s", err);
        snprintf(want, sizeof(want),
                 "offset %llu:", (unsigned long long) offs[4]);
        cr_assert_not_null(strstr(err, want), "%s", err);
        cr_assert_not_null(strstr(err, "after lsn 4"), "%s", err);
        cr_assert_not_null(strstr(err, "checksum"), "%s", err);
        cr_assert_eq(file_size(path), size, "nothing cut");
        cr_assert_eq(st.truncated_off, 0);
    }
}

Test(recover, damaged_magic_in_the_middle_stops_the_start)
{
    char path[1100], want[64];
    uint64_t offs[10];

    write_seg(1, 10, offs, path);
    flip(path, offs[8], 0x01); /* record 9 */
    cr_assert_eq(run(true), MEMDB_ERR);
    snprintf(want, sizeof(want), "offset %llu:", (unsigned long long) offs[8]);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "after lsn 8"), "%s", err);
}

/* Zeros in the middle with a valid record after them are not a torn
 * tail. */
Test(recover, zeroed_record_followed_by_a_valid_one_stops_the_start)
{
    char path[1100];
    uint64_t offs[10];

    write_seg(1, 10, offs, path);
    zero_range(path, offs[8], offs[9] - offs[8]);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "after lsn 8"), "%s", err);
}

Test(recover, damaged_last_record_of_a_non_last_segment_stops_the_start)
{
    char path[1100], want[64];
    uint64_t offs[5];
    size_t size;

    write_seg(1, 5, offs, path);
    write_seg(6, 9, NULL, NULL);
    size = file_size(path);
    flip(path, size - 1, 0x01); /* record 5 */
    cr_assert_eq(run(true), MEMDB_ERR);
    snprintf(want, sizeof(want), "offset %llu:", (unsigned long long) offs[4]);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "after lsn 4"), "%s", err);
    cr_assert_eq(file_size(path), size);

    /* cut short instead: a torn tail only counts in the last segment */
    flip(path, size - 1, 0x01);
    cr_assert_eq(truncate(path, (off_t) (size - 3)), 0);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "truncated"), "%s", err);
    cr_assert_eq(file_size(path), size - 3);
}

Test(recover, gap_between_segments_stops_the_start)
{
    char path[1100];

    write_seg(1, 5, NULL, NULL);
    write_seg(8, 9, NULL, path);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "offset 0: the segment starts at lsn 8"),
                       "%s", err);
    cr_assert_not_null(strstr(err, "ends at lsn 5"), "%s", err);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

/* The gap is there even when the segment after it holds nothing yet. */
Test(recover, gap_before_an_empty_last_segment_stops_the_start)
{
    char path[1100];

    write_seg(1, 5, NULL, NULL);
    write_seg(8, 7, NULL, path);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

Test(recover, gap_inside_a_segment_stops_the_start)
{
    char path[1100], want[64];
    buf_t b = { 0 };
    int fd = seg_create(log_dir, 1, 1);
    uint64_t off = SEG_HDR;

    for (uint64_t l = 1; l <= 6; l++) {
        if (l == 4)
            continue;
        make_rec(&b, l, 0);
        if (l == 5)
            snprintf(want, sizeof(want),
                     "offset %llu:", (unsigned long long) off);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
        off += b.len;
    }
    close(fd);
    buf_free(&b);
    seg_path(path, sizeof(path), log_dir, 1);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "lsn 5 follows lsn 3"), "%s", err);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

Test(recover, segments_not_reaching_back_to_the_snapshot_stop_the_start)
{
    write_snap(10, NULL);
    write_seg(14, 20, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
    cr_assert_not_null(strstr(err, "starts at lsn 14 but the log so far ends "
                                   "at lsn 10"),
                       "%s", err);
}

Test(recover, first_segment_not_at_lsn_one_stops_the_start)
{
    write_seg(3, 9, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
}

Test(recover, damaged_segment_header_stops_the_start)
{
    char path[1100];

    write_seg(1, 5, NULL, NULL);
    write_seg(6, 9, NULL, path);
    flip(path, 20, 0x01);
    cr_assert_eq(run(true), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_not_null(strstr(err, "header"), "%s", err);
}

/* ---- overlaps --------------------------------------------------------- */

Test(recover, later_overlapping_segment_wins)
{
    char w[32];

    write_seg(1, 8, NULL, NULL);
    write_seg_alt(6, 9, 6, NULL, NULL); /* 6..9 rewritten, other words */
    write_seg(10, 12, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_eq(count("common"), 12);
    cr_assert_eq(count("even"), 12);
    for (uint64_t l = 1; l <= 12; l++) {
        bool alt = l >= 6 && l <= 9;
        snprintf(w, sizeof(w), "w%06llu", (unsigned long long) l);
        cr_assert_eq(count(w), alt ? 0 : l, "%s", w);
        snprintf(w, sizeof(w), "alt%06llu", (unsigned long long) l);
        cr_assert_eq(count(w), alt ? l : 0, "%s", w);
    }
    cr_assert_eq(st.records, 12);
    cr_assert_eq(st.last_lsn, 12);
}

/* Each segment overlaps the next: only the first record of each counts,
 * except the last one's. */
Test(recover, chain_of_overlapping_segments)
{
    write_seg(1, 2, NULL, NULL);
    write_seg_alt(3, 6, 3, NULL, NULL); /* only 3 counts, alt */
    write_seg_alt(4, 8, 5, NULL, NULL); /* only 4 counts */
    write_seg(5, 9, NULL, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    cr_assert_eq(count("common"), 9);
    cr_assert_eq(count("even"), 8);
    cr_assert_eq(count("alt000003"), 3);
    cr_assert_eq(count("w000003"), 0);
    for (uint64_t l = 4; l <= 6; l++) {
        char w[32];
        snprintf(w, sizeof(w), "alt%06llu", (unsigned long long) l);
        cr_assert_eq(count(w), 0, "%s", w);
        snprintf(w, sizeof(w), "w%06llu", (unsigned long long) l);
        cr_assert_eq(count(w), l, "%s", w);
    }
    cr_assert_eq(st.records, 9);
}

/* The earlier segment holds a record cut off where the later one starts
 * (the write that failed was redone in a new segment and the cut did not
 * work): the later segment replaces it from there on. */
Test(recover, torn_record_replaced_by_the_later_segment_is_no_damage)
{
    char path[1100];
    buf_t b = { 0 };

    write_seg(1, 5, NULL, path);
    make_rec(&b, 6, 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, b.data, b.len - 5), (ssize_t) (b.len - 5));
    close(fd);
    buf_free(&b);
    write_seg(6, 9, NULL, NULL);
    size_t size = file_size(path);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(9);
    cr_assert_eq(st.truncated_off, 0);
    cr_assert_eq(file_size(path), size, "not the last segment: left alone");

    /* damaged records after the overlap point are no damage either */
    append_zeros(path, 100);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(9);
}

Test(recover, records_are_replayed_in_lsn_order_across_many_segments)
{
    for (uint64_t f = 1; f <= 200; f += 10)
        write_seg(f, f + 9, NULL, NULL);
    write_snap(55, NULL);
    cr_assert_eq(run(true), MEMDB_OK, "%s", err);
    expect_table(200);
    cr_assert_eq(st.records, 145);
    cr_assert_eq(st.last_lsn, 200);
    cr_assert_eq(st.last_epoch, 300);
}

/* A sink that fills up stops the recovery with an error. */
static int
full_add(void *arg, const char *w, size_t len, uint64_t n)
{
    agg_t *a = arg;
    if (a->n >= 5)
        return MEMDB_ERR;
    agg_add_n(a, w, len, n);
    return MEMDB_OK;
}

Test(recover, full_table_stops_the_start)
{
    recover_sink_t s = { .add = full_add,
                         .clear = sink_clear,
                         .arg = &table,
                         .repair = true };

    write_seg(1, 20, NULL, NULL);
    cr_assert_eq(recover_run(dir, &s, &st, err, sizeof(err)), MEMDB_ERR);
    cr_assert_not_null(strstr(err, "max_memory"), "%s", err);
}
