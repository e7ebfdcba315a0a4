/* Polls: epoll_wait, epoll_pwait, epoll_pwait2, poll, ppoll, select,
 * pselect (and the _FORTIFY_SOURCE poll entry points). A zero timeout
 * never waits and tells nothing. On a loop thread a poll with a timeout is
 * the loop's own wait or a blocking one (lg__loop_own_wait); a thread on
 * no loop that waits in epoll with a timeout hosts one (lg__epoll_hint),
 * and one that keeps waiting in poll or select on one set from one place
 * does too (lg__poll_hint). In a program with a runner compiled in, a
 * thread on no marked loop is judged by its stack, like every other wait
 * (report.c). */
#include <string.h>

#include "enter.h"
#include "real.h"

/* A poll's set: a hash of its descriptors and their events, and how many
 * descriptors it holds. */
struct pset {
    uint64_t sig;
    int n;
};

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static struct pset poll_set(const struct pollfd *fds, nfds_t n)
{
    struct pset p = {n, 0};
    for (nfds_t i = 0; i < n; i++) {
        if (fds[i].fd < 0)
            continue;         /* ignored by poll: a slot kept free */
        p.sig = mix(p.sig, (uint64_t)(uint32_t)fds[i].fd << 16 |
                               (uint16_t)fds[i].events);
        p.n++;
    }
    return p;
}

static struct pset select_set(int nfds, const fd_set *rd, const fd_set *wr,
                              const fd_set *ex)
{
    struct pset p = {(uint64_t)nfds, 0};
    if (nfds < 0 || nfds > FD_SETSIZE)
        return p;             /* EINVAL */
    const fd_set *sets[3] = {rd, wr, ex};
    for (int k = 0; k < 3; k++) {
        if (!sets[k])
            continue;
        /* Whole words of the bitmap, as far as nfds reaches. */
        const unsigned long *w = (const unsigned long *)sets[k];
        size_t bits = 8 * sizeof *w;
        for (size_t i = 0; i * bits < (size_t)nfds; i++) {
            unsigned long v = w[i];
            if (i * bits + bits > (size_t)nfds)
                v &= (1ul << (nfds - i * bits)) - 1;
            p.sig = mix(p.sig, (uint64_t)v ^ (uint64_t)k << 62);
            p.n += __builtin_popcountl(v);
        }
    }
    return p;
}

static const struct pset no_set = {0, 0};

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
static int classify(int64_t t, int epfd, void *caller, struct pset set)
{
    if (t == LG_NOT_BLOCKING) {
        if (lg__tls.depth != 0 ? lg__loop_own_poll(epfd, caller)
                               : lg__tls.sloop)
            lg__loop_tick();
        return FORWARD;
    }
    if (lg__tls.depth != 0)
        return lg__loop_own_wait(epfd, caller) ? OWN : WATCH;
    if (lg__stack_loops & LG__SL_RUNNER)
        return WATCH;
    if (epfd >= 0) {
        lg__epoll_hint(epfd, caller);
        return OWN;
    }
    /* A thread on no loop: a poll or select is no one's blocking call,
     * until the thread turns out to be a loop's. */
    return lg__poll_hint(set.sig, set.n, caller) ? OWN : FORWARD;
}

#define POLL_WRAP(name, ret, params, args, fd_expr, timeout_expr, set_expr,  \
                  fast)                                                       \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        int64_t t = (timeout_expr);                                           \
        int fd_ = (fd_expr);                                                  \
        int how = classify(t, fd_, caller,                                    \
                           lg__tls.depth || lg__stack_loops & LG__SL_RUNNER   \
                               ? no_set                                       \
                                                            : (set_expr));    \
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
        if (LG__UNLIKELY(lg__stack_loops & LG__SL_PYTHON))                    \
            lg__tls.py_polled = 1;                                            \
        if ((fast) || lg__tls.in_shim)                                        \
            return REAL(name) args;                                           \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

/* epoll waits leave the fast path on every thread when they may wait: a
 * thread that does is a loop's. */
POLL_WRAP(epoll_wait, int,
          (int epfd, struct epoll_event *ev, int max, int ms),
          (epfd, ev, max, ms), epfd, ms_timeout(ms), no_set,
          ms == 0 && !lg__tls.depth && !lg__tls.sloop)
POLL_WRAP(epoll_pwait, int,
          (int epfd, struct epoll_event *ev, int max, int ms,
           const sigset_t *mask),
          (epfd, ev, max, ms, mask), epfd, ms_timeout(ms), no_set,
          ms == 0 && !lg__tls.depth && !lg__tls.sloop)
POLL_WRAP(epoll_pwait2, int,
          (int epfd, struct epoll_event *ev, int max,
           const struct timespec *ts, const sigset_t *mask),
          (epfd, ev, max, ts, mask), epfd, lg_within(ts), no_set,
          ts && ts->tv_sec == 0 && ts->tv_nsec == 0 && !lg__tls.depth &&
              !lg__tls.sloop)

/* Others on a thread that is, or may be, a loop's; on any other, only
 * when they may wait: a thread that keeps polling one set hosts a loop. */
#define TS_ZERO(ts) ((ts) && (ts)->tv_sec == 0 && (ts)->tv_nsec == 0)
#define TV_ZERO(tv) ((tv) && (tv)->tv_sec == 0 && (tv)->tv_usec == 0)
POLL_WRAP(poll, int, (struct pollfd *fds, nfds_t n, int ms), (fds, n, ms),
          -1, ms_timeout(ms), poll_set(fds, n),
          ms == 0 && !lg__tls_on_loop())
POLL_WRAP(__poll_chk, int,
          (struct pollfd *fds, nfds_t n, int ms, size_t fdslen),
          (fds, n, ms, fdslen), -1, ms_timeout(ms), poll_set(fds, n),
          ms == 0 && !lg__tls_on_loop())
POLL_WRAP(ppoll, int,
          (struct pollfd *fds, nfds_t n, const struct timespec *ts,
           const sigset_t *mask),
          (fds, n, ts, mask), -1, lg_within(ts), poll_set(fds, n),
          TS_ZERO(ts) && !lg__tls_on_loop())
POLL_WRAP(__ppoll_chk, int,
          (struct pollfd *fds, nfds_t n, const struct timespec *ts,
           const sigset_t *mask, size_t fdslen),
          (fds, n, ts, mask, fdslen), -1, lg_within(ts), poll_set(fds, n),
          TS_ZERO(ts) && !lg__tls_on_loop())
POLL_WRAP(select, int,
          (int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv),
          (nfds, rd, wr, ex, tv), -1, tv_timeout(tv),
          select_set(nfds, rd, wr, ex), TV_ZERO(tv) && !lg__tls_on_loop())
POLL_WRAP(pselect, int,
          (int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
           const struct timespec *ts, const sigset_t *mask),
          (nfds, rd, wr, ex, ts, mask), -1, lg_within(ts),
          select_set(nfds, rd, wr, ex), TS_ZERO(ts) && !lg__tls_on_loop())
