/*
 * master.h - the master process: owns the listen socket, the shared
 * segment, the data directory and the children; never serves a request.
 */
#ifndef MEMDB_SRC_MASTER_MASTER_H
#define MEMDB_SRC_MASTER_MASTER_H

#include "src/core/conf.h"

/* Runs memdbd until it is stopped; returns the exit status. */
int master_run(conf_t *conf);

#endif
