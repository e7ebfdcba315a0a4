/* `loopguard report FILE...`, reading: the records of many JSON-lines logs
 * (a process tree's lg.%p.jsonl) gathered per site, whatever process it
 * was in, and per kind of event, within the caps of report-state.h.
 * report-print.c ranks and prints them; docs/launcher.md, "loopguard
 * report", is the user's page. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lg-internal.h"
#include "report.h"
#include "report-state.h"

char *lg__report_dup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("loopguard: out of memory\n", stderr);
        exit(EXIT_USAGE);
    }
    return d;
}

static void set_add(struct strset *s, const char *v)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return;
    if (s->n == SET_MAX)
        s->more = 1;
    else
        s->v[s->n++] = lg__report_dup(v);
}

void lg__report_set_free(struct strset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
}

void lg__report_shown(char *out, size_t cap, const char *s)
{
    struct lg__buf b;
    lg__buf_init(&b, out, cap);
    lg__buf_printable(&b, s, strnlen(s, cap - 1));
    out[b.len < cap ? b.len : cap - 1] = '\0';
}

char *lg__report_stack_text(const struct json *stack, uint64_t ts_ns)
{
    static char mem[STACK_MAX];
    struct lg__buf b;
    lg__buf_init(&b, mem, sizeof mem);
    lg__logrec_stack(&b, stack, ts_ns);
    mem[b.len < sizeof mem ? b.len : sizeof mem - 1] = '\0';
    return lg__report_dup(mem);
}

static void note_proc(struct state *st, int64_t pid, uint64_t ts_ns)
{
    struct proc *p;
    HASH_FIND(hh, st->procs, &pid, sizeof pid, p);
    if (p) {
        if (ts_ns > p->last_ns)
            p->last_ns = ts_ns;
        return;
    }
    if (st->nprocs == PROCS_MAX) {
        st->procs_more = 1;
        return;
    }
    if (!(p = calloc(1, sizeof *p)))
        exit(EXIT_USAGE);
    p->pid = pid;
    p->last_ns = ts_ns;
    HASH_ADD(hh, st->procs, pid, sizeof pid, p);
    st->nprocs++;
}

/* The site's entry, made if there is room; NULL past SITES_MAX. */
static struct site *site_get(struct state *st, uint64_t key, const char *call)
{
    struct site *s;
    HASH_FIND(hh, st->sites, &key, sizeof key, s);
    if (s || st->nsites == SITES_MAX)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        exit(EXIT_USAGE);
    s->key = key;
    s->order = st->nsites++;
    lg__report_shown(s->call, sizeof s->call, call ? call : "?");
    HASH_ADD(hh, st->sites, key, sizeof key, s);
    return s;
}

/* The (site, pid) counts; NULL past PAIRS_MAX, when the caller adds to the
 * site's extra counts instead. */
static struct pair *pair_get(struct state *st, struct site *s, int64_t pid)
{
    struct pair_key k;
    struct pair *p;
    memset(&k, 0, sizeof k);    /* the padding is hashed too */
    k.site = s->key;
    k.pid = pid;
    HASH_FIND(hh, st->pairs, &k, sizeof k, p);
    if (p)
        return p;
    if (st->npairs == PAIRS_MAX) {
        s->procs_more = 1;
        return NULL;
    }
    if (!(p = calloc(1, sizeof *p)))
        exit(EXIT_USAGE);
    p->key = k;
    p->site = s;
    HASH_ADD(hh, st->pairs, key, sizeof k, p);
    st->npairs++;
    if (s->nprocs < SET_MAX)
        s->pids[s->nprocs] = pid;
    s->nprocs++;
    return p;
}

