/* `loopguard report --html`'s timeline: when each loop thread was blocked
 * in a reported call or stalled, from the records' wall-clock times. A
 * blocking_call record opens a span that its blocking_end closes (the end
 * gives how long the call took, so the span starts at end - blocked: the
 * record itself was written before the call, maybe much earlier on the
 * first report, which waits for the symbolizer); a stall's begin opens one
 * its end closes (it started at end - stalled_ms). A span never closed (a
 * call that never returned, a log cut short) lasts until its process's
 * last record. Memory is bounded by SPANS_MAX and LANES_MAX. */
#include <stdlib.h>
#include <string.h>

#include "report-state.h"

static struct lane *lane_get(struct state *st, const struct lg__logrec *r)
{
    struct lane_key k;
    struct lane *l;
    memset(&k, 0, sizeof k);
    k.pid = r->pid;
    k.tid = r->tid;
    HASH_FIND(hh, st->lanes, &k, sizeof k, l);
    if (l)
        return l;
    if (st->nlanes == LANES_MAX) {
        st->lanes_more = 1;
        return NULL;
    }
    if (!(l = calloc(1, sizeof *l)))
        exit(EXIT_USAGE);
    l->key = k;
    l->open_call = l->open_stall = -1;
    l->order = st->nlanes++;
    lg__report_shown(l->name, sizeof l->name, r->thread);
    strcpy(l->loop, "unknown");
    HASH_ADD(hh, st->lanes, key, sizeof k, l);
    return l;
}

static struct span *span_add(struct state *st, struct lane *l)
{
    if (st->nspans == SPANS_MAX) {
        st->spans_more++;
        return NULL;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct span *v = realloc(l->spans, cap * sizeof *v);
        if (!v)
            exit(EXIT_USAGE);
        l->spans = v;
        l->cap = cap;
    }
    st->nspans++;
    struct span *s = &l->spans[l->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static void set_what(struct span *s, const char *what)
{
    lg__report_shown(s->what, sizeof s->what, what ? what : "?");
}

/* A log's milliseconds in ns: 0 when not a positive number, and no more
 * than a u64 holds (a log may say 1e300: converting that is undefined). */
static uint64_t ms_ns(const struct json *j)
{
    if (!json_is(j, JSON_NUMBER) || !(j->num > 0))
        return 0;
    double ns = j->num * 1e6;
    return ns < 9.2e18 ? (uint64_t)ns : (uint64_t)9.2e18;
}

/* Opens a span of kind at start, or closes the open one. */
static void span_open(struct state *st, struct lane *l, long *open,
                      enum span_kind kind, uint64_t start, uint64_t site,
                      const char *what)
{
    struct span *s = span_add(st, l);
    if (!s)
        return;
    s->kind = kind;
    s->start_ns = s->end_ns = start;
    s->open = 1;
    s->site = site;
    set_what(s, what);
    *open = (long)(l->n - 1);
}

/* The open span, or a new one for an end whose begin was not read. */
static void span_close(struct state *st, struct lane *l, long *open,
                       enum span_kind kind, uint64_t end, uint64_t took,
                       uint64_t site, const char *what)
{
    struct span *s = NULL;
    if (*open >= 0 && (kind != SPAN_CALL || l->spans[*open].site == site))
        s = &l->spans[*open];
    else if ((s = span_add(st, l))) {
        s->kind = kind;
        s->site = site;
        set_what(s, what);
    }
    *open = -1;
    if (!s)
        return;
    s->open = 0;
    s->end_ns = end;
    s->start_ns = end > took ? end - took : 0;
}

void lg__time_record(struct state *st, const struct lg__logrec *r)
{
    const struct json *root = r->root;
    uint64_t site = 0;
    if (!r->ts_ns)
        return;
    if (r->type != LG__LOGREC_BLOCKING && r->type != LG__LOGREC_BLOCKING_END
        && r->type != LG__LOGREC_STALL)
        return;
    struct lane *l = lane_get(st, r);
    if (!l)
        return;
    const char *kind = json_str(json_get(json_get(root, "loop"), "kind"));
    if (kind && strcmp(l->loop, "unknown") == 0)
        lg__report_shown(l->loop, sizeof l->loop, kind);
    json_hex(json_get(root, "site"), &site);
    const char *call = json_str(json_get(root, "call"));
    if (r->type == LG__LOGREC_BLOCKING) {
        span_open(st, l, &l->open_call, SPAN_CALL, r->ts_ns, site, call);
    } else if (r->type == LG__LOGREC_BLOCKING_END) {
        span_close(st, l, &l->open_call, SPAN_CALL, r->ts_ns,
                   ms_ns(json_get(root, "blocked_ms")), site, call);
    } else {
        uint64_t took = ms_ns(json_get(root, "stalled_ms"));
        const char *doing = call ? call : json_str(json_get(root, "doing"));
        if (strcmp(json_str(json_get(root, "phase")), "begin") == 0)
            span_open(st, l, &l->open_stall, SPAN_STALL,
                      r->ts_ns > took ? r->ts_ns - took : 0, 0, doing);
        else
            span_close(st, l, &l->open_stall, SPAN_STALL, r->ts_ns, took, 0,
                       doing);
    }
}

void lg__time_finish(struct state *st)
{
    struct lane *l, *tmp;
    HASH_ITER(hh, st->lanes, l, tmp) {
        struct proc *p;
        HASH_FIND(hh, st->procs, &l->key.pid, sizeof l->key.pid, p);
        for (size_t i = 0; i < l->n; i++) {
            struct span *s = &l->spans[i];
            if (s->open && p && p->last_ns > s->end_ns)
                s->end_ns = p->last_ns;
            if (s->start_ns && s->start_ns < st->t_min)
                st->t_min = s->start_ns;
            if (s->end_ns > st->t_max)
                st->t_max = s->end_ns;
        }
    }
}

void lg__time_free(struct state *st)
{
    struct lane *l, *tmp;
    HASH_ITER(hh, st->lanes, l, tmp) {
        HASH_DEL(st->lanes, l);
        free(l->spans);
        free(l);
    }
}
