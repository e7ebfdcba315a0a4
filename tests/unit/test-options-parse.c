/* lg__options_parse(): every key, every kind of bad entry (one line each,
 * option left as it was), quoting, separators, repeats, NULL and "". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"

#define PREFIX "loopguard: LOOPGUARD_OPTIONS: "
#define MAX_LINES 8

/* Lines passed to the err callback; reached through its arg so the test
 * also checks that arg is forwarded. */
struct capture {
    int n;
    char line[MAX_LINES][1024];
};

static struct capture cap;
static struct lg__options opt;

static void on_err(void *arg, const char *line)
{
    struct capture *c = arg;
    assert_ptr_equal(c, &cap);
    assert_true(c->n < MAX_LINES);
    assert_true(strlen(line) < sizeof c->line[0]);
    strcpy(c->line[c->n++], line);
}

/* Parses s over fresh defaults. */
static int parse(const char *s)
{
    memset(&cap, 0, sizeof cap);
    lg__options_defaults(&opt);
    return lg__options_parse(&opt, s, on_err, &cap);
}

static void assert_defaults(const struct lg__options *o)
{
    assert_string_equal(o->log, "");
    assert_int_equal(o->format, LG__FORMAT_TEXT);
    assert_int_equal(o->mode, LG__MODE_REPORT);
    assert_int_equal(o->exitcode, 0);
    assert_int_equal(o->dedupe, 1);
    assert_int_equal(o->max_frames, 32);
    assert_int_equal(o->max_reports, 1000);
}

/* The single line produced must be well formed and contain every needle. */
static void assert_one_line(const char *n1, const char *n2, const char *n3)
{
    const char *needles[] = {n1, n2, n3};
    assert_int_equal(cap.n, 1);
    const char *l = cap.line[0];
    assert_int_equal(strncmp(l, PREFIX, strlen(PREFIX)), 0);
    assert_null(strchr(l, '\n'));
    assert_null(strchr(l, '\r'));
    for (int i = 0; i < 3; i++)
        if (needles[i] && !strstr(l, needles[i]))
            fail_msg("line \"%s\" lacks \"%s\"", l, needles[i]);
}

static void test_options_parse_defaults(void **state)
{
    (void)state;
    struct lg__options o;
    memset(&o, 0x5a, sizeof o);
    lg__options_defaults(&o);
    assert_defaults(&o);
    /* The global is statically initialised; init.c overwrites it only from
     * LOOPGUARD_OPTIONS, so without the variable it must hold defaults. */
    if (!getenv("LOOPGUARD_OPTIONS"))
        assert_defaults(&lg__opt);
}

static void test_options_parse_every_key(void **state)
{
    (void)state;
    assert_int_equal(parse("log=/tmp/lg.%p.jsonl:format=json:mode=abort:"
                           "exitcode=23:dedupe=0:max_frames=7"),
                     0);
    assert_int_equal(cap.n, 0);
    assert_string_equal(opt.log, "/tmp/lg.%p.jsonl");
    assert_int_equal(opt.format, LG__FORMAT_JSON);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
    assert_int_equal(opt.exitcode, 23);
    assert_int_equal(opt.dedupe, 0);
    assert_int_equal(opt.max_frames, 7);
}

static void test_options_parse_values_and_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t off;
        int want;
    } ok[] = {
        {"format=text", offsetof(struct lg__options, format), 0},
        {"format=json", offsetof(struct lg__options, format), 1},
        {"mode=report", offsetof(struct lg__options, mode), 0},
        {"mode=abort", offsetof(struct lg__options, mode), 1},
        {"exitcode=0", offsetof(struct lg__options, exitcode), 0},
        {"exitcode=255", offsetof(struct lg__options, exitcode), 255},
        {"exitcode=000000000000000000000042",
         offsetof(struct lg__options, exitcode), 42},
        {"dedupe=0", offsetof(struct lg__options, dedupe), 0},
        {"dedupe=false", offsetof(struct lg__options, dedupe), 0},
        {"dedupe=1", offsetof(struct lg__options, dedupe), 1},
        {"dedupe=true", offsetof(struct lg__options, dedupe), 1},
        {"max_frames=1", offsetof(struct lg__options, max_frames), 1},
        {"max_frames=64", offsetof(struct lg__options, max_frames), 64},
        {"max_reports=0", offsetof(struct lg__options, max_reports), 0},
        {"max_reports=1000000000", offsetof(struct lg__options, max_reports),
         1000000000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        /* Start from the opposite value so a no-op cannot pass. */
        memset(&cap, 0, sizeof cap);
        lg__options_defaults(&opt);
        int *field = (int *)(void *)((char *)&opt + ok[i].off);
        *field = ok[i].want + 1;
        assert_int_equal(lg__options_parse(&opt, ok[i].in, on_err, &cap), 0);
        assert_int_equal(cap.n, 0);
        if (*field != ok[i].want)
            fail_msg("%s gave %d", ok[i].in, *field);
    }
}

