/*
 * catalog.h - the tables of a store: names, identities, tokenizer
 * profiles and the generation each one's words are kept under.
 *
 * All tables share the one hash table (ht.h).  A table's words are keyed
 * there by a prefix naming its generation, then the word:
 *
 *   generation 0     no prefix (the table "default" as it starts, so its
 *                    words are stored exactly as before tables existed)
 *   generation g>0   0xFE, varint g (never UTF-8, so no word of another
 *                    table can look like one)
 *
 * Creating a table, and truncating one, gives it a new generation
 * (next_gen, one more each time, in the order of their records); dropping
 * it frees its entry.  The words of an old generation are no table's:
 * reads never see them, snapshots leave them out, and once no record
 * before the drop or truncate is still being applied the master sweeps
 * them out of the hash table, whose memory then takes new words (kills,
 * kill_lsn and version tell it when, master_sweep).  Because
 * generations follow the records, every node that applied the same
 * records uses the same ones; a snapshot carries the catalog with the
 * generations, so a full sync adopts them.
 *
 * An entry is published by its commit word, live: gen << 1 | 1 while the
 * table exists, 0 when the entry is free.  A writer fills the other fields
 * of a free entry first and stores live last; a reader copies what it
 * needs and checks that live did not change meanwhile (a generation is
 * never reused, so a reused entry cannot look unchanged).
 *
 * Writers.  On a leader, table operations are made under the ring lock
 * together with their LSN (worker/tables.c), so each record's generation
 * is the one current at its LSN whatever order records are applied in;
 * on a replica the replicator applies them in LSN order; recovery and
 * compaction apply them to a private catalog (cat_private()).  Applying is
 * idempotent (op_lsn), so the master may apply a dead worker's operation
 * again.
 */
#ifndef MEMDB_SHM_CATALOG_H
#define MEMDB_SHM_CATALOG_H

#include "src/core/memdb.h"

#include <stdatomic.h>

#define CAT_NAME_MAX   64
#define CAT_PROF_MAX   16384 /* an encoded tokenizer profile */
#define CAT_PREFIX_MAX 6     /* 0xFE and a varint of 32 bits */
#define CAT_KEY_BYTE   0xfe
#define CAT_MAX_TABLES 1024
#define CAT_NONE       UINT32_MAX

typedef struct cat_ent_s {
    _Atomic uint64_t live; /* gen << 1 | 1, or 0: free (the commit word) */
    uint64_t uid;          /* identity: 0 for default, else random */
    uint64_t op_lsn;       /* LSN of the last operation applied */
    uint64_t created_ms;   /* the creating leader's wall clock */
    uint32_t name_len;
    uint32_t prof_len; /* 0: the default profile */
    char name[CAT_NAME_MAX + 8];
    /* sizes as of the master's last census (src/master/census.c), of
     * generation n_gen: another generation's say nothing of this one */
    _Atomic uint64_t n_gen;
    _Atomic uint64_t n_words;
    _Atomic uint64_t n_distinct;
    _Atomic uint64_t n_bytes;
    unsigned char prof[CAT_PROF_MAX];
} cat_ent_t;

typedef struct cat_hdr_s {
    uint32_t max; /* entries: store.max_tables (+ default) */
    uint32_t _pad;
    _Atomic uint64_t next_gen; /* the generation the next one gets */
    /* For the sweeper.  kills counts the drops and truncates applied (and
     * resets), kill_lsn is the highest LSN among them; version is odd
     * from a cat_reset() until cat_loaded() (a full sync replacing the
     * catalog), and changes only then: a set of live generations read
     * between two equal even versions stays true, or too big. */
    _Atomic uint64_t kills;
    _Atomic uint64_t kill_lsn;
    _Atomic uint64_t version;
} cat_hdr_t;

typedef struct cat_s {
    cat_hdr_t *hdr;
    cat_ent_t *ent; /* [hdr->max] */
} cat_t;

/* A table as a reader copied it. */
typedef struct cat_view_s {
    uint64_t live; /* its commit word when copied */
    uint64_t gen;
    uint64_t uid;
    uint64_t created_ms;
    uint64_t op_lsn; /* its last create or truncate */
    uint32_t idx;
    char name[CAT_NAME_MAX + 1];
} cat_view_t;

/* Bytes of a catalog of max tables (default included). */
size_t cat_size(uint32_t max);
/* Formats mem (cat_size(max) bytes, zeroed) with the table default. */
void cat_init(cat_t *c, void *mem, uint32_t max);
/* A process-local catalog (recovery, compaction, memdbctl): free with
 * cat_private_free(). */
void cat_private(cat_t *c, uint32_t max);
void cat_private_free(cat_t *c);
/* Empties c to the catalog a store starts with (no reader may use it),
 * until cat_loaded() says it was filled again. */
void cat_reset(cat_t *c);
void cat_loaded(cat_t *c);

/* Is name a table name: [a-z0-9_-]{1,64}? */
bool cat_name_ok(const char *name, size_t len);

/* Lookups (lock-free).  MEMDB_OK with *v, MEMDB_NOENT when absent. */
int cat_find(const cat_t *c, const char *name, size_t len, cat_view_t *v);
int cat_find_uid(const cat_t *c, uint64_t uid, cat_view_t *v);
/* The entry i, if live. */
int cat_get(const cat_t *c, uint32_t i, cat_view_t *v);
/* Copies entry i's profile into out (CAT_PROF_MAX bytes); its length, or
 * -1 if the entry changed (it was dropped or truncated meanwhile). */
long cat_profile(const cat_t *c, const cat_view_t *v, unsigned char *out);
/* Tables in use (default included). */
uint32_t cat_count(const cat_t *c);

/* The key prefix of a generation: its length (0 for generation 0). */
size_t cat_prefix(uint64_t gen, unsigned char *out);
/* The generation a table key belongs to, and where its word starts;
 * false for a key no generation prefix can start (an internal key). */
bool cat_key_gen(const char *key, size_t len, uint64_t *gen, size_t *skip);

/* Operations (see the top of this file).  lsn makes them idempotent: one
 * whose lsn is not above the entry's op_lsn changes nothing.
 * cat_create: MEMDB_OK; MEMDB_BUSY when no entry is free; MEMDB_EXISTS
 * when the name is taken (by another uid). */
int cat_create(cat_t *c, uint64_t uid, const char *name, size_t len,
               const void *prof, size_t prof_len, uint64_t created_ms,
               uint64_t lsn);
int cat_truncate(cat_t *c, uint64_t uid, uint64_t lsn);
int cat_drop(cat_t *c, uint64_t uid, uint64_t lsn);

#endif
