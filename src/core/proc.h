/*
 * proc.h - the skeleton of a memdbd process: the master, its workers and
 * its replicator (proc.c).
 *
 * Each of them runs one epoll loop and takes signals as events of that
 * loop: it blocks the signals it acts on and reads them from a signalfd in
 * its epoll set, so no code runs in a signal handler.  A child of the
 * master learns of the master's death twice: PR_SET_PDEATHSIG sends it a
 * signal, and the read end of the master-death pipe, in its epoll set,
 * hits EOF, since the master holds the only write end (its children close
 * theirs right after fork).  The pipe also covers a master that died
 * between fork and prctl.
 *
 * What the events mean stays with each process (src/master/master.c,
 * worker/worker.c, replicator/loop.c): every descriptor is registered with
 * a tag the process chooses (epoll data.ptr) and dispatched by it.
 */
#ifndef MEMDB_SRC_CORE_PROC_H
#define MEMDB_SRC_CORE_PROC_H

#include "src/core/memdb.h"

typedef struct proc_s {
    int sig_fd; /* signalfd of the blocked signals, or -1 */
    int epfd;   /* the process's epoll set, or -1 */
} proc_t;

/* Blocks the signals of sigs (a list ended by 0), opens a signalfd of them
 * and an epoll set holding it, tagged sig_tag.  MEMDB_OK or MEMDB_ERR
 * (logged); p->sig_fd and p->epfd are -1 for what did not open. */
int proc_open(proc_t *p, const int *sigs, void *sig_tag);
/* Adds fd to p's epoll set for events, tagged tag.  MEMDB_OK or MEMDB_ERR
 * (logged). */
int proc_watch(const proc_t *p, int fd, uint32_t events, void *tag);
/* The next signal waiting in p's signalfd, or 0 when none is left. */
int proc_signal(const proc_t *p);

/* The master: the master-death pipe, fds[0] for its children's epoll sets
 * and fds[1] for itself alone (both close-on-exec).  MEMDB_OK or
 * MEMDB_ERR (logged). */
int proc_pdeath_pipe(int fds[2]);
/* A child of the master, right after fork: sig when the master dies, and
 * the parent's skeleton and write end of the death pipe closed. */
void proc_child(proc_t *parent, int pdeath_wr, int sig);
/* sig when the parent dies (PR_SET_PDEATHSIG). */
void proc_parent_death(int sig);

#endif
