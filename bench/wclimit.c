/*
 * wclimit.c - the physical limit of bulk ingest: one process, no network,
 * no sharing: read a file, tokenize it with memdb's own tokenizer (same
 * whitespace rules, UTF-8 validation), hash and count every word in a
 * private table.  Prints MB/s and words/s.
 *
 *   wclimit [-b] FILE
 *
 * -b counts with agg_push (a batch of words hashed and prefetched at a
 * time, as memdb's uploads do) instead of agg_add, one word at a time.
 */
#include "src/words/agg.h"
#include "src/words/tok.h"
#include "src/core/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
on_word(void *arg, const char *w, size_t len)
{
    agg_add(arg, w, len);
}

static void
on_word_batched(void *arg, const char *w, size_t len)
{
    agg_push(arg, w, len);
}

int
main(int argc, char **argv)
{
    static agg_t a;
    static tok_t t;
    struct stat st;
    char *data;
    int fd;
    uint64_t t0, t1;

    bool batched = argc > 2 && strcmp(argv[1], "-b") == 0;
    const char *path = argv[batched ? 2 : 1];

    if (argc < 2 || (fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "usage: wclimit [-b] FILE\n");
        return 2;
    }
    data = xmalloc((size_t) st.st_size);
    if (read(fd, data, (size_t) st.st_size) != st.st_size)
        return 1;
    t0 = util_now_ns();
    tok_init(&t, 65535, batched ? on_word_batched : on_word, &a);
    for (off_t off = 0; off < st.st_size; off += 65536)
        tok_feed(&t, data + off, (size_t) MEMDB_MIN(65536, st.st_size - off));
    tok_finish(&t);
    agg_flush(&a);
    t1 = util_now_ns();
    printf("{\"bytes\": %lld, \"words\": %llu, \"distinct\": %zu, "
           "\"seconds\": %.6f}\n",
           (long long) st.st_size, (unsigned long long) a.words, a.n,
           (double) (t1 - t0) / 1e9);
    return 0;
}
