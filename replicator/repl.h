/*
 * repl.h - internals of the replicator process, shared by its files:
 *   loop.c     the event loop, timers, signals, the shm member table
 *   gossip.c   SWIM membership and failure detection over UDP
 *   elect.c    epochs, votes, leadership, manual failover, forget
 *   rconn.c    a replication connection, either side: framing, MACs
 *   ship.c     the leader's side of replication (TCP)
 *   follow.c   a replica's side of replication, full sync
 *   merge.c    handing a divergent tail over to the new leader
 * See replicator/README for the protocol.
 */
#ifndef MEMDB_REPLICATOR_REPL_H
#define MEMDB_REPLICATOR_REPL_H

#include "replicator/replicator.h"
#include "replicator/admit.h"
#include "replicator/auth.h"
#include "replicator/cstate.h"
#include "replicator/frame.h"
#include "replicator/wire.h"
#include "src/core/buf.h"
#include "src/core/proc.h"
#include "src/changelog/clogrd.h"
#include "src/changelog/seg.h"

#include <sys/socket.h>

#define REPL_MAX_SHIPS ROSTER_MAX_MEMBERS /* authenticated */
#define REPL_AUTH_MS   3000 /* from accept or connect to a done handshake */
#define REPL_UPD_MAX   64
#define REPL_ACK_MS    50
#define REPL_RETRY_MS  200
#define CMD_ERR_MAX    sizeof(((roster_cmd_t *) 0)->error)

/* One member as this node sees it (process-local). */
typedef struct peer_s {
    gsp_member_t m;               /* its latest record */
    struct sockaddr_storage addr; /* gossip */
    socklen_t alen;
    uint64_t suspect_ms; /* when it became suspect */
    uint64_t heard_ms;   /* last message from it */
    uint64_t acked;      /* replication ack (we lead) */
    uint64_t proven_ms;  /* it heard from us then, or later (we lead) */
    auth_window_t win;
    bool self;
} peer_t;

/* A piggybacked update and how many more messages carry it. */
typedef struct update_s {
    gsp_member_t m;
    int left;
} update_t;

/* A connection of the replication protocol (either side). */
typedef struct rconn_s {
    int ev; /* EVT_SHIP or EVT_FOLLOW */
    int fd;
    char peer[80]; /* its address, for the log */
    buf_t in, out;
    size_t out_off;
    uint64_t rx_counter, tx_counter;
    unsigned char nonce_mine[FRAME_NONCE], nonce_peer[FRAME_NONCE];
    /* the MAC keys of the frames we send and receive (rconn_keys) */
    unsigned char key_tx[AUTH_KEY], key_rx[AUTH_KEY];
    bool authed; /* the peer's handshake frame (HELLO, WELCOME) is in */
    bool closed;
    bool paused;      /* a frame could not be taken yet: read nothing more */
    uint64_t open_ms; /* accepted or connecting since */
    uint64_t last_rx_ms, last_tx_ms;
} rconn_t;

/* Steps of the handshake, for rconn_keys. */
enum { RCONN_HANDSHAKE = 1, RCONN_SESSION };

/* The leader's state for one replica connection. */
typedef struct ship_s {
    rconn_t c;
    unsigned char src[ADMIT_KEY]; /* admit_source() */
    char id[CS_ID];
    int stage;     /* SHIP_* */
    uint64_t next; /* next LSN to send */
    clogrd_t rd;   /* the log, read from next on */
    bool rd_open;
    int snap_fd;
    uint64_t snap_left;
    uint64_t acked;
    struct ship_s *next_dropped; /* on repl_t.dropped */
} ship_t;

/* Stages of a replica's connection (follow.c). */
enum { FOL_CONNECT = 1, FOL_CHALLENGE, FOL_WELCOME, FOL_SNAP, FOL_STREAM };

/* A replica's connection to its leader. */
typedef struct follow_s {
    rconn_t c;
    bool on; /* connected or connecting */
    bool connecting;
    int stage; /* FOL_* */
    char leader[CS_ID];
    uint64_t next; /* next LSN expected */
    uint64_t retry_ms;
    uint64_t ack_ms;
    int snap_fd;
    char snap_tmp[1200];
    uint64_t snap_lsn, snap_epoch, snap_left;
    frame_hist_t lhist[FRAME_MAX_HIST];
    int nlhist;
    uint64_t merge_ms;     /* next time pending merges are (re)sent */
    uint64_t full_lsn;     /* a record that did not fit the store */
    uint64_t merge_seq;    /* MERGE batches sent on this connection */
    char merge_file[1400]; /* the file being handed over... */
    uint64_t merge_off;    /* ...sent up to here on this connection */
} follow_t;

