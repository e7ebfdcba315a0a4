/* Slots for untimed waits: one per thread that ever waited with no timeout
 * in a wrapped call, in a table of fixed size allocated on first use.
 *
 * The deadlock check (deadlock.c) needs to know, from another thread,
 * whether every thread of the process waits on something that only the
 * process itself could signal. Each thread publishes that in its own slot;
 * the watchdog only reads. A slot is freed by a thread-exit key destructor;
 * past MAX_SLOTS live waiting threads the newcomers get none, and the
 * deadlock check then never concludes (it must see every thread). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lg-internal.h"

#define MAX_SLOTS 2048

static struct lg__park *slots;        /* MAX_SLOTS, from the arena */
static int slots_used;                /* atomic: slots[0..used) ever taken */
static pthread_key_t park_key;
static pthread_once_t park_once = PTHREAD_ONCE_INIT;

static void park_release(void *p)
{
    struct lg__park *s = p;
    /* A later destructor (another library's) may wait again: `dead` keeps
     * it from claiming a slot for a thread that is going away. */
    lg__tls.dead = 1;
    lg__tls.park = NULL;
    __atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->tid, 0, __ATOMIC_RELEASE);
}

static void park_init(void)
{
    slots = lg__arena_alloc(MAX_SLOTS * sizeof *slots);
    if (pthread_key_create(&park_key, park_release) != 0)
        slots = NULL;
}

static int slots_off;                 /* both users are off: never claim */

struct lg__park *lg__park_claim(void)
{
    struct lg__tls *t = &lg__tls;
    /* Not before the preload's constructor: a lock taken that early may be
     * a malloc's own, made while it initialises, and lg__init() would
     * dlopen (and allocate) inside it. */
    if (t->dead || t->in_shim || t->noslot ||
        __atomic_load_n(&slots_off, __ATOMIC_RELAXED) ||
        !lg__detector_active())
        return NULL;
    int saved = errno;
    t->in_shim = 1;
    struct lg__park *got = NULL;
    lg__init();
    if (lg__opt.stall_ms == 0 && !lg__opt.lock_order) {
        __atomic_store_n(&slots_off, 1, __ATOMIC_RELAXED);
        goto out;
    }
    if (lg__exiting)
        goto out;
    pthread_once(&park_once, park_init);
    if (!slots)
        goto out;
    pid_t self = gettid();
    for (int i = 0; i < MAX_SLOTS && !got; i++) {
        pid_t free_tid = 0;
        if (__atomic_load_n(&slots[i].tid, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&slots[i].tid, &free_tid, self, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            got = &slots[i];
    }
    if (got && lg__opt.lock_order)
        lg__stack_warm();
    if (got) {
        int used = (int)(got - slots) + 1;
        int was = __atomic_load_n(&slots_used, __ATOMIC_RELAXED);
        while (was < used &&
               !__atomic_compare_exchange_n(&slots_used, &was, used, 1,
                                            __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED))
            ;
    }
    if (!got) {
        t->noslot = 1;        /* a scan of the whole table per lock: no */
        goto out;
    }
    if (pthread_setspecific(park_key, got) != 0) {
        park_release(got);
        t->dead = 0;
        got = NULL;
        goto out;
    }
    /* A slot is reused after its thread exits: start clean. */
    got->nheld = got->nrec = 0;
    memset(got->cache, 0, sizeof got->cache);
    got->cache_epoch = __atomic_load_n(&lg__lock_epoch, __ATOMIC_RELAXED);
    t->park = got;
    /* Two threads that wait or lock can deadlock: the watchdog must be
     * there to see it (one thread alone on a loop starts it at entry). */
    if (__atomic_load_n(&slots_used, __ATOMIC_RELAXED) >= 2)
        lg__watch_start();
out:
    t->in_shim = 0;
    errno = saved;
    return got;
}

int lg__park_find(pid_t tid, struct lg__park *out)
{
    if (!__atomic_load_n(&slots, __ATOMIC_ACQUIRE) || tid == 0)
        return 0;
    int used = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);
    for (int i = 0; i < used; i++) {
        struct lg__park *s = &slots[i];
        if (__atomic_load_n(&s->tid, __ATOMIC_ACQUIRE) != tid)
            continue;
        out->seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        out->call = __atomic_load_n(&s->call, __ATOMIC_RELAXED);
        out->what = __atomic_load_n(&s->what, __ATOMIC_RELAXED);
        out->obj = __atomic_load_n(&s->obj, __ATOMIC_RELAXED);
        out->tid = tid;
        return 1;
    }
    return 0;
}

int lg__park_any_waiting(void)
{
    if (!__atomic_load_n(&slots, __ATOMIC_ACQUIRE))
        return 0;
    int used = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);
    for (int i = 0; i < used; i++)
        if (__atomic_load_n(&slots[i].tid, __ATOMIC_ACQUIRE) &&
            (__atomic_load_n(&slots[i].seq, __ATOMIC_ACQUIRE) & 1))
            return 1;
    return 0;
}

void lg__park_fork_child(void)
{
    if (!slots)
        return;
    struct lg__park *self = lg__tls.park;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (&slots[i] != self)
            slots[i].tid = 0;
    if (self) {
        self->tid = gettid();
        self->seq = 0;
    }
}
