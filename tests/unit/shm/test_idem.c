/*
 * test_idem.c - the idempotency key table: claims, answers, expiry, the
 * memory bound (oldest forgotten first), and repair after a holder died.
 */
#include <criterion/criterion.h>

#include "shm/idem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SELF   4242
#define WINDOW 1000

static idem_t t;
static void *mem;
static size_t mem_len;

static void
open_table(uint64_t max_keys)
{
    mem_len = idem_size(max_keys);
    mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mem, MAP_FAILED);
    idem_init(&t, mem, max_keys, WINDOW);
}

static void
teardown(void)
{
    munmap(mem, mem_len);
}

static idem_key_t
key(uint64_t n)
{
    idem_key_t k = { { n * 0x9e3779b97f4a7c15ULL, n } };
    return k;
}

static const uint64_t body_a[2] = { 1, 2 }, body_b[2] = { 3, 4 };

/* Claims key n at time now and makes it DONE with lsn n. */
static void
count_key(uint64_t n, uint64_t now)
{
    idem_key_t k = key(n);
    idem_ans_t a;

    cr_assert_eq(idem_claim(&t, &k, body_a, SELF, now, &a), IDEM_NEW);
    a = (idem_ans_t) { .body = { body_a[0], body_a[1] },
                       .lsn = n,
                       .words = 10 * n,
                       .distinct = n,
                       .time_ms = now };
    idem_done(&t, &k, &a, SELF);
}

static int
claim(uint64_t n, const uint64_t body[2], uint64_t now, idem_ans_t *a)
{
    idem_key_t k = key(n);
    return idem_claim(&t, &k, body, SELF, now, a);
}

static void
setup8(void)
{
    open_table(8);
}

TestSuite(idem, .init = setup8, .fini = teardown);

Test(idem, first_claim_then_replay_or_mismatch)
{
    idem_ans_t a;
    idem_key_t k = key(1);

    cr_assert_eq(claim(1, body_a, 100, &a), IDEM_NEW);
    cr_assert_eq(claim(1, body_a, 100, &a), IDEM_INFLIGHT);
    cr_assert_eq(claim(1, body_b, 100, &a), IDEM_INFLIGHT);
    a = (idem_ans_t) { .body = { 1, 2 },
                       .lsn = 7,
                       .words = 5,
                       .distinct = 3,
                       .time_ms = 100 };
    idem_done(&t, &k, &a, SELF);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(claim(1, body_a, 150, &a), IDEM_REPLAY);
    cr_assert_eq(a.lsn, 7);
    cr_assert_eq(a.words, 5);
    cr_assert_eq(a.distinct, 3);
    cr_assert_eq(claim(1, body_b, 150, &a), IDEM_MISMATCH);
    cr_assert_eq(a.lsn, 7, "a mismatch names the first upload");
    cr_assert_eq(claim(2, body_a, 150, &a), IDEM_NEW, "another key");
    cr_assert_eq(atomic_load(&t.hdr->live), 2);
    cr_assert_eq(atomic_load(&t.hdr->replays), 1);
    cr_assert_eq(atomic_load(&t.hdr->conflicts), 3);
}

Test(idem, release_gives_the_key_back_to_its_claimer_only)
{
    idem_ans_t a;
    idem_key_t k = key(3);

    cr_assert_eq(claim(3, body_a, 1, &a), IDEM_NEW);
    idem_release(&t, &k, SELF + 1); /* not its claim: nothing */
    cr_assert_eq(claim(3, body_a, 1, &a), IDEM_INFLIGHT);
    idem_release(&t, &k, SELF);
    cr_assert_eq(atomic_load(&t.hdr->live), 0);
    cr_assert_eq(claim(3, body_b, 1, &a), IDEM_NEW);
}

Test(idem, a_key_expires_after_its_window)
{
    idem_ans_t a;
    idem_key_t k4 = key(4);

    count_key(4, 1000);
    cr_assert_eq(claim(4, body_a, 1000 + WINDOW - 1, &a), IDEM_REPLAY);
    cr_assert(idem_find(&t, &k4, 1000 + WINDOW - 1, SELF, &a));
    cr_assert_not(idem_find(&t, &k4, 1000 + WINDOW, SELF, &a));
    cr_assert_eq(claim(4, body_b, 1000 + WINDOW, &a), IDEM_NEW,
                 "an expired key counts again");
    cr_assert_eq(atomic_load(&t.hdr->forgotten), 0,
                 "expiry is not forgetting early");
}

Test(idem, applying_remembers_a_key_nobody_claimed)
{
    idem_ans_t a = { .body = { 1, 2 }, .lsn = 9, .time_ms = 5 };
    idem_key_t k = key(5);

    idem_done(&t, &k, &a, SELF); /* a replica, recovery */
    idem_done(&t, &k, &a, SELF); /* applied twice: still one entry */
    cr_assert_eq(atomic_load(&t.hdr->live), 1);
    cr_assert_eq(claim(5, body_a, 6, &a), IDEM_REPLAY);
    cr_assert_eq(a.lsn, 9);
}

