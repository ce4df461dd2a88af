/*
 * tokdump.c - tokenizes a file with a profile (src/words/prof.h) and
 * prints each term and its count, "term<TAB>count" a line, in first-seen
 * order; tests/words/t_tokref.sh compares that with tokref.py, an
 * independent implementation on PyICU.
 *
 *   tokdump [-s SEED] [-p PIECE] [-w WINDOW] [-m MAX_WORD] PROFILE FILE
 *
 * PROFILE is the "tokenizer" JSON object.  SEED 0 (the default) feeds the
 * file in one chunk; another one in chunks of random sizes (1 byte to
 * 64 KiB).  PIECE and WINDOW lower ptok_t's piece and window, so that
 * cuts fall all over the text.  An error prints "error: KIND at OFFSET"
 * on stderr and exits 1; a bad argument exits 2.
 */
#include "src/words/agg.h"
#include "src/words/prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
on_term(void *arg, const char *w, size_t len)
{
    agg_add(arg, w, len);
}

static int
read_file(const char *path, buf_t *b)
{
    FILE *f = fopen(path, "rb");
    char tmp[65536];
    size_t n;

    if (f == NULL) {
        perror(path);
        return MEMDB_ERR;
    }
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(b, tmp, n);
    fclose(f);
    return MEMDB_OK;
}

/* Next chunk size: mostly small, sometimes large. */
static size_t
chunk_size(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    switch ((*seed >> 33) % 4) {
    case 0: return 1 + (*seed >> 40) % 4;
    case 1: return 1 + (*seed >> 40) % 64;
    case 2: return 1 + (*seed >> 40) % 4096;
    default: return 1 + (*seed >> 40) % 65536;
    }
}

static tok_err_e
feed(ptok_t *t, const buf_t *body, uint64_t seed)
{
    size_t off = 0;
    tok_err_e e = TOK_OK;

    if (seed == 0)
        return ptok_feed(t, body->data, body->len);
    while (e == TOK_OK && off < body->len) {
        size_t n = chunk_size(&seed);

        n = MEMDB_MIN(n, body->len - off);

        e = ptok_feed(t, body->data + off, n);
        off += n;
    }
    return e;
}

int
main(int argc, char **argv)
{
    uint64_t seed = 0, err_off = 0;
    size_t piece = 0, window = 0, max_word = 65535;
    static agg_t a;
    static ptok_t t;
    buf_t body = { 0 };
    prof_t p;
    cJSON *obj;
    char err[512];
    int opt;
    tok_err_e e;

    while ((opt = getopt(argc, argv, "s:p:w:m:")) != -1) {
        if (opt == 's')
            seed = strtoull(optarg, NULL, 10);
        else if (opt == 'p')
            piece = strtoull(optarg, NULL, 10);
        else if (opt == 'w')
            window = strtoull(optarg, NULL, 10);
        else if (opt == 'm')
            max_word = strtoull(optarg, NULL, 10);
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: tokdump [-s SEED] [-p PIECE] [-w WINDOW] "
                        "[-m MAX_WORD] PROFILE FILE\n");
        return 2;
    }
    obj = cJSON_Parse(argv[optind]);
    if (obj == NULL || prof_from_json(&p, obj, err, sizeof(err)) != MEMDB_OK) {
        fprintf(stderr, "tokdump: %s\n", obj ? err : "bad JSON");
        return 2;
    }
    if (read_file(argv[optind + 1], &body) != MEMDB_OK
        || ptok_init(&t, &p, max_word, on_term, &a) != MEMDB_OK)
        return 2;
    if (piece > 0)
        t.piece = piece;
    if (window > 0)
        t.window = window;
    e = feed(&t, &body, seed);
    if (e == TOK_OK)
        e = ptok_finish(&t);
    if (e != TOK_OK) {
        ptok_err(&t, &err_off);
        fprintf(stderr, "error: %s at %llu\n",
                e == TOK_BAD_UTF8 ? "bad_utf8" : "word_too_long",
                (unsigned long long) err_off);
        return 1;
    }
    for (size_t i = 0; i < a.n; i++)
        printf("%.*s\t%llu\n", (int) a.ents[i].len, agg_key(&a, &a.ents[i]),
               (unsigned long long) a.ents[i].count);
    ptok_free(&t);
    prof_free(&p);
    cJSON_Delete(obj);
    agg_free(&a);
    buf_free(&body);
    return 0;
}
