/*
 * loader.c - parallel loading of recovered words (see loader.h).
 */
#include "src/changelog/loader.h"
#include "src/changelog/rec.h"
#include "src/core/buf.h"
#include "src/core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOADER_BATCH 8192
#define LOADER_QUEUE 8

typedef struct lbatch_s {
    ht_op_t ops[LOADER_BATCH];
    size_t off[LOADER_BATCH];
    size_t n;
    buf_t keys;
} lbatch_t;

struct loader_s {
    shm_t *shm;
    pthread_t th[LOADER_MAX_THREADS];
    unsigned nth;
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* a batch is queued, or stop */
    pthread_cond_t cv_free; /* a batch went back to the pool */
    lbatch_t *queue[LOADER_QUEUE];
    size_t qn;
    lbatch_t *pool[LOADER_QUEUE + LOADER_MAX_THREADS + 1];
    size_t pn;
    unsigned busy; /* batches being applied */
    lbatch_t *cur; /* being filled by the reader */
    bool stop;
    bool full;           /* the table ran out of memory */
    loader_tick_fn tick; /* after each full batch, or NULL */
};

static void
batch_apply(loader_t *l, lbatch_t *b)
{
    ht_progress_t pg = { .worker = -1, .progress = NULL, .idx = 0 };
    ht_t *ht = &l->shm->ht;

    for (size_t i = 0; i < b->n; i++)
        b->ops[i].key = b->keys.data + b->off[i];
    for (size_t i = 0; i < b->n; i += HT_BATCH) {
        size_t m = MEMDB_MIN((size_t) HT_BATCH, b->n - i);
        ht_prefetch(ht, &b->ops[i], m);
        for (size_t j = i; j < i + m; j++)
            if (ht_incr(ht, b->ops[j].h, b->ops[j].key, b->ops[j].len,
                        b->ops[j].delta, &pg)
                != MEMDB_OK)
                l->full = true;
    }
    b->n = 0;
    b->keys.len = 0;
}

static void
pool_put_locked(loader_t *l, lbatch_t *b)
{
    l->pool[l->pn++] = b;
    pthread_cond_signal(&l->cv_free);
}

static void *
loader_thread(void *arg)
{
    loader_t *l = arg;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->qn == 0 && !l->stop)
            pthread_cond_wait(&l->cv_work, &l->mu);
        if (l->qn == 0)
            break;
        lbatch_t *b = l->queue[--l->qn];
        l->busy++;
        pthread_mutex_unlock(&l->mu);
        batch_apply(l, b);
        pthread_mutex_lock(&l->mu);
        l->busy--;
        pool_put_locked(l, b);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

unsigned
loader_helpers(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    return ncpu > 1 ? (unsigned) ncpu - 1 : 0;
}

loader_t *
loader_new(shm_t *shm, unsigned nthreads, loader_tick_fn tick)
{
    loader_t *l = xcalloc(1, sizeof(*l));

    l->shm = shm;
    l->tick = tick;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_free, NULL);
    for (size_t i = 0; i < MEMDB_NELEM(l->pool); i++)
        l->pool[l->pn++] = xcalloc(1, sizeof(lbatch_t));
    l->cur = l->pool[--l->pn];
    nthreads = MEMDB_MIN(nthreads, LOADER_MAX_THREADS - 1u);
    for (unsigned i = 0; i < nthreads; i++)
        if (pthread_create(&l->th[l->nth], NULL, loader_thread, l) == 0)
            l->nth++;
    return l;
}

/* Hands the current batch over (or applies it here without helpers) and
 * takes an empty one. */
static void
loader_submit(loader_t *l)
{
    if (l->cur->n == 0)
        return;
    if (l->nth == 0) {
        batch_apply(l, l->cur);
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (l->qn == LOADER_QUEUE) { /* helpers behind: help */
        lbatch_t *b = l->queue[--l->qn];
        pthread_mutex_unlock(&l->mu);
        batch_apply(l, b);
        pthread_mutex_lock(&l->mu);
        pool_put_locked(l, b);
    }
    l->queue[l->qn++] = l->cur;
    pthread_cond_signal(&l->cv_work);
    while (l->pn == 0)
        pthread_cond_wait(&l->cv_free, &l->mu);
    l->cur = l->pool[--l->pn];
    pthread_mutex_unlock(&l->mu);
}

static int
loader_add(void *arg, const char *w, size_t len, uint64_t n)
{
    loader_t *l = arg;
    lbatch_t *b = l->cur;

    b->ops[b->n].h = ht_hash(w, len);
    b->ops[b->n].len = (uint16_t) len;
    b->ops[b->n].delta = n;
    b->off[b->n++] = b->keys.len;
    buf_append(&b->keys, w, len);
    if (b->n == LOADER_BATCH) {
        loader_submit(l);
        if (l->tick)
            l->tick(); /* the master: a long recovery asks systemd for time */
    }
    return l->full ? MEMDB_ERR : MEMDB_OK;
}

/* Waits until every submitted batch is applied. */
static int
loader_drain(void *arg)
{
    loader_t *l = arg;

    loader_submit(l);
    pthread_mutex_lock(&l->mu);
    while (l->qn > 0 || l->busy > 0) {
        if (l->qn > 0) {
            lbatch_t *b = l->queue[--l->qn];
            pthread_mutex_unlock(&l->mu);
            batch_apply(l, b);
            pthread_mutex_lock(&l->mu);
            pool_put_locked(l, b);
        } else {
            pthread_cond_wait(&l->cv_free, &l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return l->full ? MEMDB_ERR : MEMDB_OK;
}

static void
loader_clear(void *arg)
{
    loader_t *l = arg;
    shm_t *s = l->shm;

    loader_drain(l);
    l->full = false;
    ht_init(&s->ht);
    arena_init(s->arena, s->arena->size, s->arena->limit);
    idem_reset(&s->idem, s->ht.self);
}

/* An Idempotency-Key of the snapshot or of a replayed record.  The words
 * may still be in a batch: nothing reads the keys before the load ends. */
static void
loader_key(void *arg, const rec_idem_t *id, uint64_t lsn)
{
    loader_t *l = arg;
    idem_key_t k = { { id->key[0], id->key[1] } };
    idem_ans_t a = { .body = { id->body[0], id->body[1] },
                     .lsn = lsn,
                     .words = id->words,
                     .distinct = id->distinct,
                     .time_ms = id->time_ms };

    idem_done(&l->shm->idem, &k, &a, l->shm->ht.self);
}

void
loader_sink(loader_t *l, recover_sink_t *sink)
{
    sink->add = loader_add;
    sink->flush = loader_drain;
    sink->clear = loader_clear;
    sink->key = loader_key;
    sink->arg = l;
    sink->repair = true;
    sink->cat = &l->shm->cat;
}

int
loader_finish(loader_t *l)
{
    int rc = loader_drain(l);

    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    for (unsigned i = 0; i < l->nth; i++)
        pthread_join(l->th[i], NULL);
    for (size_t i = 0; i < l->pn; i++) {
        buf_free(&l->pool[i]->keys);
        free(l->pool[i]);
    }
    buf_free(&l->cur->keys);
    free(l->cur);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_free);
    free(l);
    return rc;
}
