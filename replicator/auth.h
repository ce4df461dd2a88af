/*
 * auth.h - authentication of cluster traffic with the shared secret in
 * cluster.secret_file (libsodium).
 *
 * The key is BLAKE2b-256 of the file's bytes (crypto_generichash), so any
 * file content of at least AUTH_MIN_SECRET bytes works.  Gossip datagrams
 * carry crypto_auth (HMAC-SHA-512-256) of the whole datagram before the
 * MAC; they are replay-protected by time_ms (within AUTH_WINDOW_MS of the
 * receiver's clock) and by (boot, msg_id): a sender numbers its messages
 * 1, 2, 3... within each boot, and a receiver keeps, per sender, the
 * latest boot it heard and a window of the ids seen in it
 * (auth_window_check).  Boots are ordered by a counter each node persists
 * (auth_next_boot), so a restarted node is heard at once and messages of
 * its earlier boots stay refused.
 *
 * A replication connection derives its keys from the key and both
 * nonces of its handshake, one key per direction (auth_session); every
 * frame's MAC covers its header (with the frame counter) and payload.
 *
 * Without a secret file, traffic carries no MAC and is accepted as is;
 * a node with a secret rejects traffic without a valid MAC.
 */
#ifndef MEMDB_REPLICATOR_AUTH_H
#define MEMDB_REPLICATOR_AUTH_H

#include "src/core/memdb.h"

#define AUTH_MAC        32
#define AUTH_KEY        32
#define AUTH_MIN_SECRET 16
#define AUTH_WINDOW_MS  30000

typedef struct auth_s {
    bool on;
    unsigned char key[AUTH_KEY];
} auth_t;

/* Reads the secret file; MEMDB_ERR with a message (missing, too short). */
int auth_load(auth_t *a, const char *path, char *err, size_t errlen);
/* MAC of len bytes at p with key, into mac. */
void auth_mac(const unsigned char key[AUTH_KEY], const void *p, size_t len,
              unsigned char mac[AUTH_MAC]);
bool auth_verify(const unsigned char key[AUTH_KEY], const void *p, size_t len,
                 const unsigned char mac[AUTH_MAC]);
/* Keys of a replication connection: keyed BLAKE2b-256 of the tag byte,
 * the leader's nonce and (but for AUTH_K_HELLO) the replica's.
 *   AUTH_K_HELLO    the replica's HELLO (it answers the leader's nonce)
 *   AUTH_K_LEADER   every frame the leader sends after the HELLO
 *   AUTH_K_REPLICA  every frame the replica sends after its HELLO
 * A key per direction: a frame cannot be reflected back to its sender. */
enum { AUTH_K_HELLO = 'H', AUTH_K_LEADER = 'L', AUTH_K_REPLICA = 'R' };
void auth_session(const unsigned char key[AUTH_KEY], int tag,
                  const unsigned char *nonce_l, const unsigned char *nonce_r,
                  size_t nlen, unsigned char out[AUTH_KEY]);
void auth_nonce(unsigned char *out, size_t len);

/* The boot number of a node that starts now, given the last one it
 * persisted (0: none) and its wall clock: last + 1, or the clock in ms if
 * that is higher.  Strictly increasing whatever the clock does, as long
 * as the last one was persisted; the clock only keeps a node whose state
 * was lost (a wiped data_dir) above its earlier boots. */
uint64_t auth_next_boot(uint64_t last, uint64_t wall_ms);

/* Replay window of one sender: its boot, the highest msg_id seen in that
 * boot and a bitmap of the 64 ids below it. */
typedef struct auth_window_s {
    uint64_t top;
    uint64_t bits;
    uint64_t boot; /* 0: nothing heard yet */
} auth_window_t;

typedef enum {
    AUTH_WIN_OK,       /* a new id of the window's boot */
    AUTH_WIN_NEW_BOOT, /* a later boot (or the first heard): new window */
    AUTH_WIN_OLD_BOOT, /* an earlier boot: refused */
    AUTH_WIN_REPLAY,   /* seen before: refused */
    AUTH_WIN_TOO_OLD,  /* below the window: refused */
    AUTH_WIN_ZERO,     /* boot or id 0: refused */
} auth_win_e;

/* Checks (boot, id) against w and records it when accepted (AUTH_WIN_OK
 * or AUTH_WIN_NEW_BOOT). */
auth_win_e auth_window_check(auth_window_t *w, uint64_t boot, uint64_t id);
static inline bool
auth_win_ok(auth_win_e e)
{
    return e == AUTH_WIN_OK || e == AUTH_WIN_NEW_BOOT;
}
const char *auth_win_str(auth_win_e e);
/* The window within one boot: true (and records id) if id was not seen
 * before and is not too old. */
bool auth_window_accept(auth_window_t *w, uint64_t id);

#endif
