/*
 * util.c - process-local helpers used by every memdb process.
 */
#include "src/core/util.h"
#include "src/core/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
oom(size_t n)
{
    log_fatal("out of memory allocating %zu bytes", n);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *
xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        oom(strlen(s));
    return p;
}

char *
xmemdup(const void *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Parses a decimal number and returns a pointer to the first byte after it. */
static int
parse_number(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;

    if (!isdigit((unsigned char) *p))
        return MEMDB_ERR;
    for (; isdigit((unsigned char) *p); p++) {
        uint64_t d = (uint64_t) (*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return MEMDB_ERR;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return MEMDB_OK;
}

int
util_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *sfx;
        uint64_t mul;
    } units[] = {
        { "", 1 },
        { "b", 1 },
        { "k", 1000ULL },
        { "kb", 1000ULL },
        { "kib", 1ULL << 10 },
        { "m", 1000000ULL },
        { "mb", 1000000ULL },
        { "mib", 1ULL << 20 },
        { "g", 1000000000ULL },
        { "gb", 1000000000ULL },
        { "gib", 1ULL << 30 },
        { "t", 1000000000000ULL },
        { "tb", 1000000000000ULL },
        { "tib", 1ULL << 40 },
    };
    uint64_t v;
    const char *p;

    if (parse_number(s, &v, &p) != MEMDB_OK)
        return MEMDB_ERR;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < MEMDB_NELEM(units); i++) {
        if (strcasecmp(p, units[i].sfx) == 0) {
            if (v > UINT64_MAX / units[i].mul)
                return MEMDB_ERR;
            *out = v * units[i].mul;
            return MEMDB_OK;
        }
    }
    return MEMDB_ERR;
}

int
util_parse_duration(const char *s, uint64_t *out_ms)
{
    static const struct {
        const char *sfx;
        uint64_t mul;
    } units[] = {
        { "", 1 },      { "ms", 1 },      { "s", 1000 },
        { "m", 60000 }, { "h", 3600000 },
    };
    uint64_t v;
    const char *p;

    if (parse_number(s, &v, &p) != MEMDB_OK)
        return MEMDB_ERR;
    for (size_t i = 0; i < MEMDB_NELEM(units); i++) {
        if (strcmp(p, units[i].sfx) == 0) {
            if (v > UINT64_MAX / units[i].mul)
                return MEMDB_ERR;
            *out_ms = v * units[i].mul;
            return MEMDB_OK;
        }
    }
    return MEMDB_ERR;
}

int
util_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *port, *h = s;
    size_t hlen;
    struct addrinfo hints, *res;
    uint64_t pnum;
    const char *end;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return MEMDB_ERR;
        h = s + 1;
        hlen = (size_t) (close - h);
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || strchr(s, ':') != colon)
            return MEMDB_ERR;
        hlen = (size_t) (colon - s);
        port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return MEMDB_ERR;
    if (parse_number(port, &pnum, &end) != MEMDB_OK || *end != '\0'
        || pnum > 65535)
        return MEMDB_ERR;
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return MEMDB_ERR;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return MEMDB_OK;
}

void
util_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, outlen, "unix");
    }
}

uint64_t
util_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

uint64_t
util_now_ms(void)
{
    return util_now_ns() / 1000000ULL;
}

uint64_t
util_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000ULL;
}

int
util_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return MEMDB_ERR;
    return MEMDB_OK;
}

int
util_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MEMDB_ERR;
        }
        p += n;
        len -= (size_t) n;
    }
    return MEMDB_OK;
}

int
util_mkdir_p(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return MEMDB_ERR;
    }
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
            return MEMDB_ERR;
        *p = '/';
    }
    if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
        return MEMDB_ERR;
    return MEMDB_OK;
}

int
util_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return MEMDB_ERR;
    rc = fsync(fd);
    close(fd);
    return rc == 0 ? MEMDB_OK : MEMDB_ERR;
}

static int
lsnfile_cmp(const void *a, const void *b)
{
    const util_lsnfile_t *x = a, *y = b;
    return x->lsn < y->lsn ? -1 : x->lsn > y->lsn;
}

int
util_list_lsn_files(const char *dir, const char *suffix, bool newest_first,
                    util_lsnfile_t **out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    util_lsnfile_t *v = NULL;
    int n = 0, cap = 0;
    size_t slen = strlen(suffix);

    *out = NULL;
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d)) != NULL) {
        char *end;
        struct stat st;

        if (strlen(de->d_name) != 20 + slen
            || strcmp(de->d_name + 20, suffix) != 0)
            continue;
        unsigned long long lsn = strtoull(de->d_name, &end, 10);
        if (end != de->d_name + 20)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, (size_t) cap * sizeof(*v));
        }
        v[n].lsn = lsn;
        snprintf(v[n].path, sizeof(v[n].path), "%s/%s", dir, de->d_name);
        v[n].size = stat(v[n].path, &st) == 0 ? (uint64_t) st.st_size : 0;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(v, (size_t) n, sizeof(*v), lsnfile_cmp);
    for (int i = 0; newest_first && i < n / 2; i++) {
        util_lsnfile_t t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
    *out = v;
    return n;
}

bool
util_id_ok(const char *id, size_t n)
{
    size_t l = strnlen(id, n);

    if (l == 0 || l == n)
        return false;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char) id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

uint64_t
util_next_pow2(uint64_t x)
{
    if (x <= 1)
        return 1;
    return 1ULL << (64 - __builtin_clzll(x - 1));
}

uint64_t
util_phys_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);

    if (pages <= 0 || psize <= 0)
        return 1ULL << 30;
    return (uint64_t) pages * (uint64_t) psize;
}

#ifdef MEMDB_COVERAGE
void __gcov_dump(void); /* libgcov */
#endif

void
util_child_exit(int status)
{
#ifdef MEMDB_COVERAGE
    __gcov_dump();
#endif
    _exit(status);
}
