/*
 * test_seg.c - change-log segment files: the header seg_create writes,
 * reading records back (including records bigger than the read chunk),
 * directory listings, and how damaged headers, records and tails show.
 */
#define _GNU_SOURCE 1 /* nftw, before any system header */
#include <criterion/criterion.h>

#include "tests/unit/tmpdir.h"

#include "src/changelog/seg.h"
#include "src/changelog/rec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static char dir[256];

static void
setup(void)
{
    tmpdir_make(dir, sizeof(dir), "seg");
}

static void
teardown(void)
{
    tmpdir_remove(dir);
}

TestSuite(seg, .init = setup, .fini = teardown);

/* The record with this LSN: nwords words "r<lsn>w<i>" of which the first
 * is padded to pad bytes (0: short words only).  Deterministic, so a
 * reader can rebuild it to compare bytes. */
static void
make_rec(buf_t *b, uint64_t lsn, unsigned nwords, size_t pad)
{
    static char big[60000];
    char w[64];

    rec_begin(b, REC_UPLOAD);
    for (unsigned k = 0; b->len < pad; k++) {
        /* long words (at most 60000 bytes) until the record is pad bytes */
        size_t l = MEMDB_MAX(MEMDB_MIN(sizeof(big), pad - b->len), 24);
        memset(big, 'a' + (int) ((lsn + k) % 26), l);
        memcpy(big, w,
               (size_t) snprintf(w, sizeof(w), "%llu.%u.",
                                 (unsigned long long) lsn, k));
        rec_add(b, big, l, k + 1);
    }
    for (unsigned i = 0; i < nwords; i++) {
        int n = snprintf(w, sizeof(w), "r%llu_w%u", (unsigned long long) lsn,
                         i);
        rec_add(b, w, (size_t) n, lsn + i);
    }
    rec_finish(b->data, lsn, 3);
}

static size_t
file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
    return (size_t) st.st_size;
}

/* Writes records first..last (shape from shape()) into a new segment;
 * offs[i] gets the offset of record first+i. */
typedef struct shape_s {
    unsigned nwords;
    size_t pad;
} shape_t;

static shape_t
shape_small(uint64_t lsn)
{
    shape_t s = { (unsigned) (lsn % 7) + 1, 0 };
    return s;
}

static void
write_seg(uint64_t first, uint64_t last, shape_t (*shape)(uint64_t),
          uint64_t *offs)
{
    buf_t b = { 0 };
    int fd = seg_create(dir, first, 3);
    uint64_t off = SEG_HDR;

    cr_assert_geq(fd, 0);
    for (uint64_t l = first; l <= last; l++) {
        shape_t s = shape(l);
        make_rec(&b, l, s.nwords, s.pad);
        if (offs)
            offs[l - first] = off;
        /* every other record with pwrite at the explicit offset */
        if (l % 2)
            cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
        else {
            cr_assert_eq(pwrite(fd, b.data, b.len, (off_t) off),
                         (ssize_t) b.len);
            cr_assert_eq(lseek(fd, (off_t) (off + b.len), SEEK_SET),
                         (off_t) (off + b.len));
        }
        off += b.len;
    }
    close(fd);
    buf_free(&b);
}

static void
path_of(char *out, uint64_t first)
{
    seg_path(out, 1100, dir, first);
}

/* Reads every record of the segment, checking each against make_rec and
 * its offset, until SEG_END; returns how many. */
