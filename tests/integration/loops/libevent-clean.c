/* libevent-clean: a libevent loop used the normal way (test-named-loops).
 *
 * One event_base runs, on the main thread:
 *   - a persistent evtimer that fires N_TICKS times, then deletes itself;
 *   - a TCP echo server (evconnlistener on 127.0.0.1, port 0) and a client
 *     (bufferevent) doing N_ROUNDS request/reply round trips;
 *   - a worker pthread that hands N_ITEMS results back the library's own
 *     way: evthread_use_pthreads(), a locked queue, and event_active() on an
 *     event of the base after each push (so the base lock is contended);
 *     plus N_ONCE event_base_once() calls from the worker.
 * Every callback is counted; the program exits 0 only if every count is
 * exact. Under loopguard it must produce no record: libevent's own waits
 * (epoll_wait, its notify eventfd, its locks) are not the program's.
 *
 * libevent-block.c includes this file with LOOPS_BLOCK defined: it adds one
 * timer callback, on_timer_block, that does a blocking read() of a pipe a
 * second worker writes 10 ms later; that read must be the only report. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#define LOOPS_LIB "libevent"
#include "common.h"

#define N_ITEMS 500
#define N_ONCE 50

static struct event_base *base;

/* Counts, checked at exit. */
static int ticks, accepts, server_bytes, client_rounds, client_connected;
static int items_seen, once_seen, parts_done;
static long items_sum;

/* The loop stops when every part has finished. */
#define N_PARTS 4 /* timer, echo, worker queue, event_base_once */

/* Pending until then, so event_base_dispatch does not return while the
 * worker's queue is momentarily empty (result_ev is never pending). */
static struct event *keepalive_ev;

static void part_done(void)
{
    if (++parts_done == N_PARTS &&
        (event_del(keepalive_ev) != 0 || event_base_loopbreak(base) != 0))
        die("event_base_loopbreak");
}

/* ---- timer ---- */
static struct event *tick_ev;

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    if (++ticks == N_TICKS) {
        if (event_del(tick_ev) != 0)
            die("event_del");
        part_done();
    }
}

/* ---- echo server and client ---- */
static struct bufferevent *server_bev, *client_bev;

static void on_server_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    server_bytes += (int)evbuffer_get_length(in);
    if (bufferevent_write_buffer(bev, in) != 0)
        die("bufferevent_write_buffer");
}

static void on_server_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bufferevent_free(bev);
        server_bev = NULL;
        part_done(); /* the client closed after its last round */
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int len, void *arg)
{
    (void)l; (void)sa; (void)len; (void)arg;
    accepts++;
    server_bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!server_bev)
        die("bufferevent_socket_new (server)");
    bufferevent_setcb(server_bev, on_server_read, NULL, on_server_event,
                      NULL);
    if (bufferevent_enable(server_bev, EV_READ | EV_WRITE) != 0)
        die("bufferevent_enable (server)");
}

static void client_send(void)
{
    if (bufferevent_write(client_bev, MSG, MSG_LEN) != 0)
        die("bufferevent_write");
}

static void on_client_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (evbuffer_get_length(in) >= MSG_LEN) {
        char buf[MSG_LEN];
        if (evbuffer_remove(in, buf, MSG_LEN) != (int)MSG_LEN ||
            memcmp(buf, MSG, MSG_LEN) != 0)
            die("echo reply");
        if (++client_rounds < N_ROUNDS) {
            client_send();
        } else {
            /* Closing makes the server see EOF. */
            bufferevent_free(client_bev);
            client_bev = NULL;
            return;
        }
    }
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev; (void)arg;
    if (what & BEV_EVENT_CONNECTED) {
        client_connected++;
        client_send();
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        errno = EVUTIL_SOCKET_ERROR();
        die("client connection");
    }
}

/* ---- worker handing results back ---- */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static int q_items[N_ITEMS], q_len;
static struct event *result_ev;

static void on_results(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    int got[N_ITEMS], n;
    pthread_mutex_lock(&q_lock);
    n = q_len;
    memcpy(got, q_items, sizeof got[0] * (size_t)n);
    q_len = 0;
    pthread_mutex_unlock(&q_lock);
    for (int i = 0; i < n; i++)
        items_sum += got[i];
    items_seen += n;
    if (n > 0 && items_seen == N_ITEMS)
        part_done();
}

