/* bench-wrap: nanoseconds per call for calls that libloopguard-preload.so
 * wraps but that do not block, made off a loop thread (a plain pthread) and
 * on one (inside a libuv timer callback, so the thread is inside uv_run).
 *
 * The binary never links loopguard: bench/run.sh runs it natively and under
 * LD_PRELOAD, interleaved, and turns the per-process figures into the table.
 *
 *   bench-wrap [-t MS] [-r REPS]   measure every op in both contexts
 *   bench-wrap [-t MS] [-r REPS] --only KEY
 *                                  measure op KEY only (for perf record)
 *   bench-wrap --list              print the ops
 *   bench-wrap --probe KEY         make op KEY three times on the loop thread
 *                                  and exit (run.sh: is it reported?); KEY
 *                                  "none" runs the loop alone
 *
 * Output, one record a line: "op KEY SYMBOL KIND DESC", "mark CTX 0|1|?" (what
 * lg_thread_is_loop() said, when the preload is there) and
 * "result CTX KEY NS DIRECT_NS" (the fastest of REPS timings of about MS
 * each, calling through the PLT and calling libc directly). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_REPS 100

/* What every op works on, made once before any timing. */
static struct {
    int pipe_nb[2];  /* pipe2(O_NONBLOCK), always empty */
    int sock_nb[2];  /* socketpair(SOCK_NONBLOCK), always empty */
    int sock_blk[2]; /* blocking socketpair: only MSG_DONTWAIT on it */
    int dup_target;  /* a second fd for dup2 to replace */
    int closed_fd;   /* a free fd number above the ones in use */
    sem_t sem;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    uint32_t futex_word;
    pid_t ppid;
    struct pollfd writable;  /* pipe_nb[1], POLLOUT: always ready */
    char buf[16];
    void *blk;       /* the block of the malloc + free ops */
    void *rblk;      /* a block realloc keeps in place */
} fx;

