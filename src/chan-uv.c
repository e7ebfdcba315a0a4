/* lg_chan on a libuv loop: delivering to a loop (recv_start) and sending
 * from one (send_async), without ever blocking it.
 *
 * Each loop side's handles are made and closed on its loop's thread. A
 * receiving loop drains up to BUDGET messages per wake-up, then arms
 * `rx_armed` and checks once more before sleeping; a producer wakes it only
 * when it finds it armed, so a busy loop costs producers no system call.
 * The wake-up is a write to the channel's own eventfd, which the loop
 * watches with a uv_poll_t: libuv 1.44's uv_async_send made the woken loop
 * spin until the sender, which it had often preempted on the same CPU,
 * finished the call (28-46 us per wake-up, docs/performance.md). The fd
 * belongs to the channel, not to a receiver, so a producer writes it
 * without a lock. A sending loop parks what does not fit, in order, arms
 * itself, and is woken (uv_async_t) by the next pop. uv_lock guards the
 * sending loops' handles against being woken while they close, and
 * attaching and detaching loop sides; it never moves a message.
 *
 * libuv is reached through weak references: a program using these calls
 * links libuv itself, and one that does not (or the detector's preload)
 * never loads it because of us. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include "chan-internal.h"

#pragma weak uv_async_init
#pragma weak uv_async_send
#pragma weak uv_close
#pragma weak uv_timer_init
#pragma weak uv_timer_start
#pragma weak uv_timer_stop
#pragma weak uv_is_active
#pragma weak uv_poll_init
#pragma weak uv_poll_start

#define BUDGET 1024           /* messages per wake-up before other handles
                                 get their turn */
#define BATCH 256             /* messages claimed with one CAS */
#define IN_FLIGHT_SPINS 64    /* pauses (~1-3 us) waiting for a message
                                 claimed but not yet published */
#define RECHECK_MS 1          /* ... then a timer looks again (see
                                 chan-internal.h: its producer may have
                                 missed that the loop went to sleep) */

struct lg__chan_rx {
    uv_poll_t poll;           /* the channel's wake_fd */
    uv_timer_t recheck;       /* asleep with a message in flight */
    int open_handles;         /* poll and recheck: freed at 0 */
    struct lg_chan *ch;
    pthread_t thread;         /* the loop's thread */
    lg_chan_recv_cb cb;       /* one per message, or ... */
    lg_chan_batch_cb batch_cb;   /* ... batches of up to max */
    size_t max;               /* messages per batch at most */
    unsigned char *scratch;   /* a batch receiver's array: room for
                                 min(max, BATCH) messages; else NULL */
    void *data;
    int stopping;             /* recv_stop or the final callback ran */
    _Alignas(16) unsigned char buf[];   /* a message from the stash,
                                           handed to cb: as aligned as
                                           one in a cell */
};

struct parked {               /* a message waiting for room, or a callback
                                 waiting to run */
    struct parked *next;
    lg_chan_send_cb cb;
    void *data;
    int status;
    unsigned char msg[];
};

struct lg__chan_tx {
    uv_async_t async;
    struct lg_chan *ch;
    pthread_t thread;         /* the loop's thread */
    uv_loop_t *loop;
    struct lg__chan_tx *next;
    struct parked *wait, **wait_tail;   /* messages waiting for room */
    struct parked *done, **done_tail;   /* callbacks to run */
    _Atomic int armed;                  /* waiting for a pop to wake it */
    int closing;
};

/* Under uv_lock: the threads of the attached sides are the ones that run
 * this channel's callbacks, on which a blocking call gets -EDEADLK. */
static void loop_threads_update(struct lg_chan *ch)
{
    pthread_t t[LG__CHAN_MAX_LOOPS];
    int n = 0, sides = 0;
    if (ch->rx)
        t[n++] = ch->rx->thread, sides++;
    for (struct lg__chan_tx *tx = ch->tx; tx; tx = tx->next, sides++)
        if (n < LG__CHAN_MAX_LOOPS)
            t[n++] = tx->thread;
    lg__chan_set_loop_threads(ch, t, n, sides);
}

int lg__chan_uv_is_loop_thread(struct lg_chan *ch)
{
    pthread_t self = pthread_self();
    int found = 0;
    pthread_mutex_lock(&ch->uv_lock);
    if (ch->rx)
        found = pthread_equal(ch->rx->thread, self);
    for (struct lg__chan_tx *tx = ch->tx; tx && !found; tx = tx->next)
        found = pthread_equal(tx->thread, self);
    pthread_mutex_unlock(&ch->uv_lock);
    return found;
}

