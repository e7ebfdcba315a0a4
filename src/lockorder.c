/* The lock-order graph: one node per lock instance (its address), one edge
 * from -> to per pair ever taken in that order by some thread, with the
 * stack of that acquisition (or of an earlier edge's with the same
 * innermost frames: stack-memo.c). An edge that closes a cycle is
 * reported once per cycle as a lock_order_inversion, whether or not this
 * run deadlocked (like lockdep and TSan's deadlock detector).
 *
 * Everything lives in fixed pools from the arena, allocated on the first
 * edge: MAX_NODES locks and MAX_EDGES edges at most, reused when a lock
 * dies. Past either bound new edges are not recorded (and so can close no
 * cycle). The graph lock is taken only for an edge a thread has not seen
 * before (its cache in the slot misses), or when memory that may hold a
 * lock of the graph dies.
 *
 * A lock dies when it is destroyed or initialised again, or when its
 * memory is freed or unmapped (wrap-lock.c, wrap-heap.c): a later lock at
 * its address is another lock, and must not inherit its edges (a C++
 * std::mutex calls neither init nor destroy). Whether a dying range may
 * hold a lock of the graph is answered without the lock, for every free()
 * of the program: [lg__lock_lo, lg__lock_hi] bounds the graph's locks, and
 * lg__lock_bits has one bit per 16-byte granule, direct-mapped, set while
 * some node's lock starts in a granule mapped to it (bit_users counts
 * them). Nodes are hashed by granule, so the nodes of a granule are found
 * by one probe sequence. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "lg-internal.h"

#define MAX_NODES 8192
#define MAX_EDGES 16384
#define NODE_BUCKETS 16384     /* open hash of node addresses: 2 x nodes */
#define MAX_CYCLE 32           /* longer cycles are not reported */
#define MAX_REPORTED 1024      /* cycles remembered, for once-only */
#define KNOWN_SLOTS 65536      /* lock-free set of edges in the graph */
#define KNOWN_MAX (KNOWN_SLOTS / 4 * 3)

struct edge {
    int from, to;              /* node indices; from < 0: free */
    int next_out, next_in;     /* lists of the two nodes, -1 ends */
    int next_free;
    pid_t tid;
    char name[17];             /* the thread may be gone by the report */
    const char *call, *what;
    int nframes;
    void *frames[LG__EDGE_FRAMES];
};

struct node {
    const void *lock;          /* NULL: free */
    const char *what;
    int out, in;               /* edge lists */
    int next_free;
    uint32_t mark;             /* DFS generation */
    int via;                   /* DFS: the edge that reached it */
};

uint32_t lg__lock_epoch;
uint8_t lg__lock_order_on = 1;

static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t graph_once = PTHREAD_ONCE_INIT;
static struct node *nodes;
static struct edge *edges;
static int *buckets;           /* node index + 1; 0 empty, -1 deleted */
static int n_tomb;             /* deleted buckets: rebuilt past a quarter */
static int free_node = -1, free_edge = -1;
static int n_nodes;            /* nodes in use */
/* Read by every free() without the lock (lg-internal.h); written under
 * graph_lock. lo and hi only widen while the graph has nodes, and are
 * reset when it has none. */
uintptr_t lg__lock_lo = UINTPTR_MAX, lg__lock_hi;
uint64_t lg__lock_bits[LG__LOCK_BITS / 64];
static uint16_t *bit_users;    /* per bit: nodes whose lock maps to it */
static uint32_t dfs_gen;
static int *dfs_stack;
static uint64_t reported[MAX_REPORTED];
/* Every edge of the graph as a 64-bit hash, read without the lock: a
 * thread whose own cache misses an edge another thread added finds it
 * here. Written under graph_lock; wiped when a lock leaves the graph. Two
 * pairs with one hash would hide an edge: at 2^-64, accepted. */
static uint64_t *known;
static int n_known;

static void graph_init(void)
{
    nodes = lg__arena_alloc(MAX_NODES * sizeof *nodes);
    edges = lg__arena_alloc(MAX_EDGES * sizeof *edges);
    buckets = lg__arena_alloc(NODE_BUCKETS * sizeof *buckets);
    dfs_stack = lg__arena_alloc(MAX_NODES * sizeof *dfs_stack);
    uint64_t *k = lg__arena_alloc(KNOWN_SLOTS * sizeof *known);
    bit_users = lg__arena_alloc(LG__LOCK_BITS * sizeof *bit_users);
    if (!nodes || !edges || !buckets || !dfs_stack || !k || !bit_users) {
        nodes = NULL;
        return;
    }
    for (int i = MAX_NODES - 1; i >= 0; i--) {
        nodes[i].next_free = free_node;
        free_node = i;
    }
    for (int i = MAX_EDGES - 1; i >= 0; i--) {
        edges[i].from = -1;
        edges[i].next_free = free_edge;
        free_edge = i;
    }
    /* Last: lg__lock_edge() reads it before pthread_once. */
    __atomic_store_n(&known, k, __ATOMIC_RELEASE);
}

