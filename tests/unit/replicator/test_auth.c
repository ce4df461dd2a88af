/*
 * test_auth.c - the shared secret (loading, key derivation), MACs,
 * session keys, nonces and the replay window.
 */
#include <criterion/criterion.h>

#include "replicator/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* ---- helpers ---------------------------------------------------------- */

static char dir[256];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/memdb-test-auth-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Writes n bytes to dir/name and returns the path (static buffer). */
static const char *
write_file(const char *name, const void *p, size_t n)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void
hash(const void *p, size_t n, unsigned char out[AUTH_KEY])
{
    cr_assert_eq(sodium_init() < 0, 0);
    crypto_generichash(out, AUTH_KEY, p, n, NULL, 0);
}

static void
key_of(unsigned char key[AUTH_KEY], unsigned char seed)
{
    for (int i = 0; i < AUTH_KEY; i++)
        key[i] = (unsigned char) (seed + 7 * i);
}

static void
hex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char) v;
    }
}

/* ---- auth_load -------------------------------------------------------- */

TestSuite(auth_load, .init = setup, .fini = teardown);

Test(auth_load, key_is_blake2b_of_the_content)
{
    static const char s[] = "correct horse battery staple";
    unsigned char want[AUTH_KEY];
    auth_t a;
    char err[256] = "";

    memset(&a, 0xff, sizeof(a));
    cr_assert_eq(
        auth_load(&a, write_file("s", s, strlen(s)), err, sizeof(err)),
        MEMDB_OK, "%s", err);
    cr_assert(a.on);
    hash(s, strlen(s), want);
    cr_assert(memcmp(a.key, want, AUTH_KEY) == 0);
}

