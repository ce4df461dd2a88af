/*
 * snap.c - snapshot files and their compaction (format in snap.h).
 */
#include "src/changelog/snap.h"
#include "src/changelog/apply.h"
#include "src/changelog/clogrd.h"
#include "src/words/agg.h"
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SNAP_TRAILER_TAG 0xffffffffU
#define SNAP_KEYS_TAG    0xfffffffeU
#define SNAP_CAT_TAG     0xfffffffdU
#define SNAP_VERSION     3

void
snap_path(char *out, size_t len, const char *dir, uint64_t lsn)
{
    snprintf(out, len, "%s/%020llu%s", dir, (unsigned long long) lsn,
             SNAP_SUFFIX);
}

int
snap_list(const char *dir, snap_info_t **out)
{
    return util_list_lsn_files(dir, SNAP_SUFFIX, true, out);
}

int
snap_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, MEMDB_MIN(alen, blen));
    if (r != 0)
        return r;
    return alen < blen ? -1 : alen > blen;
}

/* ---- writer ---------------------------------------------------------- */

/* w->err: the call that failed on what, and errno's text; MEMDB_ERR. */
static int
snap_writer_fail(snap_writer_t *w, const char *call, const char *what)
{
    snprintf(w->err, sizeof(w->err), "%s(%s) failed: %s", call, what,
             strerror(errno));
    return MEMDB_ERR;
}

int
snap_writer_open(snap_writer_t *w, const char *dir, uint64_t lsn,
                 uint64_t epoch)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->dir, sizeof(w->dir), "%s", dir);
    snap_path(w->path, sizeof(w->path), dir, lsn);
    snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", w->path);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (w->fd < 0)
        return snap_writer_fail(w, "open", w->tmp);
    w->hdr.magic = SNAP_MAGIC;
    w->hdr.version = SNAP_VERSION;
    w->hdr.hdr_size = SNAP_HDR;
    w->hdr.lsn = lsn;
    w->hdr.epoch = epoch;
    w->hdr.created_ms = util_wall_ms();
    w->hdr.checksum = XXH3_64bits(&w->hdr, offsetof(snap_hdr_t, checksum));
    if (util_write_all(w->fd, &w->hdr, sizeof(w->hdr)) != MEMDB_OK) {
        (void) snap_writer_fail(w, "write", w->tmp);
        snap_writer_abort(w);
        return MEMDB_ERR;
    }
    w->bytes = SNAP_HDR;
    return MEMDB_OK;
}

static int snap_put_block(snap_writer_t *w, uint32_t tag, const void *p,
                          size_t n);

static int
snap_flush(snap_writer_t *w)
{
    if (w->nblock == 0)
        return MEMDB_OK;
    if (snap_put_block(w, w->nblock, w->block.data, w->block.len) != MEMDB_OK)
        return MEMDB_ERR;
    w->block.len = 0;
    w->nblock = 0;
    return MEMDB_OK;
}

/* One block of the head and payload given. */
static int
snap_put_block(snap_writer_t *w, uint32_t tag, const void *p, size_t n)
{
    uint32_t head[4];
    uint64_t sum = XXH3_64bits(p, n);

    head[0] = (uint32_t) n;
    head[1] = tag;
    memcpy(&head[2], &sum, 8);
    if (util_write_all(w->fd, head, sizeof(head)) != MEMDB_OK
        || util_write_all(w->fd, p, n) != MEMDB_OK)
        return snap_writer_fail(w, "write", w->tmp);
    w->bytes += sizeof(head) + n;
    return MEMDB_OK;
}

int
snap_writer_keys(snap_writer_t *w, const snap_key_t *k, size_t n)
{
    const size_t per = SNAP_BLOCK / sizeof(snap_key_t);

    if (w->nwords > 0 || w->nblock > 0) {
        snprintf(w->err, sizeof(w->err), "%s: keys after words", w->tmp);
        return MEMDB_ERR;
    }
    for (size_t i = 0; i < n; i += per) {
        size_t m = MEMDB_MIN(per, n - i);
        if (snap_put_block(w, SNAP_KEYS_TAG, k + i, m * sizeof(*k))
            != MEMDB_OK)
            return MEMDB_ERR;
        w->nkeys += m;
    }
    return MEMDB_OK;
}

