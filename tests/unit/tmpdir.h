/*
 * tmpdir.h - a temp directory for the unit tests that write files: made
 * by a suite's setup, removed with everything in it by its teardown.
 * Include after defining _GNU_SOURCE (nftw).
 */
#ifndef MEMDB_TESTS_UNIT_TMPDIR_H
#define MEMDB_TESTS_UNIT_TMPDIR_H

#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int
tmpdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void) sb;
    (void) flag;
    (void) f;
    return remove(p);
}

/* Makes /tmp/memdb-test-NAME-XXXXXX; its path goes to dir. */
static inline void
tmpdir_make(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/memdb-test-%s-XXXXXX", name);
    cr_assert_not_null(mkdtemp(dir));
}

static inline void
tmpdir_remove(const char *dir)
{
    nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
