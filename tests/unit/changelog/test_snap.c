/*
 * test_snap.c - snapshot files: writing and reading back (across several
 * blocks), the order check, listings, detection of every kind of damage,
 * and compaction of a previous snapshot with the segments after it.
 */
#define _GNU_SOURCE 1 /* nftw, before any system header */
#include <criterion/criterion.h>

#include "tests/unit/tmpdir.h"

#include "src/changelog/snap.h"
#include "src/changelog/seg.h"
#include "src/changelog/rec.h"
#include "src/core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- helpers ---------------------------------------------------------- */

static char dir[256], snap_dir[300], log_dir[300];

static void
setup(void)
{
    tmpdir_make(dir, sizeof(dir), "snap");
    snprintf(snap_dir, sizeof(snap_dir), "%s/snap", dir);
    snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
    cr_assert_eq(mkdir(snap_dir, 0750), 0);
    cr_assert_eq(mkdir(log_dir, 0750), 0);
}

static void
teardown(void)
{
    tmpdir_remove(dir);
}

TestSuite(snap, .init = setup, .fini = teardown);

typedef struct wc_s {
    const char *w;
    uint64_t c;
} wc_t;

static size_t
file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
    return (size_t) st.st_size;
}

static bool
exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Writes a snapshot of n words (in order) at lsn into snap_dir. */
static void
write_snap(uint64_t lsn, const wc_t *v, size_t n, char *path)
{
    snap_writer_t w;

    cr_assert_eq(snap_writer_open(&w, snap_dir, lsn, 5), MEMDB_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(snap_writer_add(&w, v[i].w, strlen(v[i].w), v[i].c),
                     MEMDB_OK, "word %s", v[i].w);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(path, 1100, snap_dir, lsn);
    cr_assert(exists(path));
}

/* Reads a snapshot back and compares it with v[0..n). */
static void
expect_snap(const char *path, uint64_t lsn, const wc_t *v, size_t n)
{
    snap_reader_t r;
    char err[2048];
    const char *w;
    size_t len, i = 0;
    uint64_t c, total = 0;
    int rc;

    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.hdr.lsn, lsn);
    while ((rc = snap_next(&r, &w, &len, &c, err, sizeof(err))) == MEMDB_OK) {
        cr_assert_lt(i, n, "more words than expected: %.*s", (int) len, w);
        cr_assert(len == strlen(v[i].w) && memcmp(w, v[i].w, len) == 0,
                  "word %zu: %.*s, expected %s", i, (int) len, w, v[i].w);
        cr_assert_eq(c, v[i].c, "count of %s: %llu, expected %llu", v[i].w,
                     (unsigned long long) c, (unsigned long long) v[i].c);
        total += c;
        i++;
    }
    cr_assert_eq(rc, MEMDB_AGAIN, "%s", err);
    cr_assert_eq(i, n);
    cr_assert_eq(r.nwords, n);
    cr_assert_eq(r.total, total);
    cr_assert_eq(snap_next(&r, &w, &len, &c, err, sizeof(err)), MEMDB_AGAIN);
    snap_close(&r);
}

static const wc_t small[] = {
    { "a", 1 },
    { "ab", 2 },
    { "abc", 300 },
    { "b", 127 },
    { "ba", 128 },
    { "hello", 16384 },
    { "w\xc3\xb6rld", 7 },
    { "z", UINT64_MAX / 4 },
    { "zz", 1 },
    { "\xff\xfe", 9 },
};

/* ---- writing and reading --------------------------------------------- */

Test(snap, write_and_read_back)
{
    char path[1100], tmp[1200];
    snap_reader_t r;
    char err[2048];

    write_snap(42, small, MEMDB_NELEM(small), path);
    cr_assert_str_eq(strrchr(path, '/') + 1, "00000000000000000042.snap");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert(!exists(tmp), "the .tmp file was renamed");
    expect_snap(path, 42, small, MEMDB_NELEM(small));
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK);
    cr_assert_eq(r.hdr.magic, SNAP_MAGIC);
    cr_assert_eq(r.hdr.version, 3);
    cr_assert_eq(r.hdr.hdr_size, SNAP_HDR);
    cr_assert_eq(r.hdr.epoch, 5);
    cr_assert_gt(r.hdr.created_ms, 0);
    snap_close(&r);
}

Test(snap, empty_snapshot)
{
    char path[1100];
    write_snap(7, NULL, 0, path);
    cr_assert_eq(file_size(path), SNAP_HDR + 48);
    expect_snap(path, 7, NULL, 0);
}

Test(snap, many_words_span_several_blocks)
{
    enum { N = 300000 };
    wc_t *v = malloc(N * sizeof(*v));
    char *names = malloc((size_t) N * 24), path[1100];

    for (int i = 0; i < N; i++) {
        char *p = names + (size_t) i * 24;
        snprintf(p, 24, "word%09d", i); /* sorts like i */
        v[i].w = p;
        v[i].c = (uint64_t) i * 2654435761u % 100000 + 1;
    }
    write_snap(300000, v, N, path);
    cr_assert_gt(file_size(path), 3u * SNAP_BLOCK, "several blocks");
    expect_snap(path, 300000, v, N);
    free(v);
    free(names);
}

