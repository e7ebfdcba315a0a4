/* The watchdog: one thread, started when the first loop thread appears or
 * a second thread waits or locks (it leaves a loop-less process that is
 * down to one thread again), that looks at the process every
 * stall_ms / 4 and reports what nothing else can: a loop thread that has
 * not come back to its loop's own wait for stall_ms (a `stall`, then its
 * end), and a process whose every thread waits forever (deadlock.c). When
 * the first loop appears it also does, once, the work a loop thread would
 * otherwise do on its first wait (prepare_for_loops).
 *
 * It runs with every signal blocked (the program's process-directed
 * signals must reach the program's threads), inside loopguard for good
 * (in_shim), and never takes a lock a wrapper could hold while waiting for
 * it. Memory is fixed at start: MAX_WATCH loop threads are watched, the
 * rest are not. It works from a descriptor table of its own
 * (watchdog-fds.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "lg-internal.h"
#include "symbolizer.h"

#define MAX_WATCH 128

struct watch {
    uint64_t gen;                     /* 0: free */
    uint32_t progress;                /* last seen */
    uint64_t since_ns;                /* progress last changed */
    int reported;                     /* this episode's stall is out */
    int graced;                       /* this episode fell in a grace
                                         period and was counted */
    int seen;                         /* in this tick's view */
};

static int wd_started;                /* atomic */
static int wd_loops;                  /* atomic: a loop was ever seen */
static pid_t wd_tid;
static int wd_private;                /* atomic: the running watchdog left
                                         the descriptor table, or is about
                                         to (watchdog-fds.c) */
static unsigned wd_gen;               /* atomic: a watchdog started for an
                                         older one leaves at its next tick */
static uint32_t wd_wake;              /* atomic, a futex: a first loop
                                         appeared (lg__watch_loop) */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;  /* a tick's
                                         work: one watchdog at a time */
static struct lg__loop_view *views;   /* MAX_WATCH, from the arena */
static struct watch *watches;         /* MAX_WATCH, from the arena */

pid_t lg__watch_tid(void)
{
    return __atomic_load_n(&wd_tid, __ATOMIC_ACQUIRE);
}

/* Starts b, over path, with "/proc/self/task/<tid>/". */
static void task_dir(struct lg__buf *b, char *path, size_t cap, pid_t tid)
{
    lg__buf_init(b, path, cap);
    lg__buf_str(b, "/proc/self/task/");
    lg__buf_i64(b, tid);
    lg__buf_chr(b, '/');
}

/* Reads /proc/self/task/<tid>/<file> into buf; returns the length. */
int lg__task_read(pid_t tid, const char *file, char *buf, size_t cap)
{
    char path[64];
    struct lg__buf b;
    task_dir(&b, path, sizeof path, tid);
    lg__buf_str(&b, file);
    lg__buf_chr(&b, '\0');
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return (int)n;
}

