/* Sleeps and joins: each waits for time to pass or for another thread, and
 * a loop thread that does either runs no callback meanwhile. Zero sleeps
 * and joins whose deadline passed return at once and do not count. */
#include <pthread.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "enter.h"
#include "real.h"

#define SLEEP_SLOW(name, ret, params, args, timeout_expr)                     \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        int64_t t = (timeout_expr);                                           \
        if (t == LG_NOT_BLOCKING)                                             \
            return REAL(name) args;                                           \
        struct lg__wait w;                                                    \
        ret r;                                                                \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, t);               \
        LG_BLOCKING(&w, r = REAL(name) args);                                 \
        return r;                                                             \
    }                                                                         \
    LG_WRAP_SLOW(name, ret, params, args)

static int64_t secs_ns(uint64_t s, uint64_t unit_ns)
{
    return s ? (int64_t)(s * unit_ns) : LG_NOT_BLOCKING;
}

static int64_t clock_sleep_ns(clockid_t clk, int flags,
                              const struct timespec *req)
{
    return (flags & TIMER_ABSTIME) ? lg_until(clk, req) : lg_within(req);
}

SLEEP_SLOW(sleep, unsigned int, (unsigned int s), (s), secs_ns(s, 1000000000))
SLEEP_SLOW(usleep, int, (useconds_t us), (us), secs_ns(us, 1000))
SLEEP_SLOW(nanosleep, int,
           (const struct timespec *req, struct timespec *rem), (req, rem),
           lg_within(req))
SLEEP_SLOW(clock_nanosleep, int,
           (clockid_t clk, int flags, const struct timespec *req,
            struct timespec *rem),
           (clk, flags, req, rem), clock_sleep_ns(clk, flags, req))
SLEEP_SLOW(thrd_sleep, int,
           (const struct timespec *req, struct timespec *rem), (req, rem),
           lg_within(req))

#define JOIN_SLOW(name, ret, params, args, thread, timeout_expr)              \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        int64_t t = (timeout_expr);                                           \
        if (t == LG_NOT_BLOCKING)                                             \
            return REAL(name) args;                                           \
        struct lg__wait w;                                                    \
        ret r;                                                                \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, t);               \
        lg__object_ptr(&w, "thread", (const void *)(thread));                 \
        LG_BLOCKING(&w, LG_PARKED(#name, "thread", (const void *)(thread),    \
                                  t == -1, r = REAL(name) args));             \
        return r;                                                             \
    }                                                                         \
    LG_EXPORT ret name params                                                 \
    {                                                                         \
        if (!lg__tls_on_loop()) {                                             \
            ret r;                                                            \
            LG_PARKED(#name, "thread", (const void *)(thread),                \
                      (timeout_expr) == -1, r = REAL(name) args);             \
            return r;                                                         \
        }                                                                     \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

JOIN_SLOW(pthread_join, int, (pthread_t th, void **ret), (th, ret), th, -1)
JOIN_SLOW(pthread_timedjoin_np, int,
          (pthread_t th, void **ret, const struct timespec *abs),
          (th, ret, abs), th, lg_until(CLOCK_REALTIME, abs))
JOIN_SLOW(pthread_clockjoin_np, int,
          (pthread_t th, void **ret, clockid_t clk,
           const struct timespec *abs),
          (th, ret, clk, abs), th, lg_until(clk, abs))
JOIN_SLOW(thrd_join, int, (thrd_t th, int *res), (th, res), th, -1)