Test(snap, long_words_fill_blocks)
{
    enum { N = 100 };
    static char names[N][40000];
    wc_t v[N];
    char path[1100];

    for (int i = 0; i < N; i++) {
        memset(names[i], 'a' + i % 26, sizeof(names[i]) - 1);
        snprintf(names[i], 8, "%03d", i);
        names[i][3] = '-';
        v[i].w = names[i];
        v[i].c = (uint64_t) i + 1;
    }
    write_snap(1, v, N, path);
    cr_assert_gt(file_size(path), 3u * SNAP_BLOCK);
    expect_snap(path, 1, v, N);
}

Test(snap, words_out_of_order_are_refused)
{
    static const char *const bad[][2] = {
        { "b", "a" },  { "a", "a" },    { "ab", "a" },
        { "b", "ab" }, { "\xff", "z" },
    };
    snap_writer_t w;
    char path[1100], tmp[1200];

    for (size_t i = 0; i < MEMDB_NELEM(bad); i++) {
        cr_assert_eq(snap_writer_open(&w, snap_dir, 9, 0), MEMDB_OK);
        cr_assert_eq(snap_writer_add(&w, "0", 1, 1), MEMDB_OK);
        cr_assert_eq(snap_writer_add(&w, bad[i][0], strlen(bad[i][0]), 1),
                     MEMDB_OK);
        cr_assert_eq(snap_writer_add(&w, bad[i][1], strlen(bad[i][1]), 1),
                     MEMDB_ERR, "%s after %s accepted", bad[i][1], bad[i][0]);
        snap_writer_abort(&w);
    }
    snap_path(path, sizeof(path), snap_dir, 9);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert(!exists(path));
    cr_assert(!exists(tmp), "abort removes the .tmp file");
}

Test(snap, cmp_orders_bytes_then_length)
{
    cr_assert_lt(snap_cmp("a", 1, "b", 1), 0);
    cr_assert_lt(snap_cmp("a", 1, "ab", 2), 0);
    cr_assert_gt(snap_cmp("ab", 2, "a", 1), 0);
    cr_assert_eq(snap_cmp("ab", 2, "ab", 2), 0);
    cr_assert_lt(snap_cmp("z", 1, "\x80", 1), 0, "bytes are unsigned");
    cr_assert_lt(snap_cmp("a\0", 2, "a\1", 2), 0);
}

Test(snap, list_is_newest_first_and_ignores_other_names)
{
    snap_info_t *v;
    char path[1100], p[600];
    int n;

    write_snap(10, small, 2, path);
    write_snap(300, small, 3, path);
    write_snap(2, small, 1, path);
    write_snap(45, NULL, 0, path);
    static const char *const junk[] = {
        "00000000000000000999.snap.tmp",
        "0000000000000000999.snap",
        "00000000000000000998.seg",
        "x0000000000000000999.snap",
        "snap",
    };
    for (size_t i = 0; i < MEMDB_NELEM(junk); i++) {
        snprintf(p, sizeof(p), "%s/%s", snap_dir, junk[i]);
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
    }
    n = snap_list(snap_dir, &v);
    cr_assert_eq(n, 4);
    cr_assert_eq(v[0].lsn, 300);
    cr_assert_eq(v[1].lsn, 45);
    cr_assert_eq(v[2].lsn, 10);
    cr_assert_eq(v[3].lsn, 2);
    for (int i = 0; i < n; i++) {
        snap_path(path, sizeof(path), snap_dir, v[i].lsn);
        cr_assert_str_eq(v[i].path, path);
        cr_assert_eq(v[i].size, file_size(path));
    }
    free(v);
    snprintf(p, sizeof(p), "%s/none", dir);
    cr_assert_eq(snap_list(p, &v), 0);
    cr_assert_null(v);
}

/* ---- damage ----------------------------------------------------------- */

static void *
slurp(const char *path, size_t *len)
{
    size_t n = file_size(path);
    char *p = malloc(n);
    int fd = open(path, O_RDONLY);
    cr_assert_eq(read(fd, p, n), (ssize_t) n);
    close(fd);
    *len = n;
    return p;
}

static void
spill(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, p, n), (ssize_t) n);
    close(fd);
}

/* Reads the damaged snapshot at path: it must fail (at open or at some
 * snap_next), every word returned before must be the right one, and the
 * message must name the file.  Returns true if it failed at open. */
