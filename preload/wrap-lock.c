/* Locks: mutexes, rwlocks and C11 mtx_t. Each taken lock is recorded as
 * held in the thread's slot, and its lock-order edges are checked there
 * (lg__lock_edges): before an untimed lock waits (as TSan and lockdep
 * do), after a timed one took its lock (one that timed out waited for
 * nothing; TSan adds no edge for it at all). An untimed lock of a private
 * mutex or rwlock is an untimed wait for the deadlock check. Neither needs
 * a loop, and both cost a few loads and stores: a slot lookup, a cache
 * probe per held lock. A trylock records the lock as held but adds no edge
 * (it cannot wait).
 * CPython's own mutexes, inside its runtime state, are forwarded untouched
 * (lg__lock_runtime_own). */
#include "enter.h"
#include "real.h"

/* glibc: PTHREAD_MUTEX_PSHARED_BIT in __kind; __shared in an rwlock. */
static inline int mutex_private(const void *m)
{
    return !(((const pthread_mutex_t *)m)->__data.__kind & 128);
}

static inline int rwlock_private(const void *l)
{
    return !((const pthread_rwlock_t *)l)->__data.__shared;
}

static inline int mtx_private(const void *m)
{
    (void)m;
    return 1;
}

/* name##_fwd: the real call alone, out of line, so that a wrapper whose
 * ways are all jumps saves no register. */
#define FORWARD_ONLY(name, params, args)                                      \
    static __attribute__((noinline)) int name##_fwd params                    \
    {                                                                         \
        return REAL(name) args;                                               \
    }

/* name: the wrapper; lk: the lock argument; what: its kind in reports;
 * priv: whether it is process-private; parked: whether it waits with no
 * timeout (its edges are checked before it waits); edges: whether taking
 * it adds edges; ok: its success value. */
