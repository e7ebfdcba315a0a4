/* prog-poll-loop MODE: a hand-written poll or select loop, found by its
 * behaviour (test-poll-loop), as dnsmasq's is. MODE is the wait the loop
 * makes: poll, ppoll, select or pselect. The main thread:
 *   - runs run_loop(), which waits with a 1 s timeout on two descriptors,
 *     a wake pipe a worker writes to and a pipe nobody does, from one call
 *     site; on each wake-up it drains the wake pipe (non-blocking) and
 *     runs one turn: the 4th calls on_read_block, a read() of a pipe the
 *     worker writes 10 ms later (reported: by then the loop was found, at
 *     its 3rd wait); the 6th ends the loop;
 *   - after run_loop() returns, reads a pipe the worker writes then (not
 *     reported: the loop's function is gone), and joins the worker.
 * A second thread, a client, calls one_fd_wait() 5 times: a poll of one
 * descriptor with a timeout, from one place (a wait for a reply, no
 * loop), each followed by a blocking read() of it (not reported).
 * Prints "done" and exits 0 when every turn ran. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define TURNS 6
#define BLOCK_TURN 3              /* counted from 0: the 4th */

static const char *mode;
static int wake[2], quiet[2], data[2], after[2], reply[2];
static sem_t poked;

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

static void put(int fd)
{
    if (write(fd, "x", 1) != 1)
        die("write");
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < TURNS; i++) {
        nap_ms(5);
        put(wake[1]);
        if (i == BLOCK_TURN) {
            nap_ms(10);
            put(data[1]);
        }
        sem_wait(&poked);         /* the loop ran the turn */
    }
    nap_ms(10);
    put(after[1]);
    return NULL;
}

__attribute__((noinline)) static void on_read_block(void)
{
    char c;
    if (read(data[0], &c, 1) != 1)
        die("read data");
}

/* The loop's one wait, on {wake, quiet}; returns when wake is readable. */
__attribute__((noinline)) static void wait_turn(void)
{
    struct pollfd p[2] = {{wake[0], POLLIN, 0}, {quiet[0], POLLIN, 0}};
    struct timespec ts = {1, 0};
    struct timeval tv = {1, 0};
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(wake[0], &rd);
    FD_SET(quiet[0], &rd);
    int n = wake[0] > quiet[0] ? wake[0] + 1 : quiet[0] + 1, r;
    if (!strcmp(mode, "poll"))
        r = poll(p, 2, 1000);
    else if (!strcmp(mode, "ppoll"))
        r = ppoll(p, 2, &ts, NULL);
    else if (!strcmp(mode, "select"))
        r = select(n, &rd, NULL, NULL, &tv);
    else
        r = pselect(n, &rd, NULL, NULL, &ts, NULL);
    if (r != 1)
        die("the loop's wait");
}

__attribute__((noinline)) static void run_loop(void)
{
    for (int i = 0; i < TURNS; i++) {
        wait_turn();
        char c;
        if (read(wake[0], &c, 1) != 1)
            die("read wake");
        if (i == BLOCK_TURN)
            on_read_block();
        sem_post(&poked);
    }
}

__attribute__((noinline)) static void one_fd_wait(void)
{
    struct pollfd p = {reply[0], POLLIN, 0};
    char c;
    if (poll(&p, 1, 1000) != 1 || read(reply[0], &c, 1) != 1)
        die("client");
}

static void *client(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        put(reply[1]);
        one_fd_wait();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t w, c;
    if (argc != 2)
        return 2;
    mode = argv[1];
    if (pipe(wake) || pipe(quiet) || pipe(data) || pipe(after) ||
        pipe(reply))
        die("pipe");
    if (fcntl(wake[0], F_SETFL, O_NONBLOCK) != 0)
        die("fcntl");
    sem_init(&poked, 0, 0);
    if (pthread_create(&c, NULL, client, NULL) != 0)
        die("client thread");
    pthread_join(c, NULL);
    if (pthread_create(&w, NULL, worker, NULL) != 0)
        die("worker thread");
    run_loop();
    char ch;
    if (read(after[0], &ch, 1) != 1)
        die("read after");
    pthread_join(w, NULL);
    printf("done\n");
    return 0;
}
