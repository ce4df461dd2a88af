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

/* A retract or reset is a negated delta: counts are modulo 2^64, so any
 * order of the same deltas ends with the same counts and totals, even
 * when a subtraction lands before the increment it takes back (recovery's
 * threads), and a word at 0 is not counted as distinct. */
Test(ht, subtractions_in_any_order_give_the_same_counts)
{
    uint64_t distinct, total;

    cr_assert_eq(incr("a", 5), MEMDB_OK);
    cr_assert_eq(incr("a", 0 - 2ULL), MEMDB_OK);
    cr_assert_eq(get("a"), 3);
    cr_assert_eq(incr("b", 0 - 4ULL), MEMDB_OK); /* before its increment */
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 2);
    cr_assert_eq(incr("b", 4), MEMDB_OK);
    cr_assert_eq(get("b"), 0);
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 1, "a word at 0 is absent");
    cr_assert_eq(total, 3);
    cr_assert_eq(incr("a", 0 - 3ULL), MEMDB_OK);
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 0);
    cr_assert_eq(total, 0);
    cr_assert_eq(incr("a", 1), MEMDB_OK); /* counts again from 0 */
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 1);
    cr_assert_eq(get("a"), 1);
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
    ht_copy_t cp = { 0 };
    size_t seen = 0;

    for (int i = 0; i < 50000; i++) {
        snprintf(w, sizeof(w), "k%d", i);
        incr(w, 1);
    }
    char *mark = calloc(50000, 1);
    for (unsigned p = 0; p < HT_PARTS; p++) {
        long n = ht_part_copy(&s.ht, p, &cp);
        for (long i = 0; i < n; i++) {
            char key[32];
            cr_assert_lt(cp.items[i].len, sizeof(key));
            memcpy(key, ht_copy_key(&cp, (size_t) i), cp.items[i].len);
            key[cp.items[i].len] = '\0';
            int k = atoi(key + 1);
            cr_assert(key[0] == 'k' && k >= 0 && k < 50000);
            cr_assert_eq(cp.items[i].count, 1);
            cr_assert_eq(mark[k], 0, "word listed twice");
            mark[k] = 1;
            seen++;
        }
    }
    cr_assert_eq(seen, 50000);
    free(mark);
    ht_copy_free(&cp);
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

/* ---- sweeps ---------------------------------------------------------- */

static bool
dead_a(const char *key, size_t len, uint64_t count, void *arg)
{
    (void) arg;
    return count == 0 || (len > 0 && key[0] == 'a');
}

static uint64_t
sweep_all(void)
{
    uint64_t total = 0, freed;

    for (unsigned p = 0; p < HT_PARTS; p++) {
        cr_assert_eq(ht_sweep_part(&s.ht, p, dead_a, NULL, NULL, &freed),
                     MEMDB_OK);
        total += freed;
    }
    return total;
}

static void
fill(char c, int n, uint64_t d)
{
    char w[32];

    for (int i = 0; i < n; i++) {
        snprintf(w, sizeof(w), "%c%06d", c, i);
        cr_assert_eq(incr(w, d), MEMDB_OK);
    }
}

/* A sweep takes out exactly the entries named dead (and those at 0), the
 * totals follow, and new words of the same size reuse their memory. */
Test(ht, sweep_takes_out_the_dead_and_their_memory_is_reused)
{
    enum { N = 20000 };
    uint64_t distinct, total, used0, top0, top1;
    char w[32];

    fill('a', N, 3);
    fill('b', N, 2);
    incr("zero", 5);
    incr("zero", (uint64_t) -5);
    used0 = arena_used(s.arena);
    top0 = arena_top(s.arena);
    cr_assert_eq(sweep_all(), N + 1);
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, N);
    cr_assert_eq(total, 2 * N);
    cr_assert_eq(get("a000007"), 0);
    cr_assert_eq(get("b000007"), 2);
    cr_assert_lt(arena_used(s.arena), used0 - N * 16, "the entries are free");
    cr_assert_eq(sweep_all(), 0, "nothing left to sweep");
    fill('c', N, 1);
    top1 = arena_top(s.arena);
    /* their entries are 24 bytes each: what is cut is the indexes'
     * growth (there are twice as many words now) */
    cr_assert_lt(top1 - top0, (uint64_t) N * 24 / 3,
                 "new words took the swept entries (%llu bytes cut)",
                 (unsigned long long) (top1 - top0));
    for (int i = 0; i < N; i += 997) {
        snprintf(w, sizeof(w), "c%06d", i);
        cr_assert_eq(get(w), 1);
        snprintf(w, sizeof(w), "b%06d", i);
        cr_assert_eq(get(w), 2);
    }
    ht_totals(&s.ht, &distinct, &total);
    cr_assert_eq(distinct, 2 * N);
    cr_assert_eq(total, 3 * N);
}