static bool
expect_damage(const char *path, const wc_t *v, size_t n, const char *what)
{
    snap_reader_t r;
    char err[2048] = "";
    const char *w;
    size_t len, i = 0;
    uint64_t c;
    int rc;

    if (snap_open(&r, path, err, sizeof(err)) != MEMDB_OK) {
        cr_assert_not_null(strstr(err, path), "%s: %s", what, err);
        return true;
    }
    while ((rc = snap_next(&r, &w, &len, &c, err, sizeof(err))) == MEMDB_OK) {
        cr_assert_lt(i, n, "%s: an extra word", what);
        cr_assert(len == strlen(v[i].w) && memcmp(w, v[i].w, len) == 0
                      && c == v[i].c,
                  "%s: word %zu wrong (%.*s %llu)", what, i, (int) len, w,
                  (unsigned long long) c);
        i++;
    }
    cr_assert_eq(rc, MEMDB_ERR, "%s: not detected", what);
    cr_assert_not_null(strstr(err, path), "%s: %s", what, err);
    cr_assert_not_null(strstr(err, "offset "), "%s: %s", what, err);
    snap_close(&r);
    return false;
}

Test(snap, every_flipped_byte_is_detected)
{
    static const unsigned char masks[] = { 0x01, 0x80, 0xff };
    char path[1100], what[64];
    size_t n;
    unsigned char *orig;

    write_snap(77, small, MEMDB_NELEM(small), path);
    orig = slurp(path, &n);
    cr_assert_gt(n, SNAP_HDR + 16 + 48);
    for (size_t off = 0; off < n; off++) {
        for (size_t m = 0; m < MEMDB_NELEM(masks); m++) {
            orig[off] ^= masks[m];
            spill(path, orig, n);
            orig[off] ^= masks[m];
            snprintf(what, sizeof(what), "byte %zu ^ 0x%02x", off, masks[m]);
            bool at_open = expect_damage(path, small, MEMDB_NELEM(small),
                                         what);
            cr_assert_eq(at_open, off < SNAP_HDR, "%s", what);
        }
    }
    spill(path, orig, n);
    expect_snap(path, 77, small, MEMDB_NELEM(small));
    free(orig);
}

Test(snap, every_truncation_is_detected)
{
    char path[1100], what[64];
    size_t n;
    unsigned char *orig;

    write_snap(77, small, MEMDB_NELEM(small), path);
    orig = slurp(path, &n);
    for (size_t len = 0; len < n; len++) {
        spill(path, orig, len);
        snprintf(what, sizeof(what), "cut at %zu", len);
        expect_damage(path, small, MEMDB_NELEM(small), what);
    }
    free(orig);
}

Test(snap, missing_trailer_or_data_after_it)
{
    char path[1100];
    size_t n;
    unsigned char *orig;
    char err[2048];
    snap_reader_t r;
    const char *w;
    size_t len;
    uint64_t c;
    int rc;

    write_snap(77, small, MEMDB_NELEM(small), path);
    orig = slurp(path, &n);
    spill(path, orig, n - 48); /* no trailer at all */
    expect_damage(path, small, MEMDB_NELEM(small), "no trailer");
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK);
    while ((rc = snap_next(&r, &w, &len, &c, err, sizeof(err))) == MEMDB_OK)
        ;
    cr_assert_not_null(strstr(err, "truncated"), "%s", err);
    snap_close(&r);

    unsigned char *more = malloc(n + 1);
    memcpy(more, orig, n);
    more[n] = 0;
    spill(path, more, n + 1); /* a byte after it */
    expect_damage(path, small, MEMDB_NELEM(small), "data after trailer");
    free(more);
    free(orig);
}

/* A snapshot whose block lost its last entry still has a valid checksum
 * for what is left if it was written that way: the trailer's counts catch
 * the missing word. */
Test(snap, trailer_counts_catch_a_missing_word)
{
    char path[1100], other[1100];
    size_t n, m;
    unsigned char *full, *less;

    /* same lsn, same header: one word fewer */
    write_snap(77, small, MEMDB_NELEM(small), path);
    full = slurp(path, &n);
    write_snap(77, small, MEMDB_NELEM(small) - 1, other);
    less = slurp(other, &m);
    /* the shorter file with the full file's header and trailer */
    memcpy(less, full, SNAP_HDR);
    memcpy(less + m - 48, full + n - 48, 48);
    spill(path, less, m);
    expect_damage(path, small, MEMDB_NELEM(small), "missing word");
    free(full);
    free(less);
}

/* ---- compaction ------------------------------------------------------- */

/* Record lsn of the test log: words depend on lsn and on alt (a rewrite
 * with other content). */
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
    if (lsn % 5 == 0) {
        /* a word that sorts before and after everything */
        rec_add(b, "\x01", 1, 1);
        rec_add(b, "\xff\xff", 2, 3);
    }
    rec_finish(b->data, lsn, 1);
}

static void
write_seg(uint64_t first, uint64_t last)
{
    buf_t b = { 0 };
    int fd = seg_create(log_dir, first, 1);

    cr_assert_geq(fd, 0);
    for (uint64_t l = first; l <= last; l++) {
        make_rec(&b, l, 0);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    }
    close(fd);
    buf_free(&b);
}

