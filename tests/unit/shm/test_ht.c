/*
 * test_ht.c - the shared hash table: single-process behaviour, growth,
 * scans, several forked processes incrementing at once, and the crash
 * repair of a partition whose lock holder died.
 */
#include <criterion/criterion.h>

#include "shm/shm.h"
#include "src/changelog/apply.h"
#include "src/changelog/rec.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static shm_t s;

static void
setup(void)
{
    shm_params_t p = { .max_memory = 256ULL << 20,
                       .ring_size = 1 << 20,
                       .nworkers = 4,
                       .node_id = "t" };
    cr_assert_eq(shm_create(&s, &p), MEMDB_OK);
}

static void
teardown(void)
{
    shm_destroy(&s);
}

static ht_progress_t
no_progress(void)
{
    ht_progress_t pg = { .worker = -1, .progress = NULL, .idx = 0 };
    return pg;
}

static int
incr(const char *w, uint64_t d)
{
    ht_progress_t pg = no_progress();
    return ht_incr(&s.ht, ht_hash(w, strlen(w)), w, (uint16_t) strlen(w), d,
                   &pg);
}

static uint64_t
get(const char *w)
{
    return ht_get(&s.ht, ht_hash(w, strlen(w)), w, strlen(w));
}

TestSuite(ht, .init = setup, .fini = teardown);

Test(ht, missing_word_counts_zero)
{
    cr_assert_eq(get("nothing"), 0);
}

Test(ht, insert_and_increment)
{
    cr_assert_eq(incr("hello", 1), MEMDB_OK);
    cr_assert_eq(incr("hello", 41), MEMDB_OK);
    cr_assert_eq(incr("world", 7), MEMDB_OK);
    cr_assert_eq(get("hello"), 42);
    cr_assert_eq(get("world"), 7);
    cr_assert_eq(get("hell"), 0);
    cr_assert_eq(get("hello!"), 0);
}

Test(ht, keys_are_bytes_case_sensitive)
{
    incr("Word", 1);
    incr("word", 2);
    incr("wörd", 3);
    cr_assert_eq(get("Word"), 1);
    cr_assert_eq(get("word"), 2);
    cr_assert_eq(get("wörd"), 3);
}

Test(ht, max_length_word)
{
    char *w = malloc(HT_MAX_WORD + 1);
    memset(w, 'x', HT_MAX_WORD);
    w[HT_MAX_WORD] = '\0';
    cr_assert_eq(incr(w, 5), MEMDB_OK);
    cr_assert_eq(get(w), 5);
    free(w);
}

Test(ht, growth_keeps_every_word_and_totals)
{
    char w[32];
    uint64_t distinct, total;

    for (int i = 0; i < 200000; i++) {
        snprintf(w, sizeof(w), "w%d", i);
        cr_assert_eq(incr(w, (uint64_t) (i % 7) + 1), MEMDB_OK);
    }
    for (int i = 0; i < 200000; i++) {
        snprintf(w, sizeof(w), "w%d", i);
        cr_assert_eq(get(w), (uint64_t) (i % 7) + 1, "word %s", w);
    }
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 200000);
    uint64_t expect = 0;
    for (int i = 0; i < 200000; i++)
        expect += (uint64_t) (i % 7) + 1;
    cr_assert_eq(total, expect);
}

Test(ht, partition_scan_lists_each_word_once)
{
    char w[32];
    uint64_t *offs = NULL;
    size_t cap = 0, seen = 0;

    for (int i = 0; i < 50000; i++) {
        snprintf(w, sizeof(w), "k%d", i);
        incr(w, 1);
    }
    char *mark = calloc(50000, 1);
    for (unsigned p = 0; p < HT_PARTS; p++) {
        size_t n = ht_part_entries(&s.ht, p, &offs, &cap);
        for (size_t i = 0; i < n; i++) {
            ht_entry_t *e = ht_entry(&s.ht, offs[i]);
            int k = atoi(e->key + 1);
            cr_assert(e->key[0] == 'k' && k >= 0 && k < 50000);
            cr_assert_eq(mark[k], 0, "word listed twice");
            mark[k] = 1;
            seen++;
        }
    }
    cr_assert_eq(seen, 50000);
    free(mark);
    free(offs);
}

/* Several processes add to shared and private words at once; the totals
 * must be exact. */