static uint64_t
read_all(const char *path, uint64_t first, shape_t (*shape)(uint64_t),
         const uint64_t *offs)
{
    seg_reader_t r;
    char err[2048];
    const void *rec;
    uint32_t len;
    rec_status_e st;
    seg_read_e e;
    buf_t b = { 0 };
    uint64_t n = 0;

    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(r.hdr.first_lsn, first);
    while ((e = seg_next(&r, &rec, &len, &st)) == SEG_REC) {
        uint64_t lsn = first + n;
        shape_t s = shape(lsn);
        make_rec(&b, lsn, s.nwords, s.pad);
        cr_assert_eq(len, b.len, "lsn %llu: len %u, expected %zu",
                     (unsigned long long) lsn, len, b.len);
        cr_assert_eq(memcmp(rec, b.data, len), 0, "lsn %llu differs",
                     (unsigned long long) lsn);
        if (offs)
            cr_assert_eq(seg_rec_off(&r), offs[n],
                         "lsn %llu at %llu, not "
                         "%llu",
                         (unsigned long long) lsn,
                         (unsigned long long) seg_rec_off(&r),
                         (unsigned long long) offs[n]);
        n++;
    }
    cr_assert_eq(e, SEG_END, "read ended with %d", (int) e);
    cr_assert_eq(seg_next(&r, &rec, &len, &st), SEG_END);
    seg_close(&r);
    buf_free(&b);
    return n;
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

/* ---- header ----------------------------------------------------------- */

Test(seg, create_writes_a_valid_header)
{
    char path[1100];
    seg_hdr_t h;
    int fd = seg_create(dir, 12345, 9);

    cr_assert_geq(fd, 0);
    close(fd);
    path_of(path, 12345);
    cr_assert_str_eq(strrchr(path, '/') + 1, "00000000000000012345.seg");
    cr_assert_eq(file_size(path), SEG_HDR);
    fd = open(path, O_RDONLY);
    cr_assert_eq(read(fd, &h, sizeof(h)), (ssize_t) sizeof(h));
    close(fd);
    cr_assert(seg_hdr_valid(&h));
    cr_assert_eq(h.magic, SEG_MAGIC);
    cr_assert_eq(memcmp(&h.magic, "MDBSEG01", 8), 0);
    cr_assert_eq(h.version, SEG_VERSION);
    cr_assert_eq(h.hdr_size, SEG_HDR);
    cr_assert_eq(h.first_lsn, 12345);
    cr_assert_eq(h.epoch, 9);
    cr_assert_gt(h.created_ms, 0);
    cr_assert_eq(h.reserved[0], 0);
    cr_assert_eq(h.reserved[1], 0);
    /* every header byte is covered by the checksum */
    for (size_t i = 0; i < SEG_HDR; i++) {
        seg_hdr_t c = h;
        ((unsigned char *) &c)[i] ^= 0x10;
        cr_assert(!seg_hdr_valid(&c), "flipped byte %zu not detected", i);
    }
}

Test(seg, create_replaces_a_segment_with_the_same_first_lsn)
{
    char path[1100];
    write_seg(7, 20, shape_small, NULL);
    path_of(path, 7);
    cr_assert_gt(file_size(path), SEG_HDR);
    int fd = seg_create(dir, 7, 4);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(file_size(path), SEG_HDR);
    cr_assert_eq(read_all(path, 7, shape_small, NULL), 0);
}

Test(seg, create_fails_in_a_missing_directory)
{
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/no/such/dir", dir);
    cr_assert_eq(seg_create(sub, 1, 0), -1);
}

Test(seg, open_rejects_bad_headers)
{
    char path[1100], err[2048];
    seg_reader_t r;

    /* missing file */
    path_of(path, 1);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_ERR);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_eq(r.fd, -1);

    /* every single flipped header byte */
    write_seg(1, 3, shape_small, NULL);
    for (uint64_t off = 0; off < SEG_HDR; off++) {
        flip(path, off, 0x01);
        err[0] = '\0';
        cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_ERR,
                     "flipped header byte %llu accepted",
                     (unsigned long long) off);
        cr_assert_not_null(strstr(err, path), "%s", err);
        cr_assert_not_null(strstr(err, "offset 0"), "%s", err);
        flip(path, off, 0x01);
    }
    cr_assert_eq(read_all(path, 1, shape_small, NULL), 3);

    /* shorter than a header, and empty */
    cr_assert_eq(truncate(path, SEG_HDR - 1), 0);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_ERR);
    cr_assert_eq(truncate(path, 0), 0);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_ERR);

    /* a snapshot-like file of garbage */
    int fd = open(path, O_WRONLY | O_TRUNC);
    char junk[200];
    memset(junk, 'j', sizeof(junk));
    cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t) sizeof(junk));
    close(fd);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_ERR);
}

/* ---- reading ---------------------------------------------------------- */

