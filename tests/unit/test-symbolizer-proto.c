/* The symbolizer's protocol (src/symbolizer-proto.c) and the host's table
 * of answers (src/srcline.c): answers and requests go through and come
 * back the same, escapes and all; every prefix of an answer is only
 * incomplete, never wrong; each malformed form is refused; what the helper
 * sends is cut to what the host takes; the table finds a return address
 * by the byte before it, and stops growing at its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "symbolizer.h"

static char buf[4 * LG__SYMP_ANSWER_MAX];
static struct lg__symp_answer ans;

static size_t encode(uint32_t id, const struct lg__symp_frame *f, int n)
{
    size_t len = 0;
    assert_int_equal(lg__symp_put_answer(buf, sizeof buf, &len, id, f, n),
                     0);
    return len;
}

static void test_symbolizer_proto_answer_round_trip(void **state)
{
    (void)state;
    const struct lg__symp_frame f[] = {
        {47, "wait_byte", "/src/a b/prog.c"},
        {0, "odd\tname\nwith\\escapes", ""},
        {54, "", "/src/tab\there.c"},
    };
    size_t len = encode(4000000000u, f, 3);
    assert_int_equal(lg__symp_parse_answer(buf, len, &ans), (long)len);
    assert_int_equal(ans.id, 4000000000u);
    assert_int_equal(ans.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ans.f[i].line, f[i].line);
        assert_string_equal(ans.f[i].func, f[i].func);
        assert_string_equal(ans.f[i].file, f[i].file);
    }
    /* Nothing known: a header alone. */
    len = encode(7, NULL, 0);
    assert_memory_equal(buf, "7 0\n", 4);
    assert_int_equal(lg__symp_parse_answer(buf, len, &ans), 4);
    assert_int_equal(ans.n, 0);
}

/* A reader that got part of an answer must wait for the rest. */
static void test_symbolizer_proto_answer_prefixes(void **state)
{
    (void)state;
    const struct lg__symp_frame f[] = {{12, "f\\g", "/x.c"}, {3, "h", ""}};
    size_t len = encode(99, f, 2);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(lg__symp_parse_answer(buf, k, &ans), 0);
    /* Two answers back to back: one at a time. */
    size_t len2 = len;
    assert_int_equal(lg__symp_put_answer(buf, sizeof buf, &len2, 100, f, 1),
                     0);
    assert_int_equal(lg__symp_parse_answer(buf, len2, &ans), (long)len);
    assert_int_equal(ans.id, 99);
    assert_int_equal(lg__symp_parse_answer(buf + len, len2 - len, &ans),
                     (long)(len2 - len));
    assert_int_equal(ans.id, 100);
    assert_int_equal(ans.n, 1);
}

static void test_symbolizer_proto_answer_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x 1\n",                      /* id not a number */
        "1 17\n",                     /* more frames than the depth */
        "1  1\n",                     /* empty count */
        "4294967296 0\n",             /* id past 32 bits */
        "1 1\n4294967296\tf\tg\n",    /* line past 32 bits */
        "1 1\n12\tf\n",               /* no file field */
        "1 1\n12\tf\tg\th\n",         /* a field too many */
        "1 1\n12\tf\\q\tg\n",         /* unknown escape */
        "1 1\n12\tf\\",               /* escape cut by the end... */
        "1 1\n\tf\tg\n",              /* no line number */
        "1 1\n-3\tf\tg\n",            /* a sign */
        "0123456789012345678901234567890123456789",  /* a long header */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long r = lg__symp_parse_answer(bad[i], strlen(bad[i]), &ans);
        if (i == 8)
            assert_int_equal(r, 0);   /* ...is only incomplete */
        else if (r != -1)
            fail_msg("accepted %s", bad[i]);
    }
    /* A NUL inside a field. */
    const char nul[] = "1 1\n12\tf\0g\th\n";
    assert_int_equal(lg__symp_parse_answer(nul, sizeof nul - 1, &ans), -1);
    /* A field of LG__SYMP_STR_MAX bytes is taken, one more is not. */
    char big[LG__SYMP_STR_MAX + 64];
    for (int extra = 0; extra < 2; extra++) {
        int n = snprintf(big, sizeof big, "1 1\n5\t%0*d\tg\n",
                         LG__SYMP_STR_MAX + extra, 0);
        long r = lg__symp_parse_answer(big, (size_t)n, &ans);
        assert_int_equal(r, extra ? -1 : n);
    }
    /* A frame line that never ends is refused once it is too long. */
    static char endless[LG__SYMP_FRAME_MAX + 16];
    memcpy(endless, "1 1\n5\t", 6);
    memset(endless + 6, 'a', sizeof endless - 6);
    assert_int_equal(lg__symp_parse_answer(endless, sizeof endless, &ans),
                     -1);
}

