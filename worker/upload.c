/*
 * upload.c - POST /api/v1/upload.
 *
 * The body is tokenized as it arrives (tok.c) into a per-connection
 * aggregate (agg.c); nothing touches the shared table until the whole body
 * is in and valid, so a rejected upload changes nothing.  Then:
 *
 *   1. the aggregate becomes one change record (rec.c);
 *   2. room is promised in the store (507 if store.max_memory is reached);
 *   3. the record gets its LSN and ring slot (ring_reserve; a full ring
 *      parks the connection until the master frees room);
 *   4. the worker notes the slot as in flight, copies and seals the record,
 *      publishes it, and applies its words to the table, advancing its
 *      progress counter word by word (if it is killed here, the master
 *      finishes the record from that counter);
 *   5. it parks until the master has written the record to the log (and
 *      fsynced it, with persistence.fsync: always); then it answers
 *      {"words", "distinct", "lsn"}.
 *
 * While the log cannot be written (disk full, I/O error) uploads get 503
 * and change nothing; one already in the ring when the error came is
 * answered 503 too, though it may still be persisted once the disk works:
 * a 503 means "not acknowledged", as with any lost answer.
 *
 * Idempotency-Key.  An upload sent with a key (1-255 visible ASCII
 * characters) is counted once, however often it is sent: its key (a
 * BLAKE2b-128 hash of it) and the hash of its body go into the key table
 * (shm/idem.h) and into its change record, and before step 1 the worker
 * claims the key.  A key whose upload was counted answers the same body
 * with the first answer (same lsn, words, distinct; "Idempotent-Replayed:
 * true"), once that record is persisted as the first answer would have
 * waited; another body gets 422, a key whose upload is still being
 * committed 409.  The claim lasts until the record is applied (the key is
 * then DONE) or the request ends without it (upload_end gives it back).
 */
#include "worker/wrk.h"
#include "src/core/fault.h"
#include "src/core/json.h"
#include "src/core/log.h"
#include "src/core/url.h"
#include "src/core/util.h"
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void upload_complete_gated(conn_t *c);
static void upload_finish(conn_t *c, uint64_t lsn);

static void
on_word(void *arg, const char *word, size_t len)
{
    agg_push(&((conn_t *) arg)->agg, word, len);
}

/* ?wait=N&timeout_ms=T; 400 and close on anything else (the answer
 * comes before the body, so it says "Connection: close"). */
static int
upload_params(conn_t *c)
{
    bool keep = c->want_close;
    const char *qs;
    size_t qlen;

    c->up_wait = 0;
    c->up_timeout = 1000;
    route_query(c, &qs, &qlen);
    if (qlen == 0)
        return MEMDB_OK;
    c->want_close = true;
    if (!gate_wait_params(c, qs, qlen, "wait", &c->up_wait, &c->up_timeout))
        return MEMDB_ERR;
    if (c->up_wait > ROSTER_MAX_MEMBERS) {
        resp_error_at(c, 400,
                      "parameter \"wait\" is larger than the "
                      "cluster can be",
                      "limit", ROSTER_MAX_MEMBERS);
        resp_done(c);
        return MEMDB_ERR;
    }
    c->want_close = keep;
    return MEMDB_OK;
}

/* ---- the Idempotency-Key ------------------------------------------------ */

static bool
upload_keys_on(const conn_t *c)
{
    return c->w->shm->idem.hdr->max_keys > 0;
}

void
upload_key_field(conn_t *c, const char *v, size_t n)
{
    unsigned char h[16];

    if (c->ikey != IKEY_NONE) {
        c->ikey = IKEY_TWICE;
        return;
    }
    c->ikey = IKEY_BAD;
    if (n == 0 || n > 255)
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7e)
            return;
    crypto_generichash(h, sizeof(h), (const unsigned char *) v, n, NULL, 0);
    memcpy(c->ikey_hash.h, h, sizeof(h));
    c->ikey = IKEY_OK;
}

