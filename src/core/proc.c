/*
 * proc.c - the skeleton of a memdbd process (see proc.h): a signalfd of
 * the blocked signals, an epoll set, and a child's two ways of noticing
 * that the master died (PR_SET_PDEATHSIG and the master-death pipe).
 *
 * Only the setup is here; each process keeps its own loop and its own
 * meaning of every event.
 */
#include "src/core/proc.h"
#include "src/core/log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

int
proc_open(proc_t *p, const int *sigs, void *sig_tag)
{
    sigset_t set;

    sigemptyset(&set);
    for (; *sigs != 0; sigs++)
        sigaddset(&set, *sigs);
    sigprocmask(SIG_BLOCK, &set, NULL);
    p->epfd = -1;
    p->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (p->sig_fd < 0) {
        log_errno("signalfd() failed");
        return MEMDB_ERR;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        log_errno("epoll_create1() failed");
        return MEMDB_ERR;
    }
    return proc_watch(p, p->sig_fd, EPOLLIN, sig_tag);
}

int
proc_watch(const proc_t *p, int fd, uint32_t events, void *tag)
{
    struct epoll_event ev = { .events = events, .data.ptr = tag };

    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_errno("epoll_ctl(ADD, %d) failed", fd);
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

int
proc_signal(const proc_t *p)
{
    struct signalfd_siginfo si;

    if (read(p->sig_fd, &si, sizeof(si)) != sizeof(si))
        return 0;
    return (int) si.ssi_signo;
}

int
proc_pdeath_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0) {
        log_errno("pipe2() failed");
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

void
proc_child(proc_t *parent, int pdeath_wr, int sig)
{
    proc_parent_death(sig);
    close(pdeath_wr);
    close(parent->sig_fd);
    close(parent->epfd);
    parent->sig_fd = parent->epfd = -1;
}

void
proc_parent_death(int sig)
{
    prctl(PR_SET_PDEATHSIG, sig);
}
