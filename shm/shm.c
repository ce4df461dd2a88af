/*
 * shm.c - creation and repair of the shared segment (layout in shm.h).
 */
#include "shm/shm.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define SHM_ALIGN 4096

static uint64_t
place(uint64_t *cursor, uint64_t size)
{
    uint64_t off = MEMDB_ALIGN(*cursor, SHM_ALIGN);
    *cursor = off + size;
    return off;
}

/* A random 64-bit id for this start of memdbd, never 0. */
static uint64_t
shm_new_boot_id(void)
{
    uint64_t id = 0;

    while (id == 0)
        if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id))
            id = util_now_ns() ^ ((uint64_t) getpid() << 40);
    return id;
}

static void
shm_handles(shm_t *s)
{
    shm_hdr_t *h = s->hdr;

    s->node = (shm_node_t *) (s->base + h->node_off);
    s->workers = (shm_worker_t *) (s->base + h->workers_off);
    s->roster = (shm_roster_t *) (s->base + h->roster_off);
    s->stats = (shm_stats_t *) (s->base + h->stats_off);
    s->faults = (fault_tab_t *) (s->base + h->faults_off);
    s->arena = (arena_t *) (s->base + h->arena_off);
    s->ht.parts = (ht_part_t *) (s->base + h->parts_off);
    s->ht.arena = s->arena;
    s->ht.base = s->base + h->arena_data_off;
    s->ht.self = (uint32_t) getpid();
    s->ring.hdr = (ring_hdr_t *) (s->base + h->ring_off);
    s->ring.data = s->base + h->ring_data_off;
}

int
shm_create(shm_t *s, const shm_params_t *p)
{
    shm_hdr_t h;
    uint64_t cur = 0, arena_size;
    void *m;

    memset(&h, 0, sizeof(h));
    h.magic = SHM_MAGIC;
    h.layout = SHM_LAYOUT;
    h.hdr_size = sizeof(shm_hdr_t);
    place(&cur, sizeof(shm_hdr_t));
    h.node_off = place(&cur, sizeof(shm_node_t));
    h.workers_off = place(&cur, sizeof(shm_worker_t) * SHM_MAX_WORKERS);
    h.roster_off = place(&cur, sizeof(shm_roster_t));
    h.stats_off = place(&cur, sizeof(shm_stats_t) * SHM_MAX_WORKERS);
    h.faults_off = place(&cur, sizeof(fault_tab_t));
    h.parts_off = place(&cur, sizeof(ht_part_t) * HT_PARTS);
    h.ring_off = place(&cur, sizeof(ring_hdr_t));
    h.ring_size = p->ring_size;
    h.ring_data_off = place(&cur, p->ring_size);
    h.idem_off = place(&cur, idem_size(p->idem_max_keys));
    h.cat_off = place(&cur, cat_size(p->max_tables + 1));
    h.arena_off = place(&cur, sizeof(arena_t));
    /* Room beyond the limit for index doubling, uploads in flight, and
     * swept entries no new word has the size of (shm_mem_reserve); only
     * the pages touched use memory. */
    arena_size = 2 * p->max_memory + (64ULL << 20);
    if (arena_size >= (1ULL << (HT_OFF_BITS + 3)))
        arena_size = (1ULL << (HT_OFF_BITS + 3)) - 1;
    h.arena_size = arena_size;
    h.arena_data_off = place(&cur, arena_size);
    h.map_size = MEMDB_ALIGN(cur, SHM_ALIGN);

    m = mmap(NULL, h.map_size, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        log_errno("mmap(%llu bytes, MAP_SHARED) failed",
                  (unsigned long long) h.map_size);
        return MEMDB_ERR;
    }
    s->base = m;
    s->hdr = m;
    memcpy(s->hdr, &h, sizeof(h));
    shm_handles(s);
    arena_init(s->arena, arena_size, p->max_memory);
    ht_init(&s->ht);
    ring_init(&s->ring, p->ring_size, 1);
    idem_init(&s->idem, s->base + h.idem_off, p->idem_max_keys,
              p->idem_window_ms);
    cat_init(&s->cat, s->base + h.cat_off, p->max_tables + 1);
    s->node->nworkers = p->nworkers;
    s->node->master_pid = (int32_t) getpid();
    s->node->boot_id = shm_new_boot_id();
    s->node->start_ms = util_wall_ms();
    s->node->start_mono_ms = util_now_ms();
    snprintf(s->node->node_id, sizeof(s->node->node_id), "%s", p->node_id);
    for (unsigned i = 0; i < SHM_MAX_WORKERS; i++)
        atomic_store(&s->workers[i].inflight_pos, SHM_NONE);
    return MEMDB_OK;
}

void
shm_destroy(shm_t *s)
{
    if (s->base != NULL)
        munmap(s->base, s->hdr->map_size);
    s->base = NULL;
}

