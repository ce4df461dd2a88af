/*
 * test_tok.c - the streaming tokenizer and the UTF-8 validator: the
 * White_Space set (and its near misses), multi-byte words, every kind of
 * malformed UTF-8 with its exact offset, word length limits, and the same
 * body fed in every possible chunking giving the same result; and the
 * per-upload aggregate fed word by word or in batches (agg_push).
 */
#include <criterion/criterion.h>

#include "src/words/agg.h"
#include "src/words/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

/* The words a tokenizer emitted, in order. */
typedef struct words_s {
    char **w;
    size_t *len;
    size_t n, cap;
} words_t;

static void
words_add(void *arg, const char *word, size_t len)
{
    words_t *ws = arg;

    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 16;
        ws->w = realloc(ws->w, ws->cap * sizeof(*ws->w));
        ws->len = realloc(ws->len, ws->cap * sizeof(*ws->len));
        cr_assert(ws->w != NULL && ws->len != NULL);
    }
    ws->w[ws->n] = malloc(len + 1);
    cr_assert(ws->w[ws->n] != NULL);
    memcpy(ws->w[ws->n], word, len);
    ws->w[ws->n][len] = '\0';
    ws->len[ws->n] = len;
    ws->n++;
}

static void
words_free(words_t *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        free(ws->w[i]);
    free(ws->w);
    free(ws->len);
    memset(ws, 0, sizeof(*ws));
}

static bool
words_equal(const words_t *a, const words_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] != b->len[i] || memcmp(a->w[i], b->w[i], a->len[i]))
            return false;
    return true;
}

/* Outcome of tokenizing one body. */
typedef struct run_s {
    words_t words;
    tok_err_e err; /* final error (TOK_OK if none) */
    uint64_t err_off;
    bool at_finish; /* the error came from tok_finish */
} run_t;

/* Tokenizes body[0..len) fed as chunks ending at cuts[0..ncuts) (strictly
 * increasing, each < len) and then at len; then tok_finish. */
static void
run_cuts(run_t *r, const char *body, size_t len, size_t max_word,
         const size_t *cuts, size_t ncuts)
{
    tok_t t;
    size_t from = 0;

    memset(r, 0, sizeof(*r));
    memset(&t, 0, sizeof(t));
    tok_init(&t, max_word, words_add, &r->words);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        tok_err_e e = tok_feed(&t, body + from, to - from);
        cr_assert_eq(e, t.err, "tok_feed's result and t->err disagree");
        if (e != TOK_OK) {
            r->err = e;
            r->err_off = t.err_off;
            /* The error is sticky. */
            cr_assert_eq(tok_feed(&t, "x y", 3), e);
            cr_assert_eq(tok_finish(&t), e);
            cr_assert_eq(t.err_off, r->err_off);
            tok_free(&t);
            return;
        }
        from = to;
    }
    r->err = tok_finish(&t);
    r->err_off = t.err_off;
    r->at_finish = r->err != TOK_OK;
    cr_assert_eq(r->err, t.err);
    tok_free(&t);
}

static void
run_whole(run_t *r, const char *body, size_t len, size_t max_word)
{
    run_cuts(r, body, len, max_word, NULL, 0);
}

static void
run_bytewise(run_t *r, const char *body, size_t len, size_t max_word)
{
    size_t *cuts = calloc(len ? len : 1, sizeof(size_t));

    cr_assert(cuts != NULL);
    for (size_t i = 1; i < len; i++)
        cuts[i - 1] = i;
    run_cuts(r, body, len, max_word, cuts, len ? len - 1 : 0);
    free(cuts);
}

static void
run_free(run_t *r)
{
    words_free(&r->words);
}

/* Checks r's words against a NULL-terminated list. */
static void
expect_words(const run_t *r, const char *const *exp, const char *what)
{
    size_t n = 0;

    while (exp[n] != NULL)
        n++;
    cr_assert_eq(r->words.n, n, "%s: %zu words, expected %zu", what,
                 r->words.n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r->words.len[i], strlen(exp[i]),
                     "%s: word %zu has length %zu, expected %zu", what, i,
                     r->words.len[i], strlen(exp[i]));
        cr_assert(memcmp(r->words.w[i], exp[i], strlen(exp[i])) == 0,
                  "%s: word %zu is \"%s\", expected \"%s\"", what, i,
                  r->words.w[i], exp[i]);
    }
}

/* Tokenizes body whole, byte by byte, in every 2-way split and in every
 * 3-way split; all must give exactly ref (computed from the whole body). */
