/* A receiving loop's callback reads each message in place, in the
 * channel's memory: every size arrives intact, and the pointer is as
 * aligned as malloc's (16) for messages of 16 bytes or more, 8 below, so a
 * callback may cast it to its struct; the same for messages that come
 * from the stash (a receiver stopped mid-batch). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "loopguard.h"

#define PER_SIZE 40   /* more than a capacity of 16: the ring wraps */

static size_t cur_size;
static int got, bad_bytes, misaligned, epipe;

/* Message i of size n: byte k is (i * 31 + k) & 0xff. */
static void fill(unsigned char *m, size_t n, int i)
{
    for (size_t k = 0; k < n; k++)
        m[k] = (unsigned char)((size_t)i * 31 + k);
}

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE) {
        epipe++;
        return;
    }
    size_t align = cur_size < 16 ? 8 : 16;
    misaligned += ((uintptr_t)msg % align) != 0;
    unsigned char want[1000];
    fill(want, cur_size, got);
    bad_bytes += memcmp(msg, want, cur_size) != 0;
    got++;
}

struct sender {
    lg_chan_t *ch;
    int rc;
};

static void *send_all(void *arg)
{
    struct sender *s = arg;
    unsigned char m[1000];
    for (int i = 0; i < PER_SIZE && s->rc == 0; i++) {
        fill(m, cur_size, i);
        s->rc = lg_chan_send_blocking(s->ch, m);
    }
    lg_chan_close(s->ch);
    return NULL;
}

static void test_chan_inplace_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 8, 12, 16, 24, 48, 56, 64, 100, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uv_loop_t loop;
        pthread_t t;
        struct sender s = {0};
        cur_size = sizes[k];
        got = bad_bytes = misaligned = epipe = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&s.ch, 16, cur_size), 0);
        assert_int_equal(lg_chan_recv_start(s.ch, &loop, on_msg, NULL), 0);
        assert_int_equal(pthread_create(&t, NULL, send_all, &s), 0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(s.ch);
        assert_int_equal(s.rc, 0);
        assert_int_equal(got, PER_SIZE);
        assert_int_equal(bad_bytes, 0);
        assert_int_equal(misaligned, 0);
        assert_int_equal(epipe, 1);
    }
}

/* A callback that stops and restarts the receiver at the first message
 * leaves the rest of that batch in the stash; those come through the
 * receiver's own buffer, which must be as aligned as a cell. */
static uv_loop_t *restart_loop;
static int restarted;

static void on_msg_restart(lg_chan_t *ch, int status, void *msg, void *data)
{
    on_msg(ch, status, msg, data);
    if (status == 0 && !restarted++) {
        assert_int_equal(lg_chan_recv_stop(ch), 0);
        assert_int_equal(
            lg_chan_recv_start(ch, restart_loop, on_msg_restart, NULL), 0);
    }
}

static void test_chan_inplace_stash(void **state)
{
    (void)state;
    static const size_t sizes[] = {8, 16, 32, 64, 100};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uv_loop_t loop;
        lg_chan_t *ch;
        unsigned char m[1000];
        cur_size = sizes[k];
        got = bad_bytes = misaligned = epipe = restarted = 0;
        restart_loop = &loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&ch, 16, cur_size), 0);
        for (int i = 0; i < 8; i++) {
            fill(m, cur_size, i);
            assert_int_equal(lg_chan_try_send(ch, m), 0);
        }
        lg_chan_close(ch);
        assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg_restart, NULL),
                         0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(ch);
        assert_int_equal(got, 8);
        assert_int_equal(bad_bytes, 0);
        assert_int_equal(misaligned, 0);
        assert_int_equal(epipe, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_inplace_sizes),
        cmocka_unit_test(test_chan_inplace_stash),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
