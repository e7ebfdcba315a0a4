/* Semaphores, POSIX message queues and System V message queues. */
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/msg.h>

#include "enter.h"
#include "real.h"

/* glibc's sem_t (struct new_sem): a 64-bit value, then `private`, 0 for
 * a process-private semaphore (sem_init pshared 0), FUTEX_SHARED for
 * shared ones and every sem_open'ed one. */
static int sem_private(const sem_t *s)
{
    return ((const int *)(const void *)s)[2] == 0;
}

static LG__COLD int sem_slow(const char *call, void *caller, sem_t *s,
                             clockid_t clk, const struct timespec *abs,
                             int timed)
{
    int64_t t = timed ? lg_until(clk, abs) : -1;
    int r;
    if (t == LG_NOT_BLOCKING)
        return timed == 2 ? REAL(sem_clockwait)(s, clk, abs)
                          : REAL(sem_timedwait)(s, abs);
    /* CPython tries a program's lock before it waits for it: a sem_wait
     * there that gets the semaphore at once is C code taking a mutex of
     * its own (3.12's argument parser, the thread list), which no receive
     * is. Tried, not read first: another thread may take it in between.
     * sem_wait is a cancellation point; sem_trywait is not. */
    if (!timed && (lg__stack_loops & LG__SL_PYTHON)) {
        int saved = errno;
        pthread_testcancel();
        if (sem_trywait(s) == 0)
            return 0;
        errno = saved;
    }
    struct lg__wait w;
    void *fn = timed == 2   ? (void *)REAL(sem_clockwait)
               : timed == 1 ? (void *)REAL(sem_timedwait)
                            : (void *)REAL(sem_wait);
    lg_wait_init(&w, call, fn, caller, t);
    lg__object_ptr(&w, "sem", s);
    if (timed == 2)
        LG_BLOCKING(&w, r = REAL(sem_clockwait)(s, clk, abs));
    else if (timed == 1)
        LG_BLOCKING(&w, r = REAL(sem_timedwait)(s, abs));
    else
        LG_BLOCKING(&w, LG_PARKED(call, "sem", s, sem_private(s),
                                  r = REAL(sem_wait)(s)));
    return r;
}

LG_EXPORT int sem_wait(sem_t *s)
{
    if (!lg__tls_on_loop()) {
        int r;
        LG_PARKED("sem_wait", "sem", s, sem_private(s),
                  r = REAL(sem_wait)(s));
        return r;
    }
    return sem_slow("sem_wait", __builtin_return_address(0), s, 0, NULL, 0);
}

LG_EXPORT int sem_timedwait(sem_t *restrict s,
                            const struct timespec *restrict abs)
{
    if (!lg__tls_on_loop())
        return REAL(sem_timedwait)(s, abs);
    return sem_slow("sem_timedwait", __builtin_return_address(0), s,
                    CLOCK_REALTIME, abs, 1);
}

LG_EXPORT int sem_clockwait(sem_t *restrict s, clockid_t clk,
                            const struct timespec *restrict abs)
{
    if (!lg__tls_on_loop())
        return REAL(sem_clockwait)(s, clk, abs);
    return sem_slow("sem_clockwait", __builtin_return_address(0), s, clk,
                    abs, 2);
}

/* A message queue descriptor carries O_NONBLOCK like any fd; mq fds are
 * rare, so their flags are read on each call rather than cached. */
static int mq_nonblocking(mqd_t q)
{
    int saved = errno;
    lg__tls.in_shim = 1;
    int fl = fcntl(q, F_GETFL);
    lg__tls.in_shim = 0;
    errno = saved;
    return fl >= 0 && (fl & O_NONBLOCK);
}

static LG__COLD ssize_t mq_slow(void *caller, mqd_t q, char *p, size_t n,
                                unsigned *prio, const struct timespec *abs,
                                int timed)
{
    int64_t t = timed ? lg_until(CLOCK_REALTIME, abs) : -1;
    if (t == LG_NOT_BLOCKING || mq_nonblocking(q))
        return timed ? REAL(mq_timedreceive)(q, p, n, prio, abs)
                     : REAL(mq_receive)(q, p, n, prio);
    struct lg__wait w;
    ssize_t r;
    lg_wait_init(&w, timed ? "mq_timedreceive" : "mq_receive",
                 timed ? (void *)REAL(mq_timedreceive)
                       : (void *)REAL(mq_receive),
                 caller, t);
    lg__object_num(&w, "mq", q);
    if (timed)
        LG_BLOCKING(&w, r = REAL(mq_timedreceive)(q, p, n, prio, abs));
    else
        LG_BLOCKING(&w, r = REAL(mq_receive)(q, p, n, prio));
    return r;
}

LG_EXPORT ssize_t mq_receive(mqd_t q, char *p, size_t n, unsigned *prio)
{
    if (!lg__tls_on_loop())
        return REAL(mq_receive)(q, p, n, prio);
    return mq_slow(__builtin_return_address(0), q, p, n, prio, NULL, 0);
}

LG_EXPORT ssize_t mq_timedreceive(mqd_t q, char *restrict p, size_t n,
                                  unsigned *restrict prio,
                                  const struct timespec *restrict abs)
{
    if (!lg__tls_on_loop())
        return REAL(mq_timedreceive)(q, p, n, prio, abs);
    return mq_slow(__builtin_return_address(0), q, p, n, prio, abs, 1);
}

static LG__COLD ssize_t msgrcv_slow(void *caller, int id, void *p, size_t n,
                                    long type, int flags)
{
    struct lg__wait w;
    ssize_t r;
    lg_wait_init(&w, "msgrcv", (void *)REAL(msgrcv), caller, -1);
    lg__object_num(&w, "msq", id);
    LG_BLOCKING(&w, r = REAL(msgrcv)(id, p, n, type, flags));
    return r;
}

LG_EXPORT ssize_t msgrcv(int id, void *p, size_t n, long type, int flags)
{
    if (!lg__tls_on_loop() || (flags & IPC_NOWAIT))
        return REAL(msgrcv)(id, p, n, type, flags);
    return msgrcv_slow(__builtin_return_address(0), id, p, n, type, flags);
}
