/*
 * loader.h - loads recovered words into the shared table with several
 * threads: the master's recovery at start-up (before any fork), and a
 * replica's full sync (in the replicator).
 *
 * The recovery reader (recover.c) parses and checks the files in one
 * thread and hands words to loader_add(); they are packed into batches
 * (words copied, since the readers reuse their buffers) and applied by
 * the reader thread and up to LOADER_MAX_THREADS-1 helper threads at once.
 * Counts only add, so the order in which batches land does not matter.
 * Each batch is applied HT_BATCH words at a time after ht_prefetch(), so
 * cache misses overlap within a thread as well as across threads.  All
 * threads are joined before loader_finish() returns.
 */
#ifndef MEMDB_SRC_CHANGELOG_LOADER_H
#define MEMDB_SRC_CHANGELOG_LOADER_H

#include "src/changelog/recover.h"
#include "shm/shm.h"

#define LOADER_MAX_THREADS 8

typedef struct loader_s loader_t;

/* Called after every full batch while loading (NULL: nothing).  The master
 * passes notify_extend(), to ask systemd for more start-up time during a
 * long recovery; the loader itself knows nothing of systemd. */
typedef void (*loader_tick_fn)(void);

/* nthreads: helper threads to start (0 = apply in the caller only). */
loader_t *loader_new(shm_t *shm, unsigned nthreads, loader_tick_fn tick);
/* Helper threads that use this machine's CPUs: one per CPU but the
 * caller's. */
unsigned loader_helpers(void);
/* A recover_sink_t that feeds this loader. */
void loader_sink(loader_t *l, recover_sink_t *sink);
/* Waits for every batch; frees the loader.  MEMDB_ERR if the table
 * filled up. */
int loader_finish(loader_t *l);

#endif
