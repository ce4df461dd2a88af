/*
 * merge.c - handing a divergent tail over to the new leader, exactly once.
 *
 * A leader that was cut off (or stopped) keeps accepting uploads in its
 * epoch while the others elect a new leader.  When it comes back it is a
 * replica whose log parts from the leader's after the fork point F (found
 * from the epoch histories): its records after F are acknowledged
 * increments the cluster does not have.  Counts only add, so instead of
 * discarding them (what Redis Sentinel does) this node hands them over.
 * A replica that had received part of that tail (or records a paused
 * leader shipped before it learned of the new one) holds the same
 * records, and so does a node that tried a full sync twice: every holder
 * hands its copy over, and the leader takes each record once.
 *
 * Identity.  Every record carries its origin (rec.h): the boot id of the
 * node that accepted it, and its epoch and LSN there; copies never change
 * it.  What a table holds of an origin stream (boot, epoch) by hand-over
 * is a set of LSN ranges, kept as internal words whose counts only grow
 * (mark_word): the number of ranges, each one's first LSN and length, and
 * for a record cut in pieces the pieces taken so far.  They are part of
 * the records that carry the increments, so they are replicated,
 * snapshotted and recovered with them, and a record lands with its range
 * or not at all.  Ranges, not one high-water mark: copies of a stream do
 * not all start at the same LSN (a holder that saved its tail against one
 * leader and hands it to another, two files of one holder, two holders),
 * and in whatever order they come each record is taken once.
 *
 *   1. Before it accepts the full sync that replaces its log, the holder
 *      copies its records (F, last] into data_dir/cluster/merge-<F+1>-
 *      <last>.rec (fsynced).
 *   2. Once it follows the leader (its table is then the leader's), it
 *      sends the records the table does not cover yet in MERGE frames,
 *      a window at a time; each MERGED answer asks for the next window.
 *   3. The leader takes each record not covered in its own table: not a
 *      no-op, not in its own log at the origin's place (its history names
 *      the origin's epoch and boot over that LSN), not in a range of its
 *      stream.  It appends a REC_MERGE record with the origin of the
 *      record, its words and the range words, through the write fence
 *      (leaders only).  A record too large for the smallest ring is cut
 *      into pieces of at most MERGE_PIECE bytes of words, the same way on
 *      every node, each its own REC_MERGE: the last one with the range
 *      words, the others with the count of pieces taken.  When the ring is
 *      full the connection pauses and the frame is taken up again later.
 *   4. The REC_MERGE records come back to the holder in the stream; once
 *      its table covers every record of a file, the file is removed.
 *   5. A holder elected leader before it handed its file over takes the
 *      records itself, by the same rules (merge_take_own).
 *
 * Idempotency-Keys.  A record of an upload sent with a key (rec.h) may
 * meet a retry of that upload the new leader counted already (the client
 * lost the old leader's answer).  Before its first piece is taken the
 * leader claims the key (shm/idem.h): new, the piece carries the key
 * block and makes it known; counted by a retry with the same body, only
 * the range words are appended (the record is held, its words are not
 * counted twice); a key in flight, or no room to claim it, waits like a
 * full ring.  The same key with another body is another upload: both are
 * counted.
 *
 * Tables.  A handed-over record keeps its table block, and its words go
 * to the new leader's current generation of that table (after any
 * truncate there).  If the new leader dropped the table, the words are
 * discarded (the range words are kept, so the record counts as held) and
 * counted in memdb_handover_discarded_total.  Table operations (create,
 * truncate, drop), like retracts and resets, are acknowledged only once a
 * majority holds them, so one in a tail was never acknowledged: not handed
 * over.  An upload to a table is acknowledged only once the table's
 * create (and last truncate) is held by a majority (worker/upload.c), so
 * no acknowledged upload can name a table only a tail knows.
 *
 * Retracts and resets (REC_RETRACT, REC_FORGET) are not handed over: a
 * leader acknowledges one only once a majority of the cluster holds it, so
 * one in a divergent tail was never acknowledged (its client got 504 or
 * nothing), and it is dropped with the tail.  The increments handed over
 * apply in the new leader's order: after any retract or reset it made.
 *
 * A REC_MERGE record in a holder's tail is handed over like any other: it
 * is one origin's record, and its origin decides.  Words starting with
 * 0xFF cannot come from an upload (not UTF-8); the table keeps them out of
 * counts, allwords and top.
 */
