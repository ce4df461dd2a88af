/*
 * fuzz_tok.c - the tokenizer and UTF-8 validator (src/words/tok.c).
 *
 * Input: byte 0 picks store.max_word, byte 1 seeds the chunking, the rest
 * is an upload body.  The body is tokenized in one chunk and again in
 * random chunks (empty ones included, cutting words and characters
 * anywhere), and checked:
 *   - both runs give the same words, the same outcome and the same error
 *     offset;
 *   - no word is empty, longer than max_word, or contains a White_Space
 *     character, and every word is valid UTF-8;
 *   - a body accepted whole is valid UTF-8 (utf8_check), and its words are
 *     exactly its whitespace-separated runs (checked against a reference);
 *   - a body rejected for bad UTF-8 is rejected at utf8_check's offset.
 */
#include "tests/fuzz/fuzz.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_t one, many;
    size_t max_word;
    const char *body;
    size_t len;
    long bad;

    if (size < 2)
        return 0;
    max_word = data[0] & 0x80 ? 65535 : 1 + data[0];
    body = (const char *) data + 2;
    len = size - 2;

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
    buf_free(&one.words.all);
    buf_free(&many.words.all);
    return 0;
}
