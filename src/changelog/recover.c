/*
 * recover.c - start-up recovery (see recover.h).
 */
#include "src/changelog/recover.h"
#include "src/changelog/apply.h"
#include "src/changelog/clogrd.h"
#include "src/core/log.h"
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
recover_dirs(const char *data_dir, char *log_dir, char *snap_dir, size_t len)
{
    snprintf(log_dir, len, "%s/log", data_dir);
    snprintf(snap_dir, len, "%s/snap", data_dir);
}

/* Loads one snapshot; on failure the table may hold part of it. */
static int
load_snapshot(recover_sink_t *s, const char *path, recover_stats_t *st,
              char *err, size_t errlen)
{
    snap_reader_t r;
    const char *w;
    size_t len;
    uint64_t count;
    int rc;

    if (snap_open(&r, path, err, errlen) != MEMDB_OK)
        return MEMDB_ERR;
    if (snap_catalog(&r, s->cat, err, errlen) != MEMDB_OK) {
        snap_close(&r);
        return MEMDB_ERR;
    }
    for (size_t i = 0; s->key != NULL && i < r.nkeys; i++) {
        snap_key_t k = snap_key(&r, i);
        s->key(s->arg, &k.id, k.lsn);
    }
    while ((rc = snap_next(&r, &w, &len, &count, err, errlen)) == MEMDB_OK) {
        if (s->add(s->arg, w, len, count) != MEMDB_OK) {
            snprintf(err, errlen,
                     "%s: store.max_memory too small for the "
                     "snapshot",
                     path);
            rc = MEMDB_ERR;
            break;
        }
    }
    if (rc == MEMDB_AGAIN && s->flush != NULL
        && s->flush(s->arg) != MEMDB_OK) {
        snprintf(err, errlen,
                 "%s: store.max_memory too small for the "
                 "snapshot",
                 path);
        rc = MEMDB_ERR;
    }
    if (rc == MEMDB_AGAIN) {
        st->snap_lsn = r.hdr.lsn;
        st->last_lsn = r.hdr.lsn;
        st->last_epoch = r.hdr.epoch;
        st->snap_words = r.nwords;
        snprintf(st->snap_path, sizeof(st->snap_path), "%s", path);
        rc = MEMDB_OK;
    }
    snap_close(&r);
    return rc;
}

static int
load_snapshots(recover_sink_t *s, const char *snap_dir, recover_stats_t *st,
               char *err, size_t errlen)
{
    snap_info_t *v;
    int n = snap_list(snap_dir, &v);

    if (n < 0) {
        snprintf(err, errlen, "%s: cannot list: %s", snap_dir,
                 strerror(errno));
        return MEMDB_ERR;
    }
    for (int i = 0; i < n; i++) {
        if (load_snapshot(s, v[i].path, st, err, errlen) == MEMDB_OK)
            break;
        log_warn("skipping snapshot: %s", err);
        s->clear(s->arg);
        cat_reset(s->cat);
        cat_loaded(s->cat);
        err[0] = '\0';
    }
    free(v);
    return MEMDB_OK;
}

static int
replay_record(recover_sink_t *s, const void *rec, recover_stats_t *st)
{
    rec_hdr_t hc; /* rec may be unaligned */
    const rec_hdr_t *h = memcpy(&hc, rec, sizeof(hc));
    rec_idem_t id;
    int rc = apply_words(s->cat, rec, s->add, s->arg);

    if (rc == MEMDB_ERR)
        return MEMDB_ERR;
    if (rc == MEMDB_NOENT)
        log_warn("record lsn %llu counts in a table the log never created: "
                 "its words are left out",
                 (unsigned long long) h->lsn);
    if (s->key != NULL && rec_idem(rec, &id))
        s->key(s->arg, &id, h->lsn);
    st->last_lsn = h->lsn;
    st->last_epoch = h->epoch;
    st->records++;
    return MEMDB_OK;
}

/* Replays one segment from LSN *next on, stopping before LSN stop. */
/* What recovery does with a torn tail: cut it off (repair), or leave it
 * and report it (memdbctl log counts). */