#include "replicator/repl.h"
#include "src/changelog/clogrd.h"
#include "src/core/fault.h"
#include "src/core/log.h"
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"
#include "src/core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_PIECE  (192u << 10) /* fits the smallest ring (1 MiB) */
#define MERGE_WINDOW (4u << 20)   /* bytes sent before a MERGED answer */
#define MERGE_FRAME  (1u << 20)
#define MERGE_PREFIX "\xffmerged:"

/* ---- what a table holds of a stream ------------------------------------ */

/* The internal words that say which records of an origin stream (boot,
 * epoch) this table holds by hand-over, all with counts that only grow:
 *   "<prefix><boot>.<epoch>#"         n, the number of ranges
 *   "<prefix><boot>.<epoch>#<k>"      the first LSN of range k (1..n)
 *   "<prefix><boot>.<epoch>@<first>"  the length of the range from first
 *   "<prefix><boot>.<epoch>%<lsn>"    pieces taken of a record cut in
 *                                     pieces, before its range counts it
 * kind is "#", "@" or "%" and arg its number ("#" alone when arg is 0). */
static void
mark_word(buf_t *b, rec_origin_t o, char kind, uint64_t arg)
{
    b->len = 0;
    buf_printf(b, MERGE_PREFIX "%016" PRIx64 ".%" PRIu64 "%c", o.boot, o.epoch,
               kind);
    if (arg != 0)
        buf_printf(b, "%" PRIu64, arg);
}

static uint64_t
mark_get(repl_t *r, buf_t *w, rec_origin_t o, char kind, uint64_t arg)
{
    mark_word(w, o, kind, arg);
    return ht_get(&r->shm->ht, ht_hash(w->data, w->len), w->data, w->len);
}

/* The range of the stream that holds lsn (*adjacent false), else one
 * that ends just before it (*adjacent true); 0 when neither.  Ranges
 * never shrink and are few: one per place a run of the stream began. */
static uint64_t
mark_range(repl_t *r, buf_t *w, rec_origin_t o, uint64_t lsn, bool *adjacent)
{
    uint64_t n = mark_get(r, w, o, '#', 0), next_to = 0;

    *adjacent = false;
    for (uint64_t k = 1; k <= n; k++) {
        uint64_t first = mark_get(r, w, o, '#', k);
        uint64_t len = mark_get(r, w, o, '@', first);
        if (first <= lsn && lsn < first + len)
            return k;
        if (first + len == lsn)
            next_to = k;
    }
    *adjacent = next_to != 0;
    return next_to;
}

/* Pieces of a record: its words cut into runs of at most MERGE_PIECE
 * encoded bytes (a run holds at least one word).  *first gets the index of
 * the first word of piece `want` (and the count ends at its last); returns
 * the number of pieces. */
static unsigned
rec_pieces(const void *rec, unsigned want, uint32_t *first, uint32_t *count)
{
    rec_iter_t it;
    const char *w;
    size_t l, used = 0;
    uint64_t d;
    unsigned piece = 0;
    uint32_t idx = 0;

    *first = *count = 0;
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &l, &d) == MEMDB_OK) {
        size_t sz = rec_word_size(l, d);
        if (used > 0 && used + sz > MERGE_PIECE) {
            piece++;
            used = 0;
        }
        if (piece == want) {
            if (*count == 0)
                *first = idx;
            (*count)++;
        }
        used += sz;
        idx++;
    }
    return idx == 0 ? 1 : piece + 1;
}

