/*
 * test_prof.c - tokenizer profiles (src/words/prof.h): the JSON form and
 * its errors (each naming its field), the binary form (round trip, every
 * truncation and corruption refused), the default profile being tok_t
 * itself, each option alone on small handmade texts, n-grams, the error
 * offsets, the forced cut, and the same terms whatever the chunking (every
 * split point, byte by byte, random chunks, small pieces so that the safe
 * cuts fall everywhere).
 */
#include <criterion/criterion.h>

#include "src/words/prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

/* The terms emitted, each followed by a NUL, in one buffer. */
typedef struct terms_s {
    buf_t all;
    size_t n;
} terms_t;

static void
terms_add(void *arg, const char *w, size_t len)
{
    terms_t *ts = arg;

    buf_append(&ts->all, w, len);
    buf_putc(&ts->all, '\0');
    ts->n++;
}

typedef struct run_s {
    terms_t terms;
    tok_err_e err;
    uint64_t err_off;
} run_t;

/* Knobs of one run. */
typedef struct opt_s {
    size_t max_word; /* 0: 1024 */
    size_t piece;    /* 0: ptok's */
    size_t window;   /* 0: ptok's */
} opt_t;

/* A profile from JSON text; asserts that it parses. */
static void
prof_json(prof_t *p, const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    char err[256] = "";

    cr_assert(obj != NULL, "bad JSON in the test: %s", json);
    cr_assert_eq(prof_from_json(p, obj, err, sizeof(err)), MEMDB_OK, "%s: %s",
                 json, err);
    cJSON_Delete(obj);
}

/* Tokenizes body fed in chunks ending at cuts[0..ncuts) and at len. */
static void
run_cuts(run_t *r, const prof_t *p, const opt_t *o, const char *body,
         size_t len, const size_t *cuts, size_t ncuts)
{
    static ptok_t t; /* reused: ptok_init keeps its buffers */
    size_t from = 0;
    tok_err_e e = TOK_OK;

    memset(r, 0, sizeof(*r));
    cr_assert_eq(ptok_init(&t, p, o->max_word ? o->max_word : 1024, terms_add,
                           &r->terms),
                 MEMDB_OK);
    if (o->piece)
        t.piece = o->piece;
    if (o->window)
        t.window = o->window;
    for (size_t i = 0; i <= ncuts && e == TOK_OK; i++) {
        size_t to = i < ncuts ? cuts[i] : len;

        e = ptok_feed(&t, body + from, to - from);
        from = to;
    }
    if (e == TOK_OK)
        e = ptok_finish(&t);
    r->err = ptok_err(&t, &r->err_off);
    cr_assert_eq(e, r->err);
    if (e != TOK_OK) { /* sticky */
        cr_assert_eq(ptok_feed(&t, "x y", 3), e);
        cr_assert_eq(ptok_finish(&t), e);
    }
}

static void
run_whole(run_t *r, const prof_t *p, const opt_t *o, const char *body,
          size_t len)
{
    run_cuts(r, p, o, body, len, NULL, 0);
}

static void
run_free(run_t *r)
{
    buf_free(&r->terms.all);
}

static bool
same(const run_t *a, const run_t *b, bool offsets)
{
    if (a->err != b->err || (offsets && a->err_off != b->err_off))
        return false;
    if (a->err != TOK_OK)
        return true; /* terms before an error are thrown away */
    return a->terms.n == b->terms.n && a->terms.all.len == b->terms.all.len
           && (a->terms.all.len == 0
               || memcmp(a->terms.all.data, b->terms.all.data,
                         a->terms.all.len)
                      == 0);
}

/* Checks r's terms against a NULL-terminated list. */
static void
expect(const run_t *r, const char *const *exp, const char *what)
{
    const char *s = r->terms.all.data;
    size_t n = 0;

    cr_assert_eq(r->err, TOK_OK, "%s: error %d at %llu", what, r->err,
                 (unsigned long long) r->err_off);
    while (exp[n] != NULL)
        n++;
    for (size_t i = 0; i < n && i < r->terms.n; i++) {
        cr_assert_str_eq(s, exp[i], "%s: term %zu", what, i);
        s += strlen(s) + 1;
    }
    cr_assert_eq(r->terms.n, n, "%s: %zu terms, expected %zu", what,
                 r->terms.n, n);
}

