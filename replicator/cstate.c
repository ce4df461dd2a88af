/*
 * cstate.c - the cluster state file (see cstate.h).
 */
#include "replicator/cstate.h"
#include "src/core/fault.h"
#include "src/core/buf.h"
#include "src/core/log.h"
#include "src/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

static int
cs_fail(char *err, size_t errlen, const char *path, int line, const char *what)
{
    /* Not "remove the file": the log would then stay without the history
     * that says which of its records came from the cluster, and they
     * would be handed over again as this node's own. */
    snprintf(err, errlen,
             "%s:%d: %s (to start the node as a new member, empty its "
             "data directory: its data come back from the cluster)",
             path, line, what);
    return MEMDB_ERR;
}

static int
cs_parse_line(cstate_t *cs, char *l)
{
    char a[128], b[128];
    unsigned long long x, y, z = 0;

    if (sscanf(l, "cluster %32s", cs->cluster) == 1)
        return MEMDB_OK;
    if (sscanf(l, "epoch %llu", &x) == 1) {
        cs->epoch = x;
        return MEMDB_OK;
    }
    if (sscanf(l, "boot %llu", &x) == 1) {
        cs->boot = x;
        return MEMDB_OK;
    }
    if (sscanf(l, "voted %llu %63s", &x, a) == 2) {
        cs->voted_epoch = x;
        snprintf(cs->voted_for, sizeof(cs->voted_for), "%.63s", a);
        return MEMDB_OK;
    }
    if (sscanf(l, "history %llu %llu %llx", &x, &y, &z) >= 2
        && cs->nhist < CS_MAX_HIST
        && (cs->nhist == 0
            || (x > cs->hist[cs->nhist - 1].epoch
                && y > cs->hist[cs->nhist - 1].start_lsn))) {
        cs->hist[cs->nhist].epoch = x;
        cs->hist[cs->nhist].boot = z;
        cs->hist[cs->nhist++].start_lsn = y;
        return MEMDB_OK;
    }
    if (sscanf(l, "member %63s %47s", a, b) == 2
        && cs->nmembers < CS_MAX_MEMBERS) {
        cstate_member_set(cs, a, b);
        return MEMDB_OK;
    }
    if (strcmp(l, "syncing\n") == 0) {
        cs->syncing = true;
        return MEMDB_OK;
    }
    if (sscanf(l, "forgot %63s", a) == 1 && cs->nforgot < CS_MAX_MEMBERS) {
        cstate_forget(cs, a);
        return MEMDB_OK;
    }
    return MEMDB_ERR;
}

int
cstate_load(cstate_t *cs, const char *data_dir, char *err, size_t errlen)
{
    FILE *f;
    char line[512];
    int n = 0;
    XXH3_state_t *st;
    bool summed = false;

    memset(cs, 0, sizeof(*cs));
    snprintf(cs->dir, sizeof(cs->dir), "%.1000s/cluster", data_dir);
    snprintf(cs->path, sizeof(cs->path), "%.1000s/cluster/state", data_dir);
    f = fopen(cs->path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return MEMDB_OK;
        snprintf(err, errlen, "%s: %s", cs->path, strerror(errno));
        return MEMDB_ERR;
    }
    st = XXH3_createState();
    XXH3_64bits_reset(st);
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long sum;
        n++;
        if (summed) {
            fclose(f);
            XXH3_freeState(st);
            return cs_fail(err, errlen, cs->path, n,
                           "a line after the checksum line");
        }
        if (sscanf(line, "sum %llx", &sum) == 1) {
            summed = XXH3_64bits_digest(st) == sum;
            if (!summed) {
                fclose(f);
                XXH3_freeState(st);
                return cs_fail(err, errlen, cs->path, n, "checksum mismatch");
            }
            continue;
        }
        XXH3_64bits_update(st, line, strlen(line));
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (cs_parse_line(cs, line) != MEMDB_OK) {
            fclose(f);
            XXH3_freeState(st);
            return cs_fail(err, errlen, cs->path, n, "unreadable line");
        }
    }
    fclose(f);
    XXH3_freeState(st);
    if (!summed)
        return cs_fail(err, errlen, cs->path, n, "no checksum line");
    return MEMDB_OK;
}

