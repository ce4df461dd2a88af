/*
 * fuzz_tok.c - the tokenizer and UTF-8 validator (src/words/tok.c), and
 * the tokenizer of profiles (src/words/ptok.c, src/words/prof.h).
 *
 * Input: byte 0 picks store.max_word, byte 1 seeds the chunking, byte 2
 * picks the profile (0: the default, tok_t), the rest is an upload body.
 *
 * Byte 2, bit by bit: 0 split unicode, 1 fold, 2-3 normalize (0 none,
 * 1 NFC, 2 NFKC, 3 none), 4 trim, 5-6 ngrams (1, 2, 3, 1), 7 small pieces
 * (a cut at every safe place) and, with an odd byte 1, a small window (a
 * forced cut).  A profile other than the default is run whole, split at a
 * point byte 1 picks, and in random chunks, and checked:
 *   - the three give the same terms and outcome, and the same error
 *     offset (with normalization, an offset into a piece of the text:
 *     only the two runs with the same pieces);
 *   - each term is valid UTF-8, not empty, at most max_word bytes;
 *   - accepted: the body is valid UTF-8; refused for bad UTF-8: at
 *     utf8_check's offset; too long: at an offset before that one.
 *
 * The default profile (byte 2 = 0) is tok_t's, as before profiles: the
 * body is tokenized in one chunk and again in random chunks (empty ones
 * included, cutting words and characters anywhere), and checked:
 *   - both runs give the same words, the same outcome and the same error
 *     offset;
 *   - no word is empty, longer than max_word, or contains a White_Space
 *     character, and every word is valid UTF-8;
 *   - a body accepted whole is valid UTF-8 (utf8_check), and its words are
 *     exactly its whitespace-separated runs (checked against a reference);
 *   - a body rejected for bad UTF-8 is rejected at utf8_check's offset.
 */
#include "tests/fuzz/fuzz.h"
#include "src/words/prof.h"
#include "src/words/tok.h"

typedef struct words_s {
    buf_t all; /* len (8 bytes) + word, for each word */
    size_t n;
    size_t max_word;
} words_t;

static void
on_word(void *arg, const char *w, size_t len)
{
    words_t *ws = arg;
    uint64_t l = len;

    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= ws->max_word);
    FUZZ_CHECK(utf8_check(w, len) == -1);
    for (size_t i = 0; i < len;) {
        int n = utf8_seq((const unsigned char *) w + i,
                         (const unsigned char *) w + len);
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(!utf8_is_space((const unsigned char *) w + i, n));
        i += (size_t) n;
    }
    buf_append(&ws->all, &l, sizeof(l));
    buf_append(&ws->all, w, len);
    ws->n++;
}

typedef struct run_s {
    words_t words;
    tok_err_e err;
    uint64_t err_off;
} run_t;

static void
run(run_t *r, size_t max_word, const char *body, size_t len, uint32_t seed)
{
    tok_t t;
    size_t off = 0;

    memset(&t, 0, sizeof(t));
    memset(r, 0, sizeof(*r));
    r->words.max_word = max_word;
    tok_init(&t, max_word, on_word, &r->words);
    if (seed == 0) {
        r->err = tok_feed(&t, body, len);
    } else {
        r->err = TOK_OK;
        while (r->err == TOK_OK && off <= len) {
            size_t n;

            seed = seed * 1103515245u + 12345u;
            n = (seed >> 16) % 9; /* 0..8 bytes, 0 included */
            if (n > len - off)
                n = len - off;
            r->err = tok_feed(&t, body + off, n);
            off += n;
            if (off == len && n == 0)
                break;
        }
    }
    if (r->err == TOK_OK)
        r->err = tok_finish(&t);
    FUZZ_CHECK(r->err == t.err);
    r->err_off = t.err_off;
    tok_free(&t);
}

/* The words of a valid body, found the slow way: split at every
 * White_Space character. */
static void
reference(words_t *ws, const char *body, size_t len)
{
    const unsigned char *p = (const unsigned char *) body, *end = p + len;
    const unsigned char *start = NULL;

    while (p < end) {
        int n = utf8_seq(p, end);

        FUZZ_CHECK(n > 0);
        if (utf8_is_space(p, n)) {
            if (start != NULL)
                on_word(ws, (const char *) start, (size_t) (p - start));
            start = NULL;
        } else if (start == NULL) {
            start = p;
        }
        p += n;
    }
    if (start != NULL)
        on_word(ws, (const char *) start, (size_t) (p - start));
}

/* ---- profiles ------------------------------------------------------------ */

/* The profile of byte 2 (see the top). */
static void
pick_profile(prof_t *p, uint8_t b)
{
    prof_default(p);
    p->split = b & 1 ? PROF_SPLIT_UNICODE : PROF_SPLIT_WHITESPACE;
    p->fold = (b >> 1) & 1;
    p->normalize = (b >> 2) & 3;
    if (p->normalize == 3)
        p->normalize = PROF_NORM_NONE;
    p->trim = (b >> 4) & 1;
    p->ngrams = (uint8_t) (1 + ((b >> 5) & 3) % 3);
}

/* How a profile run is fed: split at split (SIZE_MAX: none), or in
 * random chunks from seed (0: none); piece and window as given. */
typedef struct feed_s {
    size_t split;
    uint32_t seed;
    size_t piece, window;
} feed_t;

static void
on_term(void *arg, const char *w, size_t len)
{
    words_t *ws = arg;
    uint64_t l = len;

    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= ws->max_word);
    FUZZ_CHECK(utf8_check(w, len) == -1);
    buf_append(&ws->all, &l, sizeof(l));
    buf_append(&ws->all, w, len);
    ws->n++;
}

