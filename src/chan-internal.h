/* Private to chan.c and chan-uv.c: the channel's layout and the calls the
 * loop side makes into the ring.
 *
 * The ring is Dmitry Vyukov's bounded MPMC queue: each cell carries a
 * sequence number that says whose turn it is (a producer's at `pos`, or the
 * consumer's at `pos + 1`), so producers and consumers claim positions with
 * one CAS each and never take a lock. It needs at least two cells and a
 * power of two for the index mask; a capacity that is neither is enforced
 * by also checking tail - head against it.
 *
 * Closing sets CLOSED_BIT in `tail`: no push can claim a position after
 * that, so once head reaches the frozen tail every accepted message has
 * been taken. Sleepers (threads blocked on full or empty, loops waiting for
 * a message or for room) announce themselves before their last check, and
 * whoever changes the ring looks for them after the change: either the
 * sleeper's check sees the change, or the changer sees the sleeper.
 *
 * A pop, and a sleeper, need a full fence for that. A push does not: its
 * seq_cst CAS of `tail` (a locked instruction on x86, a full barrier there
 * already) is the change a receiver's last check looks at, so a sleeping
 * receiver checks `tail`, not the cell. That leaves one window: a position
 * claimed and not yet published, whose producer looked for sleepers before
 * the receiver announced itself. The receiver sees it (tail ahead of head,
 * the cell not ready), spins briefly for it, and then sleeps with a short
 * timeout instead of for good (lg__chan_in_flight). The fence it saves was
 * most of a contended push's cost (docs/performance.md). */
#ifndef LG_CHAN_INTERNAL_H
#define LG_CHAN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "lg-internal.h"

#define LG__CHAN_CLOSED_BIT ((size_t)1 << (sizeof(size_t) * 8 - 1))
#define LG__CHAN_MAX_LOOPS 8  /* loop threads remembered for -EDEADLK */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct lg__chan_rx;           /* chan-uv.c: the receiving loop */
struct lg__chan_tx;           /* chan-uv.c: a sending loop */

struct lg_chan {
    /* Set by lg_chan_new, read by every push and pop: a line of its own,
     * never invalidated by the words below that change all the time. */
    _Alignas(64) unsigned char *cells;
    size_t cap;                          /* logical capacity */
    size_t ncells;                       /* power of two, >= 2 */
    size_t elem;                         /* message size */
    size_t stride;                       /* bytes per cell */
    size_t data_off;                     /* the message's place in it */
    _Alignas(64) _Atomic size_t tail;    /* next position to fill; holds
                                            CLOSED_BIT once closed */
    _Alignas(64) _Atomic size_t head;    /* next position to take */
    _Atomic size_t stash_n;              /* messages in the stash: taken
                                            off the ring by a loop that
                                            stopped receiving mid-batch;
                                            older than the ring's, so
                                            every pop takes them first */
    _Alignas(64) _Atomic uint32_t recv_seq;   /* futex: bumped when a
                                                 message or close comes */
    _Atomic uint32_t recv_waiters;       /* threads parked on recv_seq */
    _Atomic uint32_t send_seq;           /* futex: bumped when room or
                                            close comes */
    _Atomic uint32_t send_waiters;       /* threads parked on send_seq */
    _Atomic int rx_armed;                /* the receiving loop is asleep:
                                            the next push wakes it */
    _Atomic int tx_waiting;              /* sending loops parked messages:
                                            pops wake them */
    /* Rarely written from here on. */
    _Alignas(64) _Atomic int wake_fd;    /* eventfd the receiving loop
                                            polls; -1 until the first
                                            receiver, closed when freed */
    _Atomic int refs;                    /* user + each loop handle */
    _Atomic int freed;                   /* lg_chan_free was called */
    pthread_mutex_t uv_lock;             /* guards rx, tx and loop_threads:
                                            never held on the fast path */
    pthread_mutex_t stash_lock;          /* guards the stash */
    unsigned char *stash;                /* stash_cap messages */
    size_t stash_off, stash_cap;
    struct lg__chan_rx *rx;
    _Atomic int fd_mode;                 /* lg_chan_fd was called: the
                                            fd's reader is the receiver
                                            (chan-fd.c) */
    struct lg__chan_tx *tx;
    _Atomic uintptr_t loop_threads[LG__CHAN_MAX_LOOPS];  /* pthread_t of
                                            the threads running the
                                            attached loop sides */
    _Atomic int n_loop_threads;          /* entries in loop_threads */
    _Atomic int n_loop_sides;            /* attached sides: more than fit
                                            in the table means a walk of
                                            rx and tx under uv_lock */
    _Atomic unsigned loop_table_seq;     /* seqlock over the three fields
                                            above: odd while rewritten */
};

