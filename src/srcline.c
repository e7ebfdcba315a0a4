/* Source lines of report frames: before a record is formatted, the frames
 * it shows that are not known yet are asked of the symbolizer (one batch,
 * a bounded wait: symbolizer-client.c); the answers go into a table that
 * the formatters read, without a lock, by (module, address).
 *
 * The table is bounded, so that a long-lived host's memory is too: at most
 * ENTRIES_MAX addresses and POOL_MAX bytes of strings and frames, allocated
 * from the arena as needed (about 4.5 MiB at most). Past either bound new
 * answers are not kept, and their frames are shown as without debug
 * information. Entries are never removed or changed once published, which
 * is what lets readers go without the lock: a slot's key is written last
 * (release) and read first (acquire). Writers are serialised by the
 * symbolizer client's lock, under which its callback runs. */
#include <string.h>

#include "lg-internal.h"
#include "symbolizer.h"

#define SLOTS 16384               /* a power of two */
#define ENTRIES_MAX (SLOTS / 4 * 3)
#define POOL_CHUNK ((size_t)256 << 10)
#define POOL_MAX ((size_t)4 << 20)
#define INTERN_SLOTS 8192         /* strings shared by entries: file names */

struct entry {
    uint64_t mod;             /* atomic: hash of the module's path, odd;
                                 0 while the slot is free */
    uint64_t addr;            /* in the module: what was looked up */
    uint32_t n;               /* frames in src[] (0: nothing known) */
    const struct lg__src *src;
};

static struct entry *table;       /* atomic: SLOTS, on the first answer */
static unsigned n_entries;
static char *chunk;               /* the pool's current chunk */
static size_t chunk_left, pool_used;
static const char **interned;     /* INTERN_SLOTS */

static uint64_t path_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h | 1;
}

static unsigned slot_of(uint64_t mod, uint64_t addr)
{
    uint64_t h = (mod ^ (addr * 0x9e3779b97f4a7c15ull));
    return (unsigned)(h ^ (h >> 31)) & (SLOTS - 1);
}

/* The address DWARF is asked about. A return address lies after its call,
 * maybe on the next line, outside the inlined function that made the call,
 * or in the next function: its call is at the byte before. The frames
 * that are not return addresses are a function's first byte (the wrapped
 * call, the loop's runner: symoff 0), which is looked up as it is, and a
 * sampled thread's pc (deadlock and stall stacks), which is the
 * instruction after its system call or the one a signal interrupted: the
 * byte before is in the system call, or in the instruction that ran. */
static uint64_t lookup_addr(const struct lg__sym *s)
{
    int exact = s->name && s->symoff == 0;
    return (uint64_t)s->modoff - (!exact && s->modoff ? 1 : 0);
}

static const struct entry *find(uint64_t mod, uint64_t addr)
{
    struct entry *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
    if (!t)
        return NULL;
    for (unsigned i = slot_of(mod, addr);; i = (i + 1) & (SLOTS - 1)) {
        uint64_t m = __atomic_load_n(&t[i].mod, __ATOMIC_ACQUIRE);
        if (m == 0)
            return NULL;
        if (m == mod && t[i].addr == addr)
            return &t[i];
    }
}

int lg__src_find(const struct lg__sym *s, const struct lg__src **out)
{
    if (!s->module || s->module[0] != '/')
        return 0;
    const struct entry *e = find(path_hash(s->module), lookup_addr(s));
    if (!e || e->n == 0)
        return 0;
    *out = e->src;
    return (int)e->n;
}

static void *pool_alloc(size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n > chunk_left) {
        if (n > POOL_CHUNK || pool_used + POOL_CHUNK > POOL_MAX)
            return NULL;
        char *c = lg__arena_alloc(POOL_CHUNK);
        if (!c)
            return NULL;
        chunk = c;
        chunk_left = POOL_CHUNK;
        pool_used += POOL_CHUNK;
    }
    void *p = chunk;
    chunk += n;
    chunk_left -= n;
    return p;
}

/* A copy of s in the pool; one copy per distinct string while the intern
 * table has room (the same few file names recur in every answer). */
