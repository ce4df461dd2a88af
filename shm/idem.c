/*
 * idem.c - the idempotency keys (see idem.h).
 */
#include "shm/idem.h"

#include <string.h>

static uint32_t
idem_nbuckets(uint64_t max_keys)
{
    uint64_t n = 16;

    while (n < max_keys)
        n <<= 1;
    return (uint32_t) n;
}

uint64_t
idem_size(uint64_t max_keys)
{
    return MEMDB_ALIGN(sizeof(idem_hdr_t), 64) + max_keys * sizeof(idem_ent_t)
           + (uint64_t) idem_nbuckets(max_keys) * sizeof(uint32_t);
}

static void
idem_attach(idem_t *t, void *mem)
{
    t->hdr = mem;
    t->ent = (idem_ent_t *) ((char *) mem
                             + MEMDB_ALIGN(sizeof(idem_hdr_t), 64));
    t->bucket = (uint32_t *) (t->ent + t->hdr->max_keys);
}

void
idem_init(idem_t *t, void *mem, uint64_t max_keys, uint64_t window_ms)
{
    idem_hdr_t *h = mem;

    h->max_keys = max_keys;
    h->window_ms = window_ms;
    h->nbuckets = idem_nbuckets(max_keys);
    idem_attach(t, mem);
}

static bool
key_eq(const idem_key_t *a, const idem_key_t *b)
{
    return a->h[0] == b->h[0] && a->h[1] == b->h[1];
}

static uint32_t *
idem_head(idem_t *t, const idem_key_t *k)
{
    return &t->bucket[k->h[0] & (t->hdr->nbuckets - 1)];
}

/* The entry of k (DONE or CLAIMED), or NULL. */
static idem_ent_t *
idem_lookup(idem_t *t, const idem_key_t *k)
{
    uint32_t i = *idem_head(t, k);

    for (unsigned steps = 0; i != 0 && steps <= t->hdr->max_keys; steps++) {
        idem_ent_t *e = &t->ent[i - 1];
        if (atomic_load_explicit(&e->state, memory_order_relaxed) != IDEM_FREE
            && key_eq(&e->key, k))
            return e;
        i = e->next;
    }
    return NULL;
}

/* Takes e out of its chain and frees it. */
static void
idem_unlink(idem_t *t, idem_ent_t *e)
{
    uint32_t *p = idem_head(t, &e->key), me = (uint32_t) (e - t->ent) + 1;

    for (unsigned steps = 0; *p != 0 && steps <= t->hdr->max_keys; steps++) {
        if (*p == me) {
            *p = e->next;
            break;
        }
        p = &t->ent[*p - 1].next;
    }
    atomic_store_explicit(&e->state, IDEM_FREE, memory_order_release);
    atomic_fetch_sub_explicit(&t->hdr->live, 1, memory_order_relaxed);
}

static bool
idem_expired(const idem_t *t, const idem_ent_t *e, uint64_t now_ms)
{
    return atomic_load_explicit(&e->state, memory_order_relaxed) == IDEM_DONE
           && e->ans.time_ms + t->hdr->window_ms <= now_ms;
}

/* A new entry for k in state st (the oldest is taken over), or NULL when
 * the oldest is still claimed. */
static idem_ent_t *
idem_take(idem_t *t, const idem_key_t *k, uint32_t st, uint32_t pid,
          const idem_ans_t *a, uint64_t now_ms)
{
    idem_hdr_t *h = t->hdr;
    idem_ent_t *e = &t->ent[h->cursor % h->max_keys];
    uint32_t *head = idem_head(t, k);
    uint32_t old = atomic_load_explicit(&e->state, memory_order_relaxed);

    if (old == IDEM_CLAIMED)
        return NULL;
    h->cursor++; /* first: a crash from here on leaves a FREE hole */
    if (old == IDEM_DONE) {
        if (e->ans.time_ms + h->window_ms > now_ms)
            atomic_fetch_add_explicit(&h->forgotten, 1, memory_order_relaxed);
        idem_unlink(t, e);
    }
    e->key = *k;
    if (a != NULL)
        e->ans = *a;
    e->pid = pid;
    e->next = *head;
    atomic_store_explicit(&e->state, st, memory_order_release);
    *head = (uint32_t) (e - t->ent) + 1;
    atomic_fetch_add_explicit(&h->live, 1, memory_order_relaxed);
    return e;
}

int
idem_claim(idem_t *t, const idem_key_t *k, const uint64_t body[2],
           uint32_t self, uint64_t now_ms, idem_ans_t *ans)
{
    idem_ent_t *e;
    int rc = IDEM_NEW;

    if (t->hdr->max_keys == 0)
        return IDEM_NEW; /* not remembered: counted as without a key */
    lock_acquire(&t->hdr->lock, self);
    e = idem_lookup(t, k);
    if (e != NULL && idem_expired(t, e, now_ms)) {
        idem_unlink(t, e);
        e = NULL;
    }
    if (e != NULL
        && atomic_load_explicit(&e->state, memory_order_relaxed)
               == IDEM_CLAIMED) {
        rc = IDEM_INFLIGHT;
    } else if (e != NULL) {
        *ans = e->ans;
        rc = e->ans.body[0] == body[0] && e->ans.body[1] == body[1]
                 ? IDEM_REPLAY
                 : IDEM_MISMATCH;
    } else {
        idem_ans_t a = { .body = { body[0], body[1] }, .time_ms = now_ms };
        if (idem_take(t, k, IDEM_CLAIMED, self, &a, now_ms) == NULL)
            rc = IDEM_FULL;
    }
    lock_release(&t->hdr->lock);
    if (rc == IDEM_REPLAY)
        atomic_fetch_add_explicit(&t->hdr->replays, 1, memory_order_relaxed);
    else if (rc != IDEM_NEW)
        atomic_fetch_add_explicit(&t->hdr->conflicts, 1, memory_order_relaxed);
    return rc;
}

