/* bench-echoload CONNS ROUND_TRIPS SIZE SLICES echo|http PORT...: the load
 * for the servers of bench/server-proc.py, as wrk or ab make one: one
 * thread, an epoll loop, CONNS connections to each 127.0.0.1:PORT, one
 * request in flight on each: SIZE bytes echoed, or with `http` a GET on a
 * kept-alive HTTP/1.1 connection whose answer has a Content-Length of SIZE.
 *
 * With more than one PORT (the same server, native and preloaded, all
 * started before the load), the load goes to one server at a time, in
 * SLICES slices: each connection makes ROUND_TRIPS / SLICES round trips in
 * a slice, and the order of the servers rotates from slice to slice, so
 * that a change in the machine's speed (another tenant waking up) falls on
 * every server alike. One thread, so that the load and the server each
 * have a CPU of the two: sixteen blocking load threads and the server
 * sharing them spread a run's rate by a third.
 *
 * Bounded in count; a connection that fails, or an answer of another size,
 * ends the run with exit 1. Prints, per PORT in the order given,
 * "LOAD port=P round_trips=N secs=T rate=R": T is the sum of its slices,
 * each from its first request to its last answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_PORTS 4
#define MAX_SIZE 4096

struct conn {
    int fd;
    int done;                      /* round trips in this slice */
    size_t got;                    /* bytes of the answer read so far */
    char buf[MAX_SIZE + 1024];     /* an HTTP head, too */
};

static int conns, trips, size, slices, http;
static char request[MAX_SIZE];
static size_t request_len;

static void fail(const char *what)
{
    fprintf(stderr, "bench-echoload: %s\n", what);
    exit(1);
}

static void fail_errno(const char *what)
{
    fprintf(stderr, "bench-echoload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void send_request(struct conn *c)
{
    /* One request in flight on a connection whose buffers are empty: a
     * short write would mean a full socket buffer, which cannot be. */
    if (write(c->fd, request, request_len) != (ssize_t)request_len)
        fail_errno("write");
    c->got = 0;
}

/* Whether the answer is whole; one that runs past its end fails. */
static int answer_done(struct conn *c)
{
    if (!http) {
        if (c->got > (size_t)size)
            fail("more than one answer to one request");
        return c->got == (size_t)size;
    }
    c->buf[c->got] = 0;
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return 0;
    const char *cl = strcasestr(c->buf, "\r\ncontent-length:");
    if (!cl || cl > end || atoi(cl + 17) != size)
        fail("an answer without a Content-Length of SIZE");
    size_t want = (size_t)(end + 4 - c->buf) + (size_t)size;
    if (c->got > want)
        fail("more than one answer to one request");
    return c->got == want;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        fail_errno("connect");
    /* Non-blocking only after the connect, which is not measured. */
    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
        fail_errno("fcntl");
    return fd;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One slice on one server: each connection makes `quota` round trips.
 * Returns its seconds. */
static double slice(int ep, struct conn *cs, int quota)
{
    double t0 = now();
    for (int i = 0; i < conns; i++) {
        cs[i].done = 0;
        send_request(&cs[i]);
    }
    int active = conns;
    struct epoll_event ev[MAX_CONNS];
    while (active > 0) {
        int n = epoll_wait(ep, ev, MAX_CONNS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_errno("epoll_wait");
        for (int k = 0; k < n; k++) {
            struct conn *c = ev[k].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->got,
                             sizeof c->buf - 1 - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                fail("read: connection ended");
            c->got += (size_t)r;
            if (!answer_done(c))
                continue;
            if (++c->done < quota)
                send_request(c);
            else
                active--;
        }
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench-echoload CONNS ROUND_TRIPS SIZE "
                        "SLICES echo|http PORT...\n");
        return 2;
    }
    conns = atoi(argv[1]);
    trips = atoi(argv[2]);
    size = atoi(argv[3]);
    slices = atoi(argv[4]);
    http = strcmp(argv[5], "http") == 0;
    int nports = argc - 6;
    if (conns < 1 || conns > MAX_CONNS || size < 1 || size > MAX_SIZE ||
        slices < 1 || trips < slices || trips % slices != 0 ||
        nports > MAX_PORTS || (!http && strcmp(argv[5], "echo") != 0)) {
        fprintf(stderr, "bench-echoload: bad arguments (ROUND_TRIPS a "
                        "multiple of SLICES, at most %d ports)\n", MAX_PORTS);
        return 2;
    }
    if (http) {
        request_len = strlen("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        memcpy(request, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
               request_len);
    } else {
        request_len = (size_t)size;
        memset(request, 'x', request_len);
    }
    int ports[MAX_PORTS], ep[MAX_PORTS];
    struct conn *cs[MAX_PORTS];
    double secs[MAX_PORTS] = {0};
    for (int p = 0; p < nports; p++) {
        ports[p] = atoi(argv[6 + p]);
        cs[p] = calloc((size_t)conns, sizeof **cs);
        ep[p] = epoll_create1(EPOLL_CLOEXEC);
        if (!cs[p] || ep[p] < 0)
            fail_errno("set-up");
        for (int i = 0; i < conns; i++) {
            cs[p][i].fd = connect_to(ports[p]);
            struct epoll_event e = {.events = EPOLLIN,
                                    .data.ptr = &cs[p][i]};
            if (epoll_ctl(ep[p], EPOLL_CTL_ADD, cs[p][i].fd, &e) != 0)
                fail_errno("epoll_ctl");
        }
    }
    for (int s = 0; s < slices; s++)
        for (int k = 0; k < nports; k++) {
            int p = (s + k) % nports;
            secs[p] += slice(ep[p], cs[p], trips / slices);
        }
    long long n = (long long)conns * trips;
    for (int p = 0; p < nports; p++) {
        printf("LOAD port=%d round_trips=%lld secs=%.4f rate=%.0f\n",
               ports[p], n, secs[p], (double)n / secs[p]);
        for (int i = 0; i < conns; i++)
            close(cs[p][i].fd);
    }
    return 0;
}