/* Readers in other processes never see a live word wrong while sweeps
 * take dead words out and new words take their entries. */
Test(ht, readers_see_live_words_exact_through_sweeps)
{
    enum { N = 4000, ROUNDS = 6, READERS = 2 };
    pid_t pids[READERS];
    _Atomic uint32_t *stop = &shm_worker(&s, 3)->want_wake;

    fill('b', N, 7);
    atomic_store(stop, 0);
    for (int r = 0; r < READERS; r++) {
        pids[r] = fork();
        cr_assert(pids[r] >= 0);
        if (pids[r] == 0) {
            char w[32];
            ht_copy_t cp = { 0 };
            shm_attach_child(&s);
            for (unsigned k = 0; !atomic_load(stop); k++) {
                snprintf(w, sizeof(w), "b%06u", k % N);
                if (get(w) != 7)
                    _exit(1);
                long n = ht_part_copy(&s.ht, k % HT_PARTS, &cp);
                for (long i = 0; i < n; i++) {
                    char c0 = ht_copy_key(&cp, (size_t) i)[0];
                    /* b: live all along; a: 1 each, or swept (a free
                     * entry holds a list link where its count was) */
                    if (cp.items[i].len != 7
                        || cp.items[i].count != (c0 == 'b' ? 7 : 1))
                        _exit(2);
                }
            }
            _exit(0);
        }
    }
    for (int round = 0; round < ROUNDS; round++) {
        fill('a', N, 1);
        sweep_all();
    }
    atomic_store(stop, 1);
    for (int r = 0; r < READERS; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a reader saw a live word wrong (exit %d)", WEXITSTATUS(st));
    }
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
    eoff = ht_lookup(&s.ht, h, w, strlen(w));
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
    uint64_t eoff;

    incr(w, 10);
    eoff = ht_lookup(&s.ht, h, w, strlen(w));
    cr_assert_neq(eoff, 0);
    cr_assert(lock_try(&p->lock, 999998));
    atomic_store(&wk->progress, 4); /* word 3 applied and recorded */
    p->undo_old = 10;
    p->undo_idx = 3;
    p->undo_worker = 1;
    p->undo_entry = eoff;
    atomic_store(&ht_entry(&s.ht, eoff)->count, 12);
    shm_repair_dead(&s, 999998, 1);
    cr_assert_eq(get(w), 12);
    cr_assert_eq(lock_holder(&p->lock), 0);
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
            apply_record(&s, rec.data, 0, 2, &wk->progress, 0);
            pause();
            _exit(0);
        }
        usleep((useconds_t) (rand() % 4000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        shm_repair_dead(&s, pid, 2);
        uint32_t done = atomic_load(&wk->progress);
        midway += done > 0 && done < WORDS;
        apply_record(&s, rec.data, done, -1, NULL, 0);
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

/* A record apply_fits() lets in must fit whole: a replica logs only what
 * it can apply.  A word the table default has is still new to another
 * table (its key has the table's prefix), so it costs memory there. */
static void
fits_record(buf_t *rec, uint64_t uid, int n)
{
    char w[32];

    rec->len = 0;
    rec_begin(rec, REC_UPLOAD);
    if (uid != 0)
        rec_set_table(rec, uid);
    for (int i = 0; i < n; i++) {
        snprintf(w, sizeof(w), "f%07d", i);
        rec_add(rec, w, strlen(w), 1);
    }
    rec_finish(rec->data, 1, 0);
    ((rec_hdr_t *) rec->data)->len = (uint32_t) rec->len;
    rec_seal(rec->data);
}

Test(fits, a_word_of_default_is_new_to_another_table)
{
    shm_params_t p = { .max_memory = 1ULL << 20,
                       .ring_size = 1 << 20,
                       .nworkers = 1,
                       .node_id = "t",
                       .max_tables = 4 };
    shm_t m;
    buf_t rec = { 0 };
    char w[32];
    ht_progress_t pg = { .worker = -1, .progress = NULL, .idx = 0 };

    cr_assert_eq(shm_create(&m, &p), MEMDB_OK);
    cr_assert_eq(cat_create(&m.cat, 77, "t", 1, NULL, 0, 0, 1), MEMDB_OK);
    /* fill the store to 64 KiB short of its room */
    for (int i = 0; shm_mem_used(&m) + (64 << 10) < shm_mem_room(&m); i++) {
        snprintf(w, sizeof(w), "f%07d", i);
        cr_assert_eq(ht_incr(&m.ht, ht_hash(w, 8), w, 8, 1, &pg), MEMDB_OK);
    }
    fits_record(&rec, 0, 4000);
    cr_assert(apply_fits(&m, rec.data), "words it has cost nothing");
    fits_record(&rec, 77, 4000);
    cr_assert_not(apply_fits(&m, rec.data),
                  "4000 words new to table t cannot fit in 64 KiB");
    fits_record(&rec, 77, 100);
    cr_assert(apply_fits(&m, rec.data), "100 of them can");
    buf_free(&rec);
    shm_destroy(&m);
}

/* Each partition's bound is at least every count in it, follows the
 * increments, stays when a count goes down, and is exact after a sweep;
 * a negative delta applied first (recovery's order) does not raise it. */
Test(ht, partition_bounds_hold_every_count)
{
    const char *w = "bound";
    uint64_t h = ht_hash(w, strlen(w));
    unsigned p = (unsigned) (h >> (64 - HT_PARTS_LOG2));
    uint64_t freed;

    cr_assert_eq(ht_part_max(&s.ht, p), 0);
    incr(w, (uint64_t) -4); /* a retract applied before its upload */
    cr_assert_eq(ht_part_max(&s.ht, p), 0);
    incr(w, 10);
    cr_assert_eq(ht_part_max(&s.ht, p), 6);
    incr(w, 7);
    cr_assert_eq(ht_part_max(&s.ht, p), 13);
    incr(w, (uint64_t) -12);
    cr_assert_eq(get(w), 1);
    cr_assert_eq(ht_part_max(&s.ht, p), 13, "a bound, not the count");
    cr_assert_eq(ht_sweep_part(&s.ht, p, dead_a, NULL, NULL, &freed),
                 MEMDB_OK);
    cr_assert_eq(ht_part_max(&s.ht, p), 13, "nothing dead: not rebuilt");
    /* a dead word of the same partition: the sweep recounts the bound */
    char dw[32];
    for (int i = 0;; i++) {
        snprintf(dw, sizeof(dw), "a%d", i);
        if ((unsigned) (ht_hash(dw, strlen(dw)) >> (64 - HT_PARTS_LOG2)) == p)
            break;
    }
    incr(dw, 50);
    cr_assert_eq(ht_part_max(&s.ht, p), 50);
    cr_assert_eq(ht_sweep_part(&s.ht, p, dead_a, NULL, NULL, &freed),
                 MEMDB_OK);
    cr_assert_eq(freed, 1);
    cr_assert_eq(ht_part_max(&s.ht, p), 1, "exact after a sweep");
    for (unsigned q = 0; q < HT_PARTS; q++) {
        ht_copy_t cp = { 0 };
        long n = ht_part_copy(&s.ht, q, &cp);
        for (long i = 0; i < n; i++)
            cr_assert_leq(cp.items[i].count, ht_part_max(&s.ht, q));
        ht_copy_free(&cp);
    }
}

/* The leaders of a partition, checked against its words: each a word of
 * the partition with its count, none below any other word's (rest bounds
 * the others, 0 when there are none), as many as min(HT_TOP, words). */
static void
check_leaders(unsigned p)
{
    ht_copy_t all = { 0 }, lead = { 0 };
    uint64_t rest, low = UINT64_MAX;
    long n = ht_part_copy(&s.ht, p, &all);
    long k = ht_part_top(&s.ht, p, &lead, &rest);
    size_t live = 0;

    for (long i = 0; i < n; i++)
        live += all.items[i].count < (1ULL << 63);
    cr_assert_eq((size_t) k, live < HT_TOP ? live : HT_TOP,
                 "partition %u: %ld leaders of %zu words", p, k, live);
    for (long j = 0; j < k; j++) {
        const char *lk = ht_copy_key(&lead, (size_t) j);
        uint16_t ll = lead.items[j].len;
        cr_assert_eq(lead.items[j].count,
                     ht_get(&s.ht, ht_hash(lk, ll), lk, ll));
        low = MEMDB_MIN(low, lead.items[j].count);
    }
    if (live > (size_t) k)
        cr_assert_eq(rest, low);
    else /* (low when a word below 0 is there too) */
        cr_assert(rest == 0 || rest == low);
    for (long i = 0; i < n; i++) {
        const char *key = ht_copy_key(&all, (size_t) i);
        bool is_leader = false;
        if (all.items[i].count >= (1ULL << 63))
            continue; /* on its way through a negative delta */
        for (long j = 0; j < k; j++)
            is_leader |= lead.items[j].len == all.items[i].len
                         && memcmp(ht_copy_key(&lead, (size_t) j), key,
                                   all.items[i].len)
                                == 0;
        cr_assert(is_leader || all.items[i].count <= low,
                  "partition %u: %.*s (%llu) is above a leader (%llu)", p,
                  (int) all.items[i].len, key,
                  (unsigned long long) all.items[i].count,
                  (unsigned long long) low);
    }
    ht_copy_free(&all);
    ht_copy_free(&lead);
}

static bool
dead_odd(const char *key, size_t len, uint64_t count, void *arg)
{
    (void) arg;
    return count == 0 || (key[len - 1] - '0') % 2 == 1;
}

/* Random rises, falls (retracts, resets, a negative delta before its
 * upload), sweeps and a zeroing, on words crowded into 8 partitions:
 * the leaders stay exact through all of them. */
Test(ht, leaders_stay_the_highest_words_of_their_partition)
{
    enum { NW = 400, NP = 8 };
    static char words[NW][16];
    static uint64_t model[NW];
    unsigned parts[NP];
    size_t nw = 0;
    uint64_t seed = 42, freed;

    for (unsigned i = 0; i < NP; i++)
        parts[i] = (i * 509) % HT_PARTS;
    for (unsigned i = 0; nw < NW; i++) { /* words of those partitions */
        char w[16];
        snprintf(w, sizeof(w), "w%u", i);
        unsigned p = (unsigned) (ht_hash(w, strlen(w))
                                 >> (64 - HT_PARTS_LOG2));
        for (unsigned j = 0; j < NP; j++)
            if (parts[j] == p)
                memcpy(words[nw++], w, sizeof(w));
    }
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t) (seed >> 33) % NW;
        unsigned r = (unsigned) (seed >> 20) % 100;
        uint64_t d = r < 70   ? 1 + (seed >> 40) % 5 /* an upload */
                     : r < 85 ? (uint64_t) - (int64_t) (1 + (seed >> 40) % 3)
                     : r < 95 ? (uint64_t) -model[i] /* a reset */
                              : 1000;                /* a jump */
        model[i] += d;
        cr_assert_eq(incr(words[i], d), MEMDB_OK);
        if (step % 97 == 0)
            for (unsigned j = 0; j < NP; j++)
                check_leaders(parts[j]);
        if (step == 10000)
            for (unsigned j = 0; j < NP; j++)
                cr_assert_eq(ht_sweep_part(&s.ht, parts[j], dead_odd, NULL,
                                           NULL, &freed),
                             MEMDB_OK);
        if (step == 10000)
            for (size_t k = 0; k < NW; k++)
                if ((words[k][strlen(words[k]) - 1] - '0') % 2 == 1)
                    model[k] = 0; /* swept: gone */
    }
    for (size_t k = 0; k < NW; k++)
        cr_assert_eq(get(words[k]), model[k]);
    for (unsigned j = 0; j < NP; j++)
        check_leaders(parts[j]);
    ht_zero(&s.ht);
    for (unsigned j = 0; j < NP; j++)
        check_leaders(parts[j]);
    /* exactly HT_TOP words: no other word, so no bound of others */
    unsigned p0 = parts[0];
    size_t put = 0;
    for (size_t k = 0; k < NW && put < HT_TOP; k++)
        if ((unsigned) (ht_hash(words[k], strlen(words[k]))
                        >> (64 - HT_PARTS_LOG2))
            == p0) {
            cr_assert_eq(incr(words[k], 3 + put++), MEMDB_OK);
        }
    ht_copy_t lead = { 0 };
    uint64_t rest = 1;
    cr_assert_eq(ht_part_top(&s.ht, p0, &lead, &rest), HT_TOP);
    cr_assert_eq(rest, 0, "the leaders are all its words");
    ht_copy_free(&lead);
    check_leaders(p0);
}