static void
check_all_chunkings(const char *body, size_t len, size_t max_word, run_t *ref)
{
    run_t r;

    run_whole(ref, body, len, max_word);

    run_bytewise(&r, body, len, max_word);
    cr_assert(words_equal(&r.words, &ref->words), "byte-by-byte: words");
    cr_assert_eq(r.err, ref->err, "byte-by-byte: error");
    cr_assert_eq(r.err_off, ref->err_off, "byte-by-byte: error offset");
    run_free(&r);

    for (size_t i = 0; i <= len; i++) {
        size_t cut[1] = { i };
        /* i == len: a whole chunk followed by an empty one. */
        run_cuts(&r, body, len, max_word, cut, 1);
        cr_assert(words_equal(&r.words, &ref->words),
                  "split at %zu: words differ", i);
        cr_assert_eq(r.err, ref->err, "split at %zu: error %d, expected %d", i,
                     r.err, ref->err);
        cr_assert_eq(r.err_off, ref->err_off,
                     "split at %zu: error offset %llu, expected %llu", i,
                     (unsigned long long) r.err_off,
                     (unsigned long long) ref->err_off);
        run_free(&r);
    }
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            size_t cut[2] = { i, j };
            run_cuts(&r, body, len, max_word, cut, 2);
            cr_assert(words_equal(&r.words, &ref->words),
                      "split at %zu,%zu: words differ", i, j);
            cr_assert_eq(r.err, ref->err, "split at %zu,%zu: error", i, j);
            cr_assert_eq(r.err_off, ref->err_off,
                         "split at %zu,%zu: error offset", i, j);
            run_free(&r);
        }
    }
}

/* Independent UTF-8 encoder. */
static int
enc(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char) (0xc0 | cp >> 6);
        out[1] = (unsigned char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char) (0xe0 | cp >> 12);
        out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char) (0xf0 | cp >> 18);
    out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char) (0x80 | (cp & 0x3f));
    return 4;
}

/* The Unicode White_Space property (PropList.txt), listed one by one. */
static const uint32_t white_space[] = {
    0x0009, 0x000a, 0x000b, 0x000c, 0x000d, 0x0020, 0x0085, 0x00a0, 0x1680,
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
    0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
};

static bool
is_white_space(uint32_t cp)
{
    for (size_t i = 0; i < MEMDB_NELEM(white_space); i++)
        if (white_space[i] == cp)
            return true;
    return false;
}

/* Code points next to the White_Space ones, or that look like spaces
 * without having the property. */
static const uint32_t near_miss[] = {
    0x0000, 0x0008, 0x000e, 0x001f,  0x0021,  0x007f,   0x0084,   0x0086,
    0x009f, 0x00a1, 0x00ad, 0x167f,  0x1681,  0x180e,   0x1fff,   0x200b,
    0x200c, 0x200d, 0x2027, 0x202a,  0x202e,  0x2030,   0x205e,   0x2060,
    0x2fff, 0x3001, 0xfeff, 0xe000,  0xfffd,  0x10000,  0x10ffff, 0x0120,
    0x0220, 0x2100, 0x2120, 0x20000, 0x1000a, 0x102000, 0x103000,
};

/* ---- White_Space ------------------------------------------------------ */

Test(tok, ascii_words)
{
    static const char body[] = "hello world  foo\tbar\n\r\v\fbaz qux ";
    static const char *const exp[] = { "hello", "world", "foo", "bar",
                                       "baz",   "qux",   NULL };
    run_t r;

    run_whole(&r, body, strlen(body), 64);
    cr_assert_eq(r.err, TOK_OK);
    expect_words(&r, exp, "ascii");
    run_free(&r);
}

Test(tok, every_white_space_code_point_separates)
{
    for (size_t i = 0; i < MEMDB_NELEM(white_space); i++) {
        unsigned char sp[4], body[64];
        int n = enc(white_space[i], sp);
        size_t len = 0;
        static const char *const exp[] = { "a", "b", "c", NULL };
        run_t r;
        char what[64];

        /* SP a SP b SP SP c SP */
        memcpy(body + len, sp, (size_t) n), len += (size_t) n;
        body[len++] = 'a';
        memcpy(body + len, sp, (size_t) n), len += (size_t) n;
        body[len++] = 'b';
        memcpy(body + len, sp, (size_t) n), len += (size_t) n;
        memcpy(body + len, sp, (size_t) n), len += (size_t) n;
        body[len++] = 'c';
        memcpy(body + len, sp, (size_t) n), len += (size_t) n;

        snprintf(what, sizeof(what), "U+%04X", white_space[i]);
        run_whole(&r, (const char *) body, len, 64);
        cr_assert_eq(r.err, TOK_OK, "%s: error %d", what, r.err);
        expect_words(&r, exp, what);
        run_free(&r);

        /* The separator cut at every byte gives the same. */
        run_bytewise(&r, (const char *) body, len, 64);
        cr_assert_eq(r.err, TOK_OK, "%s bytewise: error %d", what, r.err);
        expect_words(&r, exp, what);
        run_free(&r);
    }
}

