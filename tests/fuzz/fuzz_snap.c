/*
 * fuzz_snap.c - the snapshot reader (src/changelog/snap.c), as recovery,
 * compaction and a replica installing a full sync read snapshots.
 *
 * The input is a snapshot file.  It is read as it is, and again with the
 * header, key block, block and trailer checksums made right, so that
 * mutations reach the key and entry decoding and the trailer checks.
 * Checks: every entry is a non-empty word of at most 65535 bytes with a
 * count of at least 1; a verified end agrees with the words and counts
 * returned; an error names the file and an offset.
 */
#include "tests/fuzz/fuzz.h"
#include "src/changelog/snap.h"
#include "src/core/log.h"

#include <xxhash.h>

static fuzz_file_t file;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    log_set_level(LOG_LVL_ERROR);
    fuzz_file_init(&file, "fuzz.snap");
    return 0;
}

static void
read_all(const void *data, size_t size)
{
    snap_reader_t r;
    char err[1400];
    const char *w;
    size_t len;
    uint64_t count, nwords = 0, total = 0;
    int rc;

    fuzz_file_set(&file, data, size);
    if (snap_open(&r, file.path, err, sizeof(err)) != MEMDB_OK) {
        /* the header, or a key block (read whole at open) */
        FUZZ_CHECK(strstr(err, "bad snapshot header") != NULL
                   || (strstr(err, file.path) != NULL
                       && strstr(err, "offset") != NULL));
        return;
    }
    FUZZ_CHECK(r.nkeys == 0 || r.hdr.version >= 2);
    FUZZ_CHECK(r.cat.len == 0 || r.hdr.version >= 3);
    {
        /* a catalog that decodes is whole; one that does not is named */
        cat_t cat;
        cat_private(&cat, 8);
        err[0] = '\0';
        if (snap_catalog(&r, &cat, err, sizeof(err)) != MEMDB_OK)
            FUZZ_CHECK(strstr(err, "offset") != NULL
                       && strstr(err, "catalog") != NULL);
        else
            for (uint32_t i = 0; i < cat.hdr->max; i++) {
                cat_view_t v;
                if (cat_get(&cat, i, &v) == MEMDB_OK)
                    FUZZ_CHECK(cat_name_ok(v.name, strlen(v.name))
                               && (v.live & 1) == 1);
            }
        cat_private_free(&cat);
    }
    err[0] = '\0';
    while ((rc = snap_next(&r, &w, &len, &count, err, sizeof(err)))
           == MEMDB_OK) {
        FUZZ_CHECK(len >= 1 && len <= 65535);
        FUZZ_CHECK(count >= 1);
        nwords++;
        total += count;
    }
    if (rc == MEMDB_AGAIN) {
        FUZZ_CHECK(r.done);
        FUZZ_CHECK(r.nwords == nwords && r.total == total);
        /* the end stays the end */
        FUZZ_CHECK(snap_next(&r, &w, &len, &count, err, sizeof(err))
                   == MEMDB_AGAIN);
    } else {
        FUZZ_CHECK(rc == MEMDB_ERR);
        FUZZ_CHECK(strstr(err, "offset") != NULL);
    }
    snap_close(&r);
}

/* The trailer at p, right for what the blocks before it claim (6 words
 * in version 2, 5 in version 1); false if it does not fit. */
static bool
fix_trailer(unsigned char *p, size_t room, const snap_hdr_t *h,
            uint64_t nwords, uint64_t total, uint64_t nkeys)
{
    uint64_t tr[6];
    size_t n = h->version == 1 ? 3 : 4; /* words the checksum covers */

    if (room < (n + 2) * 8)
        return false;
    memcpy(tr, p, 8);
    tr[1] = SNAP_END_MAGIC;
    tr[2] = nwords;
    tr[3] = total;
    tr[4] = nkeys;
    tr[n + 1] = XXH3_64bits_withSeed(&tr[1], n * 8, h->checksum);
    memcpy(p, tr, (n + 2) * 8);
    return true;
}

/* Makes the checksums of a damaged snapshot right: header, each block
 * (walked by its length field: key blocks and word blocks), and the
 * trailer (with the entries, counts and keys the blocks claim). */
static void
fix_up(unsigned char *p, size_t size)
{
    snap_hdr_t h;
    size_t off = SNAP_HDR;
    uint64_t nwords = 0, total = 0, nkeys = 0;

    memcpy(&h, p, sizeof(h));
    h.magic = SNAP_MAGIC;
    if (h.version != 1 && h.version != 2)
        h.version = 3;
    h.checksum = XXH3_64bits(&h, offsetof(snap_hdr_t, checksum));
    memcpy(p, &h, sizeof(h));
    while (size - off >= 16) {
        uint32_t head[4];
        uint64_t sum;

        memcpy(head, p + off, sizeof(head));
        if (head[0] == 0 && head[1] == 0xffffffffU) {
            (void) fix_trailer(p + off, size - off, &h, nwords, total, nkeys);
            return;
        }
        if (head[0] == 0 || head[0] > size - off - 16)
            return;
        sum = XXH3_64bits(p + off + 16, head[0]);
        memcpy(p + off + 8, &sum, 8);
        if (head[1] == 0xfffffffeU) { /* a key block */
            nkeys += head[0] / sizeof(snap_key_t);
            off += 16 + head[0];
            continue;
        }
        if (head[1] == 0xfffffffdU) { /* a catalog block */
            off += 16 + head[0];
            continue;
        }
        { /* what the entries claim */
            const unsigned char *q = p + off + 16, *end = q + head[0];
            for (uint32_t i = 0; i < head[1]; i++) {
                uint64_t l, c;
                size_t n = varint_get(q, end, &l);
                if (n == 0 || l > (uint64_t) (end - q - n))
                    break;
                q += n + l;
                n = varint_get(q, end, &c);
                if (n == 0)
                    break;
                q += n;
                nwords++;
                total += c;
            }
        }
        off += 16 + head[0];
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy;

    read_all(data, size);
    if (size < SNAP_HDR)
        return 0;
    copy = malloc(size);
    memcpy(copy, data, size);
    fix_up(copy, size);
    read_all(copy, size);
    free(copy);
    return 0;
}
