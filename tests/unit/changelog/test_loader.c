/*
 * test_loader.c - the multi-threaded recovery loader: every word added
 * lands exactly once, whatever the batch boundaries and thread count.
 */
#include <criterion/criterion.h>

#include "src/changelog/loader.h"

#include <stdio.h>
#include <string.h>

static shm_t s;

static void
setup(void)
{
    shm_params_t p = { .max_memory = 256ULL << 20,
                       .ring_size = 1 << 20,
                       .nworkers = 1,
                       .node_id = "t" };
    cr_assert_eq(shm_create(&s, &p), MEMDB_OK);
}

static void
teardown(void)
{
    shm_destroy(&s);
}

TestSuite(loader, .init = setup, .fini = teardown);

static uint64_t
get(const char *w)
{
    return ht_get(&s.ht, ht_hash(w, strlen(w)), w, strlen(w));
}

static void
load(unsigned threads, int words, int rounds, int flush_every)
{
    loader_t *l = loader_new(&s, threads, NULL);
    recover_sink_t sink;
    char w[32];

    loader_sink(l, &sink);
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < words; i++) {
            snprintf(w, sizeof(w), "w%d", i);
            cr_assert_eq(sink.add(sink.arg, w, strlen(w), (uint64_t) r + 1),
                         MEMDB_OK);
            if (flush_every && (i % flush_every) == 0)
                cr_assert_eq(sink.flush(sink.arg), MEMDB_OK);
        }
    }
    cr_assert_eq(loader_finish(l), MEMDB_OK);
}

static void
check(int words, int rounds)
{
    uint64_t expect = (uint64_t) rounds * (uint64_t) (rounds + 1) / 2;
    char w[32];

    for (int i = 0; i < words; i++) {
        snprintf(w, sizeof(w), "w%d", i);
        cr_assert_eq(get(w), expect, "%s: %llu, expected %llu", w,
                     (unsigned long long) get(w), (unsigned long long) expect);
    }
}

Test(loader, no_threads)
{
    load(0, 5000, 3, 0);
    check(5000, 3);
}

Test(loader, one_helper_small_load_fits_one_batch)
{
    load(1, 40, 1, 0);
    check(40, 1);
}

Test(loader, helpers_many_batches)
{
    load(3, 30000, 4, 0);
    check(30000, 4);
}

Test(loader, flushes_in_between)
{
    load(2, 20000, 2, 777);
    check(20000, 2);
}

Test(loader, repeated_small_loads)
{
    char w[32];

    for (int k = 0; k < 200; k++)
        load(1, 40, 1, 0);
    for (int i = 0; i < 40; i++) {
        snprintf(w, sizeof(w), "w%d", i);
        cr_assert_eq(get(w), 200, "%s after 200 loads", w);
    }
}
