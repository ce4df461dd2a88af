/*
 * prof.c - tokenizer profiles: defaults, the JSON form, the binary form
 * (see prof.h for what a profile means; ptok.c applies one).
 *
 * Binary form, little-endian, PROF_ENC_VERSION 1:
 *
 *   off  size  field
 *     0     1  version (1)
 *     1     1  split (PROF_SPLIT_*)
 *     2     1  fold (0, 1)
 *     3     1  normalize (PROF_NORM_*)
 *     4     1  trim (PROF_TRIM_*)
 *     5     1  ngrams (1..3)
 *     6     2  reserved, 0
 *     8     4  min_length
 *    12     4  max_length
 *    16     4  nstop
 *    20        nstop times: u8 len (1..255), len bytes of UTF-8,
 *              in the set's order (sorted, no duplicates)
 *
 * The form is canonical: a profile has exactly one, and prof_decode
 * refuses anything else (a field out of range, stopwords out of order or
 * repeated, bytes after the last stopword), so decode(encode(p)) == p and
 * encode(decode(b)) == b.  Both forms are checked by the same rules
 * (prof_check), so a decoded profile is one prof_from_json could give.
 */
#include "src/words/prof.h"
#include "src/core/json.h"
#include "src/core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#define PROF_HDR 20

void
prof_default(prof_t *p)
{
    memset(p, 0, sizeof(*p));
    p->ngrams = 1;
}

bool
prof_is_default(const prof_t *p)
{
    return p->split == PROF_SPLIT_WHITESPACE && !p->fold
           && p->normalize == PROF_NORM_NONE && p->trim == PROF_TRIM_NONE
           && p->ngrams == 1 && p->min_length == 0 && p->max_length == 0
           && p->nstop == 0;
}

void
prof_free(prof_t *p)
{
    free(p->stop);
    free(p->stop_off);
    p->stop = NULL;
    p->stop_off = NULL;
    p->nstop = 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return MEMDB_ERR;
}

/* ---- stopwords ----------------------------------------------------------- */

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, MEMDB_MIN(an, bn));

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

bool
prof_is_stopword(const prof_t *p, const char *w, size_t len)
{
    uint32_t lo = 0, hi = p->nstop;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *s = p->stop + p->stop_off[mid];
        int c = bytes_cmp(s, p->stop_off[mid + 1] - p->stop_off[mid], w, len);

        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

typedef struct sw_s {
    const char *s;
    size_t len;
} sw_t;

static int
sw_cmp(const void *a, const void *b)
{
    const sw_t *x = a, *y = b;

    return bytes_cmp(x->s, x->len, y->s, y->len);
}

/* Sorts v[0..n), merges duplicates and packs them into p's set. */
static void
stop_build(prof_t *p, sw_t *v, size_t n)
{
    size_t total = 0, k = 0;

    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), sw_cmp);
    for (size_t i = 0; i < n; i++)
        total += v[i].len;
    p->stop = xmalloc(total);
    p->stop_off = xmalloc((n + 1) * sizeof(*p->stop_off));
    p->stop_off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && sw_cmp(&v[i], &v[i - 1]) == 0)
            continue;
        memcpy(p->stop + p->stop_off[k], v[i].s, v[i].len);
        p->stop_off[k + 1] = p->stop_off[k] + (uint32_t) v[i].len;
        k++;
    }
    p->nstop = (uint32_t) k;
}

/* The form s takes through the profile's normalization and case fold, as
 * UTF-8 into out (out->len 0 first).  MEMDB_ERR if ICU fails. */
