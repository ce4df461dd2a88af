/*
 * ht.c - the shared word -> count hash table (design in ht.h).
 */
#include "shm/ht.h"
#include "src/core/fault.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DESC_OFF_MASK ((1ULL << 56) - 1)
#define POS_MASK      ((1ULL << HT_POS_BITS) - 1)
#define OFF_MASK      ((1ULL << HT_OFF_BITS) - 1)
#define CHUNK_SIZE    2048
#define BIG_ENTRY     512

static inline uint64_t
desc_pack(uint64_t off, unsigned log2cap)
{
    return ((uint64_t) log2cap << 56) | off;
}

static inline ht_part_t *
part_of(ht_t *ht, uint64_t h)
{
    return &ht->parts[h >> (64 - HT_PARTS_LOG2)];
}

static inline uint64_t
entry_size(size_t len)
{
    return MEMDB_ALIGN(HT_ENTRY_HDR + len, 8);
}

uint64_t
ht_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

uint64_t
ht_cost(size_t len)
{
    return entry_size(len) + 24;
}

void
ht_init(ht_t *ht)
{
    memset(ht->parts, 0, sizeof(ht_part_t) * HT_PARTS);
}

/* The slots of index d, or NULL when d does not fit in the arena (a stale
 * descriptor read by a racing reader). */
static _Atomic uint64_t *
index_slots(ht_t *ht, uint64_t d, uint64_t *cap)
{
    uint64_t off = d & DESC_OFF_MASK;
    unsigned log2 = (unsigned) (d >> 56);

    if (log2 > HT_POS_BITS || off == 0
        || off + (8ULL << log2) > ht->arena->size)
        return NULL;
    *cap = 1ULL << log2;
    return (_Atomic uint64_t *) (ht->base + off);
}

/* Looks key up in index d; returns the entry offset or 0. */
static uint64_t
index_find(ht_t *ht, uint64_t d, uint64_t h, const char *key, size_t len)
{
    uint64_t cap = 0, tag = h & POS_MASK;
    _Atomic uint64_t *slots = index_slots(ht, d, &cap);

    if (slots == NULL)
        return 0;
    for (uint64_t i = 0, pos = h & (cap - 1); i < cap;
         i++, pos = (pos + 1) & (cap - 1)) {
        uint64_t sl = atomic_load_explicit(&slots[pos], memory_order_acquire);
        if (sl == 0)
            return 0;
        if ((sl >> HT_OFF_BITS) != tag)
            continue;
        uint64_t eoff = (sl & OFF_MASK) << 3;
        if (eoff + HT_ENTRY_HDR + len > ht->arena->size)
            continue;
        ht_entry_t *e = ht_entry(ht, eoff);
        if (e->len == len && memcmp(e->key, key, len) == 0)
            return eoff;
    }
    return 0;
}

static void
index_put(_Atomic uint64_t *slots, uint64_t cap, uint64_t sl)
{
    uint64_t pos = (sl >> HT_OFF_BITS) & (cap - 1);

    while (atomic_load_explicit(&slots[pos], memory_order_relaxed) != 0)
        pos = (pos + 1) & (cap - 1);
    atomic_store_explicit(&slots[pos], sl, memory_order_release);
}

/* Replaces p's index by one twice as big.  Lock held. */
static int
part_grow_locked(ht_t *ht, ht_part_t *p)
{
    uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
    uint64_t ocap = 0, ncap, noff;
    _Atomic uint64_t *oslots = d ? index_slots(ht, d, &ocap) : NULL;
    _Atomic uint64_t *nslots;
    unsigned nlog2 = d ? (unsigned) (d >> 56) + 1 : HT_INIT_LOG2;

    if (nlog2 > HT_POS_BITS)
        return MEMDB_ERR;
    noff = arena_alloc_pow2(ht->arena, ht->base, nlog2 + 3, ht->self);
    if (noff == 0)
        return MEMDB_ERR;
    ncap = 1ULL << nlog2;
    nslots = (_Atomic uint64_t *) (ht->base + noff);
    memset((void *) nslots, 0, ncap * 8);
    for (uint64_t i = 0; i < ocap; i++) {
        uint64_t sl = atomic_load_explicit(&oslots[i], memory_order_relaxed);
        if (sl != 0)
            index_put(nslots, ncap, sl);
    }
    atomic_store_explicit(&p->index, desc_pack(noff, nlog2),
                          memory_order_release);
    if (d != 0) {
        /* Readers that may still walk the old index must see seq change
         * before the old block can be handed out again. */
        atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
        arena_free_pow2(ht->arena, ht->base, d & DESC_OFF_MASK,
                        (unsigned) (d >> 56) + 3, ht->self);
    }
    return MEMDB_OK;
}