/* 400 for a bad field; starts hashing the body of a good one. */
static int
upload_key_begin(conn_t *c)
{
    if (c->ikey == IKEY_BAD || c->ikey == IKEY_TWICE) {
        c->want_close = true;
        resp_error(c, 400,
                   c->ikey == IKEY_TWICE
                       ? "more than one Idempotency-Key field"
                       : "Idempotency-Key must be 1 to 255 visible ASCII "
                         "characters");
        resp_done(c);
        return MEMDB_ERR;
    }
    if (c->ikey != IKEY_OK || !upload_keys_on(c)) {
        c->ikey = IKEY_NONE; /* uploads.idempotency_max_keys: 0 */
        return MEMDB_OK;
    }
    if (c->ibody == NULL
        && (c->ibody = aligned_alloc(64, sizeof(crypto_generichash_state)))
               == NULL) {
        log_error("out of memory for an upload's body hash");
        abort();
    }
    crypto_generichash_init(c->ibody, NULL, 0, 16);
    if (c->up_kind == UP_RETRACT) /* a key of an upload is not a retract's */
        crypto_generichash_update(c->ibody,
                                  (const unsigned char *) "memdb retract", 14);
    if (c->tbl.uid != 0) /* nor is a key of one table another's */
        crypto_generichash_update(c->ibody,
                                  (const unsigned char *) &c->tbl.uid, 8);
    return MEMDB_OK;
}

void
upload_end(conn_t *c)
{
    if (!c->ikey_claimed)
        return;
    c->ikey_claimed = false;
    idem_release(&c->w->shm->idem, &c->ikey_hash, c->w->shm->ht.self);
}

/* Claims the key of a complete upload: true to go on and count it; false
 * when it was answered (or parked) as a replay, a conflict or a refusal. */
static bool
upload_claim(conn_t *c)
{
    shm_t *s = c->w->shm;
    idem_ans_t a;
    uint64_t now = util_wall_ms();
    int rc = idem_claim(&s->idem, &c->ikey_hash, c->up_body, s->ht.self, now,
                        &a);

    switch (rc) {
    case IDEM_NEW:
        c->ikey_claimed = true;
        c->up_time_ms = now;
        return true;
    case IDEM_REPLAY:
        c->ikey_replay = true;
        c->up_words = a.words;
        c->up_distinct = a.distinct;
        upload_finish(c, a.lsn);
        return false;
    case IDEM_MISMATCH:
        resp_error_at(c, 422,
                      "this Idempotency-Key was used for an upload with "
                      "another body",
                      "lsn", a.lsn);
        break;
    case IDEM_INFLIGHT:
        c->retry_after = true;
        resp_error(c, 409,
                   "an upload with this Idempotency-Key is being counted; "
                   "retry");
        break;
    default:
        resp_error_at(c, 503,
                      "too many uploads with an Idempotency-Key in flight "
                      "(uploads.idempotency_max_keys); retry",
                      "limit", s->idem.hdr->max_keys);
        break;
    }
    resp_done(c);
    return false;
}

/* ---- the upload ----------------------------------------------------------- */

/* The table's tokenizer for this upload's body: false when answered (its
 * profile cannot be read: it changed under us, or is damaged). */
static bool
upload_tokenizer(conn_t *c)
{
    static unsigned char enc[CAT_PROF_MAX];
    size_t max = c->w->conf->store_max_word;
    /* a replica answers 307 when the (empty) body is complete: any
     * tokenizer does */
    long n = atomic_load(&c->w->shm->node->role) == ROLE_REPLICA
                 ? 0
                 : cat_profile(&c->w->shm->cat, &c->tbl, enc);

    if (c->tbl.gen != 0 || c->tbl.uid != 0) /* room for the key prefix */
        max = MEMDB_MIN(max, (size_t) (HT_MAX_WORD - CAT_PREFIX_MAX));
    prof_free(&c->tprof);
    if (n < 0
        || (n > 0 && prof_decode(&c->tprof, enc, (size_t) n) != MEMDB_OK)) {
        c->want_close = true;
        resp_error(c, 503, "the table changed while the upload began; retry");
        resp_done(c);
        return false;
    }
    if (n == 0)
        prof_default(&c->tprof);
    agg_reset(&c->agg);
    if (ptok_init(&c->ptok, &c->tprof, max, on_word, c) != MEMDB_OK) {
        c->want_close = true;
        resp_error(c, 500, "cannot set up the table's tokenizer");
        resp_done(c);
        return false;
    }
    return true;
}

