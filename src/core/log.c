/*
 * log.c - server log and activity log (see log.h).
 */
#include "src/core/log.h"
#include "src/core/buf.h"
#include "src/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_ACT_BUF (64 * 1024)

static struct {
    char node[64];
    char role[32];
    int level;
    char file[4096];
    char activity[4096];
    int fd;       /* server log */
    int act_fd;   /* activity log, -1 when off */
    bool journal; /* prefix lines with <N> for journald */
    bool color;
    char act_buf[LOG_ACT_BUF];
    size_t act_len;
} lg = {
    .node = "-", .role = "memdbd", .level = LOG_LVL_INFO, .fd = 2, .act_fd = -1
};

static const char *lvl_name[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const int lvl_prio[] = { 3, 4, 6, 7 }; /* syslog priorities */

static int
open_log(const char *path)
{
    int fd;

    if (strcmp(path, "-") == 0)
        return dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd;
}

int
log_init(const char *node_id, const char *file, const char *activity,
         int level)
{
    const char *js = getenv("JOURNAL_STREAM");

    snprintf(lg.node, sizeof(lg.node), "%s", node_id);
    snprintf(lg.file, sizeof(lg.file), "%s", file ? file : "-");
    snprintf(lg.activity, sizeof(lg.activity), "%s", activity ? activity : "");
    lg.level = level;
    lg.journal = (js != NULL && *js != '\0' && strcmp(lg.file, "-") == 0);
    lg.color = (!lg.journal && strcmp(lg.file, "-") == 0 && isatty(2));
    return log_reopen();
}

void
log_set_role(const char *role)
{
    snprintf(lg.role, sizeof(lg.role), "%s", role);
}

void
log_set_files(const char *file, const char *activity)
{
    snprintf(lg.file, sizeof(lg.file), "%s", file ? file : "-");
    snprintf(lg.activity, sizeof(lg.activity), "%s", activity ? activity : "");
}

void
log_set_level(int level)
{
    lg.level = level;
}

int
log_level_parse(const char *s)
{
    for (int i = 0; i < (int) MEMDB_NELEM(lvl_name); i++)
        if (strcasecmp(s, lvl_name[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return LOG_LVL_WARN;
    return -1;
}

int
log_reopen(void)
{
    int fd, afd = -1, rc = MEMDB_OK;

    log_activity_flush();
    fd = open_log(lg.file);
    if (fd < 0) {
        fprintf(stderr, "memdbd: open(%s) failed: %s\n", lg.file,
                strerror(errno));
        rc = MEMDB_ERR;
    } else {
        if (lg.fd > 2)
            close(lg.fd);
        lg.fd = fd;
    }
    if (lg.activity[0] != '\0') {
        afd = open_log(lg.activity);
        if (afd < 0) {
            log_errno("open(%s) failed", lg.activity);
            rc = MEMDB_ERR;
        } else {
            if (lg.act_fd >= 0)
                close(lg.act_fd);
            lg.act_fd = afd;
        }
    }
    return rc;
}

void
log_close(void)
{
    log_activity_flush();
    if (lg.act_fd >= 0)
        close(lg.act_fd);
    lg.act_fd = -1;
}

/* Per-node color: a stable hash of the node id picks one of six. */
static int
node_color(void)
{
    unsigned h = 0;
    for (const char *p = lg.node; *p; p++)
        h = h * 31 + (unsigned char) *p;
    return 31 + (int) (h % 6);
}

static void
log_vwrite(int level, const char *fmt, va_list ap, const char *suffix)
{
    char line[2048];
    size_t n = 0;
    struct timespec ts;
    struct tm tm;

    if (level > lg.level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (lg.journal)
        n += (size_t) snprintf(line, sizeof(line), "<%d>", lvl_prio[level]);
    if (lg.color)
        n += (size_t) snprintf(line + n, sizeof(line) - n, "\033[%dm",
                               node_color());
    n += strftime(line + n, sizeof(line) - n, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(line + n, sizeof(line) - n,
                           ".%03ldZ %s %s[%d] %s: ", ts.tv_nsec / 1000000,
                           lg.node, lg.role, (int) getpid(), lvl_name[level]);
    if (n < sizeof(line))
        n += (size_t) vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (suffix != NULL && n < sizeof(line))
        n += (size_t) snprintf(line + n, sizeof(line) - n, ": %s", suffix);
    if (lg.color && n < sizeof(line))
        n += (size_t) snprintf(line + n, sizeof(line) - n, "\033[0m");
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void) util_write_all(lg.fd, line, n);
}

void
log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fmt, ap, NULL);
    va_end(ap);
}

void
log_errno(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_LVL_ERROR, fmt, ap, strerror(saved));
    va_end(ap);
    errno = saved;
}

void
log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_LVL_ERROR, fmt, ap, NULL);
    va_end(ap);
}

/* Appends to the activity buffer (the caller made room). */
static void
act_put(const char *p, size_t n)
{
    memcpy(lg.act_buf + lg.act_len, p, n);
    lg.act_len += n;
}

static void
act_put_u64(uint64_t v, int width)
{
    lg.act_len += buf_u64_digits(lg.act_buf + lg.act_len, v, width);
}

/* One line per request, written with one write(2) per event-loop turn:
 * "TIME NODE CLIENT METHOD PATH STATUS BYTES DURATIONus".  This runs for
 * every request, so it formats by hand (no stdio) and redoes the date only
 * when the second changes. */
void
log_activity(const char *client, const char *method, const char *path,
             size_t pathlen, int status, uint64_t bytes, uint64_t usec)
{
    static char stamp[32];
    static time_t stamp_sec = -1;
    static size_t stamp_len;
    size_t plen = MEMDB_MIN(pathlen, 512), need;
    struct timespec ts;

    if (lg.act_fd < 0)
        return;
    need = 32 + 10 + strlen(lg.node) + strlen(client) + strlen(method) + plen
           + 60;
    if (lg.act_len + need > sizeof(lg.act_buf))
        log_activity_flush();
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != stamp_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        stamp_len = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S.", &tm);
        stamp_sec = ts.tv_sec;
    }
    act_put(stamp, stamp_len);
    act_put_u64((uint64_t) ts.tv_nsec / 1000, 6);
    act_put("Z ", 2);
    act_put(lg.node, strlen(lg.node));
    act_put(" ", 1);
    act_put(client, strlen(client));
    act_put(" ", 1);
    act_put(method, strlen(method));
    act_put(" ", 1);
    /* the path comes from a client: never let it break the line format */
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char) path[i];
        lg.act_buf[lg.act_len++] = (char) (c <= 0x20 || c == 0x7f ? '?' : c);
    }
    act_put(" ", 1);
    act_put_u64((uint64_t) status, 1);
    act_put(" ", 1);
    act_put_u64(bytes, 1);
    act_put(" ", 1);
    act_put_u64(usec, 1);
    act_put("us\n", 3);
}

void
log_activity_flush(void)
{
    if (lg.act_len == 0 || lg.act_fd < 0) {
        lg.act_len = 0;
        return;
    }
    (void) util_write_all(lg.act_fd, lg.act_buf, lg.act_len);
    lg.act_len = 0;
}