int
cstate_save(cstate_t *cs)
{
    char tmp[1200];
    buf_t b = { 0 };
    int fd, rc = MEMDB_ERR;

    buf_printf(&b, "# memdb cluster state: written by memdbd, do not edit\n");
    if (cs->cluster[0])
        buf_printf(&b, "cluster %s\n", cs->cluster);
    buf_printf(&b, "epoch %" PRIu64 "\n", cs->epoch);
    if (cs->boot)
        buf_printf(&b, "boot %" PRIu64 "\n", cs->boot);
    if (cs->voted_for[0])
        buf_printf(&b, "voted %" PRIu64 " %s\n", cs->voted_epoch,
                   cs->voted_for);
    for (int i = 0; i < cs->nhist; i++)
        buf_printf(&b, "history %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n",
                   cs->hist[i].epoch, cs->hist[i].start_lsn, cs->hist[i].boot);
    for (int i = 0; i < cs->nmembers; i++)
        buf_printf(&b, "member %s %s\n", cs->members[i].id,
                   cs->members[i].gossip);
    for (int i = 0; i < cs->nforgot; i++)
        buf_printf(&b, "forgot %s\n", cs->forgot[i]);
    if (cs->syncing)
        buf_printf(&b, "syncing\n");
    buf_printf(&b, "sum %016llx\n",
               (unsigned long long) XXH3_64bits(b.data, b.len));
    int e = FAULT("cstate.save"); /* error: a full or failing disk */
    if (e != 0) {
        errno = e;
        log_errno("writing %s failed", cs->path);
        goto out;
    }

    snprintf(tmp, sizeof(tmp), "%s.tmp", cs->path);
    if (util_mkdir_p(cs->dir) != MEMDB_OK) {
        log_errno("mkdir(%s) failed", cs->dir);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_errno("open(%s) failed", tmp);
        goto out;
    }
    if (util_write_all(fd, b.data, b.len) != MEMDB_OK || fsync(fd) < 0) {
        log_errno("writing %s failed", tmp);
        close(fd);
        goto out;
    }
    close(fd);
    if (rename(tmp, cs->path) < 0 || util_fsync_dir(cs->dir) != MEMDB_OK) {
        log_errno("rename(%s) failed", tmp);
        goto out;
    }
    rc = MEMDB_OK;
out:
    buf_free(&b);
    return rc;
}

const frame_hist_t *
cstate_hist_at(const frame_hist_t *h, int n, uint64_t lsn)
{
    const frame_hist_t *e = NULL;

    for (int i = 0; i < n && h[i].start_lsn <= lsn; i++)
        e = &h[i];
    return e;
}

bool
cstate_syncing(const char *data_dir)
{
    static cstate_t cs; /* large: not on the stack */
    char err[256];

    return cstate_load(&cs, data_dir, err, sizeof(err)) == MEMDB_OK
           && cs.syncing;
}

uint64_t
cstate_epoch_at(const frame_hist_t *h, int n, uint64_t lsn)
{
    const frame_hist_t *e = cstate_hist_at(h, n, lsn);

    return e != NULL ? e->epoch : 0;
}

const frame_hist_t *
cstate_hist_find(const frame_hist_t *h, int n, uint64_t epoch, uint64_t boot,
                 uint64_t *end)
{
    for (int i = 0; i < n; i++) {
        if (h[i].epoch != epoch || h[i].boot != boot)
            continue;
        *end = i + 1 < n ? h[i + 1].start_lsn - 1 : UINT64_MAX;
        return &h[i];
    }
    return NULL;
}

