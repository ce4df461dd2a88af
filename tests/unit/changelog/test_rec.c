/*
 * test_rec.c - change records (encoding, checking, iteration, varints) and
 * the per-upload aggregation that feeds them.
 */
#include <criterion/criterion.h>

#include "src/changelog/rec.h"
#include "src/words/agg.h"
#include "shm/ht.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- helpers ---------------------------------------------------------- */

typedef struct word_s {
    const char *w;
    size_t len;
    uint64_t delta;
} word_t;

static rec_hdr_t *
hdr(buf_t *b)
{
    return (rec_hdr_t *) b->data;
}

/* Builds a complete record the way an upload does: words, then len, then
 * rec_finish. */
static void
build(buf_t *b, uint16_t type, const word_t *w, size_t n, uint64_t lsn,
      uint64_t epoch)
{
    rec_begin(b, type);
    for (size_t i = 0; i < n; i++)
        rec_add(b, w[i].w, w[i].len, w[i].delta);
    hdr(b)->len = (uint32_t) b->len;
    rec_finish(b->data, lsn, epoch);
}

/* A record of a few words of every shape, in b. */
static void
sample(buf_t *b)
{
    static const word_t w[] = {
        { "hello", 5, 1 }, { "w\xc3\xb6rld", 6, 3 }, { "x", 1, 127 },
        { "y", 1, 128 },   { "zz", 2, 16384 },       { "max", 3, UINT64_MAX },
    };
    build(b, REC_UPLOAD, w, MEMDB_NELEM(w), 42, 7);
}

/* rec_check on an exact-size copy of p[0..avail), so a read past avail
 * is a read past the allocation. */
static rec_status_e
check_copy(const void *p, size_t avail, uint32_t *len)
{
    void *q = malloc(avail ? avail : 1);
    rec_status_e st;

    cr_assert(q != NULL);
    memcpy(q, p, avail);
    st = rec_check(q, avail, len);
    free(q);
    return st;
}

/* ---- varints ---------------------------------------------------------- */

Test(rec, varint_round_trip_at_boundaries)
{
    static const struct {
        uint64_t v;
        size_t n;
    } cases[] = {
        { 0, 1 },           { 1, 1 },
        { 127, 1 },         { 128, 2 },
        { 255, 2 },         { 16383, 2 },
        { 16384, 3 },       { (1ULL << 21) - 1, 3 },
        { 1ULL << 21, 4 },  { (1ULL << 28) - 1, 4 },
        { 1ULL << 28, 5 },  { (1ULL << 35) - 1, 5 },
        { 1ULL << 35, 6 },  { (1ULL << 56) - 1, 8 },
        { 1ULL << 56, 9 },  { (1ULL << 63) - 1, 9 },
        { 1ULL << 63, 10 }, { UINT64_MAX - 1, 10 },
        { UINT64_MAX, 10 },
    };

    for (size_t i = 0; i < MEMDB_NELEM(cases); i++) {
        unsigned char b[16];
        uint64_t v = 12345;
        size_t n;

        memset(b, 0xee, sizeof(b));
        n = varint_put(b, cases[i].v);
        cr_assert_eq(n, cases[i].n, "%llu: %zu bytes",
                     (unsigned long long) cases[i].v, n);
        cr_assert_eq(b[n], 0xee, "wrote past its length");
        cr_assert_eq(varint_get(b, b + n, &v), n);
        cr_assert_eq(v, cases[i].v);
        /* Extra bytes after it are not read. */
        cr_assert_eq(varint_get(b, b + sizeof(b), &v), n);
        cr_assert_eq(v, cases[i].v);
        /* Every truncation fails. */
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(varint_get(b, b + k, &v), 0, "%llu cut at %zu",
                         (unsigned long long) cases[i].v, k);
        /* rec_word_size agrees with the encoding. */
        cr_assert_eq(rec_word_size(3, cases[i].v), 1 + 3 + n);
    }
}

