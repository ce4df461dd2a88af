/*
 * ctl_changelog.c - memdbctl log verify|print|truncate|counts: offline
 * checks of the change log of a data directory (memdbd need not run; do
 * not run them on a directory a running memdbd writes, except verify and
 * print, which only read).
 */
#include "src/ctl/ctl.h"
#include "src/words/agg.h"
#include "src/core/json.h"
#include "src/changelog/clogrd.h"
#include "src/changelog/rec.h"
#include "src/changelog/recover.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"
#include "shm/ht.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first problem found in LSN order, for truncate. */
typedef struct log_fault_s {
    bool found;
    int seg; /* index in the listing */
    uint64_t off;
    uint64_t after_lsn;
    char what[1600];
} log_fault_t;

static void
dirs_of(const char *data, char *log_dir, char *snap_dir)
{
    recover_dirs(data, log_dir, snap_dir, 1100);
}

static int
verify_snapshots(const char *snap_dir)
{
    snap_info_t *v;
    int n = snap_list(snap_dir, &v), bad = 0;
    char err[1400];

    for (int i = 0; i < n; i++) {
        snap_reader_t r;
        const char *w;
        size_t l;
        uint64_t c;
        int rc = snap_open(&r, v[i].path, err, sizeof(err));

        while (rc == MEMDB_OK)
            rc = snap_next(&r, &w, &l, &c, err, sizeof(err));
        if (rc == MEMDB_AGAIN)
            printf("%s: ok: lsn %llu, %llu words, %llu occurrences\n",
                   v[i].path, (unsigned long long) r.hdr.lsn,
                   (unsigned long long) r.nwords,
                   (unsigned long long) r.total);
        else {
            printf("%s\n", err);
            bad++;
        }
        snap_close(&r);
    }
    free(v);
    return bad;
}

/* The index of path in the listing segs, -1 if absent. */
static int
seg_index(const seg_info_t *segs, int n, const char *path)
{
    for (int i = 0; i < n; i++)
        if (strcmp(segs[i].path, path) == 0)
            return i;
    return -1;
}

/* One line for a segment read through (verify). */
static void
report_segment(const clogrd_t *rd, int seg, uint64_t count, uint64_t lo,
               uint64_t hi)
{
    if (seg >= 0 && count > 0)
        printf("%s: ok: %llu records, lsn %llu..%llu\n", rd->segs[seg].path,
               (unsigned long long) count, (unsigned long long) lo,
               (unsigned long long) hi);
}

/* Walks the whole log in replay order with the one reader (clogrd.h);
 * reports each segment read and the first fault, after which nothing can
 * be replayed.  Returns 1 when there is a fault, else 0. */
static int
walk_segments(const char *log_dir, bool report, log_fault_t *f,
              uint64_t *first, uint64_t *last)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e;
    int seg = -1;
    uint64_t count = 0, lo = 0, hi = 0;

    memset(f, 0, sizeof(*f));
    *first = *last = 0;
    if (clogrd_open(&rd, log_dir, 0, UINT64_MAX) != MEMDB_OK) {
        if (report)
            printf("%s\n", rd.err);
        return 1;
    }
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        uint64_t lsn = clogrd_lsn(&rd) - 1;
        if (rd.cur != seg) {
            if (report)
                report_segment(&rd, seg, count, lo, hi);
            seg = rd.cur;
            count = lo = 0;
        }
        lo = lo ? lo : lsn;
        hi = lsn;
        count++;
        *first = *first ? *first : lsn;
        *last = lsn;
    }
    if (report)
        report_segment(&rd, seg, count, lo, hi);
    if (e != CLOGRD_END) {
        f->found = true;
        f->seg = seg_index(rd.segs, rd.nsegs, rd.path);
        f->off = rd.off;
        f->after_lsn = rd.after;
        snprintf(f->what, sizeof(f->what), "%s", rd.err);
        if (report)
            printf("%s (after lsn %llu)\n", rd.err,
                   (unsigned long long) rd.after);
    }
    clogrd_close(&rd);
    return f->found;
}

