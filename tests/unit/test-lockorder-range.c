/* The test every free() makes before anything else (lg-internal.h): does a
 * block [a, a + n) hold a lock of the lock-order graph? Its masks over the
 * granule bits, checked against a plain loop over the granules, at word
 * edges, across the 1 MiB wrap and for long ranges; and its bounds. The
 * bits and bounds are set by hand: this process has no graph. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"

static int reference(uintptr_t a, size_t n)
{
    uintptr_t last = n - 1 > UINTPTR_MAX - a ? UINTPTR_MAX : a + (n - 1);
    for (uintptr_t g = a >> LG__LOCK_GRAIN; g <= last >> LG__LOCK_GRAIN; g++) {
        unsigned i = (unsigned)(g % LG__LOCK_BITS);
        if ((lg__lock_bits[i / 64] >> (i % 64)) & 1)
            return 1;
        if (g == UINTPTR_MAX >> LG__LOCK_GRAIN)
            break;
    }
    return 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void set_bit(unsigned i)
{
    lg__lock_bits[i / 64] |= 1ull << (i % 64);
}

static void check(uintptr_t a, size_t n)
{
    int want = reference(a, n);
    int s = lg__lock_bits_short(a, n);
    if (s >= 0 && s != want)
        fail_msg("short(%#lx, %zu) = %d, want %d", (unsigned long)a, n, s,
                 want);
    if (lg__lock_bits_any(a, n) != want)
        fail_msg("any(%#lx, %zu) != %d", (unsigned long)a, n, want);
}

static void test_lockorder_range_bits(void **state)
{
    (void)state;
    memset(lg__lock_bits, 0, sizeof lg__lock_bits);
    /* Bits at the edges of words and of the table, and a few anywhere. */
    unsigned edges[] = {0, 63, 64, 127, 128, 1000, LG__LOCK_BITS - 64,
                        LG__LOCK_BITS - 1};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
        set_bit(edges[k]);
    for (int k = 0; k < 8; k++)
        set_bit((unsigned)(next() % LG__LOCK_BITS));
    const uintptr_t span = (uintptr_t)LG__LOCK_BITS << LG__LOCK_GRAIN;
    for (int k = 0; k < 200000; k++) {
        uintptr_t a = (uintptr_t)(next() % (4 * span));
        if (k % 4 == 0)       /* near a word's edge */
            a = (a & ~(uintptr_t)1023) + (next() % 64) - 32;
        size_t n = 1 + (size_t)(next() % (k % 8 == 0 ? 70000 : 2100));
        check(a, n);
    }
    check(UINTPTR_MAX - 100, 1000);   /* to the end of the address space */
    check(0x7f0000000000, SIZE_MAX / 2);
    memset(lg__lock_bits, 0, sizeof lg__lock_bits);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(lg__lock_bits_any(next(), 1 + next() % 4096), 0);
}

static void test_lockorder_range_bounds(void **state)
{
    (void)state;
    memset(lg__lock_bits, 0, sizeof lg__lock_bits);
    uintptr_t lo = 0x10000, hi = 0x20000;
    set_bit((unsigned)((lo >> LG__LOCK_GRAIN) % LG__LOCK_BITS));
    set_bit((unsigned)((hi >> LG__LOCK_GRAIN) % LG__LOCK_BITS));
    lg__lock_lo = lo;
    lg__lock_hi = hi;
    assert_true(lg__lock_below((void *)hi));
    assert_false(lg__lock_below((void *)(hi + 1)));
    assert_false(lg__lock_below(NULL));
    assert_true(lg__lock_maybe_in(lo, 1));
    assert_true(lg__lock_maybe_in(lo - 64, 65));
    assert_false(lg__lock_maybe_in(lo - 64, 64));   /* ends below lo */
    assert_true(lg__lock_maybe_in(hi, 40));
    assert_false(lg__lock_maybe_in(hi + 16, 40));   /* starts above hi */
    assert_false(lg__lock_maybe_in(lo + 16, hi - lo - 16));  /* between */
    assert_false(lg__lock_maybe_in(lo, 0));
    assert_true(lg__lock_maybe_in(0, SIZE_MAX));
    lg__lock_lo = UINTPTR_MAX;
    lg__lock_hi = 0;
    assert_false(lg__lock_below((void *)lo));
    memset(lg__lock_bits, 0, sizeof lg__lock_bits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lockorder_range_bits),
        cmocka_unit_test(test_lockorder_range_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
