/*
 * sweep.c - sweeping dropped tables' words out of the store (see sweep.h).
 */
#include "src/master/sweep.h"
#include "src/core/log.h"

#include <stdlib.h>
#include <string.h>

#define SWEEP_SLICE 64 /* partitions per turn of the master's loop */

void
sweep_init(sweep_t *sw, shm_t *s)
{
    memset(sw, 0, sizeof(*sw));
    sw->shm = s; /* seen 0: what recovery dropped is swept at once */
}

/* Is every record up to lsn applied?  (the ring's oldest is newer) */
static bool
sweep_released(ring_t *r, uint64_t lsn)
{
    uint64_t cursor = atomic_load_explicit(&r->hdr->tail,
                                           memory_order_acquire);
    ring_slot_t *s = ring_next(r, &cursor, true);

    return s == NULL || s->lsn > lsn;
}

static int
sweep_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

/* Reads the live generations; false if the catalog was being replaced. */
static bool
sweep_snapshot(sweep_t *sw)
{
    cat_t *c = &sw->shm->cat;
    uint64_t v = atomic_load_explicit(&c->hdr->version, memory_order_acquire);
    cat_view_t t;

    if (v & 1)
        return false;
    sw->next_gen = atomic_load(&c->hdr->next_gen);
    sw->nlive = 0;
    for (uint32_t i = 0; i < c->hdr->max && sw->nlive < CAT_MAX_TABLES; i++)
        if (cat_get(c, i, &t) == MEMDB_OK)
            sw->live[sw->nlive++] = t.gen;
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load(&c->hdr->version) != v)
        return false;
    qsort(sw->live, sw->nlive, sizeof(sw->live[0]), sweep_cmp);
    sw->version = v;
    return true;
}

static bool
sweep_dead(const char *key, size_t len, uint64_t count, void *arg)
{
    const sweep_t *sw = arg;
    uint64_t gen;
    size_t skip;

    if (count == 0)
        return true;
    if (!cat_key_gen(key, len, &gen, &skip) || gen >= sw->next_gen)
        return false;
    return bsearch(&gen, sw->live, sw->nlive, sizeof(gen), sweep_cmp) == NULL;
}

static bool
sweep_stop(void *arg)
{
    const sweep_t *sw = arg;

    return atomic_load(&sw->shm->cat.hdr->version) != sw->version;
}

/* Starts a sweep if one is due. */
static bool
sweep_start(sweep_t *sw)
{
    cat_hdr_t *h = sw->shm->cat.hdr;
    uint64_t kills = atomic_load_explicit(&h->kills, memory_order_acquire);

    if (kills == sw->seen
        || !sweep_released(&sw->shm->ring, atomic_load(&h->kill_lsn))
        || !sweep_snapshot(sw))
        return false;
    sw->kills = kills;
    sw->part = 0;
    sw->freed = 0;
    sw->active = true;
    return true;
}

void
sweep_run(sweep_t *sw)
{
    shm_node_t *n = sw->shm->node;
    uint64_t freed;

    if (!sw->active && !sweep_start(sw))
        return;
    for (unsigned k = 0; k < SWEEP_SLICE && sw->part < HT_PARTS; k++) {
        int rc = ht_sweep_part(&sw->shm->ht, sw->part, sweep_dead, sweep_stop,
                               sw, &freed);
        if (rc == MEMDB_AGAIN && sweep_stop(sw)) {
            sw->active = false; /* the catalog was replaced: start over */
            return;
        }
        if (rc == MEMDB_AGAIN)
            return; /* the partition grew meanwhile: again */
        sw->freed += freed;
        sw->part++;
    }
    if (sw->part < HT_PARTS)
        return;
    sw->active = false;
    sw->seen = sw->kills;
    atomic_fetch_add(&n->sweeps, 1);
    atomic_fetch_add(&n->swept_words, sw->freed);
    log_info("swept %llu words of dropped or truncated tables, or at 0",
             (unsigned long long) sw->freed);
}
