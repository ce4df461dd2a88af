/*
 * faultapi.c - the fault-injection endpoint of a test build
 * (--enable-fault-injection; see src/core/fault.h and doc/testing.md):
 *
 *   POST /api/v1/admin/fault?point=P&action=A[&process=K][&skip=N][&count=N]
 *        arms point P (action "off" disarms it); 200 {"point", "armed"}
 *   GET  /api/v1/admin/fault
 *        every arming: point, action, process, hits, fired
 *
 * It is not part of the public API (swagger/openapi.yaml): builds without
 * fault injection answer 404, like any unknown path.
 */
#include "worker/wrk.h"
#include "src/core/fault.h"
#include "src/core/json.h"
#include "src/core/url.h"

#include <stdio.h>
#include <string.h>

static bool
key_is(const buf_t *k, const char *name)
{
    return k->len == strlen(name) && memcmp(k->data, name, k->len) == 0;
}

/* Copies a parameter value into out (NUL-terminated); false if too long. */
static bool
param_str(const buf_t *v, char *out, size_t outlen)
{
    if (v->len == 0 || v->len >= outlen)
        return false;
    memcpy(out, v->data, v->len);
    out[v->len] = '\0';
    return true;
}

static void
fault_list(conn_t *c)
{
    static const char *const actions[] = { "",     "kill",  "exit",
                                           "stop", "sleep", "error" };
    fault_tab_t *t = c->w->shm->faults;
    buf_t *b = &c->w->tmp;
    bool first = true;

    b->len = 0;
    buf_putc(b, '[');
    for (unsigned i = 0; i < FAULT_SLOTS; i++) {
        fault_slot_t *s = &t->slot[i];
        if (atomic_load(&s->state) != FAULT_ARMED)
            continue;
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_putc(b, '{');
        json_kv_str(b, "point", s->name, true);
        json_kv_str(b, "action",
                    s->action <= FAULT_ERROR ? actions[s->action] : "?",
                    false);
        json_kv_u64(b, "arg", s->arg, false);
        json_kv_u64(b, "procs", s->procs, false);
        json_kv_u64(b, "hits", atomic_load(&s->hits), false);
        json_kv_u64(b, "fired", atomic_load(&s->fired), false);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    resp_json(c, 200, b, NULL);
}

/* Reads the query into spec; answers 400 and returns false on a bad one. */
static bool
fault_query(conn_t *c, fault_spec_t *spec, char *action, size_t alen)
{
    char proc[16] = "any", err[160];
    const char *qs;
    size_t qlen;
    url_query_t q;
    buf_t k = { 0 }, v = { 0 };
    bool ok = true;
    uint64_t n;

    memset(spec, 0, sizeof(*spec));
    action[0] = '\0';
    route_query(c, &qs, &qlen);
    url_query_init(&q, qs, qlen);
    while (ok && url_query_next(&q, &k, &v) == MEMDB_OK) {
        if (key_is(&k, "point"))
            ok = param_str(&v, spec->name, sizeof(spec->name));
        else if (key_is(&k, "action"))
            ok = param_str(&v, action, alen);
        else if (key_is(&k, "process"))
            ok = param_str(&v, proc, sizeof(proc));
        else if (key_is(&k, "skip") || key_is(&k, "count")) {
            if ((ok = route_param_u64(c, "skip or count", &v, 0, 1000000, &n)))
                *(key_is(&k, "skip") ? &spec->skip : &spec->count) = n;
            else
                goto out; /* answered */
        } else
            ok = false;
    }
    if (ok && (spec->name[0] == '\0' || action[0] == '\0'))
        ok = false;
    if (!ok) {
        resp_error(c, 400,
                   "expected point=NAME&action=ACTION[&process=P]"
                   "[&skip=N][&count=N]");
        goto out;
    }
    if (strcmp(action, "off") != 0
        && fault_parse_action(spec, action, proc, err, sizeof(err))
               != MEMDB_OK) {
        resp_error(c, 400, err);
        ok = false;
    }
out:
    buf_free(&k);
    buf_free(&v);
    return ok;
}

void
faultapi_handle(conn_t *c)
{
    fault_tab_t *t = c->w->shm->faults;
    fault_spec_t spec;
    char action[32];
    buf_t *b = &c->w->tmp;
    bool off;

    if (c->parser.method != HTTP_POST) { /* GET or HEAD */
        fault_list(c);
        return;
    }
    if (!fault_query(c, &spec, action, sizeof(action)))
        return;
    off = strcmp(action, "off") == 0;
    if (off)
        fault_disarm(t, spec.name);
    else if (fault_arm(t, &spec) != MEMDB_OK) {
        resp_error(c, 409, "every fault slot is armed");
        return;
    }
    b->len = 0;
    buf_putc(b, '{');
    json_kv_str(b, "point", spec.name, true);
    json_key(b, "armed", false);
    buf_puts(b, off ? "false" : "true");
    buf_putc(b, '}');
    resp_json(c, 200, b, NULL);
}
