/* lg_chan_send_async: messages that do not fit park on the loop side and
 * go in order as room appears, each callback once with status 0 after its
 * message is in the channel and never from inside the call; a close fails
 * the parked ones with -EPIPE; several loops may send to one channel. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

#define MAXN 4096

static int in_send;   /* inside lg_chan_send_async right now */
static int cb_inside; /* callbacks that ran inside it */
static int cb_calls, cb_bad_order, cb_early;
static int status_of[MAXN];
static int cb_count_of[MAXN];
static size_t cur_cap;
static atomic_uint consumed; /* messages the consumer thread took */

static void reset(size_t cap)
{
    in_send = cb_inside = cb_calls = cb_bad_order = cb_early = 0;
    memset(status_of, 0x7f, sizeof status_of);
    memset(cb_count_of, 0, sizeof cb_count_of);
    cur_cap = cap;
    atomic_store(&consumed, 0);
}

static int send_one(lg_chan_t *ch, uv_loop_t *loop, uint32_t i,
                    lg_chan_send_cb cb)
{
    struct ct_msg m = {0, i};
    in_send = 1;
    int r = lg_chan_send_async(ch, loop, &m, cb, (void *)(uintptr_t)i);
    in_send = 0;
    return r;
}

/* Records the status; checks order, and that a message reported delivered
 * really is in the channel: with at most cap messages inside, the consumer
 * must already have taken all but cap of those before it (all but one of
 * which it has counted: it counts after its receive returns). */
static void on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    uint32_t i = (uint32_t)(uintptr_t)data;
    cb_inside += in_send;
    cb_bad_order += i != (uint32_t)cb_calls;
    cb_calls++;
    if (i < MAXN) {
        status_of[i] = status;
        cb_count_of[i]++;
    }
    if (status == 0 && i > cur_cap && atomic_load(&consumed) < i - cur_cap)
        cb_early++;
}

struct consumer {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t want; /* close the channel after this many */
    uint32_t next[2];
    int bad;
    int end;
    unsigned slow_ms; /* pause after each of the first 20 */
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct ct_msg m;
    while ((c->end = lg_chan_recv_blocking(c->ch, &m)) == 0) {
        unsigned n = atomic_fetch_add(&consumed, 1) + 1;
        if (m.prod > 1 || m.seq != c->next[m.prod])
            c->bad++;
        else
            c->next[m.prod]++;
        if (n <= 20)
            ct_sleep_ms(c->slow_ms);
        if (n == c->want)
            lg_chan_close(c->ch);
    }
    return NULL;
}

/* Capacity 2, 1000 messages sent at once from a loop callback, a consumer
 * thread slow at first: most park; all arrive in order, callbacks in
 * order, once each, status 0, never early and never inside the call. */
#define PARK_N 1000

static lg_chan_t *park_ch;

static void send_all(uv_timer_t *t)
{
    for (uint32_t i = 0; i < PARK_N; i++)
        assert_int_equal(send_one(park_ch, t->loop, i, on_sent), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_chan_async_park_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t t;
    struct consumer c = {.want = PARK_N, .slow_ms = 2};
    reset(2);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&park_ch, 2, sizeof(struct ct_msg)), 0);
    c.ch = park_ch;
    assert_int_equal(uv_timer_init(&loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, send_all, 0, 0), 0);
    assert_int_equal(pthread_create(&c.t, NULL, consume, &c), 0);
    /* The consumer closes after the last message; the sending side then
     * lets go of the loop. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ct_join_ms(c.t, NULL, 30000), 0);
    assert_int_equal(c.end, -EPIPE);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next[0], PARK_N);
    assert_int_equal(cb_calls, PARK_N);
    assert_int_equal(cb_bad_order, 0);
    assert_int_equal(cb_inside, 0);
    assert_int_equal(cb_early, 0);
    for (int i = 0; i < PARK_N; i++) {
        assert_int_equal(status_of[i], 0);
        assert_int_equal(cb_count_of[i], 1);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(park_ch);
}

/* A NULL callback is allowed, and a message sent with one keeps its place
 * among those sent with callbacks. */
