/*
 * auth.c - keys, MACs, nonces, boot numbers and replay windows for
 * cluster traffic (libsodium; see auth.h).
 */
#include "replicator/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define AUTH_MAX_SECRET (64 * 1024)

_Static_assert(crypto_auth_KEYBYTES == AUTH_KEY, "crypto_auth key size");
_Static_assert(crypto_auth_BYTES == AUTH_MAC, "crypto_auth MAC size");
_Static_assert(AUTH_KEY >= crypto_generichash_BYTES_MIN
                   && AUTH_KEY <= crypto_generichash_BYTES_MAX,
               "generichash output size");
_Static_assert(AUTH_KEY >= crypto_generichash_KEYBYTES_MIN
                   && AUTH_KEY <= crypto_generichash_KEYBYTES_MAX,
               "generichash key size");

static _Atomic int sodium_ready;

static int
auth_init(void)
{
    if (sodium_ready)
        return MEMDB_OK;
    if (sodium_init() < 0) /* 1: already done, which is fine */
        return MEMDB_ERR;
    sodium_ready = 1;
    return MEMDB_OK;
}

int
auth_load(auth_t *a, const char *path, char *err, size_t errlen)
{
    unsigned char *data;
    size_t n = 0;
    ssize_t r;
    int fd;

    memset(a, 0, sizeof(*a));
    if (auth_init() != MEMDB_OK) {
        snprintf(err, errlen, "sodium_init failed");
        return MEMDB_ERR;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return MEMDB_ERR;
    }
    /* One byte more than allowed, to tell "too large" from "exactly". */
    data = malloc(AUTH_MAX_SECRET + 1);
    if (data == NULL) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return MEMDB_ERR;
    }
    while (n < AUTH_MAX_SECRET + 1) {
        r = read(fd, data + n, AUTH_MAX_SECRET + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    if (n > AUTH_MAX_SECRET) {
        snprintf(err, errlen, "%s: secret file larger than %d bytes", path,
                 AUTH_MAX_SECRET);
        goto fail;
    }
    if (n > 0 && data[n - 1] == '\n')
        n--;
    if (n < AUTH_MIN_SECRET) {
        snprintf(err, errlen, "%s: secret too short (%zu bytes, at least %d)",
                 path, n, AUTH_MIN_SECRET);
        goto fail;
    }
    crypto_generichash(a->key, AUTH_KEY, data, n, NULL, 0);
    a->on = true;
    sodium_memzero(data, AUTH_MAX_SECRET + 1);
    free(data);
    close(fd);
    return MEMDB_OK;

fail:
    sodium_memzero(data, AUTH_MAX_SECRET + 1);
    free(data);
    close(fd);
    memset(a, 0, sizeof(*a));
    return MEMDB_ERR;
}

void
auth_mac(const unsigned char key[AUTH_KEY], const void *p, size_t len,
         unsigned char mac[AUTH_MAC])
{
    crypto_auth(mac, p, len, key);
}

bool
auth_verify(const unsigned char key[AUTH_KEY], const void *p, size_t len,
            const unsigned char mac[AUTH_MAC])
{
    return crypto_auth_verify(mac, p, len, key) == 0;
}

void
auth_session(const unsigned char key[AUTH_KEY], int tag,
             const unsigned char *nonce_l, const unsigned char *nonce_r,
             size_t nlen, unsigned char out[AUTH_KEY])
{
    crypto_generichash_state st;
    unsigned char t = (unsigned char) tag;

    crypto_generichash_init(&st, key, AUTH_KEY, AUTH_KEY);
    crypto_generichash_update(&st, &t, 1);
    crypto_generichash_update(&st, nonce_l, nlen);
    if (nonce_r != NULL)
        crypto_generichash_update(&st, nonce_r, nlen);
    crypto_generichash_final(&st, out, AUTH_KEY);
    sodium_memzero(&st, sizeof(st));
}

void
auth_nonce(unsigned char *out, size_t len)
{
    if (auth_init() != MEMDB_OK)
        abort(); /* no randomness: nothing safe to do */
    randombytes_buf(out, len);
}

uint64_t
auth_next_boot(uint64_t last, uint64_t wall_ms)
{
    uint64_t next = last == UINT64_MAX ? last : last + 1;

    return MEMDB_MAX(next, wall_ms);
}

auth_win_e
auth_window_check(auth_window_t *w, uint64_t boot, uint64_t id)
{
    if (boot == 0 || id == 0)
        return AUTH_WIN_ZERO;
    if (boot < w->boot)
        return AUTH_WIN_OLD_BOOT;
    if (boot > w->boot) {
        w->boot = boot;
        w->top = id;
        w->bits = 1;
        return AUTH_WIN_NEW_BOOT;
    }
    if (auth_window_accept(w, id))
        return AUTH_WIN_OK;
    return id <= w->top && w->top - id < 64 ? AUTH_WIN_REPLAY
                                            : AUTH_WIN_TOO_OLD;
}

const char *
auth_win_str(auth_win_e e)
{
    switch (e) {
    case AUTH_WIN_OK: return "fresh";
    case AUTH_WIN_NEW_BOOT: return "from a new boot";
    case AUTH_WIN_OLD_BOOT: return "from an earlier boot of the sender";
    case AUTH_WIN_REPLAY: return "a replay";
    case AUTH_WIN_TOO_OLD: return "too old for the replay window";
    case AUTH_WIN_ZERO: return "boot or message id 0";
    }
    return "?";
}

bool
auth_window_accept(auth_window_t *w, uint64_t id)
{
    uint64_t d;

    if (id == 0)
        return false;
    if (id > w->top) {
        d = id - w->top;
        w->bits = d >= 64 ? 0 : w->bits << d;
        w->bits |= 1; /* bit i stands for id top - i */
        w->top = id;
        return true;
    }
    d = w->top - id;
    if (d >= 64)
        return false; /* too old to tell */
    if (w->bits & (1ULL << d))
        return false; /* replay */
    w->bits |= 1ULL << d;
    return true;
}