Test(tok, near_miss_code_points_are_not_separators)
{
    for (size_t i = 0; i < MEMDB_NELEM(near_miss); i++) {
        unsigned char body[16];
        size_t len = 0;
        run_t r;

        body[len++] = 'a';
        len += (size_t) enc(near_miss[i], body + len);
        body[len++] = 'b';
        run_whole(&r, (const char *) body, len, 64);
        cr_assert_eq(r.err, TOK_OK, "U+%04X: error %d", near_miss[i], r.err);
        cr_assert_eq(r.words.n, 1, "U+%04X split the word into %zu",
                     near_miss[i], r.words.n);
        cr_assert_eq(r.words.len[0], len, "U+%04X", near_miss[i]);
        cr_assert(memcmp(r.words.w[0], body, len) == 0, "U+%04X",
                  near_miss[i]);
        run_free(&r);

        run_bytewise(&r, (const char *) body, len, 64);
        cr_assert_eq(r.err, TOK_OK);
        cr_assert_eq(r.words.n, 1, "U+%04X bytewise", near_miss[i]);
        cr_assert_eq(r.words.len[0], len);
        run_free(&r);
    }
}

Test(tok, utf8_is_space_matches_white_space_for_every_code_point)
{
    unsigned nspace = 0;

    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        unsigned char b[4];
        int n;

        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        n = enc(cp, b);
        bool sp = utf8_is_space(b, n);
        if (sp != is_white_space(cp))
            cr_assert_fail("utf8_is_space(U+%04X) = %d", cp, sp);
        nspace += sp;
    }
    cr_assert_eq(nspace, MEMDB_NELEM(white_space));
}

Test(tok, utf8_is_space_near_misses)
{
    for (size_t i = 0; i < MEMDB_NELEM(near_miss); i++) {
        unsigned char b[4];
        int n = enc(near_miss[i], b);
        cr_assert_not(utf8_is_space(b, n), "U+%04X", near_miss[i]);
    }
    for (size_t i = 0; i < MEMDB_NELEM(white_space); i++) {
        unsigned char b[4];
        int n = enc(white_space[i], b);
        cr_assert(utf8_is_space(b, n), "U+%04X", white_space[i]);
    }
}

/* ---- multi-byte words ------------------------------------------------- */

Test(tok, multibyte_words)
{
    /* 2-byte é, 3-byte € and 中, 4-byte 😀 and U+10FFFF. */
    static const char body[] =
        "caf\xc3\xa9 \xe2\x82\xac"
        "uro \xf0\x9f\x98\x80x "
        "\xe4\xb8\xad\xe6\x96\x87\xe3\x80\x80\xf4\x8f\xbf\xbf "
        "\xc3\xa9\xc2\xa0\xe2\x82\xac";
    static const char *const exp[] = {
        "caf\xc3\xa9",
        "\xe2\x82\xac"
        "uro",
        "\xf0\x9f\x98\x80x",
        "\xe4\xb8\xad\xe6\x96\x87",
        "\xf4\x8f\xbf\xbf",
        "\xc3\xa9",
        "\xe2\x82\xac",
        NULL,
    };
    run_t r;

    run_whole(&r, body, strlen(body), 64);
    cr_assert_eq(r.err, TOK_OK);
    expect_words(&r, exp, "multibyte");
    run_free(&r);
}

Test(tok, boundary_code_points_are_valid)
{
    static const uint32_t cps[] = {
        0x7f,    0x80,    0x7ff,   0x800,    0xfff,    0x1000,
        0xcfff,  0xd000,  0xd7ff,  0xe000,   0xffff,   0x10000,
        0x3ffff, 0x40000, 0xfffff, 0x100000, 0x10ffff,
    };

    for (size_t i = 0; i < MEMDB_NELEM(cps); i++) {
        unsigned char b[4];
        int n = enc(cps[i], b);
        run_t r;

        cr_assert_eq(utf8_check((const char *) b, (size_t) n), -1, "U+%04X",
                     cps[i]);
        cr_assert_eq(utf8_seq(b, b + n), n, "U+%04X", cps[i]);
        run_whole(&r, (const char *) b, (size_t) n, 8);
        cr_assert_eq(r.err, TOK_OK, "U+%04X", cps[i]);
        cr_assert_eq(r.words.n, 1);
        cr_assert_eq(r.words.len[0], (size_t) n);
        run_free(&r);
    }
}

/* ---- malformed UTF-8 -------------------------------------------------- */

typedef struct bad_s {
    const char *name;
    const char *body;
    size_t len;
    uint64_t off;         /* lead byte of the bad sequence */
    bool at_finish;       /* only tok_finish can see it */
    const char *words[4]; /* emitted before the error, any chunking */
} bad_t;

#define B(s) s, sizeof(s) - 1

