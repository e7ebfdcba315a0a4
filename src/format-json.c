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

static void json_frame(struct lg__buf *b, const struct lg__sym *s)
{
    char name[SYM_MAX];
    lg__buf_str(b, "{\"pc\":\"");
    lg__buf_hex(b, s->pc);
    lg__buf_str(b, "\",\"symbol\":");
    if (s->name) {
        size_t n = lg__demangle(s->name, name, sizeof name);
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
    lg__buf_chr(b, '}');
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
        json_frame(b, &f[i]);
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
    if (r->timeout_ns < 0) {
        lg__buf_str(b, "null");
    } else {
        /* Milliseconds with three decimals, without floating point. */
        lg__buf_u64(b, (uint64_t)r->timeout_ns / 1000000);
        uint64_t frac = (uint64_t)r->timeout_ns % 1000000 / 1000;
        lg__buf_chr(b, '.');
        lg__buf_chr(b, (char)('0' + frac / 100));
        lg__buf_chr(b, (char)('0' + frac / 10 % 10));
        lg__buf_chr(b, (char)('0' + frac % 10));
    }
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
    lg__buf_str(b, ",\"site\":\"");
    lg__buf_hex(b, r->site);
    lg__buf_str(b, "\",\"stack\":");
    /* The stack has priority over loop_stack for the room left. */
    int dropped = json_frames(b, r->stack, r->nstack, max_frames,
                              TAIL_RESERVE);
    lg__buf_str(b, ",\"loop_stack\":");
    int ldropped = json_frames(b, r->loop_stack, r->nloop_stack, max_frames,
                               TAIL_RESERVE / 2);
    if (dropped > 0 || ldropped > 0) {
        lg__buf_str(b, ",\"frames_dropped\":");
        lg__buf_u64(b, (uint64_t)(dropped + ldropped));
    }
    lg__buf_str(b, "}\n");
}

static void json_summary(struct lg__buf *b, const struct lg__record *r)
{
    json_head(b, r, "summary");
    lg__buf_str(b, ",\"count\":");
    lg__buf_u64(b, r->count_total);
    lg__buf_str(b, ",\"blocked_ns\":");
    lg__buf_u64(b, r->blocked_ns_total);
    lg__buf_str(b, ",\"sites_total\":");
    lg__buf_u64(b, (uint64_t)r->sites_total);
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
        if (!lg__buf_fits_or_undo(b, mark, 8))
            break;
    }
    lg__buf_str(b, "]}\n");
}

size_t lg__format_json(char *buf, size_t cap, const struct lg__record *r,
                       int max_frames)
{
    struct lg__buf b;
    lg__buf_init(&b, buf, cap);
    if (r->type == LG__REC_SUMMARY)
        json_summary(&b, r);
    else
        json_blocking(&b, r, max_frames);
    return b.len;
}
