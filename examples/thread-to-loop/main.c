/* thread-to-loop: worker threads send, the loop receives, nobody waits on
 * the loop.
 *
 * Each worker sends numbered messages with lg_chan_send_blocking, waiting
 * whenever the channel is full (fine: off the loop). on_msg receives them on
 * the loop, checks each worker's order, and closes the channel once all have
 * come; a timer ticks meanwhile, because the loop never waits. Exits 0. */
#include <errno.h>
#include <loopguard.h>
#include <pthread.h>
#include <stdint.h>
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

#define NWORKERS 4
#define NMSGS 10000                 /* per worker */

struct msg {
    int worker, seq;
};

static lg_chan_t *ch;               /* struct msg: workers -> loop */
static uv_timer_t tick;
static int next_seq[NWORKERS];      /* per worker, the seq due next */
static int received, ticks, done;

static void *worker(void *arg)
{
    struct msg m = {(int)(intptr_t)arg, 0};

    for (; m.seq < NMSGS; m.seq++)
        CHECK(lg_chan_send_blocking(ch, &m));
    return NULL;
}

static void on_msg(lg_chan_t *c, int status, void *p, void *data)
{
    (void)data;
    if (status == -EPIPE) {         /* closed and drained: the last call */
        uv_close((uv_handle_t *)&tick, NULL);
        done = 1;
        return;
    }
    CHECK(status);
    const struct msg *m = p;
    if (m->seq != next_seq[m->worker]++) {
        fprintf(stderr, "worker %d: got %d out of order\n", m->worker,
                m->seq);
        exit(1);
    }
    if (++received == NWORKERS * NMSGS)
        lg_chan_close(c);           /* every message came: the end */
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    ticks++;                        /* runs while the workers send */
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    pthread_t threads[NWORKERS];

    CHECK(lg_chan_new(&ch, 64, sizeof(struct msg)));
    CHECK(lg_chan_recv_start(ch, loop, on_msg, NULL));
    CHECK(uv_timer_init(loop, &tick));
    CHECK(uv_timer_start(&tick, on_tick, 1, 1));
    for (intptr_t i = 0; i < NWORKERS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)i));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    for (int i = 0; i < NWORKERS; i++)
        CHECK(pthread_join(threads[i], NULL));
    lg_chan_free(ch);
    CHECK(uv_loop_close(loop));
    printf("%d messages from %d workers, in order; %d ticks meanwhile\n",
           received, NWORKERS, ticks);
    return done && received == NWORKERS * NMSGS ? 0 : 1;
}
