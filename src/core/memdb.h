/*
 * memdb.h - definitions shared by every part of memdb.
 *
 * Status codes: every function that can fail returns one of the MEMDB_*
 * codes below (or a pointer that is NULL on failure, or false).
 *
 * Reporting a failure: each failure is reported once, and who reports it
 * depends on who knows how:
 *
 *   1. By default, the function that fails logs it where it happens
 *      (log_errno/log_error, naming the call that failed and on what), and
 *      its callers pass the code up without logging it again.  A caller
 *      may log what the failure means for it (what it will not do now),
 *      not the failure once more.  This is the rule for what a process
 *      does for itself: the master's log writer, the workers, the
 *      replicator's network and state files.
 *   2. A function whose caller decides how to report takes `char *err,
 *      size_t errlen` (or has an err field in its reader or writer
 *      struct: clogrd_t, snap_writer_t): it logs nothing about the
 *      failure and writes one line naming the file, the offset or the
 *      key into err; its caller reports that line once (memdbd logs it,
 *      memdbctl prints it, a reload keeps the running configuration, a
 *      test checks it).  This is the rule for code that memdbd and
 *      memdbctl share or that reads what an operator wrote: configuration
 *      loading (conf_load, conf_reload), recovery (recover_run),
 *      snapshots (snap_open, snap_next, snap_compact, the snapshot
 *      writer), the segment and change-log readers (seg_open, clogrd_*),
 *      the cluster state and secret (cstate_load, auth_load), fault specs
 *      (fault_arm_env).  Such a function may still log what is not a
 *      failure (recovery's warning that it cut a torn tail).
 *   3. A thin wrapper of a system call (util_write_all, util_mkdir_p,
 *      util_fsync_dir, util_set_nonblock) behaves like the call: it sets
 *      errno and logs nothing, and its caller reports it as in 1 or 2.
 *      Checks of input (util_parse_*, url_*, rec_check, ...) log nothing
 *      either: bad input is the caller's to answer (a 400, a configuration
 *      error with its position, a refused frame).
 *
 * Never both: a function with an err buffer does not log its failure,
 * and a caller of a function that logged does not log it again.
 */
#ifndef MEMDB_SRC_CORE_MEMDB_H
#define MEMDB_SRC_CORE_MEMDB_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define MEMDB_OK     0
#define MEMDB_ERR    (-1)
#define MEMDB_AGAIN  (-2)
#define MEMDB_BUSY   (-3)
#define MEMDB_NOENT  (-4) /* no such thing (a table) */
#define MEMDB_EXISTS (-5) /* it exists already */
#define MEMDB_FULL   (-6) /* no room for another (a table) */

/* Exit codes of memdbd and its children (see memdbd(8)). */
#define MEMDB_EXIT_OK     0 /* clean shutdown */
#define MEMDB_EXIT_FATAL  1 /* fatal but clean: respawn with backoff */
#define MEMDB_EXIT_CONFIG 2 /* configuration or init error: never respawn */

#define MEMDB_VERSION PACKAGE_VERSION

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define MEMDB_MIN(a, b)   ((a) < (b) ? (a) : (b))
#define MEMDB_MAX(a, b)   ((a) > (b) ? (a) : (b))
#define MEMDB_ALIGN(x, a) (((x) + ((a) -1)) & ~((uint64_t) (a) -1))
#define MEMDB_NELEM(a)    (sizeof(a) / sizeof((a)[0]))

#endif