Test(seg, empty_segment_reads_as_end)
{
    char path[1100];
    write_seg(5, 4, shape_small, NULL);
    path_of(path, 5);
    cr_assert_eq(read_all(path, 5, shape_small, NULL), 0);
}

Test(seg, many_records_read_back_in_order)
{
    enum { N = 60000 };
    char path[1100];
    uint64_t *offs = calloc(N, sizeof(uint64_t));

    write_seg(1000, 1000 + N - 1, shape_small, offs);
    path_of(path, 1000);
    cr_assert_gt(file_size(path), 2u << 20, "spans several read chunks");
    cr_assert_eq(read_all(path, 1000, shape_small, offs), N);
    free(offs);
}

static shape_t
shape_big(uint64_t lsn)
{
    /* small, 3 MiB, small, 1 MiB + 1, a run of 100 KiB ones, 1 MiB - 40 */
    static const size_t pads[] = {
        0, 3u << 20,        0, (1u << 20) + 1, 100000, 100000, 100000,
        0, (1u << 20) - 40, 0, 5u << 20,       0
    };
    shape_t s = { 2, pads[(lsn - 1) % MEMDB_NELEM(pads)] };
    return s;
}

Test(seg, records_bigger_than_the_read_chunk)
{
    enum { N = 24 };
    char path[1100];
    uint64_t offs[N];
    seg_reader_t r;
    char err[2048];
    const void *rec;
    uint32_t len;
    rec_status_e st;

    write_seg(1, N, shape_big, offs);
    path_of(path, 1);
    cr_assert_eq(read_all(path, 1, shape_big, offs), N);
    /* the 3 MiB record really is one record of that size */
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_OK);
    cr_assert_eq(seg_next(&r, &rec, &len, &st), SEG_REC);
    cr_assert_eq(seg_next(&r, &rec, &len, &st), SEG_REC);
    cr_assert_geq(len, 3u << 20);
    cr_assert_lt(len, (3u << 20) + 70000);
    rec_hdr_t h;
    memcpy(&h, rec, sizeof(h)); /* rec may be unaligned */
    cr_assert_eq(h.lsn, 2);
    seg_close(&r);
}

/* ---- listing ---------------------------------------------------------- */

static void
touch(const char *name, size_t size)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t) size), 0);
    close(fd);
}

Test(seg, list_sorts_by_first_lsn_and_ignores_other_names)
{
    seg_info_t *v;
    char path[1100];
    int n;

    write_seg(100, 110, shape_small, NULL);
    write_seg(1, 99, shape_small, NULL);
    write_seg(18446744073709551000ULL, 18446744073709551000ULL, shape_small,
              NULL);
    write_seg(50, 49, shape_small, NULL); /* empty */
    touch("00000000000000000002.seg.tmp", 10);
    touch("0000000000000000003.seg", 10);   /* 19 digits */
    touch("000000000000000000004.seg", 10); /* 21 digits */
    touch("0000000000000000000x.seg", 10);
    touch("00000000000000000005.snap", 10);
    touch("00000000000000000006.SEG", 10);
    touch("notes.txt", 10);
    touch(".seg", 10);

    n = seg_list(dir, &v);
    cr_assert_eq(n, 4);
    cr_assert_eq(v[0].first_lsn, 1);
    cr_assert_eq(v[1].first_lsn, 50);
    cr_assert_eq(v[2].first_lsn, 100);
    cr_assert_eq(v[3].first_lsn, 18446744073709551000ULL);
    for (int i = 0; i < n; i++) {
        path_of(path, v[i].first_lsn);
        cr_assert_str_eq(v[i].path, path);
        cr_assert_eq(v[i].size, file_size(path));
    }
    cr_assert_eq(v[1].size, SEG_HDR);
    cr_assert_gt(v[0].size, v[2].size);
    free(v);
}

Test(seg, list_of_missing_or_bad_directory)
{
    seg_info_t *v = (seg_info_t *) 1;
    char p[600];

    snprintf(p, sizeof(p), "%s/missing", dir);
    cr_assert_eq(seg_list(p, &v), 0);
    cr_assert_null(v);
    cr_assert_eq(seg_list(dir, &v), 0); /* empty */
    touch("file", 0);
    snprintf(p, sizeof(p), "%s/file", dir);
    cr_assert_eq(seg_list(p, &v), -1); /* not a directory */
}

