/*
 * memdbctl.c - the admin tool's entry point: global options, then the
 * command (see memdbctl(1)).
 */
#include "src/ctl/ctl.h"
#include "src/core/log.h"

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
    fprintf(
        f,
        "Usage: memdbctl [--node URL] [--json] [--token-file FILE] COMMAND "
        "[ARGS]\n"
        "\n"
        "Global options:\n"
        "  --node URL[,URL...]      the node (default $MEMDB_URL, else\n"
        "                           http://127.0.0.1:9889); upload tries\n"
        "                           the others of a list when one fails\n"
        "  --json                   print the node's JSON answers as they are\n"
        "  --token-file FILE        send the token in FILE as \"Authorization:\n"
        "                           Bearer\" (default $MEMDB_TOKEN)\n"
        "\n"
        "On a running node:\n"
        "  status                   node, role, counters, persistence\n"
        "  count WORD...            the counts of the given words\n"
        "  upload FILE|- [--wait N] [--timeout-ms T] [--key K]\n"
        "         [--retry-for S]   count the words of FILE (- is stdin)\n"
        "                           exactly once: sent with an\n"
        "                           Idempotency-Key, retried through\n"
        "                           failovers for S s (default 120)\n"
        "  retract FILE|- [--wait N] [--timeout-ms T] [--key K]\n"
        "         [--retry-for S]   take back the words of FILE: refused\n"
        "                           whole if a count would go below 0\n"
        "  forget WORD... [--wait N] [--timeout-ms T]\n"
        "                           reset each WORD's count to 0\n"
        "  top [-n K]               the K most frequent words (default 10)\n"
        "  table list | describe T | create T [--tokenizer JSON] |\n"
        "        drop T | truncate T\n"
        "                           the tables; count, upload, retract,\n"
        "                           forget, top and dump take --table T\n"
        "  dump [FILE] [--prefix P] [--limit N]\n"
        "                           every word and its count as JSON\n"
        "  snapshot                 take a snapshot now\n"
        "  cluster nodes            the members as this node sees them\n"
        "  cluster meet HOST:PORT   introduce the node at gossip address\n"
        "  cluster failover [NODE]  hand the leadership over (ask the "
        "leader)\n"
        "  cluster forget NODE      drop a dead member\n"
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
        { "token-file", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    ctl_opts_t o = { .node = getenv("MEMDB_URL"), .json = false };
    const char *token_file = NULL;
    int c, rc;

    if (o.node == NULL || *o.node == '\0')
        o.node = "http://127.0.0.1:9889";
    while ((c = getopt_long(argc, argv, "+n:jt:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.node = optarg; break;
        case 'j': o.json = true; break;
        case 't': token_file = optarg; break;
        case 'h': usage(stdout); return CTL_OK;
        case 'V': printf("memdbctl %s\n", MEMDB_VERSION); return CTL_OK;
        default: usage(stderr); return CTL_USAGE;
        }
    }
    log_set_level(LOG_LVL_ERROR);
    if (optind >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (strcmp(argv[optind], "log") == 0)
        return ctl_changelog(&o, argc - optind - 1, argv + optind + 1);
    if (ctl_cmd_exists(argv[optind])) {
        if ((rc = ctl_http_start(&o, token_file)) != CTL_OK)
            return rc;
        return ctl_cmd(&o, argc - optind, argv + optind);
    }
    ctl_err("unknown command \"%s\"", argv[optind]);
    usage(stderr);
    return CTL_USAGE;
}