Test(ht, forked_writers_exact_totals)
{
    enum { PROCS = 4, ROUNDS = 20000 };
    pid_t pids[PROCS];

    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        cr_assert(pids[p] >= 0);
        if (pids[p] == 0) {
            char w[32];
            shm_attach_child(&s);
            for (int i = 0; i < ROUNDS; i++) {
                incr("shared", 1);
                snprintf(w, sizeof(w), "p%d-%d", p, i % 500);
                incr(w, 2);
                snprintf(w, sizeof(w), "common%d", i % 1000);
                incr(w, 1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        waitpid(pids[p], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    cr_assert_eq(get("shared"), PROCS * ROUNDS);
    for (int p = 0; p < PROCS; p++) {
        char w[32];
        snprintf(w, sizeof(w), "p%d-%d", p, 7);
        cr_assert_eq(get(w), 2 * (ROUNDS / 500));
    }
    cr_assert_eq(get("common999"), PROCS * (ROUNDS / 1000));
}

/* A writer dies holding a partition lock in the middle of a count change
 * that its progress counter does not cover: repair rolls the count back
 * and releases the lock. */
Test(ht, repair_rolls_back_uncovered_change)
{
    const char *w = "victim";
    uint64_t h = ht_hash(w, strlen(w));
    ht_part_t *p = &s.ht.parts[h >> (64 - HT_PARTS_LOG2)];
    shm_worker_t *wk = shm_worker(&s, 0);
    uint64_t eoff;

    incr(w, 10);
    /* Simulate a writer (pid 999999) stopped after changing the count. */
    cr_assert(lock_try(&p->lock, 999999));
    {
        uint64_t *offs = NULL;
        size_t cap = 0,
               n = ht_part_entries(
                   &s.ht, (unsigned) (h >> (64 - HT_PARTS_LOG2)), &offs, &cap);
        eoff = 0;
        for (size_t i = 0; i < n; i++)
            if (ht_entry(&s.ht, offs[i])->len == 6)
                eoff = offs[i];
        free(offs);
    }
    cr_assert_neq(eoff, 0);
    atomic_store(&wk->progress, 3);
    p->undo_old = 10;
    p->undo_idx = 3; /* word 3 not yet covered by progress */
    p->undo_worker = 0;
    p->undo_entry = eoff;
    atomic_store(&ht_entry(&s.ht, eoff)->count, 15);

    cr_assert_eq(shm_repair_dead(&s, 999999, 0), 1);
    cr_assert_eq(lock_holder(&p->lock), 0);
    cr_assert_eq(get(w), 10);
    uint64_t distinct, total;
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(total, 10);
}

Test(ht, repair_keeps_covered_change)
{
    const char *w = "kept";
    uint64_t h = ht_hash(w, strlen(w));
    ht_part_t *p = &s.ht.parts[h >> (64 - HT_PARTS_LOG2)];
    shm_worker_t *wk = shm_worker(&s, 1);
    uint64_t *offs = NULL;
    size_t cap = 0, n;

    incr(w, 10);
    n = ht_part_entries(&s.ht, (unsigned) (h >> (64 - HT_PARTS_LOG2)), &offs,
                        &cap);
    cr_assert_eq(n, 1);
    cr_assert(lock_try(&p->lock, 999998));
    atomic_store(&wk->progress, 4); /* word 3 applied and recorded */
    p->undo_old = 10;
    p->undo_idx = 3;
    p->undo_worker = 1;
    p->undo_entry = offs[0];
    atomic_store(&ht_entry(&s.ht, offs[0])->count, 12);
    shm_repair_dead(&s, 999998, 1);
    cr_assert_eq(get(w), 12);
    cr_assert_eq(lock_holder(&p->lock), 0);
    free(offs);
}

/* A real process killed with SIGKILL at random moments while applying
 * records: after repair and finishing from its progress counter, every
 * record is applied exactly once. */
Test(ht, sigkill_during_apply_then_finish_is_exact)
{
    enum { WORDS = 5000, RECORDS = 60 };
    buf_t rec = { 0 };
    char w[32];

    rec_begin(&rec, REC_UPLOAD);
    for (int i = 0; i < WORDS; i++) {
        snprintf(w, sizeof(w), "kw%d", i);
        rec_add(&rec, w, strlen(w), 1);
    }
    rec_finish(rec.data, 1, 0);
    ((rec_hdr_t *) rec.data)->len = (uint32_t) rec.len;
    rec_seal(rec.data);

    int midway = 0;
    for (int r = 0; r < RECORDS; r++) {
        shm_worker_t *wk = shm_worker(&s, 2);
        atomic_store(&wk->progress, 0);
        pid_t pid = fork();
        if (pid == 0) {
            shm_attach_child(&s);
            apply_record(&s, rec.data, 0, 2, &wk->progress);
            pause();
            _exit(0);
        }
        usleep((useconds_t) (rand() % 4000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        shm_repair_dead(&s, pid, 2);
        uint32_t done = atomic_load(&wk->progress);
        midway += done > 0 && done < WORDS;
        apply_record(&s, rec.data, done, -1, NULL);
    }
    cr_assert_gt(midway, 0, "no kill landed in the middle of a record");
    for (int i = 0; i < WORDS; i++) {
        snprintf(w, sizeof(w), "kw%d", i);
        cr_assert_eq(get(w), RECORDS, "word %s", w);
    }
    buf_free(&rec);
}

Test(ht, memory_reservation_limit)
{
    shm_worker_t *wk = shm_worker(&s, 0);
    cr_assert_eq(shm_mem_reserve(&s, wk, 1024), MEMDB_OK);
    shm_mem_done(wk);
    cr_assert_eq(shm_mem_reserve(&s, wk, shm_mem_limit(&s) + 1), MEMDB_BUSY);
    cr_assert_eq(atomic_load(&wk->mem_reserved), 0);
}
