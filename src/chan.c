/* lg_chan: the ring, and the calls of plain threads (blocking, timed, try).
 * The layout and the wake-up protocol are described in chan-internal.h;
 * the libuv side is chan-uv.c. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan-internal.h"

#define RECV_SPIN_NS 20000    /* a receiver polls this long before parking:
                                 a futex wake-up costs ~10 us */
#define SEND_SPIN_NS 5000     /* a sender facing a full channel tries for
                                 less, yielding the CPU (spin_op): its
                                 receiver needs the CPU to make room */
#define IN_FLIGHT_SPIN_NS 2000   /* a message claimed, not yet published:
                                    its producer is a few stores away */
#define IN_FLIGHT_PARK_MS 1    /* ... or was preempted there: sleep, but
                                 look again (chan-internal.h) */

struct cell {
    _Atomic size_t seq;       /* the message follows, at data_off */
};

static struct cell *cell_at(struct lg_chan *ch, size_t pos)
{
    return (struct cell *)(ch->cells + (pos & (ch->ncells - 1)) * ch->stride);
}

void lg__chan_fence(void)
{
#if defined(__x86_64__)
    /* A locked RMW of a stack word: a full barrier, cheaper than mfence,
     * and one ThreadSanitizer accepts (it rejects atomic_thread_fence). */
    int x = 0;
    __atomic_fetch_or(&x, 0, __ATOMIC_SEQ_CST);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* With a capacity below the ring's size, position pos may be filled only
 * once the message `cap` places before it was released by its receiver
 * (taken and its cell freed, not merely claimed in a loop's batch): that
 * keeps at most `cap` messages between send and receipt. */
static int released(struct lg_chan *ch, size_t pos)
{
    if (pos < ch->cap)
        return 1;
    size_t old = pos - ch->cap;
    size_t seq = atomic_load_explicit(&cell_at(ch, old)->seq,
                                      memory_order_acquire);
    return (intptr_t)(seq - (old + ch->ncells)) >= 0;
}

int lg__chan_push(struct lg_chan *ch, const void *msg)
{
    size_t pos = atomic_load_explicit(&ch->tail, memory_order_relaxed);
    struct cell *c;
    for (;;) {
        if (pos & LG__CHAN_CLOSED_BIT)
            return -EPIPE;
        c = cell_at(ch, pos);
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (ch->cap != ch->ncells && !released(ch, pos))
                return -EAGAIN;
            /* seq_cst: this is the fence after_push relies on. */
            if (atomic_compare_exchange_weak_explicit(
                    &ch->tail, &pos, pos + 1, memory_order_seq_cst,
                    memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return -EAGAIN;
        } else {
            pos = atomic_load_explicit(&ch->tail, memory_order_relaxed);
        }
    }
    memcpy((unsigned char *)c + ch->data_off, msg, ch->elem);
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return 0;
}

static int stash_pop(struct lg_chan *ch, void *msg)
{
    int r = -EAGAIN;
    pthread_mutex_lock(&ch->stash_lock);
    size_t n = atomic_load_explicit(&ch->stash_n, memory_order_relaxed);
    if (n) {
        memcpy(msg, ch->stash + ch->stash_off * ch->elem, ch->elem);
        ch->stash_off++;
        atomic_store_explicit(&ch->stash_n, n - 1, memory_order_release);
        r = 0;
    }
    pthread_mutex_unlock(&ch->stash_lock);
    return r;
}

int lg__chan_stash(struct lg_chan *ch, size_t pos, size_t n)
{
    pthread_mutex_lock(&ch->stash_lock);
    size_t have = atomic_load_explicit(&ch->stash_n, memory_order_relaxed);
    /* Compact what is left, then append: the stash only ever grows by a
     * receiver stopping, so this is rare and small. */
    unsigned char *buf = malloc((have + n) * ch->elem);
    if (!buf) {
        pthread_mutex_unlock(&ch->stash_lock);
        return -ENOMEM;
    }
    if (have)
        memcpy(buf, ch->stash + ch->stash_off * ch->elem, have * ch->elem);
    for (size_t i = 0; i < n; i++)
        lg__chan_take(ch, pos + i, buf + (have + i) * ch->elem);
    free(ch->stash);
    ch->stash = buf;
    ch->stash_off = 0;
    ch->stash_cap = have + n;
    atomic_store_explicit(&ch->stash_n, have + n, memory_order_release);
    pthread_mutex_unlock(&ch->stash_lock);
    /* They are anyone's to take again. No CAS of tail made them so: the
     * fence after_push would have had from one comes here. */
    lg__chan_fence();
    lg__chan_after_push(ch, n);
    return 0;
}

size_t lg__chan_claim(struct lg_chan *ch, size_t max, size_t *first)
{
    size_t pos = atomic_load_explicit(&ch->head, memory_order_relaxed);
    for (;;) {
        size_t seq = atomic_load_explicit(&cell_at(ch, pos)->seq,
                                          memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif < 0)
            return 0;                 /* empty, or the next one in flight */
        if (dif > 0) {                /* another receiver moved head on */
            pos = atomic_load_explicit(&ch->head, memory_order_relaxed);
            continue;
        }
        size_t n = 1;
        while (n < max &&
               atomic_load_explicit(&cell_at(ch, pos + n)->seq,
                                    memory_order_acquire) == pos + n + 1)
            n++;
        if (atomic_compare_exchange_weak_explicit(
                &ch->head, &pos, pos + n, memory_order_relaxed,
                memory_order_relaxed)) {
            *first = pos;
            return n;
        }
    }
}

void *lg__chan_cell(struct lg_chan *ch, size_t pos)
{
    return (unsigned char *)cell_at(ch, pos) + ch->data_off;
}

void lg__chan_release(struct lg_chan *ch, size_t pos)
{
    atomic_store_explicit(&cell_at(ch, pos)->seq, pos + ch->ncells,
                          memory_order_release);
}

void lg__chan_take(struct lg_chan *ch, size_t pos, void *msg)
{
    memcpy(msg, lg__chan_cell(ch, pos), ch->elem);
    lg__chan_release(ch, pos);
}

int lg__chan_pop(struct lg_chan *ch, void *msg)
{
    if (LG__UNLIKELY(atomic_load_explicit(&ch->stash_n,
                                          memory_order_acquire)) &&
        stash_pop(ch, msg) == 0)
        return 0;
    size_t pos;
    if (lg__chan_claim(ch, 1, &pos) == 0)
        return lg__chan_drained(ch) ? -EPIPE : -EAGAIN;
    lg__chan_take(ch, pos, msg);
    return 0;
}

int lg__chan_drained(struct lg_chan *ch)
{
    size_t tail = atomic_load_explicit(&ch->tail, memory_order_acquire);
    if (!(tail & LG__CHAN_CLOSED_BIT) ||
        atomic_load_explicit(&ch->stash_n, memory_order_acquire))
        return 0;
    return atomic_load_explicit(&ch->head, memory_order_acquire) ==
           (tail & ~LG__CHAN_CLOSED_BIT);
}

int lg__chan_in_flight(struct lg_chan *ch)
{
    size_t tail = atomic_load_explicit(&ch->tail, memory_order_seq_cst);
    size_t head = atomic_load_explicit(&ch->head, memory_order_seq_cst);
    return (tail & ~LG__CHAN_CLOSED_BIT) != head;
}

int lg__chan_ready(struct lg_chan *ch)
{
    /* seq_cst: a receiving loop's last look after arming, against
     * lg__chan_stash's fence and look at rx_armed. */
    if (atomic_load_explicit(&ch->stash_n, memory_order_seq_cst))
        return 1;
    size_t pos = atomic_load_explicit(&ch->head, memory_order_relaxed);
    struct cell *c = cell_at(ch, pos);
    return atomic_load_explicit(&c->seq, memory_order_acquire) == pos + 1;
}

int lg__chan_push_would_fit(struct lg_chan *ch)
{
    size_t pos = atomic_load_explicit(&ch->tail, memory_order_acquire);
    if (pos & LG__CHAN_CLOSED_BIT)
        return 1;
    if (ch->cap != ch->ncells && !released(ch, pos))
        return 0;
    struct cell *c = cell_at(ch, pos);
    return atomic_load_explicit(&c->seq, memory_order_acquire) == pos;
}

/* errno is the caller's: a wait that times out, is interrupted or finds
 * the word moved is no error of the channel call. */
static long futex(_Atomic uint32_t *word, int op, uint32_t val,
                  const struct timespec *abs)
{
    int saved = errno;
    long r = syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG,
                     val, abs, NULL, FUTEX_BITSET_MATCH_ANY);
    errno = saved;
    return r;
}

static void wake(_Atomic uint32_t *seq, int n)
{
    atomic_fetch_add_explicit(seq, 1, memory_order_release);
    futex(seq, FUTEX_WAKE, (uint32_t)n, NULL);
}

static int clamp_int(size_t n)
{
    return n > INT_MAX ? INT_MAX : (int)n;
}

void lg__chan_after_push(struct lg_chan *ch, size_t n)
{
    /* No fence: these seq_cst loads follow the push's seq_cst CAS
     * (chan-internal.h); on x86 they are plain loads. */
    if (atomic_load_explicit(&ch->recv_waiters, memory_order_seq_cst))
        /* On a closed channel this push may have been the last one in
         * flight: every parked receiver must wake, to take it or to see
         * -EPIPE. */
        wake(&ch->recv_seq,
             atomic_load(&ch->tail) & LG__CHAN_CLOSED_BIT ? INT_MAX
                                                          : clamp_int(n));
    if (atomic_load_explicit(&ch->rx_armed, memory_order_seq_cst))
        lg__chan_uv_wake_rx(ch);
}

void lg__chan_after_pop(struct lg_chan *ch, size_t n)
{
    lg__chan_fence();
    /* A batch freed n cells: wake as many parked senders (a single wake
     * would leave the others asleep beside free room). */
    if (atomic_load_explicit(&ch->send_waiters, memory_order_relaxed))
        wake(&ch->send_seq, clamp_int(n));
    if (atomic_load_explicit(&ch->tx_waiting, memory_order_relaxed))
        lg__chan_uv_wake_tx(ch);
    /* The last message of a closed channel is gone: the other parked
     * receivers will only ever get -EPIPE now. */
    if (atomic_load_explicit(&ch->recv_waiters, memory_order_relaxed) &&
        lg__chan_drained(ch))
        wake(&ch->recv_seq, INT_MAX);
}

int lg_chan_new(lg_chan_t **out, size_t capacity, size_t elem_size)
{
    if (!out || capacity == 0 || elem_size == 0 ||
        capacity > ((size_t)1 << 40) || elem_size > ((size_t)1 << 30))
        return -EINVAL;
    size_t n = 2;
    while (n < capacity)
        n <<= 1;
    /* Cells of 16, 32 or 64 bytes never straddle a cache line; larger
     * ones start on one. A cell shared by two lines is written by a
     * producer while the loop reads its neighbour (64-byte messages ran
     * at 3/4 of the speed with 80-byte cells). A loop's callback reads
     * the message in place: it starts as aligned as malloc would have it
     * (16) once it is big enough to need that. */
    size_t data_off = elem_size < 16 ? sizeof(struct cell) : 16;
    size_t stride = 16;
    while (stride < data_off + elem_size && stride < 64)
        stride <<= 1;
    if (stride < data_off + elem_size)
        stride = (data_off + elem_size + 63) & ~(size_t)63;
    size_t bytes;
    if (__builtin_mul_overflow(n, stride, &bytes))
        return -ENOMEM;
    struct lg_chan *ch;
    if (posix_memalign((void **)&ch, 64, sizeof *ch) != 0)
        return -ENOMEM;
    memset(ch, 0, sizeof *ch);
    if (posix_memalign((void **)&ch->cells, 64, bytes) != 0) {
        free(ch);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        atomic_init(&((struct cell *)(ch->cells + i * stride))->seq, i);
    ch->cap = capacity;
    ch->ncells = n;
    ch->elem = elem_size;
    ch->stride = stride;
    ch->data_off = data_off;
    atomic_init(&ch->refs, 1);
    atomic_init(&ch->wake_fd, -1);
    pthread_mutex_init(&ch->uv_lock, NULL);
    pthread_mutex_init(&ch->stash_lock, NULL);
    *out = ch;
    return 0;
}

void lg_chan_close(lg_chan_t *ch)
{
    if (!ch)
        return;
    size_t was = atomic_fetch_or_explicit(&ch->tail, LG__CHAN_CLOSED_BIT,
                                          memory_order_acq_rel);
    if (was & LG__CHAN_CLOSED_BIT)
        return;
    wake(&ch->recv_seq, INT_MAX);
    wake(&ch->send_seq, INT_MAX);
    lg__chan_uv_closed(ch);
}

void lg__chan_unref(struct lg_chan *ch)
{
    if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&ch->uv_lock);
    pthread_mutex_destroy(&ch->stash_lock);
    if (atomic_load(&ch->wake_fd) >= 0)
        close(atomic_load(&ch->wake_fd));
    free(ch->stash);
    free(ch->cells);
    free(ch);
}

void lg_chan_free(lg_chan_t *ch)
{
    if (!ch)
        return;
    lg_chan_close(ch);
    atomic_store(&ch->freed, 1);
    lg__chan_unref(ch);
}

int lg_chan_try_send(lg_chan_t *ch, const void *msg)
{
    int r = lg__chan_push(ch, msg);
    if (r == 0)
        lg__chan_after_push(ch, 1);
    return r;
}

int lg_chan_try_recv(lg_chan_t *ch, void *msg)
{
    int r = lg__chan_pop(ch, msg);
    if (r == 0)
        lg__chan_after_pop(ch, 1);
    return r;
}

void lg__chan_set_loop_threads(struct lg_chan *ch, const pthread_t *t,
                               int n, int sides)
{
    if (n > LG__CHAN_MAX_LOOPS)
        n = LG__CHAN_MAX_LOOPS;
    atomic_fetch_add(&ch->loop_table_seq, 1);    /* odd: being rewritten */
    for (int i = 0; i < n; i++)
        atomic_store(&ch->loop_threads[i], (uintptr_t)t[i]);
    atomic_store(&ch->n_loop_threads, n);
    atomic_store(&ch->n_loop_sides, sides);
    atomic_fetch_add(&ch->loop_table_seq, 1);    /* even: consistent */
}

/* Reads one consistent version of the table (a seqlock: the writers, under
 * uv_lock, are rare attaches and detaches). 1: self is in it; 0: not;
 * -1: more sides are attached than the table holds. */
static int loop_table_has(struct lg_chan *ch, pthread_t self)
{
    for (;;) {
        unsigned s1 = atomic_load(&ch->loop_table_seq);
        if (s1 & 1) {
            cpu_relax();
            continue;
        }
        int n = atomic_load(&ch->n_loop_threads);
        int sides = atomic_load(&ch->n_loop_sides);
        int found = 0;
        for (int i = 0; i < n && !found; i++)
            found = pthread_equal(
                (pthread_t)atomic_load(&ch->loop_threads[i]), self);
        if (atomic_load(&ch->loop_table_seq) != s1)
            continue;
        return found ? 1 : sides > n ? -1 : 0;
    }
}

/* Who made a blocking call: for its report, if it is refused. */
struct who {
    const char *call;
    void *fn;
    void *caller;
};

static void report_refused(struct lg_chan *ch, const struct who *who)
{
    if (lg__detector_active() && !lg__tls.in_shim) {
        struct lg__wait w = {.call = who->call, .timeout_ns = -1,
                             .caller = who->caller, .fn = who->fn,
                             .decided = 1};
        lg__object_ptr(&w, "chan", ch);
        lg__wait_begin(&w);
        lg__wait_end(&w);
    }
}

/* A blocking call on a loop thread would freeze the loop, and with it
 * whoever was to make room or send: refuse it, and report it when the
 * detector is loaded. */
static int on_loop(struct lg_chan *ch, const struct who *who)
{
    /* lg_thread_is_loop, without its call through the PLT on the path of
     * every send (it looks at the stack only with a runner linked in). */
    int loop = lg__tls.depth != 0 ||
               (LG__UNLIKELY(__atomic_load_n(&lg__stack_loops,
                                             __ATOMIC_ACQUIRE)) &&
                lg_thread_is_loop());
    if (!loop) {
        int t = loop_table_has(ch, pthread_self());
        loop = t > 0 || (t < 0 && lg__chan_uv_is_loop_thread(ch));
    }
    if (!loop)
        return 0;
    report_refused(ch, who);
    return 1;
}

static void deadline_after(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + (ms % 1000) * 1000000;
    ts->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int past(const struct timespec *abs)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return !before(&now, abs);
}

/* Spins up to spin_ns retrying op while it says -EAGAIN. A sender facing
 * a full channel yields the CPU between tries instead of pausing: with more
 * threads than CPUs, the receiver it waits for may be runnable on this very
 * CPU (4 producers on 2 vCPUs: 1.3x the throughput, docs/performance.md). */
static int spin_op(struct lg_chan *ch, int (*op)(struct lg_chan *, void *),
                   void *msg, uint64_t spin_ns, int yield)
{
    int r = -EAGAIN;
    uint64_t spin_end = lg__now_ns() + spin_ns;
    for (unsigned i = 1; r == -EAGAIN; i++) {
        if ((yield || (i & 63) == 0) && lg__now_ns() > spin_end)
            break;
        if (yield)
            sched_yield();
        else
            cpu_relax();
        r = op(ch, msg);
    }
    return r;
}

/* The earlier of abs (NULL: none) and IN_FLIGHT_PARK_MS from now. */
static const struct timespec *in_flight_deadline(const struct timespec *abs,
                                                 struct timespec *soon)
{
    deadline_after(soon, IN_FLIGHT_PARK_MS);
    return abs && before(abs, soon) ? abs : soon;
}

/* The one waiting loop behind every blocking and timed call: poll for
 * spin_ns, then park on the futex word `seq`, announced in `waiters`.
 * `op` is the non-blocking attempt (push or pop); a receiver (recv) that
 * finds a message in flight after announcing itself does not park for
 * good (chan-internal.h). abs NULL: no deadline. */
static int wait_for(struct lg_chan *ch, int (*op)(struct lg_chan *, void *),
                    void *msg, _Atomic uint32_t *seq,
                    _Atomic uint32_t *waiters, const struct timespec *abs,
                    uint64_t spin_ns, int recv, int *parked,
                    const struct who *who)
{
    int r = op(ch, msg);
    *parked = 0;
    if (r != -EAGAIN)
        return r;
    r = spin_op(ch, op, msg, spin_ns, !recv);
    /* About to park: inside uv_run (a libuv callback) that would freeze
     * the loop, though no loop was known to be this thread's (no preload,
     * a loop this channel is not attached to). */
    if (r == -EAGAIN && !(abs && past(abs)) && lg__in_uv_run()) {
        report_refused(ch, who);
        return -EDEADLK;
    }
    while (r == -EAGAIN) {
        uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
        atomic_fetch_add_explicit(waiters, 1, memory_order_seq_cst);
        lg__chan_fence();
        r = op(ch, msg);
        const struct timespec *until = abs;
        struct timespec soon;
        if (r == -EAGAIN && recv && lg__chan_in_flight(ch)) {
            r = spin_op(ch, op, msg, IN_FLIGHT_SPIN_NS, 0);
            until = in_flight_deadline(abs, &soon);
        }
        if (r == -EAGAIN) {
            if (abs && past(abs)) {
                atomic_fetch_sub(waiters, 1);
                return -ETIMEDOUT;
            }
            /* EINTR, EAGAIN (the word moved) and ETIMEDOUT before abs
             * just mean: look again. */
            futex(seq, FUTEX_WAIT_BITSET, s, until);
            *parked = 1;
        }
        atomic_fetch_sub_explicit(waiters, 1, memory_order_relaxed);
    }
    return r;
}

static int push_op(struct lg_chan *ch, void *msg)
{
    return lg__chan_push(ch, msg);
}

static int pop_op(struct lg_chan *ch, void *msg)
{
    return lg__chan_pop(ch, msg);
}

/* A wake-up can be spent by a thread that then finds nothing (a message
 * claimed but not yet published, a cell taken but not yet freed) and goes
 * back to sleep, while what woke it is still there. So a thread that parked
 * and then succeeded passes a wake-up on to its own side's sleepers when
 * there is more for them: nothing is ever left beside a sleeping thread.
 * Threads that never parked skip this: it would cost every busy send a
 * system call. */
static int send_wait(lg_chan_t *ch, const void *msg,
                     const struct timespec *abs, const struct who *who)
{
    int parked;
    int r = wait_for(ch, push_op, (void *)msg, &ch->send_seq,
                     &ch->send_waiters, abs, SEND_SPIN_NS, 0, &parked, who);
    if (r == 0) {
        lg__chan_after_push(ch, 1);
        if (parked &&
            atomic_load_explicit(&ch->send_waiters, memory_order_relaxed) &&
            lg__chan_push_would_fit(ch))
            wake(&ch->send_seq, 1);
    }
    return r;
}

/* lg_chan_recv_many_blocking's attempt: the stash's messages first (they
 * are the oldest), then one claim, copied out in runs and freed. */
struct many {
    unsigned char *buf;
    size_t max;
    size_t n;                 /* copied so far */
};

static int pop_many_op(struct lg_chan *ch, void *arg)
{
    struct many *m = arg;
    while (m->n < m->max &&
           LG__UNLIKELY(atomic_load_explicit(&ch->stash_n,
                                             memory_order_acquire)) &&
           stash_pop(ch, m->buf + m->n * ch->elem) == 0)
        m->n++;
    size_t first, k = 0;
    if (m->n < m->max)
        k = lg__chan_claim(ch, m->max - m->n, &first);
    for (size_t i = 0; i < k; i++)
        memcpy(m->buf + (m->n + i) * ch->elem, lg__chan_cell(ch, first + i),
               ch->elem);
    for (size_t i = 0; i < k; i++)
        lg__chan_release(ch, first + i);
    m->n += k;
    if (m->n)
        return 0;
    return lg__chan_drained(ch) ? -EPIPE : -EAGAIN;
}

static int recv_wait(lg_chan_t *ch, void *msg, const struct timespec *abs,
                     const struct who *who)
{
    int parked;
    int r = wait_for(ch, pop_op, msg, &ch->recv_seq, &ch->recv_waiters, abs,
                     RECV_SPIN_NS, 1, &parked, who);
    if (r == 0) {
        lg__chan_after_pop(ch, 1);
        if (parked &&
            atomic_load_explicit(&ch->recv_waiters, memory_order_relaxed) &&
            lg__chan_ready(ch))
            wake(&ch->recv_seq, 1);
    }
    return r;
}

#define WHO(name) \
    (&(const struct who){#name, (void *)name, __builtin_return_address(0)})

int lg_chan_send_blocking(lg_chan_t *ch, const void *msg)
{
    const struct who *who = WHO(lg_chan_send_blocking);
    if (on_loop(ch, who))
        return -EDEADLK;
    /* Room now: the push, without the waiting loop's indirect call. */
    if (LG__LIKELY(lg__chan_push(ch, msg) == 0)) {
        lg__chan_after_push(ch, 1);
        return 0;
    }
    return send_wait(ch, msg, NULL, who);
}

int lg_chan_recv_blocking(lg_chan_t *ch, void *msg)
{
    const struct who *who = WHO(lg_chan_recv_blocking);
    if (on_loop(ch, who))
        return -EDEADLK;
    return recv_wait(ch, msg, NULL, who);
}

int lg_chan_recv_many_blocking(lg_chan_t *ch, void *buf, size_t max)
{
    if (!ch || !buf || max == 0)
        return -EINVAL;
    const struct who *who = WHO(lg_chan_recv_many_blocking);
    if (on_loop(ch, who))
        return -EDEADLK;
    if (max > INT_MAX)
        max = INT_MAX;        /* the count is returned as an int */
    struct many m = {buf, max, 0};
    int parked;
    int r = wait_for(ch, pop_many_op, &m, &ch->recv_seq, &ch->recv_waiters,
                     NULL, RECV_SPIN_NS, 1, &parked, who);
    if (r != 0)
        return r;
    /* One wake-up of producers for the batch; and, as recv_wait, one for
     * the next parked receiver if more waits. */
    lg__chan_after_pop(ch, m.n);
    if (parked &&
        atomic_load_explicit(&ch->recv_waiters, memory_order_relaxed) &&
        lg__chan_ready(ch))
        wake(&ch->recv_seq, 1);
    return (int)m.n;
}

int lg_chan_send_timed(lg_chan_t *ch, const void *msg, uint64_t timeout_ms)
{
    const struct who *who = WHO(lg_chan_send_timed);
    if (on_loop(ch, who))
        return -EDEADLK;
    struct timespec abs;
    deadline_after(&abs, timeout_ms);
    return send_wait(ch, msg, &abs, who);
}

int lg_chan_recv_timed(lg_chan_t *ch, void *msg, uint64_t timeout_ms)
{
    const struct who *who = WHO(lg_chan_recv_timed);
    if (on_loop(ch, who))
        return -EDEADLK;
    struct timespec abs;
    deadline_after(&abs, timeout_ms);
    return recv_wait(ch, msg, &abs, who);
}