int
snap_writer_catalog(snap_writer_t *w, const cat_t *c)
{
    uint64_t next = atomic_load(&c->hdr->next_gen);
    uint32_t n = cat_count(c);
    buf_t b = { 0 };
    int rc = MEMDB_OK;

    if (n <= 1 && next == 1)
        return MEMDB_OK; /* the catalog a store starts with */
    buf_append(&b, &next, 8);
    buf_append(&b, &n, 4);
    for (uint32_t i = 0; i < c->hdr->max; i++) {
        const cat_ent_t *e = &c->ent[i];
        uint64_t live = atomic_load(&e->live);
        unsigned char nl = (unsigned char) e->name_len;
        if (live == 0)
            continue;
        buf_append(&b, &i, 4);
        buf_append(&b, &live, 8);
        buf_append(&b, &e->uid, 8);
        buf_append(&b, &e->op_lsn, 8);
        buf_append(&b, &e->created_ms, 8);
        buf_append(&b, &nl, 1);
        buf_append(&b, e->name, nl);
        buf_append(&b, &e->prof_len, 4);
        buf_append(&b, e->prof, e->prof_len);
    }
    for (size_t off = 0; off < b.len && rc == MEMDB_OK; off += SNAP_BLOCK)
        rc = snap_put_block(w, SNAP_CAT_TAG, b.data + off,
                            MEMDB_MIN((size_t) SNAP_BLOCK, b.len - off));
    buf_free(&b);
    return rc;
}

int
snap_writer_add(snap_writer_t *w, const char *word, size_t len, uint64_t count)
{
    unsigned char *p;

    if (count == 0)
        return MEMDB_OK; /* retracted or reset to 0: absent */
    if (w->nwords > 0 && snap_cmp(w->last.data, w->last.len, word, len) >= 0) {
        snprintf(w->err, sizeof(w->err), "%s: words out of order", w->tmp);
        return MEMDB_ERR;
    }
    w->last.len = 0;
    buf_append(&w->last, word, len);
    buf_reserve(&w->block, len + 20);
    p = (unsigned char *) w->block.data + w->block.len;
    p += varint_put(p, len);
    memcpy(p, word, len);
    p += len;
    p += varint_put(p, count);
    w->block.len = (size_t) ((char *) p - w->block.data);
    w->nblock++;
    w->nwords++;
    w->total += count;
    if (w->block.len >= SNAP_BLOCK - 65600)
        return snap_flush(w);
    return MEMDB_OK;
}

/* The trailer: 6 words (version 2), 5 (version 1, no key count); returns
 * its bytes. */
static size_t
snap_trailer(const snap_hdr_t *h, uint64_t nwords, uint64_t total,
             uint64_t nkeys, uint64_t out[6])
{
    uint32_t tag[2] = { 0, SNAP_TRAILER_TAG };
    size_t n = h->version == 1 ? 3 : 4; /* words covered by the checksum */

    memcpy(&out[0], tag, 8);
    out[1] = SNAP_END_MAGIC;
    out[2] = nwords;
    out[3] = total;
    out[4] = nkeys;
    out[n + 1] = XXH3_64bits_withSeed(&out[1], n * 8, h->checksum);
    return (n + 2) * 8;
}

int
snap_writer_commit(snap_writer_t *w)
{
    uint64_t tr[6];
    size_t trlen;

    if (snap_flush(w) != MEMDB_OK)
        goto fail;
    trlen = snap_trailer(&w->hdr, w->nwords, w->total, w->nkeys, tr);
    if (util_write_all(w->fd, tr, trlen) != MEMDB_OK) {
        (void) snap_writer_fail(w, "write", w->tmp);
        goto fail;
    }
    if (fsync(w->fd) < 0) {
        (void) snap_writer_fail(w, "fsync", w->tmp);
        goto fail;
    }
    close(w->fd);
    w->fd = -1;
    if (rename(w->tmp, w->path) < 0) {
        (void) snap_writer_fail(w, "rename", w->tmp);
        goto fail;
    }
    if (util_fsync_dir(w->dir) != MEMDB_OK) {
        (void) snap_writer_fail(w, "fsync", w->dir);
        goto fail;
    }
    buf_free(&w->block);
    buf_free(&w->last);
    return MEMDB_OK;
fail:
    snap_writer_abort(w);
    return MEMDB_ERR;
}

