/*
 * top.c - GET /api/v1/top?n=K: the K most counted words of a table.
 *
 * The answer needs every word of the table, so it is a scan, but not in
 * one turn of the worker's event loop: a scan stream (stream_scan) looks
 * at a few partitions each time it is called, at most 1/64 of the store a
 * turn before other connections run, and answers once the last partition
 * is done.  A request for the top of a large
 * table thus delays the requests of other connections by one slice, not
 * by the whole scan.  Each partition's words and counts are copied as of
 * one instant (ht_part_copy); the partitions are read one after the
 * other, as allwords reads them.
 *
 * The K best so far are a min-heap whose words are copies (the table's
 * entries may be swept, shm/ht.h); ties go to the smaller word, so the
 * answer does not depend on the hash order.
 *
 * Pruning.  Each partition keeps an upper bound of its counts
 * (ht_part_max) and its HT_TOP leaders, the words of its highest counts,
 * kept on every write (ht_part_top).  The scan visits the partitions from
 * the highest bound down.  A partition's first visit reads its leaders
 * only (a few words, under its lock), and puts it back in order with the
 * bound of its other words; a second visit, if it comes to that, copies
 * the whole partition: the leaders taken before get the copy's counts
 * (or leave the heap), and its other words are offered, so that a
 * partition's words in the answer are all of one instant.
 * The bounds are read once into TOP_GROUPS groups; a group's partitions
 * join the order only when the group comes first in it, and only those
 * whose bound may still rank.
 * The scan stops once the heap is full and the next bound is below its
 * smallest count: no word of the partitions left can rank (a word with
 * the same count could, by its bytes, so an equal bound is visited).  On
 * a skewed table the top K come from the leaders of about K partitions,
 * and no partition is copied; on one where every word has the same count
 * every partition is copied, as before.  Leaders are read TOP_LISTS at a
 * time (SCAN_AGAIN): a turn of the loop reads at most 2048 of them.
 */
#include "worker/wrk.h"
#include "src/core/json.h"
#include "src/core/util.h"

#include <stdlib.h>
#include <string.h>

#define TOP_LISTS 32 /* leaders read a call of top_next */

typedef struct top_item_s {
    uint64_t count;
    char *word; /* its own copy, without the table's prefix */
    size_t len;
    unsigned part; /* its partition */
} top_item_t;

#define TOP_GROUPS 64 /* of HT_PARTS / TOP_GROUPS partitions */
#define TOP_GSIZE  (HT_PARTS / TOP_GROUPS)

/* A partition, or a group of them not looked into yet. */
typedef struct top_part_s {
    uint64_t max; /* its bound: when the scan began, or of its non-leaders */
    unsigned p;   /* a partition, or a group */
    bool led;     /* its leaders are in the heap (if they ranked) */
    bool group;
} top_part_t;

typedef struct top_scan_s {
    uint64_t gen;
    ht_t *ht;
    ht_copy_t lead; /* a partition's leaders */
    unsigned cur;   /* the partition being copied */
    top_item_t *heap;
    size_t n, k;
    uint64_t bound[HT_PARTS]; /* each partition's when the scan began */
    size_t left;              /* partitions and groups not done yet... */
    top_part_t order[HT_PARTS + TOP_GROUPS]; /* ...a max-heap by bound */
} top_scan_t;

/* true if a ranks below b: lower count, or same count and greater word */
static bool
top_less(const top_item_t *a, const top_item_t *b)
{
    if (a->count != b->count)
        return a->count < b->count;
    size_t n = MEMDB_MIN(a->len, b->len);
    int r = memcmp(a->word, b->word, n);
    return r != 0 ? r > 0 : a->len > b->len;
}

static void
top_swap(top_item_t *h, size_t i, size_t j)
{
    top_item_t t = h[i];

    h[i] = h[j];
    h[j] = t;
}

static void
top_down(top_item_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && top_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && top_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        top_swap(h, i, m);
        i = m;
    }
}

