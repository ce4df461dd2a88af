/*
 * lock.h - a process-shared spin lock whose word holds the owner's pid.
 *
 * The lock word is 0 when free and the holder's pid when taken (CAS 0->pid).
 * Waiters spin with `pause`, then yield, then sleep with a growing delay, and
 * report a holder that keeps the lock for more than LOCK_STUCK_MS.  Because
 * the word names its holder, the master can find every lock a dead child
 * held after waitpid(); it repairs the data the lock protects and only then
 * calls lock_force_release().  Nothing else ever unlocks a lock it does not
 * hold.
 *
 * A process may set a wait hook, called with the holder's pid every few
 * milliseconds while it sleeps on a lock: the master uses it to reap and
 * repair a child that died holding the lock it waits for (master.c), so
 * that its own waits never depend on a dead process.
 */
#ifndef MEMDB_SHM_LOCK_H
#define MEMDB_SHM_LOCK_H

#include "src/core/memdb.h"

#include <stdatomic.h>

typedef _Atomic uint32_t lock_t;

#define LOCK_STUCK_MS 5000

void lock_acquire_slow(lock_t *l, uint32_t self);
/* The master: takes l, or finds it already its own, handed over to it by
 * a repair its wait hook ran meanwhile (then true: it is held until what
 * the dead holder did is finished, see ring_repair). */
bool lock_acquire_or_own(lock_t *l, uint32_t self);
/* Sets this process's wait hook (NULL: none). */
void lock_set_wait_hook(void (*fn)(uint32_t holder));

static inline bool
lock_try(lock_t *l, uint32_t self)
{
    uint32_t expect = 0;
    return atomic_compare_exchange_strong_explicit(
        l, &expect, self, memory_order_acquire, memory_order_relaxed);
}

static inline void
lock_acquire(lock_t *l, uint32_t self)
{
    if (likely(lock_try(l, self)))
        return;
    lock_acquire_slow(l, self);
}

static inline void
lock_release(lock_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static inline uint32_t
lock_holder(lock_t *l)
{
    return atomic_load_explicit(l, memory_order_acquire);
}

/* Master only, after repairing what the dead holder protected. */
static inline bool
lock_force_release(lock_t *l, uint32_t dead)
{
    uint32_t expect = dead;
    return atomic_compare_exchange_strong_explicit(
        l, &expect, 0, memory_order_release, memory_order_relaxed);
}

#endif
