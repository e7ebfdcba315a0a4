/* The bounded text buffer and the arena (src/util.c): the buffer never
 * writes past its cap, stays a C string and says when it dropped bytes;
 * the arena gives zeroed, aligned, disjoint blocks, also to many threads
 * at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "lg-internal.h"

#define CANARY 0x5a
#define GUARD 32 /* bytes past the cap that must stay intact */

static char mem[256 + GUARD];

static void init(struct lg__buf *b, size_t cap)
{
    memset(mem, CANARY, sizeof mem);
    lg__buf_init(b, mem, cap);
}

static void expect_intact(size_t cap)
{
    for (size_t i = cap; i < sizeof mem; i++)
        if ((unsigned char)mem[i] != CANARY)
            fail_msg("byte %zu past cap %zu was written", i, cap);
}

/* The buffer holds exactly `want`, NUL-terminated, within cap. */
static void expect_buf(const struct lg__buf *b, size_t cap, const char *want,
                       int full)
{
    assert_ptr_equal(b->p, mem);
    assert_int_equal(b->cap, cap);
    assert_int_equal(b->len, strlen(want));
    assert_true(b->len < cap);
    assert_string_equal(b->p, want);
    assert_int_equal(b->full, full);
    expect_intact(cap);
}

static void test_util_buf_bounds(void **state)
{
    (void)state;
    static const char long_text[] = "a long piece of text, longer than any "
                                    "of the small caps used here";
    static const struct {
        size_t cap;
        const char *want;
    } t[] = {{1, ""}, {2, "a"}, {8, "a long "}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct lg__buf b;
        init(&b, t[i].cap);
        expect_buf(&b, t[i].cap, "", 0);
        lg__buf_str(&b, long_text);
        expect_buf(&b, t[i].cap, t[i].want, 1);
        /* Writes after full are dropped too, of every kind. */
        lg__buf_str(&b, long_text);
        lg__buf_mem(&b, long_text, sizeof long_text);
        lg__buf_chr(&b, 'z');
        lg__buf_u64(&b, UINT64_MAX);
        lg__buf_i64(&b, INT64_MIN);
        lg__buf_hex(&b, UINT64_MAX);
        lg__buf_json_str(&b, long_text);
        expect_buf(&b, t[i].cap, t[i].want, 1);
    }
    /* An exact fit is not a truncation; the next byte is. */
    struct lg__buf b;
    init(&b, 6);
    lg__buf_str(&b, "hello");
    expect_buf(&b, 6, "hello", 0);
    lg__buf_str(&b, "");
    lg__buf_mem(&b, "xyz", 0);
    expect_buf(&b, 6, "hello", 0);
    lg__buf_chr(&b, '!');
    expect_buf(&b, 6, "hello", 1);
    /* Each kind of write truncates the same way. */
    init(&b, 5);
    lg__buf_u64(&b, UINT64_MAX);
    expect_buf(&b, 5, "1844", 1);
    init(&b, 4);
    lg__buf_hex(&b, 0xabcdef);
    expect_buf(&b, 4, "0xa", 1);
    init(&b, 3);
    lg__buf_i64(&b, -12345);
    expect_buf(&b, 3, "-1", 1);
    init(&b, 6);
    lg__buf_json_str(&b, "a\"b");
    expect_buf(&b, 6, "\"a\\\"b", 1);
    /* lg__buf_mem copies bytes as given, NULs included, up to n. */
    init(&b, 16);
    lg__buf_mem(&b, "ab\0cd", 2);
    expect_buf(&b, 16, "ab", 0);
}

/* Nothing fits in a zero-sized buffer, so every non-empty write is a
 * truncation, and the memory is never touched. */
static void test_util_buf_zero_cap(void **state)
{
    (void)state;
    struct lg__buf b;
    init(&b, 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.full, 0);
    lg__buf_str(&b, "x");
    lg__buf_u64(&b, 7);
    expect_intact(0);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.full, 1);
}

