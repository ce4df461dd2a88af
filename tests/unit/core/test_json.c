/*
 * test_json.c - the JSON writer: string escaping of every byte value, keys,
 * numbers up to UINT64_MAX, and what it writes parsed back with cJSON.
 */
#include <criterion/criterion.h>

#include "src/core/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json_str of s[0..len) as a NUL-terminated string (freed by the caller). */
static char *
jstr(const char *s, size_t len)
{
    buf_t b = { 0 };
    char *out;

    json_str(&b, s, len);
    out = malloc(b.len + 1);
    cr_assert(out != NULL);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    cr_assert(memchr(out, '\0', b.len) == NULL,
              "json_str wrote a raw NUL byte");
    buf_free(&b);
    return out;
}

static void
expect_jstr(const char *s, size_t len, const char *exp)
{
    char *got = jstr(s, len);

    cr_assert_str_eq(got, exp);
    free(got);
}

Test(json, plain_string)
{
    expect_jstr("hello", 5, "\"hello\"");
    expect_jstr("", 0, "\"\"");
    expect_jstr("a b/c'd", 7, "\"a b/c'd\"");
}

Test(json, quote_and_backslash)
{
    expect_jstr("\"", 1, "\"\\\"\"");
    expect_jstr("\\", 1, "\"\\\\\"");
    expect_jstr("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_jstr("\\\"\\\"", 4, "\"\\\\\\\"\\\\\\\"\"");
}

Test(json, short_escapes)
{
    expect_jstr("\n", 1, "\"\\n\"");
    expect_jstr("\r", 1, "\"\\r\"");
    expect_jstr("\t", 1, "\"\\t\"");
    expect_jstr("\b", 1, "\"\\b\"");
    expect_jstr("\f", 1, "\"\\f\"");
    expect_jstr("a\nb\rc\td\be\ff", 11, "\"a\\nb\\rc\\td\\be\\ff\"");
}

Test(json, every_control_character)
{
    for (unsigned c = 0; c < 0x20; c++) {
        char in[3] = { 'x', (char) c, 'y' };
        char exp[16];
        const char *mid;
        char *got;

        switch (c) {
        case '\n': mid = "\\n"; break;
        case '\r': mid = "\\r"; break;
        case '\t': mid = "\\t"; break;
        case '\b': mid = "\\b"; break;
        case '\f': mid = "\\f"; break;
        default: mid = NULL; break;
        }
        if (mid != NULL)
            snprintf(exp, sizeof(exp), "\"x%sy\"", mid);
        else
            snprintf(exp, sizeof(exp), "\"x\\u%04xy\"", c);
        got = jstr(in, 3);
        cr_assert_str_eq(got, exp, "control 0x%02x: %s, expected %s", c, got,
                         exp);
        free(got);
    }
}

Test(json, nul_byte_is_escaped_not_terminating)
{
    expect_jstr("a\0b", 3, "\"a\\u0000b\"");
    expect_jstr("\0", 1, "\"\\u0000\"");
    expect_jstr("\x1f\x1e", 2, "\"\\u001f\\u001e\"");
}

