/* prog-chan-deadlock: blocking lg_chan calls on a loop thread, which lg_chan
 * refuses with -EDEADLK at once instead of freezing the loop.
 *
 * `timer`: lg_chan_recv_blocking in a timer callback, on a channel nobody
 * will ever fill; only the preload (through uv_run) knows this thread runs
 * a loop. `callback`: lg_chan_recv_blocking, then lg_chan_send_blocking, in
 * the channel's own recv callback, a thread lg_chan knows by itself. Prints
 * each result; exits 0 when every call returned -EDEADLK. Nothing will
 * ever fill or drain the channel: a call that waited would never return
 * (the test kills it), so returning at all is returning at once; the time
 * printed is only for the reader (the first report of a process waits for
 * the symbolizer, longer on a loaded machine). */
#include <errno.h>
#include <loopguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    strerror(-rc_));                                        \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static lg_chan_t *ch;
static int refused, calls, delivered;

/* Counts a call that returned r, having started at `start`. */
static void note(const char *call, int r, uint64_t start)
{
    double ms = (uv_hrtime() - start) / 1e6;

    printf("%s: %s after %.3f ms\n", call, lg_err_name(r), ms);
    calls++;
    refused += r == -EDEADLK;
}

static void on_tick(uv_timer_t *t)
{
    uint64_t start = uv_hrtime();
    int v;
    int r = lg_chan_recv_blocking(ch, &v);   /* would wait forever */

    note("lg_chan_recv_blocking", r, start);
    uv_close((uv_handle_t *)t, NULL);
    lg_chan_close(ch);
}

/* Two messages are queued: had the receive not been refused, it would take
 * the second one and return 0 instead of hanging the test. */
static void on_msg(lg_chan_t *c, int status, void *msg, void *data)
{
    (void)msg;
    (void)data;
    if (status == -EPIPE)
        return;
    CHECK(status);
    if (delivered++ > 0)
        return;
    uint64_t start = uv_hrtime();
    int v = 0;
    int r = lg_chan_recv_blocking(c, &v);
    note("lg_chan_recv_blocking", r, start);
    start = uv_hrtime();
    r = lg_chan_send_blocking(c, &v);       /* there is room: still no */
    note("lg_chan_send_blocking", r, start);
    lg_chan_close(c);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t tick;
    int one = 1;

    if (argc != 2 ||
        (strcmp(argv[1], "timer") != 0 && strcmp(argv[1], "callback") != 0)) {
        fprintf(stderr, "usage: %s timer|callback\n", argv[0]);
        return 2;
    }
    CHECK(lg_chan_new(&ch, 4, sizeof(int)));
    if (strcmp(argv[1], "timer") == 0) {
        CHECK(uv_timer_init(loop, &tick));
        CHECK(uv_timer_start(&tick, on_tick, 0, 0));
    } else {
        CHECK(lg_chan_try_send(ch, &one));
        CHECK(lg_chan_try_send(ch, &one));
        CHECK(lg_chan_recv_start(ch, loop, on_msg, NULL));
    }
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    lg_chan_free(ch);
    CHECK(uv_loop_close(loop));
    return calls > 0 && refused == calls ? 0 : 1;
}
