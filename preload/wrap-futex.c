/* syscall(): futex waits made through it (Rust's std parks, locks and
 * waits this way; glibc's own futex waits never pass through it), and
 * SYS_close, which libuv issues through it to avoid a cancellation point.
 * Every other number is forwarded at once: libuv calls syscall() often. */
/* libc declares syscall() variadic; ours takes seven longs (the number and
 * the six registers glibc's own syscall() loads whatever the number), so
 * its fast path is a tail call, with no va_list. Hide libc's declaration
 * while the headers are read. */
#define syscall lg__libc_syscall_decl
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "enter.h"
#include "real.h"
#undef syscall

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* Whether a futex op may wait (wakes and requeues never do). */
static int futex_may_wait(long op)
{
    switch (op & FUTEX_CMD_MASK) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAIT_REQUEUE_PI:
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
        return 1;
    default:
        return 0;
    }
}

/* FUTEX_WAIT takes a relative timeout; the others an absolute one, on
 * CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME (LOCK_PI: always realtime). */
static int64_t futex_timeout(long op, const struct timespec *ts)
{
    long cmd = op & FUTEX_CMD_MASK;
    if (cmd == FUTEX_WAIT)
        return lg_within(ts);
    clockid_t clk = (op & FUTEX_CLOCK_REALTIME) || cmd == FUTEX_LOCK_PI
                        ? CLOCK_REALTIME
                        : CLOCK_MONOTONIC;
    return lg_until(clk, ts);
}

/* A futex wait off a loop: only an untimed private one is of interest
 * (the deadlock check); a shared word may be woken by another process. */
static int parkable(long nr, long op)
{
    long cmd = op & FUTEX_CMD_MASK;
    return nr == SYS_futex && (op & FUTEX_PRIVATE_FLAG) &&
           (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET);
}

static LG__COLD long futex_slow(void *caller, long nr, long a0, long a1,
                                long a2, long a3, long a4, long a5)
{
    long a[6] = {a0, a1, a2, a3, a4, a5};
    int waits;
    int64_t t;
    if (nr == SYS_futex) {
        waits = futex_may_wait(a[1]);
        t = waits ? futex_timeout(a[1], (const struct timespec *)a[3]) : 0;
    } else {
        waits = 1;
        t = lg_until((clockid_t)a[4], (const struct timespec *)a[3]);
    }
    if (!waits || t == LG_NOT_BLOCKING) {
        /* A zero-time park: a stack-found runtime turning. */
        if (waits && lg__tls.sloop)
            lg__loop_tick();
        return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    struct lg__wait w;
    long r;
    /* The call is named for the wrapped function (design.md); the object
     * says it is a futex: its address, or futex_waitv's vector. */
    lg_wait_init(&w, "syscall", (void *)REAL(syscall), caller, t);
    lg__object_ptr(&w, nr == SYS_futex ? "futex" : "futexv",
                   (const void *)a[0]);
    if (nr == SYS_futex) {
        lg__touch((const void *)a[0], 0);
        w.touch = (const void *)a[0];
    }
    int park = t == -1 && parkable(nr, a[1]);
    LG_BLOCKING(&w, LG_PARKED("syscall", "futex", (const void *)a[0], park,
                              r = REAL(syscall)(nr, a[0], a[1], a[2], a[3],
                                                a[4], a[5])));
    return r;
}

static LG__COLD long futex_parked(long nr, long a0, long a1, long a2,
                                  long a3, long a4, long a5)
{
    long r;
    lg__touch((const void *)a0, 0);
    LG_PARKED("syscall", "futex", (const void *)a0,
              a3 == 0 && parkable(nr, a1),
              r = REAL(syscall)(nr, a0, a1, a2, a3, a4, a5));
    return r;
}

/* A wake, or a timed wait, noted for the self-wait check (touch.c). Out
 * of line, so that every path out of syscall() stays a tail call. */
static LG__COLD long futex_touched(long nr, long a0, long a1, long a2,
                                   long a3, long a4, long a5)
{
    lg__touch_slow((const void *)a0, !futex_may_wait(a1));
    return REAL(syscall)(nr, a0, a1, a2, a3, a4, a5);
}

static LG__COLD long close_slow(long fd)
{
    long r = REAL(syscall)(SYS_close, fd, 0, 0, 0, 0, 0);
    lg__fd_closed((int)fd);
    return r;
}

/* Six arguments are always read and forwarded, as glibc's syscall() does:
 * the seventh is read from the caller's stack whether or not it passed it,
 * which is what libc's own assembly does too. */
static LG__COLD long unresolved(long nr, long a0, long a1, long a2, long a3,
                                long a4, long a5)
{
    return REAL(syscall)(nr, a0, a1, a2, a3, a4, a5);
}

LG_EXPORT long syscall(long nr, long a0, long a1, long a2, long a3, long a4,
                       long a5)
{
    if (LG__UNLIKELY(nr == SYS_futex || nr == SYS_futex_waitv)) {
        if (lg__tls_on_loop())
            return futex_slow(__builtin_return_address(0), nr, a0, a1, a2,
                              a3, a4, a5);
        if (nr == SYS_futex && !lg__tls.in_shim) {
            if (futex_may_wait(a1) && a3 == 0)
                return futex_parked(nr, a0, a1, a2, a3, a4, a5);
            if ((futex_may_wait(a1) ||
                 (a1 & FUTEX_CMD_MASK) == FUTEX_WAKE ||
                 (a1 & FUTEX_CMD_MASK) == FUTEX_WAKE_BITSET) &&
                !lg__touch_cached((const void *)a0))
                return futex_touched(nr, a0, a1, a2, a3, a4, a5);
        }
    }
    if (LG__UNLIKELY(nr == SYS_close))
        return close_slow(a0);
    /* Every path out is a tail call: this function needs no frame. */
    long (*real)(long, ...) = lg__real_syscall;
    if (LG__UNLIKELY(!real))
        return unresolved(nr, a0, a1, a2, a3, a4, a5);
    return real(nr, a0, a1, a2, a3, a4, a5);
}
