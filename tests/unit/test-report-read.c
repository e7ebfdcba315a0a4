/* `loopguard report`'s reader (tools/report-read.c): lines of any length
 * read in bounded memory, each bad line refused with the reason the
 * warning gives, and frames printed as the text report prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "report.h"

static FILE *text_file(const char *s, size_t n)
{
    FILE *f = fmemopen((void *)s, n, "r");
    assert_non_null(f);
    return f;
}

static void test_report_read_lines(void **state)
{
    (void)state;
    static char in[LG__LOGREAD_MAX + 64];
    struct lg__logread r;
    size_t n = 0;
    memcpy(in, "one\n\nthree\n", 11);
    n = 11;
    memset(in + n, 'x', LG__LOGREAD_MAX + 1);   /* one byte too many */
    n += LG__LOGREAD_MAX + 1;
    memcpy(in + n, "\nlast", 5);
    n += 5;
    FILE *f = text_file(in, n);
    assert_int_equal(lg__logread_init(&r, f), 0);
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_LINE);
    assert_string_equal(r.line, "one");
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_LINE);
    assert_int_equal(r.len, 0);
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_LINE);
    assert_int_equal(r.lineno, 3);
    /* The long line is one bad line; the next starts after it. */
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_LONG);
    assert_int_equal(r.lineno, 4);
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_LINE);
    assert_string_equal(r.line, "last");
    assert_int_equal(r.lineno, 5);
    assert_true(r.unended);
    assert_int_equal(lg__logread_next(&r), LG__LOGREAD_EOF);
    lg__logread_free(&r);
    fclose(f);
}

/* The reason lg__logrec_parse gives for line, or "ok". */
static const char *why(const char *line)
{
    static char w[256];
    struct lg__logrec rec;
    if (lg__logrec_parse(line, strlen(line), &rec, w, sizeof w) != 0) {
        assert_null(rec.root);
        return w;
    }
    json_free(rec.root);
    return "ok";
}

#define HEAD "{\"type\":\"stall\",\"pid\":1,\"tid\":2,\"thread\":\"t\""

static void test_report_read_records(void **state)
{
    (void)state;
    assert_string_equal(why(HEAD ",\"phase\":\"end\"}"), "ok");
    assert_string_equal(why(HEAD ",\"phase\":\"end\",\"version\":1}"), "ok");
    /* Cut in a string, and in a word: both end inside the record. */
    assert_string_equal(why(HEAD ",\"phase\":\"en"),
                        "truncated record (the line ends at byte 56, "
                        "inside it)");
    assert_string_equal(why(HEAD ",\"x\":tr"),
                        "truncated record (the line ends at byte 51, "
                        "inside it)");
    assert_string_equal(why(HEAD ",\"x\":tx}"),
                        "not JSON (unexpected word at byte 49)");
    assert_string_equal(why("{\"type\" 1}"),
                        "not JSON (expected ':' at byte 8)");
    assert_string_equal(why("[1]"),
                        "not a record (a JSON value, not an object)");
    assert_string_equal(why("{\"type\":\"nap\",\"pid\":1}"),
                        "unknown record type 'nap'");
    assert_string_equal(why("{\"type\":\"nap\",\"version\":2}"),
                        "format version 2 is newer than this loopguard "
                        "reads (1)");
    assert_string_equal(why(HEAD ",\"version\":\"2\",\"phase\":\"end\"}"),
                        "bad field 'version'");
    assert_string_equal(why(HEAD "}"), "no field 'phase'");
    assert_string_equal(why("{\"type\":\"stall\",\"pid\":-1.5}"),
                        "bad field 'pid'");
    assert_string_equal(why("{\"type\":\"blocking_call\",\"pid\":1,\"tid\":1,"
                            "\"thread\":\"t\",\"site\":\"abc\"}"),
                        "bad field 'site'");
}

static void test_report_read_frames(void **state)
{
    (void)state;
    static const char stack[] =
        "[{\"pc\":\"0x55d1\",\"symbol\":\"helper\",\"offset\":4166,"
        "\"module\":\"/b/prog\",\"file\":\"/s/a.c\",\"line\":42,"
        "\"inlined\":true},"
        "{\"pc\":\"0x55d1\",\"symbol\":\"on\\ntick\",\"offset\":4166,"
        "\"module\":\"/b/prog\",\"file\":\"/s/a.c\",\"line\":null},"
        "{\"pc\":\"0x7f\",\"symbol\":null,\"offset\":16,\"module\":null}]";
    char mem[512];
    struct lg__buf b;
    struct json *j = json_parse(stack, strlen(stack), NULL, 0);
    assert_non_null(j);
    lg__buf_init(&b, mem, sizeof mem);
    lg__logrec_stack(&b, j, 0);
    assert_false(b.full);
    mem[b.len] = '\0';
    assert_string_equal(mem,
        "    #0 0x55d1 in helper /s/a.c:42 (/b/prog+0x1046) (inlined)\n"
        "    #1 0x55d1 in on?tick /s/a.c (/b/prog+0x1046)\n"
        "    #2 0x7f in ?? (<unknown module>+0x10)\n");
    /* Too little room: whole frames, then how many were left out. */
    lg__buf_init(&b, mem, 140);
    lg__logrec_stack(&b, j, 0);
    mem[b.len] = '\0';
    assert_string_equal(mem,
        "    #0 0x55d1 in helper /s/a.c:42 (/b/prog+0x1046) (inlined)\n"
        "    ... 2 more frames not shown\n");
    json_free(j);
    lg__buf_init(&b, mem, sizeof mem);
    lg__logrec_stack(&b, NULL, 0);
    mem[b.len] = '\0';
    assert_string_equal(mem, "    (no stack)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_read_lines),
        cmocka_unit_test(test_report_read_records),
        cmocka_unit_test(test_report_read_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
