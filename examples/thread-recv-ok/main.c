/* thread-recv-ok: the same blocking receive, made where it belongs.
 *
 * The loop hands jobs to a worker thread, which blocks in pthread_cond_wait
 * (fine: it is not a loop thread) and hands each result back with
 * uv_async_send. The loop never waits: no report, and the program exits 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Exits with a message when a libuv (negative) or pthread (positive) call
 * fails. */
#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    strerror(rc_ < 0 ? -rc_ : rc_));                        \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#define NJOBS 3
#define STOP 0                      /* the job that tells the worker to end */

/* Both queues are guarded by `lock`; only `jobs` has a waiter. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_ready = PTHREAD_COND_INITIALIZER;
static int jobs[NJOBS + 1], njobs;
static int results[NJOBS], nresults;

static uv_async_t results_ready;    /* worker -> loop wake-up */
static int received, sum;

static void push_job(int job)
{
    CHECK(pthread_mutex_lock(&lock));
    jobs[njobs++] = job;
    CHECK(pthread_cond_signal(&jobs_ready));
    CHECK(pthread_mutex_unlock(&lock));
}

/* Runs on its own thread, so it may block as long as it likes. */
static void *worker(void *arg)
{
    int job, head = 0;

    (void)arg;
    for (;;) {
        CHECK(pthread_mutex_lock(&lock));
        while (head == njobs)
            CHECK(pthread_cond_wait(&jobs_ready, &lock));
        job = jobs[head++];
        if (job != STOP)
            results[nresults++] = job * job;
        CHECK(pthread_mutex_unlock(&lock));
        if (job == STOP)
            return NULL;
        CHECK(uv_async_send(&results_ready));
    }
}

/* Runs on the loop. Wake-ups coalesce, so take every result there is. */
static void on_results(uv_async_t *a)
{
    CHECK(pthread_mutex_lock(&lock));
    for (; received < nresults; received++)
        sum += results[received];
    CHECK(pthread_mutex_unlock(&lock));
    if (received == NJOBS) {
        push_job(STOP);
        uv_close((uv_handle_t *)a, NULL);
    }
}

static void on_tick(uv_timer_t *t)
{
    for (int i = 1; i <= NJOBS; i++)
        push_job(i);                /* never waits: the worker does */
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    pthread_t thread;
    uv_timer_t tick;

    CHECK(uv_async_init(loop, &results_ready, on_results));
    CHECK(uv_timer_init(loop, &tick));
    CHECK(uv_timer_start(&tick, on_tick, 0, 0));
    CHECK(pthread_create(&thread, NULL, worker, NULL));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    CHECK(pthread_join(thread, NULL));
    CHECK(uv_loop_close(loop));
    printf("sum of squares 1..%d = %d\n", NJOBS, sum);
    return sum == NJOBS * (NJOBS + 1) * (2 * NJOBS + 1) / 6 ? 0 : 1;
}