void lg__task_name(pid_t tid, char name[17])
{
    char buf[32];
    int n = lg__task_read(tid, "comm", buf, sizeof buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    memset(name, 0, 17);
    memcpy(name, buf, n > 16 ? 16 : (size_t)n);
}

char lg__task_state(pid_t tid)
{
    /* "tid (comm) S ...": the state follows the last ')'. */
    char buf[512];
    int n = lg__task_read(tid, "stat", buf, sizeof buf);
    for (int i = n - 1; i > 0; i--)
        if (buf[i] == ')')
            return i + 2 < n ? buf[i + 2] : '?';
    return '?';
}

/* The system call thread tid sleeps in, and its first argument into
 * *arg0; -1 when it is in none. */
static long task_syscall_arg0(pid_t tid, unsigned long *arg0)
{
    /* "202 0x... ..." while in a system call; "running" or "-1 ..." not. */
    char buf[256];
    if (lg__task_read(tid, "syscall", buf, sizeof buf) == 0 ||
        buf[0] < '0' || buf[0] > '9')
        return -1;
    char *args;
    long nr = strtol(buf, &args, 10);
    *arg0 = strtoul(args, NULL, 16);                    /* " 0x5 0x..." */
    return nr;
}

long lg__task_syscall(pid_t tid)
{
    unsigned long arg0;
    return task_syscall_arg0(tid, &arg0);
}

/* Whether thread tid sleeps in a system call that the sampling signal
 * leaves as it was: with SA_RESTART the kernel resumes a read of a pipe
 * and a wait for a child where they were (signal(7)), while a sleep, a
 * poll, a read of a socket (which may have a timeout) or of a terminal
 * would come back early. stdio reads a pipe so (popen and fgets), and
 * pclose waits for its child so, both with glibc's internal calls, which
 * no wrapper sees. */
static int resumes_after_signal(pid_t tid)
{
    unsigned long fd;
    long nr = task_syscall_arg0(tid, &fd);
    if (nr == SYS_wait4 || nr == SYS_waitid)
        return 1;
    if (nr != SYS_read && nr != SYS_readv)
        return 0;
    if (fd > 0x7fffffff)
        return 0;
    char path[64];
    struct lg__buf b;
    task_dir(&b, path, sizeof path, tid);
    lg__buf_str(&b, "fd/");
    lg__buf_i64(&b, (int64_t)fd);
    lg__buf_chr(&b, '\0');
    /* The link's text, not a stat: a stat would ask the file's file
     * system, which may hang (NFS); an anonymous pipe is "pipe:[INODE]". */
    char target[32];
    ssize_t len = readlink(path, target, sizeof target - 1);
    return len > 6 && memcmp(target, "pipe:[", 6) == 0;
}

static void symbolize_pcs(void *const *pcs, int n, int first_exact,
                          struct lg__sym *out, int *nout)
{
    for (int i = 0; i < n && *nout < LG__MAX_FRAMES + 1; i++)
        lg__symbolize((uintptr_t)pcs[i], !(i == 0 && first_exact),
                      &out[(*nout)++]);
}

static void loop_of(struct lg__record *r, const struct lg__loop_mark *m,
                    struct lg__sym *lstack)
{
    r->has_loop = 1;
    r->loop_kind = m->kind;
    r->loop_via = m->via;
    r->loop_id = m->id;
    int nl = 0;
    if (m->runner)
        lg__symbolize((uintptr_t)m->runner, 0, &lstack[nl++]);
    symbolize_pcs(m->frames, m->nframes, 0, lstack, &nl);
    r->loop_stack = lstack;
    r->nloop_stack = nl;
}

/* What a stalled thread is doing, and its stack: the one its wrapped call
 * captured; else, when it runs or waits in a call that a signal does not
 * disturb (a lock's futex wait, resumes_after_signal), one captured now on
 * the thread; else (asleep in any other system call we do not wrap, which
 * a signal could cut short) none. Returns 1 when it was reported, -1 when
 * a suppression rule covers it, 0 when the thread left its loop. */
static int report_stall(const struct lg__loop_view *v, uint64_t ns)
{
    static struct lg__sym stack[LG__MAX_FRAMES + 1];
    static struct lg__sym lstack[LG__MAX_FRAMES + 1];
    void *pcs[LG__MAX_FRAMES];
    struct lg__record r = {.type = LG__REC_STALL};
    lg__report_fill_thread(&r, v->tid);
    r.stalled_ns = ns;
    r.timeout_ns = -1;
    int n = 0, exact = 0;
    struct lg__park p;
    if (v->in_call) {
        r.call = v->call;
        r.object = v->object;
        r.timeout_ns = v->timeout_ns;
        memcpy(pcs, v->wait_pcs, (size_t)v->nwait * sizeof *pcs);
        n = v->nwait;
    } else if (lg__park_find(v->tid, &p) && (p.seq & 1) &&
               lg__task_syscall(v->tid) == SYS_futex) {
        /* Waiting for a lock: a futex wait, which the signal resumes. The
         * slot alone is not enough: a thread cancelled in its wait keeps
         * it until it exits. */
        static char obj[LG__OBJ_MAX];
        struct lg__wait w;
        lg__object_ptr(&w, p.what, p.obj);   /* locks: not a pipe */
        memcpy(obj, w.object, sizeof obj);
        r.call = p.call;
        r.object = obj;
        n = lg__sample(v->tid, pcs, LG__MAX_FRAMES);
        exact = 1;
    } else if (lg__task_state(v->tid) == 'R') {
        r.doing = "running";
        n = lg__sample(v->tid, pcs, LG__MAX_FRAMES);
        exact = 1;
    } else {
        r.doing = "in a system call loopguard does not wrap";
        if (resumes_after_signal(v->tid)) {
            n = lg__sample(v->tid, pcs, LG__MAX_FRAMES);
            exact = 1;
        }
    }
    /* A loop found through its stack has no runner that returns: the
     * thread may have left it. Its stack says; without one, no verdict. */
    struct lg__stack_loop sl;
    if (v->stack_found &&
        (n == 0 || !lg__loopcat_classify(pcs, n, &sl) || sl.own)) {
        if (n > 0 && sl.runner < 0)
            lg__registry_left(v->gen);
        return 0;
    }
    int ns_ = 0;
    symbolize_pcs(pcs, n, exact, stack, &ns_);
    r.stack = stack;
    r.nstack = ns_;
    static struct lg__py_stack py;
    r.py_frames = lg__py_stack_of(v->tid, &r.stack, &r.nstack, &py);
    if (v->has_mark)
        loop_of(&r, &v->mark, lstack);
    return lg__report_emit(&r, 1) ? 1 : -1;
}

void lg__stall_end(pid_t tid, const struct lg__loop_mark *m, uint64_t ns)
{
    struct lg__record r = {.type = LG__REC_STALL};
    lg__report_fill_thread(&r, tid);
    r.stall_ended = 1;
    r.stalled_ns = ns;
    r.timeout_ns = -1;
    if (m) {
        r.has_loop = 1;
        r.loop_kind = m->kind;
        r.loop_via = m->via;
        r.loop_id = m->id;
    }
    lg__report_emit(&r, 0);
}

static struct watch *watch_of(uint64_t gen)
{
    struct watch *free_w = NULL;
    for (int i = 0; i < MAX_WATCH; i++) {
        if (watches[i].gen == gen)
            return &watches[i];
        if (!watches[i].gen && !free_w)
            free_w = &watches[i];
    }
    if (free_w) {
        memset(free_w, 0, sizeof *free_w);
        free_w->gen = gen;
    }
    return free_w;
}

static void stall_check(uint64_t now, uint64_t limit)
{
    int n = lg__registry_loops(views, MAX_WATCH);
    for (int i = 0; i < MAX_WATCH; i++)
        watches[i].seen = 0;
    for (int i = 0; i < n; i++) {
        const struct lg__loop_view *v = &views[i];
        struct watch *w = watch_of(v->gen);
        if (!w)
            continue;
        int fresh = !w->since_ns;
        w->seen = 1;
        if (fresh || v->idle || v->progress != w->progress) {
            w->progress = v->progress;
            /* Busy since it left its wait, which may be most of a tick
             * ago: a stall's length is the loop's, not our view of it. */
            w->since_ns = !v->idle && v->busy_ns && v->busy_ns <= now
                              ? v->busy_ns : now;
            w->reported = 0;
            w->graced = 0;
            continue;
        }
        if (!w->reported && now - w->since_ns >= limit) {
            /* Inside its grace period a loop may stall: reported once the
             * grace is over, if it still does. */
            uint64_t grace = (uint64_t)lg__opt.grace_ms * 1000000u;
            if (now - v->loop_since_ns < grace) {
                if (!w->graced)
                    lg__count_in_grace();
                w->graced = 1;
                continue;
            }
            int shown = report_stall(v, now - w->since_ns);
            if (!shown)
                continue;
            /* Suppressed: decided once per episode, and no end record. */
            w->reported = 1;
            if (shown > 0 &&
                lg__registry_stalled(v->gen, w->since_ns, v->progress) < 0)
                lg__stall_end(v->tid, v->has_mark ? &v->mark : NULL,
                              lg__now_ns() - w->since_ns);
        }
    }
    /* Threads that left their loop or exited ended their stall there. */
    for (int i = 0; i < MAX_WATCH; i++)
        if (watches[i].gen && !watches[i].seen)
            watches[i].gen = 0;
}

int lg__proc_each(const char *dir, int (*fn)(int num, void *arg), void *arg)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int stop = 0;
    char buf[4096];
    long got;
    while (!stop && (got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; !stop && off < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] >= '0' && d->d_name[0] <= '9')
                stop = fn(atoi(d->d_name), arg);
        }
    close(fd);
    return stop;
}

