/* bench-echoload PORT CONNS ROUND_TRIPS SIZE [http]: the load for the
 * servers of bench/server-proc.py: CONNS connections to 127.0.0.1:PORT,
 * one thread each, each making ROUND_TRIPS blocking round trips (send,
 * then read the whole answer): SIZE bytes echoed, or with `http` a GET on
 * a kept-alive HTTP/1.1 connection whose answer has a Content-Length of
 * SIZE. Bounded in count; a connection that fails, or an answer of another
 * size, ends the run with exit 1. Prints "LOAD round_trips=N secs=T
 * rate=R" (all connections, from the first connect to the last answer). */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_SIZE 4096

static int port, trips, size, http;

static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static void fail(const char *what)
{
    fprintf(stderr, "bench-echoload: %s\n", what);
    exit(1);
}

/* One HTTP answer: its head, then a body of exactly `size` bytes. The
 * client sends one request at a time, so nothing follows the body. */
static void read_answer(int fd, char *buf, size_t room)
{
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got + 1 >= room)
            fail("an answer's head is too long");
        ssize_t n = read(fd, buf + got, room - 1 - got);
        if (n <= 0)
            fail("read: connection ended");
        got += (size_t)n;
        buf[got] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (!cl || cl > end || atoi(cl + 17) != size)
        fail("an answer without a Content-Length of SIZE");
    size_t want = (size_t)(end + 4 - buf) + (size_t)size;
    while (got < want) {
        if (want >= room)
            fail("an answer is too long");
        ssize_t n = read(fd, buf + got, want - got);
        if (n <= 0)
            fail("read: connection ended");
        got += (size_t)n;
    }
    if (got != want)
        fail("more than one answer to one request");
}

static void *conn_main(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        perror("bench-echoload: connect");
        exit(1);
    }
    char buf[MAX_SIZE + 1024];     /* an HTTP head, too */
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < trips && http; i++) {
        if (write(fd, get, sizeof get - 1) != (ssize_t)(sizeof get - 1)) {
            perror("bench-echoload: write");
            exit(1);
        }
        read_answer(fd, buf, sizeof buf);
    }
    for (int i = 0; i < trips && !http; i++) {
        if (write(fd, buf, (size_t)size) != size) {
            perror("bench-echoload: write");
            exit(1);
        }
        for (int got = 0; got < size;) {
            ssize_t n = read(fd, buf + got, (size_t)(size - got));
            if (n <= 0)
                fail("read: connection ended");
            got += (int)n;
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    http = argc == 6 && strcmp(argv[5], "http") == 0;
    if (argc != 5 && !http) {
        fprintf(stderr, "usage: bench-echoload PORT CONNS ROUND_TRIPS "
                        "SIZE [http]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int conns = atoi(argv[2]);
    trips = atoi(argv[3]);
    size = atoi(argv[4]);
    if (conns < 1 || conns > MAX_CONNS || trips < 1 || size < 1 ||
        size > MAX_SIZE) {
        fprintf(stderr, "bench-echoload: bad arguments\n");
        return 2;
    }
    pthread_t th[MAX_CONNS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < conns; i++)
        if (pthread_create(&th[i], NULL, conn_main, NULL) != 0)
            return 1;
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    long long n = (long long)conns * trips;
    printf("LOAD round_trips=%lld secs=%.4f rate=%.0f\n", n, secs,
           (double)n / secs);
    return 0;
}
