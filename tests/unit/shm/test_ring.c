/*
 * test_ring.c - the change ring: LSN assignment, wrap-around with
 * variable-size records, backpressure when full, and repair after a
 * writer died in the middle of a reservation or a copy.
 */
#include <criterion/criterion.h>

#include "shm/shm.h"
#include "src/changelog/rec.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING (64 * 1024)

static shm_t s;

static void
setup(void)
{
    shm_params_t p = { .max_memory = 64ULL << 20,
                       .ring_size = RING,
                       .nworkers = 2,
                       .node_id = "t" };
    cr_assert_eq(shm_create(&s, &p), MEMDB_OK);
}

static void
teardown(void)
{
    shm_destroy(&s);
}

TestSuite(ring, .init = setup, .fini = teardown);

/* Reserves and publishes a record of n payload bytes. */
static uint64_t
put(uint32_t n, uint8_t fill)
{
    ring_resv_t rv;
    ring_slot_t *sl;

    cr_assert_eq(ring_reserve(&s.ring, n, 4242, RING_W_UPLOAD, &rv, &sl),
                 MEMDB_OK);
    memset(ring_slot_rec(sl), fill, n);
    ring_publish(sl);
    return sl->lsn;
}

/* Consumes every ready record; returns how many, checking LSN order. */
static int
drain(uint64_t *cursor, uint64_t *next_lsn)
{
    ring_slot_t *sl;
    int n = 0;

    while ((sl = ring_next(&s.ring, cursor, false)) != NULL) {
        cr_assert_eq(sl->lsn, *next_lsn, "lsn %llu, expected %llu",
                     (unsigned long long) sl->lsn,
                     (unsigned long long) *next_lsn);
        uint8_t *p = ring_slot_rec(sl);
        for (uint32_t i = 0; i < sl->reclen; i++)
            cr_assert_eq(p[i], (uint8_t) sl->lsn, "payload damaged");
        (*next_lsn)++;
        *cursor += sl->size;
        n++;
    }
    ring_release(&s.ring, *cursor);
    return n;
}

Test(ring, lsns_start_at_one_and_increase)
{
    cr_assert_eq(put(10, 1), 1);
    cr_assert_eq(put(10, 2), 2);
    cr_assert_eq(put(10, 3), 3);
}

Test(ring, wrap_around_with_variable_sizes)
{
    uint64_t cursor = 0, next = 1, made = 0;
    srand(7);
    for (int round = 0; round < 2000; round++) {
        uint32_t n = (uint32_t) (rand() % 3000) + 1;
        ring_resv_t rv;
        ring_slot_t *sl;
        int rc = ring_reserve(&s.ring, n, 4242, RING_W_UPLOAD, &rv, &sl);
        if (rc == MEMDB_AGAIN) {
            cr_assert_gt(drain(&cursor, &next), 0);
            continue;
        }
        cr_assert_eq(rc, MEMDB_OK);
        memset(ring_slot_rec(sl), (uint8_t) sl->lsn, n);
        ring_publish(sl);
        made++;
    }
    drain(&cursor, &next);
    cr_assert_eq(next, made + 1);
    cr_assert_gt(atomic_load(&s.ring.hdr->head), 4 * RING, "ring wrapped");
}

Test(ring, full_ring_refuses_and_never_overwrites)
{
    uint64_t cursor = 0, next = 1;
    int n = 0;
    ring_resv_t rv;
    ring_slot_t *sl;

    while (ring_reserve(&s.ring, 1000, 4242, RING_W_UPLOAD, &rv, &sl)
           == MEMDB_OK) {
        memset(ring_slot_rec(sl), (uint8_t) sl->lsn, 1000);
        ring_publish(sl);
        n++;
    }
    cr_assert_lt(n * (1000 + RING_SLOT_HDR), RING + 1);
    cr_assert_gt(n, 50);
    /* nothing was overwritten: every record still reads back intact */
    cr_assert_eq(drain(&cursor, &next), n);
    cr_assert_eq(ring_reserve(&s.ring, 1000, 4242, RING_W_UPLOAD, &rv, &sl),
                 MEMDB_OK);
}

Test(ring, record_too_big_for_ring)
{
    ring_resv_t rv;
    ring_slot_t *sl;
    cr_assert_eq(ring_reserve(&s.ring, RING, 4242, RING_W_UPLOAD, &rv, &sl),
                 MEMDB_ERR);
    cr_assert_eq(ring_reserve(&s.ring, (uint32_t) ring_max_record(&s.ring),
                              4242, RING_W_UPLOAD, &rv, &sl),
                 MEMDB_OK);
}

Test(ring, writing_slot_blocks_consumer_until_published)
{
    ring_resv_t rv;
    ring_slot_t *a, *b;
    uint64_t cursor = 0;

    cr_assert_eq(ring_reserve(&s.ring, 8, 4242, RING_W_UPLOAD, &rv, &a),
                 MEMDB_OK);
    cr_assert_eq(ring_reserve(&s.ring, 8, 4242, RING_W_UPLOAD, &rv, &b),
                 MEMDB_OK);
    ring_publish(b);
    cr_assert_null(ring_next(&s.ring, &cursor, false));
    ring_publish(a);
    cr_assert_eq(ring_next(&s.ring, &cursor, false), a);
}