static uint64_t
part_alloc_entry_locked(ht_t *ht, ht_part_t *p, uint64_t need)
{
    uint64_t off;

    if (need > BIG_ENTRY)
        return arena_alloc(ht->arena, ht->base, need);
    if (p->chunk_left < need) {
        off = arena_alloc(ht->arena, ht->base, CHUNK_SIZE);
        if (off == 0)
            return 0;
        p->chunk_off = off;
        p->chunk_left = CHUNK_SIZE;
    }
    off = p->chunk_off;
    p->chunk_off += need;
    p->chunk_left -= need;
    return off;
}

static int
part_insert_locked(ht_t *ht, ht_part_t *p, uint64_t h, const char *key,
                   uint16_t len, uint64_t delta, ht_progress_t *pg)
{
    uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
    uint64_t n = p->used;
    uint64_t cap = 0, eoff;
    _Atomic uint64_t *slots;
    ht_entry_t *e;

    if (d == 0 || (n + 1) * 4 > (1ULL << (d >> 56)) * 3) {
        if (part_grow_locked(ht, p) != MEMDB_OK)
            return MEMDB_ERR;
        d = atomic_load_explicit(&p->index, memory_order_relaxed);
    }
    eoff = part_alloc_entry_locked(ht, p, entry_size(len));
    if (eoff == 0)
        return MEMDB_ERR;
    e = ht_entry(ht, eoff);
    atomic_store_explicit(&e->count, 0, memory_order_relaxed);
    e->len = len;
    memcpy(e->key, key, len);

    p->undo_old = 0;
    p->undo_idx = pg->idx;
    p->undo_worker = pg->worker;
    atomic_thread_fence(memory_order_release);
    p->undo_entry = eoff;
    atomic_thread_fence(memory_order_release);

    atomic_store_explicit(&e->count, delta, memory_order_release);
    slots = index_slots(ht, d, &cap);
    index_put(slots, cap, ((h & POS_MASK) << HT_OFF_BITS) | (eoff >> 3));
    p->used = n + 1;
    if (!ht_internal(key, len))
        atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
    return MEMDB_OK;
}

int
ht_incr(ht_t *ht, uint64_t h, const char *key, uint16_t len, uint64_t delta,
        ht_progress_t *pg)
{
    ht_part_t *p = part_of(ht, h);
    uint64_t d, eoff;
    int rc = MEMDB_OK;

    lock_acquire(&p->lock, ht->self);
    FAULT("ht.locked");
    d = atomic_load_explicit(&p->index, memory_order_relaxed);
    eoff = d ? index_find(ht, d, h, key, len) : 0;
    if (eoff == 0) {
        rc = part_insert_locked(ht, p, h, key, len, delta, pg);
    } else {
        ht_entry_t *e = ht_entry(ht, eoff);
        uint64_t old = atomic_load_explicit(&e->count, memory_order_relaxed);

        p->undo_old = old;
        p->undo_idx = pg->idx;
        p->undo_worker = pg->worker;
        atomic_thread_fence(memory_order_release);
        p->undo_entry = eoff;
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&e->count, old + delta, memory_order_release);
        if (old == 0 && !ht_internal(key, len))
            atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
    }
    if (rc == MEMDB_OK) {
        if (!ht_internal(key, len))
            atomic_fetch_add_explicit(&p->total, delta, memory_order_relaxed);
        if (pg->progress != NULL)
            atomic_store_explicit(pg->progress, pg->idx + 1,
                                  memory_order_release);
    }
    atomic_thread_fence(memory_order_release);
    p->undo_entry = 0;
    lock_release(&p->lock);
    return rc;
}

uint64_t
ht_get(ht_t *ht, uint64_t h, const char *key, size_t len)
{
    ht_part_t *p = part_of(ht, h);

    for (;;) {
        uint32_t s = atomic_load_explicit(&p->seq, memory_order_acquire);
        uint64_t d = atomic_load_explicit(&p->index, memory_order_acquire);
        uint64_t eoff = d ? index_find(ht, d, h, key, len) : 0;
        uint64_t c = eoff ? atomic_load_explicit(&ht_entry(ht, eoff)->count,
                                                 memory_order_relaxed)
                          : 0;

        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&p->seq, memory_order_relaxed) == s)
            return c;
    }
}