static void on_once(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    if (++once_seen == N_ONCE)
        part_done();
}

static void *worker(void *arg)
{
    (void)arg;
    static const struct timeval zero = {0, 0};
    for (int i = 1; i <= N_ITEMS; i++) {
        pthread_mutex_lock(&q_lock);
        q_items[q_len++] = i;
        pthread_mutex_unlock(&q_lock);
        event_active(result_ev, EV_READ, 0);
        if (i % (N_ITEMS / N_ONCE) == 0 &&
            event_base_once(base, -1, EV_TIMEOUT, on_once, NULL, &zero) != 0)
            die("event_base_once");
    }
    return NULL;
}

#ifdef LOOPS_BLOCK
/* ---- the one blocking receive ---- */
static struct event *block_ev;

static void on_timer_block(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    block_read();
}
#endif

int main(void)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    struct evconnlistener *listener;
    pthread_t thread;
    struct timeval tick = {0, 5000};

    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads");
    base = event_base_new();
    if (!base)
        die("event_base_new");

    tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!tick_ev || event_add(tick_ev, &tick) != 0)
        die("evtimer");

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    listener = evconnlistener_new_bind(
        base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
        (struct sockaddr *)&sin, sizeof sin);
    if (!listener)
        die("evconnlistener_new_bind");
    if (getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin,
                    &slen) != 0)
        die("getsockname");
    client_bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!client_bev)
        die("bufferevent_socket_new (client)");
    bufferevent_setcb(client_bev, on_client_read, NULL, on_client_event,
                      NULL);
    if (bufferevent_enable(client_bev, EV_READ | EV_WRITE) != 0 ||
        bufferevent_socket_connect(client_bev, (struct sockaddr *)&sin,
                                   sizeof sin) != 0)
        die("bufferevent_socket_connect");

    struct timeval hour = {3600, 0};
    keepalive_ev = evtimer_new(base, on_tick, NULL); /* never fires */
    if (!keepalive_ev || evtimer_add(keepalive_ev, &hour) != 0)
        die("evtimer (keepalive)");
    result_ev = event_new(base, -1, 0, on_results, NULL);
    if (!result_ev)
        die("event_new (results)");
    if ((errno = pthread_create(&thread, NULL, worker, NULL)) != 0)
        die("pthread_create");

#ifdef LOOPS_BLOCK
    struct timeval now = {0, 0};
    block_ev = evtimer_new(base, on_timer_block, NULL);
    if (!block_ev || evtimer_add(block_ev, &now) != 0)
        die("evtimer (block)");
    block_start();
    /* event_base_dispatch here, event_base_loop in the clean program: both
     * entry points are covered. part_done() breaks the loop. */
    if (event_base_dispatch(base) == -1)
        die("event_base_dispatch");
#else
    if (event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == -1)
        die("event_base_loop");
#endif

    if ((errno = pthread_join(thread, NULL)) != 0)
        die("pthread_join");
#ifdef LOOPS_BLOCK
    block_end();
    event_free(block_ev);
#endif

    int ok = ticks == N_TICKS && accepts == 1 &&
             server_bytes == (int)(N_ROUNDS * MSG_LEN) &&
             client_connected == 1 && client_rounds == N_ROUNDS &&
             items_seen == N_ITEMS &&
             items_sum == (long)N_ITEMS * (N_ITEMS + 1) / 2 &&
             once_seen == N_ONCE && parts_done == N_PARTS;
#ifdef LOOPS_BLOCK
    ok = ok && block_reads == 1;
#endif
    if (!ok) {
        fprintf(stderr,
                "counts: ticks %d accepts %d server_bytes %d connected %d "
                "rounds %d items %d sum %ld once %d parts %d\n",
                ticks, accepts, server_bytes, client_connected,
                client_rounds, items_seen, items_sum, once_seen, parts_done);
        return 1;
    }

    event_free(keepalive_ev);
    event_free(result_ev);
    event_free(tick_ev);
    if (server_bev)
        bufferevent_free(server_bev);
    evconnlistener_free(listener);
    event_base_free(base);
    libevent_global_shutdown();
    printf("ok\n");
    return 0;
}
