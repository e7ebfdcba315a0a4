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

static void text_frame(struct lg__buf *b, int i, const struct lg__sym *s)
{
    char name[SYM_MAX];
    lg__buf_str(b, "    #");
    lg__buf_u64(b, (uint64_t)i);
    lg__buf_chr(b, ' ');
    lg__buf_hex(b, s->pc);
    lg__buf_str(b, " in ");
    if (s->name) {
        lg__demangle(s->name, name, sizeof name);
        lg__buf_str(b, name);
    } else {
        lg__buf_str(b, "??");
    }
    lg__buf_str(b, " (");
    text_module(b, s->module, "<unknown module>");
    lg__buf_chr(b, '+');
    lg__buf_hex(b, s->modoff);
    lg__buf_str(b, ")\n");
}

static int text_frames(struct lg__buf *b, const struct lg__sym *f, int n,
                       int max, size_t reserve)
{
    int shown = 0;
    for (int i = 0; i < n && i < max; i++) {
        size_t mark = b->len;
        text_frame(b, i, &f[i]);
        if (!lg__buf_fits_or_undo(b, mark, reserve))
            break;
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
    lg__buf_str(b, ")\n  waits on ");
    lg__buf_str(b, r->object && r->object[0] ? r->object : "(nothing named)");
    if (r->timeout_ns < 0) {
        lg__buf_str(b, ", no timeout\n");
    } else {
        lg__buf_str(b, ", timeout ");
        text_ms(b, (uint64_t)r->timeout_ns);
        lg__buf_chr(b, '\n');
    }
    int dropped = text_frames(b, r->stack, r->nstack, max_frames,
                              TAIL_RESERVE);
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
    if (r->has_loop && r->loop_kind == LG__LOOP_TOKIO)
        lg__buf_str(b, "  A wait here stalls every task on this runtime. "
                       "Await it (tokio::sync), or move it to\n"
                       "  tokio::task::spawn_blocking (docs/migration.md)."
                       "\n");
    else
        lg__buf_str(b, "  A receive here stalls every callback on this "
                       "loop. Hand the work to a thread, or receive with\n"
                       "  lg_chan_recv_start() (docs/migration.md).\n");
}

static void text_summary(struct lg__buf *b, const struct lg__record *r)
{
    text_prefix(b, r);
    lg__buf_str(b, "summary: ");
    lg__buf_u64(b, r->count_total);
    lg__buf_str(b, r->count_total == 1 ? " blocking call at "
                                       : " blocking calls at ");
    lg__buf_u64(b, (uint64_t)r->sites_total);
    lg__buf_str(b, r->sites_total == 1 ? " site" : " sites");
    lg__buf_str(b, " on event-loop threads, ");
    text_ms(b, r->blocked_ns_total);
    lg__buf_str(b, " blocked\n");
    char name[SYM_MAX];
    int shown = 0;
    for (int i = 0; i < r->nsites; i++) {
        const struct lg__summary_site *s = &r->sites[i];
        size_t mark = b->len;
        lg__buf_str(b, "    ");
        lg__buf_u64(b, s->count);
        lg__buf_str(b, " x ");
        lg__buf_str(b, s->call);
        lg__buf_str(b, " in ");
        if (s->where.name) {
            lg__demangle(s->where.name, name, sizeof name);
            lg__buf_str(b, name);
        } else {
            lg__buf_str(b, "??");
        }
        lg__buf_str(b, " (");
        text_module(b, s->where.module, "?");
        lg__buf_chr(b, '+');
        lg__buf_hex(b, s->where.modoff);
        lg__buf_str(b, "), ");
        text_ms(b, s->blocked_ns);
        lg__buf_str(b, " blocked, site ");
        lg__buf_hex(b, s->site);
        lg__buf_chr(b, '\n');
        if (!lg__buf_fits_or_undo(b, mark, 64))
            break;
        shown++;
    }
    if (shown < r->sites_total) {
        lg__buf_str(b, "    ... ");
        lg__buf_u64(b, (uint64_t)(r->sites_total - shown));
        lg__buf_str(b, " more sites\n");
    }
}

size_t lg__format_text(char *buf, size_t cap, const struct lg__record *r,
                       int max_frames)
{
    struct lg__buf b;
    lg__buf_init(&b, buf, cap);
    if (r->type == LG__REC_SUMMARY)
        text_summary(&b, r);
    else
        text_blocking(&b, r, max_frames);
    return b.len;
}