static void
prun(run_t *r, const prof_t *p, size_t max_word, const char *body, size_t len,
     const feed_t *f)
{
    static ptok_t t; /* kept: one break iterator for every input */
    tok_err_e e = TOK_OK;
    uint32_t seed = f->seed;

    memset(r, 0, sizeof(*r));
    r->words.max_word = max_word;
    FUZZ_CHECK(ptok_init(&t, p, max_word, on_term, &r->words) == MEMDB_OK);
    if (f->piece)
        t.piece = f->piece;
    if (f->window)
        t.window = f->window;
    if (f->split != SIZE_MAX) {
        e = ptok_feed(&t, body, f->split);
        if (e == TOK_OK)
            e = ptok_feed(&t, body + f->split, len - f->split);
    } else {
        for (size_t off = 0; e == TOK_OK && off < len;) {
            size_t n;

            seed = seed * 1103515245u + 12345u;
            n = MEMDB_MIN((size_t) (seed >> 16) % 17, len - off);
            e = ptok_feed(&t, body + off, n);
            off += n;
        }
    }
    if (e == TOK_OK)
        e = ptok_finish(&t);
    r->err = ptok_err(&t, &r->err_off);
    FUZZ_CHECK(e == r->err);
}

static void
same_run(const run_t *a, const run_t *b, bool offsets)
{
    FUZZ_CHECK(a->err == b->err);
    FUZZ_CHECK(!offsets || a->err == TOK_OK || a->err_off == b->err_off);
    if (a->err != TOK_OK)
        return;
    FUZZ_CHECK(a->words.n == b->words.n);
    FUZZ_CHECK(a->words.all.len == b->words.all.len);
    FUZZ_CHECK(
        a->words.all.len == 0
        || memcmp(a->words.all.data, b->words.all.data, a->words.all.len)
               == 0);
}

static void
fuzz_profile(const uint8_t *data, const char *body, size_t len,
             size_t max_word)
{
    prof_t p;
    run_t whole, split, chunks;
    feed_t f = { .split = SIZE_MAX };
    bool offs;
    long bad = utf8_check(body, len);

    pick_profile(&p, data[2]);
    offs = p.normalize == PROF_NORM_NONE;
    if (data[2] & 0x80 && data[1] & 1)
        f.window = 4 + data[1] % 61;
    prun(&whole, &p, max_word, body, len, &f);
    if (data[2] & 0x80)
        f.piece = 1 + data[1] % 16;
    f.split = len * data[1] / 255;
    prun(&split, &p, max_word, body, len, &f);
    f.split = SIZE_MAX;
    f.seed = 1 + data[1];
    prun(&chunks, &p, max_word, body, len, &f);
    same_run(&whole, &split, offs || !(data[2] & 0x80));
    same_run(&split, &chunks, true);
    if (whole.err == TOK_OK)
        FUZZ_CHECK(bad == -1);
    else if (whole.err == TOK_BAD_UTF8)
        FUZZ_CHECK(bad >= 0 && (uint64_t) bad == whole.err_off);
    else
        FUZZ_CHECK(whole.err_off < (bad >= 0 ? (uint64_t) bad : len));
    buf_free(&whole.words.all);
    buf_free(&split.words.all);
    buf_free(&chunks.words.all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_t one, many;
    size_t max_word;
    const char *body;
    size_t len;
    long bad;

    if (size < 3)
        return 0;
    max_word = data[0] & 0x80 ? 65535 : 1 + data[0];
    body = (const char *) data + 3;
    len = size - 3;
    if (data[2] != 0) {
        fuzz_profile(data, body, len, max_word);
        return 0;
    }

    run(&one, max_word, body, len, 0);
    run(&many, max_word, body, len, 1 + data[1]);
    bad = utf8_check(body, len);

    /* chunking changes nothing */
    FUZZ_CHECK(one.err == many.err);
    FUZZ_CHECK(one.err == TOK_OK || one.err_off == many.err_off);
    if (one.err == TOK_OK) {
        FUZZ_CHECK(one.words.n == many.words.n);
        FUZZ_CHECK(one.words.all.len == many.words.all.len);
        FUZZ_CHECK(one.words.all.len == 0
                   || memcmp(one.words.all.data, many.words.all.data,
                             one.words.all.len)
                          == 0);
    }

    /* the validator and the tokenizer agree */
    if (one.err == TOK_OK) {
        words_t ref = { .max_word = max_word };

        FUZZ_CHECK(bad == -1);
        reference(&ref, body, len);
        FUZZ_CHECK(ref.n == one.words.n);
        FUZZ_CHECK(ref.all.len == one.words.all.len);
        FUZZ_CHECK(ref.all.len == 0
                   || memcmp(ref.all.data, one.words.all.data, ref.all.len)
                          == 0);
        buf_free(&ref.all);
    } else if (one.err == TOK_BAD_UTF8) {
        FUZZ_CHECK(bad >= 0 && (uint64_t) bad == one.err_off);
    } else {
        FUZZ_CHECK(one.err == TOK_WORD_TOO_LONG);
        FUZZ_CHECK(one.err_off < len);
    }
    /* ptok_t with the default profile is tok_t */
    {
        prof_t p;
        run_t pt;
        feed_t f = { .split = len * data[1] / 255 };

        prof_default(&p);
        prun(&pt, &p, max_word, body, len, &f);
        same_run(&one, &pt, true);
        buf_free(&pt.words.all);
    }
    buf_free(&one.words.all);
    buf_free(&many.words.all);
    return 0;
}
