/* What every wrapper starts with, and the helpers its slow path shares.
 *
 * Fast path: one initial-exec TLS load and a branch (lg__tls_on_loop), then
 * the forward through a cached pointer. Everything else lives in cold,
 * out-of-line slow paths that run only on loop threads. */
#ifndef LG_PRELOAD_ENTER_H
#define LG_PRELOAD_ENTER_H

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "lg-internal.h"

#define LG_EXPORT __attribute__((visibility("default")))

/* `LG_UNPAREN list`, where list is a parenthesised parameter or argument
 * list, is the list without its parentheses: lets one macro take a
 * parameter list both as a declaration and as arguments. */
#define LG_UNPAREN(...) __VA_ARGS__

/* Reports before forwarding (a call that never returns must still report),
 * and keeps the bookkeeping right if the thread is cancelled inside the
 * call (preload notes section 7). `stmt` is the forwarded call. */
#define LG_BLOCKING(w, stmt)                                                  \
    do {                                                                      \
        lg__wait_begin(w);                                                    \
        pthread_cleanup_push(lg__wait_cancelled, (w));                        \
        stmt;                                                                 \
        pthread_cleanup_pop(0);                                               \
        lg__wait_end(w);                                                      \
    } while (0)

/* Around a forwarded wait with no timeout on something only this process
 * can signal (`yes`): the deadlock check's view (park.c). Every thread
 * pays a few stores here, loop thread or not. */
#define LG_PARKED(call, what, obj, yes, stmt)                                 \
    do {                                                                      \
        struct lg__park *park_ = (yes) ? lg__park_begin(call, what, obj)      \
                                       : NULL;                                \
        stmt;                                                                 \
        lg__park_end(park_);                                                  \
    } while (0)

static inline void lg_wait_init(struct lg__wait *w, const char *call,
                                void *fn, void *caller, int64_t timeout_ns)
{
    w->call = call;
    w->object[0] = '\0';
    w->timeout_ns = timeout_ns;
    w->caller = caller;
    w->fn = fn;
    w->site = NULL;
    w->start_ns = 0;
    w->decided = 0;
    w->noted = 0;
    w->own = 0;
    w->recorded = 0;
    w->touch = NULL;
    w->touch_fd = -1;
    w->fs_only = 0;
}

/* The exported wrapper of a call whose slow path is name##_slow(caller,
 * args...): off a loop thread, the fast path forwards at once. */
#define LG_WRAP_SLOW(name, ret, params, args)                                 \
    LG_EXPORT ret name params                                                 \
    {                                                                         \
        if (!lg__tls_on_loop())                                               \
            return REAL(name) args;                                           \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

#define LG_NOT_BLOCKING ((int64_t)-2)

/* Time left until an absolute deadline on `clk`: -1 for a NULL deadline,
 * LG_NOT_BLOCKING when it has already passed or is invalid (the call
 * returns at once, so it is no receive), else nanoseconds. */
static inline int64_t lg_until(clockid_t clk, const struct timespec *abs)
{
    if (!abs)
        return -1;
    if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
        return LG_NOT_BLOCKING;       /* EINVAL at once */
    struct timespec now;
    int saved = errno;
    if (clock_gettime(clk, &now) != 0) {
        errno = saved;
        return -1;
    }
    errno = saved;
    int64_t d = ((int64_t)abs->tv_sec - now.tv_sec) * 1000000000 +
                ((int64_t)abs->tv_nsec - now.tv_nsec);
    return d > 0 ? d : LG_NOT_BLOCKING;
}

/* A relative duration: LG_NOT_BLOCKING when zero, negative or invalid. */
static inline int64_t lg_within(const struct timespec *rel)
{
    if (!rel)
        return -1;
    if (rel->tv_nsec < 0 || rel->tv_nsec >= 1000000000)
        return LG_NOT_BLOCKING;       /* EINVAL at once */
    int64_t d = (int64_t)rel->tv_sec * 1000000000 + rel->tv_nsec;
    return d > 0 ? d : LG_NOT_BLOCKING;
}

#endif
