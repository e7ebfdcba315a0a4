/* bench-echo: request rate of a libuv echo server, for the design's "keeps
 * at least 97% of its native request rate under the preload".
 *
 * The server runs on the main thread inside uv_run (so under the preload
 * its reads go through the loop-thread path); CLIENTS plain threads each
 * make blocking send + recv round trips of SIZE bytes over 127.0.0.1 (their
 * recv goes through the off-loop path). Round trips completed during the
 * DURATION window that follows a WARMUP are counted, per 100 ms slice.
 *
 *   bench-echo [-c CLIENTS] [-d DURATION_MS] [-w WARMUP_MS] [-s SIZE]
 *
 * Prints round trips per second, all clients together: "echo best N" in
 * the fastest slice, "echo median N" in the median slice and "echo mean N"
 * over the whole window. Other tenants of this VM steal the CPU for
 * seconds at a time and only ever lower the rate, so the fastest slice is
 * the figure least disturbed by them (as the fastest timing is in
 * bench-wrap). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_CLIENTS 64
#define MAX_SIZE 4096
#define SLICE_NS 100000000u
#define MAX_SLICES 600

static int nclients = 4;
static int size = 64;
static uint64_t warmup_ns = 300000000u;
static uint64_t duration_ns = 1500000000u;

static int port;
static uint64_t t_begin, t_end;         /* the counted window */
static atomic_ulong slices[MAX_SLICES]; /* round trips per slice */

static uv_loop_t loop;
static uv_tcp_t server;
static int nclosed;

struct conn {
    uv_tcp_t tcp;
    char buf[MAX_SIZE];
};

struct write_req {
    uv_write_t req;
    char data[];
};

static void die(const char *what)
{
    fprintf(stderr, "bench-echo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void uv_die(const char *what, int rc)
{
    fprintf(stderr, "bench-echo: %s: %s\n", what, uv_strerror(rc));
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- server (loop thread) ---------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
    /* Every client has hung up: nothing left to serve, let uv_run end. */
    if (++nclosed == nclients)
        uv_close((uv_handle_t *)&server, NULL);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    uv_buf_t b;
    int n;

    if (nread < 0) {
        uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    if (nread == 0)
        return;
    /* Replies are small and the peer is waiting for them, so the socket
     * buffer is empty and uv_try_write nearly always takes it all; the
     * queued write is the rare fallback. */
    b = uv_buf_init(buf->base, (unsigned)nread);
    n = uv_try_write(s, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    if (n < nread) {
        size_t rest = (size_t)nread - (size_t)n;
        struct write_req *w = malloc(sizeof(*w) + rest);

        if (!w)
            die("malloc");
        memcpy(w->data, buf->base + n, rest);
        b = uv_buf_init(w->data, (unsigned)rest);
        if (uv_write(&w->req, s, &b, 1, on_written) != 0)
            uv_close((uv_handle_t *)s, on_conn_closed);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct conn *c;
    int rc;

    if (status < 0)
        uv_die("listen", status);
    c = malloc(sizeof(*c));
    if (!c)
        die("malloc");
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    rc = uv_accept(srv, (uv_stream_t *)&c->tcp);
    if (rc != 0)
        uv_die("accept", rc);
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0)
        uv_die("read_start", rc);
}

/* ---- clients (plain threads) ------------------------------------------- */

static void *client(void *arg)
{
    struct sockaddr_in sa;
    char msg[MAX_SIZE], reply[MAX_SIZE];
    unsigned long done[MAX_SLICES] = {0};
    int fd, one = 1;

    (void)arg;
    memset(msg, 'x', sizeof(msg));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (;;) {
        uint64_t t;
        int got = 0;

        if (send(fd, msg, (size_t)size, 0) != size)
            die("send");
        while (got < size) {
            ssize_t r = recv(fd, reply + got, (size_t)(size - got), 0);

            if (r <= 0)
                die("recv");
            got += (int)r;
        }
        t = now_ns();
        if (t >= t_end)
            break;
        if (t >= t_begin)
            done[(t - t_begin) / SLICE_NS]++;
    }
    for (int i = 0; i < MAX_SLICES; i++)
        if (done[i])
            atomic_fetch_add(&slices[i], done[i]);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[MAX_CLIENTS];
    struct sockaddr_in sa;
    struct sockaddr_storage name;
    int namelen = sizeof(name);
    unsigned long sorted[MAX_SLICES], sum = 0;
    int opt, rc, nslices;

    while ((opt = getopt(argc, argv, "c:d:w:s:")) != -1) {
        switch (opt) {
        case 'c':
            nclients = atoi(optarg);
            break;
        case 'd':
            duration_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 'w':
            warmup_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 's':
            size = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }
    nslices = (int)(duration_ns / SLICE_NS);
    if (nclients < 1 || nclients > MAX_CLIENTS || size < 1 || size > MAX_SIZE ||
        nslices < 1 || nslices > MAX_SLICES)
        goto usage;
    duration_ns = (uint64_t)nslices * SLICE_NS;

    if ((rc = uv_loop_init(&loop)) != 0 ||
        (rc = uv_tcp_init(&loop, &server)) != 0 ||
        (rc = uv_ip4_addr("127.0.0.1", 0, &sa)) != 0 ||
        (rc = uv_tcp_bind(&server, (struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&server, 128, on_connection)) != 0 ||
        (rc = uv_tcp_getsockname(&server, (struct sockaddr *)&name,
                                 &namelen)) != 0)
        uv_die("server set-up", rc);
    port = ntohs(((struct sockaddr_in *)&name)->sin_port);

    t_begin = now_ns() + warmup_ns;
    t_end = t_begin + duration_ns;
    for (int i = 0; i < nclients; i++)
        if (pthread_create(&th[i], NULL, client, NULL) != 0)
            die("pthread_create");
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < nclients; i++)
        pthread_join(th[i], NULL);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "bench-echo: loop still has handles\n");
        return 1;
    }
    for (int i = 0; i < nslices; i++) {
        unsigned long v = atomic_load(&slices[i]);
        int j = i;

        sum += v;
        for (; j > 0 && sorted[j - 1] > v; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = v;
    }
    printf("echo best %.0f\n", (double)sorted[nslices - 1] * 1e9 / SLICE_NS);
    printf("echo median %.0f\n", (double)sorted[nslices / 2] * 1e9 / SLICE_NS);
    printf("echo mean %.0f\n", (double)sum * 1e9 / (double)duration_ns);
    return 0;

usage:
    fprintf(stderr, "usage: bench-echo [-c CLIENTS] [-d DURATION_MS] "
                    "[-w WARMUP_MS] [-s SIZE]\n");
    return 2;
}
