/* A library that starts one thread and nothing else, for
 * bench/server-modes.py: what a second thread costs a single-threaded
 * program, apart from what the thread does. Built twice:
 *   libthread-glibc.so  a pthread that leaves the descriptor table (as
 *                       loopguard's watchdog does) and sleeps: glibc's
 *                       multi-threaded mode alone;
 *   libthread-raw.so    (THREAD_RAW) a thread made by a raw clone, which
 *                       glibc never learns of, with a descriptor table of
 *                       its own, sleeping in raw system calls.
 * Both sleep 250 ms at a time with every signal blocked. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef THREAD_RAW
static void *glibc_sleeper(void *arg)
{
    (void)arg;
    unshare(CLONE_FILES);
    for (;;)
        usleep(250000);
    return NULL;
}
#else
/* No glibc from here: it would take the main thread's TLS for its own. */
static int raw_sleeper(void *arg)
{
    (void)arg;
    static const struct timespec quarter = {0, 250000000};
    for (;;) {
        long r;
        register long r10 __asm__("r10") = 0;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "a"((long)SYS_clock_nanosleep),
                           "D"((long)CLOCK_MONOTONIC), "S"(0L),
                           "d"(&quarter), "r"(r10)
                         : "rcx", "r11", "memory");
    }
    return 0;
}
#endif

__attribute__((constructor)) static void thread_only_start(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
#ifndef THREAD_RAW
    pthread_t t;
    if (pthread_create(&t, NULL, glibc_sleeper, NULL) == 0)
        pthread_detach(t);
#else
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack != MAP_FAILED)
        clone(raw_sleeper, stack + size,
              CLONE_VM | CLONE_FS | CLONE_SIGHAND | CLONE_THREAD |
                  CLONE_SYSVSEM,
              NULL);
#endif
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
