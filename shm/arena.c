/*
 * arena.c - bump allocator with power-of-two free lists (see arena.h).
 */
#include "shm/arena.h"

#include <string.h>

#define ARENA_FIRST 64 /* offset 0 is null; keep the first line empty */

void
arena_init(arena_t *a, uint64_t size, uint64_t limit)
{
    memset(a, 0, sizeof(*a));
    atomic_store(&a->top, ARENA_FIRST);
    a->size = size;
    a->limit = limit;
}

uint64_t
arena_alloc(arena_t *a, char *base, uint64_t n)
{
    uint64_t off;

    (void) base;
    n = MEMDB_ALIGN(n, 8);
    off = atomic_fetch_add_explicit(&a->top, n, memory_order_relaxed);
    if (off + n > a->size)
        return 0;
    return off;
}

uint64_t
arena_alloc_pow2(arena_t *a, char *base, unsigned cls, uint32_t self)
{
    uint64_t off;

    lock_acquire(&a->lock, self);
    off = a->free_head[cls];
    if (off != 0) {
        a->free_head[cls] = *(uint64_t *) (base + off); /* commit */
        atomic_fetch_sub_explicit(&a->freed, 1ULL << cls,
                                  memory_order_relaxed);
    }
    lock_release(&a->lock);
    if (off != 0)
        return off;
    return arena_alloc(a, base, 1ULL << cls);
}

void
arena_free_pow2(arena_t *a, char *base, uint64_t off, unsigned cls,
                uint32_t self)
{
    lock_acquire(&a->lock, self);
    *(uint64_t *) (base + off) = a->free_head[cls];
    a->free_head[cls] = off; /* commit */
    atomic_fetch_add_explicit(&a->freed, 1ULL << cls, memory_order_relaxed);
    lock_release(&a->lock);
}

uint64_t
arena_alloc_entry(arena_t *a, char *base, uint64_t n, uint32_t self)
{
    uint64_t off;

    if (n > ARENA_EMAX
        || atomic_load_explicit(&a->eblocks, memory_order_relaxed) == 0)
        return 0;
    lock_acquire(&a->lock, self);
    off = a->efree_head[n / 8];
    if (off != 0) {
        a->efree_head[n / 8] = *(uint64_t *) (base + off); /* commit */
        atomic_fetch_sub_explicit(&a->freed, n, memory_order_relaxed);
        atomic_fetch_sub_explicit(&a->eblocks, 1, memory_order_relaxed);
    }
    lock_release(&a->lock);
    return off;
}

bool
arena_free_entry(arena_t *a, char *base, uint64_t off, uint64_t n,
                 uint32_t self)
{
    if (n > ARENA_EMAX)
        return false;
    lock_acquire(&a->lock, self);
    *(uint64_t *) (base + off) = a->efree_head[n / 8];
    a->efree_head[n / 8] = off; /* commit */
    atomic_fetch_add_explicit(&a->freed, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->eblocks, 1, memory_order_relaxed);
    lock_release(&a->lock);
    return true;
}

uint64_t
arena_top(const arena_t *a)
{
    uint64_t top = atomic_load_explicit(&a->top, memory_order_relaxed);

    return top > a->size ? a->size : top;
}

uint64_t
arena_used(const arena_t *a)
{
    uint64_t top = atomic_load_explicit(&a->top, memory_order_relaxed);
    uint64_t freed = atomic_load_explicit(&a->freed, memory_order_relaxed);

    if (top > a->size)
        top = a->size;
    return top > freed ? top - freed : 0;
}
