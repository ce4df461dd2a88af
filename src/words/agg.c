/*
 * agg.c - per-upload aggregation (see agg.h).
 */
#include "src/words/agg.h"
#include "src/core/util.h"
#include "shm/ht.h"

#include <stdlib.h>
#include <string.h>

void
agg_reset(agg_t *a)
{
    a->n = 0;
    a->keys.len = 0;
    a->words = 0;
    a->cost = 0;
    a->npend = 0;
    /* Do not keep a huge table around after a big upload. */
    if (a->scap > (1u << 16))
        agg_free(a);
    else if (a->slots != NULL)
        memset(a->slots, 0, a->scap * sizeof(uint32_t));
}

void
agg_free(agg_t *a)
{
    free(a->ents);
    free(a->slots);
    buf_free(&a->keys);
    memset(a, 0, sizeof(*a));
}

static void
agg_grow(agg_t *a)
{
    size_t ncap = a->scap ? a->scap * 2 : 64;
    uint32_t *ns = xcalloc(ncap, sizeof(uint32_t));

    for (size_t i = 0; i < a->n; i++) {
        size_t pos = a->ents[i].hash & (ncap - 1);
        while (ns[pos] != 0)
            pos = (pos + 1) & (ncap - 1);
        ns[pos] = (uint32_t) i + 1;
    }
    free(a->slots);
    a->slots = ns;
    a->scap = ncap;
}

void
agg_add(agg_t *a, const char *w, size_t len)
{
    agg_add_n(a, w, len, 1);
}

static void agg_add_hashed(agg_t *a, const char *w, size_t len, uint64_t n,
                           uint64_t h);

void
agg_add_n(agg_t *a, const char *w, size_t len, uint64_t n)
{
    agg_add_hashed(a, w, len, n, ht_hash(w, len));
}

void
agg_push(agg_t *a, const char *w, size_t len)
{
    agg_pend_t *p;

    if (len > AGG_BATCH_WORD) {
        agg_flush(a); /* (first-seen order) */
        agg_add_n(a, w, len, 1);
        return;
    }
    p = &a->pend[a->npend];
    p->hash = ht_hash(w, len);
    p->len = (uint32_t) len;
    memcpy(p->w, w, len);
    if (a->slots != NULL)
        __builtin_prefetch(&a->slots[p->hash & (a->scap - 1)], 0, 1);
    if (++a->npend == AGG_BATCH)
        agg_flush(a);
}

void
agg_flush(agg_t *a)
{
    size_t n = a->npend;

    a->npend = 0;
    for (size_t i = 0; i < n && a->slots != NULL; i++) {
        uint32_t sl = a->slots[a->pend[i].hash & (a->scap - 1)];
        if (sl != 0)
            __builtin_prefetch(&a->ents[sl - 1], 0, 1);
    }
    for (size_t i = 0; i < n; i++)
        agg_add_hashed(a, a->pend[i].w, a->pend[i].len, 1, a->pend[i].hash);
}

static void
agg_add_hashed(agg_t *a, const char *w, size_t len, uint64_t n, uint64_t h)
{
    size_t pos;
    agg_ent_t *e;

    a->words += n;
    if (a->slots == NULL || (a->n + 1) * 2 > a->scap)
        agg_grow(a);
    for (pos = h & (a->scap - 1); a->slots[pos] != 0;
         pos = (pos + 1) & (a->scap - 1)) {
        e = &a->ents[a->slots[pos] - 1];
        if (e->hash == h && e->len == len
            && memcmp(a->keys.data + e->off, w, len) == 0) {
            e->count += n;
            return;
        }
    }
    if (a->n == a->ncap) {
        a->ncap = a->ncap ? a->ncap * 2 : 64;
        a->ents = xrealloc(a->ents, a->ncap * sizeof(agg_ent_t));
    }
    e = &a->ents[a->n];
    e->hash = h;
    e->count = n;
    e->off = (uint32_t) a->keys.len;
    e->len = (uint32_t) len;
    buf_append(&a->keys, w, len);
    a->slots[pos] = (uint32_t) ++a->n;
    a->cost += ht_cost(len);
}