static const bad_t bad_cases[] = {
    { "lone continuation 80", B("ab \x80 cd"), 3, false, { "ab" } },
    { "lone continuation bf", B("\xbf"), 0, false, { NULL } },
    { "continuation after word", B("ab\x9f"), 2, false, { NULL } },
    { "continuation after char", B("x \xc3\xa9\xa9 y"), 4, false, { "x" } },
    { "overlong C0 80", B("x\xc0\x80"), 1, false, { NULL } },
    { "overlong C0 AF", B("a b\xc0\xaf"), 3, false, { "a" } },
    { "overlong C1 BF", B("\xc1\xbf"), 0, false, { NULL } },
    { "overlong E0 80 80", B("abc\xe0\x80\x80"), 3, false, { NULL } },
    { "overlong E0 9F BF", B("\xe0\x9f\xbf"), 0, false, { NULL } },
    { "overlong F0 80 80 80", B("ok \xf0\x80\x80\x80"), 3, false, { "ok" } },
    { "overlong F0 8F BF BF", B("\xf0\x8f\xbf\xbf"), 0, false, { NULL } },
    { "surrogate ED A0 80", B("s \xed\xa0\x80"), 2, false, { "s" } },
    { "surrogate ED BF BF", B("\xed\xbf\xbf"), 0, false, { NULL } },
    { "surrogate ED AD BF", B("  \xed\xad\xbf  "), 2, false, { NULL } },
    { "above U+10FFFF F4 90", B("w \xf4\x90\x80\x80"), 2, false, { "w" } },
    { "above U+10FFFF F4 BF", B("\xf4\xbf\xbf\xbf"), 0, false, { NULL } },
    { "lead F5", B("a \xf5\x80\x80\x80"), 2, false, { "a" } },
    { "lead F7", B("\xf7\xbf\xbf\xbf"), 0, false, { NULL } },
    { "lead F8", B("xy\xf8\x88\x80\x80\x80"), 2, false, { NULL } },
    { "lead FC", B("\xfc\x84\x80\x80\x80\x80"), 0, false, { NULL } },
    { "lead FE", B("1 2 \xfe"), 4, false, { "1", "2" } },
    { "lead FF", B("\xff"), 0, false, { NULL } },
    { "bad second byte", B("\xe2\x28\xa1"), 0, false, { NULL } },
    { "bad third byte", B("q \xe2\x82\x28"), 2, false, { "q" } },
    { "bad fourth byte", B("\xf0\x9f\x98\x28"), 0, false, { NULL } },
    { "2-byte lead then space", B("\xc3 x"), 0, false, { NULL } },
    { "truncated 2 at end", B("ab \xc3"), 3, true, { "ab" } },
    { "truncated 3/1 at end", B("ab cd\xe2"), 5, true, { "ab" } },
    { "truncated 3/2 at end", B("\xe2\x82"), 0, true, { NULL } },
    { "truncated 4/3 at end", B("z \xf0\x9f\x98"), 2, true, { "z" } },
    { "truncated 4/1 at end", B("\xf4"), 0, true, { NULL } },
    { "truncated 3 then ASCII",
      B("\xe2\x82"
        "a"),
      0,
      false,
      { NULL } },
    { "truncated 2 then ASCII", B("x\xc3 y"), 1, false, { NULL } },
    { "truncated 4 then ASCII",
      B("hi \xf0\x9f\x98"
        "A bc"),
      3,
      false,
      { "hi" } },
    { "truncated 4/2 then ASCII",
      B("\xf0\x9f"
        "AB"),
      0,
      false,
      { NULL } },
    { "late in a long body",
      B("the quick brown fox jumps over the lazy dog \xc3\xa9t\xc3\xa9 "
        "\xed\xa0\x80"),
      50,
      false,
      { "the", "quick", "brown", "fox" } },
};

Test(tok, malformed_utf8_exact_offset_whole_body)
{
    for (size_t i = 0; i < MEMDB_NELEM(bad_cases); i++) {
        const bad_t *c = &bad_cases[i];
        run_t r;
        size_t n = 0;

        run_whole(&r, c->body, c->len, 64);
        cr_assert_eq(r.err, TOK_BAD_UTF8, "%s: error %d", c->name, r.err);
        cr_assert_eq(r.err_off, c->off, "%s: offset %llu, expected %llu",
                     c->name, (unsigned long long) r.err_off,
                     (unsigned long long) c->off);
        cr_assert_eq(r.at_finish, c->at_finish, "%s: reported by %s", c->name,
                     r.at_finish ? "tok_finish" : "tok_feed");
        while (n < 4 && c->words[n] != NULL)
            n++;
        /* Words closed before the bad byte were emitted, none after. */
        cr_assert_geq(r.words.n, n, "%s", c->name);
        for (size_t k = 0; k < n; k++)
            cr_assert_str_eq(r.words.w[k], c->words[k], "%s", c->name);
        run_free(&r);

        /* utf8_check agrees on the offset. */
        cr_assert_eq(utf8_check(c->body, c->len), (long) c->off, "%s",
                     c->name);
    }
}

Test(tok, malformed_utf8_same_offset_in_every_chunking)
{
    for (size_t i = 0; i < MEMDB_NELEM(bad_cases); i++) {
        const bad_t *c = &bad_cases[i];
        run_t ref;

        check_all_chunkings(c->body, c->len, 64, &ref);
        cr_assert_eq(ref.err, TOK_BAD_UTF8, "%s", c->name);
        cr_assert_eq(ref.err_off, c->off, "%s", c->name);
        run_free(&ref);
    }
}