Test(idem, the_oldest_are_forgotten_at_max_keys)
{
    idem_ans_t a;

    for (uint64_t n = 1; n <= 11; n++)
        count_key(n, 100 + n);
    cr_assert_eq(atomic_load(&t.hdr->live), 8);
    cr_assert_eq(atomic_load(&t.hdr->forgotten), 3);
    for (uint64_t n = 4; n <= 11; n++)
        cr_assert_eq(claim(n, body_a, 200, &a), IDEM_REPLAY, "key %llu",
                     (unsigned long long) n);
    for (uint64_t n = 1; n <= 3; n++) {
        idem_key_t k = key(n);
        cr_assert_not(idem_find(&t, &k, 200, SELF, &a));
    }
}

Test(idem, a_claimed_entry_is_never_forgotten)
{
    idem_ans_t a;

    for (uint64_t n = 1; n <= 8; n++)
        cr_assert_eq(claim(n, body_a, 1, &a), IDEM_NEW);
    cr_assert_eq(claim(9, body_a, 1, &a), IDEM_FULL);
    for (uint64_t n = 1; n <= 8; n++)
        cr_assert_eq(claim(n, body_a, 1, &a), IDEM_INFLIGHT);
}

Test(idem, release_dead_gives_back_only_the_dead_claims)
{
    idem_ans_t a;
    idem_key_t k1 = key(1), k2 = key(2);

    cr_assert_eq(idem_claim(&t, &k1, body_a, 777, 1, &a), IDEM_NEW);
    cr_assert_eq(idem_claim(&t, &k2, body_a, 778, 1, &a), IDEM_NEW);
    a = (idem_ans_t) { .lsn = 3, .time_ms = 1 };
    cr_assert_eq(idem_release_dead(&t, 777, SELF), 1);
    cr_assert_eq(claim(1, body_a, 1, &a), IDEM_NEW);
    cr_assert_eq(claim(2, body_a, 1, &a), IDEM_INFLIGHT);
}

static uint64_t seen[16], nseen;

static void
note_lsn(void *arg, const idem_key_t *k, const idem_ans_t *a)
{
    (void) arg;
    (void) k;
    seen[nseen++] = a->lsn;
}

Test(idem, each_lists_the_live_keys_oldest_first)
{
    uint64_t n;

    for (uint64_t k = 1; k <= 10; k++) /* wraps: 3..10 stay */
        count_key(k, 100);
    idem_each(&t, 100, SELF, note_lsn, NULL);
    n = nseen;
    cr_assert_eq(n, 8);
    for (uint64_t i = 0; i < n; i++)
        cr_assert_eq(seen[i], i + 3);
}

Test(idem, reset_forgets_everything)
{
    idem_ans_t a;

    count_key(1, 1);
    idem_reset(&t, SELF);
    cr_assert_eq(atomic_load(&t.hdr->live), 0);
    cr_assert_eq(claim(1, body_b, 1, &a), IDEM_NEW);
}

/* A child that dies holding the lock, anywhere in an operation: the
 * master's repair rebuilds the chains from the entries, and every key is
 * then either remembered with its answer or not at all. */
Test(idem, repair_after_a_holder_was_killed_anywhere)
{
    for (int round = 0; round < 40; round++) {
        idem_reset(&t, SELF);
        pid_t pid = fork();
        if (pid == 0) {
            for (uint64_t n = 1;; n++) {
                idem_key_t k = key(n % 13);
                idem_ans_t a = { .body = { 1, 2 },
                                 .lsn = n % 13,
                                 .time_ms = 10 };
                if (idem_claim(&t, &k, body_a, (uint32_t) getpid(), 10, &a)
                    == IDEM_NEW)
                    idem_done(&t, &k, &a, (uint32_t) getpid());
            }
        }
        usleep(200 + 97 * (unsigned) round);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        (void) idem_repair_lock(&t, (uint32_t) pid);
        (void) idem_release_dead(&t, (uint32_t) pid, SELF);
        cr_assert_eq(lock_holder(&t.hdr->lock), 0);
        uint64_t found = 0;
        for (uint64_t n = 0; n < 13; n++) {
            idem_key_t k = key(n);
            idem_ans_t a;
            if (idem_find(&t, &k, 10, SELF, &a)) {
                cr_assert_eq(a.lsn, n, "key %llu has another's answer",
                             (unsigned long long) n);
                found++;
            }
        }
        cr_assert_leq(found, 8);
        cr_assert_eq(atomic_load(&t.hdr->live), found, "live %llu, found %llu",
                     (unsigned long long) atomic_load(&t.hdr->live),
                     (unsigned long long) found);
    }
}

static void
setup_off(void)
{
    open_table(0);
}

TestSuite(idem_off, .init = setup_off, .fini = teardown);

Test(idem_off, no_keys_means_every_upload_counts)
{
    idem_ans_t a;
    idem_key_t k = key(1);

    cr_assert_eq(idem_claim(&t, &k, body_a, SELF, 1, &a), IDEM_NEW);
    idem_done(&t, &k, &a, SELF);
    cr_assert_eq(idem_claim(&t, &k, body_a, SELF, 1, &a), IDEM_NEW);
    cr_assert_not(idem_find(&t, &k, 1, SELF, &a));
}
