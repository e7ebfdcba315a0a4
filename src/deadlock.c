/* Deadlock: every thread of the process waits, with no timeout, in a
 * wrapped call on something only the process itself could signal, and
 * none of those waits has moved for stall_ms. Then nothing can ever wake
 * them, and one record lists every thread, what it waits on and its stack
 * (captured on each thread by sample.c: the waits are futex waits, which
 * SA_RESTART resumes unseen).
 *
 * A loop thread's read of a pipe, socket pair or eventfd counts when only
 * this process can write to it (pipes.c). Threads come from /proc/self/task,
 * so a thread loopguard never saw wait (it runs, or sleeps in a call not
 * wrapped) keeps the verdict "no". Two things outside the threads could
 * still wake them, and both keep it "no": an armed ITIMER_REAL, and a
 * handler for an asynchronous signal while some thread waits on a
 * semaphore, futex word, pipe, socket or eventfd, which a handler may
 * post or write to (cond signals and unlocks are not async-signal-safe). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "lg-internal.h"

#define MAX_THREADS 256       /* a bigger process is never judged */
#define REPORT_THREADS 32     /* listed with stacks; the rest counted */
#define PY_THREADS 4          /* of those, with their Python frames */

struct waiter {
    pid_t tid;
    uint32_t seq;
    struct lg__park park;
};

static struct waiter now_w[MAX_THREADS], cand[MAX_THREADS];
static int ncand;
static uint64_t cand_since;
static int cand_reported;

static int by_tid(const void *a, const void *b)
{
    pid_t x = ((const struct waiter *)a)->tid;
    pid_t y = ((const struct waiter *)b)->tid;
    return (x > y) - (x < y);
}

/* Whether thread tid really waits as its slot says: in the system call
 * the wait makes (a thread cancelled inside a wait keeps its slot until it
 * exits), and, for a read of a pipe, socket pair or eventfd, on one only
 * this process writes (pipes.c); every other parked wait is on something
 * private. */
static int is_fd_wait(const struct lg__park *p)
{
    return !strcmp(p->what, "pipe") || !strcmp(p->what, "socket") ||
           !strcmp(p->what, "eventfd");
}

static int in_process(pid_t tid, const struct lg__park *p)
{
    long nr = lg__task_syscall(tid);
    if (!is_fd_wait(p))
        return nr == SYS_futex;
    return (nr == SYS_read || nr == SYS_readv || nr == SYS_recvfrom ||
            nr == SYS_recvmsg || nr == SYS_recvmmsg) &&
           lg__pipe_in_process((int)(intptr_t)p->obj);
}

static unsigned fd_kind(const char *what)
{
    if (!strcmp(what, "pipe"))
        return LG__FDK_PIPE;
    return !strcmp(what, "socket") ? LG__FDK_SOCKET : LG__FDK_EVENTFD;
}

/* The object a waiter waits on, as blocking_call records name it. */
static void object_name(const struct lg__park *p, char out[LG__OBJ_MAX])
{
    struct lg__wait tmp;
    if (is_fd_wait(p))
        lg__object_fd(&tmp, (int)(intptr_t)p->obj,
                      fd_kind(p->what) << LG__FD_KIND_SHIFT);
    else
        lg__object_ptr(&tmp, p->what, p->obj);
    memcpy(out, tmp.object, LG__OBJ_MAX);
}

struct collect {
    struct waiter *out;
    int n, ok;
    pid_t self;
};

static int collect_one(int tid, void *arg)
{
    struct collect *c = arg;
    if (tid == c->self)
        return 0;
    struct lg__park p;
    if (lg__park_find(tid, &p) && (p.seq & 1) && in_process(tid, &p)) {
        if (c->n == MAX_THREADS) {
            c->ok = 0;
            return 1;
        }
        c->out[c->n].tid = tid;
        c->out[c->n].seq = p.seq;
        c->out[c->n].park = p;
        c->n++;
    } else if (lg__task_state(tid) != 'Z') {
        c->ok = 0;            /* runs, or waits where we cannot see */
        return 1;
    }
    return 0;
}

