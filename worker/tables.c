/*
 * tables.c - the tables of the store (shm/catalog.h) as the API shows
 * them:
 *   GET    /api/v1/tables                 every table, with its sizes
 *   POST   /api/v1/tables                 create one: {"name", "tokenizer"}
 *   GET    /api/v1/tables/{t}             describe one
 *   DELETE /api/v1/tables/{t}             drop it
 *   POST   /api/v1/tables/{t}/truncate    empty it
 * and the routes of the data endpoints under /api/v1/tables/{t}/ (upload,
 * retract, wordcount, allwords, top, words/{w}), which the handlers of the
 * table default serve with c->tname set.
 *
 * A create, drop or truncate is one change record (REC_TABLE_*), made like
 * a retract (upload.c, UP_TABLE): under the subtract lock, so that no
 * retract checks counts of a generation being replaced, and with its
 * catalog change made under the ring lock together with its LSN
 * (apply_reserve()); answered once it is persisted and held by a majority.
 *
 * Sizes (words, distinct words, bytes) are counted by a scan of the table
 * when asked for: O(store), like allwords.
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/url.h"
#include "src/core/util.h"
#include "src/changelog/rec.h"
#include "src/words/prof.h"
#include "src/changelog/apply.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TABLES_PATH     "/api/v1/tables"
#define TABLES_MAX_BODY 65536

/* ---- routing ------------------------------------------------------------- */

typedef struct sub_route_s {
    const char *rest; /* after /api/v1/tables/{t} */
    int method;
    route_e route;
    const char *allow;
} sub_route_t;

/* clang-format off */
static const sub_route_t sub_routes[] = {
    { "",           HTTP_GET,    RT_TABLE_DESCRIBE, "GET, DELETE, HEAD" },
    { "",           HTTP_DELETE, RT_TABLE_DROP,     "GET, DELETE, HEAD" },
    { "/truncate",  HTTP_POST,   RT_TABLE_TRUNCATE, "POST" },
    { "/upload",    HTTP_POST,   RT_UPLOAD,         "POST" },
    { "/retract",   HTTP_POST,   RT_RETRACT,        "POST" },
    { "/wordcount", HTTP_GET,    RT_WORDCOUNT,      "GET, HEAD" },
    { "/allwords",  HTTP_GET,    RT_ALLWORDS,       "GET, HEAD" },
    { "/top",       HTTP_GET,    RT_TOP,            "GET, HEAD" },
};
/* clang-format on */

void
tables_default(conn_t *c)
{
    memcpy(c->tname, "default", 8);
    c->tname_len = 7;
}

route_e
tables_route(conn_t *c, const char *path, size_t len, int method)
{
    size_t bl = strlen(TABLES_PATH), nl;
    const char *name, *rest, *slash;

    if (len == bl) {
        c->allow = "GET, POST, HEAD";
        return method == HTTP_GET || method == HTTP_HEAD ? RT_TABLES_LIST
               : method == HTTP_POST                     ? RT_TABLE_CREATE
                                                         : RT_NONE;
    }
    if (path[bl] != '/')
        return RT_NONE;
    name = path + bl + 1;
    slash = memchr(name, '/', len - bl - 1);
    nl = slash ? (size_t) (slash - name) : len - bl - 1;
    if (!cat_name_ok(name, nl))
        return RT_NONE;
    memcpy(c->tname, name, nl);
    c->tname[nl] = '\0';
    c->tname_len = (uint8_t) nl;
    rest = name + nl;
    if (strncmp(rest, "/words/", 7) == 0 && rest + 7 < path + len
        && memchr(rest + 7, '/', (size_t) (path + len - rest - 7)) == NULL) {
        c->path_word = c->path_off + (size_t) (rest + 7 - path);
        c->allow = "DELETE";
        return method == HTTP_DELETE ? RT_FORGET_WORD : RT_NONE;
    }
    for (size_t i = 0; i < MEMDB_NELEM(sub_routes); i++) {
        const sub_route_t *r = &sub_routes[i];
        if (strlen(r->rest) != (size_t) (path + len - rest)
            || memcmp(r->rest, rest, strlen(r->rest)) != 0)
            continue;
        if (r->method == method
            || (r->method == HTTP_GET && method == HTTP_HEAD))
            return r->route;
        c->allow = r->allow;
    }
    return RT_NONE;
}

