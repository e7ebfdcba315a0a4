/* lg_chan_fd watched by the loops of other libraries, where installed
 * (test-only dependencies, as for tests/integration/loops): a libevent
 * event (EV_READ | EV_PERSIST, level-triggered) and a GLib fd source call
 * lg_chan_drain with a small max; producers on threads; every message
 * once, in order per producer, and the loop ends at -EPIPE. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef LG_HAVE_LIBEVENT
#include <event2/event.h>
#endif
#ifdef LG_HAVE_GLIB
#include <glib-unix.h>
#include <glib.h>
#endif

#include "chan-test.h"
#include "loopguard.h"
#include "skip.h"

#define NPROD 4
#define PER 20000
#define BATCH_MAX 5

static lg_chan_t *chan;
static pthread_t prod_t[NPROD];
static int prod_rc[NPROD];
static uint32_t next_seq[NPROD];
static size_t got, bad;
static int joined, ended;

static void *produce(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < PER && prod_rc[id] == 0; i++) {
        struct ct_msg m = {id, i};
        prod_rc[id] = lg_chan_send_blocking(chan, &m);
    }
    return NULL;
}

static void on_batch(lg_chan_t *ch, int status, void *msgs, size_t n,
                     void *data)
{
    (void)ch;
    (void)data;
    bad += status != 0 || n == 0 || n > BATCH_MAX;
    struct ct_msg *m = msgs;
    for (size_t i = 0; i < n; i++) {
        if (m[i].prod >= NPROD || m[i].seq != next_seq[m[i].prod])
            bad++;
        else
            next_seq[m[i].prod]++;
    }
    got += n;
}

static void start(void)
{
    memset(next_seq, 0, sizeof next_seq);
    memset(prod_rc, 0, sizeof prod_rc);
    got = bad = 0;
    joined = ended = 0;
    assert_int_equal(lg_chan_new(&chan, 64, sizeof(struct ct_msg)), 0);
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(pthread_create(&prod_t[i], NULL, produce,
                                        (void *)(uintptr_t)i), 0);
}

/* The loop's callback: 1 once the channel ended (-EPIPE). Closes the
 * channel once everything came, after joining the producers. */
static int on_readable(void)
{
    int r = lg_chan_drain(chan, BATCH_MAX, on_batch, NULL);
    if (r == -EPIPE)
        return ended = 1;
    bad += r < 0;
    if (!joined && got == (size_t)NPROD * PER) {
        for (int i = 0; i < NPROD; i++)
            pthread_join(prod_t[i], NULL);
        joined = 1;
        lg_chan_close(chan);
    }
    return 0;
}

static void finish(void)
{
    assert_true(ended);
    assert_true(joined);
    assert_int_equal(bad, 0);
    assert_int_equal(got, (size_t)NPROD * PER);
    for (int i = 0; i < NPROD; i++) {
        assert_int_equal(prod_rc[i], 0);
        assert_int_equal(next_seq[i], PER);
    }
    lg_chan_free(chan);
}

#ifdef LG_HAVE_LIBEVENT
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (on_readable())
        event_base_loopbreak(arg);
}
#endif

static void test_chan_fd_loops_libevent(void **state)
{
    (void)state;
#ifdef LG_HAVE_LIBEVENT
    struct event_base *base = event_base_new();
    assert_non_null(base);
    start();
    struct event *ev = event_new(base, lg_chan_fd(chan), EV_READ | EV_PERSIST,
                                 on_event, base);
    assert_non_null(ev);
    assert_int_equal(event_add(ev, NULL), 0);
    assert_true(event_base_dispatch(base) >= 0);
    event_free(ev);
    event_base_free(base);
    finish();
#else
    LG_SKIP("libevent is not installed (make deps)");
#endif
}

#ifdef LG_HAVE_GLIB
static gboolean on_source(gint fd, GIOCondition cond, gpointer loop)
{
    (void)fd;
    (void)cond;
    if (!on_readable())
        return G_SOURCE_CONTINUE;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}
#endif

static void test_chan_fd_loops_glib(void **state)
{
    (void)state;
#ifdef LG_HAVE_GLIB
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    start();
    g_unix_fd_add(lg_chan_fd(chan), G_IO_IN, on_source, loop);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    finish();
#else
    LG_SKIP("GLib is not installed (make deps)");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_fd_loops_libevent),
        cmocka_unit_test(test_chan_fd_loops_glib),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
