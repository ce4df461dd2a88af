/*
 * conf.c - the YAML configuration loader (see conf.h).
 *
 * The whole schema is the table conf_opts[]: adding a key is adding one
 * line there (and a paragraph to man/memdb.yaml.5).  Values are checked when
 * they are read, with the position of the offending node, so the error a
 * user sees points at the exact line and column.
 */
#include "src/core/conf.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

typedef enum {
    CT_STR,
    CT_INT,
    CT_SIZE,
    CT_DUR,
    CT_ADDR,
    CT_LEVEL,
    CT_FSYNC,
    CT_EVERY,
    CT_ADDRS,
    CT_BOOL,
} conf_type_e;

typedef struct conf_opt_s {
    const char *section;
    const char *key;
    conf_type_e type;
    size_t off;
    size_t size;       /* CT_STR: buffer size */
    uint64_t min, max; /* CT_INT, CT_SIZE, CT_DUR */
} conf_opt_t;

/* Keys a SIGHUP can change without a restart. */
static const char *const conf_reloadable[] = {
    "http.max_body",
    "http.max_header",
    "http.header_timeout",
    "http.body_timeout",
    "http.idle_timeout",
    "http.max_connections",
    "log.file",
    "log.activity",
    "log.level",
    "store.max_word",
    "persistence.snapshot_every",
    "persistence.keep_segments",
    "persistence.replica_backlog",
    "admin.token_file",
};

#define OFF(f) offsetof(conf_t, f)
#define STR(s, k, f) \
    { \
        s, k, CT_STR, OFF(f), sizeof(((conf_t *) 0)->f), 0, 0 \
    }
#define NUM(s, k, t, f, lo, hi) \
    { \
        s, k, t, OFF(f), 0, lo, hi \
    }

/* clang-format off */
static const conf_opt_t conf_opts[] = {
    STR("node", "id", node_id),
    STR("node", "data_dir", data_dir),
    { "http", "listen", CT_ADDR, OFF(http_listen), 0, 0, 0 },
    NUM("http", "workers", CT_INT, http_workers, 1, 63),
    NUM("http", "max_body", CT_SIZE, http_max_body, 1, 1ULL << 34),
    NUM("http", "max_header", CT_SIZE, http_max_header, 1024, 1 << 20),
    NUM("http", "header_timeout", CT_DUR, http_header_timeout_ms, 1, 3600000),
    NUM("http", "body_timeout", CT_DUR, http_body_timeout_ms, 1, 3600000),
    NUM("http", "idle_timeout", CT_DUR, http_idle_timeout_ms, 1, 86400000),
    NUM("http", "max_connections", CT_INT, http_max_connections, 1, 1000000),
    STR("log", "file", log_file),
    STR("log", "activity", log_activity),
    { "log", "level", CT_LEVEL, OFF(log_level), 0, 0, 0 },
    NUM("store", "max_memory", CT_SIZE, store_max_memory, 16ULL << 20,
        1ULL << 44),
    NUM("store", "max_word", CT_SIZE, store_max_word, 16, 65535),
    NUM("store", "max_tables", CT_INT, store_max_tables, 0, 1023),
    { "persistence", "fsync", CT_FSYNC, OFF(persist_fsync), 0, 0, 0 },
    NUM("persistence", "segment_size", CT_SIZE, persist_segment_size,
        64ULL << 10, 1ULL << 40),
    { "persistence", "snapshot_every", CT_EVERY, 0, 0, 0, 0 },
    NUM("persistence", "keep_segments", CT_INT, persist_keep_segments, 0,
        100000),
    NUM("persistence", "replica_backlog", CT_SIZE, persist_replica_backlog,
        0, 1ULL << 44),
    NUM("persistence", "ring_size", CT_SIZE, persist_ring_size, 1ULL << 20,
        1ULL << 36),
    NUM("uploads", "idempotency_window", CT_DUR, up_idem_window_ms, 1000,
        30ULL * 86400000),
    NUM("uploads", "idempotency_max_keys", CT_INT, up_idem_max_keys, 0,
        100000000),
    { "cluster", "gossip", CT_ADDR, OFF(cl_gossip), 0, 0, 0 },
    { "cluster", "replication", CT_ADDR, OFF(cl_replication), 0, 0, 0 },
    { "cluster", "seeds", CT_ADDRS, OFF(cl_seeds), 0, 0, 0 },
    STR("cluster", "seeds_file", cl_seeds_file),
    NUM("cluster", "probe_interval", CT_DUR, cl_probe_interval_ms, 10, 60000),
    NUM("cluster", "probe_timeout", CT_DUR, cl_probe_timeout_ms, 5, 60000),
    NUM("cluster", "suspicion_mult", CT_INT, cl_suspicion_mult, 1, 100),
    STR("cluster", "secret_file", cl_secret_file),
    { "cluster", "write_quorum", CT_BOOL, OFF(cl_write_quorum), 0, 0, 0 },
    STR("admin", "token_file", admin_token_file),
};
/* clang-format on */