Test(json, utf8_and_del_pass_through)
{
    static const char u[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                            "\xe2\x80\xa8\xe2\x80\xa9 \xef\xbb\xbf";
    char exp[128];

    snprintf(exp, sizeof(exp), "\"%s\"", u);
    expect_jstr(u, strlen(u), exp);
    expect_jstr("\x7f", 1, "\"\x7f\"");
    expect_jstr("a\x7f"
                "b",
                3,
                "\"a\x7f"
                "b\"");
    expect_jstr(" ~", 2, "\" ~\"");
}

Test(json, appends_to_existing_content)
{
    buf_t b = { 0 };

    buf_puts(&b, "[");
    json_str(&b, "a\"", 2);
    buf_putc(&b, ',');
    json_cstr(&b, "b\n");
    buf_putc(&b, ']');
    cr_assert_eq(b.len, strlen("[\"a\\\"\",\"b\\n\"]"));
    cr_assert(memcmp(b.data, "[\"a\\\"\",\"b\\n\"]", b.len) == 0);
    buf_free(&b);
}

Test(json, long_string_with_many_escapes)
{
    /* Forces the buffer to grow well past the initial reservation. */
    enum { N = 10000 };
    char *in = malloc(N);
    buf_t b = { 0 };

    cr_assert(in != NULL);
    for (int i = 0; i < N; i++)
        in[i] = (i % 3 == 0) ? '\x01' : (i % 3 == 1) ? '"' : 'z';
    json_str(&b, in, N);
    /* \u0001 is 6 bytes, \" is 2, z is 1: per 3 bytes 9, plus quotes. */
    size_t ones = (N + 2) / 3, quotes = (N + 1) / 3, zs = N / 3;
    cr_assert_eq(b.len, 2 + ones * 6 + quotes * 2 + zs);
    cr_assert_eq(b.data[0], '"');
    cr_assert_eq(b.data[b.len - 1], '"');
    cr_assert(memcmp(b.data + 1, "\\u0001\\\"z\\u0001", 14) == 0);
    free(in);
    buf_free(&b);
}

/* ---- keys and numbers ------------------------------------------------- */

static void
expect_buf(const buf_t *b, const char *exp)
{
    cr_assert_eq(b->len, strlen(exp), "\"%.*s\" vs \"%s\"", (int) b->len,
                 b->data, exp);
    cr_assert(memcmp(b->data, exp, b->len) == 0, "\"%.*s\" vs \"%s\"",
              (int) b->len, b->data, exp);
}

Test(json, key_commas)
{
    buf_t b = { 0 };

    buf_putc(&b, '{');
    json_key(&b, "a", true);
    buf_putc(&b, '1');
    json_key(&b, "b\"", false);
    buf_putc(&b, '2');
    buf_putc(&b, '}');
    expect_buf(&b, "{\"a\":1,\"b\\\"\":2}");
    buf_free(&b);
}

Test(json, kv_u64_values)
{
    static const struct {
        uint64_t v;
        const char *s;
    } cases[] = {
        { 0, "0" },
        { 1, "1" },
        { 9, "9" },
        { 10, "10" },
        { 99, "99" },
        { 100, "100" },
        { 4294967295ULL, "4294967295" },
        { 4294967296ULL, "4294967296" },
        { 9007199254740993ULL, "9007199254740993" },
        { 10000000000000000000ULL, "10000000000000000000" },
        { UINT64_MAX, "18446744073709551615" },
    };

    for (size_t i = 0; i < MEMDB_NELEM(cases); i++) {
        buf_t b = { 0 };
        char exp[64];

        json_kv_u64(&b, "n", cases[i].v, true);
        snprintf(exp, sizeof(exp), "\"n\":%s", cases[i].s);
        expect_buf(&b, exp);
        b.len = 0;
        json_kv_u64(&b, "n", cases[i].v, false);
        snprintf(exp, sizeof(exp), ",\"n\":%s", cases[i].s);
        expect_buf(&b, exp);
        buf_free(&b);
    }
}

Test(json, kv_str)
{
    buf_t b = { 0 };

    buf_putc(&b, '{');
    json_kv_str(&b, "word", "x\ty", true);
    json_kv_str(&b, "k\\", "", false);
    buf_putc(&b, '}');
    expect_buf(&b, "{\"word\":\"x\\ty\",\"k\\\\\":\"\"}");
    buf_free(&b);
}

/* ---- cJSON round trip ------------------------------------------------- */

/* Parses {"s": <json_str(s)>} with cJSON and returns the decoded string
 * (cJSON's copy: NUL-terminated, so it cannot hold a NUL). */
static cJSON *
parse_obj_with(const char *s, size_t len, const char **out)
{
    buf_t b = { 0 };
    cJSON *root, *item;

    buf_putc(&b, '{');
    json_key(&b, "s", true);
    json_str(&b, s, len);
    buf_putc(&b, '}');
    root = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(root != NULL, "cJSON cannot parse %.*s", (int) b.len, b.data);
    item = cJSON_GetObjectItemCaseSensitive(root, "s");
    cr_assert(cJSON_IsString(item));
    *out = item->valuestring;
    buf_free(&b);
    return root;
}

Test(json, every_single_byte_round_trips_through_cjson)
{
    for (unsigned c = 0; c < 256; c++) {
        char in = (char) c;
        const char *out;
        cJSON *root = parse_obj_with(&in, 1, &out);

        if (c == 0) {
            /* \u0000 decodes to a NUL: an empty C string. */
            cr_assert_eq(out[0], '\0', "byte 0x00");
        } else {
            cr_assert_eq(strlen(out), 1, "byte 0x%02x: length %zu", c,
                         strlen(out));
            cr_assert_eq((unsigned char) out[0], c, "byte 0x%02x", c);
        }
        cJSON_Delete(root);
    }
}

Test(json, every_byte_in_one_string_round_trips_through_cjson)
{
    char in[255];
    const char *out;
    cJSON *root;

    for (int i = 0; i < 255; i++)
        in[i] = (char) (i + 1); /* 0x01..0xff */
    root = parse_obj_with(in, sizeof(in), &out);
    cr_assert_eq(strlen(out), sizeof(in));
    cr_assert(memcmp(out, in, sizeof(in)) == 0);
    cJSON_Delete(root);
}

Test(json, utf8_words_round_trip_through_cjson)
{
    static const char *const words[] = {
        "caf\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\xe2\x80\xa8",
        "\xe2\x80\xa9",
        "a\"b",
        "c\\d",
        "</script>",
        "\x7f",
        "tab\there",
        "\x01\x02\x1f",
    };

    for (size_t i = 0; i < MEMDB_NELEM(words); i++) {
        const char *out;
        cJSON *root = parse_obj_with(words[i], strlen(words[i]), &out);
        cr_assert_str_eq(out, words[i]);
        cJSON_Delete(root);
    }
}

Test(json, document_with_u64_values_parses)
{
    buf_t b = { 0 };
    cJSON *root, *it;

    buf_putc(&b, '{');
    json_kv_u64(&b, "zero", 0, true);
    json_kv_u64(&b, "big", 1ULL << 52, false);
    json_kv_str(&b, "w\n", "v\"", false);
    json_kv_u64(&b, "max", UINT64_MAX, false);
    buf_putc(&b, '}');
    root = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(root != NULL);
    it = cJSON_GetObjectItemCaseSensitive(root, "zero");
    cr_assert(cJSON_IsNumber(it));
    cr_assert_eq(it->valuedouble, 0.0);
    it = cJSON_GetObjectItemCaseSensitive(root, "big");
    cr_assert(cJSON_IsNumber(it));
    cr_assert_eq(it->valuedouble, (double) (1ULL << 52));
    it = cJSON_GetObjectItemCaseSensitive(root, "w\n");
    cr_assert(cJSON_IsString(it));
    cr_assert_str_eq(it->valuestring, "v\"");
    it = cJSON_GetObjectItemCaseSensitive(root, "max");
    cr_assert(cJSON_IsNumber(it));
    /* A double cannot hold it exactly; it is the nearest one, 2^64. */
    cr_assert_eq(it->valuedouble, 18446744073709551616.0);
    cJSON_Delete(root);
    buf_free(&b);
}
