/*
 * util.h - small helpers: memory that never fails, parsing of sizes,
 * durations and addresses, clocks, file descriptors.
 *
 * Process-local allocation failures abort the process (the master restarts
 * a worker that dies); nothing here ever returns NULL from an allocation.
 */
#ifndef MEMDB_SRC_CORE_UTIL_H
#define MEMDB_SRC_CORE_UTIL_H

#include "src/core/memdb.h"

#include <sys/socket.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* n bytes of s, and a NUL after them. */
char *xmemdup(const void *s, size_t n);

/* "64MiB", "1g", "4096" -> bytes.  MEMDB_OK or MEMDB_ERR. */
int util_parse_size(const char *s, uint64_t *out);
/* "200ms", "2s", "1m", "150" (ms) -> milliseconds. */
int util_parse_duration(const char *s, uint64_t *out_ms);
/* "127.0.0.1:9889", "[::1]:9889", "localhost:80" -> sockaddr. */
int util_parse_addr(const char *s, struct sockaddr_storage *ss,
                    socklen_t *len);
/* Formats an address as "HOST:PORT" ("[HOST]:PORT" for IPv6). */
void util_format_addr(const struct sockaddr *sa, char *out, size_t outlen);

uint64_t util_now_ns(void); /* CLOCK_MONOTONIC */
uint64_t util_now_ms(void);
uint64_t util_wall_ms(void); /* CLOCK_REALTIME */

int util_set_nonblock(int fd);
/* write(2) all of buf, retrying on EINTR.  MEMDB_OK or MEMDB_ERR (errno). */
int util_write_all(int fd, const void *buf, size_t len);
/* mkdir -p with mode 0750; MEMDB_OK or MEMDB_ERR (errno set). */
int util_mkdir_p(const char *path);
/* fsync a directory by path. */
int util_fsync_dir(const char *path);

/* A file named by an LSN: "<20 decimal digits><suffix>" (segments,
 * snapshots).  first_lsn and lsn are the same field. */
typedef struct util_lsnfile_s {
    union {
        uint64_t lsn;
        uint64_t first_lsn;
    };
    uint64_t size;
    char path[1100];
} util_lsnfile_t;

/* Lists dir's files named "<20 digits><suffix>", sorted by LSN (newest
 * first when newest_first).  The count (0 when dir does not exist) or -1;
 * *out is malloc'ed. */
int util_list_lsn_files(const char *dir, const char *suffix, bool newest_first,
                        util_lsnfile_t **out);

/* A node id: 1 to n-1 bytes of letters, digits, '.', '_' and '-',
 * NUL-terminated within n bytes (the wire formats' fixed fields). */
bool util_id_ok(const char *id, size_t n);

uint64_t util_next_pow2(uint64_t x);
uint64_t util_phys_memory(void);

/* Ends a forked child with _exit(status).  A build with --enable-coverage
 * writes the child's gcov counters first (_exit alone would lose them). */
void util_child_exit(int status) __attribute__((noreturn));

#endif
