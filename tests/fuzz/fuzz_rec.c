/*
 * fuzz_rec.c - change records (src/changelog/rec.c): rec_check() and the word
 * iterator, as every reader of records (ring, segments, replication) uses
 * them.
 *
 * The input is checked as it is and again with a consistent header
 * (magic, length) and a right checksum, so the payload decoding is
 * reached.  A record that passes decodes word by word to exactly its end;
 * rebuilding it with rec_begin/rec_add/rec_finish gives the same bytes
 * (one encoding per record, its key block included), and varint_get
 * reads back what varint_put wrote.
 */
#include "tests/fuzz/fuzz.h"

static void
check(const unsigned char *p, size_t size)
{
    uint32_t len = 0;
    rec_status_e st = rec_check(p, size, &len);
    rec_hdr_t h;
    rec_iter_t it;
    const char *w;
    size_t wl;
    uint64_t d;
    buf_t b = { 0 };
    rec_idem_t id;
    int rc;
    uint32_t n = 0;

    FUZZ_CHECK(rec_status_str(st) != NULL);
    if (st != REC_OK)
        return;
    memcpy(&h, p, sizeof(h));
    FUZZ_CHECK(len == h.len && len >= REC_HDR && len <= size);
    rec_begin(&b, h.type);
    FUZZ_CHECK(rec_idem(p, &id) == ((h.flags & REC_F_IDEM) != 0));
    if (h.flags & REC_F_IDEM)
        rec_set_idem(&b, &id); /* the key block, before the words */
    if (h.flags & REC_F_TABLE)
        rec_set_table(&b, rec_table(p)); /* then the table block */
    else
        FUZZ_CHECK(rec_table(p) == 0);
    if (rec_type_table(h.type)) {
        rec_tblop_t op;
        /* a table operation: no words, its payload parses */
        FUZZ_CHECK(rec_table_op(p, &op) && h.nwords == 0);
        FUZZ_CHECK(op.name_len >= 1
                   && op.name + op.name_len <= (const char *) p + len);
        rec_set_table_op(&b, op.name, op.name_len, op.prof, op.prof_len,
                         op.time_ms);
    }
    rec_iter_init(&it, p);
    FUZZ_CHECK(it.neg == rec_type_subtracts(h.type));
    while ((rc = rec_next(&it, &w, &wl, &d)) == MEMDB_OK) {
        if (it.neg)
            d = 0 - d; /* a subtracting record's delta, as it is stored */
        FUZZ_CHECK(wl >= 1 && wl <= 65535 && d >= 1);
        FUZZ_CHECK((const unsigned char *) w
                       >= p + REC_HDR
                              + ((h.flags & REC_F_IDEM) ? REC_IDEM_LEN : 0)
                              + ((h.flags & REC_F_TABLE) ? REC_TABLE_LEN : 0)
                   && (const unsigned char *) w + wl <= p + len);
        rec_add(&b, w, wl, d);
        n++;
    }
    FUZZ_CHECK(rc == MEMDB_AGAIN && n == h.nwords);
    FUZZ_CHECK(((rec_hdr_t *) b.data)->flags == h.flags);
    rec_set_origin(b.data, h.origin, h.origin_epoch, h.origin_lsn);
    rec_finish(b.data, h.lsn, h.epoch);
    /* varint_get also takes non-minimal encodings, so the payloads may
     * differ; when they do not, the records are the same bytes (an origin
     * LSN of 0 is "not set yet": rec_finish fills it in) */
    if (b.len == len && h.origin_lsn != 0
        && memcmp(b.data + REC_HDR, p + REC_HDR, len - REC_HDR) == 0)
        FUZZ_CHECK(memcmp(b.data, p, len) == 0);
    FUZZ_CHECK(rec_check(b.data, b.len, &len) == REC_OK);
    buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy;
    rec_hdr_t h;
    unsigned char vb[10];
    uint64_t v = 0, v2 = 0;

    check(data, size);

    /* varints */
    memcpy(&v, data, MEMDB_MIN(size, sizeof(v)));
    FUZZ_CHECK(varint_get(vb, vb + varint_put(vb, v), &v2) > 0 && v2 == v);
    (void) varint_get(data, data + size, &v2);

    if (size < REC_HDR)
        return 0;
    copy = malloc(size);
    memcpy(copy, data, size);
    memcpy(&h, copy, sizeof(h));
    h.magic = REC_MAGIC;
    h.len = (uint32_t) size;
    memcpy(copy, &h, sizeof(h));
    rec_seal(copy);
    check(copy, size);
    free(copy);
    return 0;
}