static void
top_up(top_item_t *h, size_t i)
{
    while (i > 0 && top_less(&h[i], &h[(i - 1) / 2])) {
        top_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Offers one word (it is copied if it gets in). */
static void
top_offer(top_scan_t *t, top_item_t it)
{
    if (t->n < t->k) {
        t->heap[t->n] = it;
        t->heap[t->n].word = xmemdup(it.word, it.len);
        top_up(t->heap, t->n++);
    } else if (t->n > 0 && top_less(&t->heap[0], &it)) {
        free(t->heap[0].word);
        t->heap[0] = it;
        t->heap[0].word = xmemdup(it.word, it.len);
        top_down(t->heap, t->n, 0);
    }
}

/* Item i of a copy of partition p as a word of the table (its bytes in
 * the copy); false: internal, another table's, or below 0 (recovery). */
static bool
top_word(const top_scan_t *t, const ht_copy_t *cp, size_t i, unsigned p,
         top_item_t *it)
{
    const char *key = ht_copy_key(cp, i);
    uint64_t g;
    size_t pre;

    *it = (top_item_t) { cp->items[i].count, NULL, cp->items[i].len, p };
    if (!cat_key_gen(key, it->len, &g, &pre) || g != t->gen
        || it->count >= (1ULL << 63))
        return false;
    it->word = (char *) key + pre;
    it->len -= pre;
    return true;
}

/* The words of a copy (of partition p) that belong to the table, but
 * the nskip in skip[]. */
static void
top_offer_copy(top_scan_t *t, const ht_copy_t *cp, unsigned p,
               const top_item_t *skip, size_t nskip)
{
    for (size_t i = 0; i < cp->n; i++) {
        top_item_t it;
        bool dup = false;
        if (!top_word(t, cp, i, p, &it))
            continue;
        for (size_t k = 0; k < nskip && !dup; k++)
            dup = skip[k].len == it.len
                  && memcmp(skip[k].word, it.word, it.len) == 0;
        if (!dup)
            top_offer(t, it);
    }
}

/* Word w's count in a copy of its partition; 0: not in it. */
static uint64_t
top_copy_count(const top_scan_t *t, const ht_copy_t *cp, const top_item_t *w)
{
    top_item_t it;

    for (size_t i = 0; i < cp->n; i++)
        if (top_word(t, cp, i, w->part, &it) && it.len == w->len
            && memcmp(it.word, w->word, w->len) == 0)
            return it.count;
    return 0;
}

/* The words of partition p in the heap (leaders read earlier) take their
 * counts from the copy, or leave if it has them no more: all of p's
 * words in the answer are then of one instant. */
static void
top_recount(top_scan_t *t, const ht_copy_t *cp, unsigned p)
{
    size_t m = 0;
    bool changed = false;

    for (size_t i = 0; i < t->n; i++) {
        top_item_t it = t->heap[i];
        if (it.part == p) {
            changed = true;
            it.count = top_copy_count(t, cp, &it);
            if (it.count == 0) {
                free(it.word);
                continue;
            }
        }
        t->heap[m++] = it;
    }
    if (!changed)
        return;
    t->n = m;
    for (size_t i = m / 2; i-- > 0;) /* a heap again */
        top_down(t->heap, m, i);
}

/* The whole partition top_next handed out: its leaders in the heap are
 * brought to the copy's counts, and its other words offered. */
static void
top_part(void *arg, const ht_copy_t *cp)
{
    top_scan_t *t = arg;
    top_item_t skip[HT_TOP] = { { 0 } };
    size_t n = 0;

    top_recount(t, cp, t->cur);

    for (size_t i = 0; i < t->n && n < HT_TOP; i++)
        if (t->heap[i].part == t->cur) { /* (offering may free it) */
            skip[n] = t->heap[i];
            skip[n++].word = xmemdup(t->heap[i].word, t->heap[i].len);
        }
    top_offer_copy(t, cp, t->cur, skip, n);
    while (n > 0)
        free(skip[--n].word);
}

static void
top_done(conn_t *c, void *arg)
{
    top_scan_t *t = arg;
    buf_t *b = &c->w->tmp;

    /* Pop the min-heap from the back to get highest first. */
    for (size_t m = t->n; m > 1; m--) {
        top_swap(t->heap, 0, m - 1);
        top_down(t->heap, m - 1, 0);
    }
    b->len = 0;
    buf_putc(b, '[');
    for (size_t i = 0; i < t->n; i++) {
        buf_puts(b, i ? ",{\"word\":" : "{\"word\":");
        json_str(b, t->heap[i].word, t->heap[i].len);
        json_kv_u64(b, "count", t->heap[i].count, false);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    resp_json(c, 200, b, NULL);
}

static void
top_drop(void *arg)
{
    top_scan_t *t = arg;

    for (size_t i = 0; i < t->n; i++)
        free(t->heap[i].word);
    free(t->heap);
    ht_copy_free(&t->lead);
    free(t);
}

/* Sifts order[i] down the max-heap of the left partitions. */
static void
top_part_down(top_scan_t *t, size_t i)
{
    top_part_t *h = t->order;

    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < t->left && h[l].max > h[m].max)
            m = l;
        if (l + 1 < t->left && h[l + 1].max > h[m].max)
            m = l + 1;
        if (m == i)
            return;
        top_part_t x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

/* Adds x to the max-heap of the left partitions. */
static void
top_part_push(top_scan_t *t, top_part_t x)
{
    top_part_t *h = t->order;
    size_t i = t->left++;

    while (i > 0 && h[(i - 1) / 2].max < x.max) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

/* true if a bound of max can hold a word that ranks (0: no word) */
static bool
top_may_rank(const top_scan_t *t, uint64_t max)
{
    return max > 0 && (t->n < t->k || max >= t->heap[0].count);
}

static void
top_pop(top_scan_t *t)
{
    t->order[0] = t->order[--t->left];
    top_part_down(t, 0);
}

/* Offers the leaders of the partition of the highest bound, and puts it
 * back with the bound of its other words (if it has any). */
static void
top_lead(top_scan_t *t)
{
    top_part_t *o = &t->order[0];
    uint64_t rest;

    if (ht_part_top(t->ht, o->p, &t->lead, &rest) < 0) {
        o->led = true; /* out of memory: (not reached) copied whole */
        return;
    }
    top_offer_copy(t, &t->lead, o->p, NULL, 0);
    if (rest == 0) {
        top_pop(t); /* its leaders were all its words */
        return;
    }
    o->max = rest; /* (at the root: a higher one keeps the heap too) */
    o->led = true;
    top_part_down(t, 0);
}

/* The next partition to copy in order of bound, after reading the leaders
 * of those of a higher one; -1: none left can rank.  (A heap, not a sort:
 * a skewed table needs the first few only.) */
static long
top_next(void *arg)
{
    top_scan_t *t = arg;

    for (unsigned i = 0; i < TOP_LISTS; i++) {
        if (t->left == 0 || !top_may_rank(t, t->order[0].max))
            return -1;
        if (t->order[0].group) { /* its partitions join the heap */
            unsigned g = t->order[0].p;
            top_pop(t);
            for (unsigned p = g * TOP_GSIZE; p < (g + 1) * TOP_GSIZE; p++)
                if (top_may_rank(t, t->bound[p]))
                    top_part_push(
                        t, (top_part_t) { t->bound[p], p, false, false });
            continue;
        }
        if (t->order[0].led) {
            t->cur = t->order[0].p;
            top_pop(t);
            return (long) t->cur;
        }
        top_lead(t);
    }
    return SCAN_AGAIN;
}

static const scan_ops_t top_ops = { top_next, top_part, top_done, top_drop };

void
top_start(conn_t *c, uint64_t gen, size_t k)
{
    top_scan_t *t = xmalloc(sizeof(*t)); /* (no need to zero 100 KiB) */

    memset(&t->lead, 0, sizeof(t->lead));
    t->gen = gen;
    t->ht = &c->w->shm->ht;
    t->k = k;
    t->n = 0;
    t->heap = xmalloc(k * sizeof(*t->heap));
    t->left = 0;
    for (unsigned g = 0; g < TOP_GROUPS; g++) {
        uint64_t gmax = 0;
        for (unsigned p = g * TOP_GSIZE; p < (g + 1) * TOP_GSIZE; p++) {
            t->bound[p] = ht_part_max(t->ht, p);
            gmax = MEMDB_MAX(gmax, t->bound[p]);
        }
        top_part_push(t, (top_part_t) { gmax, g, false, true });
    }
    stream_scan(c, &top_ops, t);
}
