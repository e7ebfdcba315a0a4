/* The loop-thread registry: which threads run which loop, and where each
 * loop began. A thread's record is allocated the first time it enters a
 * loop and freed by a thread-exit key destructor; the registry (a uthash
 * table keyed by a creation counter, since kernel tids are reused) lets
 * other threads enumerate loop threads later (watchdog, deadlock reports).
 *
 * Invariants: a record is reachable from the table iff its thread is alive
 * and has entered a loop at least once (or waited in the own poll of a
 * loop found through its stack, or asked for its grace period there); only its own thread writes its marks;
 * the table is changed only under reg_lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>

#include "lg-internal.h"

__thread struct lg__tls lg__tls __attribute__((tls_model("initial-exec")));

struct lg__thread {
    uint64_t gen;                     /* creation counter: the hash key */
    pid_t tid;                        /* kernel id, refreshed after fork */
    uint8_t depth_recorded;           /* marks[] in use (<= LG__MAX_NEST) */
    /* Read by the watchdog (under reg_lock), written by the thread. */
    uint8_t on_loop;                  /* depth != 0 */
    uint8_t idle;                     /* in the loop's own wait */
    uint8_t in_call;                  /* in a wrapped blocking call */
    uint8_t stack_found;              /* on a loop found by its stack */
    uint8_t dormant;                  /* a fork child's marks, asleep
                                         (lg__loop_dormant) */
    uint32_t progress;                /* bumped at every own poll */
    uint64_t busy_ns;                 /* when it last went busy: left its
                                         own wait, polled without waiting,
                                         entered or left a loop; written
                                         before progress */
    uint8_t stalled;                  /* a stall was reported and has not
                                         ended: whoever clears it (the
                                         thread back in its loop, or the
                                         watchdog) writes the end */
    uint64_t stall_since_ns;
    uint64_t loop_since_ns;           /* when it first became a loop
                                         thread: its grace period's start */
    const char *call;                 /* in_call: the call, */
    char object[LG__OBJ_MAX];         /* what it waits on, */
    int64_t timeout_ns;
    int nwait;                        /* and its stack */
    void *wait_pcs[LG__MAX_FRAMES];
    struct lg__loop_mark marks[LG__MAX_NEST];
    UT_hash_handle hh;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lg__thread *reg_table;  /* by gen */
static uint64_t reg_next_gen = 1;
static pthread_key_t reg_key;
static uint32_t loops_found;          /* atomic: threads ever on a loop */
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static const char *const kind_names[] = {
#define XX(e, s) s,
    LG__LOOP_KIND_MAP(XX)
#undef XX
};
static const char *const via_names[] = {
#define XX(e, s) s,
    LG__LOOP_VIA_MAP(XX)
#undef XX
};

const char *lg__loop_kind_name(int kind)
{
    if (kind < 0 || kind >= LG__LOOP_KIND_COUNT)
        return "manual";
    return kind_names[kind];
}

const char *lg__loop_via_name(int via)
{
    if (via < 0 || via >= LG__VIA_COUNT)
        return "api";
    return via_names[via];
}

/* Runs at thread exit. Another library's key destructor that runs after
 * this one may call a wrapper again: `dead` keeps it from re-registering
 * (preload notes section 7). */
