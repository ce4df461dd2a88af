/*
 * memdb.h - definitions shared by every part of memdb.
 *
 * Status codes: every function that can fail returns one of the MEMDB_*
 * codes below (or a pointer that is NULL on failure).  The failure is logged
 * where it happens, with the name of the call that failed; callers pass the
 * code up without logging it again.
 */
#ifndef MEMDB_SRC_CORE_MEMDB_H
#define MEMDB_SRC_CORE_MEMDB_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define MEMDB_OK    0
#define MEMDB_ERR   (-1)
#define MEMDB_AGAIN (-2)
#define MEMDB_BUSY  (-3)

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