/* The home bucket of every lock in granule g. */
static unsigned bucket_of_granule(uintptr_t g)
{
    uint64_t h = g * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 40) % NODE_BUCKETS;
}

static unsigned bucket_of(const void *l)
{
    return bucket_of_granule((uintptr_t)l >> LG__LOCK_GRAIN);
}

static unsigned bit_of(const void *l)
{
    return (unsigned)((uintptr_t)l >> LG__LOCK_GRAIN) % LG__LOCK_BITS;
}

/* A node's lock is now l (add 1) or no longer (add -1). */
static void bits_note(const void *l, int add)
{
    unsigned i = bit_of(l);
    uint64_t m = 1ull << (i % 64);
    if (add > 0) {
        if (bit_users[i]++ == 0)
            __atomic_or_fetch(&lg__lock_bits[i / 64], m, __ATOMIC_RELAXED);
        uintptr_t a = (uintptr_t)l;
        if (a < lg__lock_lo)
            __atomic_store_n(&lg__lock_lo, a, __ATOMIC_RELAXED);
        if (a > lg__lock_hi)
            __atomic_store_n(&lg__lock_hi, a, __ATOMIC_RELAXED);
    } else {
        if (--bit_users[i] == 0)
            __atomic_and_fetch(&lg__lock_bits[i / 64], ~m, __ATOMIC_RELAXED);
        if (n_nodes == 0) {
            __atomic_store_n(&lg__lock_hi, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&lg__lock_lo, UINTPTR_MAX, __ATOMIC_RELAXED);
        }
    }
}

/* The node of lock l; created when `create`. -1 when absent or full. */
static int node_find(const void *l, int create, const char *what)
{
    unsigned b = bucket_of(l);
    int tomb = -1;
    for (unsigned k = 0; k < NODE_BUCKETS; k++, b = (b + 1) % NODE_BUCKETS) {
        int v = buckets[b];
        if (v == 0)
            break;
        if (v < 0) {
            if (tomb < 0)
                tomb = (int)b;
            continue;
        }
        if (nodes[v - 1].lock == l)
            return v - 1;
    }
    if (!create || free_node < 0)
        return -1;
    int i = free_node;
    free_node = nodes[i].next_free;
    nodes[i] = (struct node){.lock = l, .what = what, .out = -1, .in = -1};
    if (tomb >= 0)
        n_tomb--;
    buckets[tomb >= 0 ? (unsigned)tomb : b] = i + 1;
    n_nodes++;
    bits_note(l, 1);
    return i;
}

/* Re-inserts every live node into empty buckets: probes stay short however
 * many locks came and went. */
static void buckets_rebuild(void)
{
    memset(buckets, 0, NODE_BUCKETS * sizeof *buckets);
    n_tomb = 0;
    for (int i = 0; i < MAX_NODES; i++) {
        if (!nodes[i].lock)
            continue;
        unsigned b = bucket_of(nodes[i].lock);
        while (buckets[b] != 0)
            b = (b + 1) % NODE_BUCKETS;
        buckets[b] = i + 1;
    }
}

static int edge_find(int from, int to)
{
    for (int e = nodes[from].out; e >= 0; e = edges[e].next_out)
        if (edges[e].to == to)
            return e;
    return -1;
}

/* A path to -> ... -> from, found depth first: its edges into path[]
 * (from the end of the cycle back), returns their count; 0 if none, or
 * if it has more than max edges. */
