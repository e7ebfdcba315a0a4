/* Blocking calls on loop threads: decide, deduplicate, report, count.
 *
 * A report is written before the call is forwarded, because a call that
 * never returns never reports. Sites (a hash of the call and its stack) are
 * kept in a uthash table in never-freed arena memory, capped at MAX_SITES.
 * Past the cap a site keeps only its key, in a fixed set (KEYSET_SLOTS),
 * so that it is still reported once and counted among the sites; its calls
 * and their time are counted together, as not attributed to a site. The
 * summary's totals are exact whatever the caps; memory stays bounded.
 * The site lock guards the table only: symbolising and writing happen
 * outside it, so a slow write or the loader lock never stalls another
 * thread's dedupe hit.
 *
 * max_reports caps the records written (the summary aside): past it they
 * are counted, not formatted, and one cap_reached record says so. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lg-internal.h"

#undef uthash_malloc
#undef uthash_free
#define uthash_malloc(sz) lg__arena_alloc(sz)
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#define MAX_SITES 4096
#define SUMMARY_SITES 64     /* listed in the summary; the rest counted */
/* The keys of sites past the table: open addressing, linear probing, kept
 * at most three quarters full (a lookup that misses stays a few probes).
 * 4 MiB, mapped when the table first fills: a program with fewer sites
 * never pays for it. */
#define KEYSET_SLOTS (1u << 19)
#define KEYSET_MAX (KEYSET_SLOTS / 4 * 3)

struct site {
    uint64_t key;             /* hash of call name + stack */
    const char *call;
    uint64_t count;           /* atomic: calls made here */
    uint64_t blocked_ns;      /* atomic: time spent in them */
    void *where;              /* first frame outside the wrapped call */
    struct lg__pyname *py;    /* atomic: a Python frame of its first call,
                                 made from Python code (site_python): for
                                 the summary, whose native frame (the
                                 interpreter's) says nothing */
    int verdict;              /* atomic: suppression rules on this site,
                                 VERDICT_* or VERDICT_RULE + the rule */
    UT_hash_handle hh;
};

enum {
    VERDICT_UNKNOWN,          /* its first call is being looked at */
    VERDICT_REPORT,           /* no rule covers it */
    VERDICT_RULE              /* + i: suppressed by rule i */
};

static pthread_mutex_t site_lock = PTHREAD_MUTEX_INITIALIZER;
/* The record buffer is static, not on the reporting thread's stack, which
 * may be small; emit_lock guards it, and is only ever held around the log's
 * own lock (in that order, as lg__lock_register has them for fork). */
static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;
static char emit_buf[LG__RECORD_MAX];
/* A report's Python frames (emit_python), static for the same reason
 * (14 KiB; CPython lets a thread have 32 KiB of stack); py_lock is held
 * around emit_lock. */
static pthread_mutex_t py_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lg__py_stack py_buf;
static struct site *sites;
static unsigned n_sites;
static uint64_t n_violations;  /* atomic */
static uint64_t n_reports;     /* atomic: records reported (lg_reports) */
static uint64_t n_in_grace;    /* atomic: not reported, in a grace period */
static uint64_t n_allowed;     /* atomic: not reported, allowed by scope */
static uint64_t *keyset;       /* KEYSET_SLOTS keys, 0 = free; set under
                                  site_lock, slots claimed by CAS */
static uint32_t keyset_n;      /* atomic: keys in the set */
static uint32_t keyset_supp;   /* atomic: of those, suppressed sites */
static uint8_t keyset_full;    /* atomic: a site found no room in it */
static struct site unattributed;  /* calls at sites past the table */
static uint64_t n_records;     /* atomic: records to write so far, the
                                  summary aside, written or not */

static char *emit_write(const struct lg__record *r, size_t *len,
                        int *written);
static int emit(const struct lg__record *r);

void lg__report_init(void)
{
    lg__lock_register(&site_lock);
    lg__lock_register(&py_lock);
    lg__lock_register(&emit_lock);
    lg__cb_init();
}

uint64_t lg__violations(void)
{
    return __atomic_load_n(&n_violations, __ATOMIC_RELAXED);
}