static int uv_present(void)
{
    return uv_async_init && uv_async_send && uv_close && uv_timer_init &&
           uv_timer_start && uv_timer_stop && uv_is_active && uv_poll_init &&
           uv_poll_start;
}

static int closed(struct lg_chan *ch)
{
    return (atomic_load(&ch->tail) & LG__CHAN_CLOSED_BIT) != 0;
}

/* ---- receiving loop --------------------------------------------------- */

static void rx_closed(uv_handle_t *h)
{
    struct lg__chan_rx *rx = h->data;
    struct lg_chan *ch = rx->ch;
    if (--rx->open_handles > 0)
        return;
    free(rx->scratch);
    free(rx);
    lg__chan_unref(ch);
}

/* Detaches and closes the handle; on the loop thread. */
static void rx_detach(struct lg__chan_rx *rx)
{
    struct lg_chan *ch = rx->ch;
    rx->stopping = 1;
    pthread_mutex_lock(&ch->uv_lock);
    /* Disarmed before the next receiver can attach and arm: cleared after
     * the unlock, it could undo that receiver's arming, and no push would
     * wake it again. */
    atomic_store(&ch->rx_armed, 0);
    if (ch->rx == rx)
        ch->rx = NULL;
    loop_threads_update(ch);
    pthread_mutex_unlock(&ch->uv_lock);
    uv_close((uv_handle_t *)&rx->poll, rx_closed);
    uv_close((uv_handle_t *)&rx->recheck, rx_closed);
}

static void rx_recheck_cb(uv_timer_t *h);

/* Wakes whichever loop receives (now or next: the count waits in the
 * eventfd). errno is the caller's. */
void lg__chan_wake_fd_write(struct lg_chan *ch)
{
    int fd = atomic_load_explicit(&ch->wake_fd, memory_order_acquire);
    if (fd < 0)
        return;
    int saved = errno;
    uint64_t one = 1;
    /* EAGAIN only at a count of 2^64 - 2: it is awake anyway. */
    (void)!write(fd, &one, sizeof one);
    errno = saved;
}

static void rx_wake_self(struct lg__chan_rx *rx)
{
    lg__chan_wake_fd_write(rx->ch);
}

/* Delivers up to `budget` messages: a batch claimed at once, each handed
 * to its callback in place and its cell freed after. (Copying each out
 * first cost a third of the 64-byte throughput: the copy reads the cell's
 * second cache line, which a callback reading a header never needs.) A
 * callback that stops the receiver leaves the rest of the batch in the
 * stash, in order, for whoever receives next. Returns how many were
 * delivered. */
static int rx_deliver(struct lg__chan_rx *rx, int budget)
{
    struct lg_chan *ch = rx->ch;
    int n = 0;
    while (n < budget && !rx->stopping) {
        if (LG__UNLIKELY(atomic_load(&ch->stash_n))) {
            if (lg__chan_pop(ch, rx->buf) != 0)
                break;
            n++;
            rx->cb(ch, 0, rx->buf, rx->data);
            continue;
        }
        size_t first, max = (size_t)(budget - n) < BATCH
                                ? (size_t)(budget - n) : BATCH;
        size_t k = lg__chan_claim(ch, max, &first);
        if (k == 0)
            break;
        for (size_t i = 0; i < k; i++) {
            /* Out of memory for the stash, the batch is delivered after
             * all: late callbacks are better than lost messages. */
            if (rx->stopping && lg__chan_stash(ch, first + i, k - i) == 0)
                break;
            n++;
            rx->cb(ch, 0, lg__chan_cell(ch, first + i), rx->data);
            lg__chan_release(ch, first + i);
        }
    }
    return n;
}

/* The same for a batch receiver: one claim per batch, handed over by
 * lg__chan_deliver, producers woken once per batch (a single one at the
 * end of the run would keep them waiting for room while the batches that
 * freed it went by). Returns how many were delivered. */
static int rx_deliver_batch(struct lg__chan_rx *rx, int budget)
{
    struct lg_chan *ch = rx->ch;
    int n = 0;
    while (n < budget && !rx->stopping) {
        size_t k;
        if (LG__UNLIKELY(atomic_load(&ch->stash_n))) {
            if (lg__chan_pop(ch, rx->buf) != 0)
                break;
            k = 1;
            rx->batch_cb(ch, 0, rx->buf, 1, rx->data);
        } else {
            size_t first, want = (size_t)(budget - n);
            if (want > rx->max)
                want = rx->max;
            k = lg__chan_claim(ch, lg__chan_claim_max(ch, want, BATCH),
                               &first);
            if (k == 0)
                break;
            k = lg__chan_deliver(ch, first, k, rx->batch_cb, rx->data,
                                 rx->scratch, &rx->stopping);
        }
        n += (int)k;
        lg__chan_after_pop(ch, k);
    }
    return n;
}

