/*
 * worker.h - an HTTP worker process.
 *
 * Workers are forked by the master after the shared segment exists.  Each
 * runs one single-threaded epoll loop over the shared listen socket
 * (EPOLLEXCLUSIVE, so one worker wakes per connection) and its own
 * connections, parses HTTP/1.1 with libhttp_parser, and reads and writes
 * the shared table directly.  A worker never blocks: an upload that must
 * wait (ring full, fsync, replicas) parks its connection until the master
 * writes the worker's eventfd.
 */
#ifndef MEMDB_WORKER_WORKER_H
#define MEMDB_WORKER_WORKER_H

#include "src/core/conf.h"
#include "shm/shm.h"

typedef struct wrk_args_s {
    const conf_t *conf;
    shm_t *shm;
    int slot; /* worker number */
    int listen_fd;
    int wake_fd;   /* eventfd written by the master */
    int notify_fd; /* eventfd the worker writes for the master */
    int pdeath_fd; /* read end of a pipe the master holds */
} wrk_args_t;

/* Runs the worker; returns its exit status. */
int wrk_main(const wrk_args_t *a);

#endif