static int
stop_form(const prof_t *p, const char *s, size_t len, buf_t *out)
{
    UChar a[8192], b[8192];
    UErrorCode st = U_ZERO_ERROR;
    int32_t n, m;
    UChar *cur = a;

    u_strFromUTF8(a, (int32_t) MEMDB_NELEM(a), &n, s, (int32_t) len, &st);
    if (p->normalize != PROF_NORM_NONE && U_SUCCESS(st)) {
        const UNormalizer2 *nz = p->normalize == PROF_NORM_NFC
                                     ? unorm2_getNFCInstance(&st)
                                     : unorm2_getNFKCInstance(&st);
        if (U_SUCCESS(st))
            n = unorm2_normalize(nz, a, n, b, (int32_t) MEMDB_NELEM(b), &st);
        cur = b;
    }
    if (p->fold && U_SUCCESS(st)) {
        UChar *dst = cur == a ? b : a;
        int32_t cap = cur == a ? (int32_t) MEMDB_NELEM(b)
                               : (int32_t) MEMDB_NELEM(a);

        n = u_strFoldCase(dst, cap, cur, n, U_FOLD_CASE_DEFAULT, &st);
        cur = dst;
    }
    if (U_FAILURE(st))
        return MEMDB_ERR;
    buf_reserve(out, (size_t) n * 3 + 1);
    u_strToUTF8(out->data, (int32_t) (out->cap), &m, cur, n, &st);
    if (U_FAILURE(st))
        return MEMDB_ERR;
    out->len = (size_t) m;
    return MEMDB_OK;
}

/* First or last code point of a valid UTF-8 string. */
static UChar32
cp_first(const char *s, size_t len)
{
    UChar32 c;
    int32_t i = 0;

    U8_NEXT(s, i, (int32_t) len, c);
    return c;
}

static UChar32
cp_last(const char *s, size_t len)
{
    UChar32 c;
    int32_t i = (int32_t) len;

    U8_PREV(s, 0, i, c);
    return c;
}

/* One stopword i of the profile: something the tokenizer can produce. */
static int
stop_check(const prof_t *p, uint32_t i, const char *s, size_t len, char *err,
           size_t errlen)
{
    buf_t form = { 0 };
    int rc = MEMDB_OK;

    if (len == 0 || len > PROF_MAX_STOPWORD)
        return fail(err, errlen,
                    "tokenizer.stopwords[%u] must be 1 to %d bytes long", i,
                    PROF_MAX_STOPWORD);
    if (utf8_check(s, len) != -1)
        return fail(err, errlen, "tokenizer.stopwords[%u] is not valid UTF-8",
                    i);
    for (size_t k = 0; k < len;) {
        const unsigned char *q = (const unsigned char *) s + k;
        int n = utf8_seq(q, (const unsigned char *) s + len);

        if (utf8_is_space(q, n) || *q == '\0')
            return fail(err, errlen,
                        "tokenizer.stopwords[%u] must be one word, without "
                        "white space",
                        i);
        k += (size_t) n;
    }
    if (p->trim && (u_ispunct(cp_first(s, len)) || u_ispunct(cp_last(s, len))))
        return fail(err, errlen,
                    "tokenizer.stopwords[%u] never matches: it begins or "
                    "ends with punctuation, which tokenizer.trim removes",
                    i);
    if (stop_form(p, s, len, &form) != MEMDB_OK)
        rc = fail(err, errlen, "tokenizer.stopwords[%u]: ICU failed", i);
    else if (form.data == NULL || form.len != len
             || memcmp(form.data, s, len) != 0)
        rc = fail(err, errlen,
                  "tokenizer.stopwords[%u] never matches: give it as the "
                  "profile makes words (%s%s), \"%.*s\"",
                  i, p->normalize ? "normalized" : "",
                  p->fold ? (p->normalize ? ", case folded" : "case folded")
                          : "",
                  (int) form.len, form.data);
    buf_free(&form);
    return rc;
}

/* ---- checks shared by the JSON and the binary form ---------------------- */

static size_t
enc_size(const prof_t *p)
{
    return PROF_HDR + p->nstop + (p->nstop ? p->stop_off[p->nstop] : 0);
}

