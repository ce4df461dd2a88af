/*
 * mkseeds.c - writes the binary seed inputs of the fuzz targets with the
 * code that writes the real thing (make fuzz-seeds):
 *
 *   corpus/seg    change-log segments (seg_create + records)
 *   corpus/snap   snapshots (snap_writer)
 *   corpus/wire   gossip datagrams of every type (wire_encode)
 *   corpus/frame  replication frames of every type (frame_put_hdr)
 *   corpus/rec    change records
 *
 *   mkseeds CORPUS_DIR
 */
#include "src/changelog/rec.h"
#include "src/changelog/seg.h"
#include "src/changelog/snap.h"
#include "src/core/util.h"
#include "replicator/auth.h"
#include "replicator/frame.h"
#include "replicator/wire.h"
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *top;

static void
die(const char *what)
{
    fprintf(stderr, "mkseeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
put(const char *target, const char *name, const void *p, size_t n)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", top, target);
    (void) util_mkdir_p(path);
    snprintf(path, sizeof(path), "%s/%s/seed-%s", top, target, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || util_write_all(fd, p, n) != MEMDB_OK || close(fd) < 0)
        die(path);
}

/* A file made by the code in a temp dir, copied into the corpus. */
static void
put_file(const char *target, const char *name, const char *src)
{
    buf_t b = { 0 };
    char tmp[65536];
    ssize_t n;
    int fd = open(src, O_RDONLY);

    if (fd < 0)
        die(src);
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        buf_append(&b, tmp, (size_t) n);
    close(fd);
    put(target, name, b.data, b.len);
    buf_free(&b);
}

static void
record(buf_t *b, uint16_t type, uint64_t lsn, const char *const *words,
       size_t n)
{
    rec_begin(b, type);
    for (size_t i = 0; i < n; i++)
        rec_add(b, words[i], strlen(words[i]), 1 + i % 3);
    /* a handed-over record keeps the place it was first given */
    if (type == REC_MERGE)
        rec_set_origin(b->data, 0x3333, 1, 2);
    else
        rec_set_origin(b->data, 0x1111, 0, 0);
    rec_finish(b->data, lsn, 1);
}

static const char *const words1[] = { "the", "cat", "and", "the", "hat" };
static const char *const words2[] = { "caf\xc3\xa9", "na\xc3\xafve",
                                      "\342\202\2545", "a" };
static const char *const words3[] = { "x" };

static void
seeds_rec(void)
{
    buf_t b = { 0 };

    record(&b, REC_UPLOAD, 1, words1, 5);
    put("rec", "upload", b.data, b.len);
    record(&b, REC_UPLOAD, 7, words2, 4);
    put("rec", "utf8", b.data, b.len);
    record(&b, REC_NOOP, 3, NULL, 0);
    put("rec", "noop", b.data, b.len);
    record(&b, REC_MERGE, 9, words3, 1);
    put("rec", "merge", b.data, b.len);
    /* an upload sent with an Idempotency-Key: the key block first */
    rec_begin(&b, REC_UPLOAD);
    rec_set_idem(&b, &(rec_idem_t) { .key = { 1, 2 },
                                     .body = { 3, 4 },
                                     .time_ms = 1796000000000ULL,
                                     .words = 5,
                                     .distinct = 4 });
    for (size_t i = 0; i < 5; i++)
        rec_add(&b, words1[i], strlen(words1[i]), 1);
    rec_set_origin(b.data, 0x1111, 0, 0);
    rec_finish(b.data, 11, 1);
    put("rec", "keyed", b.data, b.len);
    /* a retract in a table, and a table's creation */
    rec_begin(&b, REC_RETRACT);
    rec_set_table(&b, 0x77);
    rec_add(&b, "cat", 3, 2);
    rec_set_origin(b.data, 0x1111, 0, 0);
    rec_finish(b.data, 12, 1);
    put("rec", "retract", b.data, b.len);
    rec_begin(&b, REC_TABLE_CREATE);
    rec_set_table(&b, 0x77);
    rec_set_table_op(&b, "t1", 2, "\1\0\0", 3, 1796000000000ULL);
    rec_set_origin(b.data, 0x1111, 0, 0);
    rec_finish(b.data, 13, 1);
    put("rec", "create", b.data, b.len);
    buf_free(&b);
}

static void
seeds_seg(const char *dir)
{
    buf_t b = { 0 };
    seg_info_t *segs;
    int fd, n;
    char name[64];

    fd = seg_create(dir, 1, 1);
    if (fd < 0)
        die("seg_create");
    record(&b, REC_UPLOAD, 1, words1, 5);
    (void) util_write_all(fd, b.data, b.len);
    record(&b, REC_UPLOAD, 2, words2, 4);
    (void) util_write_all(fd, b.data, b.len);
    record(&b, REC_NOOP, 3, NULL, 0);
    (void) util_write_all(fd, b.data, b.len);
    close(fd);
    fd = seg_create(dir, 4, 2); /* header only */
    close(fd);
    fd = seg_create(dir, 5, 2); /* with a torn, zeroed tail */
    record(&b, REC_MERGE, 5, words3, 1);
    (void) util_write_all(fd, b.data, b.len);
    memset(b.data, 0, b.len);
    (void) util_write_all(fd, b.data, 32);
    close(fd);
    n = seg_list(dir, &segs);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%llu.seg",
                 (unsigned long long) segs[i].first_lsn);
        put_file("seg", name, segs[i].path);
    }
    free(segs);
    buf_free(&b);
}

