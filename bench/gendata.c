/*
 * gendata.c - writes a synthetic data directory for the recovery benchmark:
 * a snapshot of W distinct words and change-log segments holding about B
 * bytes of upload records drawn from the same words with a Zipf-like
 * distribution (fixed seed, so runs are repeatable).
 *
 *   gendata DATA_DIR WORDS BYTES [WORDS_PER_RECORD]
 */
#include "src/changelog/rec.h"
#include "src/changelog/recover.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Zipf(s=1)-like rank in [0, n): inverse of a continuous approximation. */
static uint64_t
zipf(uint64_t n)
{
    double u = (double) (xorshift() >> 11) / 9007199254740992.0;
    double r = exp(u * log((double) n + 1.0)) - 1.0;
    uint64_t k = (uint64_t) r;
    return k < n ? k : n - 1;
}

int
main(int argc, char **argv)
{
    char log_dir[1100], snap_dir[1100], word[32];
    snap_writer_t w;
    buf_t rec = { 0 };
    uint64_t nwords, bytes, per, lsn = 1, written = 0;
    int fd;

    if (argc < 4) {
        fprintf(stderr, "usage: gendata DATA_DIR WORDS BYTES [PER_RECORD]\n");
        return 2;
    }
    nwords = strtoull(argv[2], NULL, 10);
    bytes = strtoull(argv[3], NULL, 10);
    per = argc > 4 ? strtoull(argv[4], NULL, 10) : 27;
    recover_dirs(argv[1], log_dir, snap_dir, sizeof(log_dir));
    util_mkdir_p(log_dir);
    util_mkdir_p(snap_dir);

    /* the snapshot at LSN 0 is implied by words counted once each: write
     * it at lsn 0 so every record replays */
    if (snap_writer_open(&w, snap_dir, 0, 0) != MEMDB_OK)
        return 1;
    for (uint64_t i = 0; i < nwords; i++) {
        int n = snprintf(word, sizeof(word), "w%09llu",
                         (unsigned long long) i);
        if (snap_writer_add(&w, word, (size_t) n, 1) != MEMDB_OK)
            return 1;
    }
    if (snap_writer_commit(&w) != MEMDB_OK)
        return 1;

    fd = seg_create(log_dir, 1, 0);
    if (fd < 0)
        return 1;
    while (written < bytes) {
        rec_begin(&rec, REC_UPLOAD);
        for (uint64_t j = 0; j < per; j++) {
            int n = snprintf(word, sizeof(word), "w%09llu",
                             (unsigned long long) zipf(nwords));
            rec_add(&rec, word, (size_t) n, 1 + (xorshift() & 1));
        }
        rec_finish(rec.data, lsn++, 0);
        if (util_write_all(fd, rec.data, rec.len) != MEMDB_OK)
            return 1;
        written += rec.len;
    }
    fsync(fd);
    close(fd);
    printf("%s: snapshot of %llu words, %llu records (%llu bytes)\n", argv[1],
           (unsigned long long) nwords, (unsigned long long) (lsn - 1),
           (unsigned long long) written);
    return 0;
}
