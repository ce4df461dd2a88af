/*
 * recover.h - loading the data directory into the table at start.
 *
 * The newest snapshot that reads back whole is loaded (an invalid one is
 * skipped with a warning, falling back to the one before it), then every
 * record after its LSN is replayed from the segments, in LSN order.  A torn
 * record at the very end of the last segment (a crash while appending) is
 * cut off with a warning naming file and offset.  Any other bad record, a
 * gap in the LSNs, or segments that do not reach back to the snapshot stop
 * the start with an error naming file, offset and LSN.
 */
#ifndef MEMDB_SRC_CHANGELOG_RECOVER_H
#define MEMDB_SRC_CHANGELOG_RECOVER_H

#include "src/core/memdb.h"
#include "src/changelog/rec.h"
#include "shm/catalog.h"

typedef struct recover_stats_s {
    uint64_t snap_lsn; /* 0: no snapshot */
    uint64_t snap_words;
    uint64_t records;    /* replayed from segments */
    uint64_t last_lsn;   /* highest LSN recovered */
    uint64_t last_epoch; /* epoch of that record (or snapshot) */
    uint64_t ms;
    uint64_t truncated_off; /* torn tail cut at, 0 none */
    char snap_path[1100];
    char truncated[1100];
} recover_stats_t;

/* Where recovered words go: the shared table (memdbd), or a private map
 * (memdbctl log counts).  add() returns MEMDB_ERR when it is full; clear()
 * empties it after a snapshot failed half way. */
typedef struct recover_sink_s {
    int (*add)(void *arg, const char *word, size_t len, uint64_t n);
    /* applies what add() buffered (NULL if add applies at once) */
    int (*flush)(void *arg);
    void (*clear)(void *arg);
    void *arg;
    bool repair; /* cut a torn tail off (memdbd); false: report */
    /* an Idempotency-Key (NULL: keys are not wanted), oldest first */
    void (*key)(void *arg, const rec_idem_t *id, uint64_t lsn);
    /* the catalog recovery rebuilds (the snapshot's, then the table
     * operations of the log): words reach add() as table keys under
     * their generation's prefix (shm/catalog.h).  NULL: a private one. */
    cat_t *cat;
} recover_sink_t;

/* Loads data_dir into the (empty) sink.  MEMDB_OK, or MEMDB_ERR with the
 * reason in err. */
int recover_run(const char *data_dir, recover_sink_t *sink,
                recover_stats_t *st, char *err, size_t errlen);

/* The directories under data_dir. */
void recover_dirs(const char *data_dir, char *log_dir, char *snap_dir,
                  size_t len);

#endif