/* Is the record at the origin's place in this node's own log? */
static bool
merge_native(repl_t *r, rec_origin_t o)
{
    uint64_t end;
    const frame_hist_t *e = cstate_hist_find(r->cs.hist, r->cs.nhist, o.epoch,
                                             o.boot, &end);

    return e != NULL && o.lsn >= e->start_lsn
           && o.lsn <= MEMDB_MIN(end, repl_last_lsn(r));
}

/* Does this node's table hold piece `piece` of rec already? */
static bool
merge_covered(repl_t *r, buf_t *w, const void *rec, unsigned piece)
{
    rec_hdr_t h;
    rec_origin_t o = rec_origin(rec);

    bool adjacent;

    memcpy(&h, rec, sizeof(h));
    /* a retract or reset in a tail was never acknowledged (a leader
     * answers one only once a majority holds it): it is not handed over */
    if (h.type == REC_NOOP || h.nwords == 0 || rec_type_subtracts(h.type)
        || merge_native(r, o))
        return true;
    if (mark_range(r, w, o, o.lsn, &adjacent) != 0 && !adjacent)
        return true;
    return mark_get(r, w, o, '%', o.lsn) > piece;
}

/* Does it hold every piece of rec? */
static bool
merge_covered_all(repl_t *r, buf_t *w, const void *rec)
{
    uint32_t first, count;
    unsigned n = rec_pieces(rec, 0, &first, &count);

    return merge_covered(r, w, rec, n - 1);
}

static int merge_take(repl_t *r, const void *rec, uint32_t *taken);

/* ---- reading a pending file --------------------------------------------- */

typedef struct mfile_s {
    int fd;
    uint64_t off; /* of the record in rec */
    buf_t rec;
} mfile_t;

/* The next record of the file into f->rec: MEMDB_OK, MEMDB_AGAIN at the
 * end, MEMDB_ERR when it is damaged (logged). */
static int
mfile_next(mfile_t *f, const char *path)
{
    rec_hdr_t h;
    uint32_t len;
    ssize_t n;

    f->off += f->rec.len;
    f->rec.len = 0;
    n = pread(f->fd, &h, sizeof(h), (off_t) f->off);
    if (n == 0)
        return MEMDB_AGAIN;
    if (n == (ssize_t) sizeof(h) && h.magic == REC_MAGIC && h.len >= REC_HDR
        && h.len <= REC_MAX_LEN) {
        buf_reserve(&f->rec, h.len);
        n = pread(f->fd, f->rec.data, h.len, (off_t) f->off);
        if (n == (ssize_t) h.len
            && rec_check(f->rec.data, h.len, &len) == REC_OK) {
            f->rec.len = h.len;
            return MEMDB_OK;
        }
    }
    log_error("%s: damaged at offset %llu; the rest is not handed over", path,
              (unsigned long long) f->off);
    return MEMDB_ERR;
}

/* ---- the node that hands its tail over ---------------------------------- */

static void
merge_path(repl_t *r, char *out, size_t len, uint64_t first, uint64_t last)
{
    snprintf(out, len, "%s/merge-%020llu-%020llu.rec", r->cs.dir,
             (unsigned long long) first, (unsigned long long) last);
}

/* Copies the records (fork, last] of the log into fd; returns how many,
 * setting *next past the last one copied.  It stops at a gap or damage
 * (clogrd.h): what follows cannot be handed over in order, and the caller
 * says which records are lost. */