static int path_find(int to, int from, int *path, int max)
{
    uint32_t gen = ++dfs_gen;
    int sp = 0;
    nodes[to].mark = gen;
    nodes[to].via = -1;
    dfs_stack[sp++] = to;
    while (sp > 0) {
        int n = dfs_stack[--sp];
        if (n == from) {
            int k = 0, e = nodes[n].via;
            for (; e >= 0 && k < max; e = nodes[edges[e].from].via)
                path[k++] = e;
            return e >= 0 ? 0 : k;    /* too long to list: not reported */
        }
        for (int e = nodes[n].out; e >= 0; e = edges[e].next_out) {
            int m = edges[e].to;
            if (nodes[m].mark == gen)
                continue;
            nodes[m].mark = gen;
            nodes[m].via = e;
            if (sp < MAX_NODES)
                dfs_stack[sp++] = m;
        }
    }
    return 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static int seen_cycle(const int *cyc, int n)
{
    /* Keyed by code path, like a site: each edge's acquisition stack,
     * summed so that the key does not depend on where the cycle was
     * closed. The same inversion made again, by fresh locks or by locks
     * destroyed and taken again, is reported once. An edge with no stack
     * falls back on its two locks. */
    uint64_t key = 0;
    for (int i = 0; i < n; i++) {
        const struct edge *E = &edges[cyc[i]];
        uint64_t h = mix(0, (uint64_t)E->nframes);
        for (int f = 0; f < E->nframes; f++)
            h = mix(h, (uintptr_t)E->frames[f]);
        if (E->nframes <= 0)
            h = mix(mix(h, (uintptr_t)nodes[E->from].lock),
                    (uintptr_t)nodes[E->to].lock);
        key += h;
    }
    key |= 1;
    unsigned b = (unsigned)(key >> 33) % MAX_REPORTED;
    for (unsigned k = 0; k < MAX_REPORTED; k++, b = (b + 1) % MAX_REPORTED) {
        if (reported[b] == key)
            return 1;
        if (reported[b] == 0) {
            reported[b] = key;
            return 0;
        }
    }
    return 0;                 /* table full: report, at worst again */
}

/* A cycle's edges, copied out of the graph for the report. */
struct cycle_copy {
    int n;
    struct {
        const void *from, *to;
        const char *what_from, *what_to, *call;
        pid_t tid;
        char name[17];
        int nframes;
        void *frames[LG__EDGE_FRAMES];
    } e[MAX_CYCLE];
};

/* Static, not on the stack of the thread that closed the cycle, which may
 * be small; report_lock guards it (taken with no other lock held). */
static struct lg__thread_report th[MAX_CYCLE];
static struct lg__sym stacks[MAX_CYCLE][LG__EDGE_FRAMES];

static void report(const struct cycle_copy *c)
{
    pthread_mutex_lock(&report_lock);
    for (int i = 0; i < c->n; i++) {
        struct lg__thread_report *t = &th[i];
        memset(t, 0, sizeof *t);
        t->tid = c->e[i].tid;
        memcpy(t->name, c->e[i].name, sizeof t->name);
        t->call = c->e[i].call;
        struct lg__wait tmp;
        lg__object_ptr(&tmp, c->e[i].what_to, c->e[i].to);
        memcpy(t->object, tmp.object, sizeof t->object);
        lg__object_ptr(&tmp, c->e[i].what_from, c->e[i].from);
        memcpy(t->held, tmp.object, sizeof t->held);
        for (int k = 0; k < c->e[i].nframes; k++)
            lg__symbolize((uintptr_t)c->e[i].frames[k], 1, &stacks[i][k]);
        t->stack = stacks[i];
        t->nstack = c->e[i].nframes;
    }
    struct lg__record r = {.type = LG__REC_LOCK_ORDER};
    lg__report_fill_thread(&r, lg__gettid());
    r.timeout_ns = -1;
    r.threads = th;
    r.nthreads = c->n;
    r.threads_total = c->n;
    size_t len = 0;
    int shown = !lg__report_suppressed(&r);
    char *cb = shown ? lg__report_write(&r, 1, &len) : NULL;
    pthread_mutex_unlock(&report_lock);
    if (cb)
        lg__cb_give(cb, len);
    if (shown && lg__opt.mode == LG__MODE_ABORT)
        abort();
}

static uint64_t edge_key(const void *from, const void *to)
{
    uint64_t h = (uintptr_t)from * 0x9e3779b97f4a7c15ull;
    h ^= (h >> 31) ^ (uintptr_t)to;
    h *= 0xbf58476d1ce4e5b9ull;
    return (h ^ (h >> 29)) | 1;
}

static unsigned known_home(uint64_t key)
{
    return (unsigned)(key >> 20) % KNOWN_SLOTS;
}

static int known_has(uint64_t key)
{
    unsigned b = known_home(key);
    for (unsigned k = 0; k < KNOWN_SLOTS; k++, b = (b + 1) % KNOWN_SLOTS) {
        uint64_t v = __atomic_load_n(&known[b], __ATOMIC_RELAXED);
        if (v == key)
            return 1;
        if (v == 0)
            return 0;
    }
    return 0;
}

/* At most KNOWN_MAX keys: past it the set is wiped and refills from the
 * slow path, so probes stay short. */
static void known_add(uint64_t key)
{
    if (n_known >= KNOWN_MAX) {
        for (int i = 0; i < KNOWN_SLOTS; i++)
            __atomic_store_n(&known[i], 0, __ATOMIC_RELAXED);
        n_known = 0;
    }
    unsigned b = known_home(key);
    while (known[b] != 0 && known[b] != key)
        b = (b + 1) % KNOWN_SLOTS;
    if (known[b] == 0) {
        __atomic_store_n(&known[b], key, __ATOMIC_RELAXED);
        n_known++;
    }
}

/* Linear probing's deletion by backward shift: no tombstones, so a lock
 * made and destroyed again and again does not lengthen the probes. A
 * reader racing with the shift may miss a key, and takes the slow path. */
static void known_remove(uint64_t key)
{
    unsigned i = known_home(key);
    while (known[i] != key) {
        if (known[i] == 0)
            return;
        i = (i + 1) % KNOWN_SLOTS;
    }
    for (unsigned j = i;;) {
        j = (j + 1) % KNOWN_SLOTS;
        if (known[j] == 0)
            break;
        unsigned h = known_home(known[j]);
        /* known[j] may move to i when its home is not in (i, j]. */
        if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
            __atomic_store_n(&known[i], known[j], __ATOMIC_RELAXED);
            i = j;
        }
    }
    __atomic_store_n(&known[i], 0, __ATOMIC_RELAXED);
    n_known--;
}

