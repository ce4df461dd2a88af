/*
 * genload.c - writes repeatable text with a Zipf-like word distribution:
 * the workload generator of the benchmarks.
 *
 *   genload BYTES [VOCABULARY] [SEED] > text
 *
 * Words are drawn from a vocabulary of VOCABULARY distinct words (default
 * 100000) with P(rank k) ~ 1/k, a line break every 12 to 20 words.  The
 * same arguments always give the same text.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state;

static uint64_t
next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static uint64_t
zipf(uint64_t n)
{
    double u = (double) (next() >> 11) / 9007199254740992.0;
    uint64_t k = (uint64_t) (exp(u * log((double) n + 1.0)) - 1.0);
    return k < n ? k : n - 1;
}

/* A pronounceable word for rank k (distinct ranks, distinct words). */
static int
word(uint64_t k, char *out)
{
    static const char *syl[] = { "ka", "lo", "mi", "nu", "re", "sa",
                                 "ti", "vo", "be", "da", "fu", "ge",
                                 "ho", "ji", "pe", "zu" };
    int n = 0;

    do {
        const char *s = syl[k % 16];
        out[n++] = s[0];
        out[n++] = s[1];
        k /= 16;
    } while (k > 0);
    return n;
}

int
main(int argc, char **argv)
{
    uint64_t bytes, vocab, written = 0;
    char w[64];
    int on_line = 0, line_len = 16;

    if (argc < 2) {
        fprintf(stderr, "usage: genload BYTES [VOCABULARY] [SEED]\n");
        return 2;
    }
    bytes = strtoull(argv[1], NULL, 10);
    vocab = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    state = argc > 3 ? strtoull(argv[3], NULL, 10) : 88172645463325252ULL;
    if (state == 0)
        state = 1;
    while (written < bytes) {
        int n = word(zipf(vocab), w);
        w[n++] = ++on_line >= line_len ? '\n' : ' ';
        if (on_line >= line_len) {
            on_line = 0;
            line_len = 12 + (int) (next() % 9);
        }
        fwrite(w, 1, (size_t) n, stdout);
        written += (uint64_t) n;
    }
    return 0;
}