/* The thread is back (or gone): the stall the watchdog reported is over. */
static LG__COLD void stall_over(struct lg__thread *rec)
{
    if (!__atomic_exchange_n(&rec->stalled, 0, __ATOMIC_ACQ_REL))
        return;
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    /* Writing the record opens and writes files: a pending cancellation
     * must strike in the program's own call, not here. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    lg__stall_end(rec->tid, rec->depth_recorded ? &rec->marks[0] : NULL,
                  lg__now_ns() - rec->stall_since_ns);
    pthread_setcancelstate(cancel_state, NULL);
    lg__tls.in_shim = was;
    errno = saved;
}

/* The store of progress and the load of stalled are ordered (seq_cst)
 * against the watchdog's store of stalled and load of progress, so one of
 * the two always sees the other and the end of a stall is written. */
static inline void progress(struct lg__thread *rec)
{
    __atomic_store_n(&rec->progress, rec->progress + 1, __ATOMIC_SEQ_CST);
    if (LG__UNLIKELY(__atomic_load_n(&rec->stalled, __ATOMIC_SEQ_CST)))
        stall_over(rec);
}

/* Progress that starts a busy spell: a stall that follows is measured
 * from here, not from when the watchdog, a quarter of stall_ms later at
 * most, saw the progress. The coarse clock: this runs on every turn of
 * the loop, and a stall taken to start a tick early is never short. */
static inline void progress_busy(struct lg__thread *rec)
{
    __atomic_store_n(&rec->busy_ns, lg__coarse_ns(), __ATOMIC_RELAXED);
    progress(rec);
}

static void thread_exit(void *p)
{
    struct lg__thread *rec = p;
    lg__tls.in_shim = 1;
    /* Out of the table first: the watchdog cannot mark a stall after the
     * last look at it. */
    pthread_mutex_lock(&reg_lock);
    HASH_DEL(reg_table, rec);
    pthread_mutex_unlock(&reg_lock);
    stall_over(rec);
    lg__tls.rec = NULL;
    lg__tls.dead = 1;
    free(rec);
    lg__tls.in_shim = 0;
}

static void reg_fork_child(void)
{
    /* Threads do not survive fork: drop every record but our own. */
    struct lg__thread *rec, *tmp, *self = lg__tls.rec;
    HASH_ITER(hh, reg_table, rec, tmp) {
        if (rec != self) {
            HASH_DEL(reg_table, rec);
            free(rec);
        }
    }
    if (self) {
        self->tid = gettid();
        /* Forked inside a loop's callback, it serves the loop no more:
         * a child that works and exits (a server's child per connection)
         * blocks no one. Woken when it waits as the loop again. */
        if (lg__tls.depth || lg__tls.sloop) {
            self->dormant = 1;
            self->on_loop = 0;
            self->in_call = 0;
        }
    }
    lg__tls.found = 0;
    loops_found = 0;
}

int lg__loop_dormant(void)
{
    struct lg__thread *rec = lg__tls.rec;
    return rec && rec->dormant;
}

static void wake(struct lg__thread *rec)
{
    rec->dormant = 0;
    __atomic_store_n(&rec->on_loop, 1, __ATOMIC_RELEASE);
    lg__loop_found();
    lg__watch_loop();
}

void lg__loop_found(void)
{
    if (lg__tls.found)
        return;
    lg__tls.found = 1;
    __atomic_add_fetch(&loops_found, 1, __ATOMIC_RELAXED);
}

uint32_t lg__loops_found(void)
{
    return __atomic_load_n(&loops_found, __ATOMIC_RELAXED);
}

static void reg_init(void)
{
    pthread_key_create(&reg_key, thread_exit);
    lg__lock_register(&reg_lock);
    pthread_atfork(NULL, NULL, reg_fork_child);
}

static struct lg__thread *record_get(void)
{
    if (lg__tls.rec || lg__tls.dead)
        return lg__tls.rec;
    pthread_once(&reg_once, reg_init);
    struct lg__thread *rec = calloc(1, sizeof *rec);
    if (!rec)
        return NULL;
    rec->tid = gettid();
    rec->loop_since_ns = lg__now_ns();
    pthread_mutex_lock(&reg_lock);
    rec->gen = reg_next_gen++;
    HASH_ADD(hh, reg_table, gen, sizeof rec->gen, rec);
    pthread_mutex_unlock(&reg_lock);
    pthread_setspecific(reg_key, rec);
    lg__tls.rec = rec;
    lg__loop_found();
    return rec;
}

static void mark_fill(struct lg__loop_mark *m, int kind, int via,
                      const void *id, const void *runner, void *caller)
{
    /* A wrapped runner entered again and again from one place (UV_RUN_NOWAIT
     * in a loop) keeps its stack: capturing costs ~0.1 us each time. API
     * marks always capture: a helper calling lg_loop_enter for many
     * callers has one return address for all of them. */
    if (via == LG__VIA_ENTRY && m->nframes && m->entry_caller == caller &&
        caller && m->id == id && m->kind == kind && m->via == via)
        return;
    m->id = id;
    m->kind = (uint8_t)kind;
    m->via = (uint8_t)via;
    m->entry_caller = caller;
    m->runner = runner;
    m->own_fd = -1;
    m->skip = 0;
    m->own_lo = m->own_hi = 0;
    if (runner)
        lg__object_span(runner, &m->own_lo, &m->own_hi);
    int n = lg__stack_capture(m->frames, LG__MAX_FRAMES);
    m->nframes = (uint16_t)(n > 0 ? n : 0);
}

int lg__loop_enter(int kind, int via, const void *id, const void *runner,
                   void *caller)
{
    struct lg__tls *t = &lg__tls;
    if (t->depth == UINT8_MAX)
        return -EOVERFLOW;
    int saved = errno;
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    uint8_t was = t->in_shim;
    t->in_shim = 1;
    struct lg__thread *rec = record_get();
    if (rec && t->depth < LG__MAX_NEST) {
        mark_fill(&rec->marks[t->depth], kind, via, id, runner, caller);
        rec->depth_recorded = (uint8_t)(t->depth + 1);
    }
    t->depth++;
    if (rec) {
        rec->dormant = 0;     /* a fork child running a loop of its own */
        lg__loop_found();
        __atomic_store_n(&rec->on_loop, 1, __ATOMIC_RELAXED);
        progress_busy(rec);
    }
    lg__watch_loop();
    t->in_shim = was;
    pthread_setcancelstate(cancel_state, NULL);
    errno = saved;
    return 0;
}

int lg__loop_leave(void)
{
    struct lg__tls *t = &lg__tls;
    if (t->depth == 0)
        return -EINVAL;
    t->depth--;
    struct lg__thread *rec = t->rec;
    if (rec) {
        if (t->depth < LG__MAX_NEST)
            rec->depth_recorded = t->depth;
        __atomic_store_n(&rec->on_loop, t->depth != 0, __ATOMIC_RELAXED);
        progress_busy(rec);
    }
    return 0;
}

void lg__loop_idle(int idle)
{
    struct lg__thread *rec = lg__tls.rec;
    if (!rec)
        return;
    if (LG__UNLIKELY(rec->dormant) && idle)
        wake(rec);
    if (idle)
        progress(rec);
    else
        progress_busy(rec);
    __atomic_store_n(&rec->idle, (uint8_t)idle, __ATOMIC_RELEASE);
}

void lg__loop_tick(void)
{
    struct lg__thread *rec = lg__tls.rec;
    if (!rec)
        return;
    if (LG__UNLIKELY(rec->dormant))
        wake(rec);
    progress_busy(rec);
}

void lg__stack_loop_own(const struct lg__stack_loop *sl, void *const *pcs,
                        int n, int poll)
{
    struct lg__tls *t = &lg__tls;
    /* A tokio runtime running tasks makes no system call between them,
     * except current_thread's zero-timeout poll of its I/O driver: one
     * without that cannot be told busy from one task computing, and is
     * not watched (docs/guide.md). libuv polls on every turn. */
    if (sl->kind == LG__LOOP_TOKIO && !(sl->busy_polls && poll)) {
        lg__loop_found();     /* checked, if not watched */
        return;
    }
    struct lg__thread *rec = record_get();
    if (!rec)
        return;
    if (!t->sloop || !__atomic_load_n(&rec->on_loop, __ATOMIC_RELAXED)) {
        /* The loop's mark: where the outermost runner was called. Only
         * the watchdog reads it: with depth 0 it is no entered loop. */
        if (t->depth == 0) {
            struct lg__loop_mark *m = &rec->marks[0];
            m->id = sl->runner_fn;
            m->kind = (uint8_t)sl->kind;
            m->via = LG__VIA_STACK;
            m->runner = NULL;
            m->entry_caller = NULL;
            m->own_fd = -1;
            m->own_lo = m->own_hi = 0;
            int k = 0;
            for (int i = sl->runner; i >= 0 && i < n && k < LG__MAX_FRAMES;
                 i++)
                m->frames[k++] = pcs[i];
            m->nframes = (uint16_t)k;
            rec->depth_recorded = 1;
        }
        rec->stack_found = 1;
        t->sloop = 1;
        __atomic_store_n(&rec->on_loop, 1, __ATOMIC_RELEASE);
        lg__watch_loop();
    }
}

int lg__loop_in_grace(void)
{
    uint64_t grace = (uint64_t)lg__opt.grace_ms * 1000000u;
    if (!grace)
        return 0;
    /* A loop found through its stack may make its first call before it
     * ever waited: its record, and so its grace, start here. */
    struct lg__thread *rec = record_get();
    return rec && lg__now_ns() - rec->loop_since_ns < grace;
}

void lg__registry_left(uint64_t gen)
{
    struct lg__thread *rec;
    pthread_mutex_lock(&reg_lock);
    HASH_FIND(hh, reg_table, &gen, sizeof gen, rec);
    if (rec && rec->stack_found)
        __atomic_store_n(&rec->on_loop, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&reg_lock);
}

int lg__registry_stalled(uint64_t gen, uint64_t since_ns, uint32_t seen)
{
    struct lg__thread *rec;
    int r = 0;
    pthread_mutex_lock(&reg_lock);
    HASH_FIND(hh, reg_table, &gen, sizeof gen, rec);
    if (rec) {
        rec->stall_since_ns = since_ns;
        __atomic_store_n(&rec->stalled, 1, __ATOMIC_SEQ_CST);
        r = 1;
        /* The thread moved on while the stall was being written: it may
         * not look at the flag again for long, so end it here. */
        if (__atomic_load_n(&rec->progress, __ATOMIC_SEQ_CST) != seen &&
            __atomic_exchange_n(&rec->stalled, 0, __ATOMIC_ACQ_REL))
            r = -1;
    }
    pthread_mutex_unlock(&reg_lock);
    return r;
}

void lg__loop_in_call(const struct lg__wait *w, void *const *pcs, int n)
{
    struct lg__thread *rec = lg__tls.rec;
    if (!rec)
        return;
    /* Published with in_call last. The watchdog copies it while the
     * thread may go on: a call that ends during the copy is caught by
     * re-reading in_call after it; one that ends and is followed by
     * another can leave a mix of the two in a stall report's details,
     * never a fault (the fields are plain values and bounded arrays). */
    rec->call = w->call;
    memcpy(rec->object, w->object, sizeof rec->object);
    rec->timeout_ns = w->timeout_ns;
    rec->nwait = n;
    memcpy(rec->wait_pcs, pcs, (size_t)n * sizeof *pcs);
    __atomic_store_n(&rec->in_call, 1, __ATOMIC_RELEASE);
}

void lg__loop_out_call(void)
{
    struct lg__thread *rec = lg__tls.rec;
    if (rec)
        __atomic_store_n(&rec->in_call, 0, __ATOMIC_RELEASE);
}

int lg__registry_loops(struct lg__loop_view *out, int max)
{
    int n = 0;
    pthread_once(&reg_once, reg_init);
    pthread_mutex_lock(&reg_lock);
    for (struct lg__thread *rec = reg_table; rec && n < max;
         rec = rec->hh.next) {
        if (!__atomic_load_n(&rec->on_loop, __ATOMIC_RELAXED))
            continue;
        struct lg__loop_view *v = &out[n++];
        v->gen = rec->gen;
        v->tid = rec->tid;
        /* progress first: the busy_ns then read is that progress's, or
         * a later one's (written before its progress). */
        v->progress = __atomic_load_n(&rec->progress, __ATOMIC_SEQ_CST);
        v->busy_ns = __atomic_load_n(&rec->busy_ns, __ATOMIC_RELAXED);
        v->idle = __atomic_load_n(&rec->idle, __ATOMIC_ACQUIRE);
        v->in_call = __atomic_load_n(&rec->in_call, __ATOMIC_ACQUIRE);
        v->stack_found = rec->stack_found;
        v->loop_since_ns = rec->loop_since_ns;
        v->call = NULL;
        v->nwait = 0;
        if (v->in_call) {
            v->call = rec->call;
            memcpy(v->object, rec->object, sizeof v->object);
            v->object[sizeof v->object - 1] = '\0';
            v->timeout_ns = rec->timeout_ns;
            v->nwait = rec->nwait;
            memcpy(v->wait_pcs, rec->wait_pcs,
                   (size_t)v->nwait * sizeof *v->wait_pcs);
            v->in_call = __atomic_load_n(&rec->in_call, __ATOMIC_ACQUIRE);
        }
        /* The loop a stall stops: the outermost recorded. */
        v->has_mark = rec->depth_recorded > 0;
        if (v->has_mark)
            v->mark = rec->marks[0];
    }
    pthread_mutex_unlock(&reg_lock);
    return n;
}

const struct lg__loop_mark *lg__loop_current(void)
{
    struct lg__thread *rec = lg__tls.rec;
    if (!rec || lg__tls.depth == 0 || rec->depth_recorded == 0)
        return NULL;
    return &rec->marks[rec->depth_recorded - 1];
}

const struct lg__loop_mark *lg__loop_outer(void)
{
    struct lg__thread *rec = lg__tls.rec;
    if (!rec || lg__tls.depth == 0 || rec->depth_recorded == 0)
        return NULL;
    return &rec->marks[0];
}

unsigned lg__registry_count(void)
{
    pthread_mutex_lock(&reg_lock);
    unsigned n = HASH_COUNT(reg_table);
    pthread_mutex_unlock(&reg_lock);
    return n;
}

pid_t lg__gettid(void)
{
    return lg__tls.rec ? lg__tls.rec->tid : gettid();
}
