/* JSON-lines form of a record (docs/reports.md): one object per line, each
 * complete and parseable even when frames had to be dropped to fit the
 * record into one atomic write. */
#include <string.h>

#include "lg-internal.h"

#define SYM_MAX 512          /* a demangled name longer than this is cut */
#define MODULE_MAX 1024      /* so is a longer module path */
#define TAIL_RESERVE 160     /* room kept for closing the record */

static void json_hex_or_null(struct lg__buf *b, const void *p)
{
    if (!p) {
        lg__buf_str(b, "null");
        return;
    }
    lg__buf_chr(b, '"');
    lg__buf_hex(b, (uintptr_t)p);
    lg__buf_chr(b, '"');
}

/* One frame object. sym names it; src, when not NULL, adds "file",
 * "line" and "inlined". */
static void json_obj(struct lg__buf *b, const struct lg__sym *s,
                     const char *sym, const struct lg__src *src, int inlined)
{
    char name[SYM_MAX];
    lg__buf_str(b, "{\"pc\":\"");
    lg__buf_hex(b, s->pc);
    lg__buf_str(b, "\",\"symbol\":");
    if (sym) {
        size_t n = lg__demangle(sym, name, sizeof name);
        lg__buf_json_strn(b, name, n);
    } else {
        lg__buf_str(b, "null");
    }
    lg__buf_str(b, ",\"offset\":");
    lg__buf_u64(b, s->modoff);
    lg__buf_str(b, ",\"module\":");
    if (s->module)
        lg__buf_json_strn(b, s->module, MODULE_MAX);
    else
        lg__buf_str(b, "null");
    if (src) {
        lg__buf_str(b, ",\"file\":");
        if (src->file)
            lg__buf_json_strn(b, src->file, MODULE_MAX);
        else
            lg__buf_str(b, "null");
        lg__buf_str(b, ",\"line\":");
        if (src->line)
            lg__buf_u64(b, src->line);
        else
            lg__buf_str(b, "null");
        lg__buf_str(b, inlined ? ",\"inlined\":true" : ",\"inlined\":false");
    }
    lg__buf_chr(b, '}');
}

/* The frame's own object, with the source line of its function. */
/* A Python frame: no pc, its file and line. */
static void json_python(struct lg__buf *b, const struct lg__sym *s)
{
    lg__buf_str(b, "{\"pc\":null,\"symbol\":");
    lg__buf_json_strn(b, s->name, SYM_MAX);
    lg__buf_str(b, ",\"offset\":null,\"module\":null,\"file\":");
    lg__buf_json_strn(b, s->module, MODULE_MAX);
    lg__buf_str(b, ",\"line\":");
    if (s->modoff)
        lg__buf_u64(b, s->modoff);
    else
        lg__buf_str(b, "null");
    lg__buf_str(b, ",\"inlined\":false,\"python\":true}");
}

static void json_frame(struct lg__buf *b, const struct lg__sym *s)
{
    if (lg__sym_python(s)) {
        json_python(b, s);
        return;
    }
    const struct lg__src *src = NULL;
    int n = lg__src_find(s, &src);
    json_obj(b, s, s->name || !n ? s->name : src[n - 1].func,
             n ? &src[n - 1] : NULL, 0);
}

/* A stack's frame: an object for each function inlined at its address,
 * innermost first, then its own. */
static void json_frame_all(struct lg__buf *b, const struct lg__sym *s)
{
    if (lg__sym_python(s)) {
        json_python(b, s);
        return;
    }
    const struct lg__src *src = NULL;
    int n = lg__src_find(s, &src);
    for (int i = 0; i < n - 1; i++) {
        json_obj(b, s, src[i].func, &src[i], 1);
        lg__buf_chr(b, ',');
    }
    json_frame(b, s);
}

/* Appends frames while they fit, leaving `reserve` bytes; returns how many
 * were dropped. */
static int json_frames(struct lg__buf *b, const struct lg__sym *f, int n,
                       int max, size_t reserve)
{
    int shown = 0;
    lg__buf_chr(b, '[');
    for (int i = 0; i < n && i < max; i++) {
        size_t mark = b->len;
        if (shown)
            lg__buf_chr(b, ',');
        json_frame_all(b, &f[i]);
        if (!lg__buf_fits_or_undo(b, mark, reserve))
            break;
        shown++;
    }
    lg__buf_chr(b, ']');
    return n - shown;
}

