/*
 * catalog.c - the tables of a store (see catalog.h).
 */
#include "shm/catalog.h"
#include "src/core/util.h"

#include <stdlib.h>
#include <string.h>

size_t
cat_size(uint32_t max)
{
    return sizeof(cat_hdr_t) + (size_t) max * sizeof(cat_ent_t);
}

static void
cat_attach(cat_t *c, void *mem)
{
    c->hdr = mem;
    c->ent = (cat_ent_t *) (void *) ((char *) mem + sizeof(cat_hdr_t));
}

void
cat_init(cat_t *c, void *mem, uint32_t max)
{
    cat_ent_t *d;

    cat_attach(c, mem);
    c->hdr->max = max;
    atomic_store(&c->hdr->next_gen, 1);
    d = &c->ent[0];
    d->uid = 0;
    d->name_len = 7;
    memcpy(d->name, "default", 8);
    atomic_store(&d->live, 1); /* generation 0 */
}

void
cat_private(cat_t *c, uint32_t max)
{
    void *mem = xcalloc(1, cat_size(max));

    cat_init(c, mem, max);
}

void
cat_private_free(cat_t *c)
{
    free(c->hdr);
    c->hdr = NULL;
    c->ent = NULL;
}

void
cat_reset(cat_t *c)
{
    uint32_t max = c->hdr->max;
    uint64_t kills = atomic_load(&c->hdr->kills);
    uint64_t version = atomic_load(&c->hdr->version);

    atomic_store(&c->hdr->version, version | 1);
    memset(c->ent, 0, (size_t) max * sizeof(cat_ent_t));
    cat_init(c, c->hdr, max);
    atomic_store(&c->hdr->kill_lsn, 0);
    atomic_store(&c->hdr->kills, kills + 1);
}

void
cat_loaded(cat_t *c)
{
    uint64_t v = atomic_load(&c->hdr->version);

    atomic_store(&c->hdr->version, (v | 1) + 1);
}

/* A drop or truncate at lsn took a generation out (for the sweeper). */
static void
cat_killed(cat_t *c, uint64_t lsn)
{
    if (atomic_load(&c->hdr->kill_lsn) < lsn)
        atomic_store(&c->hdr->kill_lsn, lsn);
    atomic_fetch_add_explicit(&c->hdr->kills, 1, memory_order_release);
}

bool
cat_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > CAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'
              || ch == '-'))
            return false;
    }
    return true;
}

/* Copies entry i into v; false if it is free or changed while copied. */
static bool
cat_read(const cat_t *c, uint32_t i, cat_view_t *v)
{
    const cat_ent_t *e = &c->ent[i];
    uint64_t live = atomic_load_explicit(&e->live, memory_order_acquire);
    uint32_t n;

    if (live == 0)
        return false;
    v->idx = i;
    v->live = live;
    v->gen = live >> 1;
    v->uid = e->uid;
    v->created_ms = e->created_ms;
    v->op_lsn = e->op_lsn;
    n = MEMDB_MIN(e->name_len, (uint32_t) CAT_NAME_MAX);
    memcpy(v->name, e->name, n);
    v->name[n] = '\0';
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&e->live, memory_order_relaxed) == live;
}

int
cat_find(const cat_t *c, const char *name, size_t len, cat_view_t *v)
{
    for (uint32_t i = 0; i < c->hdr->max; i++)
        if (cat_read(c, i, v) && strlen(v->name) == len
            && memcmp(v->name, name, len) == 0)
            return MEMDB_OK;
    return MEMDB_NOENT;
}

int
cat_find_uid(const cat_t *c, uint64_t uid, cat_view_t *v)
{
    for (uint32_t i = 0; i < c->hdr->max; i++)
        if (cat_read(c, i, v) && v->uid == uid)
            return MEMDB_OK;
    return MEMDB_NOENT;
}

int
cat_get(const cat_t *c, uint32_t i, cat_view_t *v)
{
    return i < c->hdr->max && cat_read(c, i, v) ? MEMDB_OK : MEMDB_NOENT;
}

long
cat_profile(const cat_t *c, const cat_view_t *v, unsigned char *out)
{
    const cat_ent_t *e = &c->ent[v->idx];
    uint32_t n = MEMDB_MIN(e->prof_len, (uint32_t) CAT_PROF_MAX);

    memcpy(out, e->prof, n);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&e->live, memory_order_relaxed) == v->live
               ? (long) n
               : -1;
}