static void
seeds_snap(const char *dir)
{
    snap_writer_t w;
    snap_info_t *snaps;
    char name[64];
    int n;

    if (snap_writer_open(&w, dir, 5, 1) != MEMDB_OK)
        die("snap_writer_open");
    if (snap_writer_add(&w, "a", 1, 3) != MEMDB_OK
        || snap_writer_add(&w, "and", 3, 1) != MEMDB_OK
        || snap_writer_add(&w, "caf\xc3\xa9", 5, 7) != MEMDB_OK
        || snap_writer_add(&w, "cat", 3, 2) != MEMDB_OK
        || snap_writer_add(&w, "the", 3, 1000000) != MEMDB_OK
        || snap_writer_commit(&w) != MEMDB_OK)
        die("snap_writer_commit");
    if (snap_writer_open(&w, dir, 6, 1) != MEMDB_OK
        || snap_writer_commit(&w) != MEMDB_OK) /* empty table */
        die("snap_writer");
    n = snap_list(dir, &snaps);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%llu.snap",
                 (unsigned long long) snaps[i].lsn);
        put_file("snap", name, snaps[i].path);
    }
    free(snaps);
}

static void
member(gsp_member_t *m, const char *id, int port, uint8_t role)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->gossip, sizeof(m->gossip), "127.0.0.1:%d", port);
    snprintf(m->repl, sizeof(m->repl), "127.0.0.1:%d", port + 1);
    snprintf(m->http, sizeof(m->http), "[::1]:%d", port + 2);
    m->role = role;
    m->state = MS_ALIVE;
    m->epoch = 3;
    m->lsn = 42;
    m->incarnation = 1700000000000ULL;
}

static void
seeds_wire(void)
{
    static const char *names[] = { "",         "ping",     "ack",
                                   "ping_req", "sync_req", "sync",
                                   "vote_req", "vote",     "timeout_now",
                                   "forget" };
    unsigned char out[GSP_MAX];
    gsp_msg_t m;

    for (int t = GSP_PING; t <= GSP_TYPE_MAX; t++) {
        memset(&m, 0, sizeof(m));
        m.hdr.type = (uint8_t) t;
        m.hdr.seq = 7;
        m.hdr.time_ms = 1700000000000ULL;
        m.hdr.boot = 1700000000001ULL;
        m.hdr.msg_id = 99;
        member(&m.from, "n1", 7001, ROLE_LEADER);
        member(&m.target, "n3", 7021, ROLE_REPLICA);
        m.vreq.epoch = 4;
        m.vreq.last_epoch = 3;
        m.vreq.last_lsn = 42;
        m.vote.epoch = 4;
        m.vote.granted = 1;
        if (t == GSP_SYNC || t == GSP_PING) {
            m.nupd = 2;
            member(&m.upd[0], "n2", 7011, ROLE_REPLICA);
            member(&m.upd[1], "node-3.example", 7021, ROLE_REPLICA);
            snprintf(m.upd[1].gossip, sizeof(m.upd[1].gossip),
                     "db3.example.com:7021");
        }
        memset(out, 0, sizeof(out));
        put("wire", names[t], out, wire_encode(&m, out));
        if (t == GSP_PING) { /* signed: room for the MAC */
            m.hdr.flags = GSP_F_AUTH;
            memset(out, 0, sizeof(out));
            put("wire", "ping-auth", out, wire_encode(&m, out));
        }
    }
}