static int count_one(int num, void *arg)
{
    (void)num;
    ++*(int *)arg;
    return 0;
}

/* Threads of the process but the watchdog. */
static int other_threads(void)
{
    int n = 0;
    if (lg__proc_each("/proc/self/task", count_one, &n) < 0)
        return 2;
    return n - 1;
}

/* A watchdog started for threads, in a process with no loop, that is
 * down to one thread again leaves: a single-threaded process stays one
 * (unshare(CLONE_NEWUSER) and the like require it). The next thread that
 * waits or locks starts it again. */
static int may_leave(void)
{
    if (__atomic_load_n(&wd_loops, __ATOMIC_ACQUIRE) || other_threads() > 1)
        return 0;
    __atomic_store_n(&wd_started, 0, __ATOMIC_SEQ_CST);
    /* A thread that came meanwhile saw the watchdog running: stay. */
    int zero = 0;
    if ((__atomic_load_n(&wd_loops, __ATOMIC_ACQUIRE) ||
         other_threads() > 1) &&
        __atomic_compare_exchange_n(&wd_started, &zero, 1, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    return 1;
}

/* Whether this watchdog goes out of the program's descriptor table. The
 * intent is announced before the callback is looked at, and
 * lg__watch_reshare looks at the intent after the callback was set: one
 * of the two sees the other (both seq_cst). */
static void leave_table(void)
{
    __atomic_store_n(&wd_private, 1, __ATOMIC_SEQ_CST);
    if (lg__cb_set() || !lg__wdfd_leave())
        __atomic_store_n(&wd_private, 0, __ATOMIC_SEQ_CST);
}

/* Sleeps until `until` (CLOCK_MONOTONIC); returns 1 early when a first
 * loop appeared meanwhile. The wait is glibc's own for a monotonic timed
 * cond wait; where it fails otherwise (a seccomp filter that answers
 * EPERM), the watchdog sleeps its tick out unwoken rather than spin. */
static int sleep_until(const struct timespec *until)
{
    for (;;) {
        if (__atomic_exchange_n(&wd_wake, 0, __ATOMIC_ACQ_REL))
            return 1;
        long r = syscall(SYS_futex, &wd_wake,
                         FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, until,
                         NULL, FUTEX_BITSET_MATCH_ANY);
        if (r == 0 || errno == EAGAIN || errno == EINTR)
            continue;
        if (errno != ETIMEDOUT)
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, until,
                                   NULL) == EINTR)
                ;
        return 0;
    }
}

