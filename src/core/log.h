/*
 * log.h - the server log and the activity log.
 *
 * Every process holds one fd for each: the server log (diagnostics, with a
 * level) and the activity log (one line per HTTP request).  Both are opened
 * by the master, inherited by the children and reopened by each process on
 * SIGHUP (log_reopen), so logrotate can move the files away.
 *
 * Server log lines: "TIME NODE ROLE[PID] LEVEL: message".  Under systemd
 * (JOURNAL_STREAM set, or log.file "-" with log.syslog_prefix) each line
 * starts with a "<N>" priority prefix that journald understands.
 */
#ifndef MEMDB_SRC_CORE_LOG_H
#define MEMDB_SRC_CORE_LOG_H

#include "src/core/memdb.h"

enum {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

/* Sets the node id, role and level; opens the files ("-" is stderr). */
int log_init(const char *node_id, const char *file, const char *activity,
             int level);
void log_set_role(const char *role);
void log_set_level(int level);
int log_level_parse(const char *s); /* -1 when unknown */
int log_reopen(void);
/* New paths (a reload); takes effect at the next log_reopen(). */
void log_set_files(const char *file, const char *activity);
void log_close(void);

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Like log_msg at ERROR, appending ": strerror(errno)". */
void log_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Activity log: lines are buffered per process and written by
 * log_activity_flush(), called once per event-loop iteration. */
void log_activity(const char *client, const char *method, const char *path,
                  size_t pathlen, int status, uint64_t bytes, uint64_t usec);
void log_activity_flush(void);

#endif
