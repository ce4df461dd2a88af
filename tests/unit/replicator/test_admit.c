/*
 * test_admit.c - sources of replication connections, and which waiting
 * connection is dropped for a new one (replicator/admit.c).
 */
#include <criterion/criterion.h>

#include "replicator/admit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

static void
src_of(const char *ip, unsigned char out[ADMIT_KEY])
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(4321);
        cr_assert_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1, "%s", ip);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *) &ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(1234);
        cr_assert_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1, "%s", ip);
    }
    admit_source((struct sockaddr *) &ss, out);
}

static bool
same(const char *a, const char *b)
{
    unsigned char x[ADMIT_KEY], y[ADMIT_KEY];

    src_of(a, x);
    src_of(b, y);
    return memcmp(x, y, ADMIT_KEY) == 0;
}

/* waiting[i] from ips[i], accepted at since[i]. */
static int
fill(admit_t *w, const char *const *ips, const uint64_t *since, int n)
{
    for (int i = 0; i < n; i++) {
        src_of(ips[i], w[i].src);
        w[i].since_ms = since[i];
    }
    return n;
}

/* ---- sources ---------------------------------------------------------- */

Test(admit, sources)
{
    cr_assert(same("10.0.0.1", "10.0.0.1"), "ports do not count");
    cr_assert_not(same("10.0.0.1", "10.0.0.2"));
    cr_assert(same("10.0.0.1", "::ffff:10.0.0.1"), "IPv4-mapped");
    cr_assert_not(same("::ffff:10.0.0.1", "::ffff:10.0.0.2"));
    cr_assert(same("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"), "one /64");
    cr_assert_not(same("2001:db8:1:2::1", "2001:db8:1:3::1"));
    cr_assert_not(same("::1", "127.0.0.1"));
    cr_assert_not(same("0.0.0.1", "::1"), "families apart");
}

Test(admit, other_families_are_one_source)
{
    struct sockaddr sa;
    unsigned char a[ADMIT_KEY], zero[ADMIT_KEY] = { 0 };

    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    memset(a, 0xee, sizeof(a));
    admit_source(&sa, a);
    cr_assert(memcmp(a, zero, ADMIT_KEY) == 0);
}

/* ---- victims ---------------------------------------------------------- */

Test(admit, room_left_drops_nothing)
{
    admit_t w[4];
    unsigned char s[ADMIT_KEY];
    static const char *const ips[] = { "10.0.0.1", "10.0.0.1", "10.0.0.2" };
    static const uint64_t since[] = { 5, 6, 7 };
    int n = fill(w, ips, since, 3);

    src_of("10.0.0.1", s);
    cr_assert_eq(admit_victim(w, 0, s, 1, 1), -1, "none waiting");
    cr_assert_eq(admit_victim(w, n, s, 3, 4), -1);
    src_of("10.0.0.9", s);
    cr_assert_eq(admit_victim(w, n, s, 1, 4), -1, "its own source is free");
}

Test(admit, a_full_source_loses_its_own_oldest)
{
    admit_t w[6];
    unsigned char s[ADMIT_KEY];
    static const char *const ips[] = { "10.0.0.2", "10.0.0.1", "10.0.0.1",
                                       "10.0.0.1", "10.0.0.3", "10.0.0.1" };
    static const uint64_t since[] = { 1, 40, 30, 50, 2, 35 };
    int n = fill(w, ips, since, 6);

    src_of("10.0.0.1", s);
    /* 4 from 10.0.0.1, the oldest of them at index 2; the older ones of
     * other sources are not touched */
    cr_assert_eq(admit_victim(w, n, s, 4, 100), 2);
    cr_assert_eq(admit_victim(w, n, s, 5, 100), -1);
    cr_assert_eq(admit_victim(w, n, s, 1, 100), 2);
}

Test(admit, a_full_total_loses_the_oldest_of_all)
{
    admit_t w[5];
    unsigned char s[ADMIT_KEY];
    static const char *const ips[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3",
                                       "10.0.0.4", "10.0.0.5" };
    static const uint64_t since[] = { 9, 8, 3, 7, 4 };
    int n = fill(w, ips, since, 5);

    src_of("10.0.0.6", s);
    cr_assert_eq(admit_victim(w, n, s, 2, 5), 2);
    cr_assert_eq(admit_victim(w, n, s, 2, 6), -1);
    /* the source's own limit first */
    src_of("10.0.0.1", s);
    cr_assert_eq(admit_victim(w, n, s, 1, 5), 0);
}

/* The property the limits are for: however many connections one source
 * opens and leaves idle, a connection from elsewhere that arrives later
 * is never the one dropped, and the source never holds more than its
 * share. */
Test(admit, idle_flood_never_drops_a_later_stranger)
{
    admit_t w[ADMIT_TOTAL];
    unsigned char flood[ADMIT_KEY], replica[ADMIT_KEY];
    int n = 0, mine = -1;
    uint64_t t = 0;

    src_of("192.0.2.66", flood);
    src_of("198.51.100.7", replica);
    for (int k = 0; k < 1000; k++) {
        const unsigned char *src = (k == 500) ? replica : flood;
        int v = admit_victim(w, n, src, ADMIT_PER_SOURCE, ADMIT_TOTAL);

        if (v >= 0) {
            cr_assert_neq(v, mine, "connection %d dropped the replica's", k);
            if (mine == n - 1)
                mine = v; /* the last one moves into the hole */
            w[v] = w[--n];
        }
        cr_assert_lt(n, ADMIT_TOTAL);
        memcpy(w[n].src, src, ADMIT_KEY);
        w[n].since_ms = ++t;
        if (src == replica)
            mine = n;
        n++;
        int count = 0;
        for (int i = 0; i < n; i++)
            count += memcmp(w[i].src, flood, ADMIT_KEY) == 0;
        cr_assert_leq(count, ADMIT_PER_SOURCE);
    }
    cr_assert_geq(mine, 0);
    cr_assert(memcmp(w[mine].src, replica, ADMIT_KEY) == 0);
}