static uint64_t
merge_copy(repl_t *r, int fd, uint64_t fork, uint64_t last, uint64_t *next,
           const char *tmp)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e = CLOGRD_END;
    uint64_t count = 0;

    *next = fork + 1;
    if (clogrd_open(&rd, r->log_dir, fork + 1, last) != MEMDB_OK) {
        log_error("%s", rd.err);
        return 0;
    }
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        if (util_write_all(fd, rec, len) != MEMDB_OK) {
            log_errno("write(%s) failed", tmp);
            break;
        }
        count++;
        *next = clogrd_lsn(&rd);
    }
    if (e != CLOGRD_END && e != CLOGRD_REC)
        log_error("handing the tail over: %s", rd.err);
    clogrd_close(&rd);
    return count;
}

int
merge_prepare(repl_t *r, uint64_t fork, uint64_t last)
{
    char path[1200], tmp[1300];
    uint64_t next, count;
    int fd;

    if (last <= fork)
        return MEMDB_OK;
    util_mkdir_p(r->cs.dir);
    merge_path(r, path, sizeof(path), fork + 1, last);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_errno("open(%s) failed", tmp);
        return MEMDB_ERR;
    }
    count = merge_copy(r, fd, fork, last, &next, tmp);
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
    /* counted at once: until the file is gone this node is not in step */
    atomic_fetch_add(&r->shm->roster->pending_merges, 1);
    log_warn("our records %llu..%llu are not in the leader's log: %llu of "
             "them will be handed over to it (%s)",
             (unsigned long long) (fork + 1), (unsigned long long) last,
             (unsigned long long) count, path);
    return MEMDB_OK;
}

/* Queues one MERGE frame of the records in out (n of them). */
static void
merge_send(repl_t *r, buf_t *out, uint32_t n)
{
    frame_merge_t fm;

    if (n == 0)
        return;
    memset(&fm, 0, sizeof(fm));
    fm.nrecords = n;
    fm.seq = ++r->fol.merge_seq;
    memcpy(out->data, &fm, sizeof(fm));
    rconn_send(r, &r->fol.c, FR_MERGE, out->data, (uint32_t) out->len);
    out->len = sizeof(fm);
}

/* A leader that holds a pending file (it was elected before it handed
 * its tail over) takes the records itself, as it would from a replica. */
static bool
merge_take_own(repl_t *r, const void *rec, size_t *budget, uint32_t *taken)
{
    uint32_t len;

    memcpy(&len, (const char *) rec + 4, sizeof(len));
    if (*budget == 0 || merge_take(r, rec, taken) != MEMDB_OK)
        return false;
    *budget = *budget > len ? *budget - len : 0;
    return true;
}

/* Walks one pending file: counts the records the table does not cover
 * and, with send, sends those after the part already sent on this
 * connection, up to the window; a leader (take) takes them instead.
 * Returns the records not covered, or -1 when the file cannot be read. */
static int64_t
merge_file(repl_t *r, const char *path, bool send, bool take, size_t *budget)
{
    mfile_t f = { .fd = open(path, O_RDONLY | O_CLOEXEC) };
    buf_t w = { 0 }, out = { 0 };
    follow_t *fo = &r->fol;
    bool same = strcmp(fo->merge_file, path) == 0;
    int64_t pending = 0;
    uint32_t n = 0, first = 0, taken = 0;
    int rc;

    if (f.fd < 0)
        return -1;
    buf_reserve(&out, sizeof(frame_merge_t));
    out.len = sizeof(frame_merge_t);
    while ((rc = mfile_next(&f, path)) == MEMDB_OK) {
        if (merge_covered_all(r, &w, f.rec.data))
            continue;
        if (take && merge_take_own(r, f.rec.data, budget, &taken))
            continue;
        pending++;
        if (!send || (same && f.off < fo->merge_off) || *budget == 0)
            continue;
        if (n == 0)
            first = (uint32_t) f.off;
        buf_append(&out, f.rec.data, f.rec.len);
        n++;
        *budget = *budget > f.rec.len ? *budget - f.rec.len : 0;
        snprintf(fo->merge_file, sizeof(fo->merge_file), "%s", path);
        fo->merge_off = f.off + f.rec.len;
        if (out.len >= MERGE_FRAME) {
            merge_send(r, &out, n);
            n = 0;
        }
    }
    merge_send(r, &out, n);
    if (taken > 0)
        log_warn("took %u records of our own pending %s (elected before it "
                 "was handed over)",
                 taken, path);
    if (send && pending > 0)
        log_debug("handing %lld records of %s over (from offset %u)",
                  (long long) pending, path, first);
    close(f.fd);
    buf_free(&f.rec);
    buf_free(&w);
    buf_free(&out);
    return rc == MEMDB_ERR && pending == 0 ? -1 : pending;
}

