/*
 * test_cstate.c - the cluster state: epoch histories, where two logs part
 * (cstate_fork), finding an origin's epoch, and the state file.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "replicator/cstate.h"
#include "tests/unit/tmpdir.h"

#include <stdio.h>
#include <string.h>

#define A 0xaaaaULL
#define B 0xbbbbULL

/* Two logs that agree on (epoch, leader) part where either says another. */
Test(cstate, fork_compares_epoch_and_leader)
{
    frame_hist_t x[] = { { 1, 1, A }, { 3, 50, B } };
    frame_hist_t y[] = { { 1, 1, A }, { 3, 50, B }, { 4, 70, A } };
    frame_hist_t z[] = { { 1, 1, A }, { 3, 40, A } }; /* another leader */

    cr_assert_eq(cstate_fork(x, 2, 60, y, 3, 80), 60); /* a prefix */
    cr_assert_eq(cstate_fork(x, 2, 80, y, 3, 90), 69); /* x went on in 3 */
    cr_assert_eq(cstate_fork(x, 2, 60, z, 2, 60), 39);
}

/* Two leaders of one epoch (two clusters that met) are told apart. */
Test(cstate, same_epoch_other_leader_parts_at_its_start)
{
    frame_hist_t x[] = { { 0, 1, A }, { 1, 11, A } };
    frame_hist_t y[] = { { 0, 1, A }, { 1, 11, B } };
    frame_hist_t u[] = { { 1, 1, A } };
    frame_hist_t v[] = { { 1, 1, B } };

    cr_assert_eq(cstate_fork(x, 2, 30, y, 2, 40), 10);
    cr_assert_eq(cstate_fork(u, 1, 30, v, 1, 40), 0);
    /* a log with no history for its first records (data from before it
     * joined) agrees with nobody's labelled records */
    cr_assert_eq(cstate_fork(u, 1, 30, NULL, 0, 40), 0);
}

Test(cstate, hist_find_gives_the_range_of_an_epoch)
{
    frame_hist_t h[] = { { 2, 1, A }, { 5, 20, B }, { 6, 35, A } };
    uint64_t end = 0;

    cr_assert_eq(cstate_hist_find(h, 3, 5, B, &end), &h[1]);
    cr_assert_eq(end, 34);
    cr_assert_eq(cstate_hist_find(h, 3, 6, A, &end), &h[2]);
    cr_assert_eq(end, UINT64_MAX);
    cr_assert_null(cstate_hist_find(h, 3, 5, A, &end));
    cr_assert_eq(cstate_hist_at(h, 3, 19), &h[0]);
    cr_assert_eq(cstate_hist_at(h, 3, 20), &h[1]);
    cr_assert_null(cstate_hist_at(h + 1, 2, 3));
}

/* The file keeps the leaders' boot ids, and an entry written before they
 * existed ("history E LSN") still loads, with boot 0. */
Test(cstate, file_round_trip_keeps_boot_ids)
{
    char dir[1100], path[1200];
    cstate_t cs, back;
    char err[256];
    FILE *f;

    tmpdir_make(dir, sizeof(dir), "cstate");
    cr_assert_eq(cstate_load(&cs, dir, err, sizeof(err)), MEMDB_OK, "%s", err);
    cs.epoch = 6;
    cstate_hist_add(&cs, 2, 1, A);
    cstate_hist_add(&cs, 5, 20, B);
    cstate_hist_add(&cs, 5, 25, A); /* not a new epoch: ignored */
    cr_assert_eq(cs.nhist, 2);
    cr_assert_eq(cstate_save(&cs), MEMDB_OK);
    cr_assert_eq(cstate_load(&back, dir, err, sizeof(err)), MEMDB_OK, "%s",
                 err);
    cr_assert_eq(back.nhist, 2);
    cr_assert_eq(back.hist[1].epoch, 5);
    cr_assert_eq(back.hist[1].start_lsn, 20);
    cr_assert_eq(back.hist[1].boot, B);

    /* damaged: the checksum line no longer matches */
    snprintf(path, sizeof(path), "%s/cluster/state", dir);
    f = fopen(path, "a");
    fputs("history 9 90\n", f);
    fclose(f);
    cr_assert_eq(cstate_load(&back, dir, err, sizeof(err)), MEMDB_ERR);
    tmpdir_remove(dir);
}