Test(rec, varint_encoding_bytes)
{
    unsigned char b[16];

    cr_assert_eq(varint_put(b, 0), 1);
    cr_assert_eq(b[0], 0x00);
    cr_assert_eq(varint_put(b, 127), 1);
    cr_assert_eq(b[0], 0x7f);
    cr_assert_eq(varint_put(b, 128), 2);
    cr_assert(memcmp(b, "\x80\x01", 2) == 0);
    cr_assert_eq(varint_put(b, 16383), 2);
    cr_assert(memcmp(b, "\xff\x7f", 2) == 0);
    cr_assert_eq(varint_put(b, 16384), 3);
    cr_assert(memcmp(b, "\x80\x80\x01", 3) == 0);
    cr_assert_eq(varint_put(b, UINT64_MAX), 10);
    cr_assert(memcmp(b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10) == 0);
}

Test(rec, varint_rejects_overflow)
{
    uint64_t v;
    /* 10th byte above 1: more than 64 bits. */
    static const unsigned char big[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                                       "\x02";
    static const unsigned char big2[] = "\x80\x80\x80\x80\x80\x80\x80\x80"
                                        "\x80\x7f";
    /* A 10th byte that wants an 11th. */
    static const unsigned char eleven[] = "\x80\x80\x80\x80\x80\x80\x80\x80"
                                          "\x80\x81\x00";

    cr_assert_eq(varint_get(big, big + 10, &v), 0);
    cr_assert_eq(varint_get(big2, big2 + 10, &v), 0);
    cr_assert_eq(varint_get(eleven, eleven + 11, &v), 0);
    cr_assert_eq(varint_get(big, big, &v), 0);
}

/* ---- encoding and decoding -------------------------------------------- */

Test(rec, encode_then_decode)
{
    static const word_t w[] = {
        { "hello", 5, 1 }, { "w\xc3\xb6rld", 6, 3 }, { "x", 1, 127 },
        { "y", 1, 128 },   { "zz", 2, 16384 },       { "max", 3, UINT64_MAX },
        { "a\0b", 3, 2 },
    };
    buf_t b = { 0 };
    size_t expect_len = REC_HDR;
    uint32_t len = 0;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    rec_begin(&b, REC_UPLOAD);
    cr_assert_eq(b.len, REC_HDR);
    for (size_t i = 0; i < MEMDB_NELEM(w); i++) {
        size_t before = b.len;
        rec_add(&b, w[i].w, w[i].len, w[i].delta);
        cr_assert_eq(b.len - before, rec_word_size(w[i].len, w[i].delta));
        expect_len += rec_word_size(w[i].len, w[i].delta);
    }
    cr_assert_eq(b.len, expect_len);
    hdr(&b)->len = (uint32_t) b.len;
    rec_finish(b.data, 42, 7);

    /* The header, little-endian, "MRC2" first. */
    cr_assert(memcmp(b.data, "MRC2", 4) == 0);
    cr_assert_eq(hdr(&b)->magic, REC_MAGIC);
    cr_assert_eq(hdr(&b)->len, expect_len);
    cr_assert_eq(hdr(&b)->lsn, 42);
    cr_assert_eq(hdr(&b)->epoch, 7);
    cr_assert_eq(hdr(&b)->type, REC_UPLOAD);
    cr_assert_eq(hdr(&b)->flags, 0);
    cr_assert_eq(hdr(&b)->nwords, MEMDB_NELEM(w));

    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    cr_assert_eq(len, b.len);

    rec_iter_init(&it, b.data);
    for (size_t i = 0; i < MEMDB_NELEM(w); i++) {
        cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK, "word %zu", i);
        cr_assert_eq(wl, w[i].len);
        cr_assert(memcmp(word, w[i].w, wl) == 0);
        cr_assert_eq(d, w[i].delta);
        /* The word points into the record. */
        cr_assert(word > b.data && word + wl <= b.data + b.len);
    }
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_AGAIN);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_AGAIN);
    buf_free(&b);
}

/* A retract's and a reset's deltas are stored as given and read back
 * negated (modulo 2^64); other types' are read as stored. */
Test(rec, subtracting_records_give_negated_deltas)
{
    static const uint16_t types[] = { REC_UPLOAD, REC_MERGE, REC_RETRACT,
                                      REC_FORGET };
    buf_t b = { 0 };

    for (size_t t = 0; t < MEMDB_NELEM(types); t++) {
        bool neg = types[t] == REC_RETRACT || types[t] == REC_FORGET;
        rec_iter_t it;
        const char *word;
        size_t wl;
        uint64_t d;
        uint32_t len;

        cr_assert_eq(rec_type_subtracts(types[t]), neg);
        rec_begin(&b, types[t]);
        rec_add(&b, "cat", 3, 5);
        rec_finish(b.data, 1, 0);
        cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
        rec_iter_init(&it, b.data);
        cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
        cr_assert_eq(d, neg ? 0 - 5ULL : 5ULL, "type %u", types[t]);
        cr_assert_eq(5 + d, neg ? 0 : 10);
    }
    buf_free(&b);
}