static int
log_verify(const char *data)
{
    char log_dir[1100], snap_dir[1100];
    log_fault_t f;
    uint64_t first, last;
    int bad;

    dirs_of(data, log_dir, snap_dir);
    bad = verify_snapshots(snap_dir);
    bad += walk_segments(log_dir, true, &f, &first, &last);
    printf("%s: %s: log lsn %llu..%llu\n", data, bad ? "DAMAGED" : "ok",
           (unsigned long long) first, (unsigned long long) last);
    if (f.found)
        printf("the first fault is at offset %llu of segment %d: `memdbctl "
               "log truncate %s --yes` cuts the log there\n",
               (unsigned long long) f.off, f.seg, data);
    return bad ? CTL_BAD : CTL_OK;
}

static int
log_truncate(const char *data, bool yes)
{
    char log_dir[1100], snap_dir[1100];
    log_fault_t f;
    seg_info_t *segs;
    uint64_t first, last;
    int n, rc = CTL_OK;

    dirs_of(data, log_dir, snap_dir);
    walk_segments(log_dir, false, &f, &first, &last);
    if (!f.found) {
        printf("%s: the log has no damaged record: nothing to cut\n", data);
        return CTL_OK;
    }
    n = seg_list(log_dir, &segs);
    printf("%s %s at offset %llu (%s): every record after lsn %llu is "
           "dropped\n",
           yes ? "cutting" : "would cut", segs[f.seg].path,
           (unsigned long long) f.off, f.what,
           (unsigned long long) f.after_lsn);
    for (int i = f.seg + 1; i < n; i++)
        printf("%s %s\n", yes ? "removing" : "would remove", segs[i].path);
    if (yes) {
        if (f.off < SEG_HDR ? unlink(segs[f.seg].path) < 0
                            : truncate(segs[f.seg].path, (off_t) f.off) < 0) {
            ctl_err("%s: %s", segs[f.seg].path, strerror(errno));
            rc = CTL_BAD;
        }
        for (int i = f.seg + 1; i < n && rc == CTL_OK; i++)
            if (unlink(segs[i].path) < 0) {
                ctl_err("%s: %s", segs[i].path, strerror(errno));
                rc = CTL_BAD;
            }
        util_fsync_dir(log_dir);
    } else {
        printf("run again with --yes to do it\n");
        rc = CTL_BAD;
    }
    free(segs);
    return rc;
}

/* The Idempotency-Key block of an upload sent with one (rec.h): the
 * hashes of its key and body, when it was accepted, its answer. */
static void
print_key(buf_t *b, const void *rec, bool json)
{
    rec_idem_t id;
    char key[33], body[33];

    if (!rec_idem(rec, &id))
        return;
    snprintf(key, sizeof(key), "%016llx%016llx",
             (unsigned long long) id.key[0], (unsigned long long) id.key[1]);
    snprintf(body, sizeof(body), "%016llx%016llx",
             (unsigned long long) id.body[0], (unsigned long long) id.body[1]);
    if (json) {
        /* before "words": move the opening of the words object after it */
        b->len -= strlen("\"words\":{");
        buf_printf(b,
                   "\"key\":{\"hash\":\"%s\",\"body\":\"%s\","
                   "\"time_ms\":%llu,\"words\":%llu,\"distinct\":%llu},"
                   "\"words\":{",
                   key, body, (unsigned long long) id.time_ms,
                   (unsigned long long) id.words,
                   (unsigned long long) id.distinct);
    } else {
        buf_printf(b, " key %s", key);
    }
}