/* Work a loop needs done once, done here rather than on the loop's thread
 * when its first wait needs it: the runtimes' waiting points, a pass over
 * every loaded object's symbols (milliseconds for node's libnode: a stall
 * of the loop, on the first request's garbage collection). It takes the
 * loader's list lock (dl_iterate_phdr), which a program holds only inside
 * a dl_iterate_phdr callback of its own. */
static void prepare_for_loops(void)
{
    if (__atomic_load_n(&wd_loops, __ATOMIC_ACQUIRE))
        lg__runtime_own_prepare();
}

static void *watchdog_main(void *arg)
{
    unsigned gen = (unsigned)(uintptr_t)arg;
    lg__tls.in_shim = 1;
    prctl(PR_SET_NAME, "loopguard");
    __atomic_store_n(&wd_tid, gettid(), __ATOMIC_RELEASE);
    /* First, before it opens anything: a descriptor of its own in the
     * program's table would take a number the program's next open is
     * owed (watchdog-fds.c). */
    leave_table();
    uint64_t limit = (uint64_t)lg__opt.stall_ms * 1000000;
    uint64_t tick = limit / 4;
    if (tick < 1000000)
        tick = 1000000;
    for (;;) {
        uint64_t end = lg__now_ns() + tick;
        struct timespec until = {(time_t)(end / 1000000000),
                                 (long)(end % 1000000000)};
        do
            prepare_for_loops();
        while (sleep_until(&until));
        if (__atomic_load_n(&lg__exiting, __ATOMIC_RELAXED))
            continue;
        pthread_mutex_lock(&tick_lock);
        if (gen != __atomic_load_n(&wd_gen, __ATOMIC_ACQUIRE)) {
            /* Replaced by one in the program's table: it runs now. */
            pthread_mutex_unlock(&tick_lock);
            lg__symc_watchdog_exit();
            return NULL;
        }
        uint64_t now = lg__now_ns();
        stall_check(now, limit);
        lg__deadlock_check(now, limit);
        int leave = may_leave();
        pthread_mutex_unlock(&tick_lock);
        if (leave)
            break;
    }
    lg__symc_watchdog_exit();
    /* A successor may be running already: its tid stays. */
    pid_t me = gettid();
    __atomic_compare_exchange_n(&wd_tid, &me, 0, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_RELAXED);
    return NULL;
}