/* Tokenizes text with the profile in JSON; checks the terms. */
static void
expect_terms(const char *json, const char *text, const char *const *exp)
{
    prof_t p;
    run_t r;
    opt_t o = { 0 };

    prof_json(&p, json);
    run_whole(&r, &p, &o, text, strlen(text));
    expect(&r, exp, json);
    run_free(&r);
    prof_free(&p);
}

/* The same result whole, split at every offset, byte by byte and in
 * random chunks, error offsets included. */
static void
check_chunkings(const prof_t *p, const opt_t *o, const char *body, size_t len,
                unsigned seed)
{
    run_t ref, r;
    bool offs = true;
    size_t *cuts = calloc(len + 1, sizeof(size_t));

    cr_assert(cuts != NULL);
    run_whole(&ref, p, o, body, len);
    for (size_t i = 0; i <= len; i++) {
        size_t cut[1] = { i };

        run_cuts(&r, p, o, body, len, cut, 1);
        cr_assert(same(&ref, &r, offs), "split at %zu: %d@%llu vs %d@%llu", i,
                  ref.err, (unsigned long long) ref.err_off, r.err,
                  (unsigned long long) r.err_off);
        run_free(&r);
    }
    for (size_t i = 1; i < len; i++)
        cuts[i - 1] = i;
    run_cuts(&r, p, o, body, len, cuts, len ? len - 1 : 0);
    cr_assert(same(&ref, &r, offs), "byte by byte");
    run_free(&r);
    for (int k = 0; k < 20; k++) {
        size_t n = 0, at = 0;

        while (at < len) {
            seed = seed * 1103515245u + 12345u;
            at += (seed >> 16) % 13;
            if (at < len && (n == 0 || at > cuts[n - 1]))
                cuts[n++] = at;
        }
        run_cuts(&r, p, o, body, len, cuts, n);
        cr_assert(same(&ref, &r, offs), "random chunks %d", k);
        run_free(&r);
    }
    run_free(&ref);
    free(cuts);
}

/* ---- JSON -------------------------------------------------------------- */

/* prof_from_json on the JSON text fails with a message containing want. */
static void
json_fails(const char *json, const char *want)
{
    cJSON *obj = cJSON_Parse(json);
    char err[512] = "";
    prof_t p;

    cr_assert(obj != NULL, "bad JSON in the test: %s", json);
    cr_assert_eq(prof_from_json(&p, obj, err, sizeof(err)), MEMDB_ERR,
                 "%s was taken", json);
    cr_assert(strstr(err, want) != NULL, "%s: \"%s\" does not say \"%s\"",
              json, err, want);
    cJSON_Delete(obj);
}

Test(prof, json_null_and_empty_are_the_default)
{
    prof_t p;
    char err[64];
    cJSON *obj = cJSON_Parse("{}");

    cr_assert_eq(prof_from_json(&p, NULL, err, sizeof(err)), MEMDB_OK);
    cr_assert(prof_is_default(&p));
    cr_assert_eq(prof_from_json(&p, obj, err, sizeof(err)), MEMDB_OK);
    cr_assert(prof_is_default(&p));
    prof_free(&p);
    cJSON_Delete(obj);
}

Test(prof, json_errors_name_the_field)
{
    json_fails("[]", "tokenizer must be an object");
    json_fails("\"unicode\"", "tokenizer must be an object");
    json_fails("{\"spilt\":\"unicode\"}", "tokenizer.spilt is not a field");
    json_fails("{\"split\":\"words\"}",
               "tokenizer.split must be \"whitespace\" or \"unicode\"");
    json_fails("{\"split\":1}", "tokenizer.split must be");
    json_fails("{\"split\":\"unicode\",\"split\":\"unicode\"}",
               "tokenizer.split is given twice");
    json_fails("{\"case\":\"yes\"}",
               "tokenizer.case must be \"keep\" or \"fold\"");
    json_fails("{\"case\":true}",
               "tokenizer.case must be \"keep\" or \"fold\"");
    json_fails("{\"normalize\":\"nfd\"}",
               "tokenizer.normalize must be \"none\", \"nfc\" or \"nfkc\"");
    json_fails("{\"normalize\":null}", "tokenizer.normalize must be");
    json_fails("{\"trim\":true}",
               "tokenizer.trim must be \"none\" or \"punctuation\"");
    json_fails("{\"ngrams\":0}", "tokenizer.ngrams must be an integer from 1 "
                                 "to 3");
    json_fails("{\"ngrams\":4}", "tokenizer.ngrams must be");
    json_fails("{\"ngrams\":2.5}", "tokenizer.ngrams must be");
    json_fails("{\"ngrams\":\"2\"}", "tokenizer.ngrams must be");
    json_fails("{\"min_length\":-1}", "tokenizer.min_length must be");
    json_fails("{\"min_length\":65536}", "tokenizer.min_length must be");
    json_fails("{\"max_length\":1e10}", "tokenizer.max_length must be");
    json_fails("{\"max_length\":true}", "tokenizer.max_length must be");
    json_fails("{\"min_length\":5,\"max_length\":4}",
               "tokenizer.min_length (5) must not be greater than "
               "tokenizer.max_length (4)");
    json_fails("{\"stopwords\":\"the\"}",
               "tokenizer.stopwords must be an array of strings");
    json_fails("{\"stopwords\":[\"a\",2]}",
               "tokenizer.stopwords[1] must be a string");
    json_fails("{\"stopwords\":[\"\"]}",
               "tokenizer.stopwords[0] must be 1 to 255 bytes long");
    json_fails("{\"stopwords\":[\"a b\"]}",
               "must be one word, without white space");
}