Test(auth_load, one_trailing_newline_is_stripped)
{
    auth_t a, b, c;
    char err[256];

    cr_assert_eq(auth_load(&a, write_file("a", "0123456789abcdef", 16), err,
                           sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(auth_load(&b, write_file("b", "0123456789abcdef\n", 17), err,
                           sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert_eq(auth_load(&c, write_file("c", "0123456789abcdef\n\n", 18),
                           err, sizeof(err)),
                 MEMDB_OK, "%s", err);
    cr_assert(memcmp(a.key, b.key, AUTH_KEY) == 0, "newline ignored");
    cr_assert(memcmp(a.key, c.key, AUTH_KEY) != 0, "only one stripped");
}

Test(auth_load, binary_secrets_and_different_secrets)
{
    unsigned char bin[64], want[AUTH_KEY];
    auth_t a, b;
    char err[256];

    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char) (i * 37); /* includes NUL bytes */
    cr_assert_eq(
        auth_load(&a, write_file("bin", bin, sizeof(bin)), err, sizeof(err)),
        MEMDB_OK, "%s", err);
    hash(bin, sizeof(bin), want);
    cr_assert(memcmp(a.key, want, AUTH_KEY) == 0);
    bin[63] ^= 1;
    cr_assert_eq(
        auth_load(&b, write_file("bin2", bin, sizeof(bin)), err, sizeof(err)),
        MEMDB_OK, "%s", err);
    cr_assert(memcmp(a.key, b.key, AUTH_KEY) != 0);
}

Test(auth_load, missing_file)
{
    auth_t a;
    char err[256] = "", path[300];

    snprintf(path, sizeof(path), "%s/nope", dir);
    memset(&a, 0xff, sizeof(a));
    cr_assert_eq(auth_load(&a, path, err, sizeof(err)), MEMDB_ERR);
    cr_assert_not(a.on);
    cr_assert_not_null(strstr(err, path), "error names the file: %s", err);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
}

Test(auth_load, directory)
{
    auth_t a;
    char err[256] = "";

    cr_assert_eq(auth_load(&a, dir, err, sizeof(err)), MEMDB_ERR);
    cr_assert_not(a.on);
    cr_assert(err[0] != '\0');
}

Test(auth_load, short_secrets)
{
    static const struct {
        const char *s;
        bool ok;
    } c[] = {
        { "", false },
        { "\n", false },
        { "0123456789abcde", false },   /* 15 */
        { "0123456789abcde\n", false }, /* 15 + newline */
        { "0123456789abcdef", true },   /* 16 */
        { "0123456789abcdef\n", true },
        { "0123456789abcde\n\n", true }, /* 16 after one strip */
    };

    for (size_t i = 0; i < MEMDB_NELEM(c); i++) {
        auth_t a;
        char err[256] = "";
        int rc = auth_load(&a, write_file("s", c[i].s, strlen(c[i].s)), err,
                           sizeof(err));
        cr_assert_eq(rc, c[i].ok ? MEMDB_OK : MEMDB_ERR, "case %zu: %s", i,
                     err);
        cr_assert_eq(a.on, c[i].ok);
        if (!c[i].ok)
            cr_assert_not_null(strstr(err, "short"), "%s", err);
    }
}

Test(auth_load, size_limit)
{
    unsigned char *big = malloc(64 * 1024 + 1);
    auth_t a;
    char err[256] = "";

    cr_assert_not_null(big);
    memset(big, 's', 64 * 1024 + 1);
    cr_assert_eq(
        auth_load(&a, write_file("max", big, 64 * 1024), err, sizeof(err)),
        MEMDB_OK, "%s", err);
    cr_assert(a.on);
    cr_assert_eq(
        auth_load(&a, write_file("big", big, 64 * 1024 + 1), err, sizeof(err)),
        MEMDB_ERR);
    cr_assert_not(a.on);
    cr_assert_not_null(strstr(err, "larger"), "%s", err);
    free(big);
}

/* ---- MACs ------------------------------------------------------------- */

Test(auth, mac_known_answer)
{
    /* RFC 4231 test case 2 (HMAC-SHA-512 truncated to 256 bits): a key
     * shorter than the block is zero-padded, so "Jefe" and 28 zeros is
     * the same key. */
    unsigned char key[AUTH_KEY] = "Jefe", mac[AUTH_MAC], want[AUTH_MAC];
    static const char msg[] = "what do ya want for nothing?";

    hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554",
        want, AUTH_MAC);
    auth_mac(key, msg, strlen(msg), mac);
    cr_assert(memcmp(mac, want, AUTH_MAC) == 0);
    cr_assert(auth_verify(key, msg, strlen(msg), want));
}

Test(auth, mac_verifies_and_any_flipped_bit_fails)
{
    unsigned char key[AUTH_KEY], k2[AUTH_KEY], mac[AUTH_MAC], msg[200];

    key_of(key, 1);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char) (i * 13 + 5);
    auth_mac(key, msg, sizeof(msg), mac);
    cr_assert(auth_verify(key, msg, sizeof(msg), mac));

    for (size_t i = 0; i < sizeof(msg) * 8; i++) {
        msg[i / 8] ^= (unsigned char) (1u << (i % 8));
        cr_assert_not(auth_verify(key, msg, sizeof(msg), mac), "msg bit %zu",
                      i);
        msg[i / 8] ^= (unsigned char) (1u << (i % 8));
    }
    for (size_t i = 0; i < AUTH_MAC * 8; i++) {
        mac[i / 8] ^= (unsigned char) (1u << (i % 8));
        cr_assert_not(auth_verify(key, msg, sizeof(msg), mac), "mac bit %zu",
                      i);
        mac[i / 8] ^= (unsigned char) (1u << (i % 8));
    }
    for (size_t i = 0; i < AUTH_KEY * 8; i++) {
        memcpy(k2, key, AUTH_KEY);
        k2[i / 8] ^= (unsigned char) (1u << (i % 8));
        cr_assert_not(auth_verify(k2, msg, sizeof(msg), mac), "key bit %zu",
                      i);
    }
    /* Shorter or longer coverage fails too. */
    cr_assert_not(auth_verify(key, msg, sizeof(msg) - 1, mac));
    cr_assert(auth_verify(key, msg, sizeof(msg), mac));
}

Test(auth, mac_is_deterministic_and_covers_empty_input)
{
    unsigned char key[AUTH_KEY], a[AUTH_MAC], b[AUTH_MAC], c[AUTH_MAC];

    key_of(key, 9);
    auth_mac(key, "", 0, a);
    auth_mac(key, "", 0, b);
    auth_mac(key, "x", 1, c);
    cr_assert(memcmp(a, b, AUTH_MAC) == 0);
    cr_assert(memcmp(a, c, AUTH_MAC) != 0);
    cr_assert(auth_verify(key, "", 0, a));
    cr_assert_not(auth_verify(key, "x", 1, a));
}

/* ---- session keys and nonces ------------------------------------------ */

/* The keys of a replication connection: keyed BLAKE2b of a tag byte and
 * the nonces; each key differs from the others, from the long-term key,
 * and with any bit of either nonce. */
Test(auth, session_keys)
{
    unsigned char key[AUTH_KEY], key2[AUTH_KEY], nl[32], nr[32], cat[65];
    unsigned char kl[AUTH_KEY], kr[AUTH_KEY], kh[AUTH_KEY], s2[AUTH_KEY];
    unsigned char want[AUTH_KEY];

    key_of(key, 3);
    key_of(key2, 4);
    memset(nl, 0x11, sizeof(nl));
    memset(nr, 0x22, sizeof(nr));

    cat[0] = 'L';
    memcpy(cat + 1, nl, 32);
    memcpy(cat + 33, nr, 32);
    cr_assert_eq(sodium_init() < 0, 0);
    crypto_generichash(want, AUTH_KEY, cat, sizeof(cat), key, AUTH_KEY);
    auth_session(key, AUTH_K_LEADER, nl, nr, 32, kl);
    cr_assert(memcmp(kl, want, AUTH_KEY) == 0);
    cat[0] = 'R';
    crypto_generichash(want, AUTH_KEY, cat, sizeof(cat), key, AUTH_KEY);
    auth_session(key, AUTH_K_REPLICA, nl, nr, 32, kr);
    cr_assert(memcmp(kr, want, AUTH_KEY) == 0);
    cat[0] = 'H';
    crypto_generichash(want, AUTH_KEY, cat, 33, key, AUTH_KEY);
    auth_session(key, AUTH_K_HELLO, nl, NULL, 32, kh);
    cr_assert(memcmp(kh, want, AUTH_KEY) == 0, "HELLO: the leader's nonce");

    auth_session(key, AUTH_K_LEADER, nl, nr, 32, s2);
    cr_assert(memcmp(kl, s2, AUTH_KEY) == 0, "deterministic");
    cr_assert(memcmp(kl, kr, AUTH_KEY) != 0, "one key per direction");
    cr_assert(memcmp(kl, kh, AUTH_KEY) != 0);
    cr_assert(memcmp(kr, kh, AUTH_KEY) != 0);
    cr_assert(memcmp(kl, key, AUTH_KEY) != 0, "not the long-term key");
    cr_assert(memcmp(kh, key, AUTH_KEY) != 0);

    auth_session(key, AUTH_K_LEADER, nr, nl, 32, s2);
    cr_assert(memcmp(kl, s2, AUTH_KEY) != 0, "order matters");
    auth_session(key2, AUTH_K_LEADER, nl, nr, 32, s2);
    cr_assert(memcmp(kl, s2, AUTH_KEY) != 0, "key matters");
    for (size_t i = 0; i < 32 * 8; i++) {
        nl[i / 8] ^= (unsigned char) (1u << (i % 8));
        auth_session(key, AUTH_K_LEADER, nl, nr, 32, s2);
        cr_assert(memcmp(kl, s2, AUTH_KEY) != 0, "nonce_l bit %zu", i);
        auth_session(key, AUTH_K_HELLO, nl, NULL, 32, s2);
        cr_assert(memcmp(kh, s2, AUTH_KEY) != 0, "HELLO nonce_l bit %zu", i);
        nl[i / 8] ^= (unsigned char) (1u << (i % 8));
        nr[i / 8] ^= (unsigned char) (1u << (i % 8));
        auth_session(key, AUTH_K_LEADER, nl, nr, 32, s2);
        cr_assert(memcmp(kl, s2, AUTH_KEY) != 0, "nonce_r bit %zu", i);
        auth_session(key, AUTH_K_REPLICA, nl, nr, 32, s2);
        cr_assert(memcmp(kr, s2, AUTH_KEY) != 0, "nonce_r bit %zu", i);
        nr[i / 8] ^= (unsigned char) (1u << (i % 8));
    }
}

/* What the handshake of version 1 let through: the WELCOME of a recorded
 * handshake, replayed after the recorded CHALLENGE to a replica that sent
 * a fresh nonce, verified, because its key depended on the leader's nonce
 * alone.  Now it is made with the key of both nonces and fails. */
Test(auth, recorded_welcome_fails_with_a_fresh_replica_nonce)
{
    unsigned char key[AUTH_KEY], nl[32], nr_then[32], nr_now[32];
    unsigned char k_then[AUTH_KEY], k_now[AUTH_KEY], mac[AUTH_MAC];
    static const char welcome[] = "MREP... a WELCOME frame";

    key_of(key, 8);
    auth_nonce(nl, sizeof(nl));
    auth_nonce(nr_then, sizeof(nr_then));
    auth_nonce(nr_now, sizeof(nr_now));
    auth_session(key, AUTH_K_LEADER, nl, nr_then, 32, k_then);
    auth_mac(k_then, welcome, sizeof(welcome), mac);
    auth_session(key, AUTH_K_LEADER, nl, nr_now, 32, k_now);
    cr_assert_not(auth_verify(k_now, welcome, sizeof(welcome), mac));
    cr_assert(auth_verify(k_then, welcome, sizeof(welcome), mac));
}

Test(auth, session_key_from_fresh_nonces)
{
    unsigned char key[AUTH_KEY], nl[32], nr[32], s1[AUTH_KEY], s2[AUTH_KEY];

    key_of(key, 5);
    auth_nonce(nl, sizeof(nl));
    auth_nonce(nr, sizeof(nr));
    auth_session(key, AUTH_K_LEADER, nl, nr, sizeof(nl), s1);
    auth_nonce(nr, sizeof(nr));
    auth_session(key, AUTH_K_LEADER, nl, nr, sizeof(nl), s2);
    cr_assert(memcmp(s1, s2, AUTH_KEY) != 0);
}

Test(auth, nonces)
{
    unsigned char a[32], b[32], zero[32] = { 0 }, tail[40];

    auth_nonce(a, sizeof(a));
    auth_nonce(b, sizeof(b));
    cr_assert(memcmp(a, b, sizeof(a)) != 0);
    cr_assert(memcmp(a, zero, sizeof(a)) != 0);
    memset(tail, 0xcc, sizeof(tail));
    auth_nonce(tail, 32);
    for (size_t i = 32; i < sizeof(tail); i++)
        cr_assert_eq(tail[i], 0xcc, "wrote past len");
    auth_nonce(tail, 0);
}

/* ---- replay window ---------------------------------------------------- */

Test(window, basics)
{
    auth_window_t w = { 0, 0, 0 };

    cr_assert_not(auth_window_accept(&w, 0), "id 0 is never valid");
    cr_assert(auth_window_accept(&w, 1));
    cr_assert_not(auth_window_accept(&w, 1), "replay");
    cr_assert(auth_window_accept(&w, 2));
    cr_assert(auth_window_accept(&w, 3));
    cr_assert_not(auth_window_accept(&w, 2));
    cr_assert_not(auth_window_accept(&w, 0));
    cr_assert_eq(w.top, 3);

    /* Out of order within the window. */
    cr_assert(auth_window_accept(&w, 10));
    cr_assert(auth_window_accept(&w, 7));
    cr_assert(auth_window_accept(&w, 5));
    cr_assert_not(auth_window_accept(&w, 7));
    cr_assert(auth_window_accept(&w, 9));
    cr_assert_not(auth_window_accept(&w, 10));
    cr_assert_eq(w.top, 10);
}

Test(window, edges)
{
    auth_window_t w = { 0, 0, 0 };

    cr_assert(auth_window_accept(&w, 100));
    cr_assert(auth_window_accept(&w, 37), "top - 63 is inside");
    cr_assert_not(auth_window_accept(&w, 37));
    cr_assert_not(auth_window_accept(&w, 36), "top - 64 is too old");
    cr_assert_not(auth_window_accept(&w, 1));

    /* A jump of exactly 64: the old top falls out. */
    cr_assert(auth_window_accept(&w, 164));
    cr_assert_not(auth_window_accept(&w, 100));
    cr_assert(auth_window_accept(&w, 101));
    cr_assert_not(auth_window_accept(&w, 101));

    /* A jump of 63: the old top stays in, and stays seen. */
    cr_assert(auth_window_accept(&w, 227));
    cr_assert_not(auth_window_accept(&w, 164));
    cr_assert(auth_window_accept(&w, 165));

    /* A jump far ahead forgets everything. */
    cr_assert(auth_window_accept(&w, 1000000));
    cr_assert_eq(w.bits, 1);
    cr_assert(auth_window_accept(&w, 999999));
    cr_assert_not(auth_window_accept(&w, 227));

    /* The largest id. */
    cr_assert(auth_window_accept(&w, UINT64_MAX));
    cr_assert_not(auth_window_accept(&w, UINT64_MAX));
    cr_assert(auth_window_accept(&w, UINT64_MAX - 63));
    cr_assert_not(auth_window_accept(&w, UINT64_MAX - 64));
}

Test(window, small_ids_after_a_fresh_start)
{
    auth_window_t w = { 0, 0, 0 };

    /* top - 64 underflows for small tops: nothing is "too old" then. */
    cr_assert(auth_window_accept(&w, 5));
    cr_assert(auth_window_accept(&w, 1));
    cr_assert(auth_window_accept(&w, 4));
    cr_assert_not(auth_window_accept(&w, 1));
    cr_assert(auth_window_accept(&w, 2));
    cr_assert(auth_window_accept(&w, 3));
    cr_assert_not(auth_window_accept(&w, 5));
}

/* The window against a model that remembers every id. */
Test(window, matches_a_model)
{
    enum { SPAN = 1 << 21 };
    static bool seen[SPAN * 2];
    auth_window_t w = { 0, 0, 0 };
    uint64_t top = 0, s = 0x1234567887654321ULL;
    int yes = 0, no = 0;

    for (int i = 0; i < 200000; i++) {
        uint64_t r, id;
        bool want, got;

        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        r = s * 0x2545F4914F6CDD1DULL;
        /* Mostly near the top, a few ahead, now and then far back. */
        switch (r % 8) {
        case 0: id = top + 1 + (r >> 8) % 3; break;
        case 1: id = top + 1 + (r >> 8) % 80; break;
        case 2: id = top > 200 ? top - 100 - (r >> 8) % 100 : 1; break;
        default: id = top > 70 ? top - (r >> 8) % 70 : 1 + (r >> 8) % 70;
        }
        if (id >= SPAN * 2)
            break;
        want = id != 0 && !seen[id] && (id > top || top - id < 64);
        got = auth_window_accept(&w, id);
        cr_assert_eq(got, want, "step %d id %llu top %llu", i,
                     (unsigned long long) id, (unsigned long long) top);
        if (got) {
            seen[id] = true;
            if (id > top)
                top = id;
            yes++;
        } else {
            no++;
        }
        cr_assert_eq(w.top, top);
    }
    cr_assert_eq(yes + no, 200000, "ran to the end");
    cr_assert_gt(yes, 1000);
    cr_assert_gt(no, 1000);
}

/* ---- boots ------------------------------------------------------------ */

Test(boot, next_boot_increases_whatever_the_clock)
{
    /* the clock ahead of the counter: the clock */
    cr_assert_eq(auth_next_boot(0, 1700000000000ULL), 1700000000000ULL);
    cr_assert_eq(auth_next_boot(5, 1700000000000ULL), 1700000000000ULL);
    /* the clock behind (set back, or two starts in one millisecond) */
    cr_assert_eq(auth_next_boot(1700000000000ULL, 1700000000000ULL),
                 1700000000001ULL);
    cr_assert_eq(auth_next_boot(1700000000000ULL, 1000), 1700000000001ULL);
    cr_assert_eq(auth_next_boot(41, 0), 42);
    cr_assert_eq(auth_next_boot(0, 0), 1, "never 0");
    cr_assert_eq(auth_next_boot(UINT64_MAX - 1, 0), UINT64_MAX);
    cr_assert_eq(auth_next_boot(UINT64_MAX, 0), UINT64_MAX, "saturates");

    /* a run of starts with a clock jumping about */
    uint64_t b = 0, clock[] = { 100, 100, 50, 500, 499, 0, 501, 10000, 3 };
    for (size_t i = 0; i < MEMDB_NELEM(clock); i++) {
        uint64_t n = auth_next_boot(b, clock[i]);
        cr_assert_gt(n, b, "start %zu", i);
        b = n;
    }
}

/* A node restarted: its ids start at 1 again in a later boot, and are
 * taken at once; its old boot's ids are refused from then on. */
Test(boot, a_new_boot_starts_a_new_window)
{
    auth_window_t w = { 0, 0, 0 };

    cr_assert_eq(auth_window_check(&w, 10, 1), AUTH_WIN_NEW_BOOT, "first");
    for (uint64_t id = 2; id <= 5000; id++)
        cr_assert_eq(auth_window_check(&w, 10, id), AUTH_WIN_OK);
    cr_assert_eq(auth_window_check(&w, 10, 4990), AUTH_WIN_REPLAY);
    cr_assert_eq(auth_window_check(&w, 10, 17), AUTH_WIN_TOO_OLD);

    /* the restart: id 1 of boot 11 */
    cr_assert_eq(auth_window_check(&w, 11, 1), AUTH_WIN_NEW_BOOT);
    cr_assert_eq(w.boot, 11);
    cr_assert_eq(w.top, 1);
    cr_assert_eq(auth_window_check(&w, 11, 2), AUTH_WIN_OK);
    cr_assert_eq(auth_window_check(&w, 11, 1), AUTH_WIN_REPLAY);
    cr_assert_eq(auth_window_check(&w, 11, 2), AUTH_WIN_REPLAY);

    /* anything of the old boot, recorded or late: refused */
    cr_assert_eq(auth_window_check(&w, 10, 5001), AUTH_WIN_OLD_BOOT);
    cr_assert_eq(auth_window_check(&w, 10, 3), AUTH_WIN_OLD_BOOT);
    cr_assert_eq(auth_window_check(&w, 9, 1), AUTH_WIN_OLD_BOOT);
    cr_assert_eq(w.boot, 11, "an old boot does not move the window");
    cr_assert_eq(auth_window_check(&w, 11, 3), AUTH_WIN_OK);

    /* boots need not be consecutive (the clock, auth_next_boot) */
    cr_assert_eq(auth_window_check(&w, 1700000000000ULL, 7),
                 AUTH_WIN_NEW_BOOT);
    cr_assert_eq(auth_window_check(&w, 12, 1), AUTH_WIN_OLD_BOOT);
    cr_assert_eq(auth_window_check(&w, 1700000000000ULL, 6), AUTH_WIN_OK,
                 "out of order within the boot");
}

Test(boot, zero_and_edges)
{
    auth_window_t w = { 0, 0, 0 };

    cr_assert_eq(auth_window_check(&w, 0, 1), AUTH_WIN_ZERO);
    cr_assert_eq(auth_window_check(&w, 1, 0), AUTH_WIN_ZERO);
    cr_assert_eq(w.boot, 0, "refused: nothing recorded");
    cr_assert_eq(auth_window_check(&w, 1, 100), AUTH_WIN_NEW_BOOT);
    cr_assert_eq(auth_window_check(&w, 1, 0), AUTH_WIN_ZERO);
    cr_assert_eq(auth_window_check(&w, 0, 101), AUTH_WIN_ZERO);
    /* a new boot may begin past id 1 (its first datagrams were lost) */
    cr_assert_eq(auth_window_check(&w, 2, 50), AUTH_WIN_NEW_BOOT);
    cr_assert_eq(auth_window_check(&w, 2, 1), AUTH_WIN_OK, "in the window");
    cr_assert_eq(auth_window_check(&w, 2, 49), AUTH_WIN_OK);
    cr_assert_eq(auth_window_check(&w, 2, 200), AUTH_WIN_OK);
    cr_assert_eq(auth_window_check(&w, 2, 100), AUTH_WIN_TOO_OLD);
    cr_assert_eq(auth_window_check(&w, UINT64_MAX, 1), AUTH_WIN_NEW_BOOT);
    cr_assert_eq(auth_window_check(&w, UINT64_MAX, 1), AUTH_WIN_REPLAY);
    cr_assert_eq(auth_window_check(&w, UINT64_MAX - 1, 9), AUTH_WIN_OLD_BOOT);

    for (int e = AUTH_WIN_OK; e <= AUTH_WIN_ZERO; e++) {
        cr_assert(auth_win_str((auth_win_e) e)[0] != '\0');
        cr_assert_eq(auth_win_ok((auth_win_e) e),
                     e == AUTH_WIN_OK || e == AUTH_WIN_NEW_BOOT);
    }
}

/* Within one boot, auth_window_check agrees with auth_window_accept (the
 * model test above), and tells a replay from an id below the window. */
Test(boot, within_a_boot_matches_the_plain_window)
{
    auth_window_t a = { 0, 0, 0 }, b = { 0, 0, 0 };
    uint64_t s = 0x0badc0ffee0ddf00dULL;

    cr_assert_eq(auth_window_check(&b, 7, 1), AUTH_WIN_NEW_BOOT);
    cr_assert(auth_window_accept(&a, 1));
    for (int i = 0; i < 100000; i++) {
        uint64_t id, top = a.top;
        bool seen_before;
        auth_win_e e;

        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        id = top + 3 > (s * 0x2545F4914F6CDD1DULL) % 90
                 ? top + 3 - (s * 0x2545F4914F6CDD1DULL) % 90
                 : 1;
        seen_before = !auth_window_accept(&a, id);
        e = auth_window_check(&b, 7, id);
        cr_assert_eq(auth_win_ok(e), !seen_before, "step %d id %llu", i,
                     (unsigned long long) id);
        if (seen_before)
            cr_assert_eq(e, top - id < 64 ? AUTH_WIN_REPLAY : AUTH_WIN_TOO_OLD,
                         "step %d", i);
        cr_assert_eq(a.top, b.top);
        cr_assert_eq(a.bits, b.bits);
    }
}