/* The table of a record (none: default) and a table operation's name. */
static void
print_table(buf_t *b, const void *rec, bool json)
{
    rec_tblop_t op;
    uint64_t uid = rec_table(rec);

    if (uid == 0 && !rec_table_op(rec, &op))
        return;
    if (json) /* before "words", as print_key() does */
        b->len -= strlen("\"words\":{");
    if (json)
        buf_printf(b, "\"table\":\"%016llx\",", (unsigned long long) uid);
    else
        buf_printf(b, " table %016llx", (unsigned long long) uid);
    if (!rec_table_op(rec, &op)) {
        if (json)
            buf_puts(b, "\"words\":{");
        return;
    }
    if (json) {
        json_key(b, "name", true);
        json_str(b, op.name, op.name_len);
        buf_printf(b, ",\"profile_bytes\":%zu,\"words\":{", op.prof_len);
    } else {
        buf_printf(b, " name %.*s profile %zu bytes", (int) op.name_len,
                   op.name, op.prof_len);
    }
}

static void
print_record(const rec_hdr_t *h, const void *rec, bool json)
{
    static const char *types[] = {
        "?",      "upload", "noop", "merge",    "retract",
        "forget", "create", "drop", "truncate",
    };
    const char *type = h->type < MEMDB_NELEM(types) ? types[h->type] : "?";
    buf_t b = { 0 };
    rec_iter_t it;
    const char *w;
    size_t len;
    uint64_t d;
    bool first = true;

    if (json)
        buf_printf(&b,
                   "{\"lsn\":%llu,\"epoch\":%llu,\"type\":\"%s\","
                   "\"origin\":{\"boot\":\"%016llx\",\"epoch\":%llu,"
                   "\"lsn\":%llu},\"words\":{",
                   (unsigned long long) h->lsn, (unsigned long long) h->epoch,
                   type, (unsigned long long) h->origin,
                   (unsigned long long) h->origin_epoch,
                   (unsigned long long) h->origin_lsn);
    else
        buf_printf(&b, "lsn %llu epoch %llu %s from %016llx.%llu.%llu",
                   (unsigned long long) h->lsn, (unsigned long long) h->epoch,
                   type, (unsigned long long) h->origin,
                   (unsigned long long) h->origin_epoch,
                   (unsigned long long) h->origin_lsn);
    print_key(&b, rec, json);
    print_table(&b, rec, json);
    if (!json)
        buf_printf(&b, " %u words:", h->nwords);
    rec_iter_init(&it, rec);
    while (rec_next(&it, &w, &len, &d) == MEMDB_OK) {
        if (ht_internal(w, len)) {
            /* a hand-over mark (merge.c): not a word */
            w = "(hand-over mark)";
            len = strlen(w);
        }
        /* a retract's or reset's deltas are taken away: shown negative */
        const char *sign = it.neg ? "-" : "";
        if (it.neg)
            d = 0 - d;
        if (json) {
            if (!first)
                buf_putc(&b, ',');
            json_str(&b, w, len);
            buf_printf(&b, ":%s%llu", sign, (unsigned long long) d);
        } else {
            buf_putc(&b, ' ');
            json_str(&b, w, len);
            buf_printf(&b, "x%s%llu", sign, (unsigned long long) d);
        }
        first = false;
    }
    if (json)
        buf_puts(&b, "}}");
    buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

/* Prints the records from LSN from to LSN to, in replay order; a gap or
 * damage is an error (exit 1) after what came before it. */
static int
log_print(const char *data, uint64_t from, uint64_t to, bool json)
{
    char log_dir[1100], snap_dir[1100];
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e;

    dirs_of(data, log_dir, snap_dir);
    if (clogrd_open(&rd, log_dir, 0, to) != MEMDB_OK) {
        ctl_err("%s", rd.err);
        return CTL_BAD;
    }
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        rec_hdr_t h;
        memcpy(&h, rec, sizeof(h));
        if (h.lsn >= from)
            print_record(&h, rec, json);
    }
    if (e != CLOGRD_END)
        ctl_err("%s", rd.err);
    clogrd_close(&rd);
    return e == CLOGRD_END ? CTL_OK : CTL_BAD;
}

static int
counts_add(void *arg, const char *w, size_t len, uint64_t n)
{
    agg_add_n(arg, w, len, n);
    return MEMDB_OK;
}

