/* glib-clean: a GLib main loop used the normal way (test-named-loops).
 *
 * One GMainLoop on the default context runs with g_main_loop_run on the
 * main thread:
 *   - g_timeout_add firing N_TICKS times, then removing itself;
 *   - a TCP echo server and client on O_NONBLOCK sockets on 127.0.0.1
 *     (port 0), watched through GIOChannel sources (g_io_add_watch), doing
 *     N_ROUNDS round trips;
 *   - a worker GThread that hands N_ITEMS results back the library's own
 *     way, one g_idle_add() each (so the worker and the loop thread contend
 *     for the context's GMutex, which waits with syscall(SYS_futex)), and a
 *     last one with g_main_context_invoke.
 * After g_main_loop_run returns, pending sources are drained with
 * g_main_context_iteration(NULL, FALSE), the other wrapped entry point.
 * Every callback is counted; the program exits 0 only if every count is
 * exact. Under loopguard it must produce no record: GLib's own waits (poll,
 * its wakeup eventfd, GMutex contention through syscall(SYS_futex)) are not
 * the program's.
 *
 * glib-block.c includes this file with LOOPS_BLOCK defined: it adds one
 * timeout callback, on_timer_block, that does a blocking read() of a pipe a
 * second worker writes 10 ms later; that read must be the only report. */
#include <glib.h>

#define LOOPS_LIB "glib"
#include "common.h"

/* Enough that the worker's g_idle_add and the loop thread's dispatch contend
 * for the context's GMutex: measured here (GLib 2.74), 500 items gave no
 * contended wait, 20000 gave hundreds to thousands of futex waits through
 * syscall() on the loop thread, in ~30 ms. */
#define N_ITEMS 20000

static GMainLoop *main_loop;

/* Counts, checked at exit. */
static int ticks, accepts, server_bytes, client_rounds, client_connected;
static int items_seen, invoked, parts_done;
static long items_sum;

#define N_PARTS 4 /* timer, echo, idle results, invoke */

static void part_done(void)
{
    if (++parts_done == N_PARTS)
        g_main_loop_quit(main_loop);
}

static guint watch_fd(int fd, GIOCondition cond, GIOFunc func)
{
    GIOChannel *ch = g_io_channel_unix_new(fd);
    guint id = g_io_add_watch(ch, cond, func, NULL);
    g_io_channel_unref(ch); /* the watch holds its own reference */
    return id;
}

/* ---- timer ---- */
static gboolean on_tick(gpointer data)
{
    (void)data;
    if (++ticks < N_TICKS)
        return G_SOURCE_CONTINUE;
    part_done();
    return G_SOURCE_REMOVE;
}

/* ---- echo server and client ---- */
static int listen_fd, client_fd;
static char client_buf[MSG_LEN];
static size_t client_got;

static gboolean on_server_io(GIOChannel *ch, GIOCondition cond, gpointer d)
{
    (void)cond; (void)d;
    int fd = g_io_channel_unix_get_fd(ch);
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        server_bytes += (int)n;
        /* Small replies on an idle local socket: the send buffer takes
         * them whole. */
        if (write(fd, buf, (size_t)n) != n)
            die("write (echo)");
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n < 0)
        die("read (server)");
    close(fd);
    part_done(); /* the client closed after its last round */
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(GIOChannel *ch, GIOCondition cond, gpointer d)
{
    (void)cond; (void)d;
    int fd = accept4(g_io_channel_unix_get_fd(ch), NULL, NULL,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return G_SOURCE_CONTINUE;
        die("accept4");
    }
    accepts++;
    watch_fd(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_server_io);
    return G_SOURCE_REMOVE; /* one connection */
}

static void client_send(void)
{
    if (write(client_fd, MSG, MSG_LEN) != (ssize_t)MSG_LEN)
        die("write (client)");
}