void lg__report_fork_child(void)
{
    /* The table's entries stay in the arena, unused: the child starts
     * with none, and maps a key set of its own if it needs one. */
    sites = NULL;
    n_sites = 0;
    keyset = NULL;
    keyset_n = keyset_supp = 0;
    keyset_full = 0;
    memset(&unattributed, 0, sizeof unattributed);
    n_violations = n_reports = n_in_grace = n_allowed = n_records = 0;
    lg__supp_fork_child();
}

uint64_t lg__reports(void)
{
    return __atomic_load_n(&n_reports, __ATOMIC_RELAXED);
}

void lg__count_in_grace(void)
{
    __atomic_add_fetch(&n_in_grace, 1, __ATOMIC_RELAXED);
}

/* One multiply-xorshift round per frame: a site hash runs on every dedupe
 * hit, so it works a word at a time rather than a byte at a time. */
static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint64_t site_hash(const char *call, void *const *pcs, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = call; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    /* Python code makes every call from the interpreter's few native
     * call sites: its sites differ by their Python frames, by line. Of
     * the native frames only the call's own caller counts then
     * (time.sleep's C function, a lock's): the others are how the
     * interpreter got there, which changes between calls of one line
     * (3.11 calls through a generic path until it specialises the
     * instruction; a coroutine's first step and its resumptions come
     * from different callbacks of the loop). */
    struct lg__pyframe f[LG__PY_FRAMES];
    int k = lg__py_known() == 1 ? lg__py_frame_lines(f, LG__PY_FRAMES) : 0;
    if (k && n > 1)
        n = 1;
    for (int i = 0; i < n; i++)
        h = mix(h, (uintptr_t)pcs[i]);
    h = mix(h, (uint64_t)n);
    for (int i = 0; i < k; i++)
        h = mix(mix(h, (uintptr_t)f[i].code), (uint64_t)f[i].lasti);
    return h;
}

/* Adds key to the set of sites past the table: 1 when it was not there
 * (a new site, or one the full set cannot tell from a new one), else 0.
 * Lock-free: two threads adding one key race for one free slot, and the
 * loser finds the key there. Keys are never removed, so a free slot ends
 * every search. */
static int keyset_add(uint64_t *set, uint64_t key)
{
    if (!set) {
        __atomic_store_n(&keyset_full, 1, __ATOMIC_RELAXED);
        return 1;
    }
    key += !key;               /* 0 marks a free slot */
    uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 45);
    for (uint32_t probes = 0; probes < KEYSET_SLOTS; probes++) {
        uint64_t *slot = &set[(i + probes) & (KEYSET_SLOTS - 1)];
        uint64_t k = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (k == key)
            return 0;
        if (k)
            continue;
        if (__atomic_load_n(&keyset_n, __ATOMIC_RELAXED) >= KEYSET_MAX)
            break;
        if (__atomic_compare_exchange_n(slot, &k, key, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&keyset_n, 1, __ATOMIC_RELAXED);
            return 1;
        }
        if (k == key)
            return 0;
    }
    __atomic_store_n(&keyset_full, 1, __ATOMIC_RELAXED);
    return 1;
}

/* Finds or adds the site and counts the call. *fresh is 1 for the first
 * call at a site. Past the table, the site is `unattributed`. */
static struct site *site_count(uint64_t key, const char *call, void *where,
                               int *fresh)
{
    struct site *s;
    uint64_t *set = NULL;
    *fresh = 0;
    pthread_mutex_lock(&site_lock);
    HASH_FIND(hh, sites, &key, sizeof key, s);
    if (!s && n_sites < MAX_SITES) {
        s = lg__arena_alloc(sizeof *s);
        if (s) {
            s->key = key;
            s->call = call;
            s->where = where;
            HASH_ADD(hh, sites, key, sizeof s->key, s);
            n_sites++;
            *fresh = 1;
        }
    }
    if (!s) {
        if (!keyset)
            keyset = lg__arena_alloc(KEYSET_SLOTS * sizeof *keyset);
        set = keyset;
    }
    pthread_mutex_unlock(&site_lock);
    if (!s) {
        *fresh = keyset_add(set, key);
        s = &unattributed;
    }
    __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
    return s;
}

/* Whether a Python source file is the standard library's: under
 * .../lib/python3.N/, not in its site-packages or dist-packages. */