static void cache_clear(struct lg__park *p)
{
    memset(p->cache, 0, sizeof p->cache);
    p->cache_epoch = __atomic_load_n(&lg__lock_epoch, __ATOMIC_RELAXED);
}

static void cache_put(struct lg__park *p, const void *from, const void *to)
{
    uintptr_t h = ((uintptr_t)from >> 4) ^ ((uintptr_t)to >> 3);
    unsigned slot = (unsigned)(h ^ (h >> 7)) % LG__EDGE_CACHE;
    p->cache[slot].from = from;
    p->cache[slot].to = to;
}

void lg__lock_released_slow(struct lg__park *p, const void *l)
{
    uint32_t k = p->nrec;
    if (p->nheld == 0)
        return;
    for (uint32_t i = k; i-- > 0;)
        if (p->held[i] == l) {
            for (uint32_t j = i; j + 1 < k; j++) {
                p->held[j] = p->held[j + 1];
                p->held_what[j] = p->held_what[j + 1];
            }
            p->nrec = k - 1;
            p->nheld--;
            return;
        }
    if (p->nheld > k)
        p->nheld--;
}

void lg__lock_edge(struct lg__park *p, int held, const void *to,
                   const char *call, const char *what)
{
    if (held < 0) {
        cache_clear(p);
        return;
    }
    const void *from = p->held[held];
    const char *from_what = p->held_what[held];
    uint64_t key = edge_key(from, to);
    /* An edge the graph has (most misses of the thread's cache: node's
     * threads miss five times a request) is found without a system call,
     * a lock or a change to errno. */
    if (__atomic_load_n(&known, __ATOMIC_ACQUIRE) && known_has(key)) {
        cache_put(p, from, to);
        return;
    }
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    pthread_once(&graph_once, graph_init);
    if (!nodes)
        goto out;
    /* The stack, outside the lock (an edge another thread added already
     * needs none): its innermost frames first, and the whole stack only
     * when no edge on that code path kept one (stack-memo.c). */
    void *frames[LG__EDGE_FRAMES];
    int nframes = -1, captured = 0;
    struct lg__memo_key top;
    top.n = -1;
    int found;
    struct cycle_copy cyc;
    cyc.n = 0;
    for (;;) {
        pthread_mutex_lock(&graph_lock);
        int f = node_find(from, 0, NULL), t = node_find(to, 0, NULL);
        found = f >= 0 && t >= 0 && edge_find(f, t) >= 0;
        if (found || nframes >= 0)
            break;
        if (top.n >= 0 &&
            (nframes = lg__memo_get(&top, frames, LG__EDGE_FRAMES)) >= 0)
            break;
        pthread_mutex_unlock(&graph_lock);
        if (top.n < 0) {
            lg__memo_key(&top);
        } else {
            nframes = lg__stack_capture(frames, LG__EDGE_FRAMES);
            captured = 1;
        }
    }
    if (captured)
        lg__memo_put(&top, frames, nframes);
    if (!found) {
        int f = node_find(from, 1, from_what), t = node_find(to, 1, what);
        if (f >= 0 && t >= 0 && free_edge >= 0) {
            int e = free_edge;
            free_edge = edges[e].next_free;
            struct edge *E = &edges[e];
            E->from = f;
            E->to = t;
            E->next_out = nodes[f].out;
            nodes[f].out = e;
            E->next_in = nodes[t].in;
            nodes[t].in = e;
            E->tid = p->tid;          /* the slot's owner: no system call */
            memset(E->name, 0, sizeof E->name);
            if (prctl(PR_GET_NAME, E->name) != 0)
                E->name[0] = '\0';
            E->call = call;
            E->what = what;
            E->nframes = nframes;
            memcpy(E->frames, frames, (size_t)nframes * sizeof *frames);
            int path[MAX_CYCLE];
            int k = path_find(t, f, path, MAX_CYCLE - 1);
            if (k > 0) {
                /* The cycle in taking order: the new edge, then the path
                 * from its `to` back to its `from`. */
                int order[MAX_CYCLE];
                order[0] = e;
                for (int i = 0; i < k; i++)
                    order[1 + i] = path[k - 1 - i];
                if (!seen_cycle(order, k + 1)) {
                    cyc.n = k + 1;
                    for (int i = 0; i < cyc.n; i++) {
                        const struct edge *x = &edges[order[i]];
                        cyc.e[i].from = nodes[x->from].lock;
                        cyc.e[i].to = nodes[x->to].lock;
                        cyc.e[i].what_from = nodes[x->from].what;
                        cyc.e[i].what_to = nodes[x->to].what;
                        cyc.e[i].call = x->call;
                        cyc.e[i].tid = x->tid;
                        memcpy(cyc.e[i].name, x->name, sizeof x->name);
                        cyc.e[i].nframes = x->nframes;
                        memcpy(cyc.e[i].frames, x->frames,
                               (size_t)x->nframes * sizeof *x->frames);
                    }
                }
            }
        }
        /* Recorded; or the pools are full, and the edge is not (it closes
         * no cycle): either way remembered as seen, so that no thread
         * comes back here for it. */
        found = 1;
    }
    if (found)
        known_add(key);
    pthread_mutex_unlock(&graph_lock);
    if (found)
        cache_put(p, from, to);
    if (cyc.n)
        report(&cyc);
out:
    pthread_setcancelstate(cancel_state, NULL);
    lg__tls.in_shim = was;
    errno = saved;
}