Test(tok, every_invalid_lead_byte)
{
    /* 80..C1 and F5..FF can never start a character. */
    for (unsigned b = 0x80; b <= 0xff; b++) {
        char body[8] = {
            'a', 'b', ' ', (char) b, '\x80', '\x80', '\x80', ' '
        };
        run_t r;

        if (b >= 0xc2 && b <= 0xf4)
            continue;
        run_whole(&r, body, sizeof(body), 64);
        cr_assert_eq(r.err, TOK_BAD_UTF8, "lead %02X", b);
        cr_assert_eq(r.err_off, 3, "lead %02X", b);
        run_free(&r);
        run_bytewise(&r, body, sizeof(body), 64);
        cr_assert_eq(r.err, TOK_BAD_UTF8, "lead %02X bytewise", b);
        cr_assert_eq(r.err_off, 3, "lead %02X bytewise", b);
        run_free(&r);
    }
}

Test(tok, error_stops_the_tokenizer)
{
    tok_t t;
    words_t ws = { 0 };

    memset(&t, 0, sizeof(t));
    tok_init(&t, 64, words_add, &ws);
    cr_assert_eq(tok_feed(&t, "one two", 7), TOK_OK);
    cr_assert_eq(tok_feed(&t, "\xff three ", 8), TOK_BAD_UTF8);
    cr_assert_eq(t.err_off, 7);
    cr_assert_eq(tok_feed(&t, "four five ", 10), TOK_BAD_UTF8);
    cr_assert_eq(tok_finish(&t), TOK_BAD_UTF8);
    cr_assert_eq(t.err_off, 7);
    /* "two" was still open when the bad byte came. */
    cr_assert_eq(ws.n, 1);
    cr_assert_str_eq(ws.w[0], "one");
    words_free(&ws);

    /* tok_init makes it usable again. */
    tok_init(&t, 64, words_add, &ws);
    cr_assert_eq(tok_feed(&t, "six seven", 9), TOK_OK);
    cr_assert_eq(tok_finish(&t), TOK_OK);
    cr_assert_eq(ws.n, 2);
    cr_assert_str_eq(ws.w[0], "six");
    cr_assert_str_eq(ws.w[1], "seven");
    words_free(&ws);
    tok_free(&t);
}

/* ---- empty and blank bodies ------------------------------------------- */

Test(tok, empty_body)
{
    tok_t t;
    words_t ws = { 0 };

    memset(&t, 0, sizeof(t));
    tok_init(&t, 16, words_add, &ws);
    cr_assert_eq(tok_finish(&t), TOK_OK);
    cr_assert_eq(ws.n, 0);
    tok_free(&t);

    memset(&t, 0, sizeof(t));
    tok_init(&t, 16, words_add, &ws);
    cr_assert_eq(tok_feed(&t, "", 0), TOK_OK);
    cr_assert_eq(tok_feed(&t, "", 0), TOK_OK);
    cr_assert_eq(tok_finish(&t), TOK_OK);
    cr_assert_eq(ws.n, 0);
    tok_free(&t);

    cr_assert_eq(utf8_check("", 0), -1);
}

Test(tok, whitespace_only_body)
{
    unsigned char body[256];
    size_t len = 0;
    run_t ref;

    for (size_t i = 0; i < MEMDB_NELEM(white_space); i++)
        len += (size_t) enc(white_space[i], body + len);
    check_all_chunkings((const char *) body, len, 16, &ref);
    cr_assert_eq(ref.err, TOK_OK);
    cr_assert_eq(ref.words.n, 0);
    run_free(&ref);
}

/* ---- chunking --------------------------------------------------------- */

Test(tok, every_chunking_gives_the_same_words)
{
    /* Words of 1- to 4-byte characters, separated by 1-, 2- and 3-byte
     * spaces, with a near miss (U+200B) inside a word. */
    static const char body[] =
        " ab\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80z\xc2\xa0q"
        "\xe2\x80\xa8\xe4\xb8\xad\xe2\x80\x8b"
        "d\xe3\x80\x80\xc2\x85"
        "x\xf0\x90\x80\x80\t\xe1\x9a\x80last\xef\xbb\xbf";
    static const char *const exp[] = {
        "ab\xc3\xa9",
        "\xe2\x82\xac\xf0\x9f\x98\x80z",
        "q",
        "\xe4\xb8\xad\xe2\x80\x8b"
        "d",
        "x\xf0\x90\x80\x80",
        "last\xef\xbb\xbf",
        NULL,
    };
    run_t ref;

    check_all_chunkings(body, sizeof(body) - 1, 64, &ref);
    cr_assert_eq(ref.err, TOK_OK);
    expect_words(&ref, exp, "reference");
    run_free(&ref);
}

/* Reference tokenizer on a list of pieces: each piece is one character,
 * either White_Space or not. */
