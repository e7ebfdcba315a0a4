/* bench-growth: how the detector's costs grow (issue 18, item 3), for
 * bench/growth.py, which runs every point natively and under the preload
 * and draws the curves.
 *
 *   bench-growth ops THREADS LOOPS OPS
 *     LOOPS libuv loops, each on its own thread, live: a 1 ms timer whose
 *     callback makes 10 ops; and THREADS plain threads making OPS ops
 *     each, all at once. An op is what a program does off a loop all the
 *     time through wrapped calls that do not block: a mutex locked and
 *     unlocked, and a read of an empty non-blocking pipe (EAGAIN). Prints
 *     "GROWTH op_ns=A proc_ns=B": A the plain threads' CPU time per op
 *     (their own clocks: the wrappers' fast path), B the process's CPU
 *     time (getrusage: loops, the detector's own threads) over the plain
 *     threads' ops.
 *
 *   bench-growth sites SITES
 *     One libuv loop whose timer callback makes SITES sem_waits on a
 *     posted semaphore (they return at once; on a loop thread each is a
 *     blocking call the preload reports), each from its own stack: a path
 *     of 17 calls through two functions, chosen by the site's number.
 *     Prints "GROWTH maxrss_kb=K": the process's peak resident set
 *     (VmHWM).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_THREADS 256
#define LOOP_OPS 10           /* per timer tick: 64 loops stay under
                                 a fifth of a CPU */
#define SITE_DEPTH 17         /* 2^17 > 10^5 paths */

static int pipe_rd;           /* an empty non-blocking pipe */
static _Atomic int stop_loops;

static void die(const char *what)
{
    fprintf(stderr, "bench-growth: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void op(pthread_mutex_t *mu)
{
    char c;
    pthread_mutex_lock(mu);
    pthread_mutex_unlock(mu);
    if (read(pipe_rd, &c, 1) != -1 || errno != EAGAIN)
        die("read of the empty pipe");
}

static uint64_t ns(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- ops --------------------------------------------------------------- */
struct loop_thread {
    pthread_t th;
    uv_loop_t loop;
    uv_timer_t tick;
    pthread_mutex_t mu;
};

static void on_tick(uv_timer_t *t)
{
    struct loop_thread *l = t->data;
    for (int i = 0; i < LOOP_OPS; i++)
        op(&l->mu);
    if (stop_loops)
        uv_stop(&l->loop);
}

static void *loop_main(void *arg)
{
    struct loop_thread *l = arg;
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return NULL;
}

static uint64_t ops_each;
static pthread_barrier_t go;
static _Atomic uint64_t worker_cpu_ns;

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_barrier_wait(&go);
    uint64_t t0 = ns(CLOCK_THREAD_CPUTIME_ID);
    for (uint64_t i = 0; i < ops_each; i++)
        op(&mu);
    worker_cpu_ns += ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    return NULL;
}

static int run_ops(int threads, int loops, uint64_t n)
{
    static struct loop_thread lt[MAX_THREADS];
    pthread_t wt[MAX_THREADS];
    ops_each = n;
    for (int i = 0; i < loops; i++) {
        struct loop_thread *l = &lt[i];
        pthread_mutex_init(&l->mu, NULL);
        if (uv_loop_init(&l->loop) != 0 || uv_timer_init(&l->loop, &l->tick))
            die("uv_loop_init");
        l->tick.data = l;
        uv_timer_start(&l->tick, on_tick, 1, 1);
        if (pthread_create(&l->th, NULL, loop_main, l) != 0)
            die("pthread_create");
    }
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&wt[i], NULL, worker_main, NULL) != 0)
            die("pthread_create");
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    pthread_barrier_wait(&go);
    for (int i = 0; i < threads; i++)
        pthread_join(wt[i], NULL);
    getrusage(RUSAGE_SELF, &r1);
    stop_loops = 1;
    for (int i = 0; i < loops; i++)
        pthread_join(lt[i].th, NULL);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
                          r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e9 +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
                          r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) * 1e3;
    double total = (double)n * threads;
    printf("GROWTH op_ns=%.2f proc_ns=%.2f\n",
           (double)worker_cpu_ns / total, cpu / total);
    return 0;
}

/* ---- sites ------------------------------------------------------------- */
static sem_t sem;

/* Two functions, so that the return address in each frame says which
 * way the path went: SITE_DEPTH frames of them make each path a stack of
 * its own. Neither may become a tail call. */
static void __attribute__((noinline)) step_a(int depth, unsigned path);
static void __attribute__((noinline)) step_b(int depth, unsigned path);

static void __attribute__((noinline)) step(int depth, unsigned path)
{
    if (depth == 0) {
        sem_post(&sem);
        while (sem_wait(&sem) != 0 && errno == EINTR)
            ;
    } else if (path & 1) {
        step_a(depth - 1, path >> 1);
    } else {
        step_b(depth - 1, path >> 1);
    }
    __asm__ volatile("" ::: "memory");
}

static void step_a(int depth, unsigned path)
{
    step(depth, path);
    __asm__ volatile("" ::: "memory");
}

static void step_b(int depth, unsigned path)
{
    step(depth, path);
    __asm__ volatile("" ::: "memory");
}

static unsigned n_sites;

static void on_sites(uv_timer_t *t)
{
    for (unsigned i = 0; i < n_sites; i++)
        step(SITE_DEPTH, i);
    uv_close((uv_handle_t *)t, NULL);
}

static int run_sites(unsigned sites)
{
    uv_loop_t loop;
    uv_timer_t t;
    n_sites = sites;
    if (sem_init(&sem, 0, 0) != 0 || uv_loop_init(&loop) != 0 ||
        uv_timer_init(&loop, &t) != 0)
        die("set-up");
    uv_timer_start(&t, on_sites, 0, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    /* VmHWM, not getrusage's ru_maxrss: Linux carries that over an
     * execve from the process before it (the bench's Python). */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0)
        die("VmHWM in /proc/self/status");
    printf("GROWTH maxrss_kb=%ld\n", kb);
    return 0;
}

int main(int argc, char **argv)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        die("pipe2");
    pipe_rd = fds[0];
    if (argc == 5 && strcmp(argv[1], "ops") == 0) {
        int threads = atoi(argv[2]), loops = atoi(argv[3]);
        long long n = atoll(argv[4]);
        if (threads >= 1 && threads <= MAX_THREADS && loops >= 0 &&
            loops <= MAX_THREADS && n >= 1)
            return run_ops(threads, loops, (uint64_t)n);
    } else if (argc == 3 && strcmp(argv[1], "sites") == 0) {
        long sites = atol(argv[2]);
        if (sites >= 1 && sites <= (1L << SITE_DEPTH))
            return run_sites((unsigned)sites);
    }
    fprintf(stderr, "usage: bench-growth ops THREADS LOOPS OPS\n"
                    "       bench-growth sites SITES\n");
    return 2;
}