static void edge_unlink(int e)
{
    struct edge *E = &edges[e];
    known_remove(edge_key(nodes[E->from].lock, nodes[E->to].lock));
    int *pp = &nodes[E->from].out;
    while (*pp != e)
        pp = &edges[*pp].next_out;
    *pp = E->next_out;
    pp = &nodes[E->to].in;
    while (*pp != e)
        pp = &edges[*pp].next_in;
    *pp = E->next_in;
    E->from = -1;
    E->next_free = free_edge;
    free_edge = e;
}

int lg__lock_bits_long(uintptr_t a, size_t n)
{
    uintptr_t g = a >> LG__LOCK_GRAIN;
    uintptr_t last = (n - 1 > UINTPTR_MAX - a ? UINTPTR_MAX : a + (n - 1)) >>
                     LG__LOCK_GRAIN;
    if (last - g >= LG__LOCK_BITS - 64)
        return 1;             /* every bit: any node will do */
    for (;;) {
        unsigned i = (unsigned)(g % LG__LOCK_BITS), sh = i % 64;
        uint64_t w = __atomic_load_n(&lg__lock_bits[i / 64],
                                     __ATOMIC_RELAXED) >> sh;
        uintptr_t left = last - g;    /* granules after g */
        if (left < 64 - sh)
            return (w & ((2ull << left) - 1)) != 0;
        if (w)
            return 1;
        g += 64 - sh;
    }
}

/* Node n leaves the graph with its edges. Buckets are not rebuilt here:
 * the caller may be walking them. */
static void node_drop(int n)
{
    const void *l = nodes[n].lock;
    while (nodes[n].out >= 0)
        edge_unlink(nodes[n].out);
    while (nodes[n].in >= 0)
        edge_unlink(nodes[n].in);
    for (unsigned b = bucket_of(l), k = 0; k < NODE_BUCKETS;
         k++, b = (b + 1) % NODE_BUCKETS)
        if (buckets[b] == n + 1) {
            buckets[b] = -1;
            n_tomb++;
            break;
        }
    nodes[n].lock = NULL;
    nodes[n].next_free = free_node;
    free_node = n;
    n_nodes--;
    bits_note(l, -1);
}