int
upload_begin(conn_t *c)
{
    c->up_kind = c->route == RT_RETRACT ? UP_RETRACT : UP_ADD;
    c->tbl.uid = 0;
    if (upload_params(c) != MEMDB_OK)
        return MEMDB_ERR;
    /* a replica sends it to the leader whatever the table (its catalog
     * may be being replaced by a full sync) */
    if (atomic_load(&c->w->shm->node->role) != ROLE_REPLICA
        && cat_find(&c->w->shm->cat, c->tname, c->tname_len, &c->tbl)
               != MEMDB_OK) {
        c->want_close = true; /* before the body, as a 307 */
        resp_error(c, 404, "no such table");
        resp_done(c);
        return MEMDB_ERR;
    }
    if (upload_key_begin(c) != MEMDB_OK)
        return MEMDB_ERR;
    /* A replica sends the client to the leader before reading the body,
     * and closes, as the client may send the body or not.  An upload
     * without a body is answered when it is complete, like any request
     * (upload_complete_gated): one answer, and the connection stays. */
    if (atomic_load(&c->w->shm->node->role) == ROLE_REPLICA
        && http_has_body(c)) {
        c->want_close = true;
        (void) gate_write(c);
        return MEMDB_ERR;
    }
    return upload_tokenizer(c) ? MEMDB_OK : MEMDB_ERR;
}

static int
upload_bad_body(conn_t *c)
{
    char msg[128];

    uint64_t off;
    tok_err_e e = ptok_err(&c->ptok, &off);

    c->want_close = true;
    if (e == TOK_BAD_UTF8) {
        resp_error_at(c, 400, "body is not valid UTF-8", "offset", off);
    } else {
        snprintf(msg, sizeof(msg),
                 "word longer than %llu bytes "
                 "(store.max_word)",
                 (unsigned long long) c->ptok.max_word);
        resp_error_at(c, 400, msg, "offset", off);
    }
    resp_done(c);
    return -1;
}

int
upload_body(conn_t *c, const char *p, size_t n)
{
    if (ptok_feed(&c->ptok, p, n) != TOK_OK)
        return upload_bad_body(c);
    if (c->ikey == IKEY_OK)
        crypto_generichash_update(c->ibody, (const unsigned char *) p, n);
    return 0;
}

static void
upload_answer(conn_t *c, uint64_t lsn)
{
    buf_t *b = &c->w->tmp;

    if (c->up_kind == UP_TABLE) {
        tables_answer(c, lsn);
        return;
    }
    b->len = 0;
    buf_putc(b, '{');
    if (c->up_kind == UP_FORGET) {
        const agg_t *a = &c->agg;
        json_key(b, "word", true);
        json_str(b, agg_key(a, &a->ents[0]), a->ents[0].len);
        json_kv_u64(b, "forgotten", c->up_words, false);
    } else {
        json_kv_u64(b, "words", c->up_words, true);
        json_kv_u64(b, "distinct", c->up_distinct, false);
    }
    json_kv_u64(b, "lsn", lsn, false);
    if (c->up_wait > 0)
        json_kv_u64(b, "replicas", gate_acked(c->w->shm, lsn), false);
    buf_putc(b, '}');
    resp_json(c, 200, b,
              c->ikey_replay ? "Idempotent-Replayed: true\r\n" : NULL);
    resp_done(c);
}

/* The worst-case cost counting only words not in the table yet: used when
 * the quick estimate (every word new) does not fit. */
static uint64_t
upload_new_cost(conn_t *c, const agg_t *a)
{
    uint64_t cost = 0;

    for (size_t i = 0; i < a->n; i++) {
        const agg_ent_t *e = &a->ents[i];
        if (tables_count(c, agg_key(a, e), e->len, e->hash) == 0)
            cost += ht_cost(e->len + CAT_PREFIX_MAX);
    }
    return cost;
}

static void
upload_disk_error(conn_t *c)
{
    char msg[160];
    uint32_t e = atomic_load(&c->w->shm->node->disk_errno);

    snprintf(msg, sizeof(msg),
             "the change log cannot be written: %s; "
             "upload not acknowledged",
             strerror((int) e));
    shm_mem_done(c->w->slot);
    resp_error(c, 503, msg);
    resp_done(c);
}

