/* Polls: epoll_wait, epoll_pwait, epoll_pwait2, poll, ppoll, select,
 * pselect (and the _FORTIFY_SOURCE poll entry points). A zero timeout
 * never waits and tells nothing. On a loop thread a poll with a timeout is
 * the loop's own wait or a blocking one (lg__loop_own_wait); a thread on
 * no loop that waits in epoll with a timeout hosts one (lg__epoll_hint). In
 * a program with a runner compiled in, a thread on no marked loop is
 * judged by its stack, like every other wait (report.c). */
#include "enter.h"
#include "real.h"

/* poll's milliseconds: negative is forever, zero never waits. */
static int64_t ms_timeout(int ms)
{
    if (ms < 0)
        return -1;
    return ms ? (int64_t)ms * 1000000 : LG_NOT_BLOCKING;
}

static int64_t tv_timeout(const struct timeval *tv)
{
    if (!tv)
        return -1;
    if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
        return LG_NOT_BLOCKING;       /* EINVAL at once */
    int64_t d = (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000;
    return d > 0 ? d : LG_NOT_BLOCKING;
}

enum { WATCH, FORWARD, OWN };

/* What to do with the call: FORWARD when it does not wait or made this
 * thread an epoll loop's, OWN when it is a loop's own wait (the watchdog
 * sees the loop idle), WATCH otherwise. `epfd` is -1 for poll and select.
 * A loop's own poll that does not wait is one turn of the loop. */
static int classify(int64_t t, int epfd, void *caller)
{
    if (t == LG_NOT_BLOCKING) {
        if (lg__tls.depth != 0 ? lg__loop_own_poll(epfd, caller)
                               : lg__tls.sloop)
            lg__loop_tick();
        return FORWARD;
    }
    if (lg__tls.depth != 0)
        return lg__loop_own_wait(epfd, caller) ? OWN : WATCH;
    if (epfd >= 0 && !lg__stack_loops) {
        lg__epoll_hint(epfd, caller);
        return OWN;
    }
    return WATCH;
}

#define POLL_WRAP(name, ret, params, args, fd_expr, timeout_expr, fast)      \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        int64_t t = (timeout_expr);                                           \
        int fd_ = (fd_expr);                                                  \
        int how = classify(t, fd_, caller);                                   \
        ret r;                                                                \
        if (how == FORWARD)                                                   \
            return REAL(name) args;                                           \
        if (how == OWN) {                                                     \
            lg__loop_idle(1);                                                 \
            r = REAL(name) args;                                              \
            lg__loop_idle(0);                                                 \
            return r;                                                         \
        }                                                                     \
        struct lg__wait w;                                                    \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, t);               \
        w.decided = lg__tls.depth != 0;                                       \
        if (fd_ >= 0)                                                         \
            lg__object_num(&w, "epoll fd", fd_);                              \
        LG_BLOCKING(&w, r = REAL(name) args);                                 \
        return r;                                                             \
    }                                                                         \
    LG_EXPORT ret name params                                                 \
    {                                                                         \
        if ((fast) || lg__tls.in_shim)                                        \
            return REAL(name) args;                                           \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

/* epoll waits leave the fast path on every thread when they may wait: a
 * thread that does is a loop's. */
POLL_WRAP(epoll_wait, int,
          (int epfd, struct epoll_event *ev, int max, int ms),
          (epfd, ev, max, ms), epfd, ms_timeout(ms),
          ms == 0 && !lg__tls.depth && !lg__tls.sloop)
POLL_WRAP(epoll_pwait, int,
          (int epfd, struct epoll_event *ev, int max, int ms,
           const sigset_t *mask),
          (epfd, ev, max, ms, mask), epfd, ms_timeout(ms),
          ms == 0 && !lg__tls.depth && !lg__tls.sloop)
POLL_WRAP(epoll_pwait2, int,
          (int epfd, struct epoll_event *ev, int max,
           const struct timespec *ts, const sigset_t *mask),
          (epfd, ev, max, ts, mask), epfd, lg_within(ts),
          ts && ts->tv_sec == 0 && ts->tv_nsec == 0 && !lg__tls.depth &&
              !lg__tls.sloop)

/* Others only on a thread that is, or may be, a loop's. */
POLL_WRAP(poll, int, (struct pollfd *fds, nfds_t n, int ms), (fds, n, ms),
          -1, ms_timeout(ms), !lg__tls_on_loop())
POLL_WRAP(__poll_chk, int,
          (struct pollfd *fds, nfds_t n, int ms, size_t fdslen),
          (fds, n, ms, fdslen), -1, ms_timeout(ms), !lg__tls_on_loop())
POLL_WRAP(ppoll, int,
          (struct pollfd *fds, nfds_t n, const struct timespec *ts,
           const sigset_t *mask),
          (fds, n, ts, mask), -1, lg_within(ts), !lg__tls_on_loop())
POLL_WRAP(__ppoll_chk, int,
          (struct pollfd *fds, nfds_t n, const struct timespec *ts,
           const sigset_t *mask, size_t fdslen),
          (fds, n, ts, mask, fdslen), -1, lg_within(ts), !lg__tls_on_loop())
POLL_WRAP(select, int,
          (int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv),
          (nfds, rd, wr, ex, tv), -1, tv_timeout(tv), !lg__tls_on_loop())
POLL_WRAP(pselect, int,
          (int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
           const struct timespec *ts, const sigset_t *mask),
          (nfds, rd, wr, ex, ts, mask), -1, lg_within(ts),
          !lg__tls_on_loop())
