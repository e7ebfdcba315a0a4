/* lg_chan in batches: handing claimed messages to a callback as arrays,
 * in place where the ring's layout allows (chan-internal.h), shared by the
 * batch receivers (lg_chan_recv_start_batch, lg_chan_drain). */
#include <string.h>

#include "chan-internal.h"

size_t lg__chan_claim_max(struct lg_chan *ch, size_t want, size_t room)
{
    return ch->stride == ch->elem || want < room ? want : room;
}

/* Messages of a size that is not a multiple of their alignment (12 bytes,
 * 100) have gaps between them in the ring: those batches are copied into
 * one array, so even a wrap is a single call. */
static size_t deliver_copy(struct lg_chan *ch, size_t first, size_t k,
                           lg_chan_batch_cb cb, void *data,
                           unsigned char *scratch)
{
    for (size_t i = 0; i < k; i++)
        memcpy(scratch + i * ch->elem, lg__chan_cell(ch, first + i),
               ch->elem);
    cb(ch, 0, scratch, k, data);
    for (size_t i = 0; i < k; i++)
        lg__chan_release(ch, first + i);
    return k;
}

size_t lg__chan_deliver(struct lg_chan *ch, size_t first, size_t k,
                        lg_chan_batch_cb cb, void *data,
                        unsigned char *scratch, const int *stop)
{
    if (ch->stride != ch->elem)
        return deliver_copy(ch, first, k, cb, data, scratch);
    size_t done = 0;
    while (done < k) {
        /* Out of memory for the stash, the rest is delivered after all:
         * late calls are better than lost messages. */
        if (stop && *stop && lg__chan_stash(ch, first + done, k - done) == 0)
            break;
        size_t pos = first + done;
        size_t run = ch->ncells - (pos & (ch->ncells - 1));
        if (run > k - done)
            run = k - done;
        cb(ch, 0, lg__chan_cell(ch, pos), run, data);
        /* Only now is the room free: capacity bounds the messages a
         * callback may still be reading, too. */
        for (size_t i = 0; i < run; i++)
            lg__chan_release(ch, pos + i);
        done += run;
    }
    return done;
}