static const char *keep(const char *s)
{
    if (!s[0])
        return NULL;
    unsigned i = (unsigned)path_hash(s) & (INTERN_SLOTS - 1);
    for (unsigned k = 0; interned && k < INTERN_SLOTS / 4; k++) {
        const char *t = interned[(i + k) & (INTERN_SLOTS - 1)];
        if (!t)
            break;
        if (strcmp(t, s) == 0)
            return t;
    }
    size_t len = strlen(s) + 1;
    char *copy = pool_alloc(len);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    for (unsigned k = 0; interned && k < INTERN_SLOTS / 4; k++) {
        const char **t = &interned[(i + k) & (INTERN_SLOTS - 1)];
        if (!*t) {
            *t = copy;
            break;
        }
    }
    return copy;
}

static int table_init(void)
{
    if (table)
        return 0;
    struct entry *t = lg__arena_alloc(SLOTS * sizeof *t);
    interned = lg__arena_alloc(INTERN_SLOTS * sizeof *interned);
    if (!t || !interned)
        return -1;
    __atomic_store_n(&table, t, __ATOMIC_RELEASE);
    return 0;
}

/* Runs under the symbolizer client's lock: the only writer at a time. */
static void put(const struct lg__srcq *q, const struct lg__symp_answer *a)
{
    uint64_t mod = path_hash(q->path);
    if (find(mod, q->addr) || n_entries >= ENTRIES_MAX || table_init())
        return;
    struct lg__src *src = NULL;
    if (a->n > 0 && !(src = pool_alloc((size_t)a->n * sizeof *src)))
        return;
    for (int i = 0; i < a->n; i++) {
        src[i].line = a->f[i].line;
        src[i].func = keep(a->f[i].func);
        src[i].file = keep(a->f[i].file);
    }
    unsigned i = slot_of(mod, q->addr);
    while (table[i].mod)
        i = (i + 1) & (SLOTS - 1);
    table[i].addr = q->addr;
    table[i].n = (uint32_t)a->n;
    table[i].src = src;
    __atomic_store_n(&table[i].mod, mod, __ATOMIC_RELEASE);
    n_entries++;
}

void lg__src_clear(void)
{
    if (!table)
        return;
    memset(table, 0, SLOTS * sizeof *table);
    memset(interned, 0, INTERN_SLOTS * sizeof *interned);
    n_entries = 0;
    if (chunk) {              /* the chunk in use, from its start */
        chunk -= POOL_CHUNK - chunk_left;
        chunk_left = POOL_CHUNK;
    }
}

void lg__src_put(const char *path, uint64_t addr,
                 const struct lg__symp_answer *a)
{
    struct lg__srcq q = {addr, path};
    put(&q, a);
}

/* Adds s to the batch unless known or there already. */
static int want(struct lg__srcq *q, int n, const struct lg__sym *s)
{
    if (!s->module || s->module[0] != '/' || n == LG__SYMC_BATCH)
        return n;
    uint64_t addr = lookup_addr(s);
    if (find(path_hash(s->module), addr))
        return n;
    for (int i = 0; i < n; i++)
        if (q[i].addr == addr && strcmp(q[i].path, s->module) == 0)
            return n;
    q[n] = (struct lg__srcq){addr, s->module};
    return n + 1;
}

/* The frames a record shows (max_frames of each stack). */
static int want_all(struct lg__srcq *q, int n, const struct lg__sym *s,
                    int ns)
{
    for (int i = 0; i < ns && i < lg__opt.max_frames; i++)
        n = want(q, n, &s[i]);
    return n;
}

void lg__src_fill(const struct lg__record *r)
{
    /* A record without frames (a stall's end, the cap's notice, which may
     * be written under a lock of ours) takes no lock here. */
    if (lg__opt.symbolize_ms <= 0 ||
        !(r->nstack || r->nloop_stack || r->nthreads || r->nsites))
        return;
    uint64_t deadline = lg__now_ns() +
                        (uint64_t)lg__opt.symbolize_ms * 1000000u;
    struct lg__srcq *q = lg__symc_begin(deadline);
    if (!q)
        return;
    int n = want_all(q, 0, r->stack, r->nstack);
    n = want_all(q, n, r->loop_stack, r->nloop_stack);
    for (int i = 0; i < r->nthreads; i++)
        n = want_all(q, n, r->threads[i].stack, r->threads[i].nstack);
    for (int i = 0; i < r->nsites; i++)
        n = want(q, n, &r->sites[i].where);
    lg__symc_finish(n, deadline, put);
}