static void test_util_buf_numbers(void **state)
{
    (void)state;
    static const struct {
        int kind; /* 0 u64, 1 i64, 2 hex */
        uint64_t v;
        const char *want;
    } t[] = {
        {0, 0, "0"},
        {0, 7, "7"},
        {0, 10, "10"},
        {0, 1000000000000000000ull, "1000000000000000000"},
        {0, UINT64_MAX, "18446744073709551615"},
        {1, 0, "0"},
        {1, (uint64_t)-1, "-1"},
        {1, (uint64_t)INT64_MAX, "9223372036854775807"},
        {1, (uint64_t)INT64_MIN, "-9223372036854775808"},
        {2, 0, "0x0"},
        {2, 0xf, "0xf"},
        {2, 0x10, "0x10"},
        {2, 0xdeadbeef, "0xdeadbeef"},
        {2, UINT64_MAX, "0xffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct lg__buf b;
        init(&b, 64);
        lg__buf_str(&b, "<");
        if (t[i].kind == 0)
            lg__buf_u64(&b, t[i].v);
        else if (t[i].kind == 1)
            lg__buf_i64(&b, (int64_t)t[i].v);
        else
            lg__buf_hex(&b, t[i].v);
        lg__buf_chr(&b, '>');
        char want[64] = "<";
        strcat(want, t[i].want);
        strcat(want, ">");
        expect_buf(&b, 64, want, 0);
    }
}

static void test_util_buf_json_str(void **state)
{
    (void)state;
    static const char in[] = "a\"b\\c/d\ne\tf\r\b\f\x01\x1f\x7f \xc3\xa9 z";
    struct lg__buf b;
    init(&b, 256);
    lg__buf_json_str(&b, in);
    assert_false(b.full);
    expect_intact(256);
    /* The exact escapes, then a round trip through a strict parser. */
    assert_string_equal(b.p, "\"a\\\"b\\\\c/d\\ne\\tf\\u000d\\u0008\\u000c"
                             "\\u0001\\u001f\\u007f \xc3\xa9 z\"");
    for (size_t i = 0; i < b.len; i++)
        assert_true((unsigned char)b.p[i] >= 0x20);
    char err[128];
    struct json *j = json_parse(b.p, b.len, err, sizeof err);
    if (!j)
        fail_msg("not a JSON string (%s): %s", err, b.p);
    assert_true(json_is(j, JSON_STRING));
    assert_int_equal(j->len, sizeof in - 1);
    assert_memory_equal(j->str, in, sizeof in - 1);
    json_free(j);
    init(&b, 8);
    lg__buf_json_str(&b, "");
    expect_buf(&b, 8, "\"\"", 0);
}

/* Parses a JSON string literal the buffer holds; NULL if not strict JSON. */
static struct json *parse_str(const struct lg__buf *b)
{
    struct json *j = json_parse(b->p, b->len, NULL, 0);
    if (j && !json_is(j, JSON_STRING)) {
        json_free(j);
        return NULL;
    }
    return j;
}

static uint64_t rng = 88172645463325252ull;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 32);
}

static size_t put_cp(char *o, unsigned cp)
{
    static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = k - 1; i > 0; i--, cp >>= 6)
        o[i] = (char)(0x80 | (cp & 0x3f));
    o[0] = (char)(lead[k] | cp);
    return k;
}

/* Paths, names and thread names are bytes; JSON text is UTF-8. Whatever
 * the bytes, the literal parses strictly; valid characters come back
 * unchanged; a bound never splits a character. */
static void test_util_buf_json_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t max;
        const char *want; /* decoded */
    } t[] = {
        {"a\xff"
         "b",
         SIZE_MAX,
         "a\xef\xbf\xbd"
         "b"},
        {"caf\xc3\xa9", SIZE_MAX, "caf\xc3\xa9"},
        {"ab\xe4\xb8", SIZE_MAX, "ab"}, /* cut by the kernel */
        {"\xe4\xb8\x80\xe4\xb8\x80", 4, "\xe4\xb8\x80"},
        {"\xe4\xb8\x80\xe4\xb8\x80", 3, "\xe4\xb8\x80"},
        {"\xe4\xb8\x80", 2, ""},
        {"abcdef", 3, "abc"},
        {"\xf0\x9f\x98\x80!", SIZE_MAX, "\xf0\x9f\x98\x80!"},
    };
    struct lg__buf b;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        init(&b, 256);
        lg__buf_json_strn(&b, t[i].in, t[i].max);
        struct json *j = parse_str(&b);
        if (!j)
            fail_msg("case %zu: not strict JSON: %s", i, b.p);
        assert_string_equal(j->str, t[i].want);
        json_free(j);
    }
    /* Random bytes, mostly high ones, always give strict JSON. */
    char in[48];
    for (int round = 0; round < 20000; round++) {
        size_t n = next_rand() % (sizeof in - 1);
        for (size_t k = 0; k < n; k++) {
            unsigned r = next_rand();
            in[k] =
                (char)(r % 4 ? 0x80 + (r >> 8) % 0x80 : 1 + (r >> 8) % 0xff);
        }
        in[n] = '\0';
        init(&b, 256);
        lg__buf_json_strn(&b, in, next_rand() % 50);
        struct json *j = parse_str(&b);
        if (!j)
            fail_msg("round %d: not strict JSON: %s", round, b.p);
        json_free(j);
    }
    /* Valid text comes back byte for byte, or as its longest whole-char
     * prefix within the bound. */
    for (int round = 0; round < 5000; round++) {
        size_t n = 0, ends[16], nc = 0;
        while (nc < 10) {
            unsigned cp = next_rand() % 0x110000;
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                continue;
            n += put_cp(in + n, cp);
            ends[nc++] = n;
        }
        in[n] = '\0';
        size_t max = next_rand() % (n + 2), keep = 0;
        for (size_t k = 0; k < nc && ends[k] <= max; k++)
            keep = ends[k];
        init(&b, 256);
        lg__buf_json_strn(&b, in, max);
        struct json *j = parse_str(&b);
        assert_non_null(j);
        assert_int_equal(j->len, keep);
        assert_memory_equal(j->str, in, keep);
        json_free(j);
    }
}