/* For a write (drop, truncate, a word's reset): a replica sends it to
 * the leader whatever its own catalog says, as for uploads (a replica
 * behind, or in a full sync, may not have the table yet). */
bool
tables_resolve_write(conn_t *c)
{
    if (atomic_load(&c->w->shm->node->role) == ROLE_REPLICA) {
        (void) gate_write(c);
        return false;
    }
    return tables_resolve(c);
}

bool
tables_resolve(conn_t *c)
{
    if (cat_find(&c->w->shm->cat, c->tname, c->tname_len, &c->tbl) == MEMDB_OK)
        return true;
    resp_error(c, 404, "no such table");
    resp_done(c);
    return false;
}

uint64_t
tables_count(conn_t *c, const char *word, size_t len, uint64_t h)
{
    char key[CAT_PREFIX_MAX + HT_MAX_WORD];
    ht_t *ht = &c->w->shm->ht;

    if (c->tbl.gen == 0)
        return len > HT_MAX_WORD ? 0 : ht_get(ht, h, word, len);
    if (len > HT_MAX_WORD - CAT_PREFIX_MAX)
        return 0;
    len = apply_key(c->tbl.gen, word, len, key);
    return ht_get(ht, ht_hash(key, len), key, len);
}

/* ---- sizes ----------------------------------------------------------------- */

/* GET /api/v1/tables and describe: the tables' sizes, a scan of the
 * store a slice at a time (stream_scan). */
typedef struct tscan_s {
    size_t n;
    bool list;       /* GET /api/v1/tables, else describe v[0] */
    cat_view_t *v;   /* the tables, in the order of the answer */
    shm_tally_t *sz; /* by generation; idx: its table in v */
} tscan_t;

static void
tscan_part(void *arg, const ht_copy_t *cp)
{
    tscan_t *t = arg;

    shm_tally(t->sz, t->n, cp);
}

static void tables_describe(buf_t *b, shm_t *s, const cat_view_t *v,
                            const shm_tally_t *sz);

static void
tscan_done(conn_t *c, void *arg)
{
    tscan_t *t = arg;
    buf_t *b = &c->w->tmp;
    static const shm_tally_t *of[CAT_MAX_TABLES]; /* v[i]'s tally */

    for (size_t i = 0; i < t->n; i++)
        of[t->sz[i].idx] = &t->sz[i];
    b->len = 0;
    if (t->list)
        buf_putc(b, '[');
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0)
            buf_putc(b, ',');
        tables_describe(b, c->w->shm, &t->v[i], of[i]);
    }
    if (t->list)
        buf_putc(b, ']');
    resp_json(c, 200, b, NULL);
}

static void
tscan_drop(void *arg)
{
    tscan_t *t = arg;

    free(t->v);
    free(t->sz);
    free(t);
}

static const scan_ops_t tscan_ops = { NULL, tscan_part, tscan_done,
                                      tscan_drop };

