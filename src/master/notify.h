/*
 * notify.h - the daemon's side of systemd: socket activation and the
 * sd_notify protocol (libsystemd).  All systemd calls live in notify.c.
 *
 *   notify_listen_fd()  the HTTP socket passed by a .socket unit, or -1
 *   READY=1             once recovery ended and every child checked in
 *   STATUS=...          role, epoch, LSN, words, kept current
 *   EXTEND_TIMEOUT_USEC while a long recovery runs
 *   WATCHDOG=1          from the master, only while its children are
 *                       alive and their loops turn
 *   RELOADING=1/READY=1 around a SIGHUP reload
 *   STOPPING=1          when a shutdown starts
 * Without NOTIFY_SOCKET (not under systemd) every call does nothing.
 */
#ifndef MEMDB_SRC_MASTER_NOTIFY_H
#define MEMDB_SRC_MASTER_NOTIFY_H

#include "src/core/memdb.h"

/* Must run in the master before any fork (sd_listen_fds checks the pid). */
int notify_listen_fd(void);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *status);
/* Asks for more start-up time; sends at most once a second. */
void notify_extend(void);
/* The watchdog interval in ms (0 when off). */
uint64_t notify_watchdog_ms(void);
void notify_watchdog(void);

#endif
