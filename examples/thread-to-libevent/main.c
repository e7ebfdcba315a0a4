/* thread-to-libevent: worker threads send, a libevent loop receives.
 *
 * The loop watches the channel's descriptor, lg_chan_fd, with a persistent
 * EV_READ event (libevent's level-triggered readiness), and when it is
 * readable calls lg_chan_drain, which never blocks and hands what waits to
 * a callback in batches of up to 16. Messages left behind keep the
 * descriptor readable; once the channel is closed and drained,
 * lg_chan_drain returns -EPIPE and the loop is told to end. Exits 0. */
#include <errno.h>
#include <event2/event.h>
#include <loopguard.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The descriptor's event: drain, and end the loop after the last. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    int r = lg_chan_drain(ch, 16, on_batch, NULL);
    if (r == -EPIPE) {
        event_base_loopbreak(arg);  /* closed and drained: the end */
        return;
    }
    CHECK(r < 0 ? r : 0);           /* else r messages (0: none yet) */
}

int main(void)
{
    pthread_t threads[NWORKERS];

    CHECK(lg_chan_new(&ch, 64, sizeof(struct msg)));
    int fd = lg_chan_fd(ch);
    CHECK(fd < 0 ? fd : 0);
    struct event_base *base = event_base_new();
    CHECK(base ? 0 : -ENOMEM);
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable,
                                 base);
    CHECK(ev ? 0 : -ENOMEM);
    CHECK(event_add(ev, NULL));
    for (intptr_t i = 0; i < NWORKERS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)i));
    CHECK(event_base_dispatch(base) < 0 ? -EIO : 0);
    for (int i = 0; i < NWORKERS; i++)
        CHECK(pthread_join(threads[i], NULL));
    event_free(ev);
    event_base_free(base);
    lg_chan_free(ch);               /* closes fd too */
    printf("%d messages from %d workers, in order\n", received, NWORKERS);
    return received == NWORKERS * NMSGS ? 0 : 1;
}