static void test_options_parse_log_path(void **state)
{
    (void)state;
    char in[LG__LOG_PATH_MAX + 16];
    /* The longest path that fits: LG__LOG_PATH_MAX - 1 bytes. */
    strcpy(in, "log=/");
    memset(in + 5, 'a', LG__LOG_PATH_MAX - 2);
    in[5 + LG__LOG_PATH_MAX - 2] = '\0';
    assert_int_equal(parse(in), 0);
    assert_int_equal(strlen(opt.log), LG__LOG_PATH_MAX - 1);
    assert_memory_equal(opt.log, in + 4, LG__LOG_PATH_MAX - 1);

    /* One byte more is refused, and the line stays short. */
    strcat(in, "b");
    assert_int_equal(parse(in), 1);
    assert_one_line("'log'", "too long", "using stderr");
    assert_true(strlen(cap.line[0]) < 300);
    assert_string_equal(opt.log, "");

    /* %p is the opener's business: kept verbatim. */
    assert_int_equal(parse("log=lg.%p.%p.txt"), 0);
    assert_string_equal(opt.log, "lg.%p.%p.txt");
}

/* Each bad entry: one line naming it, return 1, every option default. */
static void test_options_parse_bad_entries(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *n1, *n2, *n3;
    } bad[] = {
        {"fomat=json", "unknown option 'fomat'", "ignored", "format"},
        {"FORMAT=json", "unknown option 'FORMAT'", "ignored", NULL},
        {"foo", "'foo' has no value", "expected key=value", "ignored"},
        {"format", "'format' has no value", "key=value", "ignored"},
        {"=json", "'json' has no key", "key=value", "ignored"},
        {"format=xml", "bad value 'xml' for 'format'",
         "(expected text or json)", "; using text"},
        {"format=JSON", "'JSON'", "'format'", "using text"},
        {"mode=warn", "bad value 'warn' for 'mode'",
         "expected report or abort", "using report"},
        {"exitcode=256", "bad value '256' for 'exitcode'", "0 to 255",
         "using 0"},
        {"exitcode=-1", "'-1'", "'exitcode'", "using 0"},
        {"exitcode=+1", "'+1'", "'exitcode'", "using 0"},
        {"exitcode=12abc", "bad value '12abc' for 'exitcode'", "decimal",
         "using 0"},
        {"exitcode=0x10", "'0x10'", "'exitcode'", "using 0"},
        {"exitcode=99999999999999999999999999", "'9999", "'exitcode'",
         "using 0"},
        {"exitcode=' 1'", "bad value ' 1' for 'exitcode'", NULL, NULL},
        {"max_frames=0", "bad value '0' for 'max_frames'", "1 to 64",
         "using 32"},
        {"max_frames=65", "'65'", "'max_frames'", "using 32"},
        {"max_frames=4294967328", "'4294967328'", "'max_frames'",
         "using 32"},
        {"max_frames=3.5", "'3.5'", "'max_frames'", "using 32"},
        {"max_reports=1000000001", "bad value '1000000001' for 'max_reports'",
         "0 to 1000000000", "using 1000"},
        {"max_reports=-1", "'-1'", "'max_reports'", "using 1000"},
        {"dedupe=2", "bad value '2' for 'dedupe'", "0, 1, true or false",
         "using 1"},
        {"dedupe=yes", "'yes'", "'dedupe'", "using 1"},
        {"format=", "empty value for 'format'", "text or json",
         "using text"},
        {"mode=''", "empty value for 'mode'", "report or abort", NULL},
        {"exitcode=\"\"", "empty value for 'exitcode'", "0 to 255", NULL},
        {"max_frames=", "empty value for 'max_frames'", "using 32", NULL},
        {"dedupe=", "empty value for 'dedupe'", "using 1", NULL},
        {"log=", "empty value for 'log'", "file path", "using stderr"},
        {"log='/tmp/a:format=json", "unterminated ' quote", "'log'",
         "using stderr"},
        {"format=\"json", "unterminated \" quote", "'format'",
         "using text"},
        {"nosuch='a:b:c", "unknown option 'nosuch'", "ignored", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = parse(bad[i].in);
        if (n != 1 || cap.n != 1)
            fail_msg("%s: returned %d, %d lines", bad[i].in, n, cap.n);
        assert_one_line(bad[i].n1, bad[i].n2, bad[i].n3);
        assert_defaults(&opt);
    }
}