static void json_head(struct lg__buf *b, const struct lg__record *r,
                      const char *type)
{
    lg__buf_str(b, "{\"type\":\"");
    lg__buf_str(b, type);
    lg__buf_str(b, "\",\"ts_ns\":");
    lg__buf_u64(b, r->ts_ns);
    lg__buf_str(b, ",\"pid\":");
    lg__buf_i64(b, r->pid);
    lg__buf_str(b, ",\"tid\":");
    lg__buf_i64(b, r->tid);
    lg__buf_str(b, ",\"thread\":");
    lg__buf_json_str(b, r->thread);
}

/* "stack", "loop_stack" and, when frames were left out, their count. The
 * stack has the room first, but leaves loop_stack a third of it: with its
 * inlined frames a stack may fill a record alone. */
static void json_stacks(struct lg__buf *b, const struct lg__record *r,
                        int max_frames)
{
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    size_t share = r->nloop_stack ? room / 3 : 0;
    lg__buf_str(b, ",\"stack\":");
    int dropped = json_frames(b, r->stack, r->nstack, max_frames,
                              TAIL_RESERVE + share);
    lg__buf_str(b, ",\"loop_stack\":");
    dropped += json_frames(b, r->loop_stack, r->nloop_stack, max_frames,
                           TAIL_RESERVE / 2);
    if (dropped > 0) {
        lg__buf_str(b, ",\"frames_dropped\":");
        lg__buf_u64(b, (uint64_t)dropped);
    }
}

static void json_ms(struct lg__buf *b, uint64_t ns)
{
    /* Milliseconds with three decimals, without floating point. */
    lg__buf_u64(b, ns / 1000000);
    uint64_t frac = ns % 1000000 / 1000;
    lg__buf_chr(b, '.');
    lg__buf_chr(b, (char)('0' + frac / 100));
    lg__buf_chr(b, (char)('0' + frac / 10 % 10));
    lg__buf_chr(b, (char)('0' + frac % 10));
}

static void json_str_or_null(struct lg__buf *b, const char *s)
{
    if (s && s[0])
        lg__buf_json_str(b, s);
    else
        lg__buf_str(b, "null");
}

static void json_loop(struct lg__buf *b, const struct lg__record *r)
{
    lg__buf_str(b, ",\"loop\":");
    if (r->has_loop) {
        lg__buf_str(b, "{\"kind\":\"");
        lg__buf_str(b, lg__loop_kind_name(r->loop_kind));
        lg__buf_str(b, "\",\"id\":");
        json_hex_or_null(b, r->loop_id);
        lg__buf_str(b, ",\"via\":\"");
        lg__buf_str(b, lg__loop_via_name(r->loop_via));
        lg__buf_str(b, "\"}");
    } else {
        lg__buf_str(b, "null");
    }
}

static void json_blocking(struct lg__buf *b, const struct lg__record *r,
                          int max_frames)
{
    json_head(b, r, "blocking_call");
    lg__buf_str(b, ",\"call\":");
    lg__buf_json_str(b, r->call);
    lg__buf_str(b, ",\"object\":");
    if (r->object && r->object[0])
        lg__buf_json_str(b, r->object);
    else
        lg__buf_str(b, "null");
    lg__buf_str(b, ",\"timeout_ms\":");
    if (r->timeout_ns < 0)
        lg__buf_str(b, "null");
    else
        json_ms(b, (uint64_t)r->timeout_ns);
    json_loop(b, r);
    lg__buf_str(b, r->self_wait ? ",\"self_wait\":true" :
                                  ",\"self_wait\":false");
    lg__buf_str(b, ",\"site\":\"");
    lg__buf_hex(b, r->site);
    lg__buf_chr(b, '"');
    json_stacks(b, r, max_frames);
    lg__buf_str(b, "}\n");
}

