/* Stacks remembered by their innermost frames (stack-memo.c): a key is
 * the caller's innermost LG__MEMO_TOP frames; the same code path gives the
 * same key whatever lies deeper, other paths other keys; a stored stack
 * comes back only for its own key (never for another that maps to its
 * slot), and a key too shallow to know a path by is never stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"

static volatile int depth_sink;

/* n more frames of itself, then the key: every one of the innermost
 * frames is a return into rec. */
__attribute__((noinline)) static void rec(int n, struct lg__memo_key *k)
{
    if (n > 0)
        rec(n - 1, k);
    else
        lg__memo_key(k);
    depth_sink++;             /* not a tail call */
}

__attribute__((noinline)) static void root_one(struct lg__memo_key *k)
{
    rec(LG__MEMO_TOP + 2, k);
    depth_sink++;
}

__attribute__((noinline)) static void root_two(struct lg__memo_key *k)
{
    rec(LG__MEMO_TOP + 2, k);
    depth_sink++;
}

__attribute__((noinline)) static void other_path(struct lg__memo_key *k)
{
    lg__memo_key(k);
    depth_sink++;
}

static int same_key(const struct lg__memo_key *a,
                    const struct lg__memo_key *b)
{
    return a->n == b->n && a->hash == b->hash &&
           !memcmp(a->top, b->top, (size_t)a->n * sizeof *a->top);
}

static void test_stack_memo_keys(void **state)
{
    (void)state;
    struct lg__memo_key a, b, c;
    root_one(&a);
    root_two(&b);
    other_path(&c);
    assert_int_equal(a.n, LG__MEMO_TOP);
    assert_int_equal(c.n, LG__MEMO_TOP);
    /* One path under two different callers: one key. */
    assert_true(same_key(&a, &b));
    assert_false(same_key(&a, &c));

    void *frames[24], *got[24];
    for (int i = 0; i < 24; i++)
        frames[i] = (void *)(uintptr_t)(0x1000 + i);
    assert_int_equal(lg__memo_get(&a, got, 24), -1);
    lg__memo_put(&a, frames, 20);
    assert_int_equal(lg__memo_get(&b, got, 24), 20);
    assert_memory_equal(got, frames, 20 * sizeof *frames);
    assert_int_equal(lg__memo_get(&b, got, 8), 8);   /* at most max */
    assert_int_equal(lg__memo_get(&c, got, 24), -1);
}

static void test_stack_memo_slots(void **state)
{
    (void)state;
    /* Two keys with one hash (so one slot) and different frames: the
     * second put replaces the first, whose get then misses. */
    struct lg__memo_key x = {.n = LG__MEMO_TOP, .hash = 0x12345},
                        y = {.n = LG__MEMO_TOP, .hash = 0x12345};
    for (int i = 0; i < LG__MEMO_TOP; i++) {
        x.top[i] = (void *)(uintptr_t)(0x40 + i);
        y.top[i] = (void *)(uintptr_t)(0x80 + i);
    }
    void *fx[3] = {(void *)1, (void *)2, (void *)3}, *fy[2] = {(void *)9,
                                                             (void *)8};
    void *got[24];
    lg__memo_put(&x, fx, 3);
    assert_int_equal(lg__memo_get(&x, got, 24), 3);
    lg__memo_put(&y, fy, 2);
    assert_int_equal(lg__memo_get(&x, got, 24), -1);
    assert_int_equal(lg__memo_get(&y, got, 24), 2);
    assert_memory_equal(got, fy, sizeof fy);

    /* Too shallow a key: not stored. */
    struct lg__memo_key s = {.n = 2, .hash = 0x777, .top = {fx[0], fx[1]}};
    lg__memo_put(&s, fx, 3);
    assert_int_equal(lg__memo_get(&s, got, 24), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_memo_keys),
        cmocka_unit_test(test_stack_memo_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