Test(rec, checksum_is_xxh3_of_record_with_zero_checksum)
{
    buf_t b = { 0 };
    uint64_t sum;

    sample(&b);
    sum = hdr(&b)->checksum;
    hdr(&b)->checksum = 0;
    cr_assert_eq(sum, XXH3_64bits(b.data, b.len));
    cr_assert_neq(sum, 0);
    buf_free(&b);
}

Test(rec, longest_word)
{
    char *w = malloc(65536);
    buf_t b = { 0 };
    uint32_t len;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    cr_assert(w != NULL);
    for (int i = 0; i < 65536; i++)
        w[i] = (char) ('a' + i % 26);
    rec_begin(&b, REC_UPLOAD);
    rec_add(&b, w, 65535, 9);
    hdr(&b)->len = (uint32_t) b.len;
    rec_finish(b.data, 1, 0);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    rec_iter_init(&it, b.data);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
    cr_assert_eq(wl, 65535);
    cr_assert(memcmp(word, w, wl) == 0);
    cr_assert_eq(d, 9);

    /* 65536 bytes is more than a word can be. */
    rec_begin(&b, REC_UPLOAD);
    rec_add(&b, w, 65536, 1);
    hdr(&b)->len = (uint32_t) b.len;
    rec_finish(b.data, 1, 0);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    rec_iter_init(&it, b.data);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_ERR);
    free(w);
    buf_free(&b);
}

Test(rec, empty_noop_record)
{
    buf_t b = { 0 };
    uint32_t len = 0;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    build(&b, REC_NOOP, NULL, 0, 9, 1);
    cr_assert_eq(b.len, REC_HDR);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    cr_assert_eq(len, REC_HDR);
    cr_assert_eq(hdr(&b)->type, REC_NOOP);
    rec_iter_init(&it, b.data);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_AGAIN);
    buf_free(&b);
}

Test(rec, records_back_to_back)
{
    static const word_t w1[] = { { "one", 3, 1 } };
    static const word_t w2[] = { { "two", 3, 2 }, { "three", 5, 3 } };
    buf_t a = { 0 }, b = { 0 }, all = { 0 };
    uint32_t len = 0;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    build(&a, REC_UPLOAD, w1, 1, 1, 0);
    build(&b, REC_MERGE, w2, 2, 2, 0);
    buf_append(&all, a.data, a.len);
    buf_append(&all, b.data, b.len);
    /* More bytes available than the first record: its length comes back. */
    cr_assert_eq(rec_check(all.data, all.len, &len), REC_OK);
    cr_assert_eq(len, a.len);
    cr_assert_eq(rec_check(all.data + len, all.len - len, &len), REC_OK);
    cr_assert_eq(len, b.len);
    rec_iter_init(&it, all.data + a.len);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
    cr_assert_eq(wl, 3);
    cr_assert(memcmp(word, "two", 3) == 0);
    buf_free(&a);
    buf_free(&b);
    buf_free(&all);
}

Test(rec, unaligned_record_checks_and_iterates)
{
    /* Records in a byte stream (log segment, replication) sit at any
     * offset. */
    buf_t b = { 0 };
    unsigned char *mem;

    sample(&b);
    mem = malloc(b.len + 8);
    cr_assert(mem != NULL);
    for (size_t shift = 0; shift < 8; shift++) {
        uint32_t len = 0;
        rec_iter_t it;
        const char *word;
        size_t wl, n = 0;
        uint64_t d;

        memcpy(mem + shift, b.data, b.len);
        cr_assert_eq(rec_check(mem + shift, b.len, &len), REC_OK, "offset %zu",
                     shift);
        cr_assert_eq(len, b.len);
        rec_iter_init(&it, mem + shift);
        while (rec_next(&it, &word, &wl, &d) == MEMDB_OK)
            n++;
        cr_assert_eq(n, 6, "offset %zu", shift);
    }
    free(mem);
    buf_free(&b);
}