static const char *fsync_names[] = { "no", "everysec", "always" };

typedef struct conf_ctx_s {
    conf_t *c;
    const char *path;
    yaml_document_t doc;
    char *err;
    size_t errlen;
} conf_ctx_t;

void
conf_defaults(conf_t *c)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(c, 0, sizeof(*c));
    snprintf(c->node_id, sizeof(c->node_id), "n1");
    snprintf(c->data_dir, sizeof(c->data_dir), "./var");
    snprintf(c->http_listen.text, sizeof(c->http_listen.text),
             "127.0.0.1:9889");
    (void) util_parse_addr(c->http_listen.text, &c->http_listen.ss,
                           &c->http_listen.len);
    c->http_workers = ncpu > 0 ? ncpu : 1;
    c->http_max_body = 64ULL << 20;
    c->http_max_header = 16ULL << 10;
    c->http_header_timeout_ms = 10000;
    c->http_body_timeout_ms = 30000;
    c->http_idle_timeout_ms = 60000;
    c->http_max_connections = 10000;
    snprintf(c->log_file, sizeof(c->log_file), "-");
    c->log_level = LOG_LVL_INFO;
    c->store_max_memory = util_phys_memory() / 2;
    c->store_max_word = 65535;
    c->store_max_tables = 64;
    c->persist_fsync = FSYNC_EVERYSEC;
    c->persist_segment_size = 64ULL << 20;
    c->persist_snap_changes = 1000000;
    c->persist_snap_ms = 300000;
    c->persist_keep_segments = 4;
    c->persist_replica_backlog = 4ULL << 30;
    c->persist_ring_size = 0;
    c->up_idem_window_ms = 24ULL * 3600000;
    c->up_idem_max_keys = 1000000;
    c->cl_probe_interval_ms = 200;
    c->cl_probe_timeout_ms = 100;
    c->cl_suspicion_mult = 3;
}

static int
conf_fail(conf_ctx_t *x, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;

    k = snprintf(x->err, x->errlen, "%s:%zu:%zu: ", x->path,
                 n ? n->start_mark.line + 1 : 1,
                 n ? n->start_mark.column + 1 : 1);
    if (k < 0 || (size_t) k >= x->errlen)
        return MEMDB_ERR;
    va_start(ap, fmt);
    vsnprintf(x->err + k, x->errlen - (size_t) k, fmt, ap);
    va_end(ap);
    return MEMDB_ERR;
}

static const char *
scalar(const yaml_node_t *n)
{
    return (const char *) n->data.scalar.value;
}

static int
set_number(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v)
{
    const char *s = scalar(v);
    void *dst = (char *) x->c + o->off;
    uint64_t u;
    int rc;

    switch (o->type) {
    case CT_INT:
        rc = util_parse_size(s, &u) == MEMDB_OK
                     && strspn(s, "0123456789") == strlen(s)
                 ? MEMDB_OK
                 : MEMDB_ERR;
        break;
    case CT_SIZE: rc = util_parse_size(s, &u); break;
    default: rc = util_parse_duration(s, &u); break;
    }
    if (rc != MEMDB_OK)
        return conf_fail(x, v, "%s.%s: \"%s\" is not a valid %s", o->section,
                         o->key, s,
                         o->type == CT_INT    ? "integer"
                         : o->type == CT_SIZE ? "size (like 64MiB)"
                                              : "duration (like 200ms or 2s)");
    if (u < o->min || u > o->max)
        return conf_fail(x, v, "%s.%s: %s is out of range [%llu, %llu]%s",
                         o->section, o->key, s, (unsigned long long) o->min,
                         (unsigned long long) o->max,
                         o->type == CT_DUR    ? " ms"
                         : o->type == CT_SIZE ? " bytes"
                                              : "");
    if (o->type == CT_INT)
        *(int64_t *) dst = (int64_t) u;
    else
        *(uint64_t *) dst = u;
    return MEMDB_OK;
}