void
snap_writer_abort(snap_writer_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    unlink(w->tmp);
    buf_free(&w->block);
    buf_free(&w->last);
}

/* ---- reader ---------------------------------------------------------- */

static int snap_fail(snap_reader_t *r, char *err, size_t errlen, uint64_t off,
                     const char *what);

/* The catalog and key blocks after the header (versions 3 and 2), into
 * r->cat and r->keys. */
static int
snap_load_keys(snap_reader_t *r, char *err, size_t errlen)
{
    uint32_t head[4];
    uint64_t sum;

    while (r->hdr.version >= 2) {
        bool cat;
        buf_t *to;
        if (pread(r->fd, head, sizeof(head), (off_t) r->off) != sizeof(head))
            return snap_fail(r, err, errlen, r->off, "truncated snapshot");
        cat = head[1] == SNAP_CAT_TAG && r->hdr.version >= 3 && r->nkeys == 0;
        if ((head[1] != SNAP_KEYS_TAG && !cat) || head[0] == 0)
            return MEMDB_OK; /* the words begin (or the trailer) */
        if (head[0] > SNAP_BLOCK
            || (!cat && head[0] % sizeof(snap_key_t) != 0))
            return snap_fail(r, err, errlen, r->off,
                             cat ? "bad catalog block header"
                                 : "bad key block header");
        to = cat ? &r->cat : &r->keys;
        buf_reserve(to, head[0]);
        if (pread(r->fd, to->data + to->len, head[0],
                  (off_t) (r->off + sizeof(head)))
            != (ssize_t) head[0])
            return snap_fail(r, err, errlen, r->off,
                             cat ? "truncated catalog block"
                                 : "truncated key block");
        memcpy(&sum, &head[2], 8);
        if (XXH3_64bits(to->data + to->len, head[0]) != sum)
            return snap_fail(r, err, errlen, r->off,
                             cat ? "catalog block checksum mismatch"
                                 : "key block checksum mismatch");
        to->len += head[0];
        r->nkeys = r->keys.len / sizeof(snap_key_t);
        r->off += sizeof(head) + head[0];
    }
    return MEMDB_OK;
}

/* Reads n bytes of the catalog at *p (of end); false if they are not
 * there. */
static bool
cat_take(const char **p, const char *end, void *out, size_t n)
{
    if ((size_t) (end - *p) < n)
        return false;
    memcpy(out, *p, n);
    *p += n;
    return true;
}

/* One entry of the catalog into c; false if it is malformed. */
static bool
snap_cat_entry(const char **p, const char *end, cat_t *c)
{
    uint32_t i, pl;
    uint64_t live;
    unsigned char nl;
    cat_ent_t *e;

    if (!cat_take(p, end, &i, 4) || i >= c->hdr->max
        || atomic_load(&c->ent[i].live) != 0 || !cat_take(p, end, &live, 8)
        || (live & 1) == 0)
        return false;
    e = &c->ent[i];
    if (!cat_take(p, end, &e->uid, 8) || !cat_take(p, end, &e->op_lsn, 8)
        || !cat_take(p, end, &e->created_ms, 8) || !cat_take(p, end, &nl, 1)
        || !cat_name_ok(*p, MEMDB_MIN((size_t) nl, (size_t) (end - *p)))
        || !cat_take(p, end, e->name, nl))
        return false;
    e->name[nl] = '\0';
    e->name_len = nl;
    if (!cat_take(p, end, &pl, 4) || pl > CAT_PROF_MAX
        || !cat_take(p, end, e->prof, pl))
        return false;
    e->prof_len = pl;
    atomic_store(&e->live, live);
    return true;
}

