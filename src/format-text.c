/* Text form of a record, in the sanitizers' look (docs/reports.md):
 * "==PID==loopguard: ..." then numbered frames. */
#include <string.h>

#include "lg-internal.h"

#define SYM_MAX 512          /* a demangled name longer than this is cut */
#define MODULE_MAX 1024      /* so is a longer module path */
#define TAIL_RESERVE 256     /* the hint paragraph and a dropped-frames line */

/* A thread name is the program's to choose: control characters would break
 * the record's lines. */
static void text_name(struct lg__buf *b, const char *name)
{
    for (const char *c = name; *c; c++)
        lg__buf_chr(b, (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c);
}

static void text_prefix(struct lg__buf *b, const struct lg__record *r)
{
    lg__buf_str(b, "==");
    lg__buf_i64(b, r->pid);
    lg__buf_str(b, "==loopguard: ");
}

static void text_module(struct lg__buf *b, const char *module,
                        const char *unknown)
{
    if (module)
        lg__buf_mem(b, module, strnlen(module, MODULE_MAX));
    else
        lg__buf_str(b, unknown);
}

/* A name from the debug information or a symbol table, on one line. */
static void text_sym(struct lg__buf *b, const char *sym)
{
    char name[SYM_MAX];
    if (!sym) {
        lg__buf_str(b, "??");
        return;
    }
    lg__demangle(sym, name, sizeof name);
    text_name(b, name);
}

/* " FILE:LINE" when the debug information knows it. */
static void text_src(struct lg__buf *b, const struct lg__src *src)
{
    if (!src || !src->file)
        return;
    lg__buf_chr(b, ' ');
    text_name(b, src->file);
    if (src->line) {
        lg__buf_chr(b, ':');
        lg__buf_u64(b, src->line);
    }
}

static void text_line(struct lg__buf *b, int *num, const struct lg__sym *s,
                      const char *sym, const struct lg__src *src,
                      int inlined)
{
    lg__buf_str(b, "    #");
    lg__buf_u64(b, (uint64_t)(*num)++);
    lg__buf_chr(b, ' ');
    lg__buf_hex(b, s->pc);
    lg__buf_str(b, " in ");
    text_sym(b, sym);
    text_src(b, src);
    lg__buf_str(b, " (");
    text_module(b, s->module, "<unknown module>");
    lg__buf_chr(b, '+');
    lg__buf_hex(b, s->modoff);
    lg__buf_str(b, inlined ? ") (inlined)\n" : ")\n");
}

/* A Python frame: "FUNC FILE:LINE (Python)". */
static void text_python(struct lg__buf *b, const struct lg__sym *s)
{
    text_name(b, s->name[0] ? s->name : "??");
    lg__buf_chr(b, ' ');
    text_name(b, s->module[0] ? s->module : "<unknown file>");
    if (s->modoff) {
        lg__buf_chr(b, ':');
        lg__buf_u64(b, s->modoff);
    }
    lg__buf_str(b, " (Python)");
}

/* One frame: a line for each function inlined at its address (innermost
 * first, as llvm-symbolizer lists them), then its own. */
static void text_frame(struct lg__buf *b, int *num, const struct lg__sym *s)
{
    if (lg__sym_python(s)) {
        lg__buf_str(b, "    #");
        lg__buf_u64(b, (uint64_t)(*num)++);
        lg__buf_str(b, " in ");
        text_python(b, s);
        lg__buf_chr(b, '\n');
        return;
    }
    const struct lg__src *src = NULL;
    int n = lg__src_find(s, &src);
    for (int i = 0; i < n - 1; i++)
        text_line(b, num, s, src[i].func, &src[i], 1);
    text_line(b, num, s, s->name || !n ? s->name : src[n - 1].func,
              n ? &src[n - 1] : NULL, 0);
}

static int text_frames(struct lg__buf *b, const struct lg__sym *f, int n,
                       int max, size_t reserve)
{
    int shown = 0, num = 0;
    for (int i = 0; i < n && i < max; i++) {
        size_t mark = b->len;
        int was = num;
        text_frame(b, &num, &f[i]);
        if (!lg__buf_fits_or_undo(b, mark, reserve)) {
            num = was;
            break;
        }
        shown++;
    }
    return n - shown;
}

static void text_ms(struct lg__buf *b, uint64_t ns)
{
    lg__buf_u64(b, ns / 1000000);
    lg__buf_chr(b, '.');
    lg__buf_u64(b, ns % 1000000 / 100000);
    lg__buf_str(b, " ms");
}

/* The record's stack, then where its thread entered the loop, then how
 * many frames did not fit; `if_empty` stands for an empty stack. */
static void text_stacks(struct lg__buf *b, const struct lg__record *r,
                        int max_frames, const char *if_empty)
{
    /* The stack has the room first, but leaves the loop's a third of it:
     * with its inlined frames a stack may fill a record alone. */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    size_t share = r->nloop_stack ? room / 3 : 0;
    int dropped = text_frames(b, r->stack, r->nstack, max_frames,
                              TAIL_RESERVE + share);
    if (r->nstack == 0 && if_empty)
        lg__buf_str(b, if_empty);
    if (r->nloop_stack && b->len + TAIL_RESERVE * 2 < b->cap) {
        lg__buf_str(b, "  the thread entered the loop here (via ");
        lg__buf_str(b, lg__loop_via_name(r->loop_via));
        lg__buf_str(b, "):\n");
        dropped += text_frames(b, r->loop_stack, r->nloop_stack, max_frames,
                               TAIL_RESERVE);
    } else {
        dropped += r->nloop_stack;
    }
    if (dropped > 0) {
        lg__buf_str(b, "    ... ");
        lg__buf_u64(b, (uint64_t)dropped);
        lg__buf_str(b, " more frames not shown\n");
    }
}

static void text_loop(struct lg__buf *b, const struct lg__record *r)
{
    if (r->has_loop) {
        lg__buf_str(b, lg__loop_kind_name(r->loop_kind));
        lg__buf_str(b, " loop ");
        if (r->loop_id)
            lg__buf_hex(b, (uintptr_t)r->loop_id);
        else
            lg__buf_str(b, "(no id)");
    } else {
        lg__buf_str(b, "loop not recorded");
    }
}

static void text_thread(struct lg__buf *b, pid_t tid, const char *name)
{
    lg__buf_str(b, "thread ");
    lg__buf_i64(b, tid);
    lg__buf_str(b, " \"");
    text_name(b, name);
    lg__buf_chr(b, '"');
}

static void text_blocking(struct lg__buf *b, const struct lg__record *r,
                          int max_frames)
{
    text_prefix(b, r);
    lg__buf_str(b, "blocking receive ");
    lg__buf_str(b, r->call);
    lg__buf_str(b, " on event-loop thread ");
    lg__buf_i64(b, r->tid);
    lg__buf_str(b, " \"");
    text_name(b, r->thread);
    lg__buf_str(b, "\" (");
    text_loop(b, r);
    lg__buf_str(b, ")\n  waits on ");
    const char *object = r->object && r->object[0] ? r->object
                                                    : "(nothing named)";
    lg__buf_str(b, object);
    if (r->timeout_ns < 0) {
        lg__buf_str(b, ", no timeout\n");
    } else {
        lg__buf_str(b, ", timeout ");
        text_ms(b, (uint64_t)r->timeout_ns);
        lg__buf_chr(b, '\n');
    }
    if (r->self_wait) {
        lg__buf_str(b, "  only this loop thread has ever signalled ");
        lg__buf_str(b, object);
        lg__buf_str(b, ", and no other thread has touched it:\n"
                       "  a certain self-deadlock, unless it times out\n");
    }
    text_stacks(b, r, max_frames, NULL);
    if (r->py_frames < 0) {
        unsigned minor = lg__py_minor();
        lg__buf_str(b, "  (no Python frames: loopguard reads those of "
                       "CPython 3.11 to 3.13, this is ");
        if (minor) {
            lg__buf_str(b, "3.");
            lg__buf_u64(b, minor);
        } else {
            lg__buf_str(b, "an older one");
        }
        lg__buf_str(b, ")\n");
    }
    if (r->py_frames > 0)
        lg__buf_str(b, "  A wait here stalls every task on this loop. Await "
                       "asyncio's own (asyncio.sleep,\n  asyncio.Queue, "
                       "streams), or run it in a thread: await "
                       "asyncio.to_thread(...)\n  or "
                       "loop.run_in_executor(...) (docs/guide.md, "
                       "Python).\n");
    else if (r->has_loop && r->loop_kind == LG__LOOP_TOKIO)
        lg__buf_str(b, "  A wait here stalls every task on this runtime. "
                       "Await it (tokio::sync), or move it to\n"
                       "  tokio::task::spawn_blocking (docs/migration.md)."
                       "\n");
    else
        lg__buf_str(b, "  A receive here stalls every callback on this "
                       "loop. Hand the work to a thread, or receive with\n"
                       "  lg_chan_recv_start() (docs/migration.md).\n");
}

static void text_stall(struct lg__buf *b, const struct lg__record *r,
                       int max_frames)
{
    text_prefix(b, r);
    lg__buf_str(b, r->stall_ended ? "stall ended: event-loop "
                                  : "stall: event-loop ");
    text_thread(b, r->tid, r->thread);
    lg__buf_str(b, " (");
    text_loop(b, r);
    if (r->stall_ended) {
        lg__buf_str(b, ") is back in its loop after ");
        text_ms(b, r->stalled_ns);
        lg__buf_chr(b, '\n');
        return;
    }
    lg__buf_str(b, ") has not returned to its loop for ");
    text_ms(b, r->stalled_ns);
    lg__buf_str(b, "\n  it ");
    if (r->call) {
        lg__buf_str(b, "waits in ");
        lg__buf_str(b, r->call);
        lg__buf_str(b, " on ");
        lg__buf_str(b, r->object && r->object[0] ? r->object
                                                 : "(nothing named)");
    } else {
        lg__buf_str(b, "is ");
        lg__buf_str(b, r->doing ? r->doing : "running");
    }
    lg__buf_chr(b, '\n');
    text_stacks(b, r, max_frames,
                "    (no stack: the thread could not be sampled)\n");
    if (r->py_frames > 0)
        lg__buf_str(b, "  Every task on this loop waits until this returns. "
                       "Run long work in a thread:\n  await "
                       "asyncio.to_thread(...) or loop.run_in_executor(...)"
                       " (docs/guide.md, Python).\n");
    else
        lg__buf_str(b, "  Every callback on this loop waits until this "
                       "returns. Move long work to a\n  thread "
                       "(uv_queue_work), or split it across loop "
                       "iterations.\n");
}

/* Bytes of a "... N more frames/threads/edges not shown" line, at most. */
#define MORE_LINE 48

/* The threads of a deadlock, or the edges of a lock-order cycle, each
 * with its stack, then `closing`. Each gets an equal share of the room
 * left, so the last one listed still shows its first frames; every line
 * is kept only if what must follow it (a "more frames" line, the "more
 * threads" line and the closing paragraph) still fits behind it. */
static void text_threads(struct lg__buf *b, const struct lg__record *r,
                         int max_frames, const char *closing)
{
    size_t need_end = MORE_LINE + strlen(closing);
    int shown = 0;
    for (int i = 0; i < r->nthreads; i++) {
        const struct lg__thread_report *t = &r->threads[i];
        size_t left = (size_t)(r->nthreads - i);
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        size_t mark = b->len;
        lg__buf_str(b, "  ");
        text_thread(b, t->tid, t->name);
        if (t->held[0]) {
            lg__buf_str(b, " took ");
            lg__buf_str(b, t->object);
            lg__buf_str(b, " while holding ");
            lg__buf_str(b, t->held);
            lg__buf_str(b, ":\n");
        } else {
            lg__buf_str(b, " waits in ");
            lg__buf_str(b, t->call ? t->call : "?");
            lg__buf_str(b, " on ");
            lg__buf_str(b, t->object);
            lg__buf_chr(b, '\n');
        }
        if (!lg__buf_fits_or_undo(b, mark, need_end + MORE_LINE))
            break;
        shown++;
        int dropped = text_frames(b, t->stack, t->nstack, max_frames,
                                  room - room / left + need_end + MORE_LINE);
        if (dropped > 0) {
            mark = b->len;
            lg__buf_str(b, "    ... ");
            lg__buf_u64(b, (uint64_t)dropped);
            lg__buf_str(b, " more frames not shown\n");
            lg__buf_fits_or_undo(b, mark, need_end);
        }
    }
    if (shown < r->threads_total) {
        lg__buf_str(b, "  ... ");
        lg__buf_u64(b, (uint64_t)(r->threads_total - shown));
        lg__buf_str(b, r->type == LG__REC_DEADLOCK
                           ? " more threads not shown\n"
                           : " more edges not shown\n");
    }
    lg__buf_str(b, closing);
}

static void text_deadlock(struct lg__buf *b, const struct lg__record *r,
                          int max_frames)
{
    text_prefix(b, r);
    lg__buf_str(b, "deadlock: ");
    if (r->threads_total == 1) {
        lg__buf_str(b, "the only thread waits with no timeout, on "
                       "something only it could signal\n");
    } else {
        lg__buf_str(b, "all ");
        lg__buf_u64(b, (uint64_t)r->threads_total);
        lg__buf_str(b, " threads wait with no timeout, on things only "
                       "they could signal\n");
    }
    text_threads(b, r, max_frames,
                 "  Nothing left in this process can end these waits: "
                 "the program hangs here.\n");
}

static void text_lock_order(struct lg__buf *b, const struct lg__record *r,
                            int max_frames)
{
    text_prefix(b, r);
    lg__buf_str(b, "lock-order inversion: ");
    lg__buf_u64(b, (uint64_t)r->threads_total);
    lg__buf_str(b, r->threads_total == 2
                       ? " locks taken in both orders"
                       : " locks taken in a cycle");
    lg__buf_str(b, " (a deadlock waiting to happen)\n");
    text_threads(b, r, max_frames,
                 "  Threads taking these locks at once can each hold one "
                 "and wait for the next.\n  Take them in one order "
                 "everywhere, or trylock and back off.\n");
}

/* A line per rule that suppressed something, while they fit. */
static void text_rules(struct lg__buf *b, const struct lg__record *r)
{
    int shown = 0;
    for (int i = 0; i < r->nrules; i++) {
        const struct lg__summary_rule *u = &r->rules[i];
        size_t mark = b->len;
        lg__buf_str(b, "    ");
        lg__buf_u64(b, u->count);
        lg__buf_str(b, " x suppressed by ");
        text_name(b, u->rule);
        lg__buf_str(b, " (");
        text_name(b, u->file);
        lg__buf_chr(b, ':');
        lg__buf_u64(b, (uint64_t)u->line);
        lg__buf_str(b, ")\n");
        if (!lg__buf_fits_or_undo(b, mark, MORE_LINE))
            break;
        shown++;
    }
    if (shown < r->nrules) {
        lg__buf_str(b, "    ... ");
        lg__buf_u64(b, (uint64_t)(r->nrules - shown));
        lg__buf_str(b, " more suppression rules used\n");
    }
}

static void text_summary_rest(struct lg__buf *b, const struct lg__record *r,
                              const struct lg__buf *rules);

static void text_summary(struct lg__buf *b, const struct lg__record *r)
{
    /* The rules' lines go last, but are written first, into at most half
     * the record: the sites leave them their room. */
    char mem[LG__RECORD_MAX / 4];
    struct lg__buf rules;
    lg__buf_init(&rules, mem, b->cap / 2 < sizeof mem ? b->cap / 2
                                                      : sizeof mem);
    text_rules(&rules, r);
    text_prefix(b, r);
    if (!r->loops_found && !r->count_total) {
        /* One line: the counts would all be 0, since nothing was looked
         * at. */
        lg__buf_str(b, "summary: no event loop was found in this process: "
                       "no call was checked (docs/guide.md, \"Loops that "
                       "are not found\")\n");
        text_summary_rest(b, r, &rules);
        return;
    }
    lg__buf_str(b, "summary: ");
    lg__buf_u64(b, r->count_total);
    lg__buf_str(b, r->count_total == 1 ? " blocking call at "
                                       : " blocking calls at ");
    if (r->sites_lower_bound)
        lg__buf_str(b, "at least ");
    lg__buf_u64(b, (uint64_t)r->sites_total);
    lg__buf_str(b, r->sites_total == 1 ? " site" : " sites");
    lg__buf_str(b, " on event-loop threads, ");
    text_ms(b, r->blocked_ns_total);
    lg__buf_str(b, " blocked\n");
    text_summary_rest(b, r, &rules);
}

/* The summary after its first line. */
static void text_summary_rest(struct lg__buf *b, const struct lg__record *r,
                              const struct lg__buf *rules)
{
    /* Before the list, which is cut to fit: these are never cut. */
    if (r->in_grace || r->allowed) {
        lg__buf_str(b, "  not reported: ");
        lg__buf_u64(b, r->in_grace);
        lg__buf_str(b, " in a loop's grace period (grace_ms), ");
        lg__buf_u64(b, r->allowed);
        lg__buf_str(b, " inside lg_allow_blocking_begin/end\n");
    }
    if (r->unattr_count) {
        lg__buf_str(b, "  ");
        lg__buf_u64(b, r->unattr_count);
        lg__buf_str(b, r->unattr_count == 1 ? " call, " : " calls, ");
        text_ms(b, r->unattr_ns);
        lg__buf_str(b, " blocked, at sites past the site table: "
                       "in no site below\n");
    }
    if (r->not_written) {
        lg__buf_str(b, "  ");
        lg__buf_u64(b, r->not_written);
        lg__buf_str(b, r->not_written == 1 ? " record" : " records");
        lg__buf_str(b, " not written: max_reports reached\n");
    }
    if (r->lost) {
        lg__buf_str(b, "  ");
        lg__buf_u64(b, r->lost);
        lg__buf_str(b, r->lost == 1 ? " record" : " records");
        lg__buf_str(b, " lost: neither the log nor stderr could be "
                       "written\n");
    }
    int shown = 0;
    for (int i = 0; i < r->nsites; i++) {
        const struct lg__summary_site *s = &r->sites[i];
        size_t mark = b->len;
        lg__buf_str(b, "    ");
        lg__buf_u64(b, s->count);
        lg__buf_str(b, " x ");
        lg__buf_str(b, s->call);
        lg__buf_str(b, " in ");
        if (lg__sym_python(&s->where)) {
            text_python(b, &s->where);
        } else {
            const struct lg__src *src = NULL;
            int ns = lg__src_find(&s->where, &src);
            text_sym(b, s->where.name || !ns ? s->where.name
                                              : src[ns - 1].func);
            text_src(b, ns ? &src[ns - 1] : NULL);
            lg__buf_str(b, " (");
            text_module(b, s->where.module, "?");
            lg__buf_chr(b, '+');
            lg__buf_hex(b, s->where.modoff);
            lg__buf_chr(b, ')');
        }
        lg__buf_str(b, ", ");
        text_ms(b, s->blocked_ns);
        lg__buf_str(b, " blocked, site ");
        lg__buf_hex(b, s->site);
        lg__buf_chr(b, '\n');
        if (!lg__buf_fits_or_undo(b, mark, 64 + rules->len))
            break;
        shown++;
    }
    if (shown < r->sites_total) {
        lg__buf_str(b, "    ... ");
        lg__buf_u64(b, (uint64_t)(r->sites_total - shown));
        lg__buf_str(b, " more sites\n");
    }
    lg__buf_mem(b, rules->p, rules->len);
}

static void text_cap_reached(struct lg__buf *b, const struct lg__record *r)
{
    text_prefix(b, r);
    lg__buf_str(b, "max_reports=");
    lg__buf_u64(b, r->max_reports);
    lg__buf_str(b, " reached: no more records are written but deadlocks; "
                   "the exit summary counts them\n");
}

size_t lg__format_text(char *buf, size_t cap, const struct lg__record *r,
                       int max_frames)
{
    struct lg__buf b;
    lg__buf_init(&b, buf, cap);
    if (r->type == LG__REC_SUMMARY)
        text_summary(&b, r);
    else if (r->type == LG__REC_STALL)
        text_stall(&b, r, max_frames);
    else if (r->type == LG__REC_DEADLOCK)
        text_deadlock(&b, r, max_frames);
    else if (r->type == LG__REC_LOCK_ORDER)
        text_lock_order(&b, r, max_frames);
    else if (r->type == LG__REC_CAP_REACHED)
        text_cap_reached(&b, r);
    else
        text_blocking(&b, r, max_frames);
    return b.len;
}
