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
    off = arena_alloc_entry(ht->arena, ht->base, need, ht->self);
    if (off != 0)
        return off; /* a swept word's */
    if (p->chunk_left < need) {
        off = arena_alloc(ht->arena, ht->base, CHUNK_SIZE);
        if (off == 0)
            return 0;
        p->chunk_off = off;
        p->chunk_left = CHUNK_SIZE;
    }
    off = p->chunk_off;
    p->chunk_off += need;
    p->chunk_left -= (uint32_t) need; /* (need <= BIG_ENTRY) */
    return off;
}

/* A bound of counts that saw count c too (see ht_part_max: a count at
 * 2^63 or above is one on its way through a negative delta). */
static inline uint64_t
bound_with(uint64_t max, uint64_t c)
{
    return c < (1ULL << 63) && c > max ? c : max;
}

/* A count a change left: the partition's bound follows.  Lock held. */
static inline void
part_saw(ht_part_t *p, uint64_t c)
{
    atomic_store_explicit(
        &p->max,
        bound_with(atomic_load_explicit(&p->max, memory_order_relaxed), c),
        memory_order_relaxed);
}

/* ---- the leaders (ht_part_top) ------------------------------------------- */

static bool copy_push(ht_copy_t *c, const ht_entry_t *e, uint16_t len,
                      uint64_t count);

/* A count above 0 (one at 2^63 or above is on its way through a negative
 * delta). */
static inline bool
count_pos(uint64_t c)
{
    return c != 0 && c < (1ULL << 63);
}

static inline uint64_t
top_count(ht_t *ht, uint64_t eoff)
{
    return atomic_load_explicit(&ht_entry(ht, eoff)->count,
                                memory_order_relaxed);
}

/* Where the smallest of a full list is, and its count. */
static unsigned
top_argmin(ht_t *ht, const ht_part_t *p, uint64_t *min)
{
    unsigned m = 0;

    *min = top_count(ht, p->top[0]);
    for (unsigned i = 1; i < HT_TOP; i++) {
        uint64_t c = top_count(ht, p->top[i]);
        if (c < *min) {
            *min = c;
            m = i;
        }
    }
    return m;
}

static int
top_find(const ht_part_t *p, uint64_t eoff)
{
    for (unsigned i = 0; i < p->ntop; i++)
        if (p->top[i] == eoff)
            return (int) i;
    return -1;
}

/* Entry eoff's count rose to c.  Lock held. */
static void
top_rose(ht_t *ht, ht_part_t *p, uint64_t eoff, uint64_t c)
{
    uint64_t min;
    unsigned m;

    if (p->ntop == HT_TOP_STALE || (p->ntop == HT_TOP && c <= p->top_min)
        || top_find(p, eoff) >= 0)
        return;             /* (a leader's count is never below top_min) */
    if (p->ntop < HT_TOP) { /* every word of p is a leader */
        p->top[p->ntop++] = eoff;
        if (p->ntop == HT_TOP)
            (void) top_argmin(ht, p, &p->top_min);
        return;
    }
    m = top_argmin(ht, p, &min);
    if (c > min) {
        p->top[m] = eoff;
        (void) top_argmin(ht, p, &min);
    }
    p->top_min = min;
}

/* Entry eoff's count went from old to c.  Lock held. */
static void
top_saw(ht_t *ht, ht_part_t *p, uint64_t eoff, uint64_t old, uint64_t c)
{
    int i;

    if (count_pos(c) && (!count_pos(old) || c > old)) {
        top_rose(ht, p, eoff, c);
        return;
    }
    if (!count_pos(old) || c == old || p->ntop == HT_TOP_STALE
        || (i = top_find(p, eoff)) < 0)
        return; /* a word below the leaders went down: still below */
    if (p->ntop == HT_TOP)
        p->ntop = HT_TOP_STALE; /* another word may be above it now */
    else if (!count_pos(c))
        p->top[i] = p->top[--p->ntop];
}

/* Finds the leaders again from the index, as if its words had just
 * risen to their counts.  Lock held. */
static void
top_rebuild(ht_t *ht, ht_part_t *p)
{
    uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
    uint64_t cap = 0;
    _Atomic uint64_t *slots = d ? index_slots(ht, d, &cap) : NULL;

    p->ntop = 0;
    for (uint64_t i = 0; slots != NULL && i < cap; i++) {
        uint64_t sl = atomic_load_explicit(&slots[i], memory_order_relaxed);
        uint64_t eoff = (sl & OFF_MASK) << 3, c;
        if (sl == 0)
            continue;
        const ht_entry_t *e = ht_entry(ht, eoff);
        c = atomic_load_explicit(&e->count, memory_order_relaxed);
        if (count_pos(c) && !ht_internal(e->key, e->len))
            top_rose(ht, p, eoff, c);
    }
}