/* Starts the scan for the n tables of v (copied). */
static void
tscan_start(conn_t *c, const cat_view_t *v, size_t n, bool list)
{
    tscan_t *t = xcalloc(1, sizeof(*t));

    t->n = n;
    t->list = list;
    t->v = xmalloc((n ? n : 1) * sizeof(*t->v));
    t->sz = xcalloc(n ? n : 1, sizeof(*t->sz));
    memcpy(t->v, v, n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        t->sz[i] = (shm_tally_t) { .gen = v[i].gen, .idx = (uint32_t) i };
    shm_tally_sort(t->sz, n);
    stream_scan(c, &tscan_ops, t);
}

/* One table's description as JSON (its profile decoded). */
static void
tables_describe(buf_t *b, shm_t *s, const cat_view_t *v, const shm_tally_t *sz)
{
    static unsigned char enc[CAT_PROF_MAX];
    long plen = cat_profile(&s->cat, v, enc);
    prof_t p;

    buf_putc(b, '{');
    json_kv_str(b, "name", v->name, true);
    json_kv_u64(b, "words", sz->words, false);
    json_kv_u64(b, "distinct", sz->distinct, false);
    json_kv_u64(b, "bytes", sz->bytes, false);
    json_kv_u64(b, "created_ms", v->created_ms, false);
    json_kv_u64(b, "lsn", v->op_lsn, false);
    json_key(b, "tokenizer", false);
    if (plen <= 0 || prof_decode(&p, enc, (size_t) plen) != MEMDB_OK)
        prof_default(&p);
    prof_to_json(&p, b);
    prof_free(&p);
    buf_putc(b, '}');
}

/* Entry e's census, if it is of generation gen (else zeros: the table
 * was truncated, or created, since). */
static shm_tally_t
tables_census(const cat_ent_t *e, uint64_t gen)
{
    shm_tally_t t = { .gen = gen };

    for (int k = 0; k < 100; k++) { /* (the master is publishing it) */
        uint64_t g = atomic_load_explicit(&e->n_gen, memory_order_acquire);
        t.words = atomic_load_explicit(&e->n_words, memory_order_relaxed);
        t.distinct = atomic_load_explicit(&e->n_distinct,
                                          memory_order_relaxed);
        t.bytes = atomic_load_explicit(&e->n_bytes, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (g == atomic_load_explicit(&e->n_gen, memory_order_relaxed)
            && g != UINT64_MAX)
            return g == gen ? t : (shm_tally_t) { .gen = gen };
    }
    return (shm_tally_t) { .gen = gen };
}

static void
table_gauge(buf_t *b, const char *name, const char *help, const cat_view_t *v,
            const shm_tally_t *t, size_t n, size_t field)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < n; i++) {
        uint64_t x;
        memcpy(&x, (const char *) &t[i] + field, sizeof(x));
        buf_printf(b, "%s{table=\"%s\"} %llu\n", name, v[i].name,
                   (unsigned long long) x);
    }
}

void
tables_metrics(buf_t *b, shm_t *s)
{
    static cat_view_t v[CAT_MAX_TABLES];
    static shm_tally_t t[CAT_MAX_TABLES];
    size_t n = 0;

    for (uint32_t i = 0; i < s->cat.hdr->max; i++)
        if (cat_get(&s->cat, i, &v[n]) == MEMDB_OK) {
            t[n] = tables_census(&s->cat.ent[i], v[n].gen);
            n++;
        }
    table_gauge(b, "memdb_table_words",
                "Words counted in a table (the master's census, every 5 s).",
                v, t, n, offsetof(shm_tally_t, words));
    table_gauge(b, "memdb_table_distinct_words",
                "Distinct words of a table, count above 0 (census).", v, t, n,
                offsetof(shm_tally_t, distinct));
    table_gauge(b, "memdb_table_memory_bytes",
                "Shared memory a table's words use, entries and index "
                "slots (census).",
                v, t, n, offsetof(shm_tally_t, bytes));
}

static void
tables_list(conn_t *c)
{
    static cat_view_t v[CAT_MAX_TABLES];
    shm_t *s = c->w->shm;
    size_t n = 0;

    for (uint32_t i = 0; i < s->cat.hdr->max; i++)
        if (cat_get(&s->cat, i, &v[n]) == MEMDB_OK)
            n++;
    tscan_start(c, v, n, true);
}

/* ---- create, drop, truncate ------------------------------------------- */

int
tables_body(conn_t *c, const char *p, size_t n)
{
    if (c->body.len + n > TABLES_MAX_BODY) {
        c->want_close = true;
        resp_error_at(c, 413, "a table's description is too large", "limit",
                      TABLES_MAX_BODY);
        resp_done(c);
        return -1;
    }
    buf_append(&c->body, p, n);
    return 0;
}

/* The first field of the create request that is neither name nor
 * tokenizer, or NULL. */
static const char *
tables_unknown(const cJSON *j)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, j)
    {
        if (strcmp(it->string, "name") != 0
            && strcmp(it->string, "tokenizer") != 0)
            return it->string;
    }
    return NULL;
}

