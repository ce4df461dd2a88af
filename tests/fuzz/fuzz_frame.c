/*
 * fuzz_frame.c - replication frames (replicator/frame.c): the header
 * check, then the payload check for the header's type, as the leader and
 * the replica run them on every frame read from the TCP connection.
 *
 * The input is a frame header followed by its payload (the payload is what
 * follows the header, whatever the length field says: the reader would
 * wait for the rest, and a mismatch must be rejected, not read past).  The
 * payload is checked as it is and again with its change records resealed
 * (fuzz_reseal), so records get past their checksums.  A payload that
 * passes with RECORDS or MERGE holds records that each pass rec_check().
 */
#include "tests/fuzz/fuzz.h"
#include "replicator/frame.h"

static void
check(uint8_t type, const unsigned char *p, uint32_t len)
{
    const char *why = NULL;

    if (frame_check_payload(type, p, len, &why) != MEMDB_OK) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    if (type == FR_RECORDS || type == FR_MERGE) {
        size_t off = type == FR_MERGE ? sizeof(frame_merge_t) : 0;
        FUZZ_CHECK(off < len);
        while (off < len) {
            uint32_t rl;
            FUZZ_CHECK(rec_check(p + off, len - off, &rl) == REC_OK);
            off += rl;
        }
        FUZZ_CHECK(off == len);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    frame_hdr_t h;
    const char *why = NULL;
    const unsigned char *payload;
    unsigned char *copy;
    uint32_t len;

    if (size < FRAME_HDR)
        return 0;
    memcpy(&h, data, sizeof(h));
    if (frame_check_hdr(&h, &why) != MEMDB_OK) {
        FUZZ_CHECK(why != NULL);
        /* the payload check does not trust the type either */
        h.type = (uint8_t) (1 + h.type % FR_TYPE_MAX);
    }
    payload = data + FRAME_HDR;
    len = (uint32_t) (size - FRAME_HDR);
    check(h.type, payload, len);

    /* again with the records' checksums right */
    copy = malloc(len + 1);
    memcpy(copy, payload, len);
    if (h.type == FR_MERGE && len >= sizeof(frame_merge_t))
        fuzz_reseal(copy + sizeof(frame_merge_t), len - sizeof(frame_merge_t));
    else
        fuzz_reseal(copy, len);
    check(h.type, copy, len);
    free(copy);
    return 0;
}