Test(rec, reseal_after_header_change)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    hdr(&b)->lsn = 43;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_CHECKSUM);
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    hdr(&b)->type = REC_NOOP;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_CHECKSUM);
    rec_finish(b.data, 44, 8);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    cr_assert_eq(hdr(&b)->lsn, 44);
    cr_assert_eq(hdr(&b)->epoch, 8);
    buf_free(&b);
}

/* ---- damage ----------------------------------------------------------- */

Test(rec, any_single_byte_flip_is_detected)
{
    static const unsigned char masks[] = { 0x01, 0x10, 0x80, 0xff };
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    cr_assert_gt(b.len, REC_HDR + 20);
    for (size_t i = 0; i < b.len; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            rec_status_e st;

            b.data[i] ^= (char) masks[m];
            st = check_copy(b.data, b.len, &len);
            b.data[i] ^= (char) masks[m];

            if (i < 4)
                cr_assert_eq(st, REC_BAD_MAGIC, "byte %zu ^ %02x: %s", i,
                             masks[m], rec_status_str(st));
            else if (i < 8) /* len: too short, too long, or wrong range */
                cr_assert(st == REC_BAD_LEN || st == REC_SHORT
                              || st == REC_BAD_CHECKSUM,
                          "byte %zu ^ %02x: %s", i, masks[m],
                          rec_status_str(st));
            else
                cr_assert_eq(st, REC_BAD_CHECKSUM, "byte %zu ^ %02x: %s", i,
                             masks[m], rec_status_str(st));
        }
    }
    /* Undamaged again. */
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    buf_free(&b);
}

Test(rec, every_truncation_is_short)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    for (size_t avail = 0; avail < b.len; avail++)
        cr_assert_eq(check_copy(b.data, avail, &len), REC_SHORT,
                     "%zu of %zu bytes: %s", avail, b.len,
                     rec_status_str(check_copy(b.data, avail, &len)));
    cr_assert_eq(check_copy(b.data, b.len, &len), REC_OK);
    buf_free(&b);
}

Test(rec, bad_magic)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    hdr(&b)->magic = 0x3143524dU; /* "MRC1", the format before origins */
    rec_seal(b.data);             /* checksum is not the issue */
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_MAGIC);
    hdr(&b)->magic = 0;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_MAGIC);
    /* Checked before the length: 64 zero bytes are a bad magic. */
    memset(b.data, 0, REC_HDR);
    cr_assert_eq(rec_check(b.data, REC_HDR, &len), REC_BAD_MAGIC);
    buf_free(&b);
}

Test(rec, bad_len)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    hdr(&b)->len = REC_HDR - 1;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_LEN);
    hdr(&b)->len = 0;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_LEN);
    hdr(&b)->len = REC_MAX_LEN + 1;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_LEN);
    hdr(&b)->len = UINT32_MAX;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_LEN);
    /* Plausible but more than there is: short, not bad. */
    hdr(&b)->len = REC_MAX_LEN;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_SHORT);
    hdr(&b)->len = (uint32_t) b.len + 1;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_SHORT);
    buf_free(&b);
}

Test(rec, nwords_larger_than_actual)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    hdr(&b)->nwords++;
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    hdr(&b)->nwords = UINT32_MAX;
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    buf_free(&b);
}

Test(rec, nwords_smaller_than_actual)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    hdr(&b)->nwords--;
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    hdr(&b)->nwords = 0;
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    buf_free(&b);
}

Test(rec, trailing_bytes_after_the_words)
{
    buf_t b = { 0 };
    uint32_t len;

    sample(&b);
    buf_putc(&b, '\0');
    hdr(&b)->len = (uint32_t) b.len;
    rec_seal(b.data);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    buf_free(&b);
}

/* A record with a hand-made payload, sealed so only the payload is wrong. */
static void
raw_record(buf_t *b, const void *payload, size_t plen, uint32_t nwords)
{
    rec_begin(b, REC_UPLOAD);
    buf_append(b, payload, plen);
    hdr(b)->nwords = nwords;
    hdr(b)->len = (uint32_t) b->len;
    rec_finish(b->data, 1, 0);
}

static int
first_next(buf_t *b)
{
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    rec_iter_init(&it, b->data);
    return rec_next(&it, &word, &wl, &d);
}