static void json_stall(struct lg__buf *b, const struct lg__record *r,
                       int max_frames)
{
    json_head(b, r, "stall");
    lg__buf_str(b, r->stall_ended ? ",\"phase\":\"end\"" :
                                    ",\"phase\":\"begin\"");
    lg__buf_str(b, ",\"stalled_ms\":");
    json_ms(b, r->stalled_ns);
    lg__buf_str(b, ",\"call\":");
    json_str_or_null(b, r->call);
    lg__buf_str(b, ",\"object\":");
    json_str_or_null(b, r->call ? r->object : NULL);
    lg__buf_str(b, ",\"timeout_ms\":");
    if (r->call && r->timeout_ns >= 0)
        json_ms(b, (uint64_t)r->timeout_ns);
    else
        lg__buf_str(b, "null");
    lg__buf_str(b, ",\"doing\":");
    json_str_or_null(b, r->call ? "waiting" : r->doing);
    json_loop(b, r);
    json_stacks(b, r, max_frames);
    lg__buf_str(b, "}\n");
}

/* The threads of a deadlock (key "threads") or the edges of a lock-order
 * cycle ("cycle"), each with an equal share of the room left. */
static void json_threads(struct lg__buf *b, const struct lg__record *r,
                         const char *key, int max_frames)
{
    lg__buf_str(b, ",\"");
    lg__buf_str(b, key);
    lg__buf_str(b, "\":[");
    int dropped = 0, shown = 0;
    for (int i = 0; i < r->nthreads; i++) {
        const struct lg__thread_report *t = &r->threads[i];
        size_t left = (size_t)(r->nthreads - i);
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        size_t reserve = room - room / left + TAIL_RESERVE;
        size_t mark = b->len;
        if (shown)
            lg__buf_chr(b, ',');
        lg__buf_str(b, "{\"tid\":");
        lg__buf_i64(b, t->tid);
        lg__buf_str(b, ",\"thread\":");
        lg__buf_json_str(b, t->name);
        lg__buf_str(b, ",\"call\":");
        json_str_or_null(b, t->call);
        if (t->held[0]) {
            lg__buf_str(b, ",\"held\":");
            lg__buf_json_str(b, t->held);
            lg__buf_str(b, ",\"acquired\":");
        } else {
            lg__buf_str(b, ",\"object\":");
        }
        json_str_or_null(b, t->object);
        lg__buf_str(b, ",\"stack\":");
        if (!lg__buf_fits_or_undo(b, mark, TAIL_RESERVE + 4))
            break;
        dropped += json_frames(b, t->stack, t->nstack, max_frames,
                               reserve > room ? TAIL_RESERVE + 4 : reserve);
        lg__buf_chr(b, '}');
        shown++;
    }
    lg__buf_str(b, "],\"shown\":");
    lg__buf_u64(b, (uint64_t)shown);
    if (dropped > 0) {
        lg__buf_str(b, ",\"frames_dropped\":");
        lg__buf_u64(b, (uint64_t)dropped);
    }
}

static void json_deadlock(struct lg__buf *b, const struct lg__record *r,
                          int max_frames)
{
    json_head(b, r, "deadlock");
    lg__buf_str(b, ",\"threads_total\":");
    lg__buf_u64(b, (uint64_t)r->threads_total);
    json_threads(b, r, "threads", max_frames);
    lg__buf_str(b, "}\n");
}

static void json_lock_order(struct lg__buf *b, const struct lg__record *r,
                            int max_frames)
{
    json_head(b, r, "lock_order_inversion");
    lg__buf_str(b, ",\"locks\":");
    lg__buf_u64(b, (uint64_t)r->threads_total);
    json_threads(b, r, "cycle", max_frames);
    lg__buf_str(b, "}\n");
}

/* "suppressed": the rules that suppressed something, while they fit. */
static void json_rules(struct lg__buf *b, const struct lg__record *r)
{
    lg__buf_str(b, ",\"suppressed\":[");
    for (int i = 0; i < r->nrules; i++) {
        const struct lg__summary_rule *u = &r->rules[i];
        size_t mark = b->len;
        if (i)
            lg__buf_chr(b, ',');
        lg__buf_str(b, "{\"rule\":");
        lg__buf_json_str(b, u->rule);
        lg__buf_str(b, ",\"file\":");
        lg__buf_json_strn(b, u->file, MODULE_MAX);
        lg__buf_str(b, ",\"line\":");
        lg__buf_u64(b, (uint64_t)u->line);
        lg__buf_str(b, ",\"count\":");
        lg__buf_u64(b, u->count);
        lg__buf_chr(b, '}');
        if (!lg__buf_fits_or_undo(b, mark, 2))
            break;
    }
    lg__buf_chr(b, ']');
}

