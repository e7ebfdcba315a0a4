/* deadlock: a blocking receive on the loop thread that can never return.
 *
 * on_tick pops from a mutex + condition-variable queue that only on_produce,
 * a callback on the same loop, fills; on_produce cannot run while on_tick
 * waits. The program hangs; loopguard reports the wait before it starts. */
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

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;    /* signalled by queue_push */
    int items[16];
    int count;
};

static struct queue q = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0
};

static void queue_push(struct queue *qu, int v)
{
    CHECK(pthread_mutex_lock(&qu->lock));
    if (qu->count < 16)
        qu->items[qu->count++] = v;
    CHECK(pthread_cond_signal(&qu->nonempty));
    CHECK(pthread_mutex_unlock(&qu->lock));
}

/* In a real program the queue lives in a file of its own; noinline keeps its
 * frame in the report at -O2 as well. */
__attribute__((noinline)) static int queue_pop(struct queue *qu)
{
    CHECK(pthread_mutex_lock(&qu->lock));
    while (qu->count == 0)
        CHECK(pthread_cond_wait(&qu->nonempty, &qu->lock));
    int v = qu->items[--qu->count];
    CHECK(pthread_mutex_unlock(&qu->lock));
    return v;
}

static void on_tick(uv_timer_t *t)
{
    int v = queue_pop(t->data);     /* waits for on_produce: forever */
    printf("on_tick: got %d\n", v);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_produce(uv_timer_t *t)
{
    queue_push(t->data, 42);        /* never runs: the loop is stuck */
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t tick, produce;

    CHECK(uv_timer_init(loop, &tick));
    CHECK(uv_timer_init(loop, &produce));
    tick.data = produce.data = &q;
    CHECK(uv_timer_start(&tick, on_tick, 0, 0));
    CHECK(uv_timer_start(&produce, on_produce, 10, 0));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    CHECK(uv_loop_close(loop));
    return 0;
}
