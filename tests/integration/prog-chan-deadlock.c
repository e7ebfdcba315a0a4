/* prog-chan-deadlock: blocking lg_chan calls on a loop thread, which lg_chan
 * refuses with -EDEADLK at once instead of freezing the loop.
 *
 * `timer`: lg_chan_recv_blocking in a timer callback, on a channel nobody
 * will ever fill; with the preload its uv_run wrapper marks the thread,
 * without it lg_chan finds uv_run on the stack when it would park. `timed`:
 * the same with lg_chan_recv_timed (60 s) and lg_chan_recv_many_blocking,
 * then lg_chan_send_timed on a full channel. `callback`: lg_chan_recv_blocking, then
 * lg_chan_send_blocking, in the channel's own recv callback, a thread
 * lg_chan knows by itself. Each exits 0 when every call returned -EDEADLK.
 * Nothing will ever fill or drain the channel: a call that waited would
 * never return (the test kills it), so returning at all is returning at
 * once; the time printed is only for the reader (the first report of a
 * process waits for the symbolizer, longer on a loaded machine).
 *
 * `ready`: lg_chan_recv_blocking in a timer callback with a message
 * waiting. `after`: once uv_run has returned, lg_chan_recv_blocking of a
 * message a thread sends 20 ms later, then lg_chan_recv_timed (10 ms) on
 * an empty channel. These print each result and exit 0; the test reads
 * them (without the preload: 0, then 0 and ETIMEDOUT). */
#include <errno.h>
#include <loopguard.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

    printf("%s: %s after %.3f ms\n", call, r == 0 ? "0" : lg_err_name(r), ms);
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

static void on_tick_timed(uv_timer_t *t)
{
    uint64_t start = uv_hrtime();
    int v = 0;
    int r = lg_chan_recv_timed(ch, &v, 60000);
    note("lg_chan_recv_timed", r, start);
    int many[4];
    start = uv_hrtime();
    r = lg_chan_recv_many_blocking(ch, many, 4);
    note("lg_chan_recv_many_blocking", r, start);
    while (lg_chan_try_send(ch, &v) == 0)
        ;
    start = uv_hrtime();
    r = lg_chan_send_timed(ch, &v, 60000);   /* full, nobody drains it */
    note("lg_chan_send_timed", r, start);
    uv_close((uv_handle_t *)t, NULL);
    lg_chan_close(ch);
}

/* A message waits: no park, so no look at the stack without the preload. */
static void on_tick_ready(uv_timer_t *t)
{
    int v = 7;
    CHECK(lg_chan_try_send(ch, &v));
    uint64_t start = uv_hrtime();
    int r = lg_chan_recv_blocking(ch, &v);
    note("lg_chan_recv_blocking", r, start);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_tick_nothing(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

static void *send_later(void *arg)
{
    int v = 9;
    struct timespec ts = {0, 20 * 1000 * 1000};
    (void)arg;
    nanosleep(&ts, NULL);
    CHECK(lg_chan_send_blocking(ch, &v));
    return NULL;
}

/* uv_run has returned: this thread runs no loop, and may wait. */
static void after_loop(void)
{
    pthread_t th;
    int v = 0;
    if (pthread_create(&th, NULL, send_later, NULL) != 0)
        exit(1);
    uint64_t start = uv_hrtime();
    int r = lg_chan_recv_blocking(ch, &v);
    note("lg_chan_recv_blocking", r, start);
    pthread_join(th, NULL);
    start = uv_hrtime();
    r = lg_chan_recv_timed(ch, &v, 10);
    note("lg_chan_recv_timed", r, start);
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
    static const char *const modes[] = {"timer", "timed", "callback",
                                        "ready", "after"};
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t tick;
    int one = 1, mode = -1;

    for (int i = 0; argc == 2 && i < 5; i++)
        if (strcmp(argv[1], modes[i]) == 0)
            mode = i;
    if (mode < 0) {
        fprintf(stderr, "usage: %s timer|timed|callback|ready|after\n",
                argv[0]);
        return 2;
    }
    CHECK(lg_chan_new(&ch, 4, sizeof(int)));
    if (mode == 2) {
        CHECK(lg_chan_try_send(ch, &one));
        CHECK(lg_chan_try_send(ch, &one));
        CHECK(lg_chan_recv_start(ch, loop, on_msg, NULL));
    } else {
        static const uv_timer_cb cbs[] = {on_tick, on_tick_timed, NULL,
                                          on_tick_ready, on_tick_nothing};
        CHECK(uv_timer_init(loop, &tick));
        CHECK(uv_timer_start(&tick, cbs[mode], 0, 0));
    }
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    if (mode == 4)
        after_loop();
    lg_chan_free(ch);
    CHECK(uv_loop_close(loop));
    if (mode >= 3)
        return 0;
    return calls > 0 && refused == calls ? 0 : 1;
}
