/* thread-to-loop-batch: thread-to-loop with the messages received in
 * batches.
 *
 * Four workers send numbered messages with lg_chan_send_blocking; the loop
 * gets them with lg_chan_recv_start_batch, up to 32 per call, as an array
 * in the channel's own memory (nothing copied), checks each worker's
 * order, and closes the channel once all have come. Exits 0. */
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
static int next_seq[NWORKERS];      /* per worker, the seq due next */
static int received, batches, done;

static void *worker(void *arg)
{
    struct msg m = {(int)(intptr_t)arg, 0};

    for (; m.seq < NMSGS; m.seq++)
        CHECK(lg_chan_send_blocking(ch, &m));
    return NULL;
}

static void on_batch(lg_chan_t *c, int status, void *p, size_t n,
                     void *data)
{
    (void)data;
    if (status == -EPIPE) {         /* closed and drained: the last call */
        done = 1;
        return;
    }
    CHECK(status);
    const struct msg *m = p;        /* n messages, an array, in order */
    for (size_t i = 0; i < n; i++)
        if (m[i].seq != next_seq[m[i].worker]++) {
            fprintf(stderr, "worker %d: got %d out of order\n", m[i].worker,
                    m[i].seq);
            exit(1);
        }
    batches++;
    received += (int)n;
    if (received == NWORKERS * NMSGS)
        lg_chan_close(c);           /* every message came: the end */
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    pthread_t threads[NWORKERS];

    CHECK(lg_chan_new(&ch, 64, sizeof(struct msg)));
    CHECK(lg_chan_recv_start_batch(ch, loop, 32, on_batch, NULL));
    for (intptr_t i = 0; i < NWORKERS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)i));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    for (int i = 0; i < NWORKERS; i++)
        CHECK(pthread_join(threads[i], NULL));
    lg_chan_free(ch);
    CHECK(uv_loop_close(loop));
    printf("%d messages from %d workers, in order, in %d batches\n",
           received, NWORKERS, batches);
    return done && received == NWORKERS * NMSGS ? 0 : 1;
}
