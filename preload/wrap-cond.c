/* Condition variables: pthread_cond_wait/timedwait at both glibc versions
 * (each forwarded to its own implementation), pthread_cond_clockwait and C11
 * cnd_wait/cnd_timedwait, which glibc implements without the PLT. */
#include <threads.h>

#include "enter.h"
#include "real.h"

/* glibc keeps a cond's clock in bit 1 of __wrefs and process-shared in
 * bit 0 (nptl pthread_cond_common); only the GLIBC_2.3.2 layout has them.
 * The old layout and C11's cnd_t are taken as private. */
static clockid_t cond_clock(const pthread_cond_t *c)
{
    return (c->__data.__wrefs & 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

static int cond_private(const void *c, int new_layout)
{
    return !new_layout ||
           !(((const pthread_cond_t *)c)->__data.__wrefs & 1);
}

#define COND_WAIT(wrapper, c_real, args_decl, wait_expr, timeout_expr, obj)  \
    static LG__COLD int wrapper##_slow args_decl                             \
    {                                                                        \
        struct lg__wait w;                                                   \
        int64_t tmo = (timeout_expr);                                        \
        if (tmo == LG_NOT_BLOCKING)                                          \
            return REAL(c_real) wait_expr;                                   \
        lg_wait_init(&w, call_name, (void *)REAL(c_real), caller, tmo);      \
        lg__object_ptr(&w, "cond", obj);                                     \
        lg__touch(obj, 0);                                                   \
        w.touch = obj;                                                       \
        int r;                                                               \
        LG_BLOCKING(&w, LG_PARKED(call_name, "cond", obj,                    \
                                  tmo == -1 && cond_private(obj, NEW(c_real)),\
                                  r = REAL(c_real) wait_expr));              \
        return r;                                                            \
    }

/* Whether the real function uses the GLIBC_2.3.2 layout. */
#define NEW(c_real) (LG__SYMIDX_##c_real != LG__SYMIDX_pthread_cond_wait_225)

/* The fast path of an untimed wait: parked, on any thread. */
#define COND_FAST(c_real, call, c, m)                                        \
    do {                                                                     \
        int r;                                                               \
        lg__touch(c, 0);                                                     \
        LG_PARKED(call, "cond", c, cond_private(c, NEW(c_real)),             \
                  r = REAL(c_real)(c, m));                                   \
        return r;                                                            \
    } while (0)

COND_WAIT(cond_wait, pthread_cond_wait,
          (const char *call_name, void *caller, pthread_cond_t *c,
           pthread_mutex_t *m),
          (c, m), -1, c)
COND_WAIT(cond_wait_225, pthread_cond_wait_225,
          (const char *call_name, void *caller, pthread_cond_t *c,
           pthread_mutex_t *m),
          (c, m), -1, c)
COND_WAIT(cond_timedwait, pthread_cond_timedwait,
          (const char *call_name, void *caller, pthread_cond_t *c,
           pthread_mutex_t *m, const struct timespec *t),
          (c, m, t), lg_until(cond_clock(c), t), c)
COND_WAIT(cond_timedwait_225, pthread_cond_timedwait_225,
          (const char *call_name, void *caller, pthread_cond_t *c,
           pthread_mutex_t *m, const struct timespec *t),
          (c, m, t), lg_until(CLOCK_REALTIME, t), c)
COND_WAIT(cond_clockwait, pthread_cond_clockwait,
          (const char *call_name, void *caller, pthread_cond_t *c,
           pthread_mutex_t *m, clockid_t clk, const struct timespec *t),
          (c, m, clk, t), lg_until(clk, t), c)
COND_WAIT(cnd_wait_w, cnd_wait,
          (const char *call_name, void *caller, cnd_t *c, mtx_t *m), (c, m),
          -1, c)
COND_WAIT(cnd_timedwait_w, cnd_timedwait,
          (const char *call_name, void *caller, cnd_t *c, mtx_t *m,
           const struct timespec *t),
          (c, m, t), lg_until(CLOCK_REALTIME, t), c)

LG_EXPORT int lg__wrap_pthread_cond_wait(pthread_cond_t *c,
                                         pthread_mutex_t *m)
{
    if (!lg__tls_on_loop())
        COND_FAST(pthread_cond_wait, "pthread_cond_wait", c, m);
    return cond_wait_slow("pthread_cond_wait", __builtin_return_address(0),
                          c, m);
}
__asm__(".symver lg__wrap_pthread_cond_wait, pthread_cond_wait@@GLIBC_2.3.2");

LG_EXPORT int lg__wrap_pthread_cond_wait_225(pthread_cond_t *c,
                                             pthread_mutex_t *m)
{
    if (!lg__tls_on_loop())
        COND_FAST(pthread_cond_wait_225, "pthread_cond_wait", c, m);
    return cond_wait_225_slow("pthread_cond_wait",
                              __builtin_return_address(0), c, m);
}
__asm__(".symver lg__wrap_pthread_cond_wait_225, "
        "pthread_cond_wait@GLIBC_2.2.5");

LG_EXPORT int lg__wrap_pthread_cond_timedwait(pthread_cond_t *c,
                                              pthread_mutex_t *m,
                                              const struct timespec *t)
{
    if (!lg__tls_on_loop())
        return REAL(pthread_cond_timedwait)(c, m, t);
    return cond_timedwait_slow("pthread_cond_timedwait",
                               __builtin_return_address(0), c, m, t);
}
__asm__(".symver lg__wrap_pthread_cond_timedwait, "
        "pthread_cond_timedwait@@GLIBC_2.3.2");

LG_EXPORT int lg__wrap_pthread_cond_timedwait_225(pthread_cond_t *c,
                                                  pthread_mutex_t *m,
                                                  const struct timespec *t)
{
    if (!lg__tls_on_loop())
        return REAL(pthread_cond_timedwait_225)(c, m, t);
    return cond_timedwait_225_slow("pthread_cond_timedwait",
                                   __builtin_return_address(0), c, m, t);
}
__asm__(".symver lg__wrap_pthread_cond_timedwait_225, "
        "pthread_cond_timedwait@GLIBC_2.2.5");

LG_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     clockid_t clk, const struct timespec *t)
{
    if (!lg__tls_on_loop())
        return REAL(pthread_cond_clockwait)(c, m, clk, t);
    return cond_clockwait_slow("pthread_cond_clockwait",
                               __builtin_return_address(0), c, m, clk, t);
}

LG_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    if (!lg__tls_on_loop())
        COND_FAST(cnd_wait, "cnd_wait", c, m);
    return cnd_wait_w_slow("cnd_wait", __builtin_return_address(0), c, m);
}

