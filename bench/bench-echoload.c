/* bench-echoload PORT CONNS ROUND_TRIPS SIZE: the load for bench-echosrv
 * (bench/run-echo-proc.sh): CONNS connections to 127.0.0.1:PORT, one
 * thread each, each making ROUND_TRIPS blocking round trips of SIZE bytes
 * (send, then read the whole echo). Bounded in count; a connection that
 * fails ends the run with exit 1. Prints "LOAD round_trips=N secs=T
 * rate=R" (all connections, from the first connect to the last echo). */
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

static int port, trips, size;

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
    char buf[MAX_SIZE];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < trips; i++) {
        if (write(fd, buf, (size_t)size) != size) {
            perror("bench-echoload: write");
            exit(1);
        }
        for (int got = 0; got < size;) {
            ssize_t n = read(fd, buf + got, (size_t)(size - got));
            if (n <= 0) {
                fprintf(stderr, "bench-echoload: read: connection ended\n");
                exit(1);
            }
            got += (int)n;
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench-echoload PORT CONNS ROUND_TRIPS "
                        "SIZE\n");
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