/* The expected table after records from..to (each applied once), sorted,
 * plus extra words (sorted, counts added). */
typedef struct model_s {
    wc_t *v;
    size_t n;
    char *names;
} model_t;

static int
wc_cmp(const void *a, const void *b)
{
    const wc_t *x = a, *y = b;
    return snap_cmp(x->w, strlen(x->w), y->w, strlen(y->w));
}

static void
model_add(model_t *m, const char *w, uint64_t c)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].w, w) == 0) {
            m->v[i].c += c;
            return;
        }
    m->v[m->n].w = m->names + m->n * 16;
    snprintf(m->names + m->n * 16, 16, "%s", w);
    m->v[m->n++].c = c;
}

static void
model_build(model_t *m, uint64_t from, uint64_t to, const wc_t *extra,
            size_t nextra)
{
    char w[32];
    size_t cap = (size_t) (to - from + 1) + nextra + 16;

    m->v = calloc(cap, sizeof(wc_t));
    m->names = calloc(cap, 16);
    m->n = 0;
    for (size_t i = 0; i < nextra; i++)
        model_add(m, extra[i].w, extra[i].c);
    for (uint64_t l = from; l <= to; l++) {
        model_add(m, "common", 1);
        snprintf(w, sizeof(w), "w%06llu", (unsigned long long) l);
        model_add(m, w, l);
        if (l % 2 == 0)
            model_add(m, "even", 2);
        if (l % 5 == 0) {
            model_add(m, "\x01", 1);
            model_add(m, "\xff\xff", 3);
        }
    }
    qsort(m->v, m->n, sizeof(wc_t), wc_cmp);
}

static void
model_free(model_t *m)
{
    free(m->v);
    free(m->names);
}

Test(snap, compact_without_previous_snapshot)
{
    char out[1100], err[2048], path[1100];
    model_t m;

    write_seg(1, 7);
    write_seg(8, 20);
    write_seg(21, 21);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 21, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    snap_path(path, sizeof(path), snap_dir, 21);
    cr_assert_str_eq(out, path);
    model_build(&m, 1, 21, NULL, 0);
    expect_snap(out, 21, m.v, m.n);
    model_free(&m);

    /* a target inside a segment: the records after it are not counted */
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 12, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    model_build(&m, 1, 12, NULL, 0);
    expect_snap(out, 12, m.v, m.n);
    model_free(&m);
}

Test(snap, compact_creates_the_snapshot_directory)
{
    char out[1100], err[2048], sd[600];
    model_t m;

    write_seg(1, 3);
    snprintf(sd, sizeof(sd), "%s/new/snaps", dir);
    cr_assert_eq(snap_compact(sd, log_dir, NULL, 3, 4, NULL, out, sizeof(out),
                              err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    model_build(&m, 1, 3, NULL, 0);
    expect_snap(out, 3, m.v, m.n);
    model_free(&m);
}

Test(snap, compact_merges_previous_snapshot_and_later_segments)
{
    /* the previous snapshot at lsn 10: the log's records 1..10 plus words
     * the log never had (as if older segments were removed) */
    static const wc_t old_only[] = {
        { "aaa", 5 },
        { "mango", 2 },
        { "w000013x", 4 },
        { "zebra", 1 },
    };
    char prev[1100], out[1100], err[2048];
    model_t pm, m;

    model_build(&pm, 1, 10, old_only, MEMDB_NELEM(old_only));
    write_snap(10, pm.v, pm.n, prev);

    /* segments: 1..4 (wholly before), 5..12 (straddles), 13..15, 16..18 */
    write_seg(1, 4);
    write_seg(5, 12);
    write_seg(13, 15);
    write_seg(16, 18);
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 18, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    /* records 1..10 counted once (from the snapshot), 11..18 from the log */
    model_build(&m, 1, 18, old_only, MEMDB_NELEM(old_only));
    expect_snap(out, 18, m.v, m.n);
    /* spot checks of the merge: summed, kept, inserted in order */
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.v[i].w, "common") == 0)
            cr_assert_eq(m.v[i].c, 18);
        if (strcmp(m.v[i].w, "even") == 0)
            cr_assert_eq(m.v[i].c, 18);
        if (strcmp(m.v[i].w, "\x01") == 0)
            cr_assert_eq(m.v[i].c, 3);
    }
    model_free(&m);

    /* and again from that snapshot: nothing new up to 18 */
    char again[1100];
    snprintf(again, sizeof(again), "%s", out);
    cr_assert_eq(snap_compact(snap_dir, log_dir, again, 20, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR, "records 19..20 are not in the log");
    cr_assert_not_null(strstr(err, "19..20"), "%s", err);
    model_free(&pm);
}

Test(snap, compact_from_snapshot_with_nothing_new)
{
    char prev[1100], out[1100], err[2048];
    model_t pm;

    model_build(&pm, 1, 6, NULL, 0);
    write_snap(6, pm.v, pm.n, prev);
    write_seg(1, 6);
    write_seg(7, 6); /* the empty current segment */
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 6, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    expect_snap(out, 6, pm.v, pm.n);
    model_free(&pm);
}

