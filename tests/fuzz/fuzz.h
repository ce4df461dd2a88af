/*
 * fuzz.h - helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput().  Built with clang
 * -fsanitize=fuzzer (configure --enable-fuzz) it is a libFuzzer binary
 * (make fuzz); linked with replay.c instead it is a plain program that runs
 * the saved corpus once (tests/fuzz/replay.sh, part of make check in every
 * build).
 */
#ifndef MEMDB_TESTS_FUZZ_FUZZ_H
#define MEMDB_TESTS_FUZZ_FUZZ_H

#include "src/core/memdb.h"
#include "src/changelog/rec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: report it and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                    __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* An in-memory file (memfd) the readers can open(2) by path, so a target
 * exercises the real file-reading code without touching the disk. */
typedef struct fuzz_file_s {
    int fd;
    char path[64];
} fuzz_file_t;

static inline void
fuzz_file_init(fuzz_file_t *f, const char *name)
{
    f->fd = memfd_create(name, MFD_CLOEXEC);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

/* Replaces the file's content with p[0..n). */
static inline void
fuzz_file_set(fuzz_file_t *f, const void *p, size_t n)
{
    const char *c = p;

    if (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0) {
        perror("ftruncate");
        abort();
    }
    while (n > 0) {
        ssize_t w = write(f->fd, c, n);
        if (w <= 0) {
            perror("write");
            abort();
        }
        c += w;
        n -= (size_t) w;
    }
}

/* Random bytes almost never carry a right XXH3 checksum, so a target that
 * only fed them as they are would test the checksum compare and nothing
 * behind it.  fuzz_reseal() walks change records back to back in p[0..n)
 * and recomputes the checksum of each one whose header is plausible, so the
 * code that decodes the payload is reached too.  Returns the bytes walked. */
static inline size_t
fuzz_reseal(unsigned char *p, size_t n)
{
    size_t off = 0;

    while (n - off >= REC_HDR) {
        rec_hdr_t h;

        unsigned char *tmp;

        memcpy(&h, p + off, sizeof(h));
        if (h.magic != REC_MAGIC || h.len < REC_HDR || h.len > n - off)
            break;
        /* rec_seal() wants an aligned record */
        tmp = malloc(h.len);
        memcpy(tmp, p + off, h.len);
        rec_seal(tmp);
        memcpy(p + off, tmp, h.len);
        free(tmp);
        off += h.len;
    }
    return off;
}

#endif
