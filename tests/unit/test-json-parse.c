/* The tests' JSON parser (tests/support/json.c): the report tests trust it
 * to refuse anything a strict consumer would, so its strictness is tested
 * here, along with the values and lookups it gives back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static struct json *parse(const char *s)
{
    char err[128];
    struct json *j = json_parse(s, strlen(s), err, sizeof err);
    if (!j)
        print_error("rejected %s: %s\n", s, err);
    return j;
}

static void test_json_parse_values(void **state)
{
    (void)state;
    struct json *j = parse(" {\"a\": [1, -2.5e1, true, false, null],\r\n"
                           "\t\"b\": {\"c\": \"d\"}, \"e\": [], \"f\": {}} \n");
    assert_non_null(j);
    assert_true(json_is(j, JSON_OBJECT));
    assert_int_equal(json_count(j), 4);
    const struct json *a = json_get(j, "a");
    assert_int_equal(json_count(a), 5);
    assert_true(json_is(json_at(a, 0), JSON_NUMBER));
    assert_true(json_at(a, 0)->num == 1.0);
    assert_true(json_at(a, 1)->num == -25.0);
    assert_true(json_is(json_at(a, 2), JSON_BOOL) && json_at(a, 2)->boolean);
    assert_true(json_is(json_at(a, 3), JSON_BOOL) && !json_at(a, 3)->boolean);
    assert_true(json_is(json_at(a, 4), JSON_NULL));
    assert_null(json_at(a, 5));
    assert_string_equal(json_str(json_get(json_get(j, "b"), "c")), "d");
    assert_true(json_is(json_get(j, "e"), JSON_ARRAY));
    assert_true(json_is(json_get(j, "f"), JSON_OBJECT));
    assert_int_equal(json_count(json_get(j, "f")), 0);
    /* Lookups on the wrong type or a missing key give NULL, not a crash. */
    assert_null(json_get(j, "zz"));
    assert_null(json_get(a, "a"));
    assert_null(json_at(j, 0));
    assert_null(json_str(a));
    assert_null(json_get(NULL, "a"));
    json_free(j);
}

static void test_json_parse_escapes(void **state)
{
    (void)state;
    struct json *j = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0041\\u00e9"
                           "\\u20AC\\ud83d\\ude00 \\u0000z \xc3\xa9\"");
    assert_non_null(j);
    static const char want[] = "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xe2\x82\xac"
                               "\xf0\x9f\x98\x80 \0z \xc3\xa9";
    assert_int_equal(j->len, sizeof want - 1);
    assert_memory_equal(j->str, want, sizeof want - 1);
    assert_int_equal(j->str[j->len], '\0');
    json_free(j);
}

static void test_json_parse_numbers(void **state)
{
    (void)state;
    struct json *j = parse("[0, 18446744073709551615, -9223372036854775808,"
                           " 18446744073709551616, 50.5, 1E+3, -0, 12]");
    assert_non_null(j);
    uint64_t u;
    int64_t i;
    assert_true(json_u64(json_at(j, 0), &u) && u == 0);
    assert_true(json_u64(json_at(j, 1), &u) && u == UINT64_MAX);
    assert_false(json_u64(json_at(j, 2), &u));
    assert_true(json_i64(json_at(j, 2), &i) && i == INT64_MIN);
    /* One past UINT64_MAX must not wrap or saturate silently. */
    assert_false(json_u64(json_at(j, 3), &u));
    assert_false(json_i64(json_at(j, 1), &i));
    assert_false(json_u64(json_at(j, 4), &u));
    assert_true(json_at(j, 4)->num == 50.5);
    assert_false(json_u64(json_at(j, 5), &u));
    assert_true(json_at(j, 5)->num == 1000.0);
    assert_true(json_i64(json_at(j, 6), &i) && i == 0);
    assert_true(json_i64(json_at(j, 7), &i) && i == 12);
    json_free(j);
}

static void test_json_parse_hex(void **state)
{
    (void)state;
    struct json *j = parse("[\"0x0\", \"0xffffffffffffffff\", \"0xABC\","
                           " \"0x\", \"12\", \"0x1g\", 16,"
                           " \"0x10000000000000000\"]");
    assert_non_null(j);
    uint64_t v = 1;
    assert_true(json_hex(json_at(j, 0), &v) && v == 0);
    assert_true(json_hex(json_at(j, 1), &v) && v == UINT64_MAX);
    for (size_t i = 2; i < json_count(j); i++)
        assert_false(json_hex(json_at(j, i), &v));
    json_free(j);
}

static void test_json_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "{} x",
        "1 2",
        "{}}",
        "\"abc",
        "\"abc\\",
        "\"abc\\\"",
        "\"a\tb\"",
        "\"a\nb\"",
        "\"\x01\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\xff\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\"",
        "[1 2]",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1,\"a\":2}",
        "{1:2}",
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "0x10",
        "tru",
        "nul",
        "True",
        "[1",
        "{\"a\":",
        "[\"a\"]]",
        "nan",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        struct json *j = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        if (j)
            fail_msg("accepted bad input #%zu: %s", i, bad[i]);
        assert_true(strstr(err, "at byte") != NULL);
    }
    /* A NUL byte inside the given length is garbage, not an end. */
    assert_null(json_parse("{}\0", 3, NULL, 0));
    assert_null(json_parse("\"a\0b\"", 5, NULL, 0));
    /* Deep nesting is refused, not a stack overflow. */
    char deep[1001];
    memset(deep, '[', 1000);
    deep[1000] = '\0';
    assert_null(json_parse(deep, 1000, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_values),
        cmocka_unit_test(test_json_parse_escapes),
        cmocka_unit_test(test_json_parse_numbers),
        cmocka_unit_test(test_json_parse_hex),
        cmocka_unit_test(test_json_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