static void on_blocking(struct state *st, const struct lg__logrec *r)
{
    uint64_t key;
    char name[NAME_MAX_SHOWN];
    json_hex(json_get(r->root, "site"), &key);
    struct site *s = site_get(st, key, json_str(json_get(r->root, "call")));
    if (!s) {
        st->rest_records++;
        return;
    }
    struct pair *p = pair_get(st, s, r->pid);
    if (p)
        p->records++;
    else
        s->extra_count++;
    lg__report_shown(name, sizeof name, r->thread);
    set_add(&s->threads, name);
    const char *kind = json_str(json_get(json_get(r->root, "loop"), "kind"));
    lg__report_shown(name, sizeof name, kind ? kind : "unknown");
    set_add(&s->loops, name);
    if (!s->stack || s->stack_where) {
        free(s->stack);
        s->stack = lg__report_stack_text(json_get(r->root, "stack"),
                                         r->ts_ns);
        s->stack_where = 0;
        const struct json *ls = json_get(r->root, "loop_stack");
        free(s->loop_stack);
        s->loop_stack = json_count(ls) ? lg__report_stack_text(ls, r->ts_ns)
                                       : NULL;
    }
}

static void on_summary(struct state *st, const struct lg__logrec *r)
{
    const struct json *sites = json_get(r->root, "sites");
    for (size_t i = 0; i < json_count(sites); i++) {
        const struct json *e = json_at(sites, i), *where;
        uint64_t key, count, ns;
        if (!json_hex(json_get(e, "site"), &key) ||
            !json_u64(json_get(e, "count"), &count) ||
            !json_u64(json_get(e, "blocked_ns"), &ns))
            continue;
        struct site *s = site_get(st, key, json_str(json_get(e, "call")));
        if (!s) {
            st->rest_count += count;
            st->rest_ns += ns;
            continue;
        }
        struct pair *p = pair_get(st, s, r->pid);
        if (p) {
            p->summarised = 1;
            p->count += count;
            p->ns += ns;
        } else {
            s->extra_count += count;
            s->extra_ns += ns;
        }
        s->timed = 1;
        /* A site only a summary names (its record was kept back by
         * max_reports): its one frame is better than none. */
        if (!s->stack && json_is(where = json_get(e, "where"), JSON_OBJECT)) {
            struct json one = {.type = JSON_ARRAY, .n = 1,
                               .items = (struct json **)&where};
            s->stack = lg__report_stack_text(&one, r->ts_ns);
            s->stack_where = 1;
        }
    }
}

/* "tid "name" (pid N)": how a thread is named in the event sections. */
static void thread_id(char *out, size_t cap, int64_t tid, const char *name,
                      int64_t pid)
{
    char shown[NAME_MAX_SHOWN];
    lg__report_shown(shown, sizeof shown, name ? name : "?");
    snprintf(out, cap, "%lld \"%s\" (pid %lld)", (long long)tid, shown,
             (long long)pid);
}

/* Keeps the first event's head and stack; a stall's first stack may be
 * empty (the thread slept in an unwrapped call): a later one then wins. */
static void first_event(struct events *ev, const char *head,
                        const struct json *stack, uint64_t ts_ns)
{
    int empty = json_count(stack) == 0;
    if (ev->head && !(ev->stack_empty && !empty))
        return;
    free(ev->head);
    free(ev->stack);
    ev->head = lg__report_dup(head);
    ev->stack = lg__report_stack_text(stack, ts_ns);
    ev->stack_empty = empty;
}