static void test_options_parse_bad_keeps_previous(void **state)
{
    (void)state;
    assert_int_equal(parse("format=json:format=xml:log=/tmp/x:log="), 2);
    assert_int_equal(cap.n, 2);
    assert_int_equal(opt.format, LG__FORMAT_JSON);
    assert_string_equal(opt.log, "/tmp/x");
    assert_non_null(strstr(cap.line[0], "'xml'"));
    assert_non_null(strstr(cap.line[0], "using json"));
    assert_non_null(strstr(cap.line[1], "using '/tmp/x'"));

    /* Good entries around bad ones still apply; the count is exact. */
    assert_int_equal(parse("a:mode=abort:b=1:exitcode=300:exitcode=9"), 3);
    assert_int_equal(cap.n, 3);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
    assert_int_equal(opt.exitcode, 9);
}

static void test_options_parse_unterminated_swallows_rest(void **state)
{
    (void)state;
    /* Everything after an open quote belongs to the value, so the entries
     * that follow are not applied. */
    assert_int_equal(parse("mode=abort:log='/tmp/a:format=json"), 1);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
    assert_int_equal(opt.format, LG__FORMAT_TEXT);
    assert_string_equal(opt.log, "");
}

static void test_options_parse_quoting(void **state)
{
    (void)state;
    assert_int_equal(parse("log='/tmp/a:b.log'"), 0);
    assert_string_equal(opt.log, "/tmp/a:b.log");
    assert_int_equal(parse("log=\"/tmp/a b,c.log\":format=json"), 0);
    assert_string_equal(opt.log, "/tmp/a b,c.log");
    assert_int_equal(opt.format, LG__FORMAT_JSON);
    assert_int_equal(parse("log=/tmp/'x:y'.log"), 0);
    assert_string_equal(opt.log, "/tmp/x:y.log");
    assert_int_equal(parse("log=\"it's\""), 0);
    assert_string_equal(opt.log, "it's");
    assert_int_equal(parse("log='say \"hi\"'"), 0);
    assert_string_equal(opt.log, "say \"hi\"");
    assert_int_equal(parse("format='json' mode=\"abort\""), 0);
    assert_int_equal(opt.format, LG__FORMAT_JSON);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
    /* How the launcher writes a ' inside a value (tools/loopguard.c). */
    assert_int_equal(parse("log='/tmp/it'\"'\"'s:x'"), 0);
    assert_string_equal(opt.log, "/tmp/it's:x");
    assert_int_equal(parse("log=a=b"), 0);
    assert_string_equal(opt.log, "a=b");
}