/* node.id goes into file names and log lines. */
/* persistence.snapshot_every: one item or a list of items, each a
 * duration ("5m") or a number of changes ("1000000"); "off" for none. */
static int
set_every_item(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v)
{
    const char *s;
    uint64_t u;

    if (v->type != YAML_SCALAR_NODE)
        return conf_fail(x, v,
                         "%s.%s: expected a duration or a number of "
                         "changes",
                         o->section, o->key);
    s = scalar(v);
    if (strspn(s, "0123456789") == strlen(s) && *s != '\0'
        && util_parse_size(s, &u) == MEMDB_OK && u > 0) {
        x->c->persist_snap_changes = u;
        return MEMDB_OK;
    }
    if (util_parse_duration(s, &u) == MEMDB_OK && u >= 1000) {
        x->c->persist_snap_ms = u;
        return MEMDB_OK;
    }
    return conf_fail(x, v,
                     "%s.%s: \"%s\" is neither a number of changes "
                     "(like 1000000) nor a duration of at least 1s (like 5m)",
                     o->section, o->key, s);
}

static int
set_every(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v)
{
    x->c->persist_snap_changes = 0;
    x->c->persist_snap_ms = 0;
    if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "off") == 0)
        return MEMDB_OK;
    if (v->type != YAML_SEQUENCE_NODE)
        return set_every_item(x, o, v);
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++)
        if (set_every_item(x, o, yaml_document_get_node(&x->doc, *i))
            != MEMDB_OK)
            return MEMDB_ERR;
    return MEMDB_OK;
}

static int
set_addr(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v,
         conf_addr_t *a)
{
    const char *s = scalar(v);

    if (v->type != YAML_SCALAR_NODE || strlen(s) >= sizeof(a->text)
        || util_parse_addr(s, &a->ss, &a->len) != MEMDB_OK)
        return conf_fail(x, v,
                         "%s.%s: \"%s\" is not an address HOST:PORT "
                         "(IPv6 as [ADDR]:PORT)",
                         o->section, o->key,
                         v->type == YAML_SCALAR_NODE ? s : "?");
    memcpy(a->text, s, strlen(s) + 1);
    return MEMDB_OK;
}

/* cluster.seeds: one address or a list of them. */
static int
set_addrs(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v)
{
    conf_t *c = x->c;

    c->cl_nseeds = 0;
    if (v->type == YAML_SCALAR_NODE)
        return set_addr(x, o, v, &c->cl_seeds[c->cl_nseeds++]);
    if (v->type != YAML_SEQUENCE_NODE)
        return conf_fail(x, v, "%s.%s: expected a list of addresses",
                         o->section, o->key);
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        yaml_node_t *n = yaml_document_get_node(&x->doc, *i);
        if (c->cl_nseeds == CONF_MAX_SEEDS)
            return conf_fail(x, n, "%s.%s: at most %d seeds", o->section,
                             o->key, CONF_MAX_SEEDS);
        if (set_addr(x, o, n, &c->cl_seeds[c->cl_nseeds++]) != MEMDB_OK)
            return MEMDB_ERR;
    }
    return MEMDB_OK;
}