typedef struct piece_s {
    const char *s;
    bool space;
} piece_t;

static const piece_t pieces[] = {
    { "a", false },
    { "b", false },
    { "Z", false },
    { "7", false },
    { "\xc3\xa9", false },
    { "\xe2\x82\xac", false },
    { "\xf0\x9f\x98\x80", false },
    { "\xe2\x80\x8b", false },
    { "\xef\xbb\xbf", false },
    { "\xc2\xa1", false },
    { "\xe1\xa0\x8e", false },
    { "\xf4\x8f\xbf\xbf", false },
    { "\xe2\x80\xb0", false },
    { " ", true },
    { "\t", true },
    { "\n", true },
    { "\r", true },
    { "\v", true },
    { "\f", true },
    { "\xc2\x85", true },
    { "\xc2\xa0", true },
    { "\xe1\x9a\x80", true },
    { "\xe2\x80\x80", true },
    { "\xe2\x80\x8a", true },
    { "\xe2\x80\x85", true },
    { "\xe2\x80\xa8", true },
    { "\xe2\x80\xa9", true },
    { "\xe2\x80\xaf", true },
    { "\xe2\x81\x9f", true },
    { "\xe3\x80\x80", true },
};

Test(tok, random_bodies_and_chunkings_match_a_reference)
{
    srand(12345);
    for (int iter = 0; iter < 2000; iter++) {
        char body[512];
        size_t len = 0;
        words_t exp = { 0 };
        char cur[512];
        size_t curlen = 0;
        int npieces = rand() % 60;
        size_t cuts[16];
        size_t ncuts = 0;
        run_t r;

        for (int k = 0; k < npieces; k++) {
            const piece_t *p = &pieces[rand() % (int) MEMDB_NELEM(pieces)];
            size_t n = strlen(p->s);
            memcpy(body + len, p->s, n);
            len += n;
            if (p->space) {
                if (curlen > 0)
                    words_add(&exp, cur, curlen);
                curlen = 0;
            } else {
                memcpy(cur + curlen, p->s, n);
                curlen += n;
            }
        }
        if (curlen > 0)
            words_add(&exp, cur, curlen);

        /* Random increasing cut points (repeats give empty chunks). */
        if (len > 0) {
            ncuts = (size_t) (rand() % 16);
            for (size_t k = 0; k < ncuts; k++)
                cuts[k] = (size_t) rand() % len;
            for (size_t a = 1; a < ncuts; a++)
                for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                    size_t tmp = cuts[b];
                    cuts[b] = cuts[b - 1];
                    cuts[b - 1] = tmp;
                }
        }
        run_cuts(&r, body, len, 512, cuts, ncuts);
        cr_assert_eq(r.err, TOK_OK, "iteration %d", iter);
        cr_assert(words_equal(&r.words, &exp),
                  "iteration %d: %zu words, "
                  "expected %zu",
                  iter, r.words.n, exp.n);
        run_free(&r);
        words_free(&exp);
    }
}

Test(tok, offsets_count_across_chunks)
{
    /* The bad byte is in the third chunk; its offset counts the bytes of
     * every earlier chunk. */
    tok_t t;
    words_t ws = { 0 };

    memset(&t, 0, sizeof(t));
    tok_init(&t, 64, words_add, &ws);
    cr_assert_eq(tok_feed(&t, "0123456789", 10), TOK_OK);
    cr_assert_eq(tok_feed(&t, " abc", 4), TOK_OK);
    cr_assert_eq(tok_feed(&t, "de \xc0\x80", 5), TOK_BAD_UTF8);
    cr_assert_eq(t.err_off, 17);
    cr_assert_eq(ws.n, 2);
    cr_assert_str_eq(ws.w[0], "0123456789");
    cr_assert_str_eq(ws.w[1], "abcde");
    words_free(&ws);
    tok_free(&t);
}

/* ---- word length ------------------------------------------------------ */

Test(tok, word_exactly_max_word_is_accepted)
{
    static const char body[] = "abcde xy abcde vwxyz";
    static const char *const exp[] = { "abcde", "xy", "abcde", "vwxyz", NULL };
    run_t ref;

    check_all_chunkings(body, strlen(body), 5, &ref);
    cr_assert_eq(ref.err, TOK_OK);
    expect_words(&ref, exp, "max_word 5");
    run_free(&ref);

    /* Multi-byte characters count in bytes: "é€é" is 7. */
    static const char mb2[] = "\xc3\xa9\xe2\x82\xac\xc3\xa9 \xc3\xa9\xe2\x82"
                              "\xac";
    static const char *const exp2[] = { "\xc3\xa9\xe2\x82\xac\xc3\xa9",
                                        "\xc3\xa9\xe2\x82\xac", NULL };
    check_all_chunkings(mb2, strlen(mb2), 7, &ref);
    cr_assert_eq(ref.err, TOK_OK);
    expect_words(&ref, exp2, "multibyte max_word 7");
    run_free(&ref);
}

