/*
 * merge.c - handing a divergent tail over to the new leader, exactly once.
 *
 * A leader that was cut off (or stopped) keeps accepting uploads in its
 * epoch while the others elect a new leader.  When it comes back it is a
 * replica whose log parts from the leader's after the fork point F (found
 * from the epoch histories): its records after F are acknowledged
 * increments the cluster does not have.  Counts only add, so instead of
 * discarding them (what Redis Sentinel does) this node hands them over:
 *
 *   1. Before it accepts the full sync that replaces its log, it copies
 *      its records (F, last] into data_dir/cluster/merge-<F+1>-<last>.rec
 *      (fsynced).  The copy is cut into chunks of at most MERGE_CHUNK
 *      bytes; chunk k has the token "<node>.<epoch>.<first>.<last>".
 *   2. Once it follows the leader again, it sends each chunk whose token
 *      the table does not hold yet in a MERGE frame.
 *   3. The leader appends one REC_MERGE record holding the chunk's
 *      increments and the word "\xffmerge:<token>" (count 1), unless that
 *      word is already in its table.  Chunks that were themselves merges
 *      are skipped when their token is already there.  Since the token word
 *      is part of the same record as the increments, a merge is applied
 *      with its token or not at all, is replicated with it, survives
 *      snapshots with it, and is never applied twice - even when this node
 *      or the leader crashes half way, or the leader changes.
 *   4. The record comes back to this node in the stream; when the table
 *      holds every token of the file, the file is removed.
 *
 * Words starting with 0xFF cannot come from an upload (not UTF-8); the
 * table keeps them out of counts, allwords and top.
 */
#include "repl.h"
#include "../src/agg.h"
#include "../src/log.h"
#include "../src/rec.h"
#include "../src/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_CHUNK  (4u << 20)
#define MERGE_PREFIX "\xffmerge:"

static void
token_word(buf_t *b, const char *token)
{
    b->len = 0;
    buf_puts(b, MERGE_PREFIX);
    buf_puts(b, token);
}

static bool
token_applied(repl_t *r, const char *token)
{
    buf_t w = { 0 };
    bool yes;

    token_word(&w, token);
    yes = ht_get(&r->shm->ht, ht_hash(w.data, w.len), w.data, w.len) > 0;
    buf_free(&w);
    return yes;
}

/* The token word inside a REC_MERGE record, if any. */
static bool
record_token(const void *rec, const char **tok, size_t *len)
{
    rec_iter_t it;
    const char *w;
    size_t l;
    uint64_t d;
    rec_hdr_t h;

    /* rec is a checked record (rec_check: at least REC_HDR bytes), never
     * NULL; the analyzer cannot see that through buf_append. */
    memcpy(&h, rec, sizeof(h)); /* NOLINT(clang-analyzer-core.NonNull*) */
    if (h.type != REC_MERGE)
        return false;
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &l, &d) == MEMDB_OK) {
        if (l > sizeof(MERGE_PREFIX) - 1
            && memcmp(w, MERGE_PREFIX, sizeof(MERGE_PREFIX) - 1) == 0) {
            *tok = w + sizeof(MERGE_PREFIX) - 1;
            *len = l - (sizeof(MERGE_PREFIX) - 1);
            return true;
        }
    }
    return false;
}

/* ---- the node that hands its tail over -------------------------------- */

static void
merge_path(repl_t *r, char *out, size_t len, uint64_t first, uint64_t last)
{
    snprintf(out, len, "%s/merge-%020llu-%020llu.rec", r->cs.dir,
             (unsigned long long) first, (unsigned long long) last);
}

