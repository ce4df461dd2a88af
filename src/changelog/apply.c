/*
 * apply.c - change records into the shared table (see apply.h).
 */
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"
#include "src/core/fault.h"
#include "src/core/log.h"

#include <string.h>

bool
apply_fits(shm_t *s, const void *rec)
{
    uint64_t room = s->arena->limit + (s->arena->size - s->arena->limit) / 2;
    uint64_t used = shm_mem_used(s), cost = 0;
    rec_iter_t it;
    const char *w;
    size_t len;
    uint64_t d;
    rec_hdr_t h;

    memcpy(&h, rec, sizeof(h));
    if (used + h.len * 2ULL + 64ULL * h.nwords <= room)
        return true; /* even every word new fits */
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &len, &d) == MEMDB_OK)
        if (ht_get(&s->ht, ht_hash(w, len), w, len) == 0)
            cost += ht_cost(len);
    return used + cost <= room;
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

int
apply_record(shm_t *s, const void *rec, uint32_t from, int worker,
             _Atomic uint32_t *progress)
{
    rec_iter_t it;
    ht_op_t ops[HT_BATCH];
    ht_progress_t pg = { .worker = worker, .progress = progress, .idx = 0 };
    size_t n = 0;
    int rc;

    rec_iter_init(&it, rec);
    do {
        const char *w;
        size_t len;
        uint64_t delta;

        rc = rec_next(&it, &w, &len, &delta);
        if (rc == MEMDB_OK) {
            ops[n].h = ht_hash(w, len);
            ops[n].key = w;
            ops[n].len = (uint16_t) len;
            ops[n].delta = delta;
            n++;
        }
        if (n == HT_BATCH || (rc != MEMDB_OK && n > 0)) {
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
