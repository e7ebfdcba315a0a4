/* prog-epoll-loop: a hand-written epoll loop, found by its behaviour
 * (test-epoll-loop). The main thread:
 *   - before its loop, waits on a semaphore a worker posts (a start-up
 *     handshake: not reported);
 *   - runs run_loop(), which waits in epoll_wait(epfd, ..., 1000) on an
 *     eventfd a worker signals, and on each event runs one callback:
 *       1. on_read_block: read() of a pipe the worker writes 10 ms later;
 *       2. on_sync_client: sync_client(), a synchronous helper with an
 *          epoll fd of its own, waiting 20 ms in epoll_wait;
 *       3. on_poll: poll() of a pipe with a 10 ms timeout;
 *     each reported, on loop kind epoll (via epoll, id = epfd); the loop's
 *     own epoll_wait never is;
 *   - after run_loop() returns, joins the worker (not reported).
 * A second thread calls epoll_wait with a zero timeout and then waits on a
 * semaphore: a zero-timeout poll makes nobody a loop thread, so its wait
 * is not reported. A third, a worker, runs sync_client() twice (each with
 * a new epoll fd, waiting 5 ms) and then blocks in read(): its epoll waits
 * made it an epoll loop's only while sync_client() ran, so nothing of it
 * is reported. Exits 0 when every callback ran. */
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int efd, data_pipe[2], quiet_pipe[2];
static sem_t started, poked, finished;
static int done;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    sem_post(&started);
    for (int i = 0; i < 3; i++) {
        uint64_t one = 1;
        if (write(efd, &one, sizeof one) != sizeof one)
            die("write eventfd");
        if (i == 0) {
            nap_ms(10);
            if (write(data_pipe[1], "x", 1) != 1)
                die("write pipe");
        }
        sem_wait(&poked);     /* the loop took the event */
    }
    return NULL;
}

static void *zero_poller(void *arg)
{
    (void)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    if (ep < 0 || epoll_wait(ep, &ev, 1, 0) != 0)
        die("epoll_wait (zero)");
    close(ep);
    sem_wait(&finished);      /* a plain thread's wait */
    return NULL;
}

static __attribute__((noinline)) void on_read_block(void)
{
    char c;
    if (read(data_pipe[0], &c, 1) != 1)
        die("read");
}

static __attribute__((noinline)) int sync_client(int ms)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, quiet_pipe[0], &ev) != 0)
        die("epoll_ctl");
    int n = epoll_wait(ep, &ev, 1, ms);
    close(ep);
    return n;
}

static int worker_pipe[2];

static void *client_worker(void *arg)
{
    (void)arg;
    char c;
    static volatile int rounds = 2;   /* one call site: not unrolled */
    int spare = -1;
    for (int i = 0; i < rounds; i++) {
        if (sync_client(5) != 0)
            die("sync_client (worker)");
        if (i == 0)
            spare = dup(quiet_pipe[0]);   /* the next epoll fd differs */
    }
    close(spare);
    if (read(worker_pipe[0], &c, 1) != 1)
        die("read (worker)");
    return NULL;
}

static __attribute__((noinline)) void on_sync_client(void)
{
    if (sync_client(20) != 0)
        die("sync_client");
}

static __attribute__((noinline)) void on_poll(void)
{
    struct pollfd p = {.fd = quiet_pipe[0], .events = POLLIN};
    if (poll(&p, 1, 10) != 0)
        die("poll");
}

static __attribute__((noinline)) void run_loop(int epfd)
{
    void (*const callbacks[])(void) = {on_read_block, on_sync_client,
                                       on_poll};
    while (done < 3) {
        struct epoll_event ev;
        int n = epoll_wait(epfd, &ev, 1, 1000);
        if (n < 0)
            die("epoll_wait");
        if (n == 0)
            continue;
        uint64_t v;
        if (read(efd, &v, sizeof v) != sizeof v)
            die("read eventfd");
        callbacks[done++]();
        sem_post(&poked);
    }
}

int main(void)
{
    pthread_t w, z, c;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0 || pipe(data_pipe) || pipe(quiet_pipe) || pipe(worker_pipe))
        die("setup");
    if (pthread_create(&c, NULL, client_worker, NULL))
        die("pthread_create");
    sem_init(&started, 0, 0);
    sem_init(&poked, 0, 0);
    sem_init(&finished, 0, 0);
    if (pthread_create(&w, NULL, worker, NULL) ||
        pthread_create(&z, NULL, zero_poller, NULL))
        die("pthread_create");
    sem_wait(&started);       /* before the loop: not reported */
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) != 0)
        die("epoll_ctl");
    run_loop(epfd);
    pthread_join(w, NULL);    /* after the loop: not reported */
    sem_post(&finished);
    pthread_join(z, NULL);
    if (write(worker_pipe[1], "x", 1) != 1)
        die("write (worker)");
    pthread_join(c, NULL);
    printf("epfd %d\n", epfd);
    return 0;
}