/* The process's threads but the watchdog, each waiting: their count, or
 * -1 when one does not wait (or there are too many to judge). */
static int all_waiting(struct waiter *out)
{
    struct collect c = {out, 0, 1, lg__watch_tid()};
    if (lg__proc_each("/proc/self/task", collect_one, &c) < 0 || !c.ok ||
        c.n == 0)
        return -1;
    qsort(out, (size_t)c.n, sizeof *out, by_tid);
    return c.n;
}

/* A signal handler may sem_post, wake a futex word, or write to a pipe or
 * socket (the self-pipe trick): all async-signal-safe. */
static int handler_may_post(const struct waiter *w, int n)
{
    int posted = 0;
    for (int i = 0; i < n; i++)
        posted |= !strcmp(w[i].park.what, "sem") ||
                  !strcmp(w[i].park.what, "futex") || is_fd_wait(&w[i].park);
    return posted && lg__async_handler();
}

int lg__async_handler(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        switch (sig) {
        case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
        case SIGABRT: case SIGSYS: case SIGPIPE: case SIGKILL: case SIGSTOP:
            continue;         /* the program's own faults: nobody waits */
        }
        if (sig == lg__sample_signal())
            continue;
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0)
            continue;
        if (sa.sa_flags & SA_SIGINFO)
            return 1;
        if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN &&
            !lg__py_own_handler(sig, (const void *)sa.sa_handler))
            return 1;
    }
    return 0;
}

/* Returns 0 when a suppression rule covers the deadlock. */
static int report(const struct waiter *w, int n)
{
    static struct lg__thread_report th[REPORT_THREADS];
    static struct lg__sym stacks[REPORT_THREADS][LG__MAX_FRAMES + 1];
    static struct lg__py_stack py[PY_THREADS];
    struct lg__record r = {.type = LG__REC_DEADLOCK};
    int shown = n < REPORT_THREADS ? n : REPORT_THREADS;
    for (int i = 0; i < shown; i++) {
        struct lg__thread_report *t = &th[i];
        t->tid = w[i].tid;
        lg__task_name(t->tid, t->name);
        t->call = w[i].park.call;
        object_name(&w[i].park, t->object);
        void *pcs[LG__MAX_FRAMES];
        int np = lg__sample(t->tid, pcs, LG__MAX_FRAMES);
        t->nstack = 0;
        for (int k = 0; k < np; k++)
            lg__symbolize((uintptr_t)pcs[k], k != 0, &stacks[i][t->nstack++]);
        t->stack = stacks[i];
        if (i < PY_THREADS)
            lg__py_stack_of(t->tid, &t->stack, &t->nstack, &py[i]);
    }
    lg__report_fill_thread(&r, w[0].tid);
    r.timeout_ns = -1;
    r.threads = th;
    r.nthreads = shown;
    r.threads_total = n;
    return lg__report_emit(&r, 1);
}

void lg__deadlock_check(uint64_t now, uint64_t limit)
{
    struct itimerval it;
    /* No thread waits in its slot: all_waiting() could only say no, and
     * the tick reads no /proc (a server's every tick: with stall_ms=100,
     * 0.015 openat and close per request of the uv echo server). */
    if (!lg__park_any_waiting()) {
        ncand = 0;
        return;
    }
    int n = all_waiting(now_w);
    if (n < 0 || (getitimer(ITIMER_REAL, &it) == 0 &&
                  (it.it_value.tv_sec || it.it_value.tv_usec))) {
        ncand = 0;
        return;
    }
    int same = n == ncand;
    for (int i = 0; same && i < n; i++)
        same = now_w[i].tid == cand[i].tid && now_w[i].seq == cand[i].seq;
    if (!same) {
        memcpy(cand, now_w, (size_t)n * sizeof *cand);
        ncand = n;
        cand_since = now;
        cand_reported = 0;
        return;
    }
    if (cand_reported || now - cand_since < limit ||
        handler_may_post(cand, ncand))
        return;
    cand_reported = 1;
    if (report(cand, ncand) && lg__opt.mode == LG__MODE_ABORT)
        abort();
}