/* The LSN up to which an upload may be acknowledged: fsynced with
 * fsync: always, else written to the log file (a crash of the process
 * group then loses nothing acknowledged; only a power loss can, within
 * about a second with everysec). */
static uint64_t
persisted_lsn(shm_node_t *n)
{
    return atomic_load(&n->fsync_mode) == FSYNC_ALWAYS
               ? atomic_load(&n->durable_lsn)
               : atomic_load(&n->written_lsn);
}

/* Answers once the record is persisted (see persisted_lsn) and, with
 * ?wait=N, acknowledged by N replicas. */
static void
upload_finish(conn_t *c, uint64_t lsn)
{
    shm_node_t *n = c->w->shm->node;

    if (persisted_lsn(n) < lsn) {
        wrk_park(c->w, c, WAIT_DURABLE, lsn);
        return;
    }
    if (c->up_wait > 0 && gate_acked(c->w->shm, lsn) < c->up_wait) {
        gate_wait_replicas(c, lsn);
        return;
    }
    upload_answer(c, lsn);
}

/* This node stopped taking writes after the upload passed the write gate
 * (the fence in ring_reserve said so): send the client to the leader. */
static void
upload_fenced(conn_t *c)
{
    shm_mem_done(c->w->slot);
    if (!gate_write(c))
        return; /* answered: 307, or 503 while no leader is known */
    resp_error(c, 503,
               "this node stopped leading while the upload waited; upload "
               "not acknowledged, retry");
    resp_done(c);
}

/* 409: a retract would take a word below zero. */
static void
upload_below_zero(conn_t *c, const char *word, size_t len, uint64_t have)
{
    char msg[200];
    size_t n = len > 64 ? 64 : len;

    while (n < len && n > 0 && ((unsigned char) word[n] & 0xc0) == 0x80)
        n--; /* cut at a character */
    snprintf(msg, sizeof(msg),
             "retract would take \"%.*s%s\" below zero; nothing retracted",
             (int) n, word, n < len ? "..." : "");
    resp_error_at(c, 409, msg, "count", have);
    resp_done(c);
}

/* A retract or a reset, under the subtract lock: a retract checks that no
 * count goes below zero; a reset's record takes away the count it reads.
 * false when it answered instead (409, or 404: nothing to reset). */
static bool
upload_sub_check(conn_t *c)
{
    shm_t *s = c->w->shm;
    const agg_t *a = &c->agg;

    if (c->up_kind == UP_TABLE)
        return true; /* apply_reserve() checks it */
    /* the generation now: no truncate runs while the lock is held */
    if (cat_find_uid(&s->cat, c->tbl.uid, &c->tbl) != MEMDB_OK) {
        resp_error(c, 404, "the table was dropped; nothing was changed");
        resp_done(c);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        const agg_ent_t *e = &a->ents[i];
        uint64_t have = tables_count(c, agg_key(a, e), e->len, e->hash);

        if (c->up_kind == UP_FORGET) {
            if (have == 0) {
                resp_error(c, 404, "this word has no count to reset");
                resp_done(c);
                return false;
            }
            rec_begin(&c->rec, REC_FORGET);
            if (c->tbl.uid != 0)
                rec_set_table(&c->rec, c->tbl.uid);
            rec_add(&c->rec, agg_key(a, e), e->len, have);
            c->up_words = have;
        } else if (have < e->count) {
            upload_below_zero(c, agg_key(a, e), e->len, have);
            return false;
        }
    }
    return true;
}

/* Steps 3-5.  false if the ring is full (the caller parks).  A retract or
 * reset holds the subtract lock from its check to its applied record
 * (shm_sub_lock). */
