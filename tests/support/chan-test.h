/* Helpers for the lg_chan tests (tests/unit/test-chan-*.c): a monotonic
 * clock, joins that give up instead of hanging the suite, and a way to know
 * that a thread is parked in the kernel, so "wakes on close" tests test the
 * sleeping path. Header-only: tests/support C files go into every test. */
#ifndef CHAN_TEST_H
#define CHAN_TEST_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "loopguard.h"

/* The message most tests send: who sent it and its place in that
 * producer's sequence. */
struct ct_msg {
    uint32_t prod;
    uint32_t seq;
};

static inline uint64_t ct_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ct_ms_since(uint64_t t0_ns)
{
    return (ct_now_ns() - t0_ns) / 1000000u;
}

static inline void ct_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* pthread_join that gives up after ms: a lost wake-up must fail its test
 * with a message, not stall the runner until its 300 s timeout. */
static inline int ct_join_ms(pthread_t t, void **ret, unsigned ms)
{
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += ms / 1000;
    abs.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, ret, &abs);
}

/* 1 when thread `tid` of this process sits in futex(2), from
 * /proc/self/task/TID/syscall (its first field is the syscall number of a
 * blocked thread, "running" otherwise). */
static inline int ct_in_futex(pid_t tid)
{
    char path[64];
    long nr = -1;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    return nr == SYS_futex;
}

/* Waits (up to 10 s) until thread `tid` has been seen in futex(2) on two
 * polls in a row, i.e. past the channel's spin phase and parked. Returns 1
 * once parked, 0 on timeout. */
static inline int ct_wait_parked(pid_t tid)
{
    int seen = 0;
    for (int i = 0; i < 10000 && seen < 2; i++) {
        seen = ct_in_futex(tid) ? seen + 1 : 0;
        ct_sleep_ms(1);
    }
    return seen >= 2;
}

static inline pid_t ct_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* One blocking or timed call on its own thread, for tests that need a
 * thread parked in the channel: start it, ct_wait_parked(c.tid), act, then
 * join and look at rc. */
enum ct_op { CT_SEND, CT_SEND_TIMED, CT_RECV, CT_RECV_TIMED };

struct ct_call {
    pthread_t t;
    lg_chan_t *ch;
    enum ct_op op;
    uint64_t timeout_ms; /* the timed calls' argument */
    struct ct_msg msg;   /* sent, or received */
    _Atomic pid_t tid;   /* set before the call, for ct_wait_parked */
    int rc;              /* the call's return value */
    uint64_t elapsed_ms; /* how long the call took */
    _Atomic int done;    /* the call returned */
};

static inline void *ct_call_thread(void *arg)
{
    struct ct_call *c = arg;
    atomic_store(&c->tid, ct_gettid());
    uint64_t t0 = ct_now_ns();
    switch (c->op) {
    case CT_SEND:
        c->rc = lg_chan_send_blocking(c->ch, &c->msg);
        break;
    case CT_SEND_TIMED:
        c->rc = lg_chan_send_timed(c->ch, &c->msg, c->timeout_ms);
        break;
    case CT_RECV:
        c->rc = lg_chan_recv_blocking(c->ch, &c->msg);
        break;
    case CT_RECV_TIMED:
        c->rc = lg_chan_recv_timed(c->ch, &c->msg, c->timeout_ms);
        break;
    }
    c->elapsed_ms = ct_ms_since(t0);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Starts the call and returns once its thread is parked in the kernel (1),
 * or 0 if it never parked within 10 s (it returned, or kept spinning). */
static inline int ct_call_start_parked(struct ct_call *c)
{
    atomic_store(&c->tid, 0);
    if (pthread_create(&c->t, NULL, ct_call_thread, c) != 0)
        return 0;
    while (atomic_load(&c->tid) == 0)
        ct_sleep_ms(1);
    return ct_wait_parked(atomic_load(&c->tid));
}

/* A push or pop stalled between claiming its slot and publishing (or
 * freeing) it: the message buffer is a page that faults, and the SIGSEGV
 * handler sleeps 300 ms before making it accessible. In real programs:
 * preemption, or a page fault on the caller's buffer. */
static char *ct_slow_page;
static long ct_page_size;

static inline void ct_slow_page_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    ct_sleep_ms(300);
    mprotect(ct_slow_page, (size_t)ct_page_size, PROT_READ | PROT_WRITE);
}

/* Maps the page readable and writable and installs the handler: fill it,
 * then ct_slow_page_arm(). Returns 0 on failure. */
static inline int ct_slow_page_setup(void)
{
    struct sigaction sa;
    ct_page_size = sysconf(_SC_PAGESIZE);
    ct_slow_page = mmap(NULL, (size_t)ct_page_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ct_slow_page == MAP_FAILED)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ct_slow_page_fault;
    sa.sa_flags = SA_SIGINFO;
    return sigaction(SIGSEGV, &sa, NULL) == 0;
}

/* The next access to the page stalls 300 ms. */
static inline int ct_slow_page_arm(void)
{
    return mprotect(ct_slow_page, (size_t)ct_page_size, PROT_NONE) == 0;
}

static inline void ct_slow_page_teardown(void)
{
    signal(SIGSEGV, SIG_DFL);
    munmap(ct_slow_page, (size_t)ct_page_size);
}

#endif