Test(rec, next_rejects_zero_length_word)
{
    buf_t b = { 0 };
    uint32_t len;

    raw_record(&b, "\x00\x01", 2, 1); /* len 0, delta 1 */
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    /* rec_add would write the same thing. */
    rec_begin(&b, REC_UPLOAD);
    rec_add(&b, "", 0, 1);
    hdr(&b)->len = (uint32_t) b.len;
    rec_finish(b.data, 1, 0);
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    buf_free(&b);
}

Test(rec, next_rejects_zero_delta)
{
    static const word_t w[] = { { "ok", 2, 1 }, { "zero", 4, 0 } };
    buf_t b = { 0 };
    uint32_t len;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;

    build(&b, REC_UPLOAD, w, 2, 1, 0);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    rec_iter_init(&it, b.data);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_ERR);

    raw_record(&b, "\x01x\x00", 3, 1);
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    buf_free(&b);
}

Test(rec, next_rejects_truncated_payloads)
{
    buf_t b = { 0 };
    uint32_t len;

    raw_record(&b,
               "\x05"
               "ab",
               3, 1); /* word runs past the end */
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    raw_record(&b,
               "\x02"
               "ab",
               3, 1); /* no delta */
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);
    raw_record(&b,
               "\x02"
               "ab\x80",
               4, 1); /* delta cut short */
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    raw_record(&b, "\x80", 1, 1); /* length cut short */
    cr_assert_eq(first_next(&b), MEMDB_ERR);
    raw_record(&b,
               "\x02"
               "ab\x01",
               4, 1); /* and the fixed one */
    cr_assert_eq(first_next(&b), MEMDB_OK);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    buf_free(&b);
}

Test(rec, status_strings)
{
    static const rec_status_e all[] = {
        REC_OK,      REC_SHORT,        REC_BAD_MAGIC,
        REC_BAD_LEN, REC_BAD_CHECKSUM, REC_BAD_PAYLOAD,
    };

    for (size_t i = 0; i < MEMDB_NELEM(all); i++) {
        cr_assert_str_neq(rec_status_str(all[i]), "unknown");
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(rec_status_str(all[i]), rec_status_str(all[j]));
    }
    cr_assert_str_eq(rec_status_str((rec_status_e) 99), "unknown");
}

/* ---- agg -------------------------------------------------------------- */

static void
add_s(agg_t *a, const char *w)
{
    agg_add(a, w, strlen(w));
}

static void
expect_ent(const agg_t *a, size_t i, const char *w, size_t len, uint64_t count)
{
    const agg_ent_t *e = &a->ents[i];

    cr_assert_eq(e->len, len, "entry %zu", i);
    cr_assert(memcmp(agg_key(a, e), w, len) == 0, "entry %zu", i);
    cr_assert_eq(e->count, count, "entry %zu (%.*s): %llu", i, (int) len, w,
                 (unsigned long long) e->count);
    cr_assert_eq(e->hash, ht_hash(w, len));
}

Test(agg, counts_in_first_seen_order)
{
    agg_t a = { 0 };

    add_s(&a, "b");
    add_s(&a, "a");
    add_s(&a, "b");
    add_s(&a, "c");
    add_s(&a, "b");
    add_s(&a, "a");
    cr_assert_eq(a.n, 3);
    cr_assert_eq(a.words, 6);
    expect_ent(&a, 0, "b", 1, 3);
    expect_ent(&a, 1, "a", 1, 2);
    expect_ent(&a, 2, "c", 1, 1);
    cr_assert_eq(a.cost, 3 * ht_cost(1));
    agg_free(&a);
}

Test(agg, words_are_compared_by_bytes_and_length)
{
    agg_t a = { 0 };

    add_s(&a, "ab");
    add_s(&a, "a");
    add_s(&a, "abc");
    agg_add(&a, "a\0b", 3);
    agg_add(&a, "a\0c", 3);
    add_s(&a, "AB");
    add_s(&a, "caf\xc3\xa9");
    add_s(&a, "cafe");
    agg_add(&a, "a\0b", 3);
    add_s(&a, "ab");
    cr_assert_eq(a.n, 8);
    cr_assert_eq(a.words, 10);
    expect_ent(&a, 0, "ab", 2, 2);
    expect_ent(&a, 1, "a", 1, 1);
    expect_ent(&a, 2, "abc", 3, 1);
    expect_ent(&a, 3, "a\0b", 3, 2);
    expect_ent(&a, 4, "a\0c", 3, 1);
    expect_ent(&a, 5, "AB", 2, 1);
    expect_ent(&a, 6, "caf\xc3\xa9", 5, 1);
    expect_ent(&a, 7, "cafe", 4, 1);
    cr_assert_eq(a.cost, 2 * ht_cost(2) + ht_cost(1) + 2 * ht_cost(3)
                             + ht_cost(3) + ht_cost(5) + ht_cost(4));
    agg_free(&a);
}