static gboolean on_client_read(GIOChannel *ch, GIOCondition cond, gpointer d)
{
    (void)cond; (void)d;
    int fd = g_io_channel_unix_get_fd(ch);
    ssize_t n = read(fd, client_buf + client_got, MSG_LEN - client_got);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0)
        die("read (client)");
    client_got += (size_t)n;
    if (client_got < MSG_LEN)
        return G_SOURCE_CONTINUE;
    if (memcmp(client_buf, MSG, MSG_LEN) != 0)
        die("echo reply");
    client_got = 0;
    if (++client_rounds < N_ROUNDS) {
        client_send();
        return G_SOURCE_CONTINUE;
    }
    close(fd); /* the server sees EOF */
    return G_SOURCE_REMOVE;
}

static gboolean on_client_connected(GIOChannel *ch, GIOCondition cond,
                                    gpointer d)
{
    (void)cond; (void)d;
    int fd = g_io_channel_unix_get_fd(ch), err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        errno = err;
        die("connect");
    }
    client_connected++;
    watch_fd(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_read);
    client_send();
    return G_SOURCE_REMOVE;
}

/* ---- worker handing results back ---- */
static gboolean on_item(gpointer data)
{
    items_sum += GPOINTER_TO_INT(data);
    if (++items_seen == N_ITEMS)
        part_done();
    return G_SOURCE_REMOVE;
}

static gboolean on_invoke(gpointer data)
{
    if (GPOINTER_TO_INT(data) != 42)
        die("invoke data");
    invoked++;
    part_done();
    return G_SOURCE_REMOVE;
}

static gpointer worker(gpointer data)
{
    (void)data;
    for (int i = 1; i <= N_ITEMS; i++)
        g_idle_add(on_item, GINT_TO_POINTER(i));
    /* From a thread that does not own the context: queued as an idle. */
    g_main_context_invoke(NULL, on_invoke, GINT_TO_POINTER(42));
    return NULL;
}

#ifdef LOOPS_BLOCK
/* ---- the one blocking receive ---- */
static gboolean on_timer_block(gpointer data)
{
    (void)data;
    block_read();
    return G_SOURCE_REMOVE;
}
#endif

int main(void)
{
    struct sockaddr_in sin;
    GThread *thread;

    main_loop = g_main_loop_new(NULL, FALSE);
    g_timeout_add(5, on_tick, NULL);

    listen_fd = loopback_listener(&sin);
    watch_fd(listen_fd, G_IO_IN, on_accept);

    client_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_fd < 0)
        die("socket");
    set_nonblock(client_fd);
    if (connect(client_fd, (struct sockaddr *)&sin, sizeof sin) != 0 &&
        errno != EINPROGRESS)
        die("connect");
    watch_fd(client_fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_client_connected);

    thread = g_thread_new("worker", worker, NULL);

#ifdef LOOPS_BLOCK
    g_timeout_add(0, on_timer_block, NULL);
    block_start();
#endif

    g_main_loop_run(main_loop);
    while (g_main_context_iteration(NULL, FALSE))
        ;

    g_thread_join(thread);
#ifdef LOOPS_BLOCK
    block_end();
#endif

    int ok = ticks == N_TICKS && accepts == 1 &&
             server_bytes == (int)(N_ROUNDS * MSG_LEN) &&
             client_connected == 1 && client_rounds == N_ROUNDS &&
             items_seen == N_ITEMS &&
             items_sum == (long)N_ITEMS * (N_ITEMS + 1) / 2 &&
             invoked == 1 && parts_done == N_PARTS;
#ifdef LOOPS_BLOCK
    ok = ok && block_reads == 1;
#endif
    if (!ok) {
        fprintf(stderr,
                "counts: ticks %d accepts %d server_bytes %d connected %d "
                "rounds %d items %d sum %ld invoked %d parts %d\n",
                ticks, accepts, server_bytes, client_connected,
                client_rounds, items_seen, items_sum, invoked, parts_done);
        return 1;
    }

    close(listen_fd);
    g_main_loop_unref(main_loop);
    printf("ok\n");
    return 0;
}
