/*
 * apply.c - change records into the shared table (see apply.h).
 */
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"
#include "src/core/fault.h"
#include "src/core/log.h"

#include <string.h>

/* Worst-case bytes the words of rec not in the store yet take, under the
 * key prefix of generation gen (every word counted new if !known). */
static uint64_t
apply_cost(shm_t *s, const void *rec, uint64_t gen, bool known)
{
    char key[CAT_PREFIX_MAX + HT_MAX_WORD];
    uint64_t cost = 0, d;
    rec_iter_t it;
    const char *w;
    size_t len, klen;

    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &len, &d) == MEMDB_OK) {
        if (len > HT_MAX_WORD)
            len = HT_MAX_WORD;
        if (ht_internal(w, len)) /* (a merge token: never prefixed) */
            klen = apply_key(0, w, len, key);
        else
            klen = apply_key(gen, w, len, key);
        if (!known || ht_get(&s->ht, ht_hash(key, klen), key, klen) == 0)
            cost += ht_cost(klen);
    }
    return cost;
}

bool
apply_fits(shm_t *s, const void *rec)
{
    uint64_t room = shm_mem_room(s);
    /* what was ever cut (free entries included) may reach past room, as
     * far as half the rest of the area: no further */
    uint64_t cut = arena_top(s->arena),
             cut_max = room + (s->arena->size - room) / 2;
    uint64_t used = shm_mem_used(s), cost;
    cat_view_t v;
    bool known;
    rec_hdr_t h;

    memcpy(&h, rec, sizeof(h));
    cost = h.len * 2ULL + (64ULL + CAT_PREFIX_MAX) * h.nwords;
    if (used + cost <= room && cut + cost <= cut_max)
        return true; /* even every word new fits */
    known = cat_find_uid(&s->cat, rec_table(rec), &v) == MEMDB_OK;
    cost = apply_cost(s, rec, known ? v.gen : 0, known);
    return used + cost <= room && cut + cost <= cut_max;
}

/* The LSN of rec, for the log (rec may be unaligned). */
static uint64_t
apply_lsn(const void *rec)
{
    rec_hdr_t h;

    memcpy(&h, rec, sizeof(h));
    return h.lsn;
}

/* A record with a key block: the key is DONE with the record's answer.
 * Called after the words (and again by the master finishing a dead
 * writer's record, which is harmless). */
static void
apply_idem(shm_t *s, const void *rec)
{
    rec_idem_t id;
    rec_hdr_t h;
    idem_ans_t a;
    idem_key_t k;

    if (!rec_idem(rec, &id))
        return;
    k.h[0] = id.key[0];
    k.h[1] = id.key[1];
    memcpy(&h, rec, sizeof(h));
    memcpy(a.body, id.body, sizeof(a.body));
    a.lsn = h.lsn;
    a.words = id.words;
    a.distinct = id.distinct;
    a.time_ms = id.time_ms;
    idem_done(&s->idem, &k, &a, s->ht.self);
}

size_t
apply_key(uint64_t gen, const char *word, size_t len, char *out)
{
    size_t n = cat_prefix(gen, (unsigned char *) out);

    memcpy(out + n, word, len);
    return n + len;
}

/* Applies a table operation to a catalog (idempotent, see catalog.h). */
static int
apply_table_op(cat_t *c, const void *rec)
{
    rec_hdr_t h;
    rec_tblop_t op;
    uint64_t uid = rec_table(rec);

    memcpy(&h, rec, sizeof(h));
    if (!rec_table_op(rec, &op))
        return MEMDB_ERR;
    if (h.type == REC_TABLE_CREATE)
        return cat_create(c, uid, op.name, op.name_len, op.prof, op.prof_len,
                          op.time_ms, h.lsn);
    if (h.type == REC_TABLE_TRUNCATE)
        return cat_truncate(c, uid, h.lsn);
    return cat_drop(c, uid, h.lsn);
}