Test(prof, json_stopwords_that_never_match)
{
    char big[300];

    json_fails("{\"case\":\"fold\",\"stopwords\":[\"The\"]}",
               "never matches: give it as the profile makes words (case "
               "folded), \"the\"");
    json_fails("{\"case\":\"fold\",\"stopwords\":[\"stra\xc3\x9f"
               "e\"]}",
               "\"strasse\"");
    json_fails("{\"normalize\":\"nfc\",\"stopwords\":[\"e\xcc\x81\"]}",
               "(normalized), \"\xc3\xa9\"");
    json_fails("{\"normalize\":\"nfkc\",\"stopwords\":[\"\xef\xac\x81\"]}",
               "\"fi\"");
    json_fails("{\"trim\":\"punctuation\",\"stopwords\":[\"ok\",\"don't!\"]}",
               "tokenizer.stopwords[0] never matches: it begins or ends "
               "with punctuation");
    memset(big, 'x', 256);
    snprintf(big + 256, sizeof(big) - 256, "%s", "");
    {
        char json[400];

        snprintf(json, sizeof(json), "{\"stopwords\":[\"%s\"]}", big);
        json_fails(json, "tokenizer.stopwords[0] must be 1 to 255 bytes");
    }
}

Test(prof, json_too_many_stopwords)
{
    buf_t b = { 0 };
    cJSON *obj;
    prof_t p;
    char err[256] = "";

    /* 2000 words of 8 bytes: 18000 bytes encoded, over PROF_MAX_ENC */
    buf_puts(&b, "{\"stopwords\":[");
    for (int i = 0; i < 2000; i++)
        buf_printf(&b, "%s\"w%07d\"", i ? "," : "", i);
    buf_puts(&b, "]}");
    buf_putc(&b, '\0');
    obj = cJSON_Parse(b.data);
    cr_assert_eq(prof_from_json(&p, obj, err, sizeof(err)), MEMDB_ERR);
    cr_assert(strstr(err, "tokenizer.stopwords is too large") != NULL, "%s",
              err);
    cJSON_Delete(obj);
    /* 1500 fit */
    b.len = 0;
    buf_puts(&b, "{\"stopwords\":[");
    for (int i = 0; i < 1500; i++)
        buf_printf(&b, "%s\"w%07d\"", i ? "," : "", i);
    buf_puts(&b, "]}");
    buf_putc(&b, '\0');
    obj = cJSON_Parse(b.data);
    cr_assert_eq(prof_from_json(&p, obj, err, sizeof(err)), MEMDB_OK, "%s",
                 err);
    cr_assert_eq(p.nstop, 1500);
    prof_free(&p);
    cJSON_Delete(obj);
    buf_free(&b);
}