static int
prof_check(const prof_t *p, char *err, size_t errlen)
{
    if (p->split > PROF_SPLIT_UNICODE)
        return fail(err, errlen,
                    "tokenizer.split must be \"whitespace\" or \"unicode\"");
    if (p->fold > 1)
        return fail(err, errlen,
                    "tokenizer.case must be \"keep\" or \"fold\"");
    if (p->normalize > PROF_NORM_NFKC)
        return fail(err, errlen,
                    "tokenizer.normalize must be \"none\", "
                    "\"nfc\" or \"nfkc\"");
    if (p->trim > PROF_TRIM_PUNCT)
        return fail(err, errlen,
                    "tokenizer.trim must be \"none\" or "
                    "\"punctuation\"");
    if (p->ngrams < 1 || p->ngrams > PROF_MAX_NGRAMS)
        return fail(err, errlen,
                    "tokenizer.ngrams must be an integer from 1 to %d",
                    PROF_MAX_NGRAMS);
    if (p->min_length > PROF_MAX_LENGTH || p->max_length > PROF_MAX_LENGTH)
        return fail(
            err, errlen, "tokenizer.%s must be an integer from 0 to %d",
            p->min_length > PROF_MAX_LENGTH ? "min_length" : "max_length",
            PROF_MAX_LENGTH);
    if (p->max_length != 0 && p->min_length > p->max_length)
        return fail(err, errlen,
                    "tokenizer.min_length (%u) must not be greater than "
                    "tokenizer.max_length (%u)",
                    p->min_length, p->max_length);
    if (enc_size(p) > PROF_MAX_ENC)
        return fail(err, errlen,
                    "tokenizer.stopwords is too large: %zu bytes encoded, "
                    "at most %d",
                    enc_size(p), PROF_MAX_ENC);
    for (uint32_t i = 0; i < p->nstop; i++) {
        uint32_t a = p->stop_off[i], b = p->stop_off[i + 1];

        if (stop_check(p, i, p->stop + a, b - a, err, errlen) != MEMDB_OK)
            return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* ---- JSON ---------------------------------------------------------------- */

/* The index of s in names[0..n), or -1. */
static int
name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const char *const split_names[] = { "whitespace", "unicode" };
static const char *const norm_names[] = { "none", "nfc", "nfkc" };
static const char *const trim_names[] = { "none", "punctuation" };
static const char *const case_names[] = { "keep", "fold" };

/* A string field that must be one of names: its index into *out. */
static int
json_enum(const cJSON *v, const char *const *names, int n, uint8_t *out)
{
    int i;

    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return MEMDB_ERR;
    i = name_index(v->valuestring, names, n);
    if (i < 0)
        return MEMDB_ERR;
    *out = (uint8_t) i;
    return MEMDB_OK;
}

/* An integer field in [lo, hi]. */
static int
json_uint(const cJSON *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return MEMDB_ERR;
    d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != (double) (uint32_t) d)
        return MEMDB_ERR;
    *out = (uint32_t) d;
    return MEMDB_OK;
}

static int
json_stopwords(prof_t *p, const cJSON *v, char *err, size_t errlen)
{
    int n, i = 0;
    sw_t *sw;
    const cJSON *e;

    if (!cJSON_IsArray(v))
        return fail(err, errlen,
                    "tokenizer.stopwords must be an array of strings");
    n = cJSON_GetArraySize(v);
    if (n > PROF_MAX_ENC)
        return fail(err, errlen, "tokenizer.stopwords is too large: %d words",
                    n);
    sw = xmalloc(((size_t) n + 1) * sizeof(*sw));
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e) || e->valuestring == NULL) {
            free(sw);
            return fail(err, errlen,
                        "tokenizer.stopwords[%d] must be a string", i);
        }
        sw[i].s = e->valuestring;
        sw[i].len = strlen(e->valuestring);
        if (sw[i].len == 0 || sw[i].len > PROF_MAX_STOPWORD) {
            free(sw);
            return fail(err, errlen,
                        "tokenizer.stopwords[%d] must be 1 to %d bytes long",
                        i, PROF_MAX_STOPWORD);
        }
        i++;
    }
    stop_build(p, sw, (size_t) i);
    free(sw);
    return MEMDB_OK;
}

