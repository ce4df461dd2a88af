/*
 * test_catalog.c - the tables of a store: names, generations, the key
 * prefix, and operations applied twice (idempotent by LSN).
 */
#include <criterion/criterion.h>

#include "shm/catalog.h"

#include <string.h>

static cat_t c;

static void
setup(void)
{
    cat_private(&c, 4); /* default and 3 more */
}

static void
teardown(void)
{
    cat_private_free(&c);
}

TestSuite(catalog, .init = setup, .fini = teardown);

Test(catalog, starts_with_default_at_generation_0)
{
    cat_view_t v;

    cr_assert_eq(cat_count(&c), 1);
    cr_assert_eq(cat_find(&c, "default", 7, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 0);
    cr_assert_eq(v.uid, 0);
    cr_assert_eq(cat_find(&c, "defaul", 6, &v), MEMDB_NOENT);
    cr_assert_eq(cat_find_uid(&c, 0, &v), MEMDB_OK);
}

Test(catalog, names)
{
    cr_assert(cat_name_ok("a", 1));
    cr_assert(cat_name_ok("t_1-x", 5));
    cr_assert(!cat_name_ok("", 0));
    cr_assert(!cat_name_ok("A", 1));
    cr_assert(!cat_name_ok("a b", 3));
    cr_assert(!cat_name_ok("a/b", 3));
    char long_name[66];
    memset(long_name, 'a', 65);
    cr_assert(cat_name_ok(long_name, 64));
    cr_assert(!cat_name_ok(long_name, 65));
}

Test(catalog, create_truncate_drop_move_generations_in_order)
{
    cat_view_t v;
    unsigned char prof[3] = { 1, 2, 3 }, got[CAT_PROF_MAX];

    cr_assert_eq(cat_create(&c, 11, "t", 1, prof, 3, 5, 10), MEMDB_OK);
    cr_assert_eq(cat_find(&c, "t", 1, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 1);
    cr_assert_eq(v.op_lsn, 10);
    cr_assert_eq(v.created_ms, 5);
    cr_assert_eq(cat_profile(&c, &v, got), 3);
    cr_assert(memcmp(got, prof, 3) == 0);
    /* applied again (the master finishing a dead worker's record) */
    cr_assert_eq(cat_create(&c, 11, "t", 1, prof, 3, 5, 10), MEMDB_OK);
    cr_assert_eq(cat_count(&c), 2);
    cr_assert_eq(cat_create(&c, 12, "t", 1, NULL, 0, 5, 11), MEMDB_EXISTS);
    cr_assert_eq(cat_truncate(&c, 11, 12), MEMDB_OK);
    cr_assert_eq(cat_truncate(&c, 11, 12), MEMDB_OK); /* again: nothing */
    cr_assert_eq(cat_find(&c, "t", 1, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 2);
    /* a copy taken before the truncate sees that it changed */
    cat_view_t old = v;
    cr_assert_eq(cat_truncate(&c, 11, 13), MEMDB_OK);
    cr_assert_eq(cat_profile(&c, &old, got), -1);
    cr_assert_eq(cat_drop(&c, 11, 14), MEMDB_OK);
    cr_assert_eq(cat_drop(&c, 11, 14), MEMDB_OK);
    cr_assert_eq(cat_find(&c, "t", 1, &v), MEMDB_NOENT);
    cr_assert_eq(cat_truncate(&c, 11, 15), MEMDB_NOENT);
    cr_assert_eq(cat_drop(&c, 0, 16), MEMDB_ERR, "default stays");
    /* a new t is another table, at a new generation */
    cr_assert_eq(cat_create(&c, 13, "t", 1, NULL, 0, 6, 17), MEMDB_OK);
    cr_assert_eq(cat_find(&c, "t", 1, &v), MEMDB_OK);
    cr_assert_eq(v.gen, 4);
    cr_assert_eq(v.uid, 13);
    cr_assert_eq(cat_profile(&c, &v, got), 0);
}

Test(catalog, a_full_catalog_refuses_another)
{
    cr_assert_eq(cat_create(&c, 1, "a", 1, NULL, 0, 0, 1), MEMDB_OK);
    cr_assert_eq(cat_create(&c, 2, "b", 1, NULL, 0, 0, 2), MEMDB_OK);
    cr_assert_eq(cat_create(&c, 3, "c", 1, NULL, 0, 0, 3), MEMDB_OK);
    cr_assert_eq(cat_create(&c, 4, "d", 1, NULL, 0, 0, 4), MEMDB_BUSY);
    cr_assert_eq(cat_count(&c), 4);
    cat_reset(&c);
    cr_assert_eq(cat_count(&c), 1);
    cr_assert_eq(atomic_load(&c.hdr->next_gen), 1);
}

Test(catalog, key_prefixes_name_their_generation)
{
    unsigned char p[CAT_PREFIX_MAX];
    char key[16];
    uint64_t gen;
    size_t skip, n;
    const uint64_t gens[] = { 1, 127, 128, 300, 1ULL << 31, UINT32_MAX };

    cr_assert_eq(cat_prefix(0, p), 0);
    cr_assert(cat_key_gen("word", 4, &gen, &skip));
    cr_assert_eq(gen, 0);
    cr_assert_eq(skip, 0);
    cr_assert(!cat_key_gen("\xff\x01", 2, &gen, &skip), "an internal key");
    for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
        n = cat_prefix(gens[i], p);
        cr_assert(n >= 2 && n <= CAT_PREFIX_MAX);
        cr_assert_eq(p[0], CAT_KEY_BYTE);
        memcpy(key, p, n);
        key[n] = 'w';
        cr_assert(cat_key_gen(key, n + 1, &gen, &skip));
        cr_assert_eq(gen, gens[i]);
        cr_assert_eq(skip, n);
        /* cut before its end: not a key of any generation */
        cr_assert(!cat_key_gen(key, n - 1, &gen, &skip) || n - 1 == 1);
    }
}