/* The writer died after its reservation committed the LSN but before it
 * moved head: repair rolls the reservation back, so the LSN is neither
 * skipped nor voided: the next record takes it. */
Test(ring, repair_rolls_back_half_done_reservation)
{
    ring_hdr_t *h = s.ring.hdr;
    shm_worker_t *wk = shm_worker(&s, 0);
    uint64_t pos;
    ring_slot_t *sl;
    uint64_t cursor = 0;

    put(16, 1); /* lsn 1 */
    pos = atomic_load(&h->head);
    sl = ring_slot_at(&s.ring, pos);
    /* what ring_reserve does, stopped before the head store */
    cr_assert(lock_try(&h->lock, 777777));
    wk->resv.pos = pos;
    wk->resv.lsn = 2;
    wk->resv.need = 64;
    sl->size = 64;
    sl->kind = RING_REC;
    sl->pid = 777777;
    sl->reclen = 16;
    sl->lsn = 2;
    atomic_store(&sl->state, RING_WRITING);
    atomic_store(&sl->pos, pos);
    atomic_store(&h->next_lsn, 3);

    cr_assert_eq(shm_repair_dead(&s, 777777, 0), 1);
    /* the master holds the lock until it finished the dead one's record */
    cr_assert_eq(lock_holder(&h->lock), s.ht.self);
    ring_repaired(&s.ring, s.ht.self);
    cr_assert_eq(lock_holder(&h->lock), 0);
    cr_assert_eq(atomic_load(&h->head), pos);
    cr_assert_eq(atomic_load(&h->next_lsn), 2);
    cr_assert_eq(put(16, 2), 2);
    sl = ring_next(&s.ring, &cursor, false);
    cr_assert_eq(sl->lsn, 1);
    cursor += sl->size;
    sl = ring_next(&s.ring, &cursor, false);
    cr_assert_eq(sl->lsn, 2);
    cr_assert_eq(atomic_load(&sl->state), RING_READY);
}

Test(ring, repair_forgets_uncommitted_reservation)
{
    ring_hdr_t *h = s.ring.hdr;
    shm_worker_t *wk = shm_worker(&s, 0);

    put(16, 1);
    uint64_t head = atomic_load(&h->head);
    cr_assert(lock_try(&h->lock, 777776));
    wk->resv.pos = head;
    wk->resv.lsn = 2; /* next_lsn not yet stored */
    wk->resv.need = 64;
    shm_repair_dead(&s, 777776, 0);
    cr_assert_eq(lock_holder(&h->lock), s.ht.self);
    ring_repaired(&s.ring, s.ht.self);
    cr_assert_eq(atomic_load(&h->head), head);
    cr_assert_eq(put(16, 2), 2);
}

/* A writer process (fork(): the test is another process) that reserves a
 * slot for worker 1 and then waits to be killed; returns its pid once the
 * reservation is made. */
static pid_t
reserving_writer(void)
{
    shm_worker_t *wk = shm_worker(&s, 1);
    int pfd[2];
    char c;
    pid_t pid;

    cr_assert_eq(pipe(pfd), 0);
    pid = fork();
    if (pid == 0) {
        ring_slot_t *sl;
        shm_attach_child(&s);
        ring_reserve(&s.ring, 100, (uint32_t) getpid(), RING_W_UPLOAD,
                     &wk->resv, &sl);
        (void) write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    cr_assert_eq(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
    close(pfd[1]);
    return pid;
}

/* A real writer process killed while it copies.  Its reservation is the
 * last one: repair takes it back
 * and the ring is as if it had never been made. */
Test(ring, killed_writer_last_slot_is_taken_back)
{
    pid_t pid = reserving_writer();

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(shm_repair_dead(&s, pid, 1), 1);
    uint64_t cursor = 0;
    cr_assert_null(ring_next(&s.ring, &cursor, true));
    cr_assert_eq(atomic_load(&s.ring.hdr->head), 0);
    cr_assert_eq(put(16, 1), 1);
}

/* Killed while it copies, with a later reservation behind it: its slot
 * becomes VOID (a no-op under its LSN), the later record stays. */
Test(ring, killed_writer_slot_before_another_is_voided)
{
    pid_t pid = reserving_writer();

    cr_assert_eq(put(16, 2), 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(shm_repair_dead(&s, pid, 1), 1);
    uint64_t cursor = 0;
    ring_slot_t *sl = ring_next(&s.ring, &cursor, false);
    cr_assert_not_null(sl);
    cr_assert_eq(sl->lsn, 1);
    cr_assert_eq(atomic_load(&sl->state), RING_VOID);
    cursor += sl->size;
    sl = ring_next(&s.ring, &cursor, false);
    cr_assert_eq(sl->lsn, 2);
    cr_assert_eq(atomic_load(&sl->state), RING_READY);
}