Test(prof, json_every_field_spelled_out)
{
    prof_t p, q;
    buf_t b = { 0 };

    prof_default(&p);
    prof_to_json(&p, &b);
    buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "{\"split\":\"whitespace\",\"case\":\"keep\","
                             "\"normalize\":\"none\",\"trim\":\"none\","
                             "\"ngrams\":1,\"min_length\":0,"
                             "\"max_length\":0,\"stopwords\":[]}");
    prof_json(&p,
              "{\"stopwords\":[\"und\",\"the\",\"a\",\"the\"],"
              "\"split\":\"unicode\",\"case\":\"fold\",\"normalize\":\"nfkc\","
              "\"trim\":\"punctuation\",\"ngrams\":3,\"min_length\":2,"
              "\"max_length\":40}");
    b.len = 0;
    prof_to_json(&p, &b);
    buf_putc(&b, '\0');
    cr_assert_str_eq(b.data, "{\"split\":\"unicode\",\"case\":\"fold\","
                             "\"normalize\":\"nfkc\",\"trim\":"
                             "\"punctuation\",\"ngrams\":3,\"min_length\":2,"
                             "\"max_length\":40,\"stopwords\":[\"a\","
                             "\"the\",\"und\"]}");
    prof_json(&q, b.data); /* and it reads back */
    cr_assert_eq(q.nstop, 3);
    cr_assert(prof_is_stopword(&q, "the", 3));
    cr_assert(!prof_is_stopword(&q, "th", 2));
    cr_assert(!prof_is_stopword(&q, "them", 4));
    prof_free(&p);
    prof_free(&q);
    buf_free(&b);
}

/* ---- binary ------------------------------------------------------------ */

static const char *const some_profiles[] = {
    "{}",
    "{\"split\":\"unicode\"}",
    "{\"case\":\"fold\",\"normalize\":\"nfc\",\"ngrams\":2}",
    "{\"split\":\"unicode\",\"trim\":\"punctuation\",\"min_length\":1,"
    "\"max_length\":65535,\"stopwords\":[\"x\",\"\xe7\x9a\x84\",\"and\"]}",
    "{\"normalize\":\"nfkc\",\"ngrams\":3,\"min_length\":7}",
};

Test(prof, encode_decode_round_trip)
{
    for (size_t i = 0; i < MEMDB_NELEM(some_profiles); i++) {
        prof_t p, q;
        buf_t a = { 0 }, b = { 0 }, ja = { 0 }, jb = { 0 };

        prof_json(&p, some_profiles[i]);
        cr_assert_eq(prof_encode(&p, &a), MEMDB_OK);
        cr_assert_eq(a.data[0], PROF_ENC_VERSION);
        cr_assert_eq(prof_decode(&q, a.data, a.len), MEMDB_OK, "%s",
                     some_profiles[i]);
        cr_assert_eq(prof_encode(&q, &b), MEMDB_OK);
        cr_assert_eq(a.len, b.len);
        cr_assert(memcmp(a.data, b.data, a.len) == 0);
        prof_to_json(&p, &ja);
        prof_to_json(&q, &jb);
        cr_assert_eq(ja.len, jb.len);
        cr_assert(memcmp(ja.data, jb.data, ja.len) == 0);
        cr_assert_eq(prof_is_default(&q), i == 0);
        prof_free(&p);
        prof_free(&q);
        buf_free(&a);
        buf_free(&b);
        buf_free(&ja);
        buf_free(&jb);
    }
}

/* prof_decode refuses d[0..len) (a copy exactly that long, so that ASan
 * sees a read past it). */
static void
decode_refuses(const void *d, size_t len, const char *what)
{
    char *copy = malloc(len ? len : 1);
    prof_t q;

    memcpy(copy, d, len);
    cr_assert_eq(prof_decode(&q, copy, len), MEMDB_ERR, "%s", what);
    free(copy);
}