Test(tok, word_longer_than_max_word_in_one_chunk)
{
    static const char body[] = "abc abcdef xy";
    tok_t t;
    words_t ws = { 0 };

    memset(&t, 0, sizeof(t));
    tok_init(&t, 5, words_add, &ws);
    cr_assert_eq(tok_feed(&t, body, strlen(body)), TOK_WORD_TOO_LONG);
    cr_assert_eq(t.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(t.err_off, 4);
    cr_assert_eq(ws.n, 1);
    cr_assert_str_eq(ws.w[0], "abc");
    cr_assert_eq(tok_finish(&t), TOK_WORD_TOO_LONG);
    words_free(&ws);
    tok_free(&t);
}

Test(tok, word_longer_than_max_word_at_end_of_body)
{
    run_t ref;

    /* Open at the end of the only chunk. */
    check_all_chunkings("ab abcdef", 9, 5, &ref);
    cr_assert_eq(ref.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(ref.err_off, 3);
    run_free(&ref);

    /* One byte over. */
    check_all_chunkings("abcdef", 6, 5, &ref);
    cr_assert_eq(ref.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(ref.err_off, 0);
    run_free(&ref);
}

Test(tok, word_longer_than_max_word_across_chunks)
{
    /* Every 2- and 3-way split gives the same error at the same offset,
     * including splits inside the multi-byte characters. */
    static const char body[] = "x yz \xe2\x82\xac\xe2\x82\xac"
                               "abc q";
    run_t ref;

    check_all_chunkings(body, strlen(body), 8, &ref);
    cr_assert_eq(ref.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(ref.err_off, 5);
    cr_assert_eq(ref.words.n, 2);
    cr_assert_str_eq(ref.words.w[0], "x");
    cr_assert_str_eq(ref.words.w[1], "yz");
    run_free(&ref);

    /* The same with max_word 9 is exactly long enough. */
    check_all_chunkings(body, strlen(body), 9, &ref);
    cr_assert_eq(ref.err, TOK_OK);
    cr_assert_eq(ref.words.n, 4);
    cr_assert_str_eq(ref.words.w[2], "\xe2\x82\xac\xe2\x82\xac"
                                     "abc");
    run_free(&ref);

    /* A word that ends with a split multi-byte character one byte too
     * long. */
    static const char body2[] = "ab cdef\xc3\xa9 g";
    check_all_chunkings(body2, strlen(body2), 5, &ref);
    cr_assert_eq(ref.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(ref.err_off, 3);
    run_free(&ref);
}

Test(tok, long_word_fed_in_many_chunks)
{
    enum { MAX = 1000 };
    char chunk[7] = "abcdefg";
    tok_t t;
    words_t ws = { 0 };
    size_t fed = 0;
    tok_err_e e = TOK_OK;

    /* Exactly MAX bytes in chunks of 7 (and a last short one). */
    memset(&t, 0, sizeof(t));
    tok_init(&t, MAX, words_add, &ws);
    cr_assert_eq(tok_feed(&t, "  ", 2), TOK_OK);
    while (fed < MAX) {
        size_t n = MEMDB_MIN(sizeof(chunk), (size_t) MAX - fed);
        cr_assert_eq(tok_feed(&t, chunk, n), TOK_OK);
        fed += n;
    }
    cr_assert_eq(tok_finish(&t), TOK_OK);
    cr_assert_eq(ws.n, 1);
    cr_assert_eq(ws.len[0], MAX);
    words_free(&ws);

    /* One byte more fails, at the word's offset 2. */
    tok_init(&t, MAX, words_add, &ws);
    e = tok_feed(&t, "  ", 2);
    fed = 0;
    while (e == TOK_OK && fed < MAX + 1) {
        size_t n = MEMDB_MIN(sizeof(chunk), (size_t) MAX + 1 - fed);
        e = tok_feed(&t, chunk, n);
        fed += n;
    }
    if (e == TOK_OK)
        e = tok_finish(&t);
    cr_assert_eq(e, TOK_WORD_TOO_LONG);
    cr_assert_eq(t.err_off, 2);
    cr_assert_eq(ws.n, 0);
    words_free(&ws);
    tok_free(&t);
}

/* ---- utf8_check / utf8_seq -------------------------------------------- */

Test(tok, utf8_check_valid)
{
    static const char s[] = "plain ascii \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80";

    cr_assert_eq(utf8_check(s, strlen(s)), -1);
    cr_assert_eq(utf8_check("a\0b", 3), -1); /* NUL is valid UTF-8 */
}

Test(tok, utf8_check_offsets)
{
    cr_assert_eq(utf8_check("\x80", 1), 0);
    cr_assert_eq(utf8_check("abc\x80", 4), 3);
    cr_assert_eq(utf8_check("\xc3\xa9\xc0\x80", 4), 2);
    cr_assert_eq(utf8_check("\xc3\xa9\xc1\xbf", 4), 2);
    cr_assert_eq(utf8_check("x\xe0\x9f\xbf", 4), 1);
    cr_assert_eq(utf8_check("xy\xf0\x8f\xbf\xbf", 6), 2);
    cr_assert_eq(utf8_check("\xed\xa0\x80", 3), 0);
    cr_assert_eq(utf8_check("\xf4\x90\x80\x80", 4), 0);
    cr_assert_eq(utf8_check("\xf5\x80\x80\x80", 4), 0);
    cr_assert_eq(utf8_check("ab\xe2\x82", 4), 2); /* truncated */
    cr_assert_eq(utf8_check("ab\xe2\x82z", 5), 2);
    cr_assert_eq(utf8_check("ab\xf0\x9f\x98", 5), 2);
    /* The length bounds the check: a truncated copy of a valid string. */
    cr_assert_eq(utf8_check("\xe2\x82\xac", 2), 0);
    cr_assert_eq(utf8_check("\xe2\x82\xac", 3), -1);
}

Test(tok, utf8_seq_lengths)
{
    const unsigned char *p;

    p = (const unsigned char *) "A";
    cr_assert_eq(utf8_seq(p, p + 1), 1);
    p = (const unsigned char *) "\xc3\xa9";
    cr_assert_eq(utf8_seq(p, p + 2), 2);
    cr_assert_eq(utf8_seq(p, p + 1), -1);
    p = (const unsigned char *) "\xe2\x82\xac";
    cr_assert_eq(utf8_seq(p, p + 3), 3);
    cr_assert_eq(utf8_seq(p, p + 2), -1);
    cr_assert_eq(utf8_seq(p, p + 1), -1);
    p = (const unsigned char *) "\xf0\x9f\x98\x80";
    cr_assert_eq(utf8_seq(p, p + 4), 4);
    cr_assert_eq(utf8_seq(p, p + 3), -1);
    /* A prefix that is already wrong is malformed, not incomplete. */
    p = (const unsigned char *) "\xe0\x80";
    cr_assert_eq(utf8_seq(p, p + 2), 0);
    p = (const unsigned char *) "\xf4\x90";
    cr_assert_eq(utf8_seq(p, p + 2), 0);
    p = (const unsigned char *) "\xed\xa0";
    cr_assert_eq(utf8_seq(p, p + 2), 0);
    p = (const unsigned char *) "\x80";
    cr_assert_eq(utf8_seq(p, p + 1), 0);
}

/* Found by fuzz_tok: a word already too long when a malformed byte comes
 * later in it.  Fed whole, the tokenizer used to reach the bad byte before
 * the word's end (TOK_BAD_UTF8); cut after the long part, it reported
 * TOK_WORD_TOO_LONG at the cut.  The first error in byte order wins,
 * however the body is cut: the word is too long at its 3rd byte. */
Test(tok, too_long_word_before_a_bad_byte_in_every_chunking)
{
    static const char body[] = "ab\x00\x00\x00\x00\xf3\x26 cd";
    run_t ref;

    check_all_chunkings(body, sizeof(body) - 1, 2, &ref);
    cr_assert_eq(ref.err, TOK_WORD_TOO_LONG);
    cr_assert_eq(ref.err_off, 0);
    run_free(&ref);

    /* and the other way round: the bad byte comes first */
    check_all_chunkings("ab \xc3( abcdef", 12, 4, &ref);
    cr_assert_eq(ref.err, TOK_BAD_UTF8);
    cr_assert_eq(ref.err_off, 3);
    run_free(&ref);
}

/* ---- the aggregate: agg_push is agg_add, batched ---------------------- */

/* The same words pushed (batched, flushed at the end) and added one at a
 * time give the same aggregate: entries in first-seen order, counts,
 * words, cost; words longer than AGG_BATCH_WORD and a reuse after
 * agg_reset included. */
Test(agg, pushed_words_aggregate_as_added_words)
{
    static agg_t x, y;
    char w[128];
    uint64_t seed = 7;

    for (int round = 0; round < 2; round++) {
        agg_reset(&x);
        agg_reset(&y);
        for (int i = 0; i < 50000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned) (seed >> 33);
            size_t len = (size_t) snprintf(w, sizeof(w), "w%u", r % 3000);
            if (r % 97 == 0) { /* a long one, past the batch's copy */
                memset(w + len, 'x', 60);
                len += 60;
            }
            agg_push(&x, w, len);
            agg_add(&y, w, len);
        }
        agg_flush(&x);
        cr_assert_eq(x.n, y.n);
        cr_assert_eq(x.words, y.words);
        cr_assert_eq(x.cost, y.cost);
        for (size_t i = 0; i < x.n; i++) {
            cr_assert_eq(x.ents[i].len, y.ents[i].len);
            cr_assert_eq(x.ents[i].count, y.ents[i].count);
            cr_assert_eq(memcmp(agg_key(&x, &x.ents[i]),
                                agg_key(&y, &y.ents[i]), x.ents[i].len),
                         0);
        }
    }
    agg_free(&x);
    agg_free(&y);
}