/* ---- damage ----------------------------------------------------------- */

/* Reads records until something else than SEG_REC; returns it with the
 * count of good records, the status and the offset. */
static seg_read_e
read_until_bad(const char *path, uint64_t *good, rec_status_e *st,
               uint64_t *off)
{
    seg_reader_t r;
    char err[2048];
    const void *rec;
    uint32_t len;
    seg_read_e e;

    *good = 0;
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    while ((e = seg_next(&r, &rec, &len, st)) == SEG_REC)
        (*good)++;
    *off = seg_rec_off(&r);
    seg_close(&r);
    return e;
}

Test(seg, corrupted_record_is_bad_at_its_offset)
{
    enum { N = 10 };
    char path[1100];
    uint64_t offs[N], good, off;
    rec_status_e st;

    write_seg(1, N, shape_small, offs);
    path_of(path, 1);

    /* a payload byte of record 5 */
    flip(path, offs[4] + REC_HDR + 3, 0x20);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, 4);
    cr_assert_eq(st, REC_BAD_CHECKSUM);
    cr_assert_eq(off, offs[4]);
    flip(path, offs[4] + REC_HDR + 3, 0x20);

    /* its magic */
    flip(path, offs[4], 0x01);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, 4);
    cr_assert_eq(st, REC_BAD_MAGIC);
    cr_assert_eq(off, offs[4]);
    flip(path, offs[4], 0x01);

    /* its checksum, its lsn */
    flip(path, offs[4] + 32, 0x80);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(st, REC_BAD_CHECKSUM);
    cr_assert_eq(off, offs[4]);
    flip(path, offs[4] + 32, 0x80);
    flip(path, offs[4] + 8, 0x02);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(st, REC_BAD_CHECKSUM);
    cr_assert_eq(off, offs[4]);
    flip(path, offs[4] + 8, 0x02);

    /* the first and the last record */
    flip(path, offs[0] + REC_HDR, 0x04);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, 0);
    cr_assert_eq(off, SEG_HDR);
    flip(path, offs[0] + REC_HDR, 0x04);
    flip(path, file_size(path) - 1, 0x04);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, N - 1);
    cr_assert_eq(off, offs[N - 1]);
    flip(path, file_size(path) - 1, 0x04);

    cr_assert_eq(read_all(path, 1, shape_small, offs), N);
}

Test(seg, corrupted_big_record_is_bad_at_its_offset)
{
    char path[1100];
    uint64_t offs[4], good, off;
    rec_status_e st;

    write_seg(1, 4, shape_big, offs);
    path_of(path, 1);
    /* a byte deep inside the 3 MiB record 2 */
    flip(path, offs[1] + (2u << 20) + 12345, 0x01);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, 1);
    cr_assert_eq(st, REC_BAD_CHECKSUM);
    cr_assert_eq(off, offs[1]);
}

Test(seg, truncated_record_at_eof_is_short)
{
    enum { N = 6 };
    char path[1100];
    uint64_t offs[N], good, off;
    rec_status_e st;
    size_t size;

    write_seg(1, N, shape_small, offs);
    path_of(path, 1);
    size = file_size(path);

    /* every cut inside the last record, header included (shrinking, so
     * no cut extends the file with zeros) */
    for (uint64_t cut = size - 1; cut > offs[N - 1]; cut--) {
        cr_assert_eq(truncate(path, (off_t) cut), 0);
        cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD,
                     "cut at %llu", (unsigned long long) cut);
        cr_assert_eq(good, N - 1);
        cr_assert_eq(st, REC_SHORT, "cut at %llu: %s",
                     (unsigned long long) cut, rec_status_str(st));
        cr_assert_eq(off, offs[N - 1]);
    }
    /* cut exactly between records: a clean end */
    cr_assert_eq(truncate(path, (off_t) offs[N - 1]), 0);
    cr_assert_eq(read_all(path, 1, shape_small, offs), N - 1);
}