Test(prof, decode_refuses_malformed)
{
    prof_t p, q;
    buf_t a = { 0 };
    char *c;

    prof_json(&p, some_profiles[3]);
    prof_encode(&p, &a);
    for (size_t n = 0; n < a.len; n++)
        decode_refuses(a.data, n, "a truncation");
    c = malloc(a.len + 1);
    memcpy(c, a.data, a.len);
    c[a.len] = 0;
    decode_refuses(c, a.len + 1, "a byte more");
    for (int v = 0; v < 256; v++) {
        if (v == PROF_ENC_VERSION)
            continue;
        c[0] = (char) v;
        decode_refuses(c, a.len, "another version");
    }
    c[0] = PROF_ENC_VERSION;
    /* each header byte out of range */
    static const struct {
        size_t at;
        unsigned char v;
    } bad[] = {
        { 1, 2 }, { 2, 2 }, { 3, 3 }, { 4, 2 },  { 5, 0 },
        { 5, 4 }, { 6, 1 }, { 7, 1 }, { 10, 1 }, { 14, 1 },
    };
    for (size_t i = 0; i < MEMDB_NELEM(bad); i++) {
        char save = c[bad[i].at];

        c[bad[i].at] = (char) bad[i].v;
        decode_refuses(c, a.len, "a header field out of range");
        c[bad[i].at] = save;
    }
    /* more stopwords than there are, a zero length, out of order */
    c[16]++;
    decode_refuses(c, a.len, "nstop too large");
    c[16]--;
    c[20] = 0;
    decode_refuses(c, a.len, "a stopword of length 0");
    memcpy(c, a.data, a.len);
    /* "and" "x" "的": swap the first two to break the order */
    cr_assert_eq(c[20], 3);
    memcpy(c + 20,
           "\x01x\x03"
           "and",
           6);
    decode_refuses(c, a.len, "stopwords out of order");
    memcpy(c, a.data, a.len);
    c[21] = 'A'; /* "And": fine without fold */
    cr_assert_eq(prof_decode(&q, c, a.len), MEMDB_OK);
    prof_free(&q);
    c[2] = 1; /* with fold, "And" never matches: refused as by the JSON */
    decode_refuses(c, a.len, "a stopword that is not folded");
    free(c);
    buf_free(&a);
    prof_free(&p);
}

/* ---- the default profile is tok_t --------------------------------------- */

static void
tok_terms(terms_t *ts, const char *body, size_t len, size_t max_word,
          tok_err_e *err, uint64_t *off)
{
    tok_t t;

    memset(&t, 0, sizeof(t));
    tok_init(&t, max_word, terms_add, ts);
    *err = tok_feed(&t, body, len);
    if (*err == TOK_OK)
        *err = tok_finish(&t);
    *off = t.err_off;
    tok_free(&t);
}

Test(prof, default_is_tok)
{
    static const char *const bodies[] = {
        "hello world  foo\tbar\n\r\v\fbaz qux ",
        "Stra\xc3\x9f"
        "e, (Hello) \xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c "
        "e\xcc\x81 \xef\xac\x81 THE the\xe3\x80\x80x\xc2\xa0y",
        "bad \xc3\x28 utf8",
        "toolongwordhere ok",
        "cut off \xe2\x82",
    };
    prof_t p;
    ptok_t t;
    opt_t o = { .max_word = 10 };

    prof_default(&p);
    memset(&t, 0, sizeof(t));
    cr_assert_eq(ptok_init(&t, &p, 10, terms_add, NULL), MEMDB_OK);
    cr_assert(t.fast, "the default profile takes tok_t's path");
    cr_assert(t.tok.fn == terms_add, "with the caller's callback itself");
    ptok_free(&t);
    for (size_t i = 0; i < MEMDB_NELEM(bodies); i++) {
        run_t r, want = { 0 };

        tok_terms(&want.terms, bodies[i], strlen(bodies[i]), 10, &want.err,
                  &want.err_off);
        run_whole(&r, &p, &o, bodies[i], strlen(bodies[i]));
        cr_assert(same(&want, &r, true), "body %zu", i);
        run_free(&r);
        run_free(&want);
        check_chunkings(&p, &o, bodies[i], strlen(bodies[i]), 7);
    }
}

/* ---- each option alone --------------------------------------------------- */

Test(prof, split_unicode)
{
    static const char *const exp[] = {
        "Hello",
        "world",
        "\xe4\xbd\xa0\xe5\xa5\xbd",                         /* 你好 */
        "\xe4\xb8\x96\xe7\x95\x8c",                         /* 世界 */
        "\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2", /* ภาษา */
        "\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2",             /* ไทย */
        "3.14",
        "can't",
        NULL,
    };

    expect_terms("{\"split\":\"unicode\"}",
                 "Hello, world! \xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95"
                 "\x8c\xe3\x80\x82 \xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0"
                 "\xb8\xb2\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2 -- 3.14 "
                 "can't ...",
                 exp);
}

Test(prof, split_whitespace_keeps_punctuation)
{
    static const char *const exp[] = { "Hello,", "world!", "--", NULL };

    expect_terms("{\"min_length\":1}", "Hello, world! --", exp);
}

Test(prof, fold)
{
    static const char *const exp[] = { "strasse", "\xcf\x83\xce\xb1\xcf\x83",
                                       "hello", NULL };

    /* Straße ΣΑΣ HeLLo: full folding (ß -> ss), final sigma folds to σ */
    expect_terms("{\"case\":\"fold\"}",
                 "Stra\xc3\x9f"
                 "e \xce\xa3\xce\x91\xce\xa3 HeLLo",
                 exp);
}

