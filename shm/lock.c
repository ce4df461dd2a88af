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

void
lock_acquire_slow(lock_t *l, uint32_t self)
{
    uint64_t start = 0;
    long sleep_ns = 1000;
    bool reported = false;

    for (unsigned spin = 0;; spin++) {
        if (atomic_load_explicit(l, memory_order_relaxed) == 0
            && lock_try(l, self))
            return;
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
