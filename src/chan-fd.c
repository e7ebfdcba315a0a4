/* lg_chan for any event loop: a descriptor that polls readable while a
 * message waits or the channel is closed (lg_chan_fd), and a batch receive
 * that never blocks, for when it does (lg_chan_drain).
 *
 * The descriptor is the channel's eventfd, the one a recv_start receiver
 * watches; its reader takes that receiver's place (one at a time) and its
 * protocol. The count is non-zero, the fd readable, unless the reader
 * found the channel open and empty: then it resets the count, arms
 * `rx_armed`, and looks once more (a message ready or in flight, or a
 * close: it disarms and signals again). Armed, the next push signals
 * (lg__chan_after_push) and a close does (lg__chan_uv_closed). The count
 * is reset only there, so a drain that takes `max` of more messages leaves
 * the fd readable: it is level-triggered, as poll, epoll's default mode,
 * libevent and GLib expect; and once closed it stays readable for good.
 * No lock: the arming is the one recv_start's loop does (chan-internal.h).
 * A message claimed but not yet published counts as waiting: the fd stays
 * readable, a drain may deliver 0, and a loop calls again until its
 * producer's last few stores land (recv_start sleeps on a timer there;
 * a descriptor has no other way to say "look again soon"). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "chan-internal.h"

#define SCRATCH 256           /* messages copied out at once */

static int closed(struct lg_chan *ch)
{
    return (atomic_load(&ch->tail) & LG__CHAN_CLOSED_BIT) != 0;
}

/* After a drain, by the fd's reader: empty and open, the count is reset
 * and the next push will set it; else it stays set. */
static void fd_settle(struct lg_chan *ch)
{
    if (lg__chan_ready(ch) || closed(ch))
        return;
    int saved = errno;
    uint64_t n;
    (void)!read(atomic_load_explicit(&ch->wake_fd, memory_order_relaxed), &n,
                sizeof n);
    errno = saved;
    atomic_store_explicit(&ch->rx_armed, 1, memory_order_seq_cst);
    /* A push between the read and the arming did not see us armed. */
    if ((lg__chan_in_flight(ch) || lg__chan_ready(ch) || closed(ch)) &&
        atomic_exchange(&ch->rx_armed, 0))
        lg__chan_wake_fd_write(ch);
}

int lg_chan_fd(lg_chan_t *ch)
{
    if (!ch)
        return -EINVAL;
    int first = 0;
    pthread_mutex_lock(&ch->uv_lock);
    int fd = ch->rx ? -EBUSY : lg__chan_wake_fd_get(ch);
    if (fd >= 0 && !atomic_load(&ch->fd_mode)) {
        atomic_store(&ch->fd_mode, 1);
        first = 1;
    }
    pthread_mutex_unlock(&ch->uv_lock);
    if (first) {
        /* Whatever the count was (a former receiver's), set it, then
         * reset it if the channel is empty. */
        lg__chan_wake_fd_write(ch);
        fd_settle(ch);
    }
    return fd;
}

/* Hands up to limit messages to cb, in batches; scratch has room for
 * SCRATCH messages. Returns how many. */
static size_t drain_batches(struct lg_chan *ch, size_t limit,
                            lg_chan_batch_cb cb, void *data,
                            unsigned char *scratch)
{
    size_t n = 0;
    while (n < limit) {
        size_t k, first;
        if (LG__UNLIKELY(atomic_load(&ch->stash_n))) {
            /* A stopped loop receiver's leftovers: the oldest, rare. */
            if (lg__chan_pop(ch, scratch) != 0)
                break;
            k = 1;
            cb(ch, 0, scratch, 1, data);
        } else {
            k = lg__chan_claim(ch, lg__chan_claim_max(ch, limit - n, SCRATCH),
                               &first);
            if (k == 0)
                break;
            k = lg__chan_deliver(ch, first, k, cb, data, scratch, NULL);
        }
        n += k;
        lg__chan_after_pop(ch, k);
    }
    return n;
}

int lg_chan_drain(lg_chan_t *ch, size_t max, lg_chan_batch_cb cb, void *data)
{
    if (!ch || !cb || max == 0)
        return -EINVAL;
    /* What waits now, not what keeps coming: a drain ends. */
    size_t limit = ch->cap + atomic_load(&ch->stash_n);
    if (limit > max)
        limit = max;
    if (limit > INT_MAX)
        limit = INT_MAX;
    unsigned char *scratch = malloc(SCRATCH * ch->elem);
    if (!scratch)
        return -ENOMEM;
    size_t n = drain_batches(ch, limit, cb, data, scratch);
    free(scratch);
    if (atomic_load(&ch->fd_mode))
        fd_settle(ch);
    if (n == 0 && lg__chan_drained(ch))
        return -EPIPE;
    return (int)n;
}