Test(agg, many_distinct_words)
{
    enum { N = 100000 };
    agg_t a = { 0 };
    char w[32];
    uint64_t cost = 0;

    for (int i = 0; i < N; i++) {
        int n = snprintf(w, sizeof(w), "w%d", i);
        agg_add(&a, w, (size_t) n);
        cost += ht_cost((size_t) n);
    }
    cr_assert_eq(a.n, N);
    cr_assert_geq(a.scap, 2 * (size_t) N);
    cr_assert_eq(a.scap & (a.scap - 1), 0, "scap %zu is a power of two",
                 a.scap);
    /* Again in reverse, and a third time for the multiples of 7. */
    for (int i = N - 1; i >= 0; i--) {
        int n = snprintf(w, sizeof(w), "w%d", i);
        agg_add(&a, w, (size_t) n);
    }
    for (int i = 0; i < N; i += 7) {
        int n = snprintf(w, sizeof(w), "w%d", i);
        agg_add(&a, w, (size_t) n);
    }
    cr_assert_eq(a.n, N, "a word was added twice");
    cr_assert_eq(a.words, 2ULL * N + (N + 6) / 7);
    cr_assert_eq(a.cost, cost);
    for (int i = 0; i < N; i++) {
        int n = snprintf(w, sizeof(w), "w%d", i);
        uint64_t exp = i % 7 == 0 ? 3 : 2;
        if (a.ents[i].len != (uint32_t) n
            || memcmp(agg_key(&a, &a.ents[i]), w, (size_t) n) != 0
            || a.ents[i].count != exp)
            cr_assert_fail("entry %d: \"%.*s\" x %llu, expected %s x %llu", i,
                           (int) a.ents[i].len, agg_key(&a, &a.ents[i]),
                           (unsigned long long) a.ents[i].count, w,
                           (unsigned long long) exp);
    }
    agg_free(&a);
}

Test(agg, reset_forgets_everything)
{
    agg_t a = { 0 };

    add_s(&a, "x");
    add_s(&a, "y");
    add_s(&a, "x");
    agg_reset(&a);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(a.words, 0);
    cr_assert_eq(a.cost, 0);
    cr_assert_eq(a.keys.len, 0);
    /* Old words are not found any more. */
    add_s(&a, "y");
    add_s(&a, "z");
    add_s(&a, "y");
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.words, 3);
    expect_ent(&a, 0, "y", 1, 2);
    expect_ent(&a, 1, "z", 1, 1);
    cr_assert_eq(a.cost, 2 * ht_cost(1));
    agg_free(&a);
}

Test(agg, reset_after_a_big_upload)
{
    enum { N = 40000 };
    agg_t a = { 0 };
    char w[32];

    for (int i = 0; i < N; i++) {
        int n = snprintf(w, sizeof(w), "big%d", i);
        agg_add(&a, w, (size_t) n);
    }
    cr_assert_gt(a.scap, 1u << 16);
    agg_reset(&a);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(a.words, 0);
    cr_assert_eq(a.cost, 0);
    /* The big table is not kept. */
    cr_assert_leq(a.scap, 1u << 16);
    for (int i = 0; i < 3; i++) {
        add_s(&a, "big1");
        add_s(&a, "small");
    }
    cr_assert_eq(a.n, 2);
    expect_ent(&a, 0, "big1", 4, 3);
    expect_ent(&a, 1, "small", 5, 3);
    agg_free(&a);
}

Test(agg, free_then_reuse)
{
    agg_t a = { 0 };

    add_s(&a, "q");
    agg_free(&a);
    cr_assert_eq(a.n, 0);
    cr_assert_null(a.ents);
    cr_assert_null(a.slots);
    add_s(&a, "q");
    add_s(&a, "q");
    cr_assert_eq(a.n, 1);
    expect_ent(&a, 0, "q", 1, 2);
    agg_free(&a);
}

