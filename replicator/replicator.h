/*
 * replicator.h - the replicator process: the only part of memdbd that
 * talks to other nodes.  Forked by the master when the configuration has
 * a cluster section; restarted by it if it dies, while the workers keep
 * serving.
 */
#ifndef MEMDB_REPLICATOR_REPLICATOR_H
#define MEMDB_REPLICATOR_REPLICATOR_H

#include "src/core/conf.h"
#include "shm/shm.h"

typedef struct repl_args_s {
    const conf_t *conf;
    shm_t *shm;
    const int *wake_fds; /* the workers' eventfds, to wake them */
    unsigned nworkers;
    int wake_fd;   /* eventfd the master writes for us */
    int master_fd; /* eventfd we write to wake the master */
    int pdeath_fd;
} repl_args_t;

/* Runs the replicator; returns its exit status. */
int repl_main(const repl_args_t *a);

#endif