int
merge_prepare(repl_t *r, uint64_t fork, uint64_t last)
{
    char path[1200], tmp[1300], err[1400];
    seg_info_t *segs;
    int n = seg_list(r->log_dir, &segs), fd;
    uint64_t next = fork + 1, count = 0;

    if (last <= fork)
        return MEMDB_OK;
    util_mkdir_p(r->cs.dir);
    merge_path(r, path, sizeof(path), fork + 1, last);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_errno("open(%s) failed", tmp);
        free(segs);
        return MEMDB_ERR;
    }
    for (int i = 0; i < n && next <= last; i++) {
        uint64_t stop = i + 1 < n ? segs[i + 1].first_lsn : UINT64_MAX;
        seg_reader_t rd;
        const void *rec;
        uint32_t len;
        rec_status_e st;

        if (stop <= next
            || seg_open(&rd, segs[i].path, err, sizeof(err)) != MEMDB_OK)
            continue;
        while (next <= last && seg_next(&rd, &rec, &len, &st) == SEG_REC) {
            rec_hdr_t h;
            memcpy(&h, rec, sizeof(h));
            if (h.lsn >= stop)
                break;
            if (h.lsn != next)
                continue;
            if (util_write_all(fd, rec, len) != MEMDB_OK) {
                log_errno("write(%s) failed", tmp);
                break;
            }
            next++;
            count++;
        }
        seg_close(&rd);
    }
    free(segs);
    if (next <= last)
        log_error("records %llu..%llu are no longer in the log: they "
                  "cannot be handed over",
                  (unsigned long long) next, (unsigned long long) last);
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0
        || util_fsync_dir(r->cs.dir) != MEMDB_OK) {
        log_errno("saving %s failed", path);
        unlink(tmp);
        return MEMDB_ERR;
    }
    log_warn("our records %llu..%llu are not in the leader's log: %llu of "
             "them will be handed over to it (%s)",
             (unsigned long long) (fork + 1), (unsigned long long) last,
             (unsigned long long) count, path);
    return MEMDB_OK;
}

/* Reads a pending file into memory. */
static bool
read_file(const char *path, buf_t *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char chunk[65536];
    ssize_t n;

    if (fd < 0)
        return false;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(b, chunk, (size_t) n);
    close(fd);
    return n == 0;
}

/* Sends the chunks of one pending file the table does not hold yet;
 * true when every chunk is in. */
static bool
merge_file(repl_t *r, const char *path, bool send)
{
    buf_t b = { 0 }, out = { 0 };
    size_t off = 0;
    bool all = true;
    uint32_t len;

    if (!read_file(path, &b)) {
        buf_free(&b);
        return false;
    }
    while (off < b.len) {
        size_t start = off, n = 0;
        uint64_t first = 0, last = 0, epoch = 0;
        frame_merge_t fm;

        while (off < b.len
               && rec_check(b.data + off, b.len - off, &len) == REC_OK
               && (n == 0 || off - start + len <= MERGE_CHUNK)) {
            rec_hdr_t h;
            memcpy(&h, b.data + off, sizeof(h));
            if (first == 0) {
                first = h.lsn;
                epoch = h.epoch;
            }
            last = h.lsn;
            off += len;
            n++;
        }
        if (n == 0) {
            log_error("%s: damaged at offset %zu; not handing it over", path,
                      off);
            break;
        }
        memset(&fm, 0, sizeof(fm));
        snprintf(fm.token, sizeof(fm.token), "%.63s.%llu.%llu.%llu",
                 r->conf->node_id, (unsigned long long) epoch,
                 (unsigned long long) first, (unsigned long long) last);
        if (token_applied(r, fm.token))
            continue;
        all = false;
        if (send) {
            fm.nrecords = (uint32_t) n;
            out.len = 0;
            buf_append(&out, &fm, sizeof(fm));
            buf_append(&out, b.data + start, off - start);
            rconn_send(r, &r->fol.c, FR_MERGE, out.data, (uint32_t) out.len);
            log_info("handing records %llu..%llu over (%s)",
                     (unsigned long long) first, (unsigned long long) last,
                     fm.token);
        }
    }
    buf_free(&b);
    buf_free(&out);
    return all;
}

void
merge_tick(repl_t *r, bool send)
{
    DIR *d = opendir(r->cs.dir);
    struct dirent *de;
    char path[1400];
    uint32_t pending = 0;

    if (d == NULL) {
        atomic_store(&r->shm->cluster->pending_merges, 0);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "merge-", 6) != 0 || l < 10
            || strcmp(de->d_name + l - 4, ".rec") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", r->cs.dir, de->d_name);
        if (merge_file(r, path, send)) {
            log_info("every record of %s is in the leader's log now",
                     de->d_name);
            unlink(path);
        } else {
            pending++;
        }
    }
    closedir(d);
    atomic_store(&r->shm->cluster->pending_merges, pending);
}