long
ht_part_top(ht_t *ht, unsigned pi, ht_copy_t *c, uint64_t *rest)
{
    ht_part_t *p = &ht->parts[pi];
    uint64_t min = UINT64_MAX;
    long n = 0;

    c->n = c->klen = 0;
    lock_acquire(&p->lock, ht->self);
    FAULT("ht.top_locked");
    if (p->ntop == HT_TOP_STALE)
        top_rebuild(ht, p);
    for (unsigned i = 0; i < p->ntop && n >= 0; i++) {
        const ht_entry_t *e = ht_entry(ht, p->top[i]);
        uint64_t k = atomic_load_explicit(&e->count, memory_order_relaxed);
        min = MEMDB_MIN(min, k);
        n = copy_push(c, e, e->len, k) ? n + 1 : -1;
    }
    /* (count: the words not at 0, negative ones too) */
    *rest = p->ntop == HT_TOP
                    && atomic_load_explicit(&p->count, memory_order_relaxed)
                           > HT_TOP
                ? min
                : 0;
    lock_release(&p->lock);
    return n;
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
    if (!ht_internal(key, len) && delta != 0) {
        atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
        part_saw(p, delta);
        top_saw(ht, p, eoff, 0, delta);
    }
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
        if (!ht_internal(key, len)) {
            if ((old == 0) != (old + delta == 0))
                atomic_fetch_add_explicit(&p->count, old == 0 ? 1 : UINT64_MAX,
                                          memory_order_relaxed);
            part_saw(p, old + delta);
            top_saw(ht, p, eoff, old, old + delta);
        }
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

uint64_t
ht_lookup(ht_t *ht, uint64_t h, const char *key, size_t len)
{
    uint64_t d = atomic_load_explicit(&part_of(ht, h)->index,
                                      memory_order_acquire);

    return d ? index_find(ht, d, h, key, len) : 0;
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

/* Appends entry e (count c) to the copy; false when out of memory. */
static bool
copy_push(ht_copy_t *c, const ht_entry_t *e, uint16_t len, uint64_t count)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        ht_item_t *it = realloc(c->items, cap * sizeof(*it));
        if (it == NULL)
            return false;
        c->items = it;
        c->cap = cap;
    }
    if (c->klen + len > c->kcap) {
        size_t cap = MEMDB_MAX(c->kcap * 2, c->klen + len + 4096);
        char *k = realloc(c->keys, cap);
        if (k == NULL)
            return false;
        c->keys = k;
        c->kcap = cap;
    }
    memcpy(c->keys + c->klen, e->key, len);
    c->items[c->n++] = (ht_item_t) { count, c->klen, len };
    c->klen += len;
    return true;
}

long
ht_part_copy(ht_t *ht, unsigned pi, ht_copy_t *c)
{
    ht_part_t *p = &ht->parts[pi];

    for (;;) {
        uint32_t s = atomic_load_explicit(&p->seq, memory_order_acquire);
        uint64_t d = atomic_load_explicit(&p->index, memory_order_acquire);
        uint64_t icap = 0;
        _Atomic uint64_t *slots = d ? index_slots(ht, d, &icap) : NULL;

        c->n = c->klen = 0;
        for (uint64_t i = 0; slots != NULL && i < icap; i++) {
            uint64_t sl = atomic_load_explicit(&slots[i],
                                               memory_order_acquire);
            uint64_t eoff = (sl & OFF_MASK) << 3, n;
            if (sl == 0 || eoff + HT_ENTRY_HDR > ht->arena->size)
                continue;
            const ht_entry_t *e = ht_entry(ht, eoff);
            uint16_t len = e->len;
            if (eoff + HT_ENTRY_HDR + len > ht->arena->size)
                continue; /* (a stale read: seq tells) */
            n = atomic_load_explicit(&e->count, memory_order_relaxed);
            if (n != 0 && !copy_push(c, e, len, n))
                return -1;
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&p->seq, memory_order_relaxed) == s)
            return (long) c->n;
    }
}

void
ht_copy_free(ht_copy_t *c)
{
    free(c->items);
    free(c->keys);
    memset(c, 0, sizeof(*c));
}

/* Fills nslots (ncap, zeroed) with the slots of p's index (cap) whose
 * entry is alive; the others' offsets go to dead[] (*ndead).  Lock held. */