Test(prof, normalize)
{
    static const char *const nfc[] = { "\xc3\xa9", "\xef\xac\x81", NULL };
    static const char *const nfkc[] = { "\xc3\xa9", "fi", "1", NULL };
    static const char *const none[] = { "e\xcc\x81", "\xef\xac\x81", NULL };

    /* e + combining acute; the ligature fi; circled digit one */
    expect_terms("{\"normalize\":\"nfc\"}", "e\xcc\x81 \xef\xac\x81", nfc);
    expect_terms("{\"normalize\":\"nfkc\"}",
                 "e\xcc\x81 \xef\xac\x81 \xe2\x91\xa0", nfkc);
    expect_terms("{\"min_length\":1}", "e\xcc\x81 \xef\xac\x81", none);
}

Test(prof, trim)
{
    static const char *const exp[] = { "hello", "don't", "a-b",
                                       "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
                                       NULL };

    /* "(hello)," "'don't'" "..." "a-b" 「テスト」 "!?" */
    expect_terms("{\"trim\":\"punctuation\"}",
                 "(hello), 'don't' ... a-b "
                 "\xe3\x80\x8c\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\xe3\x80"
                 "\x8d !?",
                 exp);
}

Test(prof, lengths_count_code_points)
{
    static const char *const exp[] = { "ab", "\xe6\x97\xa5\xe6\x9c\xac", "abc",
                                       NULL };

    /* 日本 is 2 code points (6 bytes), 日本語で 4 */
    expect_terms("{\"min_length\":2,\"max_length\":3}",
                 "a ab \xe6\x97\xa5\xe6\x9c\xac abc abcd "
                 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7",
                 exp);
}

Test(prof, lengths_after_trim)
{
    static const char *const exp[] = { "ab", NULL };

    expect_terms("{\"trim\":\"punctuation\",\"max_length\":2}", "(ab) (abc)",
                 exp);
}

Test(prof, stopwords_after_fold_and_trim)
{
    static const char *const exp[] = { "cat", "hat", NULL };

    expect_terms("{\"case\":\"fold\",\"trim\":\"punctuation\","
                 "\"stopwords\":[\"the\",\"and\"]}",
                 "The cat, and (THE) hat.", exp);
}

Test(prof, ngrams)
{
    static const char *const two[] = { "a", "b", "a b", "c", "b c", NULL };
    static const char *const three[] = { "a",     "b", "a b", "c",     "b c",
                                         "a b c", "d", "c d", "b c d", NULL };
    static const char *const stop[] = { "a", "b", "a b", "c", "b c", NULL };

    expect_terms("{\"ngrams\":2}", "a b c", two);
    expect_terms("{\"ngrams\":3}", "a b\nc d", three);
    /* n-grams join the kept words: the stopword "x" is skipped */
    expect_terms("{\"ngrams\":2,\"stopwords\":[\"x\"]}", "a x b x x c", stop);
}

Test(prof, ngrams_across_chunks)
{
    static const char body[] = "one two three four five";
    prof_t p;
    opt_t o = { .piece = 1 };
    run_t r;
    size_t cuts[] = { 2, 5, 9, 13 };
    static const char *const exp[] = {
        "one",   "two",        "one two",
        "three", "two three",  "one two three",
        "four",  "three four", "two three four",
        "five",  "four five",  "three four five",
        NULL,
    };

    prof_json(&p, "{\"ngrams\":3,\"split\":\"unicode\"}");
    run_cuts(&r, &p, &o, body, strlen(body), cuts, MEMDB_NELEM(cuts));
    expect(&r, exp, "ngrams across chunks");
    run_free(&r);
    check_chunkings(&p, &o, body, strlen(body), 3);
    prof_free(&p);
}

/* ---- errors ---------------------------------------------------------------- */

static void
expect_err(const char *json, const opt_t *o, const char *body, tok_err_e e,
           uint64_t off)
{
    prof_t p;
    run_t r;

    prof_json(&p, json);
    run_whole(&r, &p, o, body, strlen(body));
    cr_assert_eq(r.err, e, "%s on \"%s\": error %d, expected %d", json, body,
                 r.err, e);
    cr_assert_eq(r.err_off, off, "%s on \"%s\": offset %llu, expected %llu",
                 json, body, (unsigned long long) r.err_off,
                 (unsigned long long) off);
    run_free(&r);
    check_chunkings(&p, o, body, strlen(body), 11);
    prof_free(&p);
}

