/*
 * auth.h - authentication of cluster traffic with the shared secret in
 * cluster.secret_file (libsodium).
 *
 * The key is BLAKE2b-256 of the file's bytes (crypto_generichash), so any
 * file content of at least AUTH_MIN_SECRET bytes works.  Gossip datagrams
 * carry crypto_auth (HMAC-SHA-512-256) of the whole datagram before the
 * MAC; they are replay-protected by time_ms (within AUTH_WINDOW_MS of the
 * receiver's clock) and by msg_id (a window of recently seen ids per
 * sender).  A replication connection derives a session key from the key
 * and both nonces of its handshake; every frame's MAC covers its header
 * (with the frame counter) and payload.
 *
 * Without a secret file, traffic carries no MAC and is accepted as is;
 * a node with a secret rejects traffic without a valid MAC.
 */
#ifndef MEMDB_AUTH_H
#define MEMDB_AUTH_H

#include "../src/memdb.h"

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
/* Session key of a replication connection. */
void auth_session(const unsigned char key[AUTH_KEY],
                  const unsigned char *nonce_l, const unsigned char *nonce_r,
                  size_t nlen, unsigned char out[AUTH_KEY]);
void auth_nonce(unsigned char *out, size_t len);

/* Replay window of one sender: the highest msg_id seen and a bitmap of
 * the 64 ids below it. */
typedef struct auth_window_s {
    uint64_t top;
    uint64_t bits;
} auth_window_t;

/* true (and records id) if id was not seen before and is not too old. */
bool auth_window_accept(auth_window_t *w, uint64_t id);

#endif
