/* libev-clean: a libev loop used the normal way (test-named-loops).
 *
 * One loop (ev_loop_new(0)) runs with ev_run(loop, 0) on the main thread:
 *   - a repeating ev_timer that fires N_TICKS times, then stops;
 *   - a TCP echo server and client on O_NONBLOCK sockets on 127.0.0.1
 *     (port 0), driven by ev_io watchers, doing N_ROUNDS round trips;
 *   - a worker pthread that hands N_ITEMS results back the library's own
 *     way: a locked queue and ev_async_send() after each push.
 * Every callback is counted; the program exits 0 only if every count is
 * exact. Under loopguard it must produce no record: libev's own waits
 * (epoll_wait, its async eventfd) are not the program's, and the program's
 * reads of non-blocking sockets never block.
 *
 * libev-block.c includes this file with LOOPS_BLOCK defined: it adds one
 * timer callback, on_timer_block, that does a blocking read() of a pipe a
 * second worker writes 10 ms later; that read must be the only report. */
#include <ev.h>

#define LOOPS_LIB "libev"
#include "common.h"

#define N_ITEMS 500

static struct ev_loop *loop;

/* Counts, checked at exit. */
static int ticks, accepts, server_bytes, client_rounds, client_connected;
static int items_seen, parts_done;
static long items_sum;

#define N_PARTS 3 /* timer, echo, worker queue */

static void part_done(void)
{
    if (++parts_done == N_PARTS)
        ev_break(loop, EVBREAK_ALL);
}

/* ---- timer ---- */
static ev_timer tick_w;

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)revents;
    if (++ticks == N_TICKS) {
        ev_timer_stop(l, w);
        part_done();
    }
}

/* ---- echo server and client ---- */
static int listen_fd, server_fd = -1, client_fd;
static ev_io accept_w, server_w, client_w;
static char client_buf[MSG_LEN];
static size_t client_got;

static void on_server_io(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    char buf[256];
    ssize_t n = read(w->fd, buf, sizeof buf);
    if (n > 0) {
        server_bytes += (int)n;
        /* Small replies on an idle local socket: the send buffer takes
         * them whole. */
        if (write(w->fd, buf, (size_t)n) != n)
            die("write (echo)");
    } else if (n == 0) {
        ev_io_stop(l, w);
        close(w->fd);
        server_fd = -1;
        part_done(); /* the client closed after its last round */
    } else if (errno != EAGAIN && errno != EINTR) {
        die("read (server)");
    }
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        die("accept4");
    }
    accepts++;
    server_fd = fd;
    ev_io_stop(l, w);
    ev_io_init(&server_w, on_server_io, fd, EV_READ);
    ev_io_start(l, &server_w);
}

static void client_send(void)
{
    if (write(client_fd, MSG, MSG_LEN) != (ssize_t)MSG_LEN)
        die("write (client)");
}

static void on_client_io(struct ev_loop *l, ev_io *w, int revents)
{
    if (revents & EV_WRITE) {
        /* Connected (or failed): check, then wait for replies. */
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
            err != 0) {
            errno = err;
            die("connect");
        }
        client_connected++;
        ev_io_stop(l, w);
        ev_io_set(w, w->fd, EV_READ);
        ev_io_start(l, w);
        client_send();
        return;
    }
    ssize_t n = read(w->fd, client_buf + client_got, MSG_LEN - client_got);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        die("read (client)");
    client_got += (size_t)n;
    if (client_got < MSG_LEN)
        return;
    if (memcmp(client_buf, MSG, MSG_LEN) != 0)
        die("echo reply");
    client_got = 0;
    if (++client_rounds < N_ROUNDS) {
        client_send();
    } else {
        ev_io_stop(l, w);
        close(w->fd); /* the server sees EOF */
    }
}

/* ---- worker handing results back ---- */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static int q_items[N_ITEMS], q_len;
static ev_async results_w;

static void on_results(struct ev_loop *l, ev_async *w, int revents)
{
    (void)revents;
    int got[N_ITEMS], n;
    pthread_mutex_lock(&q_lock);
    n = q_len;
    memcpy(got, q_items, sizeof got[0] * (size_t)n);
    q_len = 0;
    pthread_mutex_unlock(&q_lock);
    for (int i = 0; i < n; i++)
        items_sum += got[i];
    items_seen += n;
    if (n > 0 && items_seen == N_ITEMS) {
        ev_async_stop(l, w);
        part_done();
    }
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 1; i <= N_ITEMS; i++) {
        pthread_mutex_lock(&q_lock);
        q_items[q_len++] = i;
        pthread_mutex_unlock(&q_lock);
        ev_async_send(loop, &results_w);
    }
    return NULL;
}

#ifdef LOOPS_BLOCK
/* ---- the one blocking receive ---- */
static ev_timer block_w;

static void on_timer_block(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l; (void)w; (void)revents;
    block_read();
}
#endif

int main(void)
{
    struct sockaddr_in sin;
    pthread_t thread;

    loop = ev_loop_new(0);
    if (!loop)
        die("ev_loop_new");

    ev_timer_init(&tick_w, on_tick, 0.005, 0.005);
    ev_timer_start(loop, &tick_w);

    listen_fd = loopback_listener(&sin);
    ev_io_init(&accept_w, on_accept, listen_fd, EV_READ);
    ev_io_start(loop, &accept_w);

    client_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_fd < 0)
        die("socket");
    set_nonblock(client_fd);
    if (connect(client_fd, (struct sockaddr *)&sin, sizeof sin) != 0 &&
        errno != EINPROGRESS)
        die("connect");
    ev_io_init(&client_w, on_client_io, client_fd, EV_WRITE);
    ev_io_start(loop, &client_w);

    ev_async_init(&results_w, on_results);
    ev_async_start(loop, &results_w);
    if ((errno = pthread_create(&thread, NULL, worker, NULL)) != 0)
        die("pthread_create");

#ifdef LOOPS_BLOCK
    ev_timer_init(&block_w, on_timer_block, 0., 0.);
    ev_timer_start(loop, &block_w);
    block_start();
#endif

    ev_run(loop, 0);

    if ((errno = pthread_join(thread, NULL)) != 0)
        die("pthread_join");
#ifdef LOOPS_BLOCK
    block_end();
#endif

    int ok = ticks == N_TICKS && accepts == 1 &&
             server_bytes == (int)(N_ROUNDS * MSG_LEN) &&
             client_connected == 1 && client_rounds == N_ROUNDS &&
             items_seen == N_ITEMS &&
             items_sum == (long)N_ITEMS * (N_ITEMS + 1) / 2 &&
             parts_done == N_PARTS;
#ifdef LOOPS_BLOCK
    ok = ok && block_reads == 1;
#endif
    if (!ok) {
        fprintf(stderr,
                "counts: ticks %d accepts %d server_bytes %d connected %d "
                "rounds %d items %d sum %ld parts %d\n",
                ticks, accepts, server_bytes, client_connected,
                client_rounds, items_seen, items_sum, parts_done);
        return 1;
    }

    close(listen_fd);
    ev_loop_destroy(loop);
    printf("ok\n");
    return 0;
}
