/*
 * memdbctl.c - the admin tool's entry point: global options, then the
 * command (see memdbctl(1)).
 */
#include "ctl.h"
#include "log.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("memdbctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
usage(FILE *f)
{
    fprintf(f,
        "Usage: memdbctl [--node URL] [--json] COMMAND [ARGS]\n"
        "\n"
        "Offline, on a data directory:\n"
        "  log verify DIR           check every snapshot and segment\n"
        "  log print DIR [--from LSN] [--to LSN]\n"
        "                           print change records\n"
        "  log truncate DIR [--yes] cut the log at its first damaged record\n"
        "  log counts DIR           the word counts the directory holds\n"
        "\n"
        "Exit status: 0 ok, 1 damaged data or a failed check, 2 usage,\n"
        "3 node unreachable, 4 request refused (4xx), 5 node error (5xx).\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "node", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    ctl_opts_t o = { .node = getenv("MEMDB_URL"), .json = false };
    int c;

    if (o.node == NULL || *o.node == '\0')
        o.node = "http://127.0.0.1:9889";
    while ((c = getopt_long(argc, argv, "+n:jhV", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.node = optarg; break;
        case 'j': o.json = true; break;
        case 'h': usage(stdout); return CTL_OK;
        case 'V': printf("memdbctl %s\n", MEMDB_VERSION); return CTL_OK;
        default:  usage(stderr); return CTL_USAGE;
        }
    }
    log_set_level(LOG_LVL_ERROR);
    if (optind >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (strcmp(argv[optind], "log") == 0)
        return ctl_log(&o, argc - optind - 1, argv + optind + 1);
    ctl_err("unknown command \"%s\"", argv[optind]);
    usage(stderr);
    return CTL_USAGE;
}