static int
set_value(conf_ctx_t *x, const conf_opt_t *o, const yaml_node_t *v)
{
    void *dst = (char *) x->c + o->off;
    const char *s;

    if (o->type == CT_EVERY)
        return set_every(x, o, v);
    if (o->type == CT_ADDRS)
        return set_addrs(x, o, v);

    if (v->type != YAML_SCALAR_NODE)
        return conf_fail(x, v, "%s.%s: expected a single value, found a %s",
                         o->section, o->key,
                         v->type == YAML_MAPPING_NODE ? "mapping" : "list");
    s = scalar(v);
    if (*s == '\0')
        return conf_fail(x, v, "%s.%s: empty value", o->section, o->key);

    switch (o->type) {
    case CT_STR:
        if (strlen(s) >= o->size)
            return conf_fail(x, v, "%s.%s: longer than %zu bytes", o->section,
                             o->key, o->size - 1);
        if (o->off == OFF(data_dir) && strlen(s) > CONF_DATA_DIR_MAX)
            return conf_fail(x, v, "node.data_dir: longer than %d bytes",
                             CONF_DATA_DIR_MAX);
        if (o->off == OFF(node_id) && !util_id_ok(s, strlen(s) + 1))
            return conf_fail(x, v,
                             "node.id: \"%s\" may only hold "
                             "letters, digits, '-', '_' and '.'",
                             s);
        memcpy(dst, s, strlen(s) + 1);
        return MEMDB_OK;
    case CT_ADDR: {
        conf_addr_t *a = dst;
        if (strlen(s) >= sizeof(a->text)
            || util_parse_addr(s, &a->ss, &a->len) != MEMDB_OK)
            return conf_fail(x, v,
                             "%s.%s: \"%s\" is not an address "
                             "HOST:PORT (IPv6 as [ADDR]:PORT)",
                             o->section, o->key, s);
        memcpy(a->text, s, strlen(s) + 1);
        return MEMDB_OK;
    }
    case CT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "on") == 0
            || strcmp(s, "yes") == 0) {
            *(bool *) dst = true;
            return MEMDB_OK;
        }
        if (strcmp(s, "false") == 0 || strcmp(s, "off") == 0
            || strcmp(s, "no") == 0) {
            *(bool *) dst = false;
            return MEMDB_OK;
        }
        return conf_fail(x, v, "%s.%s: \"%s\" is not true or false",
                         o->section, o->key, s);
    case CT_FSYNC:
        for (int i = 0; i < 3; i++) {
            if (strcmp(s, fsync_names[i]) == 0) {
                *(int64_t *) dst = i;
                return MEMDB_OK;
            }
        }
        return conf_fail(x, v,
                         "%s.%s: \"%s\" is not one of always, "
                         "everysec, no",
                         o->section, o->key, s);
    case CT_LEVEL: {
        int l = log_level_parse(s);
        if (l < 0)
            return conf_fail(x, v,
                             "%s.%s: \"%s\" is not one of error, warn, "
                             "info, debug",
                             o->section, o->key, s);
        *(int64_t *) dst = l;
        return MEMDB_OK;
    }
    default: return set_number(x, o, v);
    }
}

static const conf_opt_t *
find_opt(const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < MEMDB_NELEM(conf_opts); i++) {
        if (strcmp(conf_opts[i].section, section) != 0)
            continue;
        *section_known = true;
        if (key != NULL && strcmp(conf_opts[i].key, key) == 0)
            return &conf_opts[i];
    }
    return NULL;
}

static int
load_section(conf_ctx_t *x, const char *section, yaml_node_t *map)
{
    yaml_node_pair_t *p;
    bool known;

    if (map->type != YAML_MAPPING_NODE)
        return conf_fail(x, map, "%s: expected a mapping of keys", section);
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&x->doc, p->value);
        const conf_opt_t *o;

        if (k->type != YAML_SCALAR_NODE)
            return conf_fail(x, k, "%s: keys must be plain names", section);
        o = find_opt(section, scalar(k), &known);
        if (o == NULL)
            return conf_fail(x, k, "unknown key \"%s\" in section \"%s\"",
                             scalar(k), section);
        if (set_value(x, o, v) != MEMDB_OK)
            return MEMDB_ERR;
    }
    return MEMDB_OK;
}

static int
load_root(conf_ctx_t *x)
{
    yaml_node_t *root = yaml_document_get_root_node(&x->doc);
    yaml_node_pair_t *p;
    bool known;

    if (root == NULL)
        return MEMDB_OK; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE)
        return conf_fail(x, root,
                         "expected a mapping of sections "
                         "(node, http, log, store)");
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&x->doc, p->value);

        if (k->type != YAML_SCALAR_NODE)
            return conf_fail(x, k, "section names must be plain names");
        (void) find_opt(scalar(k), NULL, &known);
        if (!known)
            return conf_fail(x, k, "unknown section \"%s\"", scalar(k));
        if (load_section(x, scalar(k), v) != MEMDB_OK)
            return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* Checks that relate several keys, after the whole file was read. */