static void die(const char *what)
{
    fprintf(stderr, "bench-wrap: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each op is its own function holding its own loop, so the call under test
 * sits inline in the loop (no indirect call per iteration) and every call
 * of one op comes from one site: on a loop thread a reported call is then
 * one deduplicated site, as in a real program. The result check verifies
 * the preload forwards return values, and costs a compare and a
 * never-taken branch, the same natively and under the preload.
 *
 * Each op exists twice. op_NAME calls through the PLT, so under the
 * preload it reaches the wrapper; direct_NAME calls libc's own function
 * through a pointer taken from libc's handle, so it never does. Timing
 * both in turn in one process gives the wrapper's cost without the
 * differences between processes (on this VM one process's syscalls can
 * run 10 ns slower than another's for the whole of its life). */
#define OPS(X)                                                                 \
    X(read_pipe, F(read)(fx.pipe_nb[0], fx.buf, 1) == -1)                      \
    X(read_sock, F(read)(fx.sock_nb[0], fx.buf, 1) == -1)                      \
    X(recv_dontwait, F(recv)(fx.sock_blk[0], fx.buf, 1, MSG_DONTWAIT) == -1)   \
    X(sem_pair, F(sem_post)(&fx.sem) == 0 && F(sem_wait)(&fx.sem) == 0)        \
    X(futex_wake, F(syscall)(SYS_futex, &fx.futex_word, FUTEX_WAKE_PRIVATE, 1, \
                             NULL, NULL, 0) == 0)                              \
    X(sys_getppid, F(syscall)(SYS_getppid) == fx.ppid)                         \
    X(close_ebadf, F(close)(fx.closed_fd) == -1)                               \
    X(fcntl_getfl, F(fcntl)(fx.sock_nb[0], F_GETFL) >= 0)                      \
    X(ioctl_fionbio, F(ioctl)(fx.sock_nb[0], FIONBIO, &one) == 0)              \
    X(setfl_dup, F(fcntl)(fx.dup_target, F_SETFL, O_NONBLOCK) == 0)            \
    X(dup2_replace, F(dup2)(fx.pipe_nb[1], fx.dup_target) == fx.dup_target)    \
    X(cond_signal, F(pthread_cond_signal)(&fx.cond) == 0)                      \
    X(nanosleep0, F(nanosleep)(&zero_ts, NULL) == 0)                           \
    X(mutex_pair, F(pthread_mutex_lock)(&fx.mutex) == 0 &&                     \
                      F(pthread_mutex_unlock)(&fx.mutex) == 0)                 \
    X(libc_getppid, F(getppid)() == fx.ppid)                                   \
    X(free_near, (fx.blk = F(malloc)(64)) != NULL && (F(free)(fx.blk), 1))    \
    X(free_above, (fx.blk = F(malloc)(48)) != NULL && (F(free)(fx.blk), 1))   \
    X(realloc_near, F(realloc)(fx.rblk, 64) == fx.rblk)                        \
    X(poll_ready, F(poll)(&fx.writable, 1, 1000) == 1)

/* libc's own functions, for the direct_ variants. */
/* clang-format off */
#define LIBC_FNS(X)                                                            \
    X(read) X(recv) X(sem_post) X(sem_wait) X(syscall) X(close) X(fcntl)       \
    X(ioctl) X(dup2) X(pthread_cond_signal) X(nanosleep)                       \
    X(pthread_mutex_lock) X(pthread_mutex_unlock) X(getppid) X(malloc)        \
    X(free) X(realloc) X(poll)
/* clang-format on */

#define DECLARE_PTR(f) static __typeof__(f) *libc_##f;
LIBC_FNS(DECLARE_PTR)

#define TIMED_LOOP(prefix, name, body)                                         \
    static __attribute__((noinline)) uint64_t prefix##name(long n)             \
    {                                                                          \
        uint64_t t0 = now_ns();                                                \
        for (long i = 0; i < n; i++) {                                         \
            if (!(body))                                                       \
                die(#name);                                                    \
        }                                                                      \
        return now_ns() - t0;                                                  \
    }
#define PLT_OP(name, body) TIMED_LOOP(op_, name, body)
#define DIRECT_OP(name, body) TIMED_LOOP(direct_, name, body)

static const int one = 1;
static const struct timespec zero_ts;

#define F(f) f
OPS(PLT_OP)
#undef F
#define F(f) libc_##f
OPS(DIRECT_OP)
#undef F

static void resolve_libc(void)
{
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);

    if (!h) {
        fprintf(stderr, "bench-wrap: dlopen libc.so.6: %s\n", dlerror());
        exit(1);
    }
#define RESOLVE(f)                                                             \
    *(void **)&libc_##f = dlsym(h, #f);                                        \
    if (!libc_##f) {                                                           \
        fprintf(stderr, "bench-wrap: dlsym %s: %s\n", #f, dlerror());          \
        exit(1);                                                               \
    }
    LIBC_FNS(RESOLVE)
#undef RESOLVE
}

/* sym: the function the op is about; run.sh looks it up in the preload's
 * exports, so an op counts as wrapped (held to the targets) or as a
 * control (its "added" figure is the run's noise) by what the preload
 * really wraps. kind "sleep": a zero nanosleep still waits for a timer
 * (tens of microseconds here, varying by more than that), so it is
 * measured but held to no target. */
static const struct op {
    const char *key;
    const char *sym;
    const char *kind;
    const char *desc;
    uint64_t (*fn)(long n);
    uint64_t (*direct)(long n);
} ops[] = {
#define OP(key, sym, kind, desc, name)                                         \
    {                                                                          \
        key, sym, kind, desc, op_##name, direct_##name                         \
    }
    OP("read-pipe", "read", "call", "read, O_NONBLOCK pipe, EAGAIN", read_pipe),
    OP("read-sock", "read", "call", "read, O_NONBLOCK sock, EAGAIN", read_sock),
    OP("recv-dontwait", "recv", "call", "recv DONTWAIT, blocking sock",
       recv_dontwait),
    OP("sem-pair", "sem_wait", "call", "sem_post + sem_wait, no wait",
       sem_pair),
    OP("futex-wake", "syscall", "call", "syscall(SYS_futex, WAKE)", futex_wake),
    OP("sys-getppid", "syscall", "call", "syscall(SYS_getppid)", sys_getppid),
    OP("close-ebadf", "close", "call", "close, fd not open (EBADF)",
       close_ebadf),
    OP("fcntl-getfl", "fcntl", "call", "fcntl(F_GETFL)", fcntl_getfl),
    OP("ioctl-fionbio", "ioctl", "call", "ioctl(FIONBIO, 1)", ioctl_fionbio),
    OP("setfl-dup", "fcntl", "call", "fcntl(F_SETFL) of a dup fd", setfl_dup),
    OP("dup2", "dup2", "call", "dup2 onto an open fd", dup2_replace),
    OP("cond-signal", "pthread_cond_signal", "call", "cond_signal, no waiter",
       cond_signal),
    OP("nanosleep0", "nanosleep", "sleep", "nanosleep, zero duration",
       nanosleep0),
    OP("mutex-pair", "pthread_mutex_lock", "call", "mutex lock + unlock",
       mutex_pair),
    OP("getppid", "getppid", "call", "getppid() (libc, syscall)", libc_getppid),
    OP("free-near", "free", "call", "malloc+free, 64 B amid locks",
       free_near),
    OP("free-above", "free", "call", "malloc+free, 48 B above locks",
       free_above),
    OP("realloc-near", "realloc", "call", "realloc in place, amid locks",
       realloc_near),
    /* One descriptor: off a loop a waiting poll now takes the slow path
     * (is this thread a poll loop's?), but one descriptor never makes
     * one, so this stays the cost of that question on every thread. */
    OP("poll-ready", "poll", "call", "poll, 1 ready fd, 1 s timeout",
       poll_ready),
#undef OP
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static double target_ms = 8;
static int reps = 5;

/* Doubles the count until one run takes 5 ms (this is also the warm-up:
 * caches, branch predictors, and on a loop thread the preload's first
 * look at each fd), then times REPS runs of about target_ms each of both
 * variants in turn and keeps the fastest of each: other processes on this
 * shared VM only ever add time, and they add it to whichever variant
 * happens to run then. op->fn is called from one place only, so on a loop
 * thread a reported op is one stack, one site. */
static void measure(const struct op *op, double *plt, double *direct)
{
    long n = 256;
    int calibrating = 1;

    for (int r = 0; r < reps;) {
        uint64_t t = op->fn(n);

        if (calibrating) {
            if (t < 5000000 && n < (1L << 30)) {
                n *= 2;
                continue;
            }
            calibrating = 0;
            n = (long)((double)n * target_ms * 1e6 / (double)(t ? t : 1));
            if (n < 1000)
                n = 1000;
            op->direct(n / 16); /* its first run must not be timed either */
            continue;
        }
        double a = (double)t / (double)n;
        double b = (double)op->direct(n) / (double)n;

        if (r == 0 || a < *plt)
            *plt = a;
        if (r == 0 || b < *direct)
            *direct = b;
        r++;
    }
}

static void print_result(const char *ctx, const struct op *op)
{
    double plt = 0, direct = 0;

    measure(op, &plt, &direct);
    printf("result %s %s %.3f %.3f\n", ctx, op->key, plt, direct);
    fflush(stdout);
}

/* lg_thread_is_loop() when libloopguard.so is in the process (it comes in
 * with the preload), found at run time because this binary must not link
 * it. -1 natively. */
static int loop_mark(void)
{
    int (*is_loop)(void);

    *(void **)&is_loop = dlsym(RTLD_DEFAULT, "lg_thread_is_loop");
    return is_loop ? is_loop() : -1;
}

static void print_mark(const char *ctx)
{
    int m = loop_mark();

    if (m < 0)
        printf("mark %s ?\n", ctx);
    else
        printf("mark %s %d\n", ctx, m);
}

/* The free and realloc ops' blocks, made by each context's thread (malloc
 * caches blocks per thread; main() keeps every thread on glibc's one main
 * arena), placed where the preload's test of "may this block hold a
 * lock?" has the most to do: between two heap mutexes of the lock-order
 * graph (taken one under the other once), on the same page, below the
 * highest lock; and one block above every lock. Natively the same calls
 * are made. */
static uintptr_t highest_lock;

static void heap_setup(void)
{
    pthread_mutex_t *low = malloc(64);
    void *gap = malloc(64);
    fx.rblk = malloc(64);
    pthread_mutex_t *high = malloc(64);
    if (!low || !gap || !fx.rblk || !high)
        die("malloc");
    pthread_mutex_init(low, NULL);
    pthread_mutex_init(high, NULL);
    pthread_mutex_lock(low);
    pthread_mutex_lock(high);
    pthread_mutex_unlock(high);
    pthread_mutex_unlock(low);
    /* The next malloc(64) of free-near gets it back, and so on. */
    free(gap);
    if ((uintptr_t)high > highest_lock)
        highest_lock = (uintptr_t)high;
    /* A 48-byte block above every lock (those below stay allocated). */
    for (int i = 0; i < 1000; i++) {
        void *top = malloc(48);
        if (!top)
            die("malloc");
        if ((uintptr_t)top > highest_lock) {
            free(top);
            break;
        }
    }
}

static int probing;
static const struct op *probe_op; /* NULL when probing "none" */
static const struct op *only_op;

/* The next op to measure at or after ops[i], honouring --only. */
static size_t skip_to(size_t i)
{
    while (i < NOPS && only_op && &ops[i] != only_op)
        i++;
    return i;
}

static void *off_loop_thread(void *arg)
{
    (void)arg;
    heap_setup();
    print_mark("off");
    for (size_t i = skip_to(0); i < NOPS; i = skip_to(i + 1))
        print_result("off", &ops[i]);
    return NULL;
}

/* One op per timer callback: the loop thread returns to uv_run between
 * measurements, as a real loop does between callbacks. */
static size_t next_op;

static void on_timer(uv_timer_t *t)
{
    if (probing) {
        heap_setup();
        if (probe_op)
            probe_op->fn(3);
        uv_close((uv_handle_t *)t, NULL);
        return;
    }
    if (next_op == 0) {
        heap_setup();
        print_mark("on");
        next_op = skip_to(0);
    }
    print_result("on", &ops[next_op]);
    next_op = skip_to(next_op + 1);
    if (next_op < NOPS)
        uv_timer_start(t, on_timer, 0, 0);
    else
        uv_close((uv_handle_t *)t, NULL);
}

static void run_on_loop(void)
{
    uv_loop_t loop;
    uv_timer_t timer;

    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &timer) != 0 ||
        uv_timer_start(&timer, on_timer, 0, 0) != 0) {
        fprintf(stderr, "bench-wrap: libuv set-up failed\n");
        exit(1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "bench-wrap: loop still has handles\n");
        exit(1);
    }
}

static void setup(void)
{
    if (pipe2(fx.pipe_nb, O_NONBLOCK | O_CLOEXEC) != 0)
        die("pipe2");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   fx.sock_nb) != 0)
        die("socketpair");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fx.sock_blk) != 0)
        die("socketpair");
    fx.dup_target = dup(fx.pipe_nb[1]);
    if (fx.dup_target < 0)
        die("dup");
    if (sem_init(&fx.sem, 0, 0) != 0)
        die("sem_init");
    pthread_mutex_init(&fx.mutex, NULL);
    pthread_cond_init(&fx.cond, NULL);
    /* Not -1: the preload's close checks fds above 2 against its log fd,
     * and a real close is of such an fd. Numbers below 512 stay free for
     * the fds libuv opens later. */
    fx.closed_fd = fcntl(fx.pipe_nb[1], F_DUPFD_CLOEXEC, 512);
    if (fx.closed_fd < 0 || close(fx.closed_fd) != 0)
        die("F_DUPFD");
    fx.ppid = getppid();
    fx.writable.fd = fx.pipe_nb[1];
    fx.writable.events = POLLOUT;
    /* The ops assume these fail fast with EAGAIN rather than block. */
    if (read(fx.pipe_nb[0], fx.buf, 1) != -1 || errno != EAGAIN)
        die("read of the empty O_NONBLOCK pipe did not fail with EAGAIN");
    if (recv(fx.sock_blk[0], fx.buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
        die("recv MSG_DONTWAIT did not fail with EAGAIN");
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-wrap [-t MS] [-r REPS] [--only KEY] | "
                    "--list | --probe KEY\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < NOPS; k++)
                printf("op %s %s %s %s\n", ops[k].key, ops[k].sym, ops[k].kind,
                       ops[k].desc);
            return 0;
        } else if (strcmp(argv[i], "--probe") == 0 && i + 1 < argc) {
            i++;
            probing = 1;
            for (size_t k = 0; k < NOPS; k++)
                if (strcmp(argv[i], ops[k].key) == 0)
                    probe_op = &ops[k];
            if (!probe_op && strcmp(argv[i], "none") != 0)
                usage();
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            i++;
            for (size_t k = 0; k < NOPS; k++)
                if (strcmp(argv[i], ops[k].key) == 0)
                    only_op = &ops[k];
            if (!only_op)
                usage();
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            target_ms = atof(argv[++i]);
            if (target_ms <= 0)
                usage();
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > MAX_REPS)
                usage();
        } else {
            usage();
        }
    }
    mallopt(M_ARENA_MAX, 1);
    setup();
    resolve_libc();
    if (!probing) {
        pthread_t th;

        /* A fresh thread that never enters a loop: the off-loop case. */
        if (pthread_create(&th, NULL, off_loop_thread, NULL) != 0 ||
            pthread_join(th, NULL) != 0)
            die("pthread");
    }
    run_on_loop();
    return 0;
}