void
ht_prefetch(ht_t *ht, const ht_op_t *ops, size_t n)
{
    _Atomic uint64_t *slot[HT_BATCH];

    n = MEMDB_MIN(n, (size_t) HT_BATCH);
    for (size_t i = 0; i < n; i++) {
        ht_part_t *p = part_of(ht, ops[i].h);
        uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
        uint64_t cap = 0;
        _Atomic uint64_t *slots = d ? index_slots(ht, d, &cap) : NULL;

        slot[i] = slots ? &slots[ops[i].h & (cap - 1)] : NULL;
        if (slot[i] != NULL)
            __builtin_prefetch((const void *) slot[i], 0, 1);
    }
    for (size_t i = 0; i < n; i++) {
        if (slot[i] == NULL)
            continue;
        uint64_t sl = atomic_load_explicit(slot[i], memory_order_relaxed);
        uint64_t eoff = (sl & OFF_MASK) << 3;
        if (sl != 0 && eoff < ht->arena->size)
            __builtin_prefetch(ht->base + eoff, 1, 1);
    }
}

void
ht_totals(ht_t *ht, uint64_t *distinct, uint64_t *total)
{
    uint64_t d = 0, t = 0;

    for (unsigned i = 0; i < HT_PARTS; i++) {
        d += atomic_load_explicit(&ht->parts[i].count, memory_order_relaxed);
        t += atomic_load_explicit(&ht->parts[i].total, memory_order_relaxed);
    }
    *distinct = d;
    *total = t;
}

size_t
ht_part_entries(ht_t *ht, unsigned pi, uint64_t **offs, size_t *cap)
{
    ht_part_t *p = &ht->parts[pi];

    for (;;) {
        uint32_t s = atomic_load_explicit(&p->seq, memory_order_acquire);
        uint64_t d = atomic_load_explicit(&p->index, memory_order_acquire);
        uint64_t icap = 0;
        _Atomic uint64_t *slots = d ? index_slots(ht, d, &icap) : NULL;
        size_t n = 0;

        for (uint64_t i = 0; slots != NULL && i < icap; i++) {
            uint64_t sl = atomic_load_explicit(&slots[i],
                                               memory_order_acquire);
            if (sl == 0)
                continue;
            if (n == *cap) {
                *cap = *cap ? *cap * 2 : 256;
                *offs = realloc(*offs, *cap * sizeof(uint64_t));
                if (*offs == NULL)
                    return 0;
            }
            (*offs)[n++] = (sl & OFF_MASK) << 3;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&p->seq, memory_order_relaxed) == s)
            return n;
    }
}

/* Recomputes count and total from the index.  Lock held (by a dead pid). */
static void
part_recount(ht_t *ht, ht_part_t *p)
{
    uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
    uint64_t cap = 0, n = 0, t = 0;
    _Atomic uint64_t *slots = d ? index_slots(ht, d, &cap) : NULL;

    uint64_t used = 0;

    for (uint64_t i = 0; slots != NULL && i < cap; i++) {
        uint64_t sl = atomic_load_explicit(&slots[i], memory_order_relaxed);
        if (sl == 0)
            continue;
        used++;
        ht_entry_t *e = ht_entry(ht, (sl & OFF_MASK) << 3);
        uint64_t c = atomic_load_explicit(&e->count, memory_order_relaxed);
        if (ht_internal(e->key, e->len))
            continue;
        n += c > 0;
        t += c;
    }
    p->used = used;
    atomic_store(&p->count, n);
    atomic_store(&p->total, t);
}

void
ht_zero(ht_t *ht)
{
    for (unsigned i = 0; i < HT_PARTS; i++) {
        ht_part_t *p = &ht->parts[i];
        uint64_t d, cap = 0;
        _Atomic uint64_t *slots;

        lock_acquire(&p->lock, ht->self);
        d = atomic_load_explicit(&p->index, memory_order_relaxed);
        slots = d ? index_slots(ht, d, &cap) : NULL;
        for (uint64_t k = 0; slots != NULL && k < cap; k++) {
            uint64_t sl = atomic_load_explicit(&slots[k],
                                               memory_order_relaxed);
            if (sl != 0)
                atomic_store_explicit(
                    &ht_entry(ht, (sl & OFF_MASK) << 3)->count, 0,
                    memory_order_release);
        }
        atomic_store(&p->count, 0);
        atomic_store(&p->total, 0);
        lock_release(&p->lock);
    }
}

unsigned
ht_repair(ht_t *ht, uint32_t dead, ht_progress_fn progress_of, void *arg)
{
    unsigned repaired = 0;

    for (unsigned i = 0; i < HT_PARTS; i++) {
        ht_part_t *p = &ht->parts[i];

        if (lock_holder(&p->lock) != dead)
            continue;
        if (p->undo_entry != 0
            && progress_of(p->undo_worker, arg) <= p->undo_idx)
            atomic_store(&ht_entry(ht, p->undo_entry)->count, p->undo_old);
        p->undo_entry = 0;
        part_recount(ht, p);
        lock_force_release(&p->lock, dead);
        repaired++;
    }
    if (lock_holder(&ht->arena->lock) == dead)
        lock_force_release(&ht->arena->lock, dead);
    return repaired;
}