/* ---- origin ------------------------------------------------------------ */

/* An upload's origin is its own place; a handed-over record keeps the one
 * it was given when it gets a new place; the checksum covers the origin. */
Test(rec, origin_is_the_first_place_and_survives_a_new_one)
{
    buf_t b = { 0 };
    rec_origin_t o;
    uint32_t len;

    sample(&b); /* lsn 42, epoch 7, no origin set */
    o = rec_origin(b.data);
    cr_assert_eq(o.boot, 0);
    cr_assert_eq(o.epoch, 7);
    cr_assert_eq(o.lsn, 42);

    rec_begin(&b, REC_UPLOAD);
    rec_add(&b, "w", 1, 1);
    rec_set_origin(b.data, 0xfeedULL, 0, 0);
    rec_finish(b.data, 5, 2);
    o = rec_origin(b.data);
    cr_assert_eq(o.boot, 0xfeedULL);
    cr_assert_eq(o.epoch, 2);
    cr_assert_eq(o.lsn, 5);

    /* handed over: a new place (lsn 900, epoch 9), the same origin */
    rec_begin(&b, REC_MERGE);
    rec_add(&b, "w", 1, 1);
    rec_set_origin(b.data, 0xfeedULL, 2, 5);
    rec_finish(b.data, 900, 9);
    cr_assert_eq(hdr(&b)->lsn, 900);
    cr_assert_eq(hdr(&b)->epoch, 9);
    o = rec_origin(b.data);
    cr_assert_eq(o.boot, 0xfeedULL);
    cr_assert_eq(o.epoch, 2);
    cr_assert_eq(o.lsn, 5);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    hdr(&b)->origin_lsn = 6;
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_CHECKSUM);
    buf_free(&b);
}

Test(rec, key_block_round_trip_before_the_words)
{
    const rec_idem_t id = { .key = { 1, 2 },
                            .body = { 3, 4 },
                            .time_ms = 5,
                            .words = 6,
                            .distinct = 7 };
    buf_t b = { 0 };
    rec_idem_t got;
    rec_iter_t it;
    const char *word;
    size_t wl;
    uint64_t d;
    uint32_t len;

    sample(&b);
    cr_assert_not(rec_idem(b.data, &got), "no block without the flag");

    rec_begin(&b, REC_UPLOAD);
    rec_set_idem(&b, &id);
    rec_add(&b, "one", 3, 1);
    rec_add(&b, "two", 3, 2);
    rec_finish(b.data, 11, 1);
    cr_assert_eq(hdr(&b)->flags, REC_F_IDEM);
    cr_assert_eq(hdr(&b)->len, REC_HDR + REC_IDEM_LEN + rec_word_size(3, 1)
                                   + rec_word_size(3, 2));
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK);
    cr_assert(rec_idem(b.data, &got));
    cr_assert(memcmp(&got, &id, sizeof(id)) == 0);

    rec_iter_init(&it, b.data); /* the words, without the block */
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
    cr_assert(wl == 3 && memcmp(word, "one", 3) == 0 && d == 1);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_OK);
    cr_assert(wl == 3 && memcmp(word, "two", 3) == 0 && d == 2);
    cr_assert_eq(rec_next(&it, &word, &wl, &d), MEMDB_AGAIN);
    buf_free(&b);
}

/* A flag this version does not know, or a block cut short, is refused
 * even with a good checksum: the words would be read from the wrong
 * place. */
Test(rec, unknown_flags_and_short_key_block_are_bad_payload)
{
    const rec_idem_t id = { .key = { 1, 2 } };
    buf_t b = { 0 };
    uint32_t len;

    rec_begin(&b, REC_UPLOAD);
    rec_add(&b, "w", 1, 1);
    hdr(&b)->flags = 2;
    rec_finish(b.data, 1, 1);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);

    rec_begin(&b, REC_NOOP); /* flag set, no room for the block */
    hdr(&b)->flags = REC_F_IDEM;
    rec_finish(b.data, 2, 1);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_BAD_PAYLOAD);

    rec_begin(&b, REC_UPLOAD);
    rec_set_idem(&b, &id);
    rec_finish(b.data, 3, 1);
    cr_assert_eq(rec_check(b.data, b.len, &len), REC_OK,
                 "a block and no words is a whole record");
    buf_free(&b);
}