static void test_options_parse_separators(void **state)
{
    (void)state;
    assert_int_equal(parse(" :format=json, mode=abort\texitcode=3\n:"
                           "dedupe=false,,  :: max_frames=5\r\n"),
                     0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(opt.format, LG__FORMAT_JSON);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
    assert_int_equal(opt.exitcode, 3);
    assert_int_equal(opt.dedupe, 0);
    assert_int_equal(opt.max_frames, 5);

    /* Only separators: nothing to do, nothing to say. */
    assert_int_equal(parse(" ::,, \t"), 0);
    assert_int_equal(cap.n, 0);
    assert_defaults(&opt);
}

static void test_options_parse_repeated(void **state)
{
    (void)state;
    assert_int_equal(parse("max_frames=5:max_frames=9,max_frames=12"), 0);
    assert_int_equal(opt.max_frames, 12);
    assert_int_equal(parse("log=/a:log=/b"), 0);
    assert_string_equal(opt.log, "/b");
    assert_int_equal(parse("dedupe=0 dedupe=true"), 0);
    assert_int_equal(opt.dedupe, 1);
}

/* suppressions= adds a file each time, in order, up to 8. */
static void test_options_parse_suppressions(void **state)
{
    (void)state;
    assert_int_equal(parse("suppressions=/a.supp:format=json,"
                           "suppressions='/b c:d.supp'"),
                     0);
    assert_int_equal(opt.suppressions.n, 2);
    assert_string_equal(opt.suppressions.path[0], "/a.supp");
    assert_string_equal(opt.suppressions.path[1], "/b c:d.supp");
    assert_int_equal(opt.format, LG__FORMAT_JSON);

    assert_int_equal(parse("suppressions=:mode=abort"), 1);
    assert_one_line("empty value for 'suppressions'", "file path",
                    "; ignored");
    assert_int_equal(opt.suppressions.n, 0);
    assert_int_equal(opt.mode, LG__MODE_ABORT);

    char in[LG__LOG_PATH_MAX + 32];
    strcpy(in, "suppressions=/");
    memset(in + 14, 's', LG__LOG_PATH_MAX - 1);
    in[14 + LG__LOG_PATH_MAX - 1] = '\0';
    assert_int_equal(parse(in), 1);
    assert_one_line("'suppressions'", "too long", "; ignored");
    assert_int_equal(opt.suppressions.n, 0);

    char many[512] = "";
    for (int i = 0; i <= LG__SUPP_FILES_MAX; i++)
        sprintf(many + strlen(many), "suppressions=/f%d:", i);
    assert_int_equal(parse(many), 1);
    assert_one_line("more than 8 values for 'suppressions'", "'/f8'",
                    "ignored");
    assert_int_equal(opt.suppressions.n, LG__SUPP_FILES_MAX);
    assert_string_equal(opt.suppressions.path[7], "/f7");
}

static void test_options_parse_null_and_empty(void **state)
{
    (void)state;
    struct lg__options o;
    lg__options_defaults(&o);
    o.format = LG__FORMAT_JSON;
    strcpy(o.log, "/kept");
    memset(&cap, 0, sizeof cap);
    assert_int_equal(lg__options_parse(&o, NULL, on_err, &cap), 0);
    assert_int_equal(lg__options_parse(&o, "", on_err, &cap), 0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(o.format, LG__FORMAT_JSON);
    assert_string_equal(o.log, "/kept");
}

static void test_options_parse_null_err(void **state)
{
    (void)state;
    /* Without a callback problems are still counted. */
    lg__options_defaults(&opt);
    assert_int_equal(lg__options_parse(&opt, "x:format=xml:mode=abort",
                                       NULL, NULL),
                     2);
    assert_int_equal(opt.mode, LG__MODE_ABORT);
}

static void test_options_parse_message_is_one_line(void **state)
{
    (void)state;
    char in[600];
    /* A quoted newline must not split the line. */
    assert_int_equal(parse("format='a\nb'"), 1);
    assert_one_line("'a?b'", "'format'", NULL);

    /* A huge value is cut in the message, not in the count. */
    strcpy(in, "format=");
    memset(in + 7, 'x', 500);
    in[507] = '\0';
    assert_int_equal(parse(in), 1);
    assert_one_line("...'", "'format'", "using text");
    assert_true(strlen(cap.line[0]) < 300);

    strcpy(in, "k");
    memset(in + 1, 'y', 500);
    in[501] = '\0';
    assert_int_equal(parse(in), 1);
    assert_one_line("has no value", "...'", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parse_defaults),
        cmocka_unit_test(test_options_parse_every_key),
        cmocka_unit_test(test_options_parse_values_and_bounds),
        cmocka_unit_test(test_options_parse_log_path),
        cmocka_unit_test(test_options_parse_bad_entries),
        cmocka_unit_test(test_options_parse_bad_keeps_previous),
        cmocka_unit_test(test_options_parse_unterminated_swallows_rest),
        cmocka_unit_test(test_options_parse_quoting),
        cmocka_unit_test(test_options_parse_separators),
        cmocka_unit_test(test_options_parse_repeated),
        cmocka_unit_test(test_options_parse_suppressions),
        cmocka_unit_test(test_options_parse_null_and_empty),
        cmocka_unit_test(test_options_parse_null_err),
        cmocka_unit_test(test_options_parse_message_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