static void
sweep_fill(ht_t *ht, ht_part_t *p, _Atomic uint64_t *oslots, uint64_t cap,
           _Atomic uint64_t *nslots, ht_dead_fn dead, void *arg,
           uint64_t *gone, size_t *ngone)
{
    uint64_t used = 0, max = 0;

    for (uint64_t i = 0; i < cap; i++) {
        uint64_t sl = atomic_load_explicit(&oslots[i], memory_order_relaxed);
        if (sl == 0)
            continue;
        uint64_t eoff = (sl & OFF_MASK) << 3;
        ht_entry_t *e = ht_entry(ht, eoff);
        uint64_t n = atomic_load_explicit(&e->count, memory_order_relaxed);
        bool internal = ht_internal(e->key, e->len);
        if (!internal && dead(e->key, e->len, n, arg)) {
            gone[(*ngone)++] = eoff;
            if (n != 0) {
                atomic_fetch_sub_explicit(&p->count, 1, memory_order_relaxed);
                atomic_fetch_sub_explicit(&p->total, n, memory_order_relaxed);
            }
            continue;
        }
        index_put(nslots, cap, sl);
        used++;
        if (!internal)
            max = bound_with(max, n);
    }
    p->used = used;
    atomic_store_explicit(&p->max, max, memory_order_relaxed); /* exact */
}

/* How many entries of index (slots, cap) dead() names (no lock: a hint). */
static size_t
sweep_count(ht_t *ht, _Atomic uint64_t *slots, uint64_t cap, ht_dead_fn dead,
            void *arg)
{
    size_t k = 0;

    for (uint64_t i = 0; slots != NULL && i < cap; i++) {
        uint64_t sl = atomic_load_explicit(&slots[i], memory_order_relaxed);
        uint64_t eoff = (sl & OFF_MASK) << 3;
        if (sl == 0 || eoff + HT_ENTRY_HDR > ht->arena->size)
            continue;
        ht_entry_t *e = ht_entry(ht, eoff);
        if (eoff + HT_ENTRY_HDR + e->len <= ht->arena->size
            && !ht_internal(e->key, e->len)
            && dead(e->key, e->len,
                    atomic_load_explicit(&e->count, memory_order_relaxed),
                    arg))
            k++;
    }
    return k;
}

int
ht_sweep_part(ht_t *ht, unsigned pi, ht_dead_fn dead, ht_stop_fn stop,
              void *arg, uint64_t *freed)
{
    ht_part_t *p = &ht->parts[pi];
    uint64_t d = atomic_load_explicit(&p->index, memory_order_acquire);
    uint64_t cap = 0, noff, *gone;
    _Atomic uint64_t *oslots = d ? index_slots(ht, d, &cap) : NULL;
    size_t ngone = 0;
    unsigned cls = d ? (unsigned) (d >> 56) + 3 : 0;

    *freed = 0;
    if (oslots == NULL || sweep_count(ht, oslots, cap, dead, arg) == 0)
        return MEMDB_OK;
    /* The new index and the list are taken before the partition lock, so
     * that nothing is waited for while it is held. */
    if ((noff = arena_alloc_pow2(ht->arena, ht->base, cls, ht->self)) == 0)
        return MEMDB_OK; /* no room for a new index: swept another time */
    if ((gone = malloc(cap * sizeof(*gone))) == NULL) {
        arena_free_pow2(ht->arena, ht->base, noff, cls, ht->self);
        return MEMDB_OK;
    }
    memset(ht->base + noff, 0, cap * 8);
    lock_acquire(&p->lock, ht->self);
    if (atomic_load_explicit(&p->index, memory_order_relaxed) != d
        || (stop != NULL && stop(arg))) {
        lock_release(&p->lock);
        arena_free_pow2(ht->arena, ht->base, noff, cls, ht->self);
        free(gone);
        return MEMDB_AGAIN;
    }
    sweep_fill(ht, p, oslots, cap, (_Atomic uint64_t *) (ht->base + noff),
               dead, arg, gone, &ngone);
    atomic_store_explicit(&p->index, desc_pack(noff, cls - 3),
                          memory_order_release);
    top_rebuild(ht, p); /* (no leader may be a gone entry) */
    /* Readers that may still walk the old index or the gone entries must
     * see seq change before any of it is handed out again. */
    atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
    atomic_thread_fence(memory_order_release);
    lock_release(&p->lock);
    arena_free_pow2(ht->arena, ht->base, d & DESC_OFF_MASK, cls, ht->self);
    for (size_t i = 0; i < ngone; i++) /* (a longer one is not reused) */
        (void) arena_free_entry(ht->arena, ht->base, gone[i],
                                entry_size(ht_entry(ht, gone[i])->len),
                                ht->self);
    *freed = ngone;
    free(gone);
    return MEMDB_OK;
}

/* Recomputes count and total from the index.  Lock held (by a dead pid). */
static void
part_recount(ht_t *ht, ht_part_t *p)
{
    uint64_t d = atomic_load_explicit(&p->index, memory_order_relaxed);
    uint64_t cap = 0, n = 0, t = 0, max = 0;
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
        max = bound_with(max, c);
    }
    p->used = used;
    atomic_store(&p->count, n);
    atomic_store(&p->total, t);
    atomic_store(&p->max, max);
    top_rebuild(ht, p);
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
        atomic_store(&p->max, 0);
        p->ntop = 0;
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