void
cstate_hist_add(cstate_t *cs, uint64_t epoch, uint64_t start_lsn,
                uint64_t boot)
{
    while (cs->nhist > 0 && cs->hist[cs->nhist - 1].start_lsn >= start_lsn)
        cs->nhist--;
    if (cs->nhist > 0 && cs->hist[cs->nhist - 1].epoch >= epoch)
        return; /* the log does not enter a new epoch */
    if (cs->nhist == CS_MAX_HIST) {
        memmove(&cs->hist[0], &cs->hist[1],
                sizeof(cs->hist[0]) * (CS_MAX_HIST - 1));
        cs->nhist--;
    }
    cs->hist[cs->nhist].epoch = epoch;
    cs->hist[cs->nhist].boot = boot;
    cs->hist[cs->nhist++].start_lsn = start_lsn;
}

/* Do two histories name the same (epoch, leader) for the record at x? */
static bool
hist_agree(const frame_hist_t *a, int na, const frame_hist_t *b, int nb,
           uint64_t x)
{
    const frame_hist_t *ea = cstate_hist_at(a, na, x);
    const frame_hist_t *eb = cstate_hist_at(b, nb, x);

    if (ea == NULL || eb == NULL)
        return ea == eb;
    return ea->epoch == eb->epoch && ea->boot == eb->boot;
}

uint64_t
cstate_fork(const frame_hist_t *a, int na, uint64_t last_a,
            const frame_hist_t *b, int nb, uint64_t last_b)
{
    uint64_t limit = MEMDB_MIN(last_a, last_b), first_diff = UINT64_MAX;

    /* Epochs change only at history boundaries: the first boundary (of
     * either history) where the (epoch, leader) differ is where the logs
     * part. */
    for (int i = 0; i < na + nb; i++) {
        uint64_t x = i < na ? a[i].start_lsn : b[i - na].start_lsn;
        if (x < first_diff && !hist_agree(a, na, b, nb, x))
            first_diff = x;
    }
    if (!hist_agree(a, na, b, nb, 1))
        first_diff = 1;
    if (first_diff == UINT64_MAX || first_diff > limit)
        return limit;
    return first_diff - 1;
}

void
cstate_member_set(cstate_t *cs, const char *id, const char *gossip)
{
    int i;

    for (i = 0; i < cs->nmembers; i++)
        if (strcmp(cs->members[i].id, id) == 0)
            break;
    if (i == cs->nmembers) {
        if (cs->nmembers == CS_MAX_MEMBERS)
            return;
        cs->nmembers++;
    }
    snprintf(cs->members[i].id, CS_ID, "%s", id);
    snprintf(cs->members[i].gossip, CS_ADDR, "%s", gossip);
}

static void
cstate_member_del(cstate_t *cs, const char *id)
{
    for (int i = 0; i < cs->nmembers; i++) {
        if (strcmp(cs->members[i].id, id) == 0) {
            cs->members[i] = cs->members[--cs->nmembers];
            return;
        }
    }
}

bool
cstate_forgotten(const cstate_t *cs, const char *id)
{
    for (int i = 0; i < cs->nforgot; i++)
        if (strcmp(cs->forgot[i], id) == 0)
            return true;
    return false;
}

void
cstate_forget(cstate_t *cs, const char *id)
{
    cstate_member_del(cs, id);
    if (cstate_forgotten(cs, id) || cs->nforgot == CS_MAX_MEMBERS)
        return;
    snprintf(cs->forgot[cs->nforgot++], CS_ID, "%s", id);
}

void
cstate_new_cluster_id(cstate_t *cs)
{
    unsigned char r[16];

    if (getrandom(r, sizeof(r), 0) != (ssize_t) sizeof(r)) {
        uint64_t t = util_now_ns() ^ (uint64_t) getpid();
        memcpy(r, &t, 8);
        memcpy(r + 8, &t, 8);
    }
    for (int i = 0; i < 16; i++)
        snprintf(cs->cluster + 2 * i, 3, "%02x", r[i]);
}
