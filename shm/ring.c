/*
 * ring.c - the change ring (design in ring.h).
 */
#include "shm/ring.h"

#include <string.h>

static inline uint64_t
ring_off(const ring_t *r, uint64_t pos)
{
    return pos & (r->hdr->size - 1);
}

void
ring_init(ring_t *r, uint64_t size, uint64_t first_lsn)
{
    memset(r->hdr, 0, sizeof(*r->hdr));
    r->hdr->size = size;
    atomic_store(&r->hdr->next_lsn, first_lsn);
}

uint64_t
ring_max_record(const ring_t *r)
{
    return r->hdr->size / 2 - RING_SLOT_HDR;
}

/* May a reservation for what be made under role?  (the write fence) */
static bool
ring_fence_ok(const ring_hdr_t *h, int what, uint64_t want_lsn)
{
    uint32_t role = atomic_load_explicit(&h->role, memory_order_relaxed);

    switch (what) {
    case RING_W_UPLOAD: return role == ROLE_LEADER || role == ROLE_STANDALONE;
    case RING_W_MERGE: return role == ROLE_LEADER;
    case RING_W_REPLICATE:
        return role == ROLE_REPLICA
               && atomic_load_explicit(&h->next_lsn, memory_order_relaxed)
                      == want_lsn;
    }
    return false;
}

uint64_t
ring_set_role(ring_t *r, uint32_t role, uint64_t epoch, uint32_t pid)
{
    ring_hdr_t *h = r->hdr;
    uint64_t next;

    lock_acquire(&h->lock, pid);
    atomic_store(&h->role, role);
    atomic_store(&h->epoch, epoch);
    next = atomic_load(&h->next_lsn);
    lock_release(&h->lock);
    return next;
}

int
ring_reserve(ring_t *r, uint32_t reclen, uint32_t pid, int what,
             ring_resv_t *rv, ring_slot_t **slotp)
{
    return ring_reserve_with(r, reclen, pid, what, rv, slotp, NULL, NULL);
}

static void ring_unreserve_locked(ring_t *r, ring_slot_t *s, uint64_t pos);

int
ring_reserve_with(ring_t *r, uint32_t reclen, uint32_t pid, int what,
                  ring_resv_t *rv, ring_slot_t **slotp, ring_locked_fn fn,
                  void *arg)
{
    ring_hdr_t *h = r->hdr;
    uint64_t need = MEMDB_ALIGN(RING_SLOT_HDR + reclen, 8);
    uint64_t pos, off, pad, lsn, epoch;
    ring_slot_t *s;

    if (reclen > ring_max_record(r))
        return MEMDB_ERR;
    lock_acquire(&h->lock, pid);
    if (!ring_fence_ok(h, what, rv->lsn)) {
        lock_release(&h->lock);
        return MEMDB_BUSY;
    }
    pos = atomic_load_explicit(&h->head, memory_order_relaxed);
    lsn = atomic_load_explicit(&h->next_lsn, memory_order_relaxed);
    epoch = atomic_load_explicit(&h->epoch, memory_order_relaxed);
    off = ring_off(r, pos);
    pad = off + need > h->size ? h->size - off : 0;
    if (pos + pad + need - atomic_load_explicit(&h->tail, memory_order_acquire)
        > h->size) {
        lock_release(&h->lock);
        return MEMDB_AGAIN;
    }
    rv->pos = pos + pad;
    rv->lsn = lsn;
    rv->need = need;
    rv->epoch = epoch;
    if (pad >= RING_SLOT_HDR) {
        s = (ring_slot_t *) (r->data + off);
        s->size = (uint32_t) pad;
        s->kind = RING_PAD;
        atomic_store_explicit(&s->state, RING_READY, memory_order_relaxed);
        atomic_store_explicit(&s->pos, pos, memory_order_release);
    }
    s = (ring_slot_t *) (r->data + ring_off(r, pos + pad));
    s->size = (uint32_t) need;
    s->kind = RING_REC;
    s->pid = (int32_t) pid;
    s->reclen = reclen;
    s->lsn = lsn;
    s->epoch = epoch;
    s->aux = 0;
    atomic_store_explicit(&s->state, RING_WRITING, memory_order_relaxed);
    atomic_store_explicit(&s->pos, pos + pad, memory_order_release);
    atomic_store_explicit(&h->next_lsn, lsn + 1, memory_order_release);
    atomic_store_explicit(&h->head, pos + pad + need, memory_order_release);
    if (fn != NULL) {
        int rc = fn(arg, s);
        if (rc != MEMDB_OK) {
            ring_unreserve_locked(r, s, pos + pad);
            if (pad > 0)
                atomic_store(&h->head, pos); /* the pad too */
            lock_release(&h->lock);
            return rc;
        }
    }
    lock_release(&h->lock);
    *slotp = s;
    return MEMDB_OK;
}

