/*
 * notify.c - systemd integration (see notify.h).
 */
#include "src/master/notify.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#define EXTEND_USEC 30000000ULL

static char last_status[256];

int
notify_listen_fd(void)
{
    int n = sd_listen_fds(1);

    if (n <= 0)
        return -1;
    if (n > 1)
        log_warn("systemd passed %d sockets; using the first", n);
    if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
        log_error("the socket systemd passed is not a listening TCP socket");
        return -1;
    }
    return SD_LISTEN_FDS_START;
}

void
notify_ready(void)
{
    sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
    char msg[64];

    /* MONOTONIC_USEC lets newer systemd match it with the reload */
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long) (util_now_ns() / 1000));
    sd_notify(0, msg);
}

void
notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *status)
{
    char msg[300];

    if (strcmp(status, last_status) == 0)
        return;
    snprintf(last_status, sizeof(last_status), "%s", status);
    snprintf(msg, sizeof(msg), "STATUS=%s", status);
    sd_notify(0, msg);
}

void
notify_extend(void)
{
    static uint64_t last;
    uint64_t now = util_now_ms();
    char msg[64];

    if (now - last < 1000)
        return;
    last = now;
    snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%llu",
             (unsigned long long) EXTEND_USEC);
    sd_notify(0, msg);
}

uint64_t
notify_watchdog_ms(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec / 1000;
}

void
notify_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}
