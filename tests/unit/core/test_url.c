/*
 * test_url.c - percent-decoding, query-string iteration and Host syntax.
 */
#include <criterion/criterion.h>

#include "src/core/url.h"

#include <stdio.h>
#include <string.h>

static void
expect_decode(const char *in, const char *exp, size_t explen)
{
    buf_t b = { 0 };

    cr_assert_eq(url_decode(&b, in, strlen(in)), MEMDB_OK, "\"%s\"", in);
    cr_assert_eq(b.len, explen, "\"%s\": decoded %zu bytes, expected %zu", in,
                 b.len, explen);
    cr_assert(explen == 0 || memcmp(b.data, exp, explen) == 0, "\"%s\"", in);
    buf_free(&b);
}

static void
expect_bad(const char *in)
{
    buf_t b = { 0 };

    cr_assert_eq(url_decode(&b, in, strlen(in)), MEMDB_ERR, "\"%s\"", in);
    buf_free(&b);
}

#define DEC(in, exp) expect_decode(in, exp, sizeof(exp) - 1)

Test(url, plain_text_unchanged)
{
    DEC("", "");
    DEC("abc", "abc");
    DEC("a-b_c.d~e*f!", "a-b_c.d~e*f!");
    DEC("caf\xc3\xa9", "caf\xc3\xa9");
}

Test(url, percent_escapes)
{
    DEC("%20", " ");
    DEC("a%20b", "a b");
    DEC("%2B", "+");
    DEC("%2b", "+");
    DEC("%41%42%43", "ABC");
    DEC("%c3%A9", "\xc3\xa9");
    DEC("%C3%a9", "\xc3\xa9");
    DEC("%ff%FF%fF%Ff", "\xff\xff\xff\xff");
    DEC("%25", "%");
    DEC("%2525", "%25");
    DEC("%3D%26", "=&");
    DEC("%00", "\0");
    DEC("a%00b", "a\0b");
    DEC("%7f%80", "\x7f\x80");
}

Test(url, plus_is_space)
{
    DEC("+", " ");
    DEC("a+b", "a b");
    DEC("++", "  ");
    DEC("a%2B+b", "a+ b");
}

Test(url, every_hex_digit_pair)
{
    static const char hex[] = "0123456789abcdefABCDEF";

    for (size_t i = 0; i < sizeof(hex) - 1; i++) {
        for (size_t j = 0; j < sizeof(hex) - 1; j++) {
            char in[4] = { '%', hex[i], hex[j], '\0' };
            unsigned v;
            buf_t b = { 0 };

            sscanf(in + 1, "%2x", &v);
            cr_assert_eq(url_decode(&b, in, 3), MEMDB_OK, "%s", in);
            cr_assert_eq(b.len, 1, "%s", in);
            cr_assert_eq((unsigned char) b.data[0], v, "%s", in);
            buf_free(&b);
        }
    }
}

Test(url, bad_escapes)
{
    expect_bad("%");
    expect_bad("%4");
    expect_bad("%G1");
    expect_bad("%1G");
    expect_bad("%g0");
    expect_bad("% 1");
    expect_bad("%-1");
    expect_bad("abc%");
    expect_bad("abc%2");
    expect_bad("%20%");
    expect_bad("%%20");
    expect_bad("a%zzb");
}

Test(url, decode_respects_length)
{
    buf_t b = { 0 };

    /* Only the first 4 bytes ("a%41") are input: the rest is not read. */
    cr_assert_eq(url_decode(&b, "a%41%42", 4), MEMDB_OK);
    cr_assert_eq(b.len, 2);
    cr_assert(memcmp(b.data, "aA", 2) == 0);
    b.len = 0;
    /* "%4" cut before its second digit is bad even if more follows. */
    cr_assert_eq(url_decode(&b, "%41", 2), MEMDB_ERR);
    buf_free(&b);
}

Test(url, decode_appends)
{
    buf_t b = { 0 };

    buf_puts(&b, "pre:");
    cr_assert_eq(url_decode(&b, "x%20y", 5), MEMDB_OK);
    cr_assert_eq(b.len, 7);
    cr_assert(memcmp(b.data, "pre:x y", 7) == 0);
    buf_free(&b);
}

/* ---- query strings ---------------------------------------------------- */

typedef struct kv_s {
    const char *k, *v;
} kv_t;

/* Iterates q and expects exactly the pairs exp[0..n), then MEMDB_AGAIN. */
static void
expect_query(const char *q, const kv_t *exp, size_t n)
{
    url_query_t it;
    buf_t k = { 0 }, v = { 0 };

    url_query_init(&it, q, strlen(q));
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK, "%s: pair %zu", q,
                     i);
        cr_assert_eq(k.len, strlen(exp[i].k), "%s: key %zu is \"%.*s\"", q, i,
                     (int) k.len, k.data);
        cr_assert(k.len == 0 || memcmp(k.data, exp[i].k, k.len) == 0,
                  "%s: key %zu is \"%.*s\"", q, i, (int) k.len, k.data);
        cr_assert_eq(v.len, strlen(exp[i].v), "%s: value %zu is \"%.*s\"", q,
                     i, (int) v.len, v.data);
        cr_assert(v.len == 0 || memcmp(v.data, exp[i].v, v.len) == 0,
                  "%s: value %zu is \"%.*s\"", q, i, (int) v.len, v.data);
    }
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_AGAIN, "%s: end", q);
    cr_assert_eq(k.len, 0);
    cr_assert_eq(v.len, 0);
    /* The end is sticky. */
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_AGAIN, "%s: end", q);
    buf_free(&k);
    buf_free(&v);
}