static void
counts_clear(void *arg)
{
    agg_t *a = arg;
    agg_free(a);
}

static const agg_t *cmp_agg;

static int
counts_cmp(const void *x, const void *y)
{
    const agg_ent_t *a = &cmp_agg->ents[*(const uint32_t *) x];
    const agg_ent_t *b = &cmp_agg->ents[*(const uint32_t *) y];
    return snap_cmp(agg_key(cmp_agg, a), a->len, agg_key(cmp_agg, b), b->len);
}

/* A table the data directory holds (default: the table default), as one
 * JSON object sorted by word. */
static int
log_counts(const char *data, const char *table)
{
    agg_t a;
    cat_t cat;
    recover_sink_t sink = { counts_add, NULL, counts_clear, &a,
                            false,      NULL, &cat };
    recover_stats_t st;
    char err[2048];
    uint32_t *order;
    buf_t b = { 0 };

    cat_view_t t;

    memset(&a, 0, sizeof(a));
    cat_private(&cat, CAT_MAX_TABLES);
    if (recover_run(data, &sink, &st, err, sizeof(err)) != MEMDB_OK) {
        ctl_err("%s", err);
        agg_free(&a);
        cat_private_free(&cat);
        return CTL_BAD;
    }
    if (cat_find(&cat, table, strlen(table), &t) != MEMDB_OK) {
        ctl_err("%s holds no table %s", data, table);
        agg_free(&a);
        cat_private_free(&cat);
        return CTL_BAD;
    }
    cat_private_free(&cat);
    order = xmalloc((a.n ? a.n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < a.n; i++)
        order[i] = (uint32_t) i;
    cmp_agg = &a;
    qsort(order, a.n, sizeof(uint32_t), counts_cmp);
    buf_putc(&b, '{');
    for (size_t i = 0, k = 0; i < a.n; i++) {
        const agg_ent_t *e = &a.ents[order[i]];
        uint64_t gen;
        size_t skip;
        /* hand-over marks are not words, 0 is absent, and the words of
         * another table or generation are not this table's */
        if (!cat_key_gen(agg_key(&a, e), e->len, &gen, &skip) || e->count == 0
            || gen != t.gen)
            continue;
        if (k++ > 0)
            buf_putc(&b, ',');
        json_str(&b, agg_key(&a, e) + skip, e->len - skip);
        buf_printf(&b, ":%llu", (unsigned long long) e->count);
    }
    buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    free(order);
    agg_free(&a);
    return CTL_OK;
}

static bool
parse_lsn(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = v;
    return true;
}

int
ctl_changelog(const ctl_opts_t *o, int argc, char **argv)
{
    uint64_t from = 0, to = UINT64_MAX;
    bool yes = false, json = o->json;
    const char *sub, *data, *table = "default";

    if (argc < 2) {
        ctl_err("usage: memdbctl log verify|print|truncate|counts DATA_DIR");
        return CTL_USAGE;
    }
    sub = argv[0];
    data = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0)
            yes = true;
        else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
            table = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc
                 && parse_lsn(argv[i + 1], &from))
            i++; /* NOLINT(bugprone-branch-clone): as --to does */
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc
                 && parse_lsn(argv[i + 1], &to))
            i++;
        else {
            ctl_err("log %s: unexpected argument \"%s\"", sub, argv[i]);
            return CTL_USAGE;
        }
    }
    if (access(data, R_OK | X_OK) != 0) {
        ctl_err("%s: %s", data, strerror(errno));
        return CTL_USAGE;
    }
    if (strcmp(sub, "verify") == 0)
        return log_verify(data);
    if (strcmp(sub, "print") == 0)
        return log_print(data, from, to, json);
    if (strcmp(sub, "truncate") == 0)
        return log_truncate(data, yes);
    if (strcmp(sub, "counts") == 0)
        return log_counts(data, table);
    ctl_err("log: unknown subcommand \"%s\" (verify, print, truncate, "
            "counts)",
            sub);
    return CTL_USAGE;
}