static void json_summary(struct lg__buf *b, const struct lg__record *r)
{
    /* The rules first, into at most half the record: the sites leave
     * them their room. */
    char mem[LG__RECORD_MAX / 4];
    struct lg__buf rules;
    lg__buf_init(&rules, mem, b->cap / 2 < sizeof mem ? b->cap / 2
                                                      : sizeof mem);
    json_rules(&rules, r);
    json_head(b, r, "summary");
    lg__buf_str(b, ",\"count\":");
    lg__buf_u64(b, r->count_total);
    lg__buf_str(b, ",\"blocked_ns\":");
    lg__buf_u64(b, r->blocked_ns_total);
    lg__buf_str(b, ",\"sites_total\":");
    lg__buf_u64(b, (uint64_t)r->sites_total);
    lg__buf_str(b, ",\"loops_found\":");
    lg__buf_u64(b, r->loops_found);
    /* Before the list, which is cut to fit: these are never cut. */
    lg__buf_str(b, ",\"grace\":");
    lg__buf_u64(b, r->in_grace);
    lg__buf_str(b, ",\"allowed\":");
    lg__buf_u64(b, r->allowed);
    lg__buf_str(b, r->sites_lower_bound ? ",\"sites_exact\":false"
                                        : ",\"sites_exact\":true");
    lg__buf_str(b, ",\"unattributed\":{\"count\":");
    lg__buf_u64(b, r->unattr_count);
    lg__buf_str(b, ",\"blocked_ns\":");
    lg__buf_u64(b, r->unattr_ns);
    lg__buf_str(b, "},\"not_written\":");
    lg__buf_u64(b, r->not_written);
    lg__buf_str(b, ",\"lost\":");
    lg__buf_u64(b, r->lost);
    lg__buf_str(b, ",\"sites\":[");
    for (int i = 0; i < r->nsites; i++) {
        const struct lg__summary_site *s = &r->sites[i];
        size_t mark = b->len;
        if (i)
            lg__buf_chr(b, ',');
        lg__buf_str(b, "{\"site\":\"");
        lg__buf_hex(b, s->site);
        lg__buf_str(b, "\",\"call\":");
        lg__buf_json_str(b, s->call);
        lg__buf_str(b, ",\"count\":");
        lg__buf_u64(b, s->count);
        lg__buf_str(b, ",\"blocked_ns\":");
        lg__buf_u64(b, s->blocked_ns);
        lg__buf_str(b, ",\"where\":");
        json_frame(b, &s->where);
        lg__buf_chr(b, '}');
        if (!lg__buf_fits_or_undo(b, mark, 8 + rules.len))
            break;
    }
    lg__buf_chr(b, ']');
    lg__buf_mem(b, rules.p, rules.len);
    lg__buf_str(b, "}\n");
}

/* Written when a reported call returns: with the record it follows (same
 * tid and site), when the thread was blocked. */
static void json_blocking_end(struct lg__buf *b, const struct lg__record *r)
{
    json_head(b, r, "blocking_end");
    lg__buf_str(b, ",\"call\":");
    lg__buf_json_str(b, r->call);
    lg__buf_str(b, ",\"site\":\"");
    lg__buf_hex(b, r->site);
    lg__buf_str(b, "\",\"blocked_ms\":");
    json_ms(b, r->blocked_ns);
    lg__buf_str(b, "}\n");
}

static void json_cap_reached(struct lg__buf *b, const struct lg__record *r)
{
    json_head(b, r, "cap_reached");
    lg__buf_str(b, ",\"max_reports\":");
    lg__buf_u64(b, r->max_reports);
    lg__buf_str(b, "}\n");
}

size_t lg__format_json(char *buf, size_t cap, const struct lg__record *r,
                       int max_frames)
{
    struct lg__buf b;
    lg__buf_init(&b, buf, cap);
    if (r->type == LG__REC_SUMMARY)
        json_summary(&b, r);
    else if (r->type == LG__REC_STALL)
        json_stall(&b, r, max_frames);
    else if (r->type == LG__REC_DEADLOCK)
        json_deadlock(&b, r, max_frames);
    else if (r->type == LG__REC_LOCK_ORDER)
        json_lock_order(&b, r, max_frames);
    else if (r->type == LG__REC_CAP_REACHED)
        json_cap_reached(&b, r);
    else if (r->type == LG__REC_BLOCKING_END)
        json_blocking_end(&b, r);
    else
        json_blocking(&b, r, max_frames);
    return b.len;
}