Test(snap, compact_skips_records_at_or_before_the_snapshot)
{
    char prev[1100], out[1100], err[2048];
    model_t pm, m;

    /* one segment holding 1..12, the snapshot at 9 */
    model_build(&pm, 1, 9, NULL, 0);
    write_snap(9, pm.v, pm.n, prev);
    write_seg(1, 12);
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 12, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    model_build(&m, 1, 12, NULL, 0);
    expect_snap(out, 12, m.v, m.n);
    model_free(&m);
    model_free(&pm);
}

Test(snap, compact_fails_on_a_gap)
{
    char out[1100], err[2048];
    snap_info_t *v;
    DIR *d;

    write_seg(1, 5);
    write_seg(7, 9); /* 6 is missing */
    err[0] = '\0';
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 9, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR);
    cr_assert_not_null(strstr(err, "starts at lsn 7"), "%s", err);
    cr_assert_not_null(strstr(err, "ends at lsn 5: records are missing"), "%s",
                       err);
    cr_assert_eq(snap_list(snap_dir, &v), 0, "no snapshot left behind");
    free(v);
    /* nor a .tmp file */
    d = opendir(snap_dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL)
        files += de->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 0);

    /* a gap inside one segment */
    char p[1100];
    seg_path(p, sizeof(p), log_dir, 7);
    cr_assert_eq(unlink(p), 0);
    buf_t b = { 0 };
    seg_path(p, sizeof(p), log_dir, 6);
    int fd = seg_create(log_dir, 6, 1);
    make_rec(&b, 6, 0);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    make_rec(&b, 8, 0);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    close(fd);
    buf_free(&b);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 8, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR);
    cr_assert_not_null(strstr(err, p), "%s", err);
    cr_assert_not_null(strstr(err, "lsn 8 follows lsn 6: records are missing"),
                       "%s", err);
    /* up to the gap it is fine */
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 6, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
}

Test(snap, compact_fails_on_a_damaged_record_or_snapshot)
{
    char prev[1100], out[1100], err[2048], p[1100];
    model_t pm;

    write_seg(1, 5);
    seg_path(p, sizeof(p), log_dir, 1);
    /* the last byte of record 5 */
    int fd = open(p, O_RDWR);
    off_t end = lseek(fd, 0, SEEK_END);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, end - 1), 1);
    c ^= 1;
    cr_assert_eq(pwrite(fd, &c, 1, end - 1), 1);
    close(fd);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 5, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR);
    cr_assert_not_null(strstr(err, p), "%s", err);
    cr_assert_not_null(strstr(err, "checksum"), "%s", err);
    /* up to 4 it is fine */
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 4, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);

    /* a damaged previous snapshot */
    model_build(&pm, 1, 2, NULL, 0);
    write_snap(2, pm.v, pm.n, prev);
    size_t n;
    unsigned char *s = slurp(prev, &n);
    s[SNAP_HDR + 20] ^= 0x40;
    spill(prev, s, n);
    free(s);
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 4, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR);
    cr_assert_not_null(strstr(err, prev), "%s", err);
    model_free(&pm);
}

/* Segments that overlap (a rewrite after a disk error): the later one
 * wins from its first LSN on, whatever the earlier one holds there. */
Test(snap, compact_later_overlapping_segment_wins)
{
    char out[1100], err[2048];
    buf_t b = { 0 };
    model_t m;
    int fd;

    write_seg(1, 8);
    fd = seg_create(log_dir, 6, 1);
    for (uint64_t l = 6; l <= 9; l++) {
        make_rec(&b, l, 1);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    }
    close(fd);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 9, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    model_build(&m, 1, 5, NULL, 0);
    static const char *const alt[] = { "alt000006", "alt000007", "alt000008",
                                       "alt000009" };
    for (int i = 0; i < 4; i++) {
        model_add(&m, "common", 1);
        model_add(&m, alt[i], (uint64_t) i + 6);
    }
    model_add(&m, "even", 4); /* 6 and 8 */
    qsort(m.v, m.n, sizeof(wc_t), wc_cmp);
    expect_snap(out, 9, m.v, m.n);
    model_free(&m);
    buf_free(&b);
}

/* The earlier of two overlapping segments ends in a record cut off where
 * the later one takes over (the write that failed and was redone there):
 * the later segment replaces it, so it does not stop the compaction. */