/* ---- the leader ------------------------------------------------------- */

/* Adds the words of one handed-over record, unless it is a merge the
 * table already holds. */
static void
merge_collect(repl_t *r, const void *rec, agg_t *a)
{
    const char *tok, *w;
    size_t tl, l;
    rec_iter_t it;
    uint64_t d;

    if (record_token(rec, &tok, &tl)) {
        buf_t word = { 0 };
        buf_puts(&word, MERGE_PREFIX);
        buf_append(&word, tok, tl);
        bool dup = ht_get(&r->shm->ht, ht_hash(word.data, word.len), word.data,
                          word.len)
                       > 0
                   || agg_has(a, word.data, word.len);
        buf_free(&word);
        if (dup)
            return;
    }
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &l, &d) == MEMDB_OK)
        agg_add_n(a, w, l, d);
}

/* Appends the record like a worker's upload (replicator slot). */
static bool
merge_commit(repl_t *r, const buf_t *rec)
{
    shm_t *s = r->shm;
    shm_worker_t *me = shm_worker(s, SHM_REPL_SLOT);
    ring_slot_t *slot;
    uint64_t one = 1;
    int rc;

    for (int i = 0; (rc = ring_reserve(&s->ring, (uint32_t) rec->len,
                                       s->ht.self, &me->resv, &slot))
                        == MEMDB_AGAIN
                    && i < 20000;
         i++) {
        (void) write(r->master_fd, &one, sizeof(one));
        usleep(200);
    }
    if (rc != MEMDB_OK)
        return false;
    atomic_store(&me->progress, 0);
    atomic_store(&me->inflight_pos, me->resv.pos);
    memcpy(ring_slot_rec(slot), rec->data, rec->len);
    rec_finish(ring_slot_rec(slot), slot->lsn, atomic_load(&s->node->epoch));
    ring_publish(slot);
    (void) write(r->master_fd, &one, sizeof(one));
    shm_apply(s, ring_slot_rec(slot), 0, SHM_REPL_SLOT, &me->progress);
    atomic_store(&me->inflight_pos, SHM_NONE);
    log_info("merged handed-over records as lsn %llu",
             (unsigned long long) slot->lsn);
    return true;
}

bool
merge_on_merge(repl_t *r, rconn_t *c, const unsigned char *p, uint32_t len)
{
    frame_merge_t fm;
    agg_t a;
    buf_t rec = { 0 }, tw = { 0 };
    uint32_t off = sizeof(fm), rl;
    bool ok = true;

    memcpy(&fm, p, sizeof(fm));
    if (atomic_load(&r->shm->node->role) != ROLE_LEADER)
        return true; /* it will retry with the leader */
    memset(&a, 0, sizeof(a));
    if (!token_applied(r, fm.token)) {
        while (off < len && rec_check(p + off, len - off, &rl) == REC_OK) {
            /* copy: the frame may hold it unaligned */
            buf_t one = { 0 };
            buf_append(&one, p + off, rl);
            merge_collect(r, one.data, &a);
            buf_free(&one);
            off += rl;
        }
        rec_begin(&rec, REC_MERGE);
        for (size_t i = 0; i < a.n; i++)
            rec_add(&rec, agg_key(&a, &a.ents[i]), a.ents[i].len,
                    a.ents[i].count);
        token_word(&tw, fm.token);
        rec_add(&rec, tw.data, tw.len, 1);
        if (rec.len > ring_max_record(&r->shm->ring)) {
            log_error("merge %s does not fit in the ring", fm.token);
            ok = false;
        } else {
            ok = merge_commit(r, &rec);
        }
    }
    if (ok) {
        frame_merge_t done = fm;
        done.nrecords = 0;
        rconn_send(r, c, FR_MERGED, &done, sizeof(done));
    }
    agg_free(&a);
    buf_free(&rec);
    buf_free(&tw);
    return ok;
}

bool
merge_on_merged(repl_t *r, const unsigned char *p)
{
    frame_merge_t fm;

    memcpy(&fm, p, sizeof(fm));
    log_debug("the leader holds %s", fm.token);
    (void) r;
    return true;
}
