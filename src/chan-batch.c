/* lg_chan in batches: claimed messages handed to a callback as one array,
 * shared by the batch receivers (lg_chan_recv_start_batch, lg_chan_drain).
 *
 * The messages are copied out of their cells into the receiver's own
 * array first. A cell keeps its sequence number beside its message, so a
 * producer and the receiver touch one cache line per message; laid side by
 * side for callbacks to read in place, the messages ran at 0.67-0.9 of
 * this speed (docs/performance.md, "messages side by side"). The copy is
 * what the receiver reads anyway, and one array per claim needs no second
 * call at the ring's wrap. */
#include <string.h>

#include "chan-internal.h"

size_t lg__chan_claim_max(struct lg_chan *ch, size_t want, size_t room)
{
    (void)ch;
    return want < room ? want : room;
}

size_t lg__chan_deliver(struct lg_chan *ch, size_t first, size_t k,
                        lg_chan_batch_cb cb, void *data,
                        unsigned char *scratch, const int *stop)
{
    (void)stop;               /* the call has every message it was given */
    for (size_t i = 0; i < k; i++)
        memcpy(scratch + i * ch->elem, lg__chan_cell(ch, first + i),
               ch->elem);
    /* The cells are freed only once the callback returned: the capacity
     * bounds the messages a callback may still be reading, too. */
    cb(ch, 0, scratch, k, data);
    for (size_t i = 0; i < k; i++)
        lg__chan_release(ch, first + i);
    return k;
}
