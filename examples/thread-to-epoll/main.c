/* thread-to-epoll: worker threads send, a loop that is not libuv (a raw
 * epoll loop here; libevent or GLib the same way) receives.
 *
 * The loop watches the channel's descriptor, lg_chan_fd, for EPOLLIN
 * (level-triggered), and when it is readable calls lg_chan_drain, which
 * never blocks and hands what waits to a callback in batches of up to 16.
 * The descriptor stays readable while messages wait, so draining 16 at a
 * time loses nothing; once the channel is closed and drained, lg_chan_drain
 * returns -EPIPE and the loop ends. Exits 0. */
#include <errno.h>
#include <loopguard.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Exits with a message when a system, lg_chan (negative) or pthread
 * (positive) call fails. */
#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    strerror(rc_ < 0 ? -rc_ : rc_));                        \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#define NWORKERS 4
#define NMSGS 10000                 /* per worker */

struct msg {
    int worker, seq;
};

static lg_chan_t *ch;               /* struct msg: workers -> loop */
static int next_seq[NWORKERS];      /* per worker, the seq due next */
static int received;

static void *worker(void *arg)
{
    struct msg m = {(int)(intptr_t)arg, 0};

    for (; m.seq < NMSGS; m.seq++)
        CHECK(lg_chan_send_blocking(ch, &m));
    return NULL;
}

static void on_batch(lg_chan_t *c, int status, void *p, size_t n,
                     void *data)
{
    (void)data;
    CHECK(status);                  /* lg_chan_drain: always 0 */
    const struct msg *m = p;
    for (size_t i = 0; i < n; i++)
        if (m[i].seq != next_seq[m[i].worker]++) {
            fprintf(stderr, "worker %d: got %d out of order\n", m[i].worker,
                    m[i].seq);
            exit(1);
        }
    received += (int)n;
    if (received == NWORKERS * NMSGS)
        lg_chan_close(c);           /* every message came: the end */
}

/* The loop: one descriptor here, beside whatever else it watches. */
static void run_loop(int ep)
{
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(ep, &ev, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n == 1 ? 0 : -errno);
        int r = lg_chan_drain(ch, 16, on_batch, NULL);
        if (r == -EPIPE)
            return;                 /* closed and drained: the end */
        CHECK(r < 0 ? r : 0);       /* else r messages (0: none yet) */
    }
}

int main(void)
{
    pthread_t threads[NWORKERS];

    CHECK(lg_chan_new(&ch, 64, sizeof(struct msg)));
    int fd = lg_chan_fd(ch);
    CHECK(fd < 0 ? fd : 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep < 0 ? -errno : 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0);
    for (intptr_t i = 0; i < NWORKERS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)i));
    /* Says where the loop runs, for the detector (its hint, a thread in
     * epoll_wait, would also count the joins below as on the loop). */
    CHECK(lg_loop_enter("epoll", &ep));
    run_loop(ep);
    CHECK(lg_loop_leave());
    for (int i = 0; i < NWORKERS; i++)
        CHECK(pthread_join(threads[i], NULL));
    close(ep);
    lg_chan_free(ch);               /* closes fd too */
    printf("%d messages from %d workers, in order\n", received, NWORKERS);
    return received == NWORKERS * NMSGS ? 0 : 1;
}