/* admin.token_file: the bearer token, one line, at least 16 bytes. */
static int
conf_read_token(conf_t *c, conf_ctx_t *x)
{
    FILE *f = fopen(c->admin_token_file, "r");
    size_t n;

    if (f == NULL) {
        snprintf(x->err, x->errlen, "%s:1:1: cannot open: %s",
                 c->admin_token_file, strerror(errno));
        return MEMDB_ERR;
    }
    n = fread(c->admin_token, 1, sizeof(c->admin_token) - 1, f);
    fclose(f);
    c->admin_token[n] = '\0';
    c->admin_token[strcspn(c->admin_token, "\r\n")] = '\0';
    if (strlen(c->admin_token) < 16 || strchr(c->admin_token, ' ')) {
        snprintf(x->err, x->errlen,
                 "%s:1:1: the token must be one line of "
                 "at least 16 characters without spaces",
                 c->admin_token_file);
        c->admin_token[0] = '\0';
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* Reads a seeds file (one HOST:PORT per line, # comments) into c's seeds.
 * MEMDB_ERR with "FILE:LINE:COL: msg" in err. */
static int
conf_load_seeds_file(conf_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s:1:1: cannot open: %s", path,
                 strerror(errno));
        return MEMDB_ERR;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *e;
        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        e = p + strcspn(p, " \t\r\n#");
        if (e == p)
            continue;
        *e = '\0';
        conf_addr_t *a = &c->cl_seeds[c->cl_nseeds];
        if (c->cl_nseeds == CONF_MAX_SEEDS || strlen(p) >= sizeof(a->text)
            || util_parse_addr(p, &a->ss, &a->len) != MEMDB_OK) {
            snprintf(err, errlen,
                     "%s:%d:%d: \"%s\" is not an address "
                     "HOST:PORT (or too many seeds)",
                     path, lineno, (int) (p - line) + 1, p);
            fclose(f);
            return MEMDB_ERR;
        }
        memcpy(a->text, p, strlen(p) + 1);
        c->cl_nseeds++;
    }
    fclose(f);
    return MEMDB_OK;
}

static int
conf_finish(conf_ctx_t *x)
{
    conf_t *c = x->c;

    if (c->cl_gossip.text[0] && !c->cl_replication.text[0])
        return conf_fail(x, NULL,
                         "cluster: \"gossip\" needs a "
                         "\"replication\" address too");
    if (!c->cl_gossip.text[0]
        && (c->cl_replication.text[0] || c->cl_nseeds || c->cl_seeds_file[0]))
        return conf_fail(x, NULL,
                         "cluster: \"gossip\" is required to "
                         "join a cluster");
    if (c->cl_gossip.text[0]
        && (strlen(c->cl_gossip.text) > 47
            || strlen(c->cl_replication.text) > 47
            || strlen(c->http_listen.text) > 47))
        return conf_fail(x, NULL,
                         "cluster: addresses (gossip, replication, "
                         "http.listen) must be at most 47 characters");
    if (c->cl_probe_timeout_ms >= c->cl_probe_interval_ms)
        return conf_fail(x, NULL,
                         "cluster.probe_timeout must be shorter "
                         "than cluster.probe_interval");
    if (c->cl_seeds_file[0]
        && conf_load_seeds_file(c, c->cl_seeds_file, x->err, x->errlen)
               != MEMDB_OK)
        return MEMDB_ERR;
    if (c->admin_token_file[0] && conf_read_token(c, x) != MEMDB_OK)
        return MEMDB_ERR;
    conf_derive(x->c);
    return MEMDB_OK;
}

const char *
conf_fsync_name(int64_t mode)
{
    return mode >= 0 && mode < 3 ? fsync_names[mode] : "unknown";
}

void
conf_derive(conf_t *c)
{
    /* the ring holds at least two of the largest records */
    if (c->persist_ring_size == 0)
        c->persist_ring_size = MEMDB_MAX(c->http_max_body * 2, 8ULL << 20);
    c->persist_ring_size = util_next_pow2(c->persist_ring_size);
    if (c->log_activity[0] == '\0')
        snprintf(c->log_activity, sizeof(c->log_activity), "%.960s/%s",
                 c->data_dir, "activity.log");
}

int
conf_load(conf_t *c, const char *path, char *err, size_t errlen)
{
    conf_ctx_t x = { .c = c, .path = path, .err = err, .errlen = errlen };
    yaml_parser_t parser;
    FILE *f;
    int rc;

    snprintf(c->path, sizeof(c->path), "%s", path);
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s:1:1: cannot open: %s", path,
                 strerror(errno));
        return MEMDB_ERR;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &x.doc)) {
        size_t line = parser.problem_mark.line;
        size_t col = parser.problem_mark.column;
        if (parser.error == YAML_READER_ERROR) {
            /* Bad input bytes come with a byte offset only: count lines and
             * characters up to it. */
            int ch;
            line = col = 0;
            rewind(f);
            for (size_t i = 0;
                 i < parser.problem_offset && (ch = getc(f)) != EOF; i++) {
                if (ch == '\n')
                    line++, col = 0;
                else if ((ch & 0xc0) != 0x80)
                    col++;
            }
        }
        snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", path,
                 line + 1, col + 1,
                 parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        fclose(f);
        return MEMDB_ERR;
    }
    rc = load_root(&x);
    if (rc == MEMDB_OK)
        rc = conf_finish(&x);
    yaml_document_delete(&x.doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* Prints s as a YAML double-quoted scalar that reads back as s: '"' and
 * '\\' escaped, and so is every character a YAML reader would not take as
 * it is (controls, line and paragraph separators, the BOM).  Values come
 * from libyaml, so they are valid UTF-8. */
static void
dump_str(int fd, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    char out[4 * CONF_PATH_MAX + 8];
    size_t n = 0;

    out[n++] = '"';
    while (*p != '\0' && n + 12 < sizeof(out)) {
        uint32_t cp = *p;
        int len = 1;

        if (cp >= 0xc0 && cp < 0xe0 && (p[1] & 0xc0) == 0x80) {
            cp = (cp & 0x1f) << 6 | (p[1] & 0x3f);
            len = 2;
        } else if (cp >= 0xe0 && cp < 0xf0 && (p[1] & 0xc0) == 0x80
                   && (p[2] & 0xc0) == 0x80) {
            cp = (cp & 0x0f) << 12 | (uint32_t) (p[1] & 0x3f) << 6
                 | (p[2] & 0x3f);
            len = 3;
        } else if (cp >= 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80
                   && (p[3] & 0xc0) == 0x80) {
            cp = (cp & 0x07) << 18 | (uint32_t) (p[1] & 0x3f) << 12
                 | (uint32_t) (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
            len = 4;
        }
        if (cp == '"' || cp == '\\') {
            out[n++] = '\\';
            out[n++] = (char) cp;
        } else if ((cp >= 0x20 && cp < 0x7f)
                   || (len > 1 && cp >= 0xa0 && cp != 0x2028 && cp != 0x2029
                       && cp != 0xfeff && cp != 0xfffe && cp != 0xffff)) {
            memcpy(out + n, p, (size_t) len);
            n += (size_t) len;
        } else if (len == 1) {
            n += (size_t) snprintf(out + n, sizeof(out) - n, "\\x%02x", cp);
        } else {
            n += (size_t) snprintf(out + n, sizeof(out) - n, "\\U%08x",
                                   (unsigned) cp);
        }
        p += len;
    }
    out[n++] = '"';
    (void) write(fd, out, n);
}

/* True if no key of the section starting at conf_opts[i] has a value to
 * print (only strings and addresses can be unset). */
static bool
dump_section_empty(const conf_t *c, size_t i)
{
    for (size_t k = i;
         k < MEMDB_NELEM(conf_opts)
         && strcmp(conf_opts[k].section, conf_opts[i].section) == 0;
         k++) {
        const conf_opt_t *o = &conf_opts[k];
        const char *src = (const char *) c + o->off;

        if (o->type != CT_STR && o->type != CT_ADDR)
            return false;
        if (o->type == CT_ADDR)
            src = ((const conf_addr_t *) (const void *) src)->text;
        if (*src != '\0')
            return false;
    }
    return true;
}

void
conf_dump(const conf_t *c, int fd)
{
    static const char *lv[] = { "error", "warn", "info", "debug" };
    const char *cur = "";

    for (size_t i = 0; i < MEMDB_NELEM(conf_opts); i++) {
        const conf_opt_t *o = &conf_opts[i];
        const void *src = (const char *) c + o->off;

        if (strcmp(cur, o->section) != 0) {
            /* a section with nothing set is an empty mapping, not null */
            dprintf(fd, "%s:%s\n", o->section,
                    dump_section_empty(c, i) ? " {}" : "");
            cur = o->section;
        }
        switch (o->type) {
        case CT_STR:
        case CT_ADDR:
            if (o->type == CT_ADDR)
                src = ((const conf_addr_t *) src)->text;
            if (*(const char *) src == '\0') {
                dprintf(fd, "  # %s: (not set)\n", o->key);
                break;
            }
            dprintf(fd, "  %s: ", o->key);
            dump_str(fd, src);
            dprintf(fd, "\n");
            break;
        case CT_LEVEL:
            dprintf(fd, "  %s: %s\n", o->key, lv[*(const int64_t *) src]);
            break;
        case CT_FSYNC:
            dprintf(fd, "  %s: %s\n", o->key,
                    fsync_names[*(const int64_t *) src]);
            break;
        case CT_BOOL:
            dprintf(fd, "  %s: %s\n", o->key,
                    *(const bool *) src ? "true" : "false");
            break;
        case CT_ADDRS:
            dprintf(fd, "  %s: [", o->key);
            for (int k = 0; k < c->cl_nseeds; k++) {
                dprintf(fd, "%s", k ? ", " : "");
                dump_str(fd, c->cl_seeds[k].text);
            }
            dprintf(fd, "]\n");
            break;
        case CT_EVERY:
            if (c->persist_snap_ms == 0 && c->persist_snap_changes == 0)
                dprintf(fd, "  %s: off\n", o->key);
            else if (c->persist_snap_changes == 0)
                dprintf(fd, "  %s: %llums\n", o->key,
                        (unsigned long long) c->persist_snap_ms);
            else if (c->persist_snap_ms == 0)
                dprintf(fd, "  %s: %llu\n", o->key,
                        (unsigned long long) c->persist_snap_changes);
            else
                dprintf(fd, "  %s: [%llums, %llu]\n", o->key,
                        (unsigned long long) c->persist_snap_ms,
                        (unsigned long long) c->persist_snap_changes);
            break;
        case CT_INT:
            dprintf(fd, "  %s: %lld\n", o->key,
                    (long long) *(const int64_t *) src);
            break;
        case CT_DUR:
            dprintf(fd, "  %s: %llums\n", o->key,
                    (unsigned long long) *(const uint64_t *) src);
            break;
        default:
            dprintf(fd, "  %s: %llu\n", o->key,
                    (unsigned long long) *(const uint64_t *) src);
            break;
        }
    }
}

/* Bytes a key occupies in conf_t, for comparing two configurations. */
static size_t
opt_size(const conf_opt_t *o)
{
    switch (o->type) {
    case CT_STR: return o->size;
    case CT_ADDR: return sizeof(((conf_addr_t *) 0)->text);
    case CT_BOOL: return sizeof(bool);
    case CT_EVERY: return 0;
    case CT_ADDRS: return sizeof(((conf_t *) 0)->cl_seeds);
    default: return sizeof(uint64_t);
    }
}

static bool
opt_reloadable(const conf_opt_t *o)
{
    char name[96];

    snprintf(name, sizeof(name), "%s.%s", o->section, o->key);
    for (size_t i = 0; i < MEMDB_NELEM(conf_reloadable); i++)
        if (strcmp(conf_reloadable[i], name) == 0)
            return true;
    return false;
}

static bool
opt_changed(const conf_opt_t *o, const conf_t *a, const conf_t *b)
{
    if (o->type == CT_EVERY)
        return a->persist_snap_ms != b->persist_snap_ms
               || a->persist_snap_changes != b->persist_snap_changes;
    if (o->type == CT_ADDRS && a->cl_nseeds != b->cl_nseeds)
        return true;
    return memcmp((const char *) a + o->off, (const char *) b + o->off,
                  opt_size(o))
           != 0;
}

int
conf_reload(conf_t *c, char *err, size_t errlen, char *fixed, size_t fixedlen)
{
    static conf_t n;
    size_t used = 0;

    conf_defaults(&n);
    if (c->path[0] && conf_load(&n, c->path, err, errlen) != MEMDB_OK)
        return MEMDB_ERR;
    if (!c->path[0])
        conf_derive(&n);
    fixed[0] = '\0';
    for (size_t i = 0; i < MEMDB_NELEM(conf_opts); i++) {
        const conf_opt_t *o = &conf_opts[i];
        if (!opt_changed(o, c, &n))
            continue;
        if (opt_reloadable(o)) {
            if (o->type == CT_EVERY) {
                c->persist_snap_ms = n.persist_snap_ms;
                c->persist_snap_changes = n.persist_snap_changes;
            } else {
                memcpy((char *) c + o->off, (char *) &n + o->off, opt_size(o));
            }
        } else if (used < fixedlen) {
            used += (size_t) snprintf(fixed + used, fixedlen - used, "%s%s.%s",
                                      used ? ", " : "", o->section, o->key);
        }
    }
    memcpy(c->admin_token, n.admin_token, sizeof(c->admin_token));
    return MEMDB_OK;
}