/* The final call: closed and drained. */
static void rx_end(struct lg__chan_rx *rx)
{
    if (rx->batch_cb)
        rx->batch_cb(rx->ch, -EPIPE, NULL, 0, rx->data);
    else
        rx->cb(rx->ch, -EPIPE, NULL, rx->data);
}

static void rx_run(struct lg__chan_rx *rx)
{
    struct lg_chan *ch = rx->ch;
    if (uv_is_active((uv_handle_t *)&rx->recheck))
        uv_timer_stop(&rx->recheck);
    int n;
    if (rx->batch_cb) {
        n = rx_deliver_batch(rx, BUDGET);
    } else {
        n = rx_deliver(rx, BUDGET);
        if (n)
            lg__chan_after_pop(ch, (size_t)n);
    }
    if (rx->stopping)
        return;
    if (n == BUDGET) {
        rx_wake_self(rx);   /* more may wait: after the loop's other work */
        return;
    }
    /* Going to sleep: announce it, then look once more at tail, the word
     * every push changes first (chan-internal.h). A later close wakes us
     * on its own. Closed and empty now (this run may have spent the
     * close's wake-up, or another receiver taken the last message), the
     * end is due: nothing else will wake us. */
    atomic_store_explicit(&ch->rx_armed, 1, memory_order_seq_cst);
    if (!lg__chan_in_flight(ch) && !lg__chan_ready(ch)) {
        if (lg__chan_drained(ch) && atomic_exchange(&ch->rx_armed, 0)) {
            rx_end(rx);
            if (!rx->stopping)
                rx_detach(rx);
        }
        return;
    }
    for (int i = 0; i < IN_FLIGHT_SPINS && !lg__chan_ready(ch); i++)
        cpu_relax();
    if (!lg__chan_ready(ch)) {
        /* Still in flight: its producer may wake us, or may have looked
         * before we armed. Do not bet the message on which. */
        uv_timer_start(&rx->recheck, rx_recheck_cb, RECHECK_MS, 0);
        return;
    }
    if (atomic_exchange(&ch->rx_armed, 0))
        rx_wake_self(rx);
}

static void rx_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct lg__chan_rx *rx = h->data;
    uint64_t n;
    int saved = errno;
    (void)!read(atomic_load_explicit(&rx->ch->wake_fd, memory_order_relaxed),
                &n, sizeof n);                      /* reset the count */
    errno = saved;
    rx_run(rx);
}

static void rx_recheck_cb(uv_timer_t *h)
{
    struct lg__chan_rx *rx = h->data;
    if (atomic_exchange(&rx->ch->rx_armed, 0))
        rx_run(rx);
}

void lg__chan_uv_wake_rx(struct lg_chan *ch)
{
    if (atomic_exchange(&ch->rx_armed, 0))
        lg__chan_wake_fd_write(ch);
}

/* Under uv_lock: the channel's eventfd, made by its first receiver. */
int lg__chan_wake_fd_get(struct lg_chan *ch)
{
    int fd = atomic_load_explicit(&ch->wake_fd, memory_order_relaxed);
    if (fd >= 0)
        return fd;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    atomic_store_explicit(&ch->wake_fd, fd, memory_order_release);
    return fd;
}