void
merge_tick(repl_t *r, bool send)
{
    DIR *d = opendir(r->cs.dir);
    struct dirent *de;
    char path[1400];
    uint32_t pending = 0;
    size_t budget = MERGE_WINDOW;
    bool leader = atomic_load(&r->shm->node->role) == ROLE_LEADER;
    bool synced = leader || (r->fol.on && r->fol.stage == FOL_STREAM);

    if (d == NULL) {
        atomic_store(&r->shm->roster->pending_merges, 0);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, "merge-", 6) != 0 || l < 10
            || strcmp(de->d_name + l - 4, ".rec") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", r->cs.dir, de->d_name);
        if (!synced) {
            pending++; /* our table is not the leader's yet: cannot tell */
            continue;
        }
        int64_t left = merge_file(r, path, send && !leader, leader, &budget);
        if (left == 0) {
            log_info("every record of %s is in %s log now", de->d_name,
                     leader ? "our" : "the leader's");
            unlink(path);
        } else {
            pending++;
        }
    }
    closedir(d);
    atomic_store(&r->shm->roster->pending_merges, pending);
}

bool
merge_on_merged(repl_t *r, const unsigned char *p)
{
    frame_merge_t fm;

    memcpy(&fm, p, sizeof(fm));
    log_debug("the leader took %u new records of batch %llu", fm.nrecords,
              (unsigned long long) fm.seq);
    if (fm.seq == r->fol.merge_seq)
        r->fol.merge_ms = 0; /* the window is through: send the next */
    return true;
}

/* ---- the leader ---------------------------------------------------------- */

/* Adds to out the words that record lsn as held: the range that ends just
 * before it grows by one, or a new range starts at it. */
static void
merge_mark_record(repl_t *r, buf_t *out, buf_t *w, rec_origin_t o)
{
    bool adjacent;
    uint64_t k = mark_range(r, w, o, o.lsn, &adjacent), n;

    if (k != 0 && adjacent) {
        uint64_t first = mark_get(r, w, o, '#', k);
        mark_word(w, o, '@', first);
        rec_add(out, w->data, w->len, 1);
        return;
    }
    n = mark_get(r, w, o, '#', 0);
    mark_word(w, o, '#', 0);
    rec_add(out, w->data, w->len, 1);
    mark_word(w, o, '#', n + 1);
    rec_add(out, w->data, w->len, o.lsn);
    mark_word(w, o, '@', o.lsn);
    rec_add(out, w->data, w->len, 1);
}

/* Builds the REC_MERGE record of one piece of rec (of n): the origin, the
 * words of the piece, and what says it is held: the record's range words
 * with its last piece, its piece count before. */
static void
merge_build(repl_t *r, buf_t *out, buf_t *w, const void *rec, unsigned piece,
            unsigned n, const rec_idem_t *key)
{
    rec_origin_t o = rec_origin(rec);
    uint32_t first, count, idx = 0;
    rec_iter_t it;
    const char *word;
    size_t l;
    uint64_t d;

    rec_pieces(rec, piece, &first, &count);
    rec_begin(out, REC_MERGE);
    if (key != NULL)
        rec_set_idem(out, key);
    if (rec_table(rec) != 0)
        rec_set_table(out, rec_table(rec));
    rec_iter_init(&it, rec);
    while (rec_next(&it, &word, &l, &d) == MEMDB_OK) {
        if (idx >= first && idx < first + count)
            rec_add(out, word, l, d);
        idx++;
    }
    if (piece + 1 == n) {
        merge_mark_record(r, out, w, o);
    } else {
        mark_word(w, o, '%', o.lsn);
        rec_add(out, w->data, w->len, 1);
    }
    rec_set_origin(out->data, o.boot, o.epoch, o.lsn);
}