uint32_t
cat_count(const cat_t *c)
{
    uint32_t n = 1; /* default, entry 0: always there (while a full sync
                       replaces the catalog, its entry may be blank) */

    for (uint32_t i = 1; i < c->hdr->max; i++)
        n += atomic_load_explicit(&c->ent[i].live, memory_order_relaxed) != 0;
    return n;
}

size_t
cat_prefix(uint64_t gen, unsigned char *out)
{
    size_t n = 0;

    if (gen == 0)
        return 0;
    out[n++] = CAT_KEY_BYTE;
    while (gen >= 0x80) {
        out[n++] = (unsigned char) (gen | 0x80);
        gen >>= 7;
    }
    out[n++] = (unsigned char) gen;
    return n;
}

bool
cat_key_gen(const char *key, size_t len, uint64_t *gen, size_t *skip)
{
    const unsigned char *p = (const unsigned char *) key;
    uint64_t g = 0;

    if (len == 0 || p[0] != CAT_KEY_BYTE) {
        *gen = 0;
        *skip = 0;
        return len == 0 || p[0] != 0xff; /* 0xFF: the table's own keys */
    }
    for (size_t i = 1; i < len && i < CAT_PREFIX_MAX; i++) {
        g |= (uint64_t) (p[i] & 0x7f) << (7 * (i - 1));
        if ((p[i] & 0x80) == 0) {
            *gen = g;
            *skip = i + 1;
            return g != 0;
        }
    }
    return false;
}

static uint64_t
cat_new_gen(cat_t *c)
{
    return atomic_fetch_add(&c->hdr->next_gen, 1);
}

static cat_ent_t *
cat_by_uid(cat_t *c, uint64_t uid)
{
    for (uint32_t i = 0; i < c->hdr->max; i++)
        if (atomic_load(&c->ent[i].live) != 0 && c->ent[i].uid == uid)
            return &c->ent[i];
    return NULL;
}

int
cat_create(cat_t *c, uint64_t uid, const char *name, size_t len,
           const void *prof, size_t prof_len, uint64_t created_ms,
           uint64_t lsn)
{
    cat_view_t v;
    cat_ent_t *e = cat_by_uid(c, uid);

    if (e != NULL)
        return MEMDB_OK; /* applied already */
    if (cat_find(c, name, len, &v) == MEMDB_OK)
        return MEMDB_EXISTS;
    if (len > CAT_NAME_MAX || prof_len > CAT_PROF_MAX)
        return MEMDB_ERR;
    for (uint32_t i = 1; i < c->hdr->max; i++) {
        e = &c->ent[i];
        if (atomic_load(&e->live) != 0)
            continue;
        e->uid = uid;
        e->op_lsn = lsn;
        e->created_ms = created_ms;
        e->name_len = (uint32_t) len;
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        e->prof_len = (uint32_t) prof_len;
        if (prof_len > 0)
            memcpy(e->prof, prof, prof_len);
        atomic_store_explicit(&e->live, cat_new_gen(c) << 1 | 1,
                              memory_order_release);
        return MEMDB_OK;
    }
    return MEMDB_BUSY;
}

int
cat_truncate(cat_t *c, uint64_t uid, uint64_t lsn)
{
    cat_ent_t *e = cat_by_uid(c, uid);

    if (e == NULL)
        return MEMDB_NOENT;
    if (e->op_lsn >= lsn)
        return MEMDB_OK;
    e->op_lsn = lsn;
    atomic_store_explicit(&e->live, cat_new_gen(c) << 1 | 1,
                          memory_order_release);
    cat_killed(c, lsn);
    return MEMDB_OK;
}

int
cat_drop(cat_t *c, uint64_t uid, uint64_t lsn)
{
    cat_ent_t *e = cat_by_uid(c, uid);

    if (e == NULL)
        return MEMDB_OK; /* dropped already */
    if (e->op_lsn >= lsn || uid == 0)
        return uid == 0 ? MEMDB_ERR : MEMDB_OK;
    e->op_lsn = lsn;
    atomic_store_explicit(&e->live, 0, memory_order_release);
    cat_killed(c, lsn);
    return MEMDB_OK;
}
