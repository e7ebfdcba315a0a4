/* Stacks remembered by their innermost frames, for the lock-order graph.
 *
 * Every new edge of the graph keeps the stack of its acquisition, and a
 * capture of 24 frames costs libunwind about 5,000 instructions and a
 * walk over cold memory. Some programs make new edges all the time on one
 * code path: V8 makes fresh mutexes at every scavenge and takes them under
 * older ones, one new edge every 30 requests of a node HTTP server, each
 * captured again since the last ones died with their mutexes. An edge
 * whose acquisition has the same innermost LG__MEMO_TOP frames as one
 * captured before is the same code path (the graph's reports are known by
 * their code paths already), so it takes that capture's stack and unwinds
 * only those few frames: the deeper frames shown are those of the first
 * capture on that path. node: libunwind's instructions 269 -> 61 a
 * request (docs/performance.md).
 *
 * The table is direct-mapped and bounded; a key that maps to a full entry
 * replaces it. Memory from the arena, on the first put. */
#include <string.h>

#include "lg-internal.h"

#define MEMO_SLOTS 512

struct memo {
    struct lg__memo_key key;    /* key.hash 0: empty (a key's is odd) */
    int n;
    void *frames[LG__EDGE_FRAMES];
};

static struct memo *memo;

void lg__memo_key(struct lg__memo_key *k)
{
    k->n = lg__stack_capture_top(k->top, LG__MEMO_TOP);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < k->n; i++)
        h = (h ^ (uint64_t)(uintptr_t)k->top[i]) * 0x100000001b3ull;
    k->hash = h | 1;
}

static struct memo *slot(const struct lg__memo_key *k)
{
    return &memo[(k->hash >> 17) % MEMO_SLOTS];
}

static int same(const struct memo *m, const struct lg__memo_key *k)
{
    return m->key.hash == k->hash && m->key.n == k->n &&
           !memcmp(m->key.top, k->top, (size_t)k->n * sizeof *k->top);
}

int lg__memo_get(const struct lg__memo_key *k, void **frames, int max)
{
    if (!memo || k->n < LG__MEMO_TOP)
        return -1;
    const struct memo *m = slot(k);
    if (!same(m, k))
        return -1;
    int n = m->n < max ? m->n : max;
    memcpy(frames, m->frames, (size_t)n * sizeof *frames);
    return n;
}

void lg__memo_put(const struct lg__memo_key *k, void *const *frames, int n)
{
    if (k->n < LG__MEMO_TOP || n <= 0)
        return;
    if (!memo && !(memo = lg__arena_alloc(MEMO_SLOTS * sizeof *memo)))
        return;
    struct memo *m = slot(k);
    m->key = *k;
    m->n = n < LG__EDGE_FRAMES ? n : LG__EDGE_FRAMES;
    memcpy(m->frames, frames, (size_t)m->n * sizeof *frames);
}