enum {
    F_SPLIT,
    F_FOLD,
    F_NORMALIZE,
    F_TRIM,
    F_NGRAMS,
    F_MIN,
    F_MAX,
    F_STOPWORDS,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "split",  "case",       "normalize",  "trim",
    "ngrams", "min_length", "max_length", "stopwords",
};
/* What each field must be, for the message. */
static const char *const field_want[F_COUNT] = {
    "\"whitespace\" or \"unicode\"",
    "\"keep\" or \"fold\"",
    "\"none\", \"nfc\" or \"nfkc\"",
    "\"none\" or \"punctuation\"",
    "an integer from 1 to 3",
    "an integer from 0 to 65535 (code points; 0: no limit)",
    "an integer from 0 to 65535 (code points; 0: no limit)",
    "an array of strings",
};

/* One field of the object; the message on a bad value names it. */
static int
json_field(prof_t *p, int f, const cJSON *v, char *err, size_t errlen)
{
    int rc = MEMDB_ERR;
    uint32_t u = 0;

    switch (f) {
    case F_SPLIT: rc = json_enum(v, split_names, 2, &p->split); break;
    case F_FOLD: rc = json_enum(v, case_names, 2, &p->fold); break;
    case F_NORMALIZE: rc = json_enum(v, norm_names, 3, &p->normalize); break;
    case F_TRIM: rc = json_enum(v, trim_names, 2, &p->trim); break;
    case F_NGRAMS:
        rc = json_uint(v, 1, PROF_MAX_NGRAMS, &u);
        p->ngrams = (uint8_t) u;
        break;
    case F_MIN: rc = json_uint(v, 0, PROF_MAX_LENGTH, &p->min_length); break;
    case F_MAX: rc = json_uint(v, 0, PROF_MAX_LENGTH, &p->max_length); break;
    default: return json_stopwords(p, v, err, errlen);
    }
    if (rc != MEMDB_OK)
        fail(err, errlen, "tokenizer.%s must be %s", field_names[f],
             field_want[f]);
    return rc;
}

int
prof_from_json(prof_t *p, const cJSON *obj, char *err, size_t errlen)
{
    unsigned seen = 0;
    const cJSON *v;
    prof_t q;

    prof_default(p);
    if (obj == NULL)
        return MEMDB_OK;
    if (!cJSON_IsObject(obj))
        return fail(err, errlen, "tokenizer must be an object");
    prof_default(&q);
    cJSON_ArrayForEach(v, obj)
    {
        int f = v->string ? name_index(v->string, field_names, F_COUNT) : -1;

        if (f < 0) {
            prof_free(&q);
            return fail(err, errlen,
                        "tokenizer.%s is not a field of a tokenizer (one of "
                        "split, case, normalize, trim, ngrams, min_length, "
                        "max_length, stopwords)",
                        v->string ? v->string : "?");
        }
        if (seen & (1u << f)) {
            prof_free(&q);
            return fail(err, errlen, "tokenizer.%s is given twice",
                        field_names[f]);
        }
        seen |= 1u << f;
        if (json_field(&q, f, v, err, errlen) != MEMDB_OK) {
            prof_free(&q);
            return MEMDB_ERR;
        }
    }
    if (prof_check(&q, err, errlen) != MEMDB_OK) {
        prof_free(&q);
        return MEMDB_ERR;
    }
    *p = q;
    return MEMDB_OK;
}

void
prof_to_json(const prof_t *p, buf_t *b)
{
    buf_putc(b, '{');
    json_kv_str(b, "split", split_names[p->split], true);
    json_kv_str(b, "case", case_names[p->fold], false);
    json_kv_str(b, "normalize", norm_names[p->normalize], false);
    json_kv_str(b, "trim", trim_names[p->trim], false);
    json_kv_u64(b, "ngrams", p->ngrams, false);
    json_kv_u64(b, "min_length", p->min_length, false);
    json_kv_u64(b, "max_length", p->max_length, false);
    json_key(b, "stopwords", false);
    buf_putc(b, '[');
    for (uint32_t i = 0; i < p->nstop; i++) {
        if (i > 0)
            buf_putc(b, ',');
        json_str(b, p->stop + p->stop_off[i],
                 p->stop_off[i + 1] - p->stop_off[i]);
    }
    buf_puts(b, "]}");
}

