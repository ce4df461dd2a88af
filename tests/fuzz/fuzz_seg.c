/*
 * fuzz_seg.c - the change-log segment reader (src/changelog/seg.c), as
 * recovery, compaction, log shipping and memdbctl log read segments.
 *
 * The input is a segment file.  It is read twice: as it is, and with its
 * header and record checksums recomputed (fuzz_reseal), so that mutations
 * reach the record decoding behind the checksums.  Checks: every record
 * seg_next() returns passes rec_check() and decodes to its end; offsets
 * grow by the record lengths; a clean end is the end of the file.
 */
#include "tests/fuzz/fuzz.h"
#include "src/changelog/seg.h"
#include "src/core/log.h"

#include <xxhash.h>

static fuzz_file_t file;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    log_set_level(LOG_LVL_ERROR);
    fuzz_file_init(&file, "fuzz.seg");
    return 0;
}

static void
read_all(const void *data, size_t size)
{
    seg_reader_t r;
    char err[1200];
    const void *rec;
    uint32_t len;
    rec_status_e st;
    seg_read_e e;
    uint64_t expect = SEG_HDR;

    fuzz_file_set(&file, data, size);
    if (seg_open(&r, file.path, err, sizeof(err)) != MEMDB_OK) {
        FUZZ_CHECK(strstr(err, "bad segment header") != NULL
                   || strstr(err, "segment format version") != NULL);
        return;
    }
    FUZZ_CHECK(seg_hdr_valid(&r.hdr));
    while ((e = seg_next(&r, &rec, &len, &st)) == SEG_REC) {
        rec_iter_t it;
        const char *w;
        size_t wl;
        uint64_t d;
        uint32_t len2;
        int rc;

        FUZZ_CHECK(seg_rec_off(&r) == expect);
        FUZZ_CHECK(rec_check(rec, len, &len2) == REC_OK && len2 == len);
        rec_iter_init(&it, rec);
        while ((rc = rec_next(&it, &w, &wl, &d)) == MEMDB_OK)
            FUZZ_CHECK(wl > 0 && d > 0);
        FUZZ_CHECK(rc == MEMDB_AGAIN);
        expect += len;
    }
    FUZZ_CHECK(seg_rec_off(&r) == expect);
    if (e == SEG_END)
        FUZZ_CHECK(expect == size);
    if (e == SEG_BAD) {
        FUZZ_CHECK(st != REC_OK);
        (void) seg_zero_tail(r.fd, expect, size);
    }
    FUZZ_CHECK(e != SEG_IOERR);
    seg_close(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy;
    seg_hdr_t h;

    read_all(data, size);
    if (size < SEG_HDR)
        return 0;

    /* the same with the checksums right */
    copy = malloc(size);
    memcpy(copy, data, size);
    memcpy(&h, copy, sizeof(h));
    h.magic = SEG_MAGIC;
    h.version = SEG_VERSION;
    h.hdr_size = SEG_HDR;
    h.checksum = XXH3_64bits(&h, offsetof(seg_hdr_t, checksum));
    memcpy(copy, &h, sizeof(h));
    fuzz_reseal(copy + SEG_HDR, size - SEG_HDR);
    read_all(copy, size);
    free(copy);
    return 0;
}