/* The create request's body: name and tokenizer; false when answered. */
static bool
tables_parse(conn_t *c, prof_t *p)
{
    char err[256];
    cJSON *j = cJSON_ParseWithLength(c->body.data ? c->body.data : "",
                                     c->body.len);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "tokenizer");
    bool ok = false;

    prof_default(p);
    if (!cJSON_IsObject(j)) {
        resp_error(c, 400, "the body must be a JSON object");
    } else if (!cJSON_IsString(name)
               || !cat_name_ok(name->valuestring, strlen(name->valuestring))) {
        resp_error(c, 400, "name must be 1 to 64 of a-z, 0-9, _ and -");
    } else if (tables_unknown(j) != NULL) {
        snprintf(err, sizeof(err), "unknown field \"%.40s\"",
                 tables_unknown(j));
        resp_error(c, 400, err);
    } else if (prof_from_json(p, cJSON_IsNull(tok) ? NULL : tok, err,
                              sizeof(err))
               != MEMDB_OK) {
        resp_error(c, 400, err);
    } else {
        ok = true;
    }
    if (ok) {
        memcpy(c->tname, name->valuestring, strlen(name->valuestring) + 1);
        c->tname_len = (uint8_t) strlen(name->valuestring);
    }
    cJSON_Delete(j);
    if (!ok)
        resp_done(c);
    return ok;
}

static uint64_t
tables_new_uid(void)
{
    uint64_t uid = 0;

    while (uid == 0)
        if (getrandom(&uid, sizeof(uid), 0) != (ssize_t) sizeof(uid))
            uid = 0;
    return uid;
}

/* Builds the record of a table operation in c->rec and commits it. */
static void
tables_op(conn_t *c, uint16_t type, uint64_t uid, const prof_t *p)
{
    buf_t enc = { 0 };

    if (p != NULL && !prof_is_default(p))
        (void) prof_encode(p, &enc);
    rec_begin(&c->rec, type);
    rec_set_table(&c->rec, uid);
    rec_set_table_op(&c->rec, c->tname, c->tname_len, enc.data, enc.len,
                     util_wall_ms());
    buf_free(&enc);
    c->up_kind = UP_TABLE;
    c->tbl_op = type;
    upload_table_op(c);
}

static void
tables_create(conn_t *c)
{
    prof_t p;

    if (!tables_parse(c, &p))
        return;
    tables_op(c, REC_TABLE_CREATE, tables_new_uid(), &p);
    prof_free(&p);
}

void
tables_answer(conn_t *c, uint64_t lsn)
{
    buf_t *b = &c->w->tmp;
    shm_tally_t sz = { 0 };

    b->len = 0;
    if (c->tbl_op == REC_TABLE_CREATE
        && cat_find(&c->w->shm->cat, c->tname, c->tname_len, &c->tbl)
               == MEMDB_OK) {
        tables_describe(b, c->w->shm, &c->tbl, &sz);
        resp_json(c, 201, b, NULL);
        resp_done(c);
        return;
    }
    buf_putc(b, '{');
    json_kv_str(b, "name", c->tname, true);
    buf_puts(b, c->tbl_op == REC_TABLE_DROP ? ",\"dropped\":true"
                                            : ",\"truncated\":true");
    json_kv_u64(b, "lsn", lsn, false);
    buf_putc(b, '}');
    resp_json(c, 200, b, NULL);
    resp_done(c);
}

void
tables_handle(conn_t *c)
{
    switch (c->route) {
    case RT_TABLES_LIST: tables_list(c); return; /* a scan */
    case RT_TABLE_CREATE: tables_create(c); return;
    case RT_TABLE_DESCRIBE:
        if (tables_resolve(c))
            tscan_start(c, &c->tbl, 1, false); /* a scan */
        return;
    case RT_TABLE_DROP:
    case RT_TABLE_TRUNCATE:
        if (!tables_resolve_write(c))
            return;
        if (c->route == RT_TABLE_DROP && c->tbl.uid == 0) {
            resp_error(c, 400, "the table default cannot be dropped");
            break;
        }
        tables_op(
            c, c->route == RT_TABLE_DROP ? REC_TABLE_DROP : REC_TABLE_TRUNCATE,
            c->tbl.uid, NULL);
        return;
    default: break;
    }
    resp_done(c);
}
