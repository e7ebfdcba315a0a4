/* A receiver going to sleep while a message is in flight (claimed by its
 * producer, not yet published). Pushes make no fence of their own
 * (src/chan-internal.h), so that message's producer may have looked for
 * sleepers before the receiver announced itself, and will not wake it:
 * the receiver must not sleep for good. The producer here is lg__chan_push
 * alone, which never looks, stalled between claim and publish by
 * ct_slow_page: the worst its look could have found. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-internal.h"
#include "chan-test.h"

static lg_chan_t *flight_ch;

static void *push_without_look(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)lg__chan_push(flight_ch, ct_slow_page);
}

/* Starts a push that claims slot 0 and then stalls for 300 ms. */
static void start_stalled_push(pthread_t *p)
{
    assert_true(ct_slow_page_setup());
    memcpy(ct_slow_page, &(struct ct_msg){7, 1}, sizeof(struct ct_msg));
    assert_true(ct_slow_page_arm());
    assert_int_equal(lg_chan_new(&flight_ch, 4, sizeof(struct ct_msg)), 0);
    assert_int_equal(pthread_create(p, NULL, push_without_look, NULL), 0);
    ct_sleep_ms(100); /* slot 0 claimed, the push sits in the handler */
}

static void finish_stalled_push(pthread_t p)
{
    void *ret;
    assert_int_equal(ct_join_ms(p, &ret, 10000), 0);
    assert_int_equal((intptr_t)ret, 0);
    ct_slow_page_teardown();
}

/* A thread: it spins, announces itself, finds slot 0 in flight, and parks.
 * It must return within 5 s (the push publishes after 300 ms); parked for
 * good, only the close afterwards gets it out. */
static void test_chan_inflight_thread(void **state)
{
    (void)state;
    pthread_t p;
    struct ct_call r = {.op = CT_RECV};
    start_stalled_push(&p);
    r.ch = flight_ch;
    assert_int_equal(pthread_create(&r.t, NULL, ct_call_thread, &r), 0);
    int done = 0;
    for (int tries = 0; tries < 5000 && !done; tries++) {
        done = atomic_load(&r.done);
        ct_sleep_ms(1);
    }
    finish_stalled_push(p);
    lg_chan_close(flight_ch);
    assert_int_equal(ct_join_ms(r.t, NULL, 10000), 0);
    lg_chan_free(flight_ch);
    assert_true(done);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.msg.prod, 7);
    assert_int_equal(r.msg.seq, 1);
}

/* A loop: its first look finds slot 0 claimed and not ready, it arms and
 * returns to uv_run. The message must still be delivered; a timer stops
 * the loop after 5 s if it is not. */
static int loop_got;
static struct ct_msg loop_msg;

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)data;
    if (status != 0)
        return;
    memcpy(&loop_msg, msg, sizeof loop_msg);
    if (++loop_got == 1)
        lg_chan_close(ch);      /* then -EPIPE, and the receiver detaches */
}

static void give_up(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_chan_inflight_loop(void **state)
{
    (void)state;
    pthread_t p;
    uv_loop_t loop;
    uv_timer_t t;
    loop_got = 0;
    start_stalled_push(&p);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_timer_init(&loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, give_up, 5000, 0), 0);
    uv_unref((uv_handle_t *)&t);  /* does not itself keep the loop alive */
    assert_int_equal(lg_chan_recv_start(flight_ch, &loop, on_msg, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    int got = loop_got;
    finish_stalled_push(p);
    lg_chan_close(flight_ch);     /* if it was not delivered: let it end */
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(flight_ch);
    assert_int_equal(got, 1);
    assert_int_equal(loop_msg.prod, 7);
    assert_int_equal(loop_msg.seq, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_inflight_thread),
        cmocka_unit_test(test_chan_inflight_loop),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