/* A push alone, without after_push's look for sleepers: exported for
 * test-chan-inflight, which plays a producer that looked too early. */
LG__INTERNAL int lg__chan_push(struct lg_chan *ch, const void *msg);
int lg__chan_pop(struct lg_chan *ch, void *msg);
/* Takes up to max consecutive ready messages off the ring with one CAS:
 * returns how many, the first at *first. Each must then be copied out with
 * lg__chan_take, or handed to lg__chan_stash; until then producers wait for
 * its cell. One CAS per batch instead of per message is most of a loop
 * receiver's speed. */
size_t lg__chan_claim(struct lg_chan *ch, size_t max, size_t *first);
void lg__chan_take(struct lg_chan *ch, size_t pos, void *msg);
/* The message of a claimed position, in place; lg__chan_release frees its
 * cell (lg__chan_take is the two with a copy between). */
void *lg__chan_cell(struct lg_chan *ch, size_t pos);
void lg__chan_release(struct lg_chan *ch, size_t pos);
/* Moves n claimed messages from pos on into the stash (a receiving loop
 * stopped in the middle of a batch). Returns 0 or -ENOMEM. */
int lg__chan_stash(struct lg_chan *ch, size_t pos, size_t n);
/* After n pushes (program order after their CAS, which is the fence):
 * wakes up to n parked receivers and a sleeping receiving loop. */
void lg__chan_after_push(struct lg_chan *ch, size_t n);
/* After n pops: wakes up to n parked senders and waiting sending loops. */
void lg__chan_after_pop(struct lg_chan *ch, size_t n);
/* True when the channel is closed and every accepted message was taken. */
int lg__chan_drained(struct lg_chan *ch);
/* True when a producer claimed a position that no receiver has taken:
 * a seq_cst look at `tail`, for a receiver that announced itself and found
 * nothing ready (the message may be in flight; see the top). */
int lg__chan_in_flight(struct lg_chan *ch);
/* True when a message is ready to be taken. */
int lg__chan_ready(struct lg_chan *ch);
/* True when a push would find room now (or fail: closed). */
int lg__chan_push_would_fit(struct lg_chan *ch);
/* chan-batch.c: hands the k claimed messages from `first` on to cb, copied
 * out of their cells into `scratch` (room for k), as one array; the cells
 * are freed after the call returned. When *stop becomes set in the call,
 * nothing is left: the call had them all. Returns k. */
size_t lg__chan_deliver(struct lg_chan *ch, size_t first, size_t k,
                        lg_chan_batch_cb cb, void *data,
                        unsigned char *scratch, const int *stop);
/* The most messages one claim may take for lg__chan_deliver with a
 * scratch buffer of `room` messages. */
size_t lg__chan_claim_max(struct lg_chan *ch, size_t want, size_t room);
/* A full memory barrier (StoreLoad included). */
void lg__chan_fence(void);
/* Rebuilds loop_threads from the attached loop sides; under uv_lock. A
 * thread runs the channel's callbacks only while a side is attached. */
void lg__chan_set_loop_threads(struct lg_chan *ch, const pthread_t *t,
                               int n, int sides);
/* True when the calling thread runs one of the attached loop sides, by a
 * walk under uv_lock (chan-uv.c); for when the table overflowed. */
int lg__chan_uv_is_loop_thread(struct lg_chan *ch);
/* Drops a reference; the last one frees the channel. */
void lg__chan_unref(struct lg_chan *ch);

/* chan-uv.c: wake a sleeping receiving loop / waiting sending loops, and
 * tell every loop side the channel closed. Called without uv_lock. */
void lg__chan_uv_wake_rx(struct lg_chan *ch);
void lg__chan_uv_wake_tx(struct lg_chan *ch);
void lg__chan_uv_closed(struct lg_chan *ch);
/* The channel's eventfd: made on first use, under uv_lock (returns it or
 * a negative errno), and signalled, from anywhere (errno preserved). */
int lg__chan_wake_fd_get(struct lg_chan *ch);
void lg__chan_wake_fd_write(struct lg_chan *ch);

#endif
