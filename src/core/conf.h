/*
 * conf.h - memdb.yaml, the configuration file (see memdb.yaml(5)).
 *
 * The file is YAML, read with libyaml's document loader.  Every key is
 * described once, in the table in conf.c (section, key, type, default,
 * limits); the loader walks the document against that table, so an unknown
 * key, a wrong type or a value out of range is reported as
 * "FILE:LINE:COL: what is wrong" and memdbd exits with status 2.
 */
#ifndef MEMDB_SRC_CORE_CONF_H
#define MEMDB_SRC_CORE_CONF_H

#include "src/core/memdb.h"

#include <sys/socket.h>

#define CONF_PATH_MAX 1024
/* node.data_dir is at most this long, so that every file memdb names
 * under it (activity.log, memdbd.lock, cluster/state, ...) fits in
 * CONF_PATH_MAX. */
#define CONF_DATA_DIR_MAX 960
#define CONF_ID_MAX       64
#define CONF_MAX_SEEDS    32
#define CONF_TOKEN_MAX    256

typedef struct conf_addr_s {
    char text[128]; /* as written, "" when unset */
    struct sockaddr_storage ss;
    socklen_t len;
} conf_addr_t;

typedef struct conf_s {
    char path[CONF_PATH_MAX];

    /* node */
    char node_id[CONF_ID_MAX];
    char data_dir[CONF_PATH_MAX];

    /* http */
    conf_addr_t http_listen;
    int64_t http_workers;
    uint64_t http_max_body;
    uint64_t http_max_header;
    uint64_t http_header_timeout_ms;
    uint64_t http_body_timeout_ms;
    uint64_t http_idle_timeout_ms;
    int64_t http_max_connections;

    /* log */
    char log_file[CONF_PATH_MAX];
    char log_activity[CONF_PATH_MAX];
    int64_t log_level;

    /* store */
    uint64_t store_max_memory;
    uint64_t store_max_word;
    int64_t store_max_tables; /* besides the table default */

    /* persistence */
    int64_t persist_fsync; /* FSYNC_* */
    uint64_t persist_segment_size;
    uint64_t persist_snap_changes; /* 0: not by changes */
    uint64_t persist_snap_ms;      /* 0: not by time */
    int64_t persist_keep_segments;
    uint64_t persist_replica_backlog; /* bytes held for lagging members */
    uint64_t persist_ring_size;       /* 0: derived from http.max_body */

    /* uploads */
    uint64_t up_idem_window_ms; /* how long an Idempotency-Key is kept */
    int64_t up_idem_max_keys;   /* at most this many; 0: keys ignored */

    /* cluster (enabled when gossip is set) */
    conf_addr_t cl_gossip;
    conf_addr_t cl_replication;
    conf_addr_t cl_seeds[CONF_MAX_SEEDS];
    int cl_nseeds;
    char cl_seeds_file[CONF_PATH_MAX];
    uint64_t cl_probe_interval_ms;
    uint64_t cl_probe_timeout_ms;
    int64_t cl_suspicion_mult;
    char cl_secret_file[CONF_PATH_MAX];
    bool cl_write_quorum;

    /* admin */
    char admin_token_file[CONF_PATH_MAX];
    char admin_token[CONF_TOKEN_MAX]; /* read from the file */
} conf_t;

#define conf_clustered(c) ((c)->cl_gossip.text[0] != '\0')

enum { FSYNC_NO = 0, FSYNC_EVERYSEC = 1, FSYNC_ALWAYS = 2 };

/* Fills c with the defaults. */
void conf_defaults(conf_t *c);
/* Loads path over the defaults.  On error writes "FILE:LINE:COL: msg" into
 * err and returns MEMDB_ERR. */
int conf_load(conf_t *c, const char *path, char *err, size_t errlen);
/* Fills the values that default from others (log.activity from
 * node.data_dir); conf_load() calls it. */
void conf_derive(conf_t *c);
const char *conf_fsync_name(int64_t mode);
/* Re-reads c->path (SIGHUP).  Keys that can change at run time (those
 * marked reloadable in conf.c) are applied to c; the names of changed keys
 * that need a restart are written to fixed (comma-separated).  On a bad
 * file c is left as it was and MEMDB_ERR returned with the reason. */
int conf_reload(conf_t *c, char *err, size_t errlen, char *fixed,
                size_t fixedlen);
/* Prints the effective configuration as YAML (memdbd --check-config -v). */
void conf_dump(const conf_t *c, int fd);

#endif