/* Appends and applies one record like a worker's upload (replicator
 * slot), fenced to a leader.  MEMDB_AGAIN when the ring is full. */
static int
merge_commit(repl_t *r, const buf_t *rec)
{
    shm_t *s = r->shm;
    shm_worker_t *me = shm_worker(s, SHM_REPL_SLOT);
    ring_slot_t *slot;
    uint64_t one = 1;
    int rc;

    bool done;

    rc = apply_reserve(s, rec->data, (uint32_t) rec->len, RING_W_MERGE, me,
                       true, &slot, &done);
    if (rc == MEMDB_NOENT) {
        /* its table was dropped here: the caller keeps the marks only */
        return MEMDB_NOENT;
    }
    if (rc != MEMDB_OK) {
        (void) write(r->master_fd, &one, sizeof(one));
        if (rc != MEMDB_AGAIN)
            log_warn("a handed-over record was refused: %s",
                     rc == MEMDB_BUSY ? "this node no longer leads"
                                      : "too large for the ring");
        return rc == MEMDB_AGAIN ? MEMDB_AGAIN : MEMDB_ERR;
    }
    FAULT("merge.reserved");
    atomic_store(&me->progress, 0);
    atomic_store(&me->inflight_pos, me->resv.pos);
    memcpy(ring_slot_rec(slot), rec->data, rec->len);
    rec_finish(ring_slot_rec(slot), slot->lsn, slot->epoch);
    ring_publish(slot);
    (void) write(r->master_fd, &one, sizeof(one));
    apply_record(s, ring_slot_rec(slot), 0, SHM_REPL_SLOT, &me->progress,
                 apply_gen(slot));
    atomic_store(&me->inflight_pos, SHM_NONE);
    return MEMDB_OK;
}

/* What to do with the Idempotency-Key of a handed-over record whose first
 * piece this table lacks (see the top of this file). */
enum { MKEY_NONE, MKEY_CLAIMED, MKEY_COUNTED, MKEY_WAIT };

static int
merge_claim(repl_t *r, const void *rec, rec_idem_t *id)
{
    shm_t *s = r->shm;
    idem_ans_t a;
    rec_origin_t o = rec_origin(rec);
    int rc;

    if (!rec_idem(rec, id) || s->idem.hdr->max_keys == 0)
        return MKEY_NONE;
    rc = idem_claim(&s->idem, (const idem_key_t *) (const void *) id->key,
                    id->body, s->ht.self, util_wall_ms(), &a);
    switch (rc) {
    case IDEM_NEW: return MKEY_CLAIMED;
    case IDEM_REPLAY:
        log_info("a handed-over record (origin %016llx.%llu lsn %llu) was "
                 "counted here already by a retry of its upload (lsn %llu): "
                 "its words are skipped",
                 (unsigned long long) o.boot, (unsigned long long) o.epoch,
                 (unsigned long long) o.lsn, (unsigned long long) a.lsn);
        return MKEY_COUNTED;
    case IDEM_MISMATCH:
        log_warn("a handed-over record (origin %016llx.%llu lsn %llu) has "
                 "the Idempotency-Key of another upload (lsn %llu): both "
                 "are counted",
                 (unsigned long long) o.boot, (unsigned long long) o.epoch,
                 (unsigned long long) o.lsn, (unsigned long long) a.lsn);
        return MKEY_NONE;
    default: return MKEY_WAIT; /* a retry of it is being counted, or no room */
    }
}

