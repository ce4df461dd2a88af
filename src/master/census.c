/*
 * census.c - each table's sizes, counted by the master (see census.h).
 */
#include "src/master/census.h"

#include <string.h>

#define CENSUS_SLICE 64 /* partitions per turn of the master's loop */

void
census_init(census_t *cs, shm_t *s)
{
    memset(cs, 0, sizeof(*cs));
    cs->shm = s; /* next_ms 0: the first one at once */
}

static void
census_start(census_t *cs)
{
    cat_t *c = &cs->shm->cat;
    cat_view_t v;

    cs->ntab = 0;
    for (uint32_t i = 0; i < c->hdr->max; i++)
        if (cat_get(c, i, &v) == MEMDB_OK)
            cs->tab[cs->ntab++] = (shm_tally_t) { .gen = v.gen, .idx = i };
    shm_tally_sort(cs->tab, cs->ntab);
    cs->part = 0;
    cs->active = true;
}

/* Publishes the census in the tables' entries (those still of the same
 * generation; a table dropped or truncated meanwhile waits for the next). */
static void
census_publish(census_t *cs)
{
    cat_t *c = &cs->shm->cat;

    for (size_t i = 0; i < cs->ntab; i++) {
        shm_tally_t *t = &cs->tab[i];
        cat_ent_t *e = &c->ent[t->idx];
        if (atomic_load(&e->live) != (t->gen << 1 | 1))
            continue;
        atomic_store(&e->n_gen, UINT64_MAX); /* being written */
        atomic_store(&e->n_words, t->words);
        atomic_store(&e->n_distinct, t->distinct);
        atomic_store(&e->n_bytes, t->bytes);
        atomic_store_explicit(&e->n_gen, t->gen, memory_order_release);
    }
}

void
census_run(census_t *cs, uint64_t now_ms)
{
    if (!cs->active) {
        if (now_ms < cs->next_ms)
            return;
        census_start(cs);
    }
    for (unsigned k = 0; k < CENSUS_SLICE && cs->part < HT_PARTS; k++)
        if (ht_part_copy(&cs->shm->ht, cs->part++, &cs->cp) >= 0)
            shm_tally(cs->tab, cs->ntab, &cs->cp);
    if (cs->part < HT_PARTS)
        return;
    census_publish(cs);
    cs->active = false;
    cs->next_ms = now_ms + CENSUS_EVERY_MS;
}

void
census_free(census_t *cs)
{
    ht_copy_free(&cs->cp);
}