static void start_thread(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    unsigned gen = __atomic_load_n(&wd_gen, __ATOMIC_ACQUIRE);
    pthread_create(&th, &attr, watchdog_main, (void *)(uintptr_t)gen);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void lg__watch_reshare(void)
{
    if (!__atomic_exchange_n(&wd_private, 0, __ATOMIC_SEQ_CST))
        return;
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    __atomic_add_fetch(&wd_gen, 1, __ATOMIC_ACQ_REL);
    start_thread();
    lg__tls.in_shim = was;
    errno = saved;
}

void lg__watch_loop(void)
{
    if (LG__UNLIKELY(!__atomic_load_n(&wd_loops, __ATOMIC_RELAXED))) {
        __atomic_store_n(&wd_loops, 1, __ATOMIC_RELEASE);
        /* A watchdog started for threads sleeps a tick: woken, it
         * prepares for the loop now (prepare_for_loops). */
        int saved = errno;
        __atomic_store_n(&wd_wake, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &wd_wake, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1);
        errno = saved;
    }
    lg__watch_start();
}

void lg__watch_start(void)
{
    if (LG__LIKELY(__atomic_load_n(&wd_started, __ATOMIC_RELAXED)))
        return;
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    lg__init();
    int zero = 0;
    if (lg__opt.stall_ms == 0 || lg__exiting ||
        !__atomic_compare_exchange_n(&wd_started, &zero, 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        goto out;
    if (!views) {
        views = lg__arena_alloc(MAX_WATCH * sizeof *views);
        watches = lg__arena_alloc(MAX_WATCH * sizeof *watches);
        if (!views || !watches)
            goto out;
        lg__sample_init();
    }
    memset(watches, 0, MAX_WATCH * sizeof *watches);
    start_thread();
out:
    lg__tls.in_shim = was;
    errno = saved;
}

/* The watchdog does not survive fork: the child starts its own when it
 * needs one. */
void lg__watch_fork_child(void)
{
    __atomic_store_n(&wd_started, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&wd_tid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&wd_private, 0, __ATOMIC_RELAXED);
    lg__park_fork_child();
}