static void test_chan_async_null_cb(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    struct consumer c = {.want = 300};
    reset(3);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 3, sizeof(struct ct_msg)), 0);
    c.ch = ch;
    uint32_t with_cb = 0;
    for (uint32_t i = 0; i < 300; i++) {
        int want_cb = i % 3 == 0;
        with_cb += want_cb;
        assert_int_equal(send_one(ch, &loop, i, want_cb ? on_sent : NULL), 0);
    }
    assert_int_equal(cb_calls, 0); /* never from inside the call */
    assert_int_equal(pthread_create(&c.t, NULL, consume, &c), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ct_join_ms(c.t, NULL, 30000), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next[0], 300);
    assert_int_equal((uint32_t)cb_calls, with_cb);
    assert_int_equal(cb_inside, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* ---- close with messages parked ------------------------------------------ */

static lg_chan_t *cp_ch;
static int close_from_thread;
static int send_after_close_rc;
static int late_cb_calls;

static void on_late_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    (void)status;
    (void)data;
    late_cb_calls++;
}

static void *close_later(void *arg)
{
    (void)arg;
    ct_sleep_ms(20);
    lg_chan_close(cp_ch);
    return NULL;
}

static void close_on_loop(uv_timer_t *t)
{
    lg_chan_close(cp_ch);
    send_after_close_rc = send_one(cp_ch, t->loop, 100, on_late_sent);
    uv_close((uv_handle_t *)t, NULL);
}

/* Capacity 1, nobody receiving: the first message goes in, nine park.
 * The close (from the loop, or from another thread while the loop sleeps)
 * fails the nine with -EPIPE, in order; the first is still receivable. */
static void test_chan_async_close_parked(void **state)
{
    (void)state;
    for (close_from_thread = 0; close_from_thread <= 1; close_from_thread++) {
        uv_loop_t loop;
        uv_timer_t t;
        pthread_t closer;
        reset(1);
        send_after_close_rc = 1;
        late_cb_calls = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&cp_ch, 1, sizeof(struct ct_msg)), 0);
        for (uint32_t i = 0; i < 10; i++)
            assert_int_equal(send_one(cp_ch, &loop, i, on_sent), 0);
        if (close_from_thread) {
            assert_int_equal(pthread_create(&closer, NULL, close_later, NULL),
                             0);
        } else {
            assert_int_equal(uv_timer_init(&loop, &t), 0);
            assert_int_equal(uv_timer_start(&t, close_on_loop, 20, 0), 0);
        }
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        if (close_from_thread) {
            assert_int_equal(pthread_join(closer, NULL), 0);
            send_after_close_rc = send_one(cp_ch, &loop, 100, on_late_sent);
            assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        }
        assert_int_equal(cb_calls, 10);
        assert_int_equal(cb_bad_order, 0);
        assert_int_equal(cb_inside, 0);
        assert_int_equal(status_of[0], 0);
        for (int i = 1; i < 10; i++)
            assert_int_equal(status_of[i], -EPIPE);
        for (int i = 0; i < 10; i++)
            assert_int_equal(cb_count_of[i], 1);
        assert_int_equal(send_after_close_rc, -EPIPE);
        assert_int_equal(late_cb_calls, 0); /* a refused send: no cb */
        struct ct_msg m;
        assert_int_equal(lg_chan_try_recv(cp_ch, &m), 0);
        assert_int_equal(m.seq, 0);
        assert_int_equal(lg_chan_try_recv(cp_ch, &m), -EPIPE);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(cp_ch);
    }
}

/* ---- callbacks that send again ------------------------------------------- */

#define CHAIN_N 2000

static lg_chan_t *chain_ch;
static uv_loop_t *chain_loop;

/* Each callback sends the next message: a send from a callback waits its
 * turn behind nothing and must still run its own callback later. */
static void on_chain_sent(lg_chan_t *ch, int status, void *data)
{
    uint32_t i = (uint32_t)(uintptr_t)data;
    on_sent(ch, status, data);
    if (i + 1 < CHAIN_N)
        assert_int_equal(send_one(chain_ch, chain_loop, i + 1, on_chain_sent),
                         0);
}

static void test_chan_async_chain(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct consumer c = {.want = CHAIN_N};
    reset(4);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&chain_ch, 4, sizeof(struct ct_msg)), 0);
    chain_loop = &loop;
    c.ch = chain_ch;
    assert_int_equal(send_one(chain_ch, &loop, 0, on_chain_sent), 0);
    assert_int_equal(pthread_create(&c.t, NULL, consume, &c), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ct_join_ms(c.t, NULL, 30000), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next[0], CHAIN_N);
    assert_int_equal(cb_calls, CHAIN_N);
    assert_int_equal(cb_bad_order, 0);
    assert_int_equal(cb_inside, 0);
    assert_int_equal(cb_early, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(chain_ch);
}