/* ---- arena -------------------------------------------------------------- */

#define NTHREADS 8
#define PER_THREAD 2000

struct block {
    unsigned char *p;
    size_t n;
};

static struct block blocks[NTHREADS][PER_THREAD];
static int bad[NTHREADS];
static pthread_barrier_t go;

static size_t size_for(int t, int i)
{
    return 1 + (size_t)(t * 7919 + i * 104729) % 300;
}

/* Checks one new block and fills it with a byte only this block uses. */
static int take(struct block *bl, size_t n, unsigned char tag)
{
    bl->p = lg__arena_alloc(n);
    bl->n = n;
    if (!bl->p || (uintptr_t)bl->p % 16 != 0)
        return 1;
    for (size_t k = 0; k < n; k++)
        if (bl->p[k] != 0)
            return 1;
    memset(bl->p, tag, n);
    return 0;
}

static unsigned char tag_of(int t, int i)
{
    return (unsigned char)(1 + (t * PER_THREAD + i) % 251);
}

static void *arena_worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    pthread_barrier_wait(&go);
    for (int i = 0; i < PER_THREAD; i++)
        bad[t] += take(&blocks[t][i], size_for(t, i), tag_of(t, i));
    return NULL;
}

static int by_addr(const void *a, const void *b)
{
    const struct block *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void test_util_buf_arena(void **state)
{
    (void)state;
    pthread_t th[NTHREADS];
    assert_int_equal(pthread_barrier_init(&go, NULL, NTHREADS), 0);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(
            pthread_create(&th[t], NULL, arena_worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&go);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(bad[t], 0);
    /* No block was written by another: each still holds its own tag. */
    for (int t = 0; t < NTHREADS; t++)
        for (int i = 0; i < PER_THREAD; i++)
            for (size_t k = 0; k < blocks[t][i].n; k++)
                assert_int_equal(blocks[t][i].p[k], tag_of(t, i));
    /* And none overlaps another, rounded to 16 bytes. */
    static struct block all[NTHREADS * PER_THREAD];
    memcpy(all, blocks, sizeof all);
    qsort(all, NTHREADS * PER_THREAD, sizeof all[0], by_addr);
    for (int i = 1; i < NTHREADS * PER_THREAD; i++)
        assert_true(all[i - 1].p + ((all[i - 1].n + 15) & ~(size_t)15) <=
                    all[i].p);

    /* Exactly 16 bytes, a whole chunk's quarter and more, and more than a
     * chunk: all zeroed, aligned, and usable to their last byte. */
    static const size_t sizes[] = {16, 17, 256 << 10, (256 << 10) + 1, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct block bl;
        assert_int_equal(take(&bl, sizes[i], 0xa5), 0);
        assert_int_equal(bl.p[sizes[i] - 1], 0xa5);
    }
}

/* A size whose rounding wraps around cannot be served. */
static void test_util_buf_arena_huge(void **state)
{
    (void)state;
    assert_null(lg__arena_alloc(SIZE_MAX / 2));
    assert_null(lg__arena_alloc(SIZE_MAX));
    assert_null(lg__arena_alloc(SIZE_MAX - 14));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_buf_bounds),
        cmocka_unit_test(test_util_buf_zero_cap),
        cmocka_unit_test(test_util_buf_numbers),
        cmocka_unit_test(test_util_buf_json_str),
        cmocka_unit_test(test_util_buf_json_utf8),
        cmocka_unit_test(test_util_buf_arena),
        cmocka_unit_test(test_util_buf_arena_huge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