/* What the helper sends is cut to what the host takes, and parses. */
static void test_symbolizer_proto_answer_limits(void **state)
{
    (void)state;
    static char name[2000];
    memset(name, '\t', sizeof name - 1);      /* escapes double its size */
    struct lg__symp_frame f[LG__SYMP_DEPTH + 5];
    for (int i = 0; i < LG__SYMP_DEPTH + 5; i++)
        f[i] = (struct lg__symp_frame){(uint32_t)i, name, name};
    size_t len = encode(1, f, LG__SYMP_DEPTH + 5);
    assert_true(len <= LG__SYMP_ANSWER_MAX);
    assert_int_equal(lg__symp_parse_answer(buf, len, &ans), (long)len);
    assert_int_equal(ans.n, LG__SYMP_DEPTH);
    assert_int_equal(strlen(ans.f[LG__SYMP_DEPTH - 1].func),
                     LG__SYMP_STR_MAX);
    /* No room: nothing appended. */
    size_t at = 3;
    assert_int_equal(lg__symp_put_answer(buf, 10, &at, 1, f, 1), -1);
    assert_int_equal(at, 3);
}

static void test_symbolizer_proto_requests(void **state)
{
    (void)state;
    size_t len = 0;
    assert_int_equal(lg__symp_put_request(buf, sizeof buf, &len, 42,
                                          0x1a2b3cull, "/usr/lib/a b.so"),
                     0);
    assert_int_equal(lg__symp_put_request(buf, sizeof buf, &len, 43, 0,
                                          "/x"),
                     0);
    assert_memory_equal(buf, "42 1a2b3c /usr/lib/a b.so\n43 0 /x\n", len);
    /* A path with a LF cannot be asked; a full buffer takes nothing. */
    size_t was = len;
    assert_int_equal(lg__symp_put_request(buf, sizeof buf, &len, 1, 1,
                                          "/a\nb"),
                     -1);
    assert_int_equal(lg__symp_put_request(buf, len + 4, &len, 1, 1, "/ab"),
                     -1);
    assert_int_equal(len, was);

    uint32_t id;
    uint64_t addr;
    const char *path;
    const char ok[] = "42 1a2b3c /usr/lib/a b.so";
    assert_int_equal(lg__symp_parse_request(ok, sizeof ok - 1, &id, &addr,
                                            &path),
                     0);
    assert_int_equal(id, 42);
    assert_int_equal(addr, 0x1a2b3c);
    assert_string_equal(path, "/usr/lib/a b.so");
    static const char *const bad[] = {
        "42 1a2b3c", "42 1a2b3c ", "42  /x", "x 1 /x", "42 1A /x",
        "4294967296 1 /x", "1 12345678901234567 /x", "1 g /x", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lg__symp_parse_request(bad[i], strlen(bad[i]), &id, &addr,
                                   &path) != -1)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_symbolizer_proto_hello(void **state)
{
    (void)state;
    const char *h = LG__SYMP_HELLO;
    size_t n = strlen(h);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(lg__symp_parse_hello(h, k), 0);
    assert_int_equal(lg__symp_parse_hello(h, n), (long)n);
    assert_int_equal(lg__symp_parse_hello("loopguard-symbolizer 2\n", n), -1);
    assert_int_equal(lg__symp_parse_hello("usage: x\n", 9), -1);
}

/* The table: a frame finds its answer by module and address; a return
 * address (named, not at its function's start) by the byte before. */
static void test_symbolizer_proto_table(void **state)
{
    (void)state;
    const struct lg__symp_frame f[] = {{47, "wait_byte", "/s/p.c"},
                                       {54, "on_tick", "/s/p.c"}};
    size_t len = encode(0, f, 2);
    assert_int_equal(lg__symp_parse_answer(buf, len, &ans), (long)len);
    lg__src_put("/bin/prog", 0x1a11, &ans);

    const struct lg__src *src = NULL;
    struct lg__sym ret = {0x55550000 + 0x1a12, "/bin/prog", 0x1a12,
                         "on_tick", 0x42};
    assert_int_equal(lg__src_find(&ret, &src), 2);
    assert_string_equal(src[0].func, "wait_byte");
    assert_string_equal(src[1].file, "/s/p.c");
    assert_int_equal(src[1].line, 54);
    /* The same pc at a function's start is exact: 0x1a12, not known. */
    struct lg__sym exact = {0x55551a12, "/bin/prog", 0x1a12, "on_tick", 0};
    assert_int_equal(lg__src_find(&exact, &src), 0);
    struct lg__sym other = {0x55551a12, "/bin/other", 0x1a12, "on_tick", 2};
    assert_int_equal(lg__src_find(&other, &src), 0);
    struct lg__sym none = {0x1a12, NULL, 0x1a12, NULL, 0};
    assert_int_equal(lg__src_find(&none, &src), 0);

    /* Bounded: past its entries the table keeps nothing more, and what it
     * kept stays. */
    int kept = 0;
    for (uint64_t a = 0; a < 20000; a++) {
        lg__src_put("/bin/many", a * 16, &ans);
        struct lg__sym s = {a * 16 + 1, "/bin/many", a * 16 + 1, "f", 1};
        kept += lg__src_find(&s, &src) == 2;
    }
    assert_true(kept > 10000 && kept < 20000);
    assert_int_equal(lg__src_find(&ret, &src), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolizer_proto_answer_round_trip),
        cmocka_unit_test(test_symbolizer_proto_answer_prefixes),
        cmocka_unit_test(test_symbolizer_proto_answer_malformed),
        cmocka_unit_test(test_symbolizer_proto_answer_limits),
        cmocka_unit_test(test_symbolizer_proto_requests),
        cmocka_unit_test(test_symbolizer_proto_hello),
        cmocka_unit_test(test_symbolizer_proto_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