/* ---- binary -------------------------------------------------------------- */

static void
put_u32(unsigned char *q, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        q[i] = (unsigned char) (v >> (8 * i));
}

static uint32_t
get_u32(const unsigned char *q)
{
    return (uint32_t) q[0] | (uint32_t) q[1] << 8 | (uint32_t) q[2] << 16
           | (uint32_t) q[3] << 24;
}

int
prof_encode(const prof_t *p, buf_t *out)
{
    size_t need = enc_size(p);
    unsigned char *q;

    if (need > PROF_MAX_ENC)
        return MEMDB_ERR;
    buf_reserve(out, need);
    q = (unsigned char *) out->data + out->len;
    memset(q, 0, PROF_HDR);
    q[0] = PROF_ENC_VERSION;
    q[1] = p->split;
    q[2] = p->fold;
    q[3] = p->normalize;
    q[4] = p->trim;
    q[5] = p->ngrams;
    put_u32(q + 8, p->min_length);
    put_u32(q + 12, p->max_length);
    put_u32(q + 16, p->nstop);
    q += PROF_HDR;
    for (uint32_t i = 0; i < p->nstop; i++) {
        uint32_t n = p->stop_off[i + 1] - p->stop_off[i];

        *q++ = (unsigned char) n;
        memcpy(q, p->stop + p->stop_off[i], n);
        q += n;
    }
    out->len += need;
    return MEMDB_OK;
}

/* The stopwords of an encoding, d[0..len) after the header. */
static int
decode_stop(prof_t *p, const unsigned char *d, size_t len)
{
    size_t off = 0, total = len - p->nstop;

    if (p->nstop > len / 2) /* each takes 2 bytes at least */
        return MEMDB_ERR;
    if (p->nstop == 0)
        return len == 0 ? MEMDB_OK : MEMDB_ERR;
    p->stop = xmalloc(total);
    p->stop_off = xmalloc(((size_t) p->nstop + 1) * sizeof(*p->stop_off));
    p->stop_off[0] = 0;
    for (uint32_t i = 0; i < p->nstop; i++) {
        size_t n = off < len ? d[off] : 0;
        uint32_t at = p->stop_off[i];

        if (n == 0 || n > len - off - 1 || at + n > total)
            return MEMDB_ERR;
        memcpy(p->stop + at, d + off + 1, n);
        p->stop_off[i + 1] = at + (uint32_t) n;
        if (i > 0
            && bytes_cmp(p->stop + p->stop_off[i - 1], at - p->stop_off[i - 1],
                         p->stop + at, n)
                   >= 0)
            return MEMDB_ERR; /* not sorted, or repeated */
        off += 1 + n;
    }
    return off == len ? MEMDB_OK : MEMDB_ERR;
}

int
prof_decode(prof_t *p, const void *data, size_t len)
{
    const unsigned char *d = data;
    prof_t q;
    char err[256];

    if (len < PROF_HDR || len > PROF_MAX_ENC || d[0] != PROF_ENC_VERSION
        || d[6] != 0 || d[7] != 0)
        return MEMDB_ERR;
    prof_default(&q);
    q.split = d[1];
    q.fold = d[2];
    q.normalize = d[3];
    q.trim = d[4];
    q.ngrams = d[5];
    q.min_length = get_u32(d + 8);
    q.max_length = get_u32(d + 12);
    q.nstop = get_u32(d + 16);
    if (decode_stop(&q, d + PROF_HDR, len - PROF_HDR) != MEMDB_OK
        || prof_check(&q, err, sizeof(err)) != MEMDB_OK) {
        q.nstop = 0;
        prof_free(&q);
        return MEMDB_ERR;
    }
    *p = q;
    return MEMDB_OK;
}