/* Drops the nodes of granule g whose lock is in [a, end); returns how
 * many. Every lock of granule g sits on the probe sequence from its home
 * bucket, before the first empty bucket. */
static int granule_forget(uintptr_t g, uintptr_t a, uintptr_t end)
{
    int dropped = 0;
    for (unsigned b = bucket_of_granule(g), k = 0; k < NODE_BUCKETS;
         k++, b = (b + 1) % NODE_BUCKETS) {
        int v = buckets[b];
        if (v == 0)
            break;
        if (v < 0)
            continue;
        uintptr_t l = (uintptr_t)nodes[v - 1].lock;
        if (l >> LG__LOCK_GRAIN == g && l - a < end - a) {
            node_drop(v - 1);
            dropped++;
        }
    }
    return dropped;
}

/* Drops every node whose lock is in [a, end); returns how many. Only the
 * granules whose bit is set are probed, found a word of bits at a time:
 * node's heap frees 4-64 KiB blocks among a few hundred locks, and a
 * granule at a time was most of the detector's cost there. A range of
 * every bit or more scans the nodes instead. */
static int nodes_forget(uintptr_t a, uintptr_t end)
{
    int dropped = 0;
    uintptr_t g = a >> LG__LOCK_GRAIN, g1 = (end - 1) >> LG__LOCK_GRAIN;
    if (g1 - g >= LG__LOCK_BITS) {
        for (int i = 0; i < MAX_NODES; i++) {
            uintptr_t l = (uintptr_t)nodes[i].lock;
            if (l && l - a < end - a) {
                node_drop(i);
                dropped++;
            }
        }
        return dropped;
    }
    for (;;) {
        unsigned i = (unsigned)(g % LG__LOCK_BITS), sh = i % 64;
        /* A copy: node_drop() clears bits as it goes. */
        uint64_t w = lg__lock_bits[i / 64] >> sh;
        uintptr_t left = g1 - g;       /* granules after g */
        if (left < 63)
            w &= (2ull << left) - 1;
        for (; w; w &= w - 1)
            dropped += granule_forget(g + (unsigned)__builtin_ctzll(w), a,
                                      end);
        if (left < 64 - sh)
            return dropped;
        g += 64 - sh;
    }
}

/* The calling thread's records of held locks in [a, end) go: a lock
 * freed while held (no unlock will come) must not stay the `from` of the
 * thread's next edges. Other threads' slots are theirs alone. */
static void held_forget(struct lg__park *p, uintptr_t a, uintptr_t end)
{
    uint32_t k = p->nrec, j = 0;
    for (uint32_t i = 0; i < k; i++) {
        if ((uintptr_t)p->held[i] - a < end - a) {
            p->nheld--;
            continue;
        }
        p->held[j] = p->held[i];
        p->held_what[j] = p->held_what[i];
        j++;
    }
    p->nrec = j;
}

void lg__lock_forget_range(const void *start, size_t len)
{
    uintptr_t a = (uintptr_t)start;
    if (len == 0 || lg__tls.in_shim)
        return;
    uintptr_t end = len > UINTPTR_MAX - a ? UINTPTR_MAX : a + len;
    struct lg__park *p = lg__tls.park;
    if (p && p->nrec)
        held_forget(p, a, end);
    if (!lg__lock_maybe_in(a, end - a))
        return;
    int saved = errno;
    lg__tls.in_shim = 1;
    pthread_mutex_lock(&graph_lock);
    if (nodes && nodes_forget(a, end)) {
        if (n_tomb > NODE_BUCKETS / 4)
            buckets_rebuild();
        /* Every thread's cache may name a lock that died: they all start
         * over. */
        __atomic_add_fetch(&lg__lock_epoch, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&graph_lock);
    lg__tls.in_shim = 0;
    errno = saved;
}

void lg__lock_forget(const void *l)
{
    lg__lock_forget_range(l, 1);
}

/* From lg__init(), before the report's locks are registered: fork takes
 * registered locks in order, and report() takes the symbol and emit locks
 * while it holds report_lock. */
void lg__lock_order_init(void)
{
    lg__lock_order_on = (uint8_t)(lg__opt.lock_order != 0);
    lg__lock_register(&report_lock);
    lg__lock_register(&graph_lock);
}
