/*
 * fuzz_url.c - percent-decoding and query strings (src/core/url.c), as the
 * request handlers use them on the query of a request target.
 *
 * Checks: url_decode() fails exactly when a '%' is not followed by two hex
 * digits; on success the output has one byte per input byte or escape, and
 * percent-encoding it again decodes to the same bytes.  url_query_next()
 * ends (every call consumes input), and a query that decodes yields pairs
 * whose key and value are the decoded text around the first '='.
 */
#include "tests/fuzz/fuzz.h"
#include "src/core/url.h"

static bool
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}

/* What url_decode should say, and how long its output should be. */
static bool
decodable(const char *s, size_t len, size_t *outlen)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++, n++) {
        if (s[i] != '%')
            continue;
        if (i + 2 >= len || !is_hex((unsigned char) s[i + 1])
            || !is_hex((unsigned char) s[i + 2]))
            return false;
        i += 2;
    }
    *outlen = n;
    return true;
}

static void
check_decode(const char *s, size_t len)
{
    buf_t out = { 0 }, enc = { 0 }, again = { 0 };
    size_t want = 0;
    bool ok = decodable(s, len, &want);
    int rc = url_decode(&out, s, len);

    FUZZ_CHECK((rc == MEMDB_OK) == ok);
    if (rc == MEMDB_OK) {
        FUZZ_CHECK(out.len == want);
        for (size_t i = 0; i < out.len; i++) {
            static const char hex[] = "0123456789ABCDEF";
            unsigned char c = (unsigned char) out.data[i];
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            buf_append(&enc, e, 3);
        }
        FUZZ_CHECK(url_decode(&again, enc.data, enc.len) == MEMDB_OK);
        FUZZ_CHECK(again.len == out.len);
        FUZZ_CHECK(out.len == 0 || memcmp(again.data, out.data, out.len) == 0);
    }
    buf_free(&out);
    buf_free(&enc);
    buf_free(&again);
}

static void
check_query(const char *s, size_t len)
{
    url_query_t q;
    buf_t key = { 0 }, val = { 0 };
    size_t calls = 0;
    int rc;

    url_query_init(&q, s, len);
    while ((rc = url_query_next(&q, &key, &val)) == MEMDB_OK) {
        FUZZ_CHECK(++calls <= len);
        FUZZ_CHECK(q.p <= q.end);
        FUZZ_CHECK(key.len + val.len <= len);
    }
    FUZZ_CHECK(rc == MEMDB_AGAIN || rc == MEMDB_ERR);
    if (rc == MEMDB_AGAIN)
        FUZZ_CHECK(q.p == q.end);
    buf_free(&key);
    buf_free(&val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *) data;

    check_decode(s, size);
    check_query(s, size);
    return 0;
}
