/* loop-to-thread: the loop hands work to a thread that may block.
 *
 * on_start sends jobs with lg_chan_send_async, which never waits; the
 * worker blocks in lg_chan_recv_blocking (fine: it is not a loop thread)
 * and sends each result back through a second channel, which delivers it to
 * on_result on the loop. Nothing is reported, and the program exits 0. */
#include <errno.h>
#include <loopguard.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Exits with a message when a libuv, lg_chan (negative) or pthread
 * (positive) call fails. */
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

struct result {
    int job, square;
};

static lg_chan_t *jobs;             /* int: loop -> worker */
static lg_chan_t *results;          /* struct result: worker -> loop */
static int sent, sum;

/* Runs on its own thread, so it may block as long as it likes. */
static void *worker(void *arg)
{
    int job, r;

    (void)arg;
    while ((r = lg_chan_recv_blocking(jobs, &job)) == 0) {
        struct result res = {job, job * job};
        CHECK(lg_chan_send_blocking(results, &res));
    }
    CHECK(r == -EPIPE ? 0 : r);     /* -EPIPE: closed, every job taken */
    lg_chan_close(results);         /* so the loop's last call comes */
    return NULL;
}

/* A job is in the channel. Once all are, close it: the worker still gets
 * every one of them, then -EPIPE. */
static void on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)data;
    CHECK(status);
    if (++sent == NJOBS)
        lg_chan_close(ch);
}

static void on_start(uv_timer_t *t)
{
    for (int i = 1; i <= NJOBS; i++)
        CHECK(lg_chan_send_async(jobs, t->loop, &i, on_sent, NULL));
    uv_close((uv_handle_t *)t, NULL);
}

static void on_result(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE)
        return;                     /* the worker is done: the last call */
    CHECK(status);
    const struct result *res = msg;
    printf("on_result: %d squared is %d\n", res->job, res->square);
    sum += res->square;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    pthread_t thread;
    uv_timer_t start;

    CHECK(lg_chan_new(&jobs, 16, sizeof(int)));
    CHECK(lg_chan_new(&results, 16, sizeof(struct result)));
    CHECK(lg_chan_recv_start(results, loop, on_result, NULL));
    CHECK(uv_timer_init(loop, &start));
    CHECK(uv_timer_start(&start, on_start, 0, 0));
    CHECK(pthread_create(&thread, NULL, worker, NULL));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    CHECK(pthread_join(thread, NULL));
    lg_chan_free(jobs);
    lg_chan_free(results);
    CHECK(uv_loop_close(loop));
    printf("sum of squares 1..%d = %d\n", NJOBS, sum);
    return sum == NJOBS * (NJOBS + 1) * (2 * NJOBS + 1) / 6 ? 0 : 1;
}