Test(prof, bad_utf8_offsets)
{
    static const char *const profiles[] = {
        "{\"split\":\"unicode\"}",
        "{\"case\":\"fold\"}",
        "{\"normalize\":\"nfkc\",\"split\":\"unicode\"}",
        "{\"trim\":\"punctuation\",\"ngrams\":3}",
    };
    opt_t o = { 0 };

    for (size_t i = 0; i < MEMDB_NELEM(profiles); i++) {
        expect_err(profiles[i], &o, "abc \xc3\x28 def", TOK_BAD_UTF8, 4);
        expect_err(profiles[i], &o, "\xff", TOK_BAD_UTF8, 0);
        expect_err(profiles[i], &o, "ok \xed\xa0\x80", TOK_BAD_UTF8, 3);
        expect_err(profiles[i], &o, "ok \xe4\xbd\xa0\xe5\xa5 x", TOK_BAD_UTF8,
                   6);
        expect_err(profiles[i], &o, "cut off \xf0\x9f\x98", TOK_BAD_UTF8, 8);
        expect_err(profiles[i], &o, "overlong \xc0\xaf", TOK_BAD_UTF8, 9);
    }
}

Test(prof, too_long_terms)
{
    opt_t o = { .max_word = 5 };

    expect_err("{\"split\":\"unicode\"}", &o, "ab cd, efghij k",
               TOK_WORD_TOO_LONG, 7);
    /* after trim, "(abcde)" is 5 bytes: fine; its offset is the raw word's */
    expect_err("{\"trim\":\"punctuation\"}", &o, "(abcde) x (abcdef)",
               TOK_WORD_TOO_LONG, 10);
    /* a word dropped by max_length is no term */
    expect_err("{\"max_length\":5,\"split\":\"unicode\"}", &o,
               "abcdefgh xy abcdef", TOK_OK, 0);
    /* an n-gram: at its first word */
    expect_err("{\"ngrams\":2,\"split\":\"unicode\"}", &o, "ab, cd. efg",
               TOK_WORD_TOO_LONG, 4);
    /* the first error in byte order: a too-long word before a bad byte */
    expect_err("{\"split\":\"unicode\"}", &o, "abcdefgh \xff",
               TOK_WORD_TOO_LONG, 0);
    expect_err("{\"split\":\"unicode\"}", &o, "abc \xff abcdefgh",
               TOK_BAD_UTF8, 4);
    /* the length that counts is the folded one: ﬀ (3 bytes) folds to ff */
    expect_err("{\"case\":\"fold\"}", &o, "x \xef\xac\x80\xef\xac\x80 y",
               TOK_OK, 0);
    expect_err("{\"case\":\"fold\"}", &o,
               "x \xef\xac\x80\xef\xac\x80\xef\xac\x80", TOK_WORD_TOO_LONG, 2);
}

Test(prof, normalized_too_long_is_at_or_before)
{
    prof_t p;
    opt_t o = { .max_word = 4 };
    run_t r;
    /* ①②③④⑤ under NFKC: 12345, too long; at the start of its piece */
    static const char body[] = "ab \xe2\x91\xa0\xe2\x91\xa1\xe2\x91\xa2\xe2"
                               "\x91\xa3\xe2\x91\xa4 c";

    prof_json(&p, "{\"normalize\":\"nfkc\"}");
    run_whole(&r, &p, &o, body, strlen(body));
    cr_assert_eq(r.err, TOK_WORD_TOO_LONG);
    cr_assert_leq(r.err_off, 3);
    run_free(&r);
    check_chunkings(&p, &o, body, strlen(body), 5);
    prof_free(&p);
}

/* ---- streaming ------------------------------------------------------------- */

/* Handmade text that tries the safe-cut rule: every kind of space, line
 * ends, combining marks after spaces, ZWJ emoji, regional indicators,
 * CJK and Thai runs, fullwidth forms, a no-break space and U+202F between
 * letters, decomposed and composed letters. */