int
snap_catalog(const snap_reader_t *r, cat_t *c, char *err, size_t errlen)
{
    const char *p = r->cat.data, *end;
    uint64_t next;
    uint32_t n;

    memset(c->ent, 0, sizeof(cat_ent_t) * c->hdr->max);
    cat_init(c, c->hdr, c->hdr->max);
    if (r->cat.len == 0)
        return MEMDB_OK; /* (and cat.data may be NULL) */
    end = p + r->cat.len;
    atomic_store(&c->ent[0].live, 0);
    if (!cat_take(&p, end, &next, 8) || !cat_take(&p, end, &n, 4)
        || n > c->hdr->max) {
        snprintf(err, errlen,
                 "%s: offset %d: bad catalog (more tables than "
                 "store.max_tables allows?) (snapshot lsn %llu)",
                 r->path, SNAP_HDR, (unsigned long long) r->hdr.lsn);
        return MEMDB_ERR;
    }
    atomic_store(&c->hdr->next_gen, next);
    for (uint32_t k = 0; k < n; k++) {
        if (!snap_cat_entry(&p, end, c)) {
            snprintf(err, errlen,
                     "%s: offset %d: bad catalog entry %u (snapshot lsn %llu)",
                     r->path, SNAP_HDR, k, (unsigned long long) r->hdr.lsn);
            return MEMDB_ERR;
        }
    }
    if (p != end) {
        snprintf(err, errlen,
                 "%s: offset %d: bytes after the catalog (snapshot lsn %llu)",
                 r->path, SNAP_HDR, (unsigned long long) r->hdr.lsn);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

int
snap_open(snap_reader_t *r, const char *path, char *err, size_t errlen)
{
    struct stat st;

    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &st) < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        if (r->fd >= 0)
            close(r->fd);
        r->fd = -1;
        return MEMDB_ERR;
    }
    r->size = (uint64_t) st.st_size;
    if (pread(r->fd, &r->hdr, SNAP_HDR, 0) != SNAP_HDR
        || r->hdr.magic != SNAP_MAGIC || r->hdr.version < 1
        || r->hdr.version > SNAP_VERSION
        || r->hdr.checksum
               != XXH3_64bits(&r->hdr, offsetof(snap_hdr_t, checksum))) {
        snprintf(err, errlen, "%s: offset 0: bad snapshot header", path);
        close(r->fd);
        r->fd = -1;
        return MEMDB_ERR;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->off = SNAP_HDR;
    if (snap_load_keys(r, err, errlen) != MEMDB_OK) {
        snap_close(r);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

snap_key_t
snap_key(const snap_reader_t *r, size_t i)
{
    snap_key_t k;

    memcpy(&k, r->keys.data + i * sizeof(k), sizeof(k));
    return k;
}

static int
snap_fail(snap_reader_t *r, char *err, size_t errlen, uint64_t off,
          const char *what)
{
    snprintf(err, errlen, "%s: offset %llu: %s (snapshot lsn %llu)", r->path,
             (unsigned long long) off, what, (unsigned long long) r->hdr.lsn);
    return MEMDB_ERR;
}

/* Reads the next block (or the trailer). */
static int
snap_load_block(snap_reader_t *r, char *err, size_t errlen)
{
    uint32_t head[4];
    uint64_t sum, tr[6], expect[6];

    if (pread(r->fd, head, sizeof(head), (off_t) r->off) != sizeof(head))
        return snap_fail(r, err, errlen, r->off, "truncated snapshot");
    if (head[0] == 0 && head[1] == SNAP_TRAILER_TAG) {
        size_t trlen = snap_trailer(&r->hdr, r->nwords, r->total, r->nkeys,
                                    expect);
        if (pread(r->fd, tr, trlen, (off_t) r->off) != (ssize_t) trlen)
            return snap_fail(r, err, errlen, r->off, "truncated trailer");
        if (memcmp(tr, expect, trlen) != 0)
            return snap_fail(r, err, errlen, r->off,
                             "bad trailer (counts "
                             "or checksum)");
        if (r->off + trlen != r->size)
            return snap_fail(r, err, errlen, r->off + trlen,
                             "data after the trailer");
        r->done = true;
        return MEMDB_AGAIN;
    }
    if (head[0] == 0 || head[0] > SNAP_BLOCK || head[1] == 0
        || head[1] == SNAP_KEYS_TAG || head[1] == SNAP_CAT_TAG)
        return snap_fail(r, err, errlen, r->off, "bad block header");
    buf_reserve(&r->block, head[0]);
    if (pread(r->fd, r->block.data, head[0], (off_t) (r->off + sizeof(head)))
        != (ssize_t) head[0])
        return snap_fail(r, err, errlen, r->off, "truncated block");
    memcpy(&sum, &head[2], 8);
    if (XXH3_64bits(r->block.data, head[0]) != sum)
        return snap_fail(r, err, errlen, r->off, "block checksum mismatch");
    r->block.len = head[0];
    r->pos = 0;
    r->left = head[1];
    r->off += sizeof(head) + head[0];
    return MEMDB_OK;
}

int
snap_next(snap_reader_t *r, const char **word, size_t *len, uint64_t *count,
          char *err, size_t errlen)
{
    const unsigned char *p, *end;
    uint64_t l, c;
    size_t n;

    if (r->done)
        return MEMDB_AGAIN;
    while (r->left == 0) {
        if (r->pos != r->block.len)
            return snap_fail(r, err, errlen, r->off, "block has extra bytes");
        int rc = snap_load_block(r, err, errlen);
        if (rc != MEMDB_OK)
            return rc;
    }
    p = (const unsigned char *) r->block.data + r->pos;
    end = (const unsigned char *) r->block.data + r->block.len;
    n = varint_get(p, end, &l);
    if (n == 0 || l == 0 || l > 65535 || l > (uint64_t) (end - p - n))
        return snap_fail(r, err, errlen, r->off, "bad entry in block");
    *word = (const char *) p + n;
    *len = (size_t) l;
    p += n + l;
    n = varint_get(p, end, &c);
    if (n == 0 || c == 0)
        return snap_fail(r, err, errlen, r->off, "bad count in block");
    p += n;
    *count = c;
    r->pos = (size_t) ((const char *) p - r->block.data);
    r->left--;
    r->nwords++;
    r->total += c;
    return MEMDB_OK;
}

void
snap_close(snap_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    buf_free(&r->block);
    buf_free(&r->keys);
    buf_free(&r->cat);
}

/* ---- compaction ------------------------------------------------------ */

static int
compact_add(void *arg, const char *key, size_t len, uint64_t delta)
{
    agg_add_n(arg, key, len, delta);
    return MEMDB_OK;
}

/* Adds the words of the records in (from, to] of log_dir's segments:
 * sealed, so they must all be there, whole (clogrd.h), as table keys of
 * the catalog cat, to which their table operations are applied. */
static int
compact_collect(agg_t *delta, buf_t *keys, cat_t *cat, const char *log_dir,
                uint64_t from, uint64_t to, char *err, size_t errlen)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e;

    if (clogrd_open(&rd, log_dir, from + 1, to) != MEMDB_OK) {
        snprintf(err, errlen, "%s", rd.err);
        return MEMDB_ERR;
    }
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        snap_key_t k;

        if (apply_words(cat, rec, compact_add, delta) == MEMDB_NOENT) {
            snprintf(err, errlen,
                     "%s: record lsn %llu counts in a table the log never "
                     "created",
                     log_dir, (unsigned long long) clogrd_lsn(&rd) - 1);
            clogrd_close(&rd);
            return MEMDB_ERR;
        }
        if (rec_idem(rec, &k.id)) {
            k.lsn = clogrd_lsn(&rd) - 1;
            buf_append(keys, &k, sizeof(k));
        }
    }
    if (e != CLOGRD_END)
        snprintf(err, errlen, "%s", rd.err);
    else if (clogrd_lsn(&rd) != to + 1)
        snprintf(err, errlen, "%s: records %llu..%llu are missing", log_dir,
                 (unsigned long long) clogrd_lsn(&rd),
                 (unsigned long long) to);
    clogrd_close(&rd);
    return e == CLOGRD_END && clogrd_lsn(&rd) == to + 1 ? MEMDB_OK : MEMDB_ERR;
}

static const agg_t *sort_agg;
static const snap_key_t *sort_keys;

/* Key order, then position: the newest of a key comes last. */
static int
key_cmp(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *) a, j = *(const uint32_t *) b;
    const rec_idem_t *x = &sort_keys[i].id, *y = &sort_keys[j].id;

    for (int h = 0; h < 2; h++)
        if (x->key[h] != y->key[h])
            return x->key[h] < y->key[h] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *) a, j = *(const uint32_t *) b;

    return i < j ? -1 : i > j;
}

