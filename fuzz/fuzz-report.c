/* Reports (format-json.c, format-text.c): whatever the names in a record
 * (symbols and paths are bytes from the host, in any encoding and of any
 * length) and however many frames, a record is one complete line group
 * within its cap: the JSON form one line the strict test parser accepts,
 * the text form newline-terminated. The input picks the record's type,
 * cap, counts and every string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "json.h"
#include "lg-internal.h"

#define MAX_SYMS 80           /* above LG__MAX_FRAMES: counts are clamped */
#define MAX_THREADS 6
#define NAME_MAX_FZ 700       /* a long Rust symbol */

static char buf[LG__RECORD_MAX + 1];
static char *owned[4 * MAX_SYMS + 4 * MAX_THREADS + 16];
static int nowned;

static char *str(struct fz *f, size_t max)
{
    char *s = fz_str(f, max);
    owned[nowned++] = s;
    return s;
}

/* A string that may be NULL (the formats say "unknown" or null). */
static char *str_or_null(struct fz *f, size_t max)
{
    return fz_byte(f) & 1 ? str(f, max) : NULL;
}

static void copy_to(char *dst, size_t cap, struct fz *f)
{
    char *s = fz_str(f, cap - 1);
    strcpy(dst, s);
    free(s);
}

static struct lg__sym *syms(struct fz *f, int *n)
{
    static struct lg__sym pool[2][MAX_SYMS];
    static int which;
    struct lg__sym *v = pool[which++ & 1];
    *n = (int)(fz_byte(f) % (MAX_SYMS + 1));
    int distinct = 1 + (int)(fz_byte(f) % 4);   /* frames repeat names */
    for (int i = 0; i < *n; i++) {
        if (i < distinct) {
            v[i].pc = (uintptr_t)fz_byte(f) << 40 | fz_byte(f);
            v[i].module = str_or_null(f, NAME_MAX_FZ);
            v[i].modoff = fz_byte(f) * 4099u;
            v[i].name = str_or_null(f, NAME_MAX_FZ);
            v[i].symoff = fz_byte(f);
        } else {
            v[i] = v[i % distinct];
        }
    }
    return v;
}

static void check(const char *what, size_t n, size_t cap)
{
    if (n == 0 || n >= cap || strlen(buf) != n || buf[n - 1] != '\n') {
        fprintf(stderr, "%s: returned %zu, cap %zu, strlen %zu: %.2000s\n",
                what, n, cap, strlen(buf), buf);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    static const size_t caps[] = {4096, 8192, LG__RECORD_MAX};
    static const char *const calls[] = {"pthread_cond_wait", "read",
                                        "epoll_wait", "sem_wait", NULL};
    struct lg__record r = {0};
    struct lg__thread_report th[MAX_THREADS];
    struct lg__summary_site sites[MAX_THREADS];
    nowned = 0;

    r.type = (int)(fz_byte(&f) % 5);
    size_t cap = caps[fz_byte(&f) % 3];
    int max_frames = 1 + (int)(fz_byte(&f) % LG__MAX_FRAMES);
    r.ts_ns = (uint64_t)fz_byte(&f) << 56 | fz_byte(&f);
    r.pid = (pid_t)fz_byte(&f);
    r.tid = (pid_t)(fz_byte(&f) << 8 | fz_byte(&f));
    copy_to(r.thread, sizeof r.thread, &f);
    /* The records the core makes: a blocking call always names its call;
     * a stall or a deadlocked thread may be in none. */
    r.call = calls[fz_byte(&f) % (r.type == LG__REC_BLOCKING_CALL ? 4 : 5)];
    r.object = str_or_null(&f, LG__OBJ_MAX - 1);
    r.timeout_ns = fz_byte(&f) & 1 ? -1 : (int64_t)fz_byte(&f) * 999999;
    r.has_loop = fz_byte(&f) & 1;
    r.loop_kind = (int)(fz_byte(&f) % LG__LOOP_KIND_COUNT);
    r.loop_via = (int)(fz_byte(&f) % LG__VIA_COUNT);
    r.loop_id = (const void *)(uintptr_t)fz_byte(&f);
    r.site = (uint64_t)fz_byte(&f) * 0x9e3779b97f4a7c15u;
    r.self_wait = fz_byte(&f) & 1;
    r.stall_ended = fz_byte(&f) & 1;
    r.stalled_ns = (uint64_t)fz_byte(&f) * 1000003;
    r.doing = fz_byte(&f) & 1 ? "running" : NULL;
    r.stack = syms(&f, &r.nstack);
    r.loop_stack = syms(&f, &r.nloop_stack);
    if (r.nstack > LG__MAX_FRAMES)
        r.nstack = LG__MAX_FRAMES;
    if (r.nloop_stack > LG__MAX_FRAMES)
        r.nloop_stack = LG__MAX_FRAMES;

    r.nthreads = (int)(fz_byte(&f) % (MAX_THREADS + 1));
    r.threads_total = r.nthreads + (int)(fz_byte(&f) % 3);
    for (int i = 0; i < r.nthreads; i++) {
        th[i].tid = (pid_t)fz_byte(&f);
        copy_to(th[i].name, sizeof th[i].name, &f);
        th[i].call = calls[fz_byte(&f) % 5];
        copy_to(th[i].object, sizeof th[i].object, &f);
        copy_to(th[i].held, sizeof th[i].held, &f);
        th[i].stack = r.stack;
        th[i].nstack = r.nstack ? (int)(fz_byte(&f) % r.nstack) : 0;
    }
    r.threads = th;
    r.nsites = (int)(fz_byte(&f) % (MAX_THREADS + 1));
    r.sites_total = r.nsites + (int)(fz_byte(&f) % 3);
    for (int i = 0; i < r.nsites; i++) {
        sites[i].site = fz_byte(&f);
        sites[i].call = calls[fz_byte(&f) % 4];
        sites[i].count = fz_byte(&f);
        sites[i].blocked_ns = (uint64_t)fz_byte(&f) << 30;
        sites[i].where = r.nstack ? r.stack[0] : (struct lg__sym){0};
        r.count_total += sites[i].count;
        r.blocked_ns_total += sites[i].blocked_ns;
    }
    r.sites = sites;
    /* Read last, so that older seeds keep their meaning. */
    r.sites_lower_bound = fz_byte(&f) & 1;
    r.unattr_count = (uint64_t)fz_byte(&f) << 40;
    r.unattr_ns = (uint64_t)fz_byte(&f) << 56;
    r.not_written = fz_byte(&f);
    r.lost = (uint64_t)fz_byte(&f) * 0x9e3779b97f4a7c15u;
    r.max_reports = fz_byte(&f);
    if (fz_byte(&f) & 0x80)
        r.type = LG__REC_CAP_REACHED;

    size_t n = lg__format_json(buf, cap, &r, max_frames);
    check("json", n, cap);
    if (memchr(buf, '\n', n - 1))
        abort();
    char err[160];
    struct json *j = json_parse(buf, n, err, sizeof err);
    if (!j)
        abort();
    json_free(j);

    n = lg__format_text(buf, cap, &r, max_frames);
    check("text", n, cap);

    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return 0;
}