static int
replay_torn(recover_sink_t *s, const clogrd_t *rd, recover_stats_t *st,
            char *err, size_t errlen)
{
    if (s->repair && rd->torn_file) {
        log_warn("%s: removing a segment cut off while it was created",
                 rd->path);
        unlink(rd->path);
        return MEMDB_OK;
    }
    if (rd->torn_file)
        return MEMDB_OK;
    st->truncated_off = rd->off;
    snprintf(st->truncated, sizeof(st->truncated), "%s", rd->path);
    if (!s->repair)
        return MEMDB_OK; /* reported, left in place */
    log_warn("%s, cutting it off", rd->err);
    if (truncate(rd->path, (off_t) rd->off) < 0) {
        snprintf(err, errlen,
                 "%s: cannot cut the torn tail: truncate() "
                 "failed: %s",
                 rd->path, strerror(errno));
        return MEMDB_ERR;
    }
    return MEMDB_OK;
}

/* Replays every record after the snapshot (clogrd.h has the rules): a gap
 * or damage stops the start, a torn tail is cut. */
static int
replay_segments(recover_sink_t *s, const char *log_dir, recover_stats_t *st,
                char *err, size_t errlen)
{
    clogrd_t rd;
    const void *rec;
    uint32_t len;
    clogrd_e e;
    int rc = MEMDB_OK;

    if (clogrd_open(&rd, log_dir, st->last_lsn + 1, UINT64_MAX) != MEMDB_OK) {
        snprintf(err, errlen, "%s", rd.err);
        return MEMDB_ERR;
    }
    while ((e = clogrd_next(&rd, &rec, &len)) == CLOGRD_REC) {
        if (replay_record(s, rec, st) != MEMDB_OK) {
            snprintf(err, errlen,
                     "%s: store.max_memory too small to replay the log",
                     rd.rd.path);
            rc = MEMDB_ERR;
            break;
        }
    }
    if (rc == MEMDB_OK && e == CLOGRD_TORN)
        rc = replay_torn(s, &rd, st, err, errlen);
    else if (rc == MEMDB_OK && e == CLOGRD_GAP) {
        snprintf(err, errlen, "%s (see memdbctl log verify)", rd.err);
        rc = MEMDB_ERR;
    } else if (rc == MEMDB_OK && e != CLOGRD_END) {
        snprintf(err, errlen,
                 "%s; the log is damaged: check it with `memdbctl log "
                 "verify` and cut it with `memdbctl log truncate`",
                 rd.err);
        rc = MEMDB_ERR;
    }
    clogrd_close(&rd);
    return rc;
}

int
recover_run(const char *data_dir, recover_sink_t *s, recover_stats_t *st,
            char *err, size_t errlen)
{
    char log_dir[1100], snap_dir[1100];
    uint64_t t0 = util_now_ms();

    recover_sink_t with = *s; /* a private catalog when s has none */
    cat_t own;
    int rc;

    memset(st, 0, sizeof(*st));
    err[0] = '\0';
    recover_dirs(data_dir, log_dir, snap_dir, sizeof(log_dir));
    if (with.cat == NULL) {
        cat_private(&own, CAT_MAX_TABLES);
        with.cat = &own;
    }
    rc = load_snapshots(&with, snap_dir, st, err, errlen) != MEMDB_OK
                 || replay_segments(&with, log_dir, st, err, errlen)
                        != MEMDB_OK
             ? MEMDB_ERR
             : MEMDB_OK;
    if (s->cat == NULL)
        cat_private_free(&own);
    if (rc != MEMDB_OK)
        return MEMDB_ERR;
    if (s->flush != NULL && s->flush(s->arg) != MEMDB_OK) {
        snprintf(err, errlen,
                 "%s: store.max_memory too small to replay the "
                 "log",
                 log_dir);
        return MEMDB_ERR;
    }
    st->ms = util_now_ms() - t0;
    return MEMDB_OK;
}