static int python_stdlib(const char *file)
{
    const char *p = strstr(file, "/lib/python3.");
    if (!p || !(p = strchr(p + 13, '/')))
        return 0;
    return strncmp(p + 1, "site-packages/", 14) != 0 &&
           strncmp(p + 1, "dist-packages/", 14) != 0;
}

/* A new site's Python frame, when the call was made from Python code: the
 * innermost one outside the standard library (the program's line that
 * called threading's or queue's wait), else the innermost. */
static void site_python(struct site *s)
{
    if (lg__py_known() != 1)
        return;
    pthread_mutex_lock(&py_lock);
    int k = lg__py_frames(py_buf.f, py_buf.names, LG__PY_FRAMES), i = 0;
    while (i < k && python_stdlib(py_buf.names[i].file))
        i++;
    struct lg__pyname *py = k ? lg__arena_alloc(sizeof *py) : NULL;
    if (py) {
        *py = py_buf.names[i < k ? i : 0];
        __atomic_store_n(&s->py, py, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&py_lock);
}

static void fill_thread(struct lg__record *r)
{
    r->ts_ns = lg__wall_ns();
    r->pid = getpid();
    r->tid = lg__gettid();
    memset(r->thread, 0, sizeof r->thread);
    if (prctl(PR_GET_NAME, r->thread) != 0)
        r->thread[0] = '\0';
}

void lg__report_fill_thread(struct lg__record *r, pid_t tid)
{
    r->ts_ns = lg__wall_ns();
    r->pid = getpid();
    r->tid = tid;
    lg__task_name(tid, r->thread);
}

int lg__report_suppressed(const struct lg__record *r)
{
    int rule = lg__supp_record(r);
    if (rule < 0)
        return 0;
    lg__supp_hit(rule);
    return 1;
}

/* Takes a place for one record under max_reports: 1 to write it, 0 when
 * the cap keeps it from the log (it is counted: the summary says how many).
 * The first record kept back writes the one cap_reached record. */
static int record_claim(void)
{
    uint64_t n = __atomic_fetch_add(&n_records, 1, __ATOMIC_RELAXED);
    uint64_t max = (uint64_t)lg__opt.max_reports;
    if (max == 0 || n < max)
        return 1;
    if (n == max) {
        struct lg__record r = {.type = LG__REC_CAP_REACHED};
        fill_thread(&r);
        r.max_reports = max;
        emit(&r);
    }
    return 0;
}

int lg__report_emit(const struct lg__record *r, int violation)
{
    if (lg__report_suppressed(r))
        return 0;
    size_t len;
    char *cb = lg__report_write(r, violation, &len);
    if (cb)
        lg__cb_give(cb, len);
    return 1;
}

char *lg__report_write(const struct lg__record *r, int violation,
                       size_t *len)
{
    if (violation)
        __atomic_add_fetch(&n_violations, 1, __ATOMIC_RELAXED);
    *len = 0;
    /* A deadlock is reported past the cap: it ends the program's story
     * (and, with mode=abort, the program), after any flood. */
    if (r->type != LG__REC_DEADLOCK && !record_claim())
        return NULL;
    return emit_write(r, len, NULL);
}

/* Writes the record; *written (if not NULL) says whether the log or
 * stderr took it. Returns its JSON for the embedder's callback (len
 * bytes; NULL when none is set), to be handed over with lg__cb_give once
 * the caller holds none of our locks (callback.c says why). */
static char *emit_write(const struct lg__record *r, size_t *len,
                        int *written)
{
    /* Reports only. Not the summary: written at exit, when the embedder's
     * state the callback uses may already be gone; nor the cap's notice,
     * written inside another record's claim, maybe under a lock of ours;
     * nor a call's end, which only a log's timeline needs. */
    int report = r->type != LG__REC_SUMMARY &&
                 r->type != LG__REC_CAP_REACHED &&
                 r->type != LG__REC_BLOCKING_END;
    char *cb = report ? lg__cb_take() : NULL;
    size_t n = 0, ncb = 0;
    int json = lg__opt.format == LG__FORMAT_JSON;
    lg__src_fill(r);          /* file:line, from the symbolizer */
    pthread_mutex_lock(&emit_lock);
    /* A log file that fails is given up for stderr, whose records may be
     * smaller (PIPE_BUF): the record is formatted again for it. */
    for (int tries = 0; tries < 2; tries++) {
        size_t cap = lg__log_record_max();
        if (cap > sizeof emit_buf)
            cap = sizeof emit_buf;
        n = json ? lg__format_json(emit_buf, cap, r, lg__opt.max_frames)
                 : lg__format_text(emit_buf, cap, r, lg__opt.max_frames);
        int w = lg__log_write(emit_buf, n);
        if (written)
            *written = w == 0;
        if (w <= 0)
            break;
    }
    if (cb && json) {
        memcpy(cb, emit_buf, n);
        ncb = n;
    } else if (cb) {
        ncb = lg__format_json(cb, LG__RECORD_MAX - 1, r, lg__opt.max_frames);
    }
    pthread_mutex_unlock(&emit_lock);
    if (report)
        __atomic_add_fetch(&n_reports, 1, __ATOMIC_RELAXED);
    *len = ncb;
    return cb;
}

/* 1 when the record was written. */
static int emit(const struct lg__record *r)
{
    size_t len;
    int written = 0;
    char *cb = emit_write(r, &len, &written);
    if (cb)
        lg__cb_give(cb, len);
    return written;
}

/* The call's stack as reports show it: the wrapped function, then its
 * callers. Returns the count. */
static int symbolize_call(const struct lg__wait *w, void *const *pcs, int n,
                          struct lg__sym *stack)
{
    int ns = 0;
    if (w->fn)
        lg__symbolize((uintptr_t)w->fn, 0, &stack[ns++]);
    for (int i = 0; i < n && ns < LG__MAX_FRAMES + 1; i++)
        lg__symbolize((uintptr_t)pcs[i], 1, &stack[ns++]);
    return ns;
}

int lg__py_merge(const struct lg__sym *stack, int n,
                 const struct lg__pyframe *f, const struct lg__pyname *names,
                 int k, struct lg__sym *merged)
{
    int used = 0, m = 0;
    for (int i = 0; k && i <= n; i++) {
        int eval = i == n ||
                   (stack[i].name &&
                    strcmp(stack[i].name, "_PyEval_EvalFrameDefault") == 0);
        /* A C eval call's frames end with the one it was entered with. */
        while (eval && used < k) {
            merged[m++] = (struct lg__sym){
                .name = names[used].func,
                .module = names[used].file,
                .modoff = (uintptr_t)names[used].line,
                .symoff = LG__SYM_PYTHON};
            if (f[used++].entry && i < n)
                break;
        }
        if (i < n)
            merged[m++] = stack[i];
    }
    return m;
}

int lg__py_stack_of(pid_t tid, const struct lg__sym **stack, int *n,
                    struct lg__py_stack *buf)
{
    if (lg__py_known() != 1)
        return 0;
    int k = lg__py_frames_of(tid, buf->f, buf->names, LG__PY_FRAMES);
    if (k) {
        *n = lg__py_merge(*stack, *n, buf->f, buf->names, k, buf->merged);
        *stack = buf->merged;
    }
    return k;
}

/* Emits r with the calling thread's Python frames in its stack
 * (lg__py_merge). */
static int emit_python(struct lg__record *r)
{
    pthread_mutex_lock(&py_lock);
    int k = lg__py_frames(py_buf.f, py_buf.names, LG__PY_FRAMES);
    if (k) {
        r->nstack = lg__py_merge(r->stack, r->nstack, py_buf.f,
                                 py_buf.names, k, py_buf.merged);
        r->stack = py_buf.merged;
        r->py_frames = k;
    }
    int written = emit(r);
    pthread_mutex_unlock(&py_lock);
    return written;
}

/* The loop of the report: the thread's innermost mark, or the runner
 * found in its stack (sl, when sl->runner >= 0). The stack is the call's,
 * symbolized (ns < 0: not yet). Returns 1 when it was written. */
static int report(const struct lg__wait *w, void *const *pcs, int n,
                   uint64_t key, const struct lg__stack_loop *sl,
                   struct lg__sym *stack, int ns)
{
    struct lg__sym lstack[LG__MAX_FRAMES + 1];
    if (ns < 0)
        ns = symbolize_call(w, pcs, n, stack);

    struct lg__record r = {.type = LG__REC_BLOCKING_CALL};
    fill_thread(&r);
    r.call = w->call;
    r.object = w->object;
    r.timeout_ns = w->timeout_ns;
    r.site = key;
    /* Another process may write to a pipe: only one no other can. A
     * signal handler may wake a futex word or write to a pipe (not signal
     * a cond): not when the program has one. */
    r.self_wait = w->touch && lg__touched_only_by_me(w->touch) &&
                  (w->touch_fd < 0 || lg__pipe_in_process(w->touch_fd)) &&
                  (strncmp(w->object, "cond", 4) == 0 ||
                   !lg__async_handler());
    r.stack = stack;
    r.nstack = ns;
    const struct lg__loop_mark *m = lg__loop_stalled();
    if (sl->runner >= 0) {
        /* Entered where the outermost runner frame was called from. */
        r.has_loop = 1;
        r.loop_kind = sl->kind;
        r.loop_via = LG__VIA_STACK;
        r.loop_id = sl->runner_fn;
        int nl = 0;
        for (int i = sl->runner; i < n && nl < LG__MAX_FRAMES + 1; i++)
            lg__symbolize((uintptr_t)pcs[i], 1, &lstack[nl++]);
        r.loop_stack = lstack;
        r.nloop_stack = nl;
    } else if (m) {
        r.has_loop = 1;
        r.loop_kind = m->kind;
        r.loop_via = m->via;
        r.loop_id = m->id;
        int nl = 0;
        if (m->runner)
            lg__symbolize((uintptr_t)m->runner, 0, &lstack[nl++]);
        for (int i = 0; i < m->nframes && nl < LG__MAX_FRAMES + 1; i++)
            lg__symbolize((uintptr_t)m->frames[i], 1, &lstack[nl++]);
        r.loop_stack = lstack;
        r.nloop_stack = nl;
    }
    if (lg__py_known() == 1)
        return emit_python(&r);
    if (lg__py_known() < 0)
        r.py_frames = -1;     /* a CPython whose frames are not read */
    return emit(&r);
}

/* The site's suppression verdict: decided on its first call (by every
 * thread that finds it undecided: the first may still be at it, and none
 * waits for another) from the symbolized stack, and kept with the site, so
 * that its later calls cost what a dedupe hit does. Returns the rule that
 * covers it, or -1; *ns is the stack's size when it was symbolized here. */
static int site_verdict(struct site *s, const struct lg__wait *w,
                        void *const *pcs, int n, struct lg__sym *stack,
                        int *ns)
{
    int v = s ? __atomic_load_n(&s->verdict, __ATOMIC_ACQUIRE)
              : VERDICT_UNKNOWN;
    if (v != VERDICT_UNKNOWN)
        return v - VERDICT_RULE;
    v = VERDICT_REPORT;
    if (lg__supp_need_stack()) {
        *ns = symbolize_call(w, pcs, n, stack);
        int f = w->fn != NULL;        /* the wrapped function is no frame
                                         a rule looks at */
        int rule = lg__supp_match(NULL, LG__REC_BLOCKING_CALL, w->call,
                                  stack + f, *ns - f);
        if (rule >= 0)
            v = VERDICT_RULE + rule;
    }
    if (s)
        __atomic_store_n(&s->verdict, v, __ATOMIC_RELEASE);
    return v - VERDICT_RULE;
}

/* A call: rule for this call: counted, and 1. */
static int call_suppressed(const struct lg__wait *w)
{
    int rule = lg__supp_call(w->call);
    if (rule < 0)
        return 0;
    lg__supp_hit(rule);
    return 1;
}

void lg__wait_begin(struct lg__wait *w)
{
    int saved = errno;
    w->site = NULL;
    w->start_ns = 0;
    w->noted = 0;
    w->own = 0;
    w->recorded = 0;
    /* Our own work (opening a module's file, writing the log) must not be
     * where a pending cancellation strikes: the real call stays the only
     * cancellation point, and no lock or half-built table is left behind. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    lg__tls.in_shim = 1;
    lg__init();
    if (lg__exiting)
        goto out;
    /* A call: rule needs no stack, on a thread known to be on a loop
     * without one (not an epoll or poll loop's, whose function may have
     * returned: the stack says). The watchdog is told of the call,
     * stackless. */
    const struct lg__loop_mark *m0 = lg__loop_current();
    int call_early = ((lg__tls.depth != 0 && !lg__mark_by_behaviour(m0))
                      || w->decided) && !(w->fs_only && !lg__tls.sync_fs);
    if (call_early && call_suppressed(w)) {
        if (lg__tls.depth != 0) {
            void *none[1];
            lg__loop_in_call(w, none, 0);
            w->noted = 1;
        }
        goto out;
    }
    /* CPython: a thread on no loop may be inside asyncio's; with no
     * runner compiled in, only there, which is asked before a stack is
     * taken. */
    const void *py = lg__tls.depth == 0 && !w->decided ? lg__py_loop()
                                                       : NULL;
    if (lg__tls.depth == 0 && !w->decided &&
        !(lg__stack_loops & LG__SL_RUNNER) && !py)
        goto out;
    void *pcs[LG__MAX_FRAMES];
    int n = lg__stack_capture(pcs, LG__MAX_FRAMES);
    if (n == 0 && w->caller)
        pcs[n++] = w->caller;
    /* A write, or an open of a FIFO, is judged only when a synchronous
     * libuv fs request makes it: the program asked libuv to wait. */
    if (w->fs_only && !lg__in_sync_fs(pcs, n))
        goto out;
    if (lg__tls.depth != 0) {
        lg__loop_in_call(w, pcs, n);
        w->noted = 1;
    }
    if (!w->decided && lg__ignored_caller(pcs, n))
        goto out;
    /* A thread that entered no loop by a wrapped runner or the API is on
     * one only inside a runner found in its stack, and not in its park. */
    struct lg__stack_loop sl = {.runner = -1};
    if (lg__tls.depth == 0 && !w->decided &&
        !lg__loopcat_classify(pcs, n, &sl)) {
        /* asyncio's loop thread, before its loop first polled: the seed's
         * shape, a first task that blocks. */
        if (!py || lg__loop_enter(LG__LOOP_ASYNCIO, LG__VIA_EPOLL, py, NULL,
                                  w->caller) != 0)
            goto out;
        lg__loop_in_call(w, pcs, n);
        w->noted = 1;
    } else if (lg__tls.depth == 0 && !w->decided) {
        if (!sl.own && lg__loop_dormant())
            goto out;
        lg__loop_found();
        if (sl.own) {
            /* The loop's own park or poll: it is idle, and watched for
             * stalls from now on (if its kind can be). */
            lg__stack_loop_own(&sl, pcs, n,
                               strncmp(w->call, "epoll", 5) == 0);
            if (lg__tls.sloop) {
                w->own = 1;
                lg__loop_idle(1);
            }
            goto out;
        }
        if (lg__tls.sloop) {
            lg__loop_in_call(w, pcs, n);
            w->noted = 1;
        }
    }
    /* On a loop thread: V8's, Node's and CPython's own waits are not the
     * program's. */
    if (!w->decided &&
        (lg__runtime_own_wait(pcs, n,
                              strncmp(w->object, "cond", 4) == 0 ? w->touch
                                                                 : NULL) ||
         (lg__py_known() == 1 && lg__py_own_wait())))
        goto out;
    /* An epoll or poll loop lasts while the function that polled runs
     * (in a fork child too: one that left it may poll a loop of its own,
     * found anew once the stale mark is gone). */
    struct lg__loop_mark *m = (struct lg__loop_mark *)lg__loop_current();
    if (lg__mark_by_behaviour(m) && !lg__loop_mark_live(m, pcs, n)) {
        lg__loop_leave();
        goto out;
    }
    /* A fork child still in its parent's callback blocks no loop. */
    if (lg__loop_dormant())
        goto out;
    if (!call_early && call_suppressed(w))
        goto out;
    /* Accepted blocking: not reported, not a site, only counted. */
    if (lg__tls.allow) {
        __atomic_add_fetch(&n_allowed, 1, __ATOMIC_RELAXED);
        goto out;
    }
    if (lg__opt.grace_ms && lg__loop_in_grace()) {
        lg__count_in_grace();
        goto out;
    }
    uint64_t key = site_hash(w->call, pcs, n);
    int fresh;
    struct site *s = site_count(key, w->call, n ? pcs[0] : NULL, &fresh);
    if (fresh && s != &unattributed)
        site_python(s);
    struct lg__sym stack[LG__MAX_FRAMES + 1];
    int ns = -1;
    /* Past the table a site keeps no verdict: `unattributed` is shared. */
    int past = s == &unattributed;
    int rule = site_verdict(past ? NULL : s, w, pcs, n, stack, &ns);
    if (rule >= 0) {
        lg__supp_hit(rule);
        if (past) {
            /* Not the program's to answer for: out of the totals. */
            __atomic_sub_fetch(&unattributed.count, 1, __ATOMIC_RELAXED);
            if (fresh)
                __atomic_add_fetch(&keyset_supp, 1, __ATOMIC_RELAXED);
        }
    } else {
        __atomic_add_fetch(&n_violations, 1, __ATOMIC_RELAXED);
        if ((fresh || !lg__opt.dedupe) && record_claim()) {
            /* Its end follows a record that was written, not one lost. */
            w->recorded = report(w, pcs, n, key, &sl, stack, ns);
            w->key = key;
        }
    }
    /* A loop found through its stack was never entered: the watchdog
     * starts with its first blocking call (the deadlock it may be). */
    lg__watch_loop();
    if (rule >= 0)
        goto out;
    if (lg__opt.mode == LG__MODE_ABORT)
        abort();
    w->site = s;
    w->start_ns = lg__now_ns();
out:
    lg__tls.in_shim = 0;
    pthread_setcancelstate(cancel_state, NULL);
    errno = saved;
}

/* The record that a reported call returned, for the timeline of
 * `loopguard report --html`: JSON logs only (a text reader has the
 * summary's times), outside max_reports (it follows a record the cap let
 * through and the log took: a JSON log holds at most twice max_reports
 * records, and the two special ones), never to the embedder's callback. */
static void report_end(const struct lg__wait *w, uint64_t blocked_ns)
{
    if (lg__opt.format != LG__FORMAT_JSON)
        return;
    int saved = errno, cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int in_shim = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    struct lg__record r = {.type = LG__REC_BLOCKING_END};
    fill_thread(&r);
    r.call = w->call;
    r.site = w->key;
    r.blocked_ns = blocked_ns;
    size_t len;
    emit_write(&r, &len, NULL);
    lg__tls.in_shim = in_shim;
    pthread_setcancelstate(cancel_state, NULL);
    errno = saved;
}

void lg__wait_end(struct lg__wait *w)
{
    if (w->own) {
        lg__loop_idle(0);
        w->own = 0;
    }
    if (w->noted) {
        lg__loop_out_call();
        w->noted = 0;
    }
    struct site *s = w->site;
    if (!s)
        return;
    uint64_t d = lg__now_ns() - w->start_ns;
    __atomic_add_fetch(&s->blocked_ns, d, __ATOMIC_RELAXED);
    w->site = NULL;
    if (w->recorded) {
        w->recorded = 0;
        report_end(w, d);
    }
}

void lg__wait_cancelled(void *w)
{
    lg__wait_end(w);
}

/* Whether our parent process has the preload loaded: then it, or an
 * ancestor, is the process the user watched, and this one is a child it
 * ran (a shell, a compiler) whose lack of a loop is no news. Unreadable:
 * taken as watched, to stay quiet. */
static int parent_watched(void)
{
    static const char needle[] = "/libloopguard-preload.so";
    char path[64], buf[4096 + sizeof needle];
    struct lg__buf b;
    lg__buf_init(&b, path, sizeof path);
    lg__buf_str(&b, "/proc/");
    lg__buf_i64(&b, getppid());
    lg__buf_str(&b, "/maps");
    lg__buf_chr(&b, '\0');
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    size_t keep = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf + keep, sizeof buf - 1 - keep);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t have = keep + (size_t)n;
        buf[have] = '\0';
        if (memmem(buf, have, needle, sizeof needle - 1)) {
            found = 1;
            break;
        }
        /* A name cut at the chunk's end is whole in the next one. */
        keep = have < sizeof needle - 1 ? have : sizeof needle - 1;
        memmove(buf, buf + have - keep, keep);
    }
    close(fd);
    return found;
}