/* Writes the keys of keys (oldest first: the previous snapshot's, then
 * the records'): the newest of each, inside the window, at most max. */
static int
compact_keys(snap_writer_t *w, const buf_t *keys, const snap_keep_t *keep,
             char *err, size_t errlen)
{
    size_t n = keys->len / sizeof(snap_key_t), m = 0, start;
    const snap_key_t *k = (const snap_key_t *) (const void *) keys->data;
    uint32_t *idx = xmalloc((n ? n : 1) * sizeof(uint32_t));
    uint64_t now = util_wall_ms();
    buf_t out = { 0 };
    int rc;

    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t) i;
    sort_keys = k;
    qsort(idx, n, sizeof(uint32_t), key_cmp);
    for (size_t i = 0; i < n; i++) {
        const rec_idem_t *x = &k[idx[i]].id;
        if (i + 1 < n && x->key[0] == k[idx[i + 1]].id.key[0]
            && x->key[1] == k[idx[i + 1]].id.key[1])
            continue; /* a newer one of the same key follows */
        if (keep != NULL && x->time_ms + keep->window_ms <= now)
            continue;
        idx[m++] = idx[i];
    }
    qsort(idx, m, sizeof(uint32_t), u32_cmp);
    start = keep != NULL && m > keep->max_keys ? m - keep->max_keys : 0;
    for (size_t i = start; i < m; i++)
        buf_append(&out, &k[idx[i]], sizeof(snap_key_t));
    rc = snap_writer_keys(w, (const snap_key_t *) (const void *) out.data,
                          m - start);
    if (rc != MEMDB_OK)
        snprintf(err, errlen, "%s", w->err);
    buf_free(&out);
    free(idx);
    return rc;
}

