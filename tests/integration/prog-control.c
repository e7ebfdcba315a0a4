/* prog-control MODE: the program's own controls over reports, on a libuv
 * loop. Each blocking call is a read of a pipe that already holds data (it
 * returns at once, and is a blocking receive all the same), made in a
 * function of its own so that reports can be told apart by frame.
 *   allow        an end without a begin (-EINVAL); two nested scopes with
 *                a read in each (not reported); after both ended, a read
 *                in after_scope (reported); another end (-EINVAL)
 *   grace        a read in early_read at once, one in late_read 600 ms
 *                later (run with grace_ms=300: only the late one counts)
 *   grace-stall  a callback spinning 400 ms at once, another 1500 ms
 *                later (run with grace_ms=1000 and stall_ms=100: only the
 *                late one is a stall)
 *   callback     a report callback that takes a mutex, reads a pipe (a
 *                blocking receive on the loop thread) and writes the record
 *                to a pipe a thread drains; two reads in cb_read_a and
 *                cb_read_b, then, after the loop, a lock-order inversion.
 *                Prints "reports: N" (lg_reports() across the two reads),
 *                "callbacks: N", then each record received as "cb: JSON"
 * Exit status 0 when every call behaved as the API says, 1 otherwise. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loopguard.h>
#include <uv.h>

#define SITE __attribute__((noipa))

static int failed;
static int data_pipe[2];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "prog-control: %s\n", what);
        failed = 1;
    }
}

static void read_one(void)
{
    char c;
    check(read(data_pipe[0], &c, 1) == 1, "read of the data pipe");
}

SITE static void in_inner_scope(void) { read_one(); }
SITE static void in_outer_scope(void) { read_one(); }
SITE static void after_scope(void) { read_one(); }
SITE static void early_read(void) { read_one(); }
SITE static void late_read(void) { read_one(); }
SITE static void cb_read_a(void) { read_one(); }
SITE static void cb_read_b(void) { read_one(); }

static void spin_ms(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000
           < ms);
}

/* The barriers keep these frames: no tail call into spin_ms. */
SITE static void early_spin(void)
{
    spin_ms(400);
    __asm__ volatile("" ::: "memory");
}

SITE static void late_spin(void)
{
    spin_ms(400);
    __asm__ volatile("" ::: "memory");
}

static void on_allow(uv_timer_t *t)
{
    (void)t;
    check(lg_allow_blocking_end() == -EINVAL, "end without a begin");
    check(lg_allow_blocking_begin() == 0, "begin");
    check(lg_allow_blocking_begin() == 0, "nested begin");
    in_inner_scope();
    check(lg_allow_blocking_end() == 0, "nested end");
    in_outer_scope();
    check(lg_allow_blocking_end() == 0, "end");
    after_scope();
    check(lg_allow_blocking_end() == -EINVAL, "one end too many");
}

static void on_early(uv_timer_t *t) { (void)t; early_read(); }
static void on_late(uv_timer_t *t) { (void)t; late_read(); }
static void on_early_spin(uv_timer_t *t) { (void)t; early_spin(); }
static void on_late_spin(uv_timer_t *t) { (void)t; late_spin(); }

/* --- callback --------------------------------------------------------- */
static pthread_mutex_t cb_mutex = PTHREAD_MUTEX_INITIALIZER;
static int cb_calls;
static int cb_pipe[2];        /* the callback's own blocking read */
static int out_pipe[2];       /* records, to the drain thread */
static char drained[1 << 16];
static size_t ndrained;

static void on_report(const char *json, size_t len, void *data)
{
    char c;
    check(data == &cb_calls, "callback data");
    check(len == strlen(json), "callback len == strlen(json)");
    check(len > 0 && json[len - 1] == '}', "callback: no newline");
    pthread_mutex_lock(&cb_mutex);
    cb_calls++;
    pthread_mutex_unlock(&cb_mutex);
    check(read(cb_pipe[0], &c, 1) == 1, "the callback's read");
    check(write(out_pipe[1], json, len) == (ssize_t)len &&
              write(out_pipe[1], "\n", 1) == 1,
          "the callback's write");
}

static void *drain(void *arg)
{
    (void)arg;
    ssize_t n;
    while ((n = read(out_pipe[0], drained + ndrained,
                     sizeof drained - 1 - ndrained)) > 0)
        ndrained += (size_t)n;
    return NULL;
}

/* A lock-order inversion, made after the loop: its record is made inside
 * a lock call, under the lock graph's own report lock. */
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void *take_in_order(void *arg)
{
    pthread_mutex_t *first = arg, *second = first == &lock_a ? &lock_b
                                                               : &lock_a;
    pthread_mutex_lock(first);
    pthread_mutex_lock(second);
    pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
    return NULL;
}

static void invert(void)
{
    pthread_t t;
    check(pthread_create(&t, NULL, take_in_order, &lock_a) == 0 &&
              pthread_join(t, NULL) == 0,
          "a then b");
    check(pthread_create(&t, NULL, take_in_order, &lock_b) == 0 &&
              pthread_join(t, NULL) == 0,
          "b then a");
}

static void on_callback(uv_timer_t *t)
{
    (void)t;
    uint64_t before = lg_reports();
    cb_read_a();
    cb_read_b();
    printf("reports: %llu\n", (unsigned long long)(lg_reports() - before));
}

static void add_timer(uv_loop_t *loop, uv_timer_t *t, uv_timer_cb cb,
                      uint64_t ms)
{
    check(uv_timer_init(loop, t) == 0 && uv_timer_start(t, cb, ms, 0) == 0,
          "timer");
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *mode = argv[1];
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t t1, t2;
    pthread_t drainer;
    check(pipe(data_pipe) == 0 && write(data_pipe[1], "xxxxxxxx", 8) == 8,
          "data pipe");
    if (!strcmp(mode, "allow")) {
        add_timer(loop, &t1, on_allow, 0);
    } else if (!strcmp(mode, "grace")) {
        add_timer(loop, &t1, on_early, 0);
        add_timer(loop, &t2, on_late, 600);
    } else if (!strcmp(mode, "grace-stall")) {
        add_timer(loop, &t1, on_early_spin, 0);
        add_timer(loop, &t2, on_late_spin, 1500);
    } else if (!strcmp(mode, "callback")) {
        check(pipe(cb_pipe) == 0 && write(cb_pipe[1], "cccccccc", 8) == 8 &&
                  pipe(out_pipe) == 0,
              "callback pipes");
        check(pthread_create(&drainer, NULL, drain, NULL) == 0, "drainer");
        check(lg_set_report_callback(on_report, &cb_calls) == 0, "set");
        add_timer(loop, &t1, on_callback, 0);
    } else {
        return 2;
    }
    check(uv_run(loop, UV_RUN_DEFAULT) == 0, "uv_run");
    if (!strcmp(mode, "callback")) {
        invert();
        check(lg_set_report_callback(NULL, NULL) == 0, "unset");
        close(out_pipe[1]);
        pthread_join(drainer, NULL);
        drained[ndrained] = '\0';
        printf("callbacks: %d\n", cb_calls);
        for (char *line = strtok(drained, "\n"); line;
             line = strtok(NULL, "\n"))
            printf("cb: %s\n", line);
    }
    return failed;
}