Test(seg, truncated_big_record_is_short)
{
    char path[1100];
    uint64_t offs[3], good, off;
    rec_status_e st;

    write_seg(1, 2, shape_big, offs);
    path_of(path, 1);
    cr_assert_eq(truncate(path, (off_t) (offs[1] + (2u << 20))), 0);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, 1);
    cr_assert_eq(st, REC_SHORT);
    cr_assert_eq(off, offs[1]);
}

Test(seg, zeros_after_the_last_record_are_bad_magic_or_short)
{
    enum { N = 3 };
    char path[1100], z[100000];
    uint64_t offs[N], good, off;
    rec_status_e st;
    size_t end;

    write_seg(1, N, shape_small, offs);
    path_of(path, 1);
    end = file_size(path);
    memset(z, 0, sizeof(z));
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, z, 10), 10);
    close(fd);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, N);
    cr_assert_eq(st, REC_SHORT);
    cr_assert_eq(off, end);
    fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, z, sizeof(z)), (ssize_t) sizeof(z));
    close(fd);
    cr_assert_eq(read_until_bad(path, &good, &st, &off), SEG_BAD);
    cr_assert_eq(good, N);
    cr_assert_eq(st, REC_BAD_MAGIC);
    cr_assert_eq(off, end);
}

Test(seg, zero_tail)
{
    char path[1100];
    unsigned char data[1000], z[200000];
    int fd;

    memset(data, 0x5a, sizeof(data));
    memset(z, 0, sizeof(z));
    snprintf(path, sizeof(path), "%s/f", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t) sizeof(data));
    cr_assert_eq(write(fd, z, sizeof(z)), (ssize_t) sizeof(z));
    uint64_t size = sizeof(data) + sizeof(z);

    cr_assert(seg_zero_tail(fd, sizeof(data), size));
    cr_assert(seg_zero_tail(fd, sizeof(data) + 70000, size));
    cr_assert(seg_zero_tail(fd, size, size), "nothing left is all zeros");
    cr_assert(!seg_zero_tail(fd, sizeof(data) - 1, size));
    cr_assert(!seg_zero_tail(fd, 0, size));
    /* a size past EOF cannot be read: not a zero tail */
    cr_assert(!seg_zero_tail(fd, sizeof(data), size + 1));

    /* one non-zero byte far behind the first 64 KiB read */
    unsigned char one = 1;
    cr_assert_eq(pwrite(fd, &one, 1, (off_t) (size - 1)), 1);
    cr_assert(!seg_zero_tail(fd, sizeof(data), size));
    cr_assert(seg_zero_tail(fd, sizeof(data), size - 1));
    cr_assert_eq(pwrite(fd, &one, 1, (off_t) (sizeof(data) + 65536)), 1);
    cr_assert(!seg_zero_tail(fd, sizeof(data), size - 1));
    cr_assert(seg_zero_tail(fd, sizeof(data) + 65537, size - 1));
    close(fd);
}

/* Found by fuzz_seg: a damaged length field claiming ~2 GiB made the
 * reader allocate that much before finding the file short.  The buffer now
 * never grows past what the file holds. */
Test(seg, huge_length_field_is_short_without_a_huge_buffer)
{
    char path[1100], err[1200];
    buf_t b = { 0 };
    rec_hdr_t h;
    seg_reader_t r;
    const void *rec;
    uint32_t len;
    rec_status_e st;
    int fd;

    fd = seg_create(dir, 1, 1);
    cr_assert(fd >= 0);
    make_rec(&b, 1, 3, 0);
    memcpy(&h, b.data, sizeof(h));
    h.len = REC_MAX_LEN; /* claims 2 GiB */
    memcpy(b.data, &h, sizeof(h));
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t) b.len);
    close(fd);
    path_of(path, 1);
    cr_assert_eq(seg_open(&r, path, err, sizeof(err)), MEMDB_OK, "%s", err);
    cr_assert_eq(seg_next(&r, &rec, &len, &st), SEG_BAD);
    cr_assert_eq(st, REC_SHORT);
    cr_assert_eq(seg_rec_off(&r), SEG_HDR);
    cr_assert(r.buf.cap < (64u << 20), "buffer of %zu bytes", r.buf.cap);
    seg_close(&r);
    buf_free(&b);
}