static bool
upload_commit(conn_t *c)
{
    wrk_t *w = c->w;
    shm_t *s = w->shm;
    shm_worker_t *me = w->slot;
    bool sub = c->up_kind != UP_ADD;
    bool done;
    ring_slot_t *slot;
    void *rec;
    int rc;

    if (sub) {
        shm_sub_lock(s);
        if (!upload_sub_check(c)) {
            shm_sub_unlock(s);
            return true;
        }
    }
    rec_set_origin(c->rec.data, s->node->boot_id, 0, 0);
    rc = apply_reserve(s, c->rec.data, (uint32_t) c->rec.len, RING_W_UPLOAD,
                       me, true, &slot, &done);
    if (rc != MEMDB_OK && sub)
        shm_sub_unlock(s);
    if (rc == MEMDB_AGAIN)
        return false;
    if (rc == MEMDB_NOENT || rc == MEMDB_EXISTS || rc == MEMDB_FULL) {
        shm_mem_done(me);
        if (rc == MEMDB_NOENT)
            resp_error(c, 404, "the table was dropped; nothing was changed");
        else if (rc == MEMDB_EXISTS)
            resp_error(c, 409, "a table of this name exists");
        else
            resp_error_at(c, 507,
                          "no room for another table "
                          "(store.max_tables)",
                          "limit", (uint64_t) s->cat.hdr->max - 1);
        resp_done(c);
        return true;
    }
    if (rc != MEMDB_OK) {
        upload_fenced(c);
        return true;
    }
    if (done) { /* a table operation: published and applied */
        atomic_store_explicit(&me->inflight_pos, SHM_NONE,
                              memory_order_release);
        shm_sub_unlock(s);
        wrk_notify_master(w);
        upload_finish(c, slot->lsn);
        return true;
    }
    FAULT("upload.reserved");
    atomic_store_explicit(&me->progress, 0, memory_order_relaxed);
    atomic_store_explicit(&me->inflight_pos, me->resv.pos,
                          memory_order_release);
    rec = ring_slot_rec(slot);
    memcpy(rec, c->rec.data, c->rec.len);
    rec_finish(rec, slot->lsn, slot->epoch);
    FAULT("upload.copied");
    ring_publish(slot);
    wrk_notify_master(w);
    (void) apply_record(s, rec, 0, w->slot_no, &me->progress, apply_gen(slot));
    c->ikey_claimed = false; /* applied: the key is DONE */
    FAULT("upload.applied");
    atomic_store_explicit(&me->inflight_pos, SHM_NONE, memory_order_release);
    if (sub)
        shm_sub_unlock(s);
    shm_mem_done(me);
    atomic_fetch_add_explicit(&s->node->uploads, 1, memory_order_relaxed);
    upload_finish(c, slot->lsn);
    return true;
}

void
upload_complete(conn_t *c)
{
    if (ptok_finish(&c->ptok) != TOK_OK) {
        upload_bad_body(c);
        return;
    }
    agg_flush(&c->agg);
    if (c->ikey == IKEY_OK) {
        unsigned char h[16];
        crypto_generichash_final(c->ibody, h, sizeof(h));
        memcpy(c->up_body, h, sizeof(h));
    }
    upload_complete_gated(c);
}

/* The body is complete and valid: commit it if this node takes writes. */
static void
upload_complete_gated(conn_t *c)
{
    wrk_t *w = c->w;
    shm_t *s = w->shm;
    agg_t *a = &c->agg;

    if (!gate_write(c))
        return;
    if (atomic_load(&s->node->disk_errno) != 0) {
        upload_disk_error(c);
        return;
    }
    /* a delete or table operation, or an upload to a table whose create
     * (or last truncate) a majority may not hold yet: answered once a
     * majority holds it (doc/design.md, "Deletes", "Tables") */
    if (c->up_kind != UP_ADD
        || (c->tbl.op_lsn > 0
            && gate_acked(s, c->tbl.op_lsn) < gate_majority_acks(s)))
        c->up_wait = MEMDB_MAX(c->up_wait, gate_majority_acks(s));
    if (c->up_kind == UP_FORGET || c->up_kind == UP_TABLE) {
        if (!upload_commit(c))
            wrk_park(w, c, WAIT_RING, 0);
        return;
    }
    c->up_words = a->words;
    c->up_distinct = a->n;
    if (c->ikey == IKEY_OK && !c->ikey_claimed && !upload_claim(c))
        return;
    if (a->n == 0) {
        upload_answer(c, atomic_load(&s->ring.hdr->next_lsn) - 1);
        return;
    }
    rec_begin(&c->rec, c->up_kind == UP_RETRACT ? REC_RETRACT : REC_UPLOAD);
    if (c->ikey_claimed) {
        rec_idem_t id = { .key = { c->ikey_hash.h[0], c->ikey_hash.h[1] },
                          .body = { c->up_body[0], c->up_body[1] },
                          .time_ms = c->up_time_ms,
                          .words = a->words,
                          .distinct = a->n };
        rec_set_idem(&c->rec, &id);
    }
    if (c->tbl.uid != 0)
        rec_set_table(&c->rec, c->tbl.uid);
    for (size_t i = 0; i < a->n; i++)
        rec_add(&c->rec, agg_key(a, &a->ents[i]), a->ents[i].len,
                a->ents[i].count);
    if (c->rec.len > ring_max_record(&s->ring)) {
        resp_error_at(c, 413,
                      "upload has too many distinct words for one "
                      "change record (raise persistence.ring_size)",
                      "limit", ring_max_record(&s->ring));
        resp_done(c);
        return;
    }
    if (c->up_kind == UP_ADD /* a retract adds no word */
        && shm_mem_reserve(s, w->slot, a->cost + a->n * CAT_PREFIX_MAX)
               != MEMDB_OK
        && shm_mem_reserve(s, w->slot, upload_new_cost(c, a)) != MEMDB_OK) {
        atomic_fetch_add_explicit(&s->node->rejected, 1, memory_order_relaxed);
        resp_error_at(c, 507, "store is full (store.max_memory)", "limit",
                      shm_mem_limit(s));
        resp_done(c);
        return;
    }
    if (!upload_commit(c))
        wrk_park(w, c, WAIT_RING, 0);
}

