/*
 * lock.c - the slow path of the pid lock (see lock.h).
 */
#include "shm/lock.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <sched.h>
#include <time.h>

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static void (*wait_hook)(uint32_t holder);

void
lock_set_wait_hook(void (*fn)(uint32_t holder))
{
    wait_hook = fn;
}

/* Takes l; with own, returns true instead when l turns out held by self
 * (handed over by a repair that the wait hook ran). */
static bool
lock_wait(lock_t *l, uint32_t self, bool own)
{
    uint64_t start = 0;
    long sleep_ns = 1000;
    bool reported = false;

    for (unsigned spin = 0;; spin++) {
        if (atomic_load_explicit(l, memory_order_relaxed) == 0
            && lock_try(l, self))
            return false;
        if (own && lock_holder(l) == self)
            return true;
        if (spin < 128) {
            cpu_relax();
            continue;
        }
        if (spin < 160) {
            sched_yield();
            continue;
        }
        if (start == 0)
            start = util_now_ms();
        struct timespec ts = { 0, sleep_ns };
        nanosleep(&ts, NULL);
        if (sleep_ns < 1000000)
            sleep_ns *= 2;
        if (wait_hook != NULL && sleep_ns >= 1000000) {
            uint32_t holder = lock_holder(l);
            if (holder != 0)
                wait_hook(holder);
        }
        if (!reported && util_now_ms() - start > LOCK_STUCK_MS) {
            log_warn("stuck lock %p, holder=%u, waiting for the master to "
                     "repair it",
                     (void *) l, lock_holder(l));
            reported = true;
        }
    }
}

void
lock_acquire_slow(lock_t *l, uint32_t self)
{
    (void) lock_wait(l, self, false);
}

bool
lock_acquire_or_own(lock_t *l, uint32_t self)
{
    return lock_wait(l, self, true);
}