void
ring_publish(ring_slot_t *s)
{
    atomic_store_explicit(&s->state, RING_READY, memory_order_release);
}

ring_slot_t *
ring_slot_at(ring_t *r, uint64_t pos)
{
    return (ring_slot_t *) (r->data + ring_off(r, pos));
}

ring_slot_t *
ring_next(ring_t *r, uint64_t *cursor, bool include_writing)
{
    ring_hdr_t *h = r->hdr;

    for (;;) {
        uint64_t pos = *cursor;
        uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
        uint64_t off = ring_off(r, pos);
        ring_slot_t *s;

        if (pos >= head)
            return NULL;
        if (h->size - off < RING_SLOT_HDR) { /* implicit pad */
            *cursor = pos + (h->size - off);
            continue;
        }
        s = (ring_slot_t *) (r->data + off);
        if (atomic_load_explicit(&s->pos, memory_order_acquire) != pos)
            return NULL; /* cannot happen < head */
        if (s->kind == RING_PAD) {
            *cursor = pos + s->size;
            continue;
        }
        if (!include_writing
            && atomic_load_explicit(&s->state, memory_order_acquire)
                   == RING_WRITING)
            return NULL;
        return s;
    }
}

void
ring_release(ring_t *r, uint64_t upto)
{
    atomic_store_explicit(&r->hdr->tail, upto, memory_order_release);
}

uint64_t
ring_used(const ring_t *r)
{
    return atomic_load_explicit(&r->hdr->head, memory_order_relaxed)
           - atomic_load_explicit(&r->hdr->tail, memory_order_relaxed);
}

/* Takes back the reservation of slot s at pos, the last one made: the
 * ring is as if it had never been made.  Ring lock held. */
static void
ring_unreserve_locked(ring_t *r, ring_slot_t *s, uint64_t pos)
{
    atomic_store(&r->hdr->next_lsn, s->lsn);
    atomic_store(&r->hdr->head, pos);
    atomic_store(&s->state, RING_VOID);
}

unsigned
ring_repair(ring_t *r, uint32_t dead, const ring_resv_t *rv, uint32_t self)
{
    ring_hdr_t *h = r->hdr;
    uint64_t cursor, head;
    unsigned n = 0;
    bool held = lock_holder(&h->lock) == self; /* taken over before */

    if (lock_holder(&h->lock) == dead) {
        uint32_t expect = dead;
        /* died inside ring_reserve: roll back what it stored of next_lsn
         * without head (the lock kept everyone else out) */
        if (atomic_load(&h->next_lsn) == rv->lsn + 1
            && atomic_load(&h->head) < rv->pos + rv->need)
            atomic_store(&h->next_lsn, rv->lsn);
        held = atomic_compare_exchange_strong(&h->lock, &expect, self);
        n++;
    }
    /* waiting, the master may reap another child that died holding the
     * lock: that repair hands the lock to the master, which keeps it */
    if (!held)
        held = lock_acquire_or_own(&h->lock, self);
    cursor = atomic_load(&h->tail);
    head = atomic_load(&h->head);
    while (cursor < head) {
        uint64_t pos;
        ring_slot_t *s = ring_next(r, &cursor, true);
        if (s == NULL)
            break;
        pos = cursor;
        cursor += s->size;
        if (s->pid != (int32_t) dead || atomic_load(&s->state) != RING_WRITING)
            continue;
        if (cursor == head && s->lsn + 1 == atomic_load(&h->next_lsn))
            ring_unreserve_locked(r, s, pos);
        else
            atomic_store(&s->state, RING_VOID);
        n++;
    }
    if (!held)
        lock_release(&h->lock);
    return n;
}

void
ring_repaired(ring_t *r, uint32_t self)
{
    (void) lock_force_release(&r->hdr->lock, self);
}
