/*
 * arena.h - the allocator of the shared segment's data area.
 *
 * Memory is handed out by a bump pointer (one atomic fetch-add, no lock).
 * Blocks whose size is a power of two (hash-table indexes) can be returned
 * to per-size free lists, and so can the hash table's entries of up to
 * ARENA_EMAX bytes (one list per multiple of 8: an entry is reused by a
 * word whose entry has exactly its size).  The lists are protected by a
 * pid lock; push and pop each commit with a single store, so a holder
 * killed half-way leaks at most one block and the master only has to
 * release the lock.
 *
 * Offsets, never pointers: offset 0 is the null block.  The whole area is
 * mapped MAP_NORESERVE, so only pages that were touched use memory.
 */
#ifndef MEMDB_SHM_ARENA_H
#define MEMDB_SHM_ARENA_H

#include "shm/lock.h"

#define ARENA_CLASSES 48
#define ARENA_EMAX    512 /* largest entry block kept for reuse */

typedef struct arena_s {
    _Atomic uint64_t top;   /* next free offset */
    uint64_t size;          /* bytes in the area */
    uint64_t limit;         /* store.max_memory */
    _Atomic uint64_t freed; /* bytes sitting in the free lists */
    lock_t lock;            /* free lists */
    uint32_t _pad;
    _Atomic uint64_t eblocks; /* entry blocks in the lists */
    uint64_t free_head[ARENA_CLASSES];
    uint64_t efree_head[ARENA_EMAX / 8 + 1];
} arena_t;

void arena_init(arena_t *a, uint64_t size, uint64_t limit);
/* 8-byte aligned block of n bytes, 0 when the area is exhausted. */
uint64_t arena_alloc(arena_t *a, char *base, uint64_t n);
/* Block of 1 << cls bytes, from the free list when one is there. */
uint64_t arena_alloc_pow2(arena_t *a, char *base, unsigned cls, uint32_t self);
void arena_free_pow2(arena_t *a, char *base, uint64_t off, unsigned cls,
                     uint32_t self);
/* An entry block of n bytes (8-aligned, at most ARENA_EMAX) from its free
 * list, or 0 when that list is empty (the caller then cuts one itself). */
uint64_t arena_alloc_entry(arena_t *a, char *base, uint64_t n, uint32_t self);
/* Gives an entry block back; false (kept, not listed) above ARENA_EMAX. */
bool arena_free_entry(arena_t *a, char *base, uint64_t off, uint64_t n,
                      uint32_t self);
/* Bytes in use (allocated and not free). */
uint64_t arena_used(const arena_t *a);
/* Bytes ever cut from the area (free ones included): what the area still
 * has room for, whatever the lists hold, is size minus this. */
uint64_t arena_top(const arena_t *a);

#endif