int
apply_words(cat_t *c, const void *rec, apply_word_fn fn, void *arg)
{
    static buf_t key;
    rec_hdr_t h;
    rec_iter_t it;
    cat_view_t v;
    const char *w;
    size_t len;
    uint64_t d;

    memcpy(&h, rec, sizeof(h));
    if (rec_type_table(h.type))
        return apply_table_op(c, rec) == MEMDB_ERR ? MEMDB_ERR : MEMDB_OK;
    if (h.nwords == 0)
        return MEMDB_OK;
    if (cat_find_uid(c, rec_table(rec), &v) != MEMDB_OK)
        return MEMDB_NOENT;
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &len, &d) == MEMDB_OK) {
        if (v.gen != 0 && !ht_internal(w, len)) {
            buf_reserve(&key, CAT_PREFIX_MAX + len);
            key.len = apply_key(v.gen, w, len, key.data);
            w = key.data;
            len = key.len;
        }
        if (fn(arg, w, len, d) != MEMDB_OK)
            return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* Would the table operation rec apply to c?  (Under the ring lock: what
 * it reads cannot change before it applies.) */
static int
table_op_check(const cat_t *c, const void *rec)
{
    rec_hdr_t h;
    rec_tblop_t op;
    cat_view_t v;
    uint64_t uid = rec_table(rec);

    memcpy(&h, rec, sizeof(h));
    if (!rec_table_op(rec, &op))
        return MEMDB_ERR;
    if (h.type != REC_TABLE_CREATE)
        return cat_find_uid(c, uid, &v);
    if (cat_find_uid(c, uid, &v) == MEMDB_OK)
        return MEMDB_OK; /* applied already: idempotent */
    if (cat_find(c, op.name, op.name_len, &v) == MEMDB_OK)
        return MEMDB_EXISTS;
    return cat_count(c) < c->hdr->max ? MEMDB_OK : MEMDB_FULL;
}

typedef struct locked_s {
    shm_t *s;
    const void *rec;
    uint32_t len;
    shm_worker_t *me;
    bool seal;
    bool done;
} locked_t;

/* ring_reserve_with()'s callback (see apply.h). */
static int
apply_locked(void *arg, ring_slot_t *slot)
{
    locked_t *l = arg;
    rec_hdr_t h;
    cat_view_t v;
    void *dst;
    int rc;

    memcpy(&h, l->rec, sizeof(h));
    if (!rec_type_table(h.type)) {
        if (h.type == REC_NOOP)
            return MEMDB_OK;
        rc = cat_find_uid(&l->s->cat, rec_table(l->rec), &v);
        slot->aux = rc == MEMDB_OK ? v.live : 0;
        return rc;
    }
    if ((rc = table_op_check(&l->s->cat, l->rec)) != MEMDB_OK)
        return rc;
    atomic_store(&l->me->progress, 0);
    atomic_store(&l->me->inflight_pos, atomic_load(&slot->pos));
    dst = ring_slot_rec(slot);
    memcpy(dst, l->rec, l->len);
    if (l->seal)
        rec_finish(dst, slot->lsn, slot->epoch);
    FAULT("table.copied");
    ring_publish(slot);
    FAULT("table.published");
    (void) apply_table_op(&l->s->cat, dst);
    l->done = true;
    return MEMDB_OK;
}

int
apply_reserve(shm_t *s, const void *rec, uint32_t len, int what,
              shm_worker_t *me, bool seal, ring_slot_t **slot, bool *done)
{
    locked_t l = { s, rec, len, me, seal, false };
    int rc = ring_reserve_with(&s->ring, len, s->ht.self, what, &me->resv,
                               slot, apply_locked, &l);

    *done = l.done;
    return rc;
}

/* The table keys of a batch go here (one process applies at a time). */
static buf_t apply_keys;

int
apply_record(shm_t *s, const void *rec, uint32_t from, int worker,
             _Atomic uint32_t *progress, uint64_t gen)
{
    rec_iter_t it;
    ht_op_t ops[HT_BATCH];
    size_t koff[HT_BATCH] = { 0 };
    ht_progress_t pg = { .worker = worker, .progress = progress, .idx = 0 };
    size_t n = 0;
    rec_hdr_t h;
    int rc;

    memcpy(&h, rec, sizeof(h));
    if (rec_type_table(h.type))
        return apply_table_op(&s->cat, rec) == MEMDB_ERR ? MEMDB_ERR
                                                         : MEMDB_OK;
    rec_iter_init(&it, rec);
    apply_keys.len = 0;
    do {
        const char *w;
        size_t len;
        uint64_t delta;

        rc = rec_next(&it, &w, &len, &delta);
        if (rc == MEMDB_OK && gen != 0 && !ht_internal(w, len)) {
            /* a word of a table generation: under its prefix */
            buf_reserve(&apply_keys, CAT_PREFIX_MAX + len);
            koff[n] = apply_keys.len;
            apply_keys.len += apply_key(gen, w, len,
                                        apply_keys.data + apply_keys.len);
            len = apply_keys.len - koff[n];
            w = NULL;
        }
        if (rc == MEMDB_OK) {
            if (len > HT_MAX_WORD)
                len = HT_MAX_WORD; /* not reached: uploads refuse longer */
            ops[n].key = w;
            ops[n].len = (uint16_t) len;
            ops[n].delta = delta;
            n++;
        }
        if (n == HT_BATCH || (rc != MEMDB_OK && n > 0)) {
            for (size_t i = 0; i < n; i++) {
                if (ops[i].key == NULL)
                    ops[i].key = apply_keys.data + koff[i];
                ops[i].h = ht_hash(ops[i].key, ops[i].len);
            }
            ht_prefetch(&s->ht, ops, n);
            for (size_t i = 0; i < n; i++, pg.idx++) {
                if (pg.idx < from)
                    continue;
                FAULT("apply.word");
                if (ht_incr(&s->ht, ops[i].h, ops[i].key, ops[i].len,
                            ops[i].delta, &pg)
                    != MEMDB_OK) {
                    log_error("store full: change record lsn %llu applied "
                              "up to word %u only",
                              (unsigned long long) apply_lsn(rec), pg.idx);
                    return MEMDB_ERR;
                }
            }
            n = 0;
            apply_keys.len = 0;
        }
    } while (rc == MEMDB_OK);
    if (rc == MEMDB_AGAIN) {
        apply_idem(s, rec);
        return MEMDB_OK;
    }
    log_error("change record lsn %llu is malformed after word %u",
              (unsigned long long) apply_lsn(rec), pg.idx);
    return MEMDB_ERR;
}