/* lg_chan_recv_start (cb) and lg_chan_recv_start_batch (batch_cb, max). */
static int rx_start(lg_chan_t *ch, uv_loop_t *loop, lg_chan_recv_cb cb,
                    lg_chan_batch_cb batch_cb, size_t max, void *data)
{
    if (!ch || !loop || (!cb && !batch_cb) || max == 0)
        return -EINVAL;
    if (!uv_present())
        return -ENOSYS;
    struct lg__chan_rx *rx = calloc(1, sizeof *rx + ch->elem);
    if (!rx)
        return -ENOMEM;
    if (batch_cb &&
        !(rx->scratch = malloc((max < BATCH ? max : BATCH) * ch->elem))) {
        free(rx);
        return -ENOMEM;
    }
    rx->cb = cb;
    rx->batch_cb = batch_cb;
    rx->max = max;
    rx->data = data;
    rx->ch = ch;
    rx->thread = pthread_self();
    pthread_mutex_lock(&ch->uv_lock);
    if (ch->rx || atomic_load(&ch->fd_mode)) {
        pthread_mutex_unlock(&ch->uv_lock);
        free(rx->scratch);
        free(rx);
        return -EBUSY;
    }
    int fd = lg__chan_wake_fd_get(ch);
    int r = fd < 0 ? fd : uv_poll_init(loop, &rx->poll, fd);
    if (r == 0) {
        rx->poll.data = rx;
        uv_poll_start(&rx->poll, UV_READABLE, rx_poll_cb);   /* cannot fail
                                                                 once init
                                                                 did */
        uv_timer_init(loop, &rx->recheck);
        rx->recheck.data = rx;
        rx->open_handles = 2;
        atomic_fetch_add(&ch->refs, 1);
        ch->rx = rx;
        loop_threads_update(ch);
    }
    pthread_mutex_unlock(&ch->uv_lock);
    if (r != 0) {
        free(rx->scratch);
        free(rx);
        return r;
    }
    rx_wake_self(rx);   /* deliver what is already there, then arm */
    return 0;
}

int lg_chan_recv_start(lg_chan_t *ch, uv_loop_t *loop, lg_chan_recv_cb cb,
                       void *data)
{
    return rx_start(ch, loop, cb, NULL, 1, data);
}

int lg_chan_recv_start_batch(lg_chan_t *ch, uv_loop_t *loop, size_t max,
                             lg_chan_batch_cb cb, void *data)
{
    return rx_start(ch, loop, NULL, cb, max, data);
}

int lg_chan_recv_stop(lg_chan_t *ch)
{
    if (!ch)
        return -EINVAL;
    pthread_mutex_lock(&ch->uv_lock);
    struct lg__chan_rx *rx = ch->rx;
    pthread_mutex_unlock(&ch->uv_lock);
    if (!rx || rx->stopping)
        return -EINVAL;
    rx_detach(rx);
    return 0;
}

/* ---- sending loops ------------------------------------------------------ */

static void tx_closed(uv_handle_t *h)
{
    struct lg__chan_tx *tx = h->data;
    struct lg_chan *ch = tx->ch;
    free(tx);
    lg__chan_unref(ch);
}

static void append(struct parked ***tail, struct parked *p)
{
    p->next = NULL;
    **tail = p;
    *tail = &p->next;
}

/* Moves parked messages into the channel while there is room, in order;
 * each one's callback is queued with its status. Returns how many went. */
static int tx_flush(struct lg__chan_tx *tx)
{
    int pushed = 0;
    while (tx->wait) {
        struct parked *p = tx->wait;
        int r = lg__chan_push(tx->ch, p->msg);
        if (r == -EAGAIN)
            break;
        tx->wait = p->next;
        if (!tx->wait)
            tx->wait_tail = &tx->wait;
        pushed += r == 0;
        p->status = r;
        if (p->cb)
            append(&tx->done_tail, p);
        else
            free(p);
    }
    if (pushed)
        lg__chan_after_push(tx->ch, (size_t)pushed);
    return pushed;
}

/* Runs the queued callbacks. A callback may send again: the list is
 * detached first, so new entries wait for the next round. */
static void tx_run_done(struct lg__chan_tx *tx)
{
    struct parked *p = tx->done;
    tx->done = NULL;
    tx->done_tail = &tx->done;
    while (p) {
        struct parked *next = p->next;
        p->cb(tx->ch, p->status, p->data);
        free(p);
        p = next;
    }
}

static void tx_detach(struct lg__chan_tx *tx)
{
    struct lg_chan *ch = tx->ch;
    tx->closing = 1;
    pthread_mutex_lock(&ch->uv_lock);
    for (struct lg__chan_tx **pp = &ch->tx; *pp; pp = &(*pp)->next)
        if (*pp == tx) {
            *pp = tx->next;
            break;
        }
    loop_threads_update(ch);
    pthread_mutex_unlock(&ch->uv_lock);
    if (atomic_exchange(&tx->armed, 0))
        atomic_fetch_sub(&ch->tx_waiting, 1);
    uv_close((uv_handle_t *)&tx->async, tx_closed);
}

static void tx_arm(struct lg__chan_tx *tx)
{
    if (!atomic_exchange(&tx->armed, 1))
        atomic_fetch_add(&tx->ch->tx_waiting, 1);
}