static int
delta_cmp(const void *a, const void *b)
{
    const agg_ent_t *x = &sort_agg->ents[*(const uint32_t *) a];
    const agg_ent_t *y = &sort_agg->ents[*(const uint32_t *) b];
    return snap_cmp(agg_key(sort_agg, x), x->len, agg_key(sort_agg, y),
                    y->len);
}

/* Is key one of a live table (or the table's own, a hand-over mark)?
 * The words of a generation no table has any more are left out. */
static bool
compact_live(const cat_t *cat, const char *key, size_t len)
{
    uint64_t gen;
    size_t skip;
    cat_view_t v;

    if (!cat_key_gen(key, len, &gen, &skip))
        return true; /* internal */
    for (uint32_t i = 0; i < cat->hdr->max; i++)
        if (cat_get(cat, i, &v) == MEMDB_OK && v.gen == gen)
            return true;
    return false;
}

/* snap_writer_add() for the words of live tables only. */
static int
compact_put(snap_writer_t *w, const cat_t *cat, const char *key, size_t len,
            uint64_t count)
{
    if (!compact_live(cat, key, len))
        return MEMDB_OK;
    return snap_writer_add(w, key, len, count);
}

/* Merges the previous snapshot (or nothing) with the sorted delta. */
static int
compact_merge(snap_writer_t *w, const cat_t *cat, snap_reader_t *prev,
              const agg_t *delta, const uint32_t *order, char *err,
              size_t errlen)
{
    const char *pw = NULL;
    size_t pl = 0, i = 0;
    uint64_t pc = 0;
    int prc = prev ? snap_next(prev, &pw, &pl, &pc, err, errlen) : MEMDB_AGAIN;

    for (;;) {
        const agg_ent_t *e = i < delta->n ? &delta->ents[order[i]] : NULL;
        int c;

        if (prc == MEMDB_ERR)
            return MEMDB_ERR;
        if (prc != MEMDB_OK && e == NULL)
            return MEMDB_OK;
        if (prc != MEMDB_OK)
            c = 1;
        else if (e == NULL)
            c = -1;
        else
            c = snap_cmp(pw, pl, agg_key(delta, e), e->len);
        int rc = c < 0 ? compact_put(w, cat, pw, pl, pc)
                 : c > 0
                     ? compact_put(w, cat, agg_key(delta, e), e->len, e->count)
                     : compact_put(w, cat, pw, pl, pc + e->count);
        if (rc != MEMDB_OK) {
            snprintf(err, errlen, "%s", w->err);
            return MEMDB_ERR;
        }
        if (c <= 0)
            prc = snap_next(prev, &pw, &pl, &pc, err, errlen);
        if (c >= 0)
            i++;
    }
}

