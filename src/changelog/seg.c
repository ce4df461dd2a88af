/*
 * seg.c - change-log segment files (format in seg.h).
 */
#include "src/changelog/seg.h"
#include "src/core/log.h"
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

#define SEG_READ_CHUNK (1 << 20)

void
seg_path(char *out, size_t len, const char *dir, uint64_t first_lsn)
{
    snprintf(out, len, "%s/%020llu%s", dir, (unsigned long long) first_lsn,
             SEG_SUFFIX);
}

int
seg_list(const char *dir, seg_info_t **out)
{
    return util_list_lsn_files(dir, SEG_SUFFIX, false, out);
}

static void
seg_hdr_init(seg_hdr_t *h, uint64_t first_lsn, uint64_t epoch)
{
    memset(h, 0, sizeof(*h));
    h->magic = SEG_MAGIC;
    h->version = SEG_VERSION;
    h->hdr_size = SEG_HDR;
    h->first_lsn = first_lsn;
    h->epoch = epoch;
    h->created_ms = util_wall_ms();
    h->checksum = XXH3_64bits(h, offsetof(seg_hdr_t, checksum));
}

bool
seg_hdr_valid(const seg_hdr_t *h)
{
    return h->magic == SEG_MAGIC && h->version == SEG_VERSION
           && h->hdr_size == SEG_HDR
           && h->checksum == XXH3_64bits(h, offsetof(seg_hdr_t, checksum));
}

static int
seg_create_at(const char *path, const char *dir, uint64_t first_lsn,
              uint64_t epoch)
{
    seg_hdr_t h;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EEXIST) {
        /* a segment with this first LSN and no durable record: replace */
        unlink(path);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (fd < 0) {
        log_errno("open(%s) failed", path);
        return -1;
    }
    seg_hdr_init(&h, first_lsn, epoch);
    if (util_write_all(fd, &h, sizeof(h)) != MEMDB_OK || fdatasync(fd) < 0
        || util_fsync_dir(dir) != MEMDB_OK) {
        log_errno("writing the header of %s failed", path);
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

int
seg_create(const char *dir, uint64_t first_lsn, uint64_t epoch)
{
    char path[1100];

    seg_path(path, sizeof(path), dir, first_lsn);
    return seg_create_at(path, dir, first_lsn, epoch);
}

static void
seg_tmp_path(char *out, size_t len, const char *dir, uint64_t first_lsn)
{
    snprintf(out, len, "%s/%020llu%s.tmp", dir, (unsigned long long) first_lsn,
             SEG_SUFFIX);
}

int
seg_create_tmp(const char *dir, uint64_t first_lsn, uint64_t epoch)
{
    char path[1100];

    seg_tmp_path(path, sizeof(path), dir, first_lsn);
    unlink(path); /* left by an earlier attempt */
    return seg_create_at(path, dir, first_lsn, epoch);
}

int
seg_install(int fd, const char *dir, uint64_t first_lsn)
{
    char tmp[1100], path[1100];

    seg_tmp_path(tmp, sizeof(tmp), dir, first_lsn);
    seg_path(path, sizeof(path), dir, first_lsn);
    if (fdatasync(fd) < 0 || rename(tmp, path) < 0
        || util_fsync_dir(dir) != MEMDB_OK) {
        log_errno("installing %s failed", path);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

int
seg_open(seg_reader_t *r, const char *path, char *err, size_t errlen)
{
    struct stat st;
    ssize_t n;

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
    n = pread(r->fd, &r->hdr, sizeof(r->hdr), 0);
    if (n == (ssize_t) sizeof(r->hdr) && r->hdr.magic == SEG_MAGIC
        && r->hdr.version != SEG_VERSION) {
        snprintf(err, errlen,
                 "%s: offset 0: segment format version %u; this memdbd "
                 "reads version %u (a development build's data directory)",
                 path, r->hdr.version, (unsigned) SEG_VERSION);
        close(r->fd);
        r->fd = -1;
        return MEMDB_ERR;
    }
    if (n != (ssize_t) sizeof(r->hdr) || !seg_hdr_valid(&r->hdr)) {
        snprintf(err, errlen, "%s: offset 0: bad segment header", path);
        close(r->fd);
        r->fd = -1;
        return MEMDB_ERR;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->off = SEG_HDR;
    r->buf_off = SEG_HDR;
    return MEMDB_OK;
}

/* Makes sure want bytes from the next record on are buffered (or the file
 * ends).  Returns the bytes available from buf_pos, or -1 on a read error.
 * Moves the buffer only when it has to read. */
static ssize_t
seg_fill(seg_reader_t *r, size_t want)
{
    size_t avail = r->buf.len - r->buf_pos;

    if (avail >= want)
        return (ssize_t) avail;
    /* A damaged length field may claim up to REC_MAX_LEN bytes: never
     * reserve more than the file holds now (it may still grow: segments
     * are read while the log writer appends). */
    if (want > SEG_READ_CHUNK) {
        struct stat st;
        uint64_t from = r->buf_off + r->buf_pos;

        if (fstat(r->fd, &st) < 0)
            return -1;
        if ((uint64_t) st.st_size < from + want)
            want = (uint64_t) st.st_size > from
                       ? (size_t) ((uint64_t) st.st_size - from)
                       : 0;
        if (avail >= want)
            return (ssize_t) avail;
    }
    if (r->buf_pos > 0) {
        memmove(r->buf.data, r->buf.data + r->buf_pos, avail);
        r->buf.len = avail;
        r->buf_off += r->buf_pos;
        r->buf_pos = 0;
    }
    while (r->buf.len < want) {
        size_t chunk = MEMDB_MAX(want - r->buf.len, (size_t) SEG_READ_CHUNK);
        ssize_t n;

        buf_reserve(&r->buf, chunk);
        n = pread(r->fd, r->buf.data + r->buf.len, chunk,
                  (off_t) (r->buf_off + r->buf.len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        r->buf.len += (size_t) n;
    }
    return (ssize_t) r->buf.len;
}

seg_read_e
seg_next(seg_reader_t *r, const void **rec, uint32_t *len, rec_status_e *st)
{
    ssize_t have;
    rec_hdr_t h;
    const char *p;

    r->off = r->buf_off + r->buf_pos;
    have = seg_fill(r, REC_HDR);
    if (have < 0)
        return SEG_IOERR;
    if (have == 0)
        return SEG_END;
    if ((size_t) have >= REC_HDR) {
        memcpy(&h, r->buf.data + r->buf_pos, REC_HDR);
        if (h.magic == REC_MAGIC && h.len >= REC_HDR && h.len <= REC_MAX_LEN)
            have = seg_fill(r, h.len);
        if (have < 0)
            return SEG_IOERR;
    }
    p = r->buf.data + r->buf_pos;
    *st = rec_check(p, (size_t) have, len);
    if (*st != REC_OK)
        return SEG_BAD;
    *rec = p;
    r->buf_pos += *len;
    return SEG_REC;
}

uint64_t
seg_rec_off(const seg_reader_t *r)
{
    return r->off;
}

void
seg_close(seg_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    buf_free(&r->buf);
}

bool
seg_zero_tail(int fd, uint64_t off, uint64_t size)
{
    char b[65536];

    while (off < size) {
        ssize_t n = pread(fd, b, (size_t) MEMDB_MIN(size - off, sizeof(b)),
                          (off_t) off);
        if (n <= 0)
            return false;
        for (ssize_t i = 0; i < n; i++)
            if (b[i] != 0)
                return false;
        off += (uint64_t) n;
    }
    return true;
}