void
shm_attach_child(shm_t *s)
{
    s->ht.self = (uint32_t) getpid();
}

shm_worker_t *
shm_worker(shm_t *s, unsigned i)
{
    return &s->workers[i];
}

static uint32_t
progress_of(int32_t worker, void *arg)
{
    shm_t *s = arg;

    if (worker < 0 || worker >= SHM_MAX_WORKERS)
        return UINT32_MAX;
    return atomic_load(&s->workers[worker].progress);
}

unsigned
shm_repair_dead(shm_t *s, pid_t dead, int worker)
{
    static const ring_resv_t none = { 0, UINT64_MAX - 1, 0, 0 };
    unsigned n;

    n = ring_repair(&s->ring, (uint32_t) dead,
                    worker >= 0 ? &s->workers[worker].resv : &none,
                    s->ht.self);
    n += ht_repair(&s->ht, (uint32_t) dead, progress_of, s);
    n += idem_repair_lock(&s->idem, (uint32_t) dead);
    if (lock_force_release(&s->node->mem_lock, (uint32_t) dead))
        n++; /* it held no data: the promises are the worker slots' */
    {
        uint32_t expect = (uint32_t) dead;
        /* held on by the master until the record is finished */
        if (atomic_compare_exchange_strong(&s->node->sub_lock, &expect,
                                           s->ht.self))
            n++;
    }
    if (worker >= 0) {
        shm_worker_t *w = &s->workers[worker];
        uint64_t pos = atomic_load(&w->inflight_pos);
        ring_slot_t *slot = ring_slot_at(&s->ring, pos);
        /* a record voided or taken back has nothing left to finish, and a
         * slot taken back may already hold another record */
        if (pos != SHM_NONE
            && (atomic_load(&slot->pos) != pos
                || atomic_load(&slot->state) != RING_READY
                || slot->pid != (int32_t) dead))
            atomic_store(&w->inflight_pos, SHM_NONE);
        atomic_store(&w->mem_reserved, 0);
    }
    return n;
}

void
shm_sub_lock(shm_t *s)
{
    lock_acquire(&s->node->sub_lock, s->ht.self);
}

void
shm_sub_unlock(shm_t *s)
{
    lock_release(&s->node->sub_lock);
}

void
shm_sub_repaired(shm_t *s)
{
    (void) lock_force_release(&s->node->sub_lock, s->ht.self);
}

uint64_t
shm_mem_used(shm_t *s)
{
    return arena_used(s->arena);
}

uint64_t
shm_mem_limit(shm_t *s)
{
    return s->arena->limit;
}

uint64_t
shm_mem_room(shm_t *s)
{
    return s->arena->limit + (s->arena->size - s->arena->limit) / 2;
}

int
shm_mem_reserve(shm_t *s, shm_worker_t *w, uint64_t bytes)
{
    uint64_t promised = 0;
    int rc = MEMDB_OK;

    if (bytes == 0)
        return MEMDB_OK; /* no new word: needs no memory */
    lock_acquire(&s->node->mem_lock, s->ht.self);
    for (unsigned i = 0; i < SHM_MAX_WORKERS; i++)
        if (&s->workers[i] != w)
            promised += atomic_load_explicit(&s->workers[i].mem_reserved,
                                             memory_order_relaxed);
    FAULT("mem.reserve"); /* sleep: widen the window a lock must close */
    if (shm_mem_used(s) + promised + bytes > s->arena->limit
        || arena_top(s->arena) + promised + bytes > shm_mem_room(s))
        rc = MEMDB_BUSY;
    else
        atomic_store_explicit(&w->mem_reserved, bytes, memory_order_relaxed);
    lock_release(&s->node->mem_lock);
    return rc;
}

void
shm_mem_done(shm_worker_t *w)
{
    atomic_store_explicit(&w->mem_reserved, 0, memory_order_relaxed);
}

static int
tally_cmp(const void *a, const void *b)
{
    uint64_t x = ((const shm_tally_t *) a)->gen;
    uint64_t y = ((const shm_tally_t *) b)->gen;

    return x < y ? -1 : x > y;
}

void
shm_tally_sort(shm_tally_t *t, size_t n)
{
    qsort(t, n, sizeof(*t), tally_cmp);
}

void
shm_tally(shm_tally_t *t, size_t n, const ht_copy_t *cp)
{
    for (size_t i = 0; i < cp->n; i++) {
        shm_tally_t key = { 0 }, *k;
        size_t len = cp->items[i].len, skip;
        if (!cat_key_gen(ht_copy_key(cp, i), len, &key.gen, &skip))
            continue; /* internal */
        k = bsearch(&key, t, n, sizeof(*t), tally_cmp);
        if (k == NULL)
            continue; /* another table's, or a generation no table has */
        k->words += cp->items[i].count;
        k->distinct++;
        k->bytes += MEMDB_ALIGN(HT_ENTRY_HDR + len, 8) + 8; /* and a slot */
    }
}
