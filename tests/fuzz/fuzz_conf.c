/*
 * fuzz_conf.c - the YAML configuration loader (src/core/conf.c).
 *
 * The input is a memdb.yaml.  It is loaded from a file (conf_load, as
 * memdbd -c does); a failure must come with a "FILE:LINE:COL: message".
 * A configuration that loads is checked further:
 *   - reloading the same file (SIGHUP, conf_reload) succeeds and reports
 *     no key as changed;
 *   - the effective configuration printed by conf_dump (--check-config -v)
 *     loads again and prints the same (unless a seeds file is involved:
 *     its seeds are printed inline).
 */
#include "tests/fuzz/fuzz.h"
#include "src/core/conf.h"
#include "src/core/log.h"

static fuzz_file_t in, dump1, dump2;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    log_set_level(LOG_LVL_ERROR);
    fuzz_file_init(&in, "memdb.yaml");
    fuzz_file_init(&dump1, "dump1.yaml");
    fuzz_file_init(&dump2, "dump2.yaml");
    return 0;
}

/* Reads the whole memfd into b. */
static void
slurp(fuzz_file_t *f, buf_t *b)
{
    char tmp[4096];
    ssize_t n;
    off_t off = 0;

    b->len = 0;
    while ((n = pread(f->fd, tmp, sizeof(tmp), off)) > 0) {
        buf_append(b, tmp, (size_t) n);
        off += n;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static conf_t c, c2;
    char err[1024], fixed[1024];
    buf_t a = { 0 }, b = { 0 };

    fuzz_file_set(&in, data, size);
    conf_defaults(&c);
    err[0] = '\0';
    if (conf_load(&c, in.path, err, sizeof(err)) != MEMDB_OK) {
        /* "FILE:LINE:COL: message" (FILE may be a file the config names) */
        FUZZ_CHECK(err[0] != '\0' && strstr(err, ": ") != NULL);
        return 0;
    }
    FUZZ_CHECK(conf_reload(&c, err, sizeof(err), fixed, sizeof(fixed))
               == MEMDB_OK);
    FUZZ_CHECK(fixed[0] == '\0');

    if (c.cl_seeds_file[0] != '\0')
        return 0;
    fuzz_file_set(&dump1, "", 0);
    conf_dump(&c, dump1.fd);
    conf_defaults(&c2);
    if (conf_load(&c2, dump1.path, err, sizeof(err)) != MEMDB_OK) {
        fprintf(stderr, "the dump does not load: %s\n", err);
        FUZZ_CHECK(!"conf_dump output loads");
    }
    fuzz_file_set(&dump2, "", 0);
    conf_dump(&c2, dump2.fd);
    slurp(&dump1, &a);
    slurp(&dump2, &b);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    buf_free(&a);
    buf_free(&b);
    return 0;
}
