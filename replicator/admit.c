/*
 * admit.c - sources of replication connections and the choice of the one
 * to drop when too many wait for their handshake (see admit.h).
 */
#include "replicator/admit.h"

#include <netinet/in.h>
#include <string.h>

void
admit_source(const struct sockaddr *sa, unsigned char out[ADMIT_KEY])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff };

    memset(out, 0, ADMIT_KEY);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *) sa;
        out[0] = 4;
        memcpy(out + 1, &a->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) sa;
        const unsigned char *b = a->sin6_addr.s6_addr;
        if (memcmp(b, mapped, sizeof(mapped)) == 0) {
            out[0] = 4;
            memcpy(out + 1, b + 12, 4);
        } else {
            out[0] = 6;
            memcpy(out + 1, b, 8); /* one host usually has a whole /64 */
        }
    }
}

/* The oldest of waiting[0..n) from src (any source: src NULL), and how
 * many there are. */
static int
oldest(const admit_t *waiting, int n, const unsigned char *src, int *count)
{
    int best = -1;

    *count = 0;
    for (int i = 0; i < n; i++) {
        if (src != NULL && memcmp(waiting[i].src, src, ADMIT_KEY) != 0)
            continue;
        (*count)++;
        if (best < 0 || waiting[i].since_ms < waiting[best].since_ms)
            best = i;
    }
    return best;
}

int
admit_victim(const admit_t *waiting, int n, const unsigned char *src,
             int per_source, int total)
{
    int count, v;

    v = oldest(waiting, n, src, &count);
    if (count >= per_source)
        return v;
    v = oldest(waiting, n, NULL, &count);
    return count >= total ? v : -1;
}