static const char tricky[] =
    "The  quick\tbrown\r\nfox \xcc\x81jumps  over\xe3\x80\x80"
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab"
    "\xa0 \xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2\xe0\xb9\x84\xe0"
    "\xb8\x97\xe0\xb8\xa2 a\xe2\x80\xaf"
    "b c\xc2\xa0"
    "d e\xcc\x81t\xc3\xa9 \xef\xbc\xa1\xef\xbc\xa2 "
    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb x \xf0\x9f\x87\xaf\xf0"
    "\x9f\x87\xb5\xf0\x9f\x87\xab\xf0\x9f\x87\xb7 3.5 don't \xe2\x80\x8b"
    "zw  \xef\xac\x81n \xc2\xa8x \xe2\x80\xa8line\xc2\x85next\n"
    "\xe4\xb8\xad\xe6\x96\x87\xe5\x88\x86\xe8\xaf\x8d\xe6\xb5\x8b\xe8\xaf"
    "\x95 STRASSE Stra\xc3\x9f"
    "e (end).";

static const char *const stream_profiles[] = {
    "{\"split\":\"unicode\"}",
    "{\"split\":\"unicode\",\"normalize\":\"nfc\"}",
    "{\"split\":\"unicode\",\"normalize\":\"nfkc\",\"case\":\"fold\"}",
    "{\"split\":\"unicode\",\"ngrams\":3,\"trim\":\"punctuation\"}",
    "{\"case\":\"fold\",\"trim\":\"punctuation\",\"ngrams\":2}",
    "{\"normalize\":\"nfkc\",\"ngrams\":3}",
    "{\"normalize\":\"nfc\",\"min_length\":2,\"max_length\":5,"
    "\"stopwords\":[\"over\"]}",
};

Test(prof, chunking_invariance)
{
    for (size_t i = 0; i < MEMDB_NELEM(stream_profiles); i++) {
        prof_t p;
        run_t ref;
        opt_t whole = { 0 };

        prof_json(&p, stream_profiles[i]);
        run_whole(&ref, &p, &whole, tricky, strlen(tricky));
        cr_assert_eq(ref.err, TOK_OK);
        cr_assert_gt(ref.terms.n, 10);
        /* tiny pieces: a cut at every safe place */
        for (size_t piece = 1; piece <= 64; piece *= 4) {
            opt_t o = { .piece = piece };
            run_t r;

            run_whole(&r, &p, &o, tricky, strlen(tricky));
            cr_assert(same(&ref, &r, true), "%s, piece %zu",
                      stream_profiles[i], piece);
            run_free(&r);
            check_chunkings(&p, &o, tricky, strlen(tricky),
                            (unsigned) (i * 31 + piece));
        }
        run_free(&ref);
        prof_free(&p);
    }
}

Test(prof, forced_cut_at_the_window)
{
    static const char *const exp[] = { "abcd", "efgh", "ij", "k", NULL };
    static const char *const cjk[] = {
        "\xe6\x97\xa5\xe6\x9c\xac", /* the window: 8 bytes, 2 characters */
        "\xe8\xaa\x9e",
        NULL,
    };
    prof_t p;
    opt_t o = { .window = 4, .piece = 2 };
    run_t r;
    static const char body[] = "abcdefghij k";

    prof_json(&p, "{\"normalize\":\"nfc\"}");
    run_whole(&r, &p, &o, body, strlen(body));
    expect(&r, exp, "forced cut");
    run_free(&r);
    check_chunkings(&p, &o, body, strlen(body), 9);
    prof_free(&p);

    o.window = 8;
    prof_json(&p, "{\"split\":\"unicode\"}");
    run_whole(&r, &p, &o, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9);
    expect(&r, cjk, "forced cut inside a character: before it");
    run_free(&r);
    prof_free(&p);
}

Test(prof, init_reuses_and_switches_profiles)
{
    prof_t a, b;
    ptok_t t;
    terms_t ts = { 0 };

    prof_json(&a, "{\"split\":\"unicode\",\"case\":\"fold\"}");
    prof_default(&b);
    memset(&t, 0, sizeof(t));
    for (int k = 0; k < 3; k++) {
        ts.n = 0;
        ts.all.len = 0;
        cr_assert_eq(ptok_init(&t, k == 1 ? &b : &a, 64, terms_add, &ts),
                     MEMDB_OK);
        cr_assert_eq(ptok_feed(&t, "Hello, World", 12), TOK_OK);
        cr_assert_eq(ptok_finish(&t), TOK_OK);
        cr_assert_eq(ts.n, 2);
        cr_assert_str_eq(ts.all.data, k == 1 ? "Hello," : "hello");
    }
    ptok_free(&t);
    buf_free(&ts.all);
    prof_free(&a);
}
