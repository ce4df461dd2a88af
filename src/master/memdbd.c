/*
 * memdbd.c - the daemon's entry point: arguments, configuration, then the
 * master (master.c) takes over.
 */
#include "src/core/conf.h"
#include "src/core/log.h"
#include "src/master/master.h"
#include "src/core/proctitle.h"
#include "src/core/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f,
            "Usage: memdbd [-c FILE] [--check-config] [--help] [--version]\n"
            "\n"
            "memdb: an in-memory, highly available word-count database.\n"
            "\n"
            "  -c, --config FILE    read the configuration from FILE (YAML,\n"
            "                       see memdb.yaml(5)); without it, defaults\n"
            "  -t, --check-config   check the configuration and exit\n"
            "  -v, --verbose        with --check-config: print the effective\n"
            "                       configuration\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n"
            "\n"
            "Exit status: 0 clean stop, 1 fatal error, 2 configuration or\n"
            "start-up error.  See memdbd(8).\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static conf_t conf;
    char err[1024];
    const char *path = NULL;
    bool check = false, verbose = false;
    int c;

    while ((c = getopt_long(argc, argv, "c:tvhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 't': check = true; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("memdbd %s\n", MEMDB_VERSION); return 0;
        default: usage(stderr); return MEMDB_EXIT_CONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "memdbd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return MEMDB_EXIT_CONFIG;
    }
    conf_defaults(&conf);
    if (path != NULL && conf_load(&conf, path, err, sizeof(err)) != MEMDB_OK) {
        fprintf(stderr, "%s\n", err);
        return MEMDB_EXIT_CONFIG;
    }
    if (path == NULL)
        conf_derive(&conf);
    if (check) {
        printf("%s: configuration OK\n", path ? path : "(defaults)");
        if (verbose) {
            fflush(stdout); /* conf_dump writes to the fd */
            conf_dump(&conf, 1);
        }
        return 0;
    }
    if (util_mkdir_p(conf.data_dir) != MEMDB_OK) {
        fprintf(stderr, "memdbd: cannot create %s: %s\n", conf.data_dir,
                strerror(errno));
        return MEMDB_EXIT_CONFIG;
    }
    if (log_init(conf.node_id, conf.log_file, conf.log_activity,
                 (int) conf.log_level)
        != MEMDB_OK)
        return MEMDB_EXIT_CONFIG;
    proctitle_init(argc, argv);
    return master_run(&conf);
}