/* A record whose upload a retry counted: only the words that say the
 * record is held, so that it is not offered again. */
static int
merge_skip(repl_t *r, buf_t *out, buf_t *w, const void *rec)
{
    rec_origin_t o = rec_origin(rec);

    rec_begin(out, REC_MERGE);
    merge_mark_record(r, out, w, o);
    rec_set_origin(out->data, o.boot, o.epoch, o.lsn);
    return merge_commit(r, out);
}

/* Takes what the table lacks of one handed-over record; *taken counts
 * the pieces appended.  The record's key block goes with its first
 * piece. */
static int
merge_take(repl_t *r, const void *rec, uint32_t *taken)
{
    buf_t out = { 0 }, w = { 0 };
    uint32_t first, count;
    unsigned n = rec_pieces(rec, 0, &first, &count);
    rec_idem_t id;
    int rc = MEMDB_OK, key = MKEY_NONE;

    for (unsigned i = 0; i < n && rc == MEMDB_OK; i++) {
        if (merge_covered(r, &w, rec, i))
            continue;
        if (i == 0)
            key = merge_claim(r, rec, &id);
        if (key == MKEY_WAIT) {
            rc = MEMDB_AGAIN;
            break;
        }
        if (key == MKEY_COUNTED) {
            rc = merge_skip(r, &out, &w, rec);
            break;
        }
        merge_build(r, &out, &w, rec, i, n,
                    i == 0 && key == MKEY_CLAIMED ? &id : NULL);
        if (!apply_fits(r->shm, out.data)) {
            log_error("the store is full (store.max_memory): a handed-over "
                      "record waits");
            rc = MEMDB_AGAIN;
            break;
        }
        rc = merge_commit(r, &out);
        *taken += rc == MEMDB_OK;
        if (i == 0 && key == MKEY_CLAIMED && rc != MEMDB_OK)
            idem_release(&r->shm->idem,
                         (const idem_key_t *) (const void *) id.key,
                         r->shm->ht.self);
        if (rc == MEMDB_NOENT) {
            log_warn("a handed-over record (origin %016llx lsn %llu) counts "
                     "in a table dropped since: its words are discarded",
                     (unsigned long long) rec_origin(rec).boot,
                     (unsigned long long) rec_origin(rec).lsn);
            atomic_fetch_add(&r->shm->roster->merge_discarded, 1);
            rc = merge_skip(r, &out, &w, rec);
            break;
        }
        key = MKEY_NONE;
    }
    buf_free(&out);
    buf_free(&w);
    return rc;
}

bool
merge_on_merge(repl_t *r, rconn_t *c, const unsigned char *p, uint32_t len)
{
    frame_merge_t fm, done;
    uint32_t off = sizeof(fm), rl, taken = 0;
    buf_t one = { 0 };
    int rc = MEMDB_OK;

    memcpy(&fm, p, sizeof(fm));
    if (atomic_load(&r->shm->node->role) != ROLE_LEADER)
        return true; /* it will retry with the leader */
    while (off < len && rc == MEMDB_OK
           && rec_check(p + off, len - off, &rl) == REC_OK) {
        one.len = 0;
        buf_append(&one, p + off, rl); /* aligned copy */
        if (one.data == NULL)
            break; /* not reached: rec_check gave rl >= REC_HDR */
        rc = merge_take(r, one.data, &taken);
        off += rl;
    }
    buf_free(&one);
    if (taken > 0)
        log_info("took %u handed-over records (batch %llu)", taken,
                 (unsigned long long) fm.seq);
    if (rc == MEMDB_AGAIN) {
        c->paused = true; /* the ring is full: this frame comes again */
        return true;
    }
    if (rc != MEMDB_OK)
        return false;
    memset(&done, 0, sizeof(done));
    done.nrecords = taken;
    done.seq = fm.seq;
    rconn_send(r, c, FR_MERGED, &done, sizeof(done));
    return true;
}
