/*
 * ptokbench.c - what a tokenizer profile costs: the ingest rate of ptok_t
 * with the unicode profile against ICU's word break iterator alone on the
 * same text, and the default profile (tok_t) for scale.
 *
 *   ptokbench [-m MB] FILE...
 *
 * The files are concatenated and repeated to about MB megabytes (10).
 * Each rate is the best of three runs, in MB/s of UTF-8 input:
 *   icu       ubrk_setText over the whole text as UTF-16 (converted
 *             beforehand, not timed), then ubrk_next and
 *             ubrk_getRuleStatus to the end: the floor of any UAX #29
 *             tokenizer built on ICU;
 *   unicode   ptok_t, {"split":"unicode"}, fed in 64 KiB chunks, with a
 *             callback that only counts (validation, UTF-16 conversion,
 *             safe cuts, the word pipeline, the callback);
 *   unicode+fold+nfkc, and the default profile, the same way;
 *   +agg      the unicode profile counting into an agg_t, as an upload
 *             does;
 *   memory    the heap a ptok_t holds after the text (its buffers and
 *             break iterator: mallinfo2 before ptok_init and after
 *             ptok_finish), for the unicode profile and with NFKC.
 * Prints one JSON object; "ratio" is unicode / icu (the aim: >= 0.7).
 */
#include "src/words/agg.h"
#include "src/words/prof.h"
#include "src/core/util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unicode/ubrk.h>
#include <unicode/ustring.h>

static void
on_count(void *arg, const char *w, size_t len)
{
    (void) w;
    (void) len;
    (*(uint64_t *) arg)++;
}

static void
on_agg(void *arg, const char *w, size_t len)
{
    agg_add(arg, w, len);
}

static void
load(buf_t *b, int nfiles, char **files, size_t want)
{
    buf_t one = { 0 };
    char tmp[65536];

    for (int i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "rb");
        size_t n;

        if (f == NULL) {
            perror(files[i]);
            exit(2);
        }
        while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
            buf_append(&one, tmp, n);
        fclose(f);
        buf_putc(&one, '\n');
    }
    while (b->len < want)
        buf_append(b, one.data, one.len);
    buf_free(&one);
}

/* Seconds of ICU alone over text16; *words gets the word segments. */
static double
time_icu(const UChar *text16, int32_t n16, uint64_t *words)
{
    UErrorCode st = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_open(UBRK_WORD, "", NULL, 0, &st);
    uint64_t t0 = util_now_ns(), k = 0;

    ubrk_setText(bi, text16, n16, &st);
    if (U_FAILURE(st)) {
        fprintf(stderr, "ubrk: %s\n", u_errorName(st));
        exit(1);
    }
    ubrk_first(bi);
    while (ubrk_next(bi) != UBRK_DONE)
        if (ubrk_getRuleStatus(bi) >= UBRK_WORD_NONE_LIMIT)
            k++;
    *words = k;
    ubrk_close(bi);
    return (double) (util_now_ns() - t0) / 1e9;
}

static size_t ptok_heap; /* of the last time_ptok's ptok_t */

/* Seconds of a ptok_t with the profile in JSON over text. */
static double
time_ptok(const char *json, const buf_t *text, tok_word_fn fn, void *arg)
{
    ptok_t t;
    size_t heap0;
    cJSON *obj = cJSON_Parse(json);
    char err[256];
    prof_t p;
    uint64_t t0;

    memset(&t, 0, sizeof(t));
    if (prof_from_json(&p, obj, err, sizeof(err)) != MEMDB_OK)
        exit(1);
    heap0 = mallinfo2().uordblks;
    if (ptok_init(&t, &p, 65535, fn, arg) != MEMDB_OK) {
        fprintf(stderr, "ptokbench: %s\n", err);
        exit(1);
    }
    t0 = util_now_ns();
    for (size_t off = 0; off < text->len; off += 65536)
        ptok_feed(&t, text->data + off, MEMDB_MIN(65536, text->len - off));
    if (ptok_finish(&t) != TOK_OK) {
        fprintf(stderr, "ptokbench: tokenizer error\n");
        exit(1);
    }
    t0 = util_now_ns() - t0;
    ptok_heap = mallinfo2().uordblks - heap0;
    ptok_free(&t);
    prof_free(&p);
    cJSON_Delete(obj);
    return (double) t0 / 1e9;
}

static double
best3_ptok(const char *json, const buf_t *text, uint64_t *terms)
{
    double best = 1e9;

    for (int i = 0; i < 3; i++) {
        double s;

        *terms = 0;
        s = time_ptok(json, text, on_count, terms);
        best = MEMDB_MIN(best, s);
    }
    return best;
}

int
main(int argc, char **argv)
{
    size_t mb = 10;
    buf_t text = { 0 };
    UChar *text16;
    int32_t n16;
    UErrorCode st = U_ZERO_ERROR;
    uint64_t icu_words = 0, uni = 0, nfkc = 0, dflt = 0;
    double icu = 1e9, s_uni, s_nfkc, s_dflt, s_agg = 1e9;
    size_t heap_uni, heap_nfkc;
    int opt;

    while ((opt = getopt(argc, argv, "m:")) != -1)
        if (opt == 'm')
            mb = strtoul(optarg, NULL, 10);
    if (optind >= argc) {
        fprintf(stderr, "usage: ptokbench [-m MB] FILE...\n");
        return 2;
    }
    load(&text, argc - optind, argv + optind, mb << 20);
    text16 = xmalloc((text.len + 1) * sizeof(UChar));
    u_strFromUTF8(text16, (int32_t) text.len + 1, &n16, text.data,
                  (int32_t) text.len, &st);
    for (int i = 0; i < 3; i++)
        icu = MEMDB_MIN(icu, time_icu(text16, n16, &icu_words));
    s_uni = best3_ptok("{\"split\":\"unicode\"}", &text, &uni);
    heap_uni = ptok_heap;
    s_nfkc = best3_ptok("{\"split\":\"unicode\",\"case\":\"fold\","
                        "\"normalize\":\"nfkc\"}",
                        &text, &nfkc);
    heap_nfkc = ptok_heap;
    s_dflt = best3_ptok("{}", &text, &dflt);
    for (int i = 0; i < 3; i++) {
        static agg_t a;

        agg_reset(&a);
        s_agg = MEMDB_MIN(
            s_agg, time_ptok("{\"split\":\"unicode\"}", &text, on_agg, &a));
    }
    double mbytes = (double) text.len / 1e6;
    printf("{\"bytes\": %zu, \"icu_mb_s\": %.1f, \"icu_words\": %llu,\n"
           " \"unicode_mb_s\": %.1f, \"unicode_terms\": %llu,\n"
           " \"ratio\": %.2f,\n"
           " \"unicode_fold_nfkc_mb_s\": %.1f, \"unicode_agg_mb_s\": %.1f,\n"
           " \"default_mb_s\": %.1f, \"default_terms\": %llu,\n"
           " \"ptok_struct_bytes\": %zu, \"unicode_heap_bytes\": %zu,\n"
           " \"unicode_fold_nfkc_heap_bytes\": %zu}\n",
           text.len, mbytes / icu, (unsigned long long) icu_words,
           mbytes / s_uni, (unsigned long long) uni, icu / s_uni,
           mbytes / s_nfkc, mbytes / s_agg, mbytes / s_dflt,
           (unsigned long long) dflt, sizeof(ptok_t), heap_uni, heap_nfkc);
    (void) nfkc;
    free(text16);
    buf_free(&text);
    return uni == icu_words ? 0 : 1;
}