Test(snap, compact_ignores_a_torn_record_the_later_segment_replaces)
{
    char out[1100], err[2048], p[1100];
    buf_t b = { 0 };
    model_t m;
    int fd;

    write_seg(1, 5);
    seg_path(p, sizeof(p), log_dir, 1);
    fd = open(p, O_WRONLY | O_APPEND);
    make_rec(&b, 6, 0);
    cr_assert_eq(write(fd, b.data, b.len / 2), (ssize_t) (b.len / 2));
    close(fd);
    fd = seg_create(log_dir, 6, 1);
    for (uint64_t l = 6; l <= 9; l++) {
        make_rec(&b, l, 0);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    }
    close(fd);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 9, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    model_build(&m, 1, 9, NULL, 0);
    expect_snap(out, 9, m.v, m.n);
    model_free(&m);

    /* but one cut off before the later segment starts is damage */
    seg_path(p, sizeof(p), log_dir, 6);
    cr_assert_eq(
        rename(p, strcat(strcpy(out, log_dir), "/00000000000000000007.seg")),
        0);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 9, 4, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_ERR);
    cr_assert_not_null(strstr(err, "truncated record"), "%s", err);
    buf_free(&b);
}

/* ---- Idempotency-Keys ------------------------------------------------- */

static snap_key_t
mk_key(uint64_t n, uint64_t time_ms, uint64_t lsn)
{
    snap_key_t k = { .id = { .key = { n, ~n },
                             .body = { n + 1, n + 2 },
                             .time_ms = time_ms,
                             .words = 3 * n,
                             .distinct = n },
                     .lsn = lsn };
    return k;
}

Test(snap, keys_round_trip_oldest_first_before_the_words)
{
    char path[1100], err[2048];
    snap_writer_t w;
    snap_reader_t r;
    snap_key_t k[3] = { mk_key(1, 10, 3), mk_key(2, 20, 5), mk_key(3, 30, 8) };

    cr_assert_eq(snap_writer_open(&w, snap_dir, 8, 5), MEMDB_OK);
    cr_assert_eq(snap_writer_keys(&w, k, 3), MEMDB_OK);
    for (size_t i = 0; i < MEMDB_NELEM(small); i++)
        cr_assert_eq(
            snap_writer_add(&w, small[i].w, strlen(small[i].w), small[i].c),
            MEMDB_OK);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(path, sizeof(path), snap_dir, 8);
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.nkeys, 3);
    for (size_t i = 0; i < 3; i++) {
        snap_key_t got = snap_key(&r, i);
        cr_assert(memcmp(&got, &k[i], sizeof(got)) == 0, "key %zu", i);
    }
    snap_close(&r);
    expect_snap(path, 8, small, MEMDB_NELEM(small));
}

/* Every damaged byte of a snapshot with keys is found, in the key block
 * too (the words check alone would not see a key changed). */
Test(snap, a_flipped_key_byte_is_detected)
{
    char path[1100], err[2048];
    snap_writer_t w;
    snap_reader_t r;
    snap_key_t k = mk_key(1, 10, 3);
    unsigned char *orig;
    size_t n;

    cr_assert_eq(snap_writer_open(&w, snap_dir, 8, 5), MEMDB_OK);
    cr_assert_eq(snap_writer_keys(&w, &k, 1), MEMDB_OK);
    cr_assert_eq(snap_writer_add(&w, "a", 1, 1), MEMDB_OK);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(path, sizeof(path), snap_dir, 8);
    orig = slurp(path, &n);
    for (size_t off = 0; off < n; off++) {
        char what[64];
        orig[off] ^= 0x20;
        spill(path, orig, n);
        snprintf(what, sizeof(what), "byte %zu flipped", off);
        bool at_open = expect_damage(path, (wc_t[]) { { "a", 1 } }, 1, what);
        /* the header and the key payload are checked when it opens */
        if (off < SNAP_HDR
            || (off >= SNAP_HDR + 16 && off < SNAP_HDR + 16 + sizeof(k)))
            cr_assert(at_open, "%s", what);
        orig[off] ^= 0x20;
    }
    spill(path, orig, n);
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.nkeys, 1);
    snap_close(&r);
    free(orig);
}

/* A record of the test log with the key block of key n. */
static void
write_keyed_seg(uint64_t first, uint64_t last, const uint64_t *key_of,
                uint64_t time_ms)
{
    buf_t b = { 0 };
    int fd = seg_create(log_dir, first, 1);

    cr_assert_geq(fd, 0);
    for (uint64_t l = first; l <= last; l++) {
        rec_idem_t id = mk_key(key_of[l - first], time_ms + l, 0).id;
        rec_begin(&b, REC_UPLOAD);
        rec_set_idem(&b, &id);
        rec_add(&b, "common", 6, 1);
        rec_finish(b.data, l, 1);
        cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    }
    close(fd);
    buf_free(&b);
}

/* Compaction keeps the previous snapshot's keys and the records', the
 * newest of each key, none outside the window, and only the newest
 * max_keys. */