int
snap_compact(const char *snap_dir, const char *log_dir, const char *prev,
             uint64_t target_lsn, uint64_t epoch, const snap_keep_t *keep,
             char *out_path, size_t out_len, char *err, size_t errlen)
{
    snap_reader_t pr;
    snap_writer_t w;
    agg_t delta;
    buf_t keys = { 0 };
    uint32_t *order = NULL;
    uint64_t from = 0;
    cat_t cat;
    int rc = MEMDB_ERR;

    memset(&delta, 0, sizeof(delta));
    cat_private(&cat, CAT_MAX_TABLES);
    if (prev != NULL) {
        if (snap_open(&pr, prev, err, errlen) != MEMDB_OK) {
            cat_private_free(&cat);
            return MEMDB_ERR;
        }
        from = pr.hdr.lsn;
        buf_append(&keys, pr.keys.data, pr.keys.len);
        if (snap_catalog(&pr, &cat, err, errlen) != MEMDB_OK)
            goto out;
    }
    if (compact_collect(&delta, &keys, &cat, log_dir, from, target_lsn, err,
                        errlen)
        != MEMDB_OK)
        goto out;
    order = xmalloc((delta.n ? delta.n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < delta.n; i++)
        order[i] = (uint32_t) i;
    sort_agg = &delta;
    qsort(order, delta.n, sizeof(uint32_t), delta_cmp);
    if (util_mkdir_p(snap_dir) != MEMDB_OK) {
        snprintf(err, errlen, "%s: cannot create snapshot: %s", snap_dir,
                 strerror(errno));
        goto out;
    }
    if (snap_writer_open(&w, snap_dir, target_lsn, epoch) != MEMDB_OK) {
        snprintf(err, errlen, "cannot create snapshot: %s", w.err);
        goto out;
    }
    if (snap_writer_catalog(&w, &cat) != MEMDB_OK) {
        snprintf(err, errlen, "%s", w.err);
        snap_writer_abort(&w);
        goto out;
    }
    if (compact_keys(&w, &keys, keep, err, errlen) != MEMDB_OK
        || compact_merge(&w, &cat, prev ? &pr : NULL, &delta, order, err,
                         errlen)
               != MEMDB_OK) {
        snap_writer_abort(&w);
        goto out;
    }
    if (snap_writer_commit(&w) != MEMDB_OK) {
        snprintf(err, errlen, "cannot commit snapshot %s: %s", w.path, w.err);
        goto out;
    }
    snprintf(out_path, out_len, "%s", w.path);
    rc = MEMDB_OK;
out:
    if (prev != NULL)
        snap_close(&pr);
    free(order);
    agg_free(&delta);
    buf_free(&keys);
    cat_private_free(&cat);
    return rc;
}