void lg__report_summary(void)
{
    struct lg__summary_site list[SUMMARY_SITES];
    void *where[SUMMARY_SITES];
    const struct lg__pyname *py[SUMMARY_SITES];
    static struct lg__summary_rule rules[LG__SUPP_MAX];
    struct lg__record r = {.type = LG__REC_SUMMARY};
    int n = 0;
    pthread_mutex_lock(&site_lock);
    for (struct site *s = sites; s; s = s->hh.next) {
        /* A suppressed site is not the program's to answer for. */
        if (__atomic_load_n(&s->verdict, __ATOMIC_RELAXED) >= VERDICT_RULE)
            continue;
        uint64_t c = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
        uint64_t t = __atomic_load_n(&s->blocked_ns, __ATOMIC_RELAXED);
        r.count_total += c;
        r.blocked_ns_total += t;
        r.sites_total++;
        if (n < SUMMARY_SITES) {
            list[n] = (struct lg__summary_site){s->key, s->call, c, t, {0}};
            py[n] = __atomic_load_n(&s->py, __ATOMIC_ACQUIRE);
            where[n++] = s->where;
        }
    }
    pthread_mutex_unlock(&site_lock);
    r.in_grace = __atomic_load_n(&n_in_grace, __ATOMIC_RELAXED);
    r.allowed = __atomic_load_n(&n_allowed, __ATOMIC_RELAXED);
    r.nrules = lg__supp_used(rules, LG__SUPP_MAX);
    r.rules = rules;
    r.unattr_count = __atomic_load_n(&unattributed.count, __ATOMIC_RELAXED);
    r.unattr_ns = __atomic_load_n(&unattributed.blocked_ns, __ATOMIC_RELAXED);
    r.count_total += r.unattr_count;
    r.blocked_ns_total += r.unattr_ns;
    r.sites_total += (int)(__atomic_load_n(&keyset_n, __ATOMIC_RELAXED) -
                           __atomic_load_n(&keyset_supp, __ATOMIC_RELAXED));
    r.sites_lower_bound = __atomic_load_n(&keyset_full, __ATOMIC_RELAXED);
    uint64_t records = __atomic_load_n(&n_records, __ATOMIC_RELAXED);
    uint64_t max = (uint64_t)lg__opt.max_reports;
    r.not_written = max && records > max ? records - max : 0;
    r.lost = lg__log_lost();
    r.loops_found = lg__loops_found();
    /* Nothing to say, unless no loop was found at all in the process the
     * user watched: silence would read as "clean", not "not checked". */
    if (r.count_total == 0 && records == 0 && r.lost == 0 && !r.in_grace &&
        !r.allowed && r.nrules == 0 &&
        (r.loops_found || parent_watched()))
        return;
    for (int i = 0; i < n; i++) {
        if (py[i])
            list[i].where = (struct lg__sym){
                .name = py[i]->func,
                .module = py[i]->file,
                .modoff = (uintptr_t)py[i]->line,
                .symoff = LG__SYM_PYTHON};
        else
            lg__symbolize((uintptr_t)where[i], 1, &list[i].where);
    }
    fill_thread(&r);
    r.sites = list;
    r.nsites = n;
    emit(&r);
}

static void object_prefix(struct lg__buf *b, struct lg__wait *w,
                          const char *what)
{
    lg__buf_init(b, w->object, sizeof w->object);
    lg__buf_str(b, what);
    lg__buf_chr(b, ' ');
}

void lg__object_ptr(struct lg__wait *w, const char *what, const void *p)
{
    struct lg__buf b;
    object_prefix(&b, w, what);
    lg__buf_hex(&b, (uintptr_t)p);
}

void lg__object_num(struct lg__wait *w, const char *what, long n)
{
    struct lg__buf b;
    object_prefix(&b, w, what);
    lg__buf_i64(&b, n);
}

void lg__object_path(struct lg__wait *w, const char *what, const char *path)
{
    struct lg__buf b;
    object_prefix(&b, w, what);
    lg__buf_shown(&b, path, strlen(path), 40);
}

void lg__object_fd(struct lg__wait *w, int fd, unsigned cls)
{
    struct lg__buf b;
    object_prefix(&b, w, "fd");
    lg__buf_i64(&b, fd);
    lg__buf_str(&b, " (");
    lg__buf_str(&b, lg__fd_kind_name(cls));
    lg__buf_chr(&b, ')');
}