LG_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
                            const struct timespec *restrict t)
{
    if (!lg__tls_on_loop())
        return REAL(cnd_timedwait)(c, m, t);
    return cnd_timedwait_w_slow("cnd_timedwait", __builtin_return_address(0),
                                c, m, t);
}

/* Signals and broadcasts: forwarded, after noting who signalled (touch.c).
 * The fast path is one call that reads a table entry. */
#define COND_SIGNAL(wrapper, c_real, c_type)                                  \
    LG_EXPORT int wrapper(c_type *c)                                          \
    {                                                                         \
        if (LG__LIKELY(!lg__tls.in_shim))                                     \
            lg__touch(c, 1);                                                  \
        return REAL(c_real)(c);                                               \
    }

COND_SIGNAL(lg__wrap_pthread_cond_signal, pthread_cond_signal, pthread_cond_t)
__asm__(".symver lg__wrap_pthread_cond_signal, "
        "pthread_cond_signal@@GLIBC_2.3.2");
COND_SIGNAL(lg__wrap_pthread_cond_signal_225, pthread_cond_signal_225,
            pthread_cond_t)
__asm__(".symver lg__wrap_pthread_cond_signal_225, "
        "pthread_cond_signal@GLIBC_2.2.5");
COND_SIGNAL(lg__wrap_pthread_cond_broadcast, pthread_cond_broadcast,
            pthread_cond_t)
__asm__(".symver lg__wrap_pthread_cond_broadcast, "
        "pthread_cond_broadcast@@GLIBC_2.3.2");
COND_SIGNAL(lg__wrap_pthread_cond_broadcast_225, pthread_cond_broadcast_225,
            pthread_cond_t)
__asm__(".symver lg__wrap_pthread_cond_broadcast_225, "
        "pthread_cond_broadcast@GLIBC_2.2.5");
COND_SIGNAL(cnd_signal, cnd_signal, cnd_t)
COND_SIGNAL(cnd_broadcast, cnd_broadcast, cnd_t)

/* A cond made anew at an address starts with no signaller (touch.c). */
#define COND_INIT(wrapper, c_real, params, args)                              \
    LG_EXPORT int wrapper params                                              \
    {                                                                         \
        if (LG__LIKELY(!lg__tls.in_shim))                                     \
            lg__touch_forget(c);                                              \
        return REAL(c_real) args;                                             \
    }

COND_INIT(lg__wrap_pthread_cond_init, pthread_cond_init,
          (pthread_cond_t *restrict c, const pthread_condattr_t *restrict a),
          (c, a))
__asm__(".symver lg__wrap_pthread_cond_init, pthread_cond_init@@GLIBC_2.3.2");
COND_INIT(lg__wrap_pthread_cond_init_225, pthread_cond_init_225,
          (pthread_cond_t *restrict c, const pthread_condattr_t *restrict a),
          (c, a))
__asm__(".symver lg__wrap_pthread_cond_init_225, "
        "pthread_cond_init@GLIBC_2.2.5");
COND_INIT(cnd_init, cnd_init, (cnd_t *c), (c))
