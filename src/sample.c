/* The current stack of another thread, captured on that thread: the
 * watchdog queues a real-time signal to it, and the handler unwinds with
 * libunwind into one preallocated buffer.
 *
 * The program's own signal use is left alone: the signal is sent with a
 * cookie (rt_tgsigqueueinfo, SI_QUEUE) and a signal without it goes to the
 * handler the program had installed before us, or gets its default action.
 * A program that installs its own handler for the signal later simply
 * wins: the watchdog checks before each request and then does without a
 * stack. A thread that blocks the signal is not sent it (it would stay
 * pending, and a signalfd reading every signal would see it). SA_RESTART
 * makes the futex waits, reads and joins the watchdog interrupts carry on
 * as if nothing happened. Only one request is in flight at a time (the
 * watchdog is one thread). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "lg-internal.h"

enum { REQ_IDLE, REQ_PENDING, REQ_TAKEN, REQ_DONE };

static struct {
    int state;                        /* atomic: enum above */
    pid_t tid;                        /* the thread asked */
    int n;
    void *pcs[LG__MAX_FRAMES];
} req;

static struct sigaction prev;         /* the program's, chained to */
static int installed;

int lg__sample_signal(void)
{
    return SIGRTMAX - 3;
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction)
            prev.sa_sigaction(sig, si, uc);
        return;
    }
    if (prev.sa_handler == SIG_IGN)
        return;
    if (prev.sa_handler == SIG_DFL) {
        /* A real-time signal's default is to end the process, as it would
         * have without us. */
        signal(sig, SIG_DFL);
        syscall(SYS_tgkill, getpid(), gettid(), sig);
        return;
    }
    prev.sa_handler(sig);
}

static void on_sample(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    int pending = REQ_PENDING;
    if (si->si_code != SI_QUEUE || si->si_value.sival_ptr != &req ||
        si->si_pid != getpid()) {
        chain(sig, si, ucv);
    } else if (__atomic_load_n(&req.tid, __ATOMIC_ACQUIRE) == gettid() &&
               __atomic_compare_exchange_n(&req.state, &pending, REQ_TAKEN,
                                           0, __ATOMIC_ACQ_REL,
                                           __ATOMIC_RELAXED)) {
        void *tmp[LG__MAX_FRAMES];
        /* Interrupted inside loopguard, maybe inside libunwind itself,
         * whose per-thread cache is not reentrant: no stack this time. */
        int n = lg__tls.in_shim ? 0 : lg__stack_capture(tmp, LG__MAX_FRAMES);
        /* The capture starts in the signal trampoline; the interrupted
         * frame begins where its exact pc is. */
        ucontext_t *uc = ucv;
        void *pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
        int first = 0;
        for (int i = 0; i < n; i++)
            if (tmp[i] == pc) {
                first = i;
                break;
            }
        int k = 0;
        for (int i = first; i < n; i++)
            req.pcs[k++] = tmp[i];
        if (k == 0 && !lg__tls.in_shim)
            req.pcs[k++] = pc;
        req.n = k;
        __atomic_store_n(&req.state, REQ_DONE, __ATOMIC_RELEASE);
    }
    errno = saved;
}

void lg__sample_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sample;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(lg__sample_signal(), &sa, &prev) == 0)
        installed = 1;
}

/* Whether our handler is still the one installed. */
static int ours(void)
{
    struct sigaction cur;
    if (!installed || sigaction(lg__sample_signal(), NULL, &cur) != 0)
        return 0;
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sample;
}

/* Whether thread tid blocks the signal: then it would stay pending, and a
 * program that reads its signals from a signalfd would receive ours. */
static int blocked_by(pid_t tid, int sig)
{
    char buf[4096];
    if (lg__task_read(tid, "status", buf, sizeof buf) == 0)
        return 1;
    const char *p = strstr(buf, "\nSigBlk:");
    if (!p)
        return 1;
    p += 8;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t mask = 0;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        mask = mask << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    return (mask >> (sig - 1)) & 1;
}

int lg__sample(pid_t tid, void **pcs, int max)
{
    if (!ours() || blocked_by(tid, lg__sample_signal()))
        return 0;
    req.n = 0;
    __atomic_store_n(&req.tid, tid, __ATOMIC_RELAXED);
    __atomic_store_n(&req.state, REQ_PENDING, __ATOMIC_RELEASE);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = lg__sample_signal();
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_ptr = &req;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, lg__sample_signal(), &si)) {
        __atomic_store_n(&req.state, REQ_IDLE, __ATOMIC_RELEASE);
        return 0;
    }
    /* A thread that blocks the signal never answers: give up after
     * 200 ms; one that has started to unwind is waited for. */
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 200; i++) {
        if (__atomic_load_n(&req.state, __ATOMIC_ACQUIRE) == REQ_DONE)
            break;
        nanosleep(&ms, NULL);
    }
    int pending = REQ_PENDING;
    if (__atomic_compare_exchange_n(&req.state, &pending, REQ_IDLE, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;             /* never delivered: it may come later, and
                                 will find nothing pending */
    while (__atomic_load_n(&req.state, __ATOMIC_ACQUIRE) != REQ_DONE)
        nanosleep(&ms, NULL);
    int n = req.n < max ? req.n : max;
    memcpy(pcs, req.pcs, (size_t)n * sizeof *pcs);
    __atomic_store_n(&req.state, REQ_IDLE, __ATOMIC_RELEASE);
    return n;
}