/* ---- a loop sending to itself -------------------------------------------- */

#define SELF_N 3000

static int self_got, self_bad, self_epipe;

static void on_self_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE) {
        self_epipe++;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    self_bad += m.seq != (uint32_t)self_got;
    self_got++;
}

static void on_self_sent(lg_chan_t *ch, int status, void *data)
{
    on_sent(ch, status, data);
    if (cb_calls == SELF_N)
        lg_chan_close(ch);
}

/* Receiver and sender on the same loop, capacity 1: parking must not
 * deadlock the loop against itself. */
static void test_chan_async_same_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset(1);
    self_got = self_bad = self_epipe = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 1, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_self_msg, NULL), 0);
    for (uint32_t i = 0; i < SELF_N; i++)
        assert_int_equal(send_one(ch, &loop, i, on_self_sent), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(self_got, SELF_N);
    assert_int_equal(self_bad, 0);
    assert_int_equal(self_epipe, 1);
    assert_int_equal(cb_calls, SELF_N);
    assert_int_equal(cb_bad_order, 0);
    assert_int_equal(cb_inside, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* ---- two loops sending to one channel ------------------------------------ */

#define TWO_N 20000

struct sender_loop {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t id;
    int sent_ok, sent_bad;
    int rc;
};

static void on_two_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    struct sender_loop *s = data;
    if (status == 0)
        s->sent_ok++;
    else
        s->sent_bad++;
}

static void *run_sender_loop(void *arg)
{
    struct sender_loop *s = arg;
    uv_loop_t loop;
    s->rc = uv_loop_init(&loop);
    for (uint32_t i = 0; s->rc == 0 && i < TWO_N; i++) {
        struct ct_msg m = {s->id, i};
        s->rc = lg_chan_send_async(s->ch, &loop, &m, on_two_sent, s);
    }
    if (s->rc == 0)
        s->rc = uv_run(&loop, UV_RUN_DEFAULT);
    if (s->rc == 0)
        s->rc = uv_loop_close(&loop);
    return NULL;
}

/* Each loop's messages arrive in its order; the consumer closes after the
 * last one, and only then do the sending loops let go and end. */
static void test_chan_async_two_loops(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 16};
    for (size_t k = 0; k < 2; k++) {
        lg_chan_t *ch;
        struct sender_loop s[2];
        struct consumer c = {.want = 2 * TWO_N};
        reset(caps[k]);
        assert_int_equal(lg_chan_new(&ch, caps[k], sizeof(struct ct_msg)), 0);
        c.ch = ch;
        assert_int_equal(pthread_create(&c.t, NULL, consume, &c), 0);
        for (uint32_t i = 0; i < 2; i++) {
            s[i] = (struct sender_loop){.ch = ch, .id = i};
            assert_int_equal(
                pthread_create(&s[i].t, NULL, run_sender_loop, &s[i]), 0);
        }
        for (int i = 0; i < 2; i++) {
            assert_int_equal(ct_join_ms(s[i].t, NULL, 60000), 0);
            assert_int_equal(s[i].rc, 0);
            assert_int_equal(s[i].sent_ok, TWO_N);
            assert_int_equal(s[i].sent_bad, 0);
        }
        assert_int_equal(ct_join_ms(c.t, NULL, 60000), 0);
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.next[0], TWO_N);
        assert_int_equal(c.next[1], TWO_N);
        assert_int_equal(c.end, -EPIPE);
        lg_chan_free(ch);
    }
}

/* A send on a closed channel fails at once; its callback never runs and
 * it leaves nothing behind that would keep the loop alive. */
static void test_chan_async_after_close(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset(4);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 4, sizeof(struct ct_msg)), 0);
    lg_chan_close(ch);
    assert_int_equal(send_one(ch, &loop, 0, on_sent), -EPIPE);
    assert_int_equal(send_one(ch, &loop, 1, NULL), -EPIPE);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(cb_calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_async_park_order),
        cmocka_unit_test(test_chan_async_null_cb),
        cmocka_unit_test(test_chan_async_close_parked),
        cmocka_unit_test(test_chan_async_chain),
        cmocka_unit_test(test_chan_async_same_loop),
        cmocka_unit_test(test_chan_async_two_loops),
        cmocka_unit_test(test_chan_async_after_close),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
