/*
 * ctl.h - memdbctl, the admin tool: shared definitions of its commands.
 *
 * Exit codes (memdbctl(1)):
 *   0 success            1 the data or the answer says something is wrong
 *   2 usage error        3 the node cannot be reached
 *   4 the node refused the request (4xx)
 *   5 the node failed (5xx)
 */
#ifndef MEMDB_SRC_CTL_CTL_H
#define MEMDB_SRC_CTL_CTL_H

#include "src/core/memdb.h"
#include "src/core/buf.h"

#include <stdio.h>
#include <sys/types.h>

enum {
    CTL_OK = 0,
    CTL_BAD = 1,
    CTL_USAGE = 2,
    CTL_DOWN = 3,
    CTL_4XX = 4,
    CTL_5XX = 5,
};

typedef struct ctl_opts_s {
    const char *node; /* base URL */
    const char *token;
    bool json;
} ctl_opts_t;

int ctl_changelog(const ctl_opts_t *o, int argc, char **argv);
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl_http.c: requests to a node ---------------------------------- */

/* An upload body read as it is sent (a file, or stdin with "-"). */
typedef struct ctl_src_s {
    const char *name; /* for messages: the path or "stdin" */
    int fd;
    bool seekable;      /* a regular file: Content-Length, rewind */
    off_t base;         /* file offset of the first byte to send */
    int64_t size;       /* -1: unknown, sent chunked */
    uint64_t sent;      /* bytes read since the last rewind */
    int err;            /* errno of a failed read */
    bool rewind_failed; /* a redirect needed bytes already read */
    bool bar;           /* progress bar: stderr is a terminal */
    uint64_t drawn_ms;
} ctl_src_t;

typedef struct ctl_req_s {
    const char *method;   /* "GET" or "POST" */
    buf_t path;           /* path and query, e.g. /api/v1/top?n=3 */
    ctl_src_t *src;       /* POST body, or NULL */
    const char *data;     /* ...or this one, in memory (JSON) */
    const char *idem_key; /* Idempotency-Key, or NULL */
    long stall_s;         /* give up after this long without a byte (0) */
    bool stream;          /* a 2xx body goes to out_path, not body */
    const char *out_path; /* NULL or "-": stdout */
    bool quiet;           /* print no error message */
    /* filled in */
    long status;
    char reason[64];
    char location[512];
    bool replayed;     /* Idempotent-Replayed: true */
    bool retry_after;  /* a Retry-After field: "not now" */
    bool transport;    /* failed in transfer (no HTTP answer) */
    buf_t body;        /* the answer (an error's, when streaming) */
    uint64_t streamed; /* bytes written to out */
    FILE *out;
    bool created; /* out_path was created */
    int werr;     /* errno of a failed write */
} ctl_req_t;

struct cJSON;

/* o->node may list several nodes, comma-separated: ctl_base() is the
 * first; ctl_use_node() makes node i (of ctl_nodes()) the base. */
const char *ctl_base(const ctl_opts_t *o);
int ctl_nodes(const ctl_opts_t *o);
void ctl_use_node(const ctl_opts_t *o, int i);
int ctl_src_rewind(ctl_src_t *s);
int ctl_http_start(ctl_opts_t *o, const char *token_file);
void ctl_query(buf_t *path, const char *key, const char *val);
/* Appends val %-escaped, as one path segment. */
void ctl_path_escape(buf_t *path, const char *val);
int ctl_src_open(ctl_src_t *s, const char *path);
void ctl_src_close(ctl_src_t *s);
int ctl_request(const ctl_opts_t *o, ctl_req_t *r);
int ctl_call(const ctl_opts_t *o, ctl_req_t *r, struct cJSON **out);
void ctl_req_free(ctl_req_t *r);

/* ---- ctl_cmd.c: the commands that talk to a node --------------------- */

bool ctl_cmd_exists(const char *name);
int ctl_cmd(const ctl_opts_t *o, int argc, char **argv);

#endif