Test(snap, compaction_keeps_the_newest_keys_inside_the_window)
{
    char prev[1100], out[1100], err[2048];
    uint64_t now = util_wall_ms();
    snap_writer_t w;
    snap_reader_t r;
    /* in the snapshot at 4: key 1 (old: expired), 2 and 3 */
    snap_key_t old[3] = { mk_key(1, now - 100000, 2), mk_key(2, now - 500, 3),
                          mk_key(3, now - 400, 4) };
    /* records 5..8: keys 4, 2 (again: newer), 5, 6 */
    const uint64_t key_of[4] = { 4, 2, 5, 6 };
    uint64_t expect_keys[] = { 3, 4, 2, 5, 6 },
             expect_lsn[] = { 4, 5, 6, 7, 8 };
    snap_keep_t keep = { .window_ms = 60000, .max_keys = 100 };

    cr_assert_eq(snap_writer_open(&w, snap_dir, 4, 1), MEMDB_OK);
    cr_assert_eq(snap_writer_keys(&w, old, 3), MEMDB_OK);
    cr_assert_eq(snap_writer_add(&w, "common", 6, 4), MEMDB_OK);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(prev, sizeof(prev), snap_dir, 4);
    write_keyed_seg(5, 8, key_of, now - 300);

    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 8, 4, &keep, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.nkeys, 5);
    for (size_t i = 0; i < 5; i++) {
        snap_key_t k = snap_key(&r, i);
        cr_assert_eq(k.id.key[0], expect_keys[i], "key %zu", i);
        cr_assert_eq(k.lsn, expect_lsn[i], "key %zu", i);
        cr_assert_eq(k.id.words, 3 * expect_keys[i]);
    }
    snap_close(&r);
    expect_snap(out, 8, (wc_t[]) { { "common", 8 } }, 1);

    keep.max_keys = 2; /* only the two newest */
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 8, 4, &keep, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.nkeys, 2);
    cr_assert_eq(snap_key(&r, 0).id.key[0], 5);
    cr_assert_eq(snap_key(&r, 1).id.key[0], 6);
    snap_close(&r);

    keep.max_keys = 0; /* keys off: none kept */
    cr_assert_eq(snap_compact(snap_dir, log_dir, prev, 8, 4, &keep, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.nkeys, 0);
    snap_close(&r);
}

/* A version 1 snapshot (before keys: no key blocks, a 40-byte trailer)
 * made from a version 2 one without keys is still read. */
Test(snap, version_1_is_read)
{
    char path[1100];
    size_t n;
    unsigned char *p;
    snap_hdr_t h;
    uint64_t tr[6];

    write_snap(77, small, MEMDB_NELEM(small), path);
    p = slurp(path, &n);
    memcpy(&h, p, sizeof(h));
    h.version = 1;
    h.checksum = XXH3_64bits(&h, offsetof(snap_hdr_t, checksum));
    memcpy(p, &h, sizeof(h));
    memcpy(tr, p + n - 48, 48); /* 0|ff, END, words, total, keys, sum */
    cr_assert_eq(tr[4], 0, "no keys");
    tr[4] = XXH3_64bits_withSeed(&tr[1], 3 * 8, h.checksum);
    memcpy(p + n - 48, tr, 40);
    spill(path, p, n - 8);
    expect_snap(path, 77, small, MEMDB_NELEM(small));
    free(p);
}

/* ---- tables ------------------------------------------------------------- */

static void
put_rec(int fd, buf_t *b, uint64_t lsn)
{
    rec_finish(b->data, lsn, 1);
    cr_assert_eq(write(fd, b->data, b->len), (ssize_t) b->len);
}

static void
put_op(int fd, uint16_t type, uint64_t uid, const char *name, uint64_t lsn)
{
    buf_t b = { 0 };

    rec_begin(&b, type);
    rec_set_table(&b, uid);
    rec_set_table_op(&b, name, strlen(name), "", 0, 1000 + lsn);
    put_rec(fd, &b, lsn);
    buf_free(&b);
}

static void
put_words(int fd, uint16_t type, uint64_t uid, const char *w, uint64_t n,
          uint64_t lsn)
{
    buf_t b = { 0 };

    rec_begin(&b, type);
    if (uid != 0)
        rec_set_table(&b, uid);
    rec_add(&b, w, strlen(w), n);
    put_rec(fd, &b, lsn);
    buf_free(&b);
}

/* Compaction applies the table operations in LSN order: the words of a
 * truncated generation and of a dropped table are left out, a retract
 * to 0 leaves nothing, and the catalog goes with the words; a damaged
 * catalog block is found. */