bool
upload_resume(conn_t *c, bool expired)
{
    shm_node_t *n = c->w->shm->node;

    if (c->wait == WAIT_ROLE) {
        if (!atomic_load(&c->w->shm->roster->transfer) || expired) {
            c->phase = PH_BODY;
            c->deadline_aux = 0;
            upload_complete_gated(c);
            return c->phase != PH_WAIT;
        }
        return false;
    }
    if (c->wait == WAIT_REPL) {
        uint64_t k = gate_acked(c->w->shm, c->wait_val);
        if (k >= c->up_wait) {
            upload_answer(c, c->wait_val);
            return true;
        }
        if (!expired)
            return false;
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "only %llu of %llu replicas acknowledged "
                 "the upload in time",
                 (unsigned long long) k, (unsigned long long) c->up_wait);
        resp_error_at(c, 504, msg, "lsn", c->wait_val);
        resp_done(c);
        return true;
    }
    if (c->wait == WAIT_DURABLE) {
        if (persisted_lsn(n) >= c->wait_val) {
            upload_finish(c, c->wait_val);
            return c->phase != PH_WAIT;
        }
        if (atomic_load(&n->disk_errno) != 0) {
            upload_disk_error(c);
            return true;
        }
        return false;
    }
    if (atomic_load(&n->disk_errno) != 0) {
        upload_disk_error(c);
        return true;
    }
    if (!upload_commit(c))
        return false;
    return c->phase != PH_WAIT;
}

void
upload_table_op(conn_t *c)
{
    if (upload_params(c) == MEMDB_OK)
        upload_complete_gated(c);
}

/* DELETE /api/v1/tables/{t}/words/{word}: one REC_FORGET record that
 * takes away the count the word has when the record is made. */
void
upload_forget(conn_t *c)
{
    size_t off = c->path_word;
    buf_t *word = &c->w->tmp2;

    c->up_kind = UP_FORGET;
    c->ikey = IKEY_NONE; /* a reset takes no key */
    word->len = 0;
    if (upload_params(c) != MEMDB_OK || !tables_resolve_write(c))
        return;
    if (url_decode_path(word, c->url.data + off, c->path_len - off)
        != MEMDB_OK) {
        resp_error(c, 400, "malformed %-escape in the word");
    } else if (utf8_check(word->data, word->len) >= 0) {
        resp_error_at(c, 400, "the word is not valid UTF-8", "offset",
                      (uint64_t) utf8_check(word->data, word->len));
    } else if (word->len > c->w->conf->store_max_word) {
        resp_error_at(c, 400, "word longer than store.max_word", "limit",
                      c->w->conf->store_max_word);
    } else {
        agg_reset(&c->agg);
        agg_add(&c->agg, word->data, word->len);
        upload_complete_gated(c);
        return;
    }
    resp_done(c);
}
