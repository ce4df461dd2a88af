/*
 * replay.c - runs a fuzz target over saved inputs without libFuzzer, so
 * the corpus is a regression test in every build (tests/fuzz/replay.sh).
 *
 *   replay_TARGET FILE|DIR...
 *
 * Each file (each file of each directory) is passed once to the target's
 * LLVMFuzzerTestOneInput(); a broken invariant aborts.  Prints the number
 * of inputs run.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

/* Weak: not every target has one. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t len = 0, cap = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            data = realloc(data, cap);
            if (data == NULL)
                abort();
        }
        n = fread(data + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    /* a copy of exactly len bytes, so ASan sees reads past the input */
    unsigned char *exact = malloc(len ? len : 1);
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int
main(int argc, char **argv)
{
    long runs = 0;
    int bad = 0;

    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]) != 0;
            runs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        if (d == NULL) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(de->d_name);
        }
        closedir(d);
        if (n > 0)
            qsort(names, n, sizeof(*names), cmp_names);
        for (size_t k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]);
            bad |= run_file(path) != 0;
            runs++;
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %ld inputs\n", runs);
    return bad;
}