static void on_event(struct state *st, const struct lg__logrec *r)
{
    const struct json *root = r->root;
    char who[160], head[512], obj[96], held[96];
    const struct json *list, *e;
    struct events *ev;
    size_t i;
    if (r->type == LG__LOGREC_STALL) {
        ev = &st->stalls;
        ev->records++;
        double ms = json_get(root, "stalled_ms") &&
                    json_is(json_get(root, "stalled_ms"), JSON_NUMBER)
                        ? json_get(root, "stalled_ms")->num : 0;
        if (ms > ev->longest_ms)
            ev->longest_ms = ms;
        thread_id(who, sizeof who, r->tid, r->thread, r->pid);
        set_add(&ev->threads, who);
        if (strcmp(json_str(json_get(root, "phase")), "begin") != 0) {
            ev->ends++;
            return;
        }
        ev->begins++;
        const char *doing = json_str(json_get(root, "doing"));
        lg__report_shown(obj, sizeof obj, doing ? doing : "?");
        snprintf(head, sizeof head, "  first: thread %s, %s:\n", who, obj);
        first_event(ev, head, json_get(root, "stack"), r->ts_ns);
        return;
    }
    ev = r->type == LG__LOGREC_DEADLOCK ? &st->deadlocks : &st->inversions;
    ev->records++;
    list = json_get(root, r->type == LG__LOGREC_DEADLOCK ? "threads"
                                                         : "cycle");
    for (i = 0; (e = json_at(list, i)); i++) {
        int64_t tid = 0;
        json_i64(json_get(e, "tid"), &tid);
        thread_id(who, sizeof who, tid, json_str(json_get(e, "thread")),
                  r->pid);
        set_add(&ev->threads, who);
    }
    if (ev->head || !(e = json_at(list, 0)))
        return;
    int64_t tid = 0;
    json_i64(json_get(e, "tid"), &tid);
    thread_id(who, sizeof who, tid, json_str(json_get(e, "thread")), r->pid);
    if (r->type == LG__LOGREC_DEADLOCK) {
        const char *call = json_str(json_get(e, "call"));
        const char *o = json_str(json_get(e, "object"));
        lg__report_shown(obj, sizeof obj, o ? o : "nothing known");
        lg__report_shown(held, sizeof held, call ? call : "?");
        snprintf(head, sizeof head, "  first: thread %s waits in %s on %s:\n",
                 who, held, obj);
    } else {
        const char *a = json_str(json_get(e, "acquired"));
        const char *h = json_str(json_get(e, "held"));
        lg__report_shown(obj, sizeof obj, a ? a : "?");
        lg__report_shown(held, sizeof held, h ? h : "?");
        snprintf(head, sizeof head, "  first: thread %s took %s while "
                 "holding %s:\n", who, obj, held);
    }
    first_event(ev, head, json_get(e, "stack"), r->ts_ns);
}

static void warn_line(struct state *st, const char *file, int *warned,
                      unsigned long line, const char *what)
{
    st->bad++;
    if ((*warned)++ < WARN_MAX)
        fprintf(st->err, "loopguard: %s:%lu: %s\n", file, line, what);
}

void lg__report_read(struct state *st, const char *name)
{
    struct lg__logread r;
    struct lg__logrec rec;
    char why[256];
    int warned = 0;
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f) {
        fprintf(st->err, "loopguard: cannot read %s: %s\n", name,
                strerror(errno));
        return;
    }
    if (lg__logread_init(&r, f) != 0) {
        fputs("loopguard: out of memory\n", st->err);
        exit(EXIT_USAGE);
    }
    for (enum lg__logread_status s; (s = lg__logread_next(&r));) {
        if (s == LG__LOGREAD_LONG) {
            snprintf(why, sizeof why, "line longer than %d bytes",
                     LG__LOGREAD_MAX);
            warn_line(st, name, &warned, r.lineno, why);
            continue;
        }
        if (strspn(r.line, " \t\r") == r.len)
            continue;     /* a blank line holds no record to lose */
        if (lg__logrec_parse(r.line, r.len, &rec, why, sizeof why) != 0) {
            warn_line(st, name, &warned, r.lineno, why);
            continue;
        }
        st->records++;
        note_proc(st, rec.pid, rec.ts_ns);
        if (rec.ts_ns && (!st->t_min || rec.ts_ns < st->t_min))
            st->t_min = rec.ts_ns;
        if (rec.ts_ns > st->t_max)
            st->t_max = rec.ts_ns;
        lg__time_record(st, &rec);
        if (rec.type == LG__LOGREC_BLOCKING_END)
            ;   /* the timeline's only */
        else if (rec.type == LG__LOGREC_BLOCKING)
            on_blocking(st, &rec);
        else if (rec.type == LG__LOGREC_SUMMARY)
            on_summary(st, &rec);
        else if (rec.type == LG__LOGREC_CAP_REACHED)
            st->caps++;
        else
            on_event(st, &rec);
        json_free(rec.root);
    }
    if (r.err)
        fprintf(st->err, "loopguard: %s:%lu: read error: %s; the rest of "
                "the file is not read\n", name, r.lineno + 1,
                strerror(r.err));
    /* A directory opens, then fails its first read: nothing was read. */
    if (!r.err || r.lineno)
        st->files_read++;
    if (warned > WARN_MAX)
        fprintf(st->err, "loopguard: %s: %d more bad lines not named\n",
                name, warned - WARN_MAX);
    lg__logread_free(&r);
    if (f != stdin)
        fclose(f);
}