Test(url, query_single_pair)
{
    static const kv_t e[] = { { "word", "hello" } };
    expect_query("word=hello", e, 1);
}

Test(url, query_multiple_pairs)
{
    static const kv_t e[] = { { "a", "1" },
                              { "b", "two words" },
                              { "c", "x=y" } };
    expect_query("a=1&b=two+words&c=x%3Dy", e, 3);
}

Test(url, query_value_may_hold_equals_sign)
{
    static const kv_t e[] = { { "a", "b=c" }, { "d", "=" } };
    expect_query("a=b=c&d==", e, 2);
}

Test(url, query_empty_value)
{
    static const kv_t e[] = { { "a", "" }, { "b", "2" }, { "c", "" } };
    expect_query("a=&b=2&c=", e, 3);
}

Test(url, query_key_without_equals)
{
    static const kv_t e[] = { { "flag", "" }, { "x", "1" }, { "last", "" } };
    expect_query("flag&x=1&last", e, 3);
}

Test(url, query_empty_key)
{
    static const kv_t e[] = { { "", "v" }, { "", "" } };
    expect_query("=v&=", e, 2);
}

Test(url, query_repeated_ampersands)
{
    static const kv_t e[] = { { "a", "1" }, { "b", "2" } };
    expect_query("&&a=1&&&b=2&&", e, 2);
    expect_query("&", NULL, 0);
    expect_query("&&&&", NULL, 0);
}

Test(url, query_empty)
{
    expect_query("", NULL, 0);
}

Test(url, query_repeated_keys_are_all_returned)
{
    static const kv_t e[] = { { "w", "a" }, { "w", "b" }, { "w", "a" } };
    expect_query("w=a&w=b&w=a", e, 3);
}

Test(url, query_decodes_keys_and_values)
{
    static const kv_t e[] = { { "k y", "v&l" },
                              { "\xc3\xa9", "\xe2\x82\xac" },
                              { "a+b", "%" } };
    expect_query("k+y=v%26l&%C3%A9=%e2%82%ac&a%2Bb=%25", e, 3);
}

Test(url, query_resets_key_and_value)
{
    url_query_t it;
    buf_t k = { 0 }, v = { 0 };

    buf_puts(&k, "junk");
    buf_puts(&v, "junk");
    url_query_init(&it, "a=1&b", 5);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(k.len, 1);
    cr_assert_eq(v.len, 1);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(k.len, 1);
    cr_assert_eq(k.data[0], 'b');
    cr_assert_eq(v.len, 0, "the value of the previous pair was kept");
    buf_free(&k);
    buf_free(&v);
}

Test(url, query_respects_length)
{
    url_query_t it;
    buf_t k = { 0 }, v = { 0 };

    /* Only "a=1&b=" is the query. */
    url_query_init(&it, "a=1&b=2&c=3", 6);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(k.len, 1);
    cr_assert_eq(k.data[0], 'b');
    cr_assert_eq(v.len, 0);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_AGAIN);
    buf_free(&k);
    buf_free(&v);
}

Test(url, query_bad_escape_in_key)
{
    url_query_t it;
    buf_t k = { 0 }, v = { 0 };
    static const char q[] = "ok=1&b%G1=2&c=3";

    url_query_init(&it, q, strlen(q));
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    buf_free(&k);
    buf_free(&v);

    url_query_init(&it, "%=1", 3);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    url_query_init(&it, "a%4", 3);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    buf_free(&k);
    buf_free(&v);
}

Test(url, query_bad_escape_in_value)
{
    url_query_t it;
    buf_t k = { 0 }, v = { 0 };

    url_query_init(&it, "a=%zz&b=1", 9);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    url_query_init(&it, "a=1&b=%4", 8);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_OK);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    /* A '%' cut by the '&' that ends the value is bad, not "%&b". */
    url_query_init(&it, "a=%2&b=1", 8);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    url_query_init(&it, "a=%", 3);
    cr_assert_eq(url_query_next(&it, &k, &v), MEMDB_ERR);
    buf_free(&k);
    buf_free(&v);
}

static bool
host_ok(const char *s)
{
    return url_host_valid(s, strlen(s));
}

Test(url, host_names_addresses_and_ports)
{
    const char *good[] = { "",
                           "localhost",
                           "127.0.0.1",
                           "127.0.0.1:9889",
                           "example.com:",
                           "a-b_c~d.e!$&'()*+,;=",
                           "caf%C3%A9.example",
                           "[::1]",
                           "[::1]:9889",
                           "[2001:db8::7]:80",
                           "[::ffff:192.0.2.1]",
                           "[v7.fe80::a+en1]",
                           ":80" };
    const char *bad[] = { "a b",     "a/b",    "a@b",   "a?b",        "a#b",
                          "a%4",     "a%zz",   "a:80x", "a:80:81",    "[::1",
                          "[]",      "[::1]x", "[g::]", "a\"b",       "a\\b",
                          "[::1]:x", "\x7f",   "a\tb",  "caf\xc3\xa9" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(host_ok(good[i]), "\"%s\" is a valid Host", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!host_ok(bad[i]), "\"%s\" is not a valid Host", bad[i]);
    /* the length counts, not a NUL */
    cr_assert(url_host_valid("ab\0c", 2));
    cr_assert(!url_host_valid("ab\0c", 4));
}
