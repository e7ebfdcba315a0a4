/* fixed: the deadlock example, with its queue replaced by an lg_chan.
 *
 * on_tick still wants the next item and on_produce, on the same loop, still
 * makes it; but on_tick now asks for the item to be delivered to on_item
 * instead of waiting for it, so on_produce gets its turn. The program
 * finishes and exits 0, and loopguard has nothing to report. */
#include <errno.h>
#include <loopguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Exits with a message when a libuv or lg_chan call fails (returns a
 * negative errno). */
#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    strerror(-rc_));                                        \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static int got = -1;

/* Runs on the loop once per item, then once more with -EPIPE when the
 * channel is closed and drained. */
static void on_item(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE)
        return;                     /* the last call: no more items */
    CHECK(status);
    got = *(int *)msg;
    printf("on_item: got %d\n", got);
}

static void on_tick(uv_timer_t *t)
{
    /* Returns at once: the item comes to on_item when there is one. */
    CHECK(lg_chan_recv_start(t->data, t->loop, on_item, NULL));
    uv_close((uv_handle_t *)t, NULL);
}

/* The item is in the channel. Close only now: a message still parked on
 * the loop side when the channel closes is dropped with -EPIPE. */
static void on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)data;
    CHECK(status);
    lg_chan_close(ch);              /* nothing more will come */
}

static void on_produce(uv_timer_t *t)
{
    int v = 42;

    CHECK(lg_chan_send_async(t->data, t->loop, &v, on_sent, NULL));
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t tick, produce;
    lg_chan_t *q;

    CHECK(lg_chan_new(&q, 16, sizeof(int)));
    CHECK(uv_timer_init(loop, &tick));
    CHECK(uv_timer_init(loop, &produce));
    tick.data = produce.data = q;
    CHECK(uv_timer_start(&tick, on_tick, 0, 0));
    CHECK(uv_timer_start(&produce, on_produce, 10, 0));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    lg_chan_free(q);                /* the loop has let go of it */
    CHECK(uv_loop_close(loop));
    return got == 42 ? 0 : 1;
}