Test(snap, compaction_keeps_live_tables_and_their_catalog)
{
    char out[1100], err[2048];
    int fd = seg_create(log_dir, 1, 1);
    snap_reader_t r;
    cat_t cat;
    cat_view_t v;
    const char *w;
    size_t len;
    uint64_t count;
    unsigned char pre[CAT_PREFIX_MAX];
    size_t pl = cat_prefix(2, pre);

    cr_assert_geq(fd, 0);
    put_op(fd, REC_TABLE_CREATE, 7, "t", 1); /* generation 1 */
    put_words(fd, REC_UPLOAD, 7, "a", 2, 2);
    put_words(fd, REC_UPLOAD, 0, "d", 1, 3);
    put_op(fd, REC_TABLE_TRUNCATE, 7, "t", 4); /* generation 2 */
    put_words(fd, REC_UPLOAD, 7, "b", 1, 5);
    put_op(fd, REC_TABLE_CREATE, 9, "u", 6); /* generation 3 */
    put_words(fd, REC_UPLOAD, 9, "c", 1, 7);
    put_op(fd, REC_TABLE_DROP, 9, "u", 8);
    put_words(fd, REC_RETRACT, 0, "d", 1, 9);
    close(fd);
    cr_assert_eq(snap_compact(snap_dir, log_dir, NULL, 9, 1, NULL, out,
                              sizeof(out), err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(snap_next(&r, &w, &len, &count, err, sizeof(err)), MEMDB_OK);
    cr_assert_eq(len, pl + 1);
    cr_assert(memcmp(w, pre, pl) == 0 && w[pl] == 'b' && count == 1);
    cr_assert_eq(snap_next(&r, &w, &len, &count, err, sizeof(err)),
                 MEMDB_AGAIN, "only t's word of its last generation");
    cat_private(&cat, 8);
    cr_assert_eq(snap_catalog(&r, &cat, err, sizeof(err)), MEMDB_OK, "%s",
                 err);
    cr_assert_eq(cat_count(&cat), 2);
    cr_assert_eq(cat_find(&cat, "t", 1, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 2);
    cr_assert_eq(v.uid, 7);
    cr_assert_eq(v.op_lsn, 4);
    cr_assert_eq(cat_find(&cat, "u", 1, &v), MEMDB_NOENT);
    cr_assert_eq(atomic_load(&cat.hdr->next_gen), 4);
    cr_assert_eq(cat_find(&cat, "default", 7, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 0);
    snap_close(&r);
    /* too small a catalog for the snapshot's tables: refused, named */
    cat_private_free(&cat);
    cat_private(&cat, 1);
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(snap_catalog(&r, &cat, err, sizeof(err)), MEMDB_ERR);
    cr_assert(strstr(err, "catalog") != NULL, "%s", err);
    snap_close(&r);
    cat_private_free(&cat);
    /* a flipped byte in the catalog block: its checksum */
    {
        int f = open(out, O_RDWR);
        unsigned char c;
        cr_assert_eq(pread(f, &c, 1, SNAP_HDR + 16 + 3), 1);
        c ^= 0x40;
        cr_assert_eq(pwrite(f, &c, 1, SNAP_HDR + 16 + 3), 1);
        close(f);
    }
    cr_assert_eq(snap_open(&r, out, err, sizeof(err)), MEMDB_ERR);
    cr_assert(strstr(err, "catalog block checksum") != NULL, "%s", err);
}

/* The catalog written by the writer is the one read back; the catalog a
 * store starts with is not written at all (a version 2 reader's file). */
Test(snap, catalog_round_trip)
{
    char path[1100], err[2048];
    snap_writer_t w;
    snap_reader_t r;
    cat_t c, back;
    cat_view_t v;
    unsigned char prof[CAT_PROF_MAX];

    cat_private(&c, 4);
    cat_private(&back, 4);
    cr_assert_eq(snap_writer_open(&w, snap_dir, 3, 1), MEMDB_OK);
    cr_assert_eq(snap_writer_catalog(&w, &c), MEMDB_OK);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(path, sizeof(path), snap_dir, 3);
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.cat.len, 0);
    snap_close(&r);
    cr_assert_eq(cat_create(&c, 5, "t", 1, "\1\2", 2, 77, 2), MEMDB_OK);
    cr_assert_eq(cat_truncate(&c, 0, 3), MEMDB_OK);
    cr_assert_eq(snap_writer_open(&w, snap_dir, 4, 1), MEMDB_OK);
    cr_assert_eq(snap_writer_catalog(&w, &c), MEMDB_OK);
    cr_assert_eq(snap_writer_commit(&w), MEMDB_OK);
    snap_path(path, sizeof(path), snap_dir, 4);
    cr_assert_eq(snap_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_gt(r.cat.len, 0);
    cr_assert_eq(snap_catalog(&r, &back, err, sizeof(err)), MEMDB_OK, "%s",
                 err);
    snap_close(&r);
    cr_assert_eq(cat_count(&back), 2);
    cr_assert_eq(atomic_load(&back.hdr->next_gen), 3);
    cr_assert_eq(cat_find(&back, "t", 1, &v), MEMDB_OK);
    cr_assert_eq(v.uid, 5);
    cr_assert_eq(v.gen, 1);
    cr_assert_eq(v.created_ms, 77);
    cr_assert_eq(cat_profile(&back, &v, prof), 2);
    cr_assert(memcmp(prof, "\1\2", 2) == 0);
    cr_assert_eq(cat_find(&back, "default", 7, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 2, "default was truncated");
    cat_private_free(&c);
    cat_private_free(&back);
}