static void tx_cb(uv_async_t *h)
{
    struct lg__chan_tx *tx = h->data;
    struct lg_chan *ch = tx->ch;
    if (tx->closing)
        return;
    tx_flush(tx);
    if (closed(ch))
        tx_flush(tx);       /* every parked message now fails: -EPIPE */
    tx_run_done(tx);
    if (tx->closing)
        return;
    if (closed(ch) && !tx->wait && !tx->done) {
        tx_detach(tx);
        return;
    }
    if (tx->wait) {
        tx_arm(tx);
        lg__chan_fence();
        if (lg__chan_push_would_fit(ch) && atomic_exchange(&tx->armed, 0)) {
            atomic_fetch_sub(&ch->tx_waiting, 1);
            uv_async_send(&tx->async);
        }
    }
}

void lg__chan_uv_wake_tx(struct lg_chan *ch)
{
    pthread_mutex_lock(&ch->uv_lock);
    for (struct lg__chan_tx *tx = ch->tx; tx; tx = tx->next)
        if (atomic_exchange(&tx->armed, 0)) {
            atomic_fetch_sub(&ch->tx_waiting, 1);
            uv_async_send(&tx->async);
        }
    pthread_mutex_unlock(&ch->uv_lock);
}

static struct lg__chan_tx *tx_for(struct lg_chan *ch, uv_loop_t *loop,
                                  int *err)
{
    pthread_mutex_lock(&ch->uv_lock);
    struct lg__chan_tx *tx = ch->tx;
    while (tx && tx->loop != loop)
        tx = tx->next;
    if (!tx) {
        tx = calloc(1, sizeof *tx);
        *err = tx ? uv_async_init(loop, &tx->async, tx_cb) : -ENOMEM;
        if (*err == 0) {
            tx->async.data = tx;
            tx->ch = ch;
            tx->thread = pthread_self();
            tx->loop = loop;
            tx->wait_tail = &tx->wait;
            tx->done_tail = &tx->done;
            tx->next = ch->tx;
            ch->tx = tx;
            loop_threads_update(ch);
            atomic_fetch_add(&ch->refs, 1);
            /* A close that came after our caller's check but before this
             * lock did not see this handle: let it see the close itself.
             * (lg__chan_uv_closed takes uv_lock after setting the bit.) */
            if (closed(ch))
                uv_async_send(&tx->async);
        } else {
            free(tx);
            tx = NULL;
        }
    }
    pthread_mutex_unlock(&ch->uv_lock);
    return tx;
}

int lg_chan_send_async(lg_chan_t *ch, uv_loop_t *loop, const void *msg,
                       lg_chan_send_cb cb, void *data)
{
    if (!ch || !loop || !msg)
        return -EINVAL;
    if (!uv_present())
        return -ENOSYS;
    if (closed(ch))
        return -EPIPE;
    int err = 0;
    struct lg__chan_tx *tx = tx_for(ch, loop, &err);
    if (!tx)
        return err;
    /* The node is allocated before anything is sent: 0 must mean that cb
     * will run, so running out of memory has to happen first. */
    struct parked *p = malloc(sizeof *p + (tx->wait ? ch->elem : 0));
    if (!p)
        return -ENOMEM;
    if (!tx->wait) {
        int r = lg__chan_push(ch, msg);
        if (r == -EPIPE) {
            free(p);
            return -EPIPE;
        }
        if (r == 0) {
            lg__chan_after_push(ch, 1);
            if (!cb) {
                free(p);
                return 0;
            }
            p->cb = cb;
            p->data = data;
            p->status = 0;
            append(&tx->done_tail, p);
            uv_async_send(&tx->async);
            return 0;
        }
        /* Full: park it, in a node big enough for the message. */
        free(p);
        p = malloc(sizeof *p + ch->elem);
        if (!p)
            return -ENOMEM;
    }
    memcpy(p->msg, msg, ch->elem);
    p->cb = cb;
    p->data = data;
    p->status = 0;
    append(&tx->wait_tail, p);
    uv_async_send(&tx->async);   /* tx_cb flushes what fits, then arms */
    return 0;
}

/* Any thread: every loop side learns the channel closed, on its thread. */
void lg__chan_uv_closed(struct lg_chan *ch)
{
    /* No uv_present() check: rx and tx exist only with libuv, and the
     * descriptor of lg_chan_fd works without it. */
    pthread_mutex_lock(&ch->uv_lock);
    if (ch->rx || atomic_load(&ch->fd_mode))
        lg__chan_wake_fd_write(ch);
    for (struct lg__chan_tx *tx = ch->tx; tx; tx = tx->next)
        uv_async_send(&tx->async);
    pthread_mutex_unlock(&ch->uv_lock);
}
