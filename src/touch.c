/* Who has touched a wait object: for each condition variable and futex
 * word (by address), the one thread that has signalled or waited on it, or
 * "many". A loop thread about to wait on an object that only it has ever
 * touched, and that it has signalled, waits for a signal only it could
 * send: a certain self-deadlock, reported as such (report.c).
 *
 * The table is fixed (TOUCH_SLOTS entries, linear probing over a short
 * window, never emptied): an object that finds no room is simply not
 * tracked, which can only keep the claim from being made. A touch by the
 * thread already recorded is a read and nothing else; once the record says
 * this thread signalled it (and, if another thread was first, "many"), no
 * touch by this thread can change it, and the thread keeps the object in
 * its two-entry cache (lg-internal.h) until an epoch bump. */
#include "lg-internal.h"

#define TOUCH_SLOTS 65536
#define TOUCH_PROBE 8

#define T_MANY 1u
#define T_SIGNALLED 2u

struct touch {
    const void *obj;          /* NULL: free */
    uint32_t who;             /* the thread's lg__tls.id */
    uint32_t flags;
};

static struct touch *table;
static pthread_once_t touch_once = PTHREAD_ONCE_INIT;
static uint32_t next_id;      /* atomic: thread ids, from 1 */
uint32_t lg__touch_epoch;     /* atomic: bumped by every forget */

static void touch_init(void)
{
    table = lg__arena_alloc(TOUCH_SLOTS * sizeof *table);
}

static uint32_t my_id(void)
{
    uint32_t id = lg__tls.id;
    if (LG__UNLIKELY(!id)) {
        id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
        lg__tls.id = id;
    }
    return id;
}

static struct touch *find(const void *obj, int add)
{
    if (LG__UNLIKELY(!__atomic_load_n(&table, __ATOMIC_ACQUIRE))) {
        if (!add)
            return NULL;
        uint8_t was = lg__tls.in_shim;
        lg__tls.in_shim = 1;
        pthread_once(&touch_once, touch_init);
        lg__tls.in_shim = was;
        if (!table)
            return NULL;
    }
    uint64_t h = (uintptr_t)obj * 0x9e3779b97f4a7c15ull;
    unsigned b = (unsigned)(h >> 40) % TOUCH_SLOTS;
    for (int k = 0; k < TOUCH_PROBE; k++, b = (b + 1) % TOUCH_SLOTS) {
        const void *o = __atomic_load_n(&table[b].obj, __ATOMIC_ACQUIRE);
        if (o == obj)
            return &table[b];
        if (o == NULL) {
            if (!add)
                return NULL;
            if (__atomic_compare_exchange_n(&table[b].obj, &o, obj, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE) ||
                o == obj)
                return &table[b];
        }
    }
    return NULL;
}

void lg__touch_slow(const void *obj, int signal)
{
    uint32_t epoch = __atomic_load_n(&lg__touch_epoch, __ATOMIC_ACQUIRE);
    struct touch *t = find(obj, 1);
    if (!t)
        return;
    uint32_t me = my_id();
    uint32_t who = __atomic_load_n(&t->who, __ATOMIC_RELAXED);
    uint32_t want = signal ? T_SIGNALLED : 0;
    uint32_t f = __atomic_load_n(&t->flags, __ATOMIC_RELAXED);
    if (who == 0 && __atomic_compare_exchange_n(&t->who, &who, me, 0,
                                                __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED))
        who = me;
    if (who != me)
        want |= T_MANY;
    if ((f & want) != want)
        f = __atomic_or_fetch(&t->flags, want, __ATOMIC_RELAXED);
    /* Final for this thread: it signalled, and it is the one recorded or
     * the record already says many. A forget since `epoch` voids it. */
    if ((f & T_SIGNALLED) && (who == me || (f & T_MANY))) {
        /* The older entry stays only if no forget came since it was set:
         * both share one epoch. */
        lg__tls.touch_done[1] = lg__tls.touch_epoch == epoch
                                    ? lg__tls.touch_done[0] : NULL;
        lg__tls.touch_done[0] = obj;
        lg__tls.touch_epoch = epoch;
    }
}

int lg__touched_only_by_me(const void *obj)
{
    struct touch *t = find(obj, 0);
    if (!t)
        return 0;
    uint32_t f = __atomic_load_n(&t->flags, __ATOMIC_RELAXED);
    return __atomic_load_n(&t->who, __ATOMIC_RELAXED) == lg__tls.id &&
           lg__tls.id != 0 && !(f & T_MANY) && (f & T_SIGNALLED);
}

void lg__touch_forget(const void *obj)
{
    struct touch *t = find(obj, 0);
    if (!t)
        return;
    __atomic_store_n(&t->who, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->flags, 0, __ATOMIC_RELAXED);
    /* After the reset: a thread that reads the new epoch reads the reset
     * record too, and cannot cache what was. */
    __atomic_add_fetch(&lg__touch_epoch, 1, __ATOMIC_RELEASE);
}
