/*
 * ctl.h - memdbctl, the admin tool: shared definitions of its commands.
 *
 * Exit codes (memdbctl(1)):
 *   0 success            1 the data or the answer says something is wrong
 *   2 usage error        3 the node cannot be reached
 *   4 the node refused the request (4xx)
 *   5 the node failed (5xx)
 */
#ifndef MEMDB_CTL_H
#define MEMDB_CTL_H

#include "memdb.h"

enum {
    CTL_OK = 0, CTL_BAD = 1, CTL_USAGE = 2, CTL_DOWN = 3, CTL_4XX = 4,
    CTL_5XX = 5,
};

typedef struct ctl_opts_s {
    const char *node;          /* base URL */
    const char *token;
    bool        json;
} ctl_opts_t;

int ctl_log(const ctl_opts_t *o, int argc, char **argv);
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