typedef struct repl_s {
    const conf_t *conf;
    shm_t *shm;
    const int *wake_fds; /* the workers' eventfds */
    unsigned nworkers;
    int master_fd; /* eventfd: wake the master's writer */
    proc_t proc;   /* the signalfd and the epoll set */
    int udp, tcp, wake_fd, pdeath_fd;
    uint64_t now_ms;
    uint64_t start_ms;
    cstate_t cs;
    auth_t auth;
    char log_dir[1100], snap_dir[1100];

    peer_t peers[ROSTER_MAX_MEMBERS]; /* peers[0] is this node */
    int npeers;
    update_t upd[REPL_UPD_MAX];
    int nupd;
    uint64_t msg_id;
    uint64_t incarnation;
    bool table_dirty;

    /* probing (SWIM) */
    uint32_t seq;
    int rr; /* round-robin index */
    struct {
        int peer; /* -1: none */
        uint32_t seq;
        uint64_t timeout_ms; /* direct probe times out */
        uint64_t end_ms;     /* the probe period ends */
        bool indirect;
        bool acked;
    } probe;
    uint64_t next_probe_ms;
    uint64_t next_sync_ms;
    /* relayed probes: seq we sent -> (requester, its seq) */
    struct {
        uint32_t seq;
        int peer;
        uint32_t their_seq;
        uint64_t until;
    } relay[16];

    /* leadership */
    uint64_t leader_seen_ms;  /* last time a live leader was seen */
    uint64_t leader_heard_ms; /* last message from the leader (any) */
    struct {
        bool running;
        uint64_t epoch;
        int votes;
        char voters[ROSTER_MAX_MEMBERS][CS_ID];
        uint64_t deadline_ms;
        uint64_t start_ms; /* scheduled candidacy, 0 none */
        bool transfer;
    } el;
    struct {
        bool on;
        char target[CS_ID];
        uint64_t deadline_ms;
        bool sent;
    } xfer;

    ship_t *ships[REPL_MAX_SHIPS + ADMIT_TOTAL];
    int nships;
    ship_t *dropped; /* closed, freed after this turn's events */
    follow_t fol;
    uint64_t cmd_seen;     /* shm cluster cmd requests handled */
    char *cmd_err;         /* the error text of the request run */
    char cmd_scratch[160]; /* cmd_err outside a request */
} repl_t;

enum {
    EVT_UDP = 1,
    EVT_TCP,
    EVT_SIG,
    EVT_WAKE,
    EVT_PDEATH,
    EVT_SHIP,
    EVT_FOLLOW
};

/* loop.c */
void repl_wake_workers(repl_t *r);
void repl_set_role(repl_t *r, uint32_t role, uint64_t epoch);
int repl_majority(const repl_t *r);
uint64_t repl_last_lsn(const repl_t *r);
uint64_t repl_last_epoch(const repl_t *r);
int repl_watch(repl_t *r, int fd, uint32_t events, void *tag, bool mod);

/* gossip.c */
int gossip_open(repl_t *r);
void gossip_tick(repl_t *r);
void gossip_recv(repl_t *r);
void gossip_send(repl_t *r, int peer, uint8_t type, uint32_t seq,
                 const void *body);
void gossip_self_changed(repl_t *r);
int gossip_find(const repl_t *r, const char *id);
void gossip_meet(repl_t *r, const char *addr);
void gossip_forget(repl_t *r, const char *id);
int gossip_leader(const repl_t *r);

/* elect.c */
/* The write lease (elect.c): how long after it last heard from its
 * leader a node holds its vote and does not stand. */
uint64_t elect_hold_ms(const repl_t *r);
void elect_tick(repl_t *r);
void elect_on_vote_req(repl_t *r, int from, const gsp_vote_req_t *v,
                       bool timeout_now);
void elect_on_vote(repl_t *r, int from, const gsp_vote_t *v);
void elect_seen(repl_t *r, int peer);
void elect_failover(repl_t *r, const char *target);

/* rconn.c */
void rconn_init(repl_t *r, rconn_t *c, int ev, int fd);
void rconn_close(repl_t *r, rconn_t *c);
/* Sets c's MAC keys for a step of the handshake (RCONN_*), from the
 * nonces it has by then: RCONN_HANDSHAKE once the leader's nonce is known
 * (the CHALLENGE and HELLO keys), RCONN_SESSION once both are (a key per
 * direction for everything after the HELLO). */
void rconn_keys(repl_t *r, rconn_t *c, int step);
/* Queues a frame, MAC'd with c->key_tx. */
void rconn_send(repl_t *r, rconn_t *c, uint8_t type, const void *p,
                uint32_t len);
/* Counts a refused frame or connection (repl_bad), logs one in 100;
 * returns false. */
bool rconn_bad(repl_t *r, rconn_t *c, const char *why);
/* Reads what is there; calls fn for each complete, checked frame.
 * false: the connection failed (bad frame, EOF, error). */
bool rconn_read(repl_t *r, rconn_t *c,
                bool (*fn)(repl_t *, rconn_t *, uint8_t, const unsigned char *,
                           uint32_t));
bool rconn_flush(repl_t *r, rconn_t *c);

/* ship.c */
int ship_listen(repl_t *r);
void ship_accept(repl_t *r);
void ship_event(repl_t *r, ship_t *s, uint32_t events);
void ship_pump(repl_t *r);
void ship_close_all(repl_t *r);

/* merge.c */
/* Saves our records (fork, last] to hand them over to the leader. */
int merge_prepare(repl_t *r, uint64_t fork, uint64_t last);
/* Sends the chunks the leader lacks (send), removes finished files. */
void merge_tick(repl_t *r, bool send);
/* Leader: a MERGE frame from a replica (pauses c when the ring is full). */
bool merge_on_merge(repl_t *r, rconn_t *c, const unsigned char *p,
                    uint32_t len);
bool merge_on_merged(repl_t *r, const unsigned char *p);

/* follow.c */
void follow_tick(repl_t *r);
void follow_event(repl_t *r, uint32_t events);
void follow_stop(repl_t *r);

#endif