void
idem_release(idem_t *t, const idem_key_t *k, uint32_t self)
{
    idem_ent_t *e;

    if (t->hdr->max_keys == 0)
        return;
    lock_acquire(&t->hdr->lock, self);
    e = idem_lookup(t, k);
    if (e != NULL
        && atomic_load_explicit(&e->state, memory_order_relaxed)
               == IDEM_CLAIMED
        && e->pid == self)
        idem_unlink(t, e);
    lock_release(&t->hdr->lock);
}

void
idem_done(idem_t *t, const idem_key_t *k, const idem_ans_t *a, uint32_t self)
{
    idem_ent_t *e;

    if (t->hdr->max_keys == 0)
        return;
    lock_acquire(&t->hdr->lock, self);
    e = idem_lookup(t, k);
    if (e != NULL
        && atomic_load_explicit(&e->state, memory_order_relaxed)
               == IDEM_CLAIMED) {
        /* the claim of this upload (a worker's, a hand-over's): a crash
         * while the answer is copied leaves it CLAIMED, and the master
         * finishing the record makes it DONE again */
        e->ans = *a;
        atomic_store_explicit(&e->state, IDEM_DONE, memory_order_release);
    } else {
        if (e != NULL)
            idem_unlink(t, e); /* counted again after its window: renew */
        /* the record's time stands for now: a newer record than the
         * entry taken over */
        if (idem_take(t, k, IDEM_DONE, 0, a, a->time_ms) == NULL)
            atomic_fetch_add_explicit(&t->hdr->forgotten, 1,
                                      memory_order_relaxed);
    }
    lock_release(&t->hdr->lock);
}

bool
idem_find(idem_t *t, const idem_key_t *k, uint64_t now_ms, uint32_t self,
          idem_ans_t *a)
{
    idem_ent_t *e;
    bool found = false;

    if (t->hdr->max_keys == 0)
        return false;
    lock_acquire(&t->hdr->lock, self);
    e = idem_lookup(t, k);
    if (e != NULL
        && atomic_load_explicit(&e->state, memory_order_relaxed) == IDEM_DONE
        && !idem_expired(t, e, now_ms)) {
        *a = e->ans;
        found = true;
    }
    lock_release(&t->hdr->lock);
    return found;
}

/* Entries that may be in use: the pool is filled from 0 up. */
static uint64_t
idem_used(const idem_t *t)
{
    return MEMDB_MIN(t->hdr->cursor, t->hdr->max_keys);
}

void
idem_reset(idem_t *t, uint32_t self)
{
    idem_hdr_t *h = t->hdr;

    if (h->max_keys == 0)
        return;
    lock_acquire(&h->lock, self);
    memset(t->ent, 0, (size_t) idem_used(t) * sizeof(idem_ent_t));
    memset(t->bucket, 0, (size_t) h->nbuckets * sizeof(uint32_t));
    h->cursor = 0;
    atomic_store_explicit(&h->live, 0, memory_order_relaxed);
    lock_release(&h->lock);
}

bool
idem_repair_lock(idem_t *t, uint32_t dead)
{
    idem_hdr_t *h = t->hdr;
    uint64_t live = 0, used;

    if (h->max_keys == 0 || lock_holder(&h->lock) != dead)
        return false;
    used = idem_used(t);
    memset(t->bucket, 0, (size_t) h->nbuckets * sizeof(uint32_t));
    for (uint64_t i = 0; i < used; i++) {
        idem_ent_t *e = &t->ent[i];
        if (atomic_load_explicit(&e->state, memory_order_relaxed) == IDEM_FREE)
            continue;
        uint32_t *head = idem_head(t, &e->key);
        e->next = *head;
        *head = (uint32_t) i + 1;
        live++;
    }
    atomic_store_explicit(&h->live, live, memory_order_relaxed);
    return lock_force_release(&h->lock, dead);
}

unsigned
idem_release_dead(idem_t *t, uint32_t dead, uint32_t self)
{
    uint64_t used;
    unsigned n = 0;

    if (t->hdr->max_keys == 0)
        return 0;
    lock_acquire(&t->hdr->lock, self);
    used = idem_used(t);
    for (uint64_t i = 0; i < used; i++) {
        idem_ent_t *e = &t->ent[i];
        if (atomic_load_explicit(&e->state, memory_order_relaxed)
                == IDEM_CLAIMED
            && e->pid == dead) {
            idem_unlink(t, e);
            n++;
        }
    }
    lock_release(&t->hdr->lock);
    return n;
}

void
idem_each(idem_t *t, uint64_t now_ms, uint32_t self,
          void (*fn)(void *arg, const idem_key_t *k, const idem_ans_t *a),
          void *arg)
{
    uint64_t used, start;

    if (t->hdr->max_keys == 0)
        return;
    lock_acquire(&t->hdr->lock, self);
    used = idem_used(t);
    start = t->hdr->cursor % t->hdr->max_keys;
    if (t->hdr->cursor < t->hdr->max_keys)
        start = 0;
    for (uint64_t j = 0; j < used; j++) {
        idem_ent_t *e = &t->ent[(start + j) % t->hdr->max_keys];
        if (atomic_load_explicit(&e->state, memory_order_relaxed) == IDEM_DONE
            && !idem_expired(t, e, now_ms))
            fn(arg, &e->key, &e->ans);
    }
    lock_release(&t->hdr->lock);
}