#define LOCK_WRAP(name, params, args, lk, what, priv, parked, edges, ok)      \
    static __attribute__((noinline)) int name##_track params                  \
    {                                                                         \
        struct lg__park *p = lg__tls.park;                                    \
        if (LG__UNLIKELY(!p)) {                                               \
            if (lg__tls.in_shim || !(p = lg__park_claim()))                   \
                return REAL(name) args;                                       \
        } else if (LG__UNLIKELY(lg__tls.in_shim)) {                           \
            return REAL(name) args;                                           \
        }                                                                     \
        int r;                                                                \
        if ((edges) && (parked))                                              \
            lg__lock_edges(p, lk, #name, what);                               \
        struct lg__park *w_ = (parked) && priv(lk)                            \
                                  ? lg__park_mark(p, #name, what, lk)         \
                                  : NULL;                                     \
        r = REAL(name) args;                                                  \
        lg__park_end(w_);                                                     \
        if (r == (ok) || (ok == 0 && r == EOWNERDEAD)) {                      \
            if ((edges) && !(parked))                                         \
                lg__lock_edges(p, lk, #name, what);                           \
            lg__lock_held(p, lk, what);                                       \
        }                                                                     \
        return r;                                                             \
    }                                                                         \
    FORWARD_ONLY(name, params, args)                                          \
    /* CPython's own: straight through. */                                    \
    LG_EXPORT int name params                                                 \
    {                                                                         \
        if (lg__lock_runtime_own(lk))                                         \
            return name##_fwd args;                                           \
        return name##_track args;                                             \
    }

#define UNLOCK_WRAP(name, params, args, lk)                                   \
    FORWARD_ONLY(name, params, args)                                          \
    LG_EXPORT int name params                                                 \
    {                                                                         \
        if (lg__lock_runtime_own(lk))                                         \
            return name##_fwd args;                                           \
        struct lg__park *p = lg__tls.park;                                    \
        if (p && !lg__tls.in_shim)                                            \
            lg__lock_released(p, lk);                                         \
        return REAL(name) args;                                               \
    }

#define FORGET_WRAP(name, ret, params, args, lk)                              \
    LG_EXPORT ret name params                                                 \
    {                                                                         \
        if (!lg__tls.in_shim)                                                 \
            lg__lock_forget(lk);                                              \
        return REAL(name) args;                                               \
    }

LOCK_WRAP(pthread_mutex_lock, (pthread_mutex_t *m), (m), m, "mutex",
          mutex_private, 1, 1, 0)
LOCK_WRAP(pthread_mutex_trylock, (pthread_mutex_t *m), (m), m, "mutex",
          mutex_private, 0, 0, 0)
LOCK_WRAP(pthread_mutex_timedlock,
          (pthread_mutex_t *restrict m, const struct timespec *restrict t),
          (m, t), m, "mutex", mutex_private, 0, 1, 0)
LOCK_WRAP(pthread_mutex_clocklock,
          (pthread_mutex_t *restrict m, clockid_t c,
           const struct timespec *restrict t),
          (m, c, t), m, "mutex", mutex_private, 0, 1, 0)
UNLOCK_WRAP(pthread_mutex_unlock, (pthread_mutex_t *m), (m), m)
FORGET_WRAP(pthread_mutex_init, int,
            (pthread_mutex_t *restrict m,
             const pthread_mutexattr_t *restrict a),
            (m, a), m)
FORGET_WRAP(pthread_mutex_destroy, int, (pthread_mutex_t *m), (m), m)

LOCK_WRAP(pthread_rwlock_rdlock, (pthread_rwlock_t *l), (l), l, "rwlock",
          rwlock_private, 1, 1, 0)
LOCK_WRAP(pthread_rwlock_wrlock, (pthread_rwlock_t *l), (l), l, "rwlock",
          rwlock_private, 1, 1, 0)
LOCK_WRAP(pthread_rwlock_tryrdlock, (pthread_rwlock_t *l), (l), l, "rwlock",
          rwlock_private, 0, 0, 0)
LOCK_WRAP(pthread_rwlock_trywrlock, (pthread_rwlock_t *l), (l), l, "rwlock",
          rwlock_private, 0, 0, 0)
LOCK_WRAP(pthread_rwlock_timedrdlock,
          (pthread_rwlock_t *restrict l, const struct timespec *restrict t),
          (l, t), l, "rwlock", rwlock_private, 0, 1, 0)
LOCK_WRAP(pthread_rwlock_timedwrlock,
          (pthread_rwlock_t *restrict l, const struct timespec *restrict t),
          (l, t), l, "rwlock", rwlock_private, 0, 1, 0)
LOCK_WRAP(pthread_rwlock_clockrdlock,
          (pthread_rwlock_t *restrict l, clockid_t c,
           const struct timespec *restrict t),
          (l, c, t), l, "rwlock", rwlock_private, 0, 1, 0)
LOCK_WRAP(pthread_rwlock_clockwrlock,
          (pthread_rwlock_t *restrict l, clockid_t c,
           const struct timespec *restrict t),
          (l, c, t), l, "rwlock", rwlock_private, 0, 1, 0)
UNLOCK_WRAP(pthread_rwlock_unlock, (pthread_rwlock_t *l), (l), l)
FORGET_WRAP(pthread_rwlock_init, int,
            (pthread_rwlock_t *restrict l,
             const pthread_rwlockattr_t *restrict a),
            (l, a), l)
FORGET_WRAP(pthread_rwlock_destroy, int, (pthread_rwlock_t *l), (l), l)

LOCK_WRAP(mtx_lock, (mtx_t *m), (m), m, "mutex", mtx_private, 1, 1,
          thrd_success)
LOCK_WRAP(mtx_trylock, (mtx_t *m), (m), m, "mutex", mtx_private, 0, 0,
          thrd_success)
LOCK_WRAP(mtx_timedlock,
          (mtx_t *restrict m, const struct timespec *restrict t), (m, t), m,
          "mutex", mtx_private, 0, 1, thrd_success)
UNLOCK_WRAP(mtx_unlock, (mtx_t *m), (m), m)
FORGET_WRAP(mtx_init, int, (mtx_t *m, int type), (m, type), m)
FORGET_WRAP(mtx_destroy, void, (mtx_t *m), (m), m)
