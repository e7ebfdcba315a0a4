/* Process set-up: options, libunwind, and the exit and fork hooks. Runs from
 * the preload's constructor and lazily from slow paths, because other
 * libraries' constructors call wrappers before ours ran (preload notes
 * section 2). libloopguard.so alone (a program that links it for lg_chan)
 * does nothing at load time: no options read, no log file created. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lg-internal.h"
#include "symbolizer.h"

volatile int lg__exiting;
static int detector_active;

int lg__detector_active(void)
{
    return __atomic_load_n(&detector_active, __ATOMIC_ACQUIRE);
}

void lg__detector_mark_active(void)
{
    __atomic_store_n(&detector_active, 1, __ATOMIC_RELEASE);
}

#define MAX_LOCKS 16

/* Locks taken around fork, in registration order, which is also the order
 * in which any two of them nest (the report's emit lock, then the log's).
 * The arena's lock may be taken under several others, so it comes last. */
static pthread_mutex_t *locks[MAX_LOCKS];
static int n_locks;
static pthread_mutex_t locks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

void lg__lock_register(pthread_mutex_t *m)
{
    pthread_mutex_lock(&locks_lock);
    int known = 0;
    for (int i = 0; i < n_locks; i++)
        known |= locks[i] == m;
    if (!known && n_locks < MAX_LOCKS)
        locks[n_locks++] = m;
    pthread_mutex_unlock(&locks_lock);
}

/* The handlers run with in_shim set from prepare to parent or child: our
 * own locks are not the program's (the lock wrappers pass them through). */
static uint8_t fork_was_in_shim;      /* the forking thread's, restored */

static void fork_prepare(void)
{
    fork_was_in_shim = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    pthread_mutex_lock(&locks_lock);
    for (int i = 0; i < n_locks; i++)
        pthread_mutex_lock(locks[i]);
    pthread_mutex_lock(lg__arena_lock());
    lg__py_fork_prepare();    /* under locks_lock: one fork at a time */
}

static void fork_parent(void)
{
    lg__py_fork_parent();
    pthread_mutex_unlock(lg__arena_lock());
    for (int i = n_locks - 1; i >= 0; i--)
        pthread_mutex_unlock(locks[i]);
    pthread_mutex_unlock(&locks_lock);
    lg__tls.in_shim = fork_was_in_shim;
}

/* The child has one thread; locks held at fork by threads that no longer
 * exist would stay held forever, so they are re-made, not unlocked. */
static void fork_child(void)
{
    pthread_mutex_init(lg__arena_lock(), NULL);
    for (int i = 0; i < n_locks; i++)
        pthread_mutex_init(locks[i], NULL);
    pthread_mutex_init(&locks_lock, NULL);
    lg__watch_fork_child();
    lg__pipe_fork_child();
    lg__report_fork_child();
    lg__symc_fork_child();
    lg__log_fork_child();
    lg__tls.in_shim = fork_was_in_shim;
}

static void option_error(void *arg, const char *line)
{
    (void)arg;
    struct lg__buf b;
    char msg[LG__LOG_PATH_MAX + 256];
    lg__buf_init(&b, msg, sizeof msg);
    lg__buf_str(&b, line);
    lg__buf_chr(&b, '\n');
    (void)!write(2, b.p, b.len);
}

/* Registered from the constructor, so it runs after the program's own
 * atexit handlers and before library destructors such as libuv's, whose
 * thread joins at exit are not the program's blocking. */
static void at_exit(void)
{
    __atomic_store_n(&lg__exiting, 1, __ATOMIC_RELAXED);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    lg__tls.in_shim = 1;
    lg__report_summary();
    if (lg__opt.exitcode && lg__violations()) {
        fflush(NULL);
        _exit(lg__opt.exitcode);
    }
    lg__tls.in_shim = 0;
}

static void init_once_fn(void)
{
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    /* secure_getenv: a set-uid program takes no options from the caller.
     * Static: the suppressions' paths make it 9 KiB, too much for the
     * stack of whichever thread comes first. */
    static struct lg__options o;
    lg__options_defaults(&o);
    lg__options_parse(&o, secure_getenv("LOOPGUARD_OPTIONS"), option_error,
                      NULL);
    lg__opt = o;
    lg__supp_init();
    lg__lock_order_init();
    lg__symc_init();          /* its lock is taken under lockorder's */
    lg__stack_init();
    lg__loopcat_init();
    lg__py_init();
    lg__report_init();
    lg__log_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(at_exit);
    lg__tls.in_shim = was;
}

void lg__init(void)
{
    pthread_once(&init_once, init_once_fn);
}

__attribute__((destructor)) static void core_destructor(void)
{
    __atomic_store_n(&lg__exiting, 1, __ATOMIC_RELAXED);
}