static void
frame(const char *name, uint8_t type, const void *p, size_t n)
{
    buf_t b = { 0 };

    frame_put_hdr(&b, type, 0, (uint32_t) n, 1);
    if (n > 0)
        buf_append(&b, p, n);
    put("frame", name, b.data, b.len);
    buf_free(&b);
}

static void
seeds_frame(void)
{
    buf_t b = { 0 }, r = { 0 };
    frame_challenge_t ch;
    frame_hello_t he;
    frame_welcome_t we;
    frame_hist_t hist[2] = { { 1, 1, 0x1111 }, { 2, 40, 0x2222 } };
    frame_snap_t sn = { 5, 1, 1234 };
    frame_ack_t ack = { 41, 42, 40 };
    frame_merge_t mg;
    uint64_t end = 1234;

    memset(&ch, 0xab, sizeof(ch));
    frame("challenge", FR_CHALLENGE, &ch, sizeof(ch));

    memset(&he, 0, sizeof(he));
    snprintf(he.id, sizeof(he.id), "n2");
    memset(he.nonce, 0x5a, sizeof(he.nonce));
    he.epoch = 2;
    he.last_lsn = 42;
    he.nhist = 2;
    buf_append(&b, &he, sizeof(he));
    buf_append(&b, hist, sizeof(hist));
    frame("hello", FR_HELLO, b.data, b.len);

    b.len = 0;
    memset(&we, 0, sizeof(we));
    we.mode = FR_MODE_PARTIAL;
    we.from_lsn = 43;
    we.fork_lsn = 42;
    we.epoch = 2;
    we.nhist = 2;
    snprintf(we.cluster, sizeof(we.cluster),
             "f4ec9772f8afbc93a4e6bd81bc2a4cb3");
    buf_append(&b, &we, sizeof(we));
    buf_append(&b, hist, sizeof(hist));
    frame("welcome", FR_WELCOME, b.data, b.len);

    frame("snap_begin", FR_SNAP_BEGIN, &sn, sizeof(sn));
    frame("snap_data", FR_SNAP_DATA, "MDBSNAP1....", 12);
    frame("snap_end", FR_SNAP_END, &end, sizeof(end));

    b.len = 0;
    record(&r, REC_UPLOAD, 43, words1, 5);
    buf_append(&b, r.data, r.len);
    record(&r, REC_UPLOAD, 44, words2, 4);
    buf_append(&b, r.data, r.len);
    record(&r, REC_NOOP, 45, NULL, 0);
    buf_append(&b, r.data, r.len);
    frame("records", FR_RECORDS, b.data, b.len);

    frame("ack", FR_ACK, &ack, sizeof(ack));

    b.len = 0;
    memset(&mg, 0, sizeof(mg));
    mg.seq = 3;
    mg.nrecords = 2;
    buf_append(&b, &mg, sizeof(mg));
    record(&r, REC_UPLOAD, 7452, words1, 5);
    buf_append(&b, r.data, r.len);
    record(&r, REC_UPLOAD, 7453, words3, 1);
    buf_append(&b, r.data, r.len);
    frame("merge", FR_MERGE, b.data, b.len);
    mg.nrecords = 1;
    frame("merged", FR_MERGED, &mg, sizeof(mg));

    frame("error", FR_ERROR, "history diverged", 16);
    frame("ping", FR_PING, NULL, 0);
    buf_free(&b);
    buf_free(&r);
}

int
main(int argc, char **argv)
{
    char tmp[] = "/tmp/memdb-mkseeds-XXXXXX", sub[64];

    if (argc != 2) {
        fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
        return 2;
    }
    top = argv[1];
    if (mkdtemp(tmp) == NULL)
        die("mkdtemp");
    seeds_rec();
    snprintf(sub, sizeof(sub), "%s/log", tmp);
    (void) util_mkdir_p(sub);
    seeds_seg(sub);
    snprintf(sub, sizeof(sub), "%s/snap", tmp);
    (void) util_mkdir_p(sub);
    seeds_snap(sub);
    seeds_wire();
    seeds_frame();
    snprintf(sub, sizeof(sub), "rm -rf '%s'", tmp);
    return system(sub) == 0 ? 0 : 1;
}
