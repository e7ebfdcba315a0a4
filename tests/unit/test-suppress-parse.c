/* Suppressions files (suppress.c): every kind of rule, rules limited to a
 * record type, comments and blank lines, each bad line with one FILE:LINE
 * message, unreadable files, the limits; the glob matcher; and which rule
 * a stack of demangled C, C++ and Rust names matches. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "skip.h"

#define MAX_MSGS 8

struct capture {
    int n;
    int line[MAX_MSGS];
    char msg[MAX_MSGS][2048];
};

static struct capture cap;
static struct lg__supp set;

static void on_err(void *arg, int line, const char *msg)
{
    struct capture *c = arg;
    assert_ptr_equal(c, &cap);
    assert_true(c->n < MAX_MSGS);
    assert_null(strchr(msg, '\n'));
    assert_true(strlen(msg) < sizeof c->msg[0]);
    c->line[c->n] = line;
    strcpy(c->msg[c->n++], msg);
}

static void reset(void)
{
    memset(&cap, 0, sizeof cap);
    memset(&set, 0, sizeof set);
}

static int parse(const char *file, const char *text)
{
    return lg__supp_parse(&set, file, text, strlen(text), on_err, &cap);
}

static void expect_rule(int i, int type, int kind, const char *pattern,
                        const char *text, int line)
{
    const struct lg__supp_rule *r = &set.rules[i];
    assert_true(i < set.nrules);
    assert_int_equal(r->type, type);
    assert_int_equal(r->kind, kind);
    assert_string_equal(r->text + r->pattern, pattern);
    assert_string_equal(r->text, text);
    assert_int_equal(r->line, line);
}

/* Message i names file:line first, and says `what`. */
static void expect_msg(int i, const char *file, int line, const char *what)
{
    char where[1100];
    if (line)
        snprintf(where, sizeof where, "%s:%d: ", file, line);
    else
        snprintf(where, sizeof where, "%s: ", file);
    assert_true(i < cap.n);
    assert_int_equal(cap.line[i], line);
    if (strncmp(cap.msg[i], where, strlen(where)) != 0 ||
        !strstr(cap.msg[i], what))
        fail_msg("message \"%s\": expected \"%s...%s...\"", cap.msg[i],
                 where, what);
}

static void test_suppress_parse_kinds(void **state)
{
    (void)state;
    reset();
    assert_int_equal(parse("a.supp",
                           "# blocking calls we accept\n"
                           "call:nanosleep\n"
                           "\n"
                           "   \t\r\n"
                           "caller:on_*\n"
                           "  function: Cache::lookup(*)  \r\n"
                           "\t# an indented comment: call:read\n"
                           "module:*/libfoo.so*\n"
                           "blocking_call:call:read\n"
                           "stall:function:busy_spin\n"
                           "deadlock:caller:worker\n"
                           "lock_order_inversion : module : */liba.so\n"
                           "stall:call:pthread_mutex_lock"),
                     0);
    assert_int_equal(cap.n, 0);
    assert_int_equal(set.nrules, 9);
    assert_int_equal(set.nfiles, 1);
    assert_string_equal(set.files[0], "a.supp");
    expect_rule(0, LG__REC_BLOCKING_CALL, LG__SUPP_CALL, "nanosleep",
                "call:nanosleep", 2);
    expect_rule(1, LG__REC_BLOCKING_CALL, LG__SUPP_CALLER, "on_*",
                "caller:on_*", 5);
    /* Blanks around the line and after the kind's colon go; inside the
     * pattern they stay (C++ names have them). */
    expect_rule(2, LG__REC_BLOCKING_CALL, LG__SUPP_FUNCTION,
                "Cache::lookup(*)", "function: Cache::lookup(*)", 6);
    expect_rule(3, LG__REC_BLOCKING_CALL, LG__SUPP_MODULE, "*/libfoo.so*",
                "module:*/libfoo.so*", 8);
    expect_rule(4, LG__REC_BLOCKING_CALL, LG__SUPP_CALL, "read",
                "blocking_call:call:read", 9);
    expect_rule(5, LG__REC_STALL, LG__SUPP_FUNCTION, "busy_spin",
                "stall:function:busy_spin", 10);
    expect_rule(6, LG__REC_DEADLOCK, LG__SUPP_CALLER, "worker",
                "deadlock:caller:worker", 11);
    expect_rule(7, LG__REC_LOCK_ORDER, LG__SUPP_MODULE, "*/liba.so",
                "lock_order_inversion : module : */liba.so", 12);
    /* The last line has no newline. */
    expect_rule(8, LG__REC_STALL, LG__SUPP_CALL, "pthread_mutex_lock",
                "stall:call:pthread_mutex_lock", 13);
    assert_int_equal(set.kinds[LG__REC_BLOCKING_CALL],
                     1u << LG__SUPP_CALL | 1u << LG__SUPP_CALLER |
                         1u << LG__SUPP_FUNCTION | 1u << LG__SUPP_MODULE);
    assert_int_equal(set.kinds[LG__REC_STALL],
                     1u << LG__SUPP_FUNCTION | 1u << LG__SUPP_CALL);
    assert_int_equal(set.kinds[LG__REC_SUMMARY], 0);

    /* Nothing at all, only comments, a lone newline: no rule, no message. */
    reset();
    assert_int_equal(parse("e", ""), 0);
    assert_int_equal(parse("e", "\n\n# x\n#\n"), 0);
    assert_int_equal(set.nrules + cap.n, 0);
}

static void test_suppress_parse_bad_lines(void **state)
{
    (void)state;
    reset();
    /* Each bad line: one message, the line left out, the others kept. */
    int bad = parse("/etc/x.supp", "call:read\n"
                                   "fuction:foo\n"
                                   "call:\n"
                                   "caller:   \n"
                                   "nanosleep\n"
                                   "stall:busy\n"
                                   "stal:function:x\n"
                                   "function:a\001b\n"
                                   "module:m\n");
    assert_int_equal(bad, 7);
    assert_int_equal(cap.n, 7);
    expect_msg(0, "/etc/x.supp", 2, "unknown kind 'fuction'");
    expect_msg(1, "/etc/x.supp", 3, "empty pattern in 'call:'");
    expect_msg(2, "/etc/x.supp", 4, "empty pattern in 'caller:'");
    expect_msg(3, "/etc/x.supp", 5,
               "expected KIND:PATTERN, found 'nanosleep'");
    expect_msg(4, "/etc/x.supp", 6,
               "expected TYPE:KIND:PATTERN, found 'stall:busy'");
    expect_msg(5, "/etc/x.supp", 7, "unknown kind 'stal'");
    expect_msg(6, "/etc/x.supp", 8, "control character in rule 'function:"
                                    "a?b'");
    assert_int_equal(set.nrules, 2);
    expect_rule(0, LG__REC_BLOCKING_CALL, LG__SUPP_CALL, "read", "call:read",
                1);
    expect_rule(1, LG__REC_BLOCKING_CALL, LG__SUPP_MODULE, "m", "module:m",
                9);

    /* 255 bytes is a rule; 256 is one message, even with blanks past it;
     * trailing blanks past the limit do not count; a comment may be any
     * length. */
    reset();
    char text[4096];
    char pat[300];
    memset(pat, 'x', sizeof pat);
    snprintf(text, sizeof text, "function:%.246s   \t\n#%.299s\n"
                                "function:%.247s\nfunction:%.250s  y\n",
             pat, pat, pat, pat);
    assert_int_equal(parse("l", text), 2);
    assert_int_equal(set.nrules, 1);
    assert_int_equal(strlen(set.rules[0].text), 255);
    assert_int_equal(set.rules[0].line, 1);
    expect_msg(0, "l", 3, "rule longer than 255 bytes: 'function:xxx");
    expect_msg(1, "l", 4, "rule longer than 255 bytes");

    /* A file name's control bytes would split the message's line. */
    reset();
    assert_int_equal(parse("a\nb.supp", "bogus\n"), 1);
    expect_msg(0, "a?b.supp", 1, "expected KIND:PATTERN");

    /* A NUL byte is a control character like any other. */
    reset();
    assert_int_equal(lg__supp_parse(&set, "z", "call:a\0b\ncall:c", 15,
                                    on_err, &cap),
                     1);
    expect_msg(0, "z", 1, "control character in rule 'call:a?b'");
    assert_int_equal(set.nrules, 1);
}

static void test_suppress_parse_limits(void **state)
{
    (void)state;
    reset();
    static char text[LG__SUPP_MAX * 16 + 64];
    size_t n = 0;
    for (int i = 0; i < LG__SUPP_MAX + 3; i++)
        n += (size_t)sprintf(text + n, "call:c%d\n", i);
    /* One message for the first rule past the limit, none after. */
    assert_int_equal(parse("many", text), 1);
    expect_msg(0, "many", LG__SUPP_MAX + 1, "more than 256 rules");
    assert_int_equal(set.nrules, LG__SUPP_MAX);
    assert_int_equal(parse("more", "call:x\n"), 0);
    assert_int_equal(set.nrules, LG__SUPP_MAX);

    /* Eight files; a ninth is refused whole. */
    reset();
    char name[16];
    for (int i = 0; i < LG__SUPP_FILES_MAX; i++) {
        snprintf(name, sizeof name, "f%d", i);
        assert_int_equal(parse(name, "call:x\n"), 0);
    }
    assert_int_equal(parse("ninth", "call:x\n"), 1);
    expect_msg(0, "ninth", 0, "more than 8 files");
    assert_int_equal(set.nrules, LG__SUPP_FILES_MAX);
    assert_string_equal(set.files[7], "f7");
}

static void test_suppress_parse_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/lg-supp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64], missing[64];
    snprintf(a, sizeof a, "%s/a.supp", dir);
    snprintf(b, sizeof b, "%s/b.supp", dir);
    snprintf(missing, sizeof missing, "%s/none.supp", dir);

    /* CRLF lines, and a rule across the reader's 1 KiB pieces. */
    FILE *f = fopen(a, "w");
    assert_non_null(f);
    fputs("# first file\r\ncall:nanosleep\r\n#", f);
    for (int i = 0; i < 4100; i++)
        fputc('-', f);
    fputs("\r\n", f);
    for (int i = 0; i < 4096 - 60; i++)
        fputc(' ', f);
    fputs("function:straddles_the_boundary\r\nbogus\r\n", f);
    fclose(f);
    f = fopen(b, "w");
    assert_non_null(f);
    fputs("stall:caller:on_busy\n", f);
    fclose(f);

    reset();
    assert_int_equal(lg__supp_load(&set, a, on_err, &cap), 1);
    expect_msg(0, a, 5, "expected KIND:PATTERN, found 'bogus'");
    assert_int_equal(lg__supp_load(&set, b, on_err, &cap), 0);
    errno = 1234;
    assert_int_equal(lg__supp_load(&set, missing, on_err, &cap), 1);
    assert_int_equal(errno, 1234);
    expect_msg(1, missing, 0, "cannot open: No such file or directory");
    assert_int_equal(lg__supp_load(&set, dir, on_err, &cap), 1);
    expect_msg(2, dir, 0, "cannot read: Is a directory");
    assert_int_equal(cap.n, 3);
    assert_int_equal(set.nrules, 3);
    expect_rule(0, LG__REC_BLOCKING_CALL, LG__SUPP_CALL, "nanosleep",
                "call:nanosleep", 2);
    expect_rule(1, LG__REC_BLOCKING_CALL, LG__SUPP_FUNCTION,
                "straddles_the_boundary", "function:straddles_the_boundary",
                4);
    expect_rule(2, LG__REC_STALL, LG__SUPP_CALLER, "on_busy",
                "stall:caller:on_busy", 1);
    assert_string_equal(set.files[set.rules[0].file], a);
    assert_string_equal(set.files[set.rules[2].file], b);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

static void test_suppress_parse_glob(void **state)
{
    (void)state;
    static const struct {
        const char *glob, *str;
        int match;
    } cases[] = {
        {"read", "read", 1},
        {"read", "readv", 0},          /* whole names only */
        {"read", "pread", 0},
        {"read*", "readv", 1},
        {"*read", "pread", 1},
        {"*", "", 1},
        {"*", "anything", 1},
        {"", "", 1},
        {"", "x", 0},
        {"?", "", 0},
        {"?", "x", 1},
        {"??", "x", 0},
        {"re?d", "read", 1},
        {"re?d", "reed", 1},
        {"re?d", "red", 0},
        {"a*b*c", "aXbYc", 1},
        {"a*b*c", "abc", 1},
        {"a*b*c", "acb", 0},
        {"a*b*c", "abcabcabcab", 0},
        {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 1},
        {"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
        {"**x**", "yyxyy", 1},
        {"on_*", "on_timer", 1},
        {"on_*", "xon_timer", 0},
        {"Cache::lookup(*)", "Cache::lookup(int, char const*)", 1},
        {"std::vector<*>::push_back*",
         "std::vector<int, std::allocator<int> >::push_back(int const&)", 1},
        {"*/libuv.so*", "/lib/x86_64-linux-gnu/libuv.so.1", 1},
        {"*/libuv.so*", "/lib/x86_64-linux-gnu/libuv-ext.so.1", 0},
        {"a*", "a*", 1},               /* a star matches a star too */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (lg__supp_glob(cases[i].glob, cases[i].str) != cases[i].match)
            fail_msg("glob '%s' on '%s': expected %d", cases[i].glob,
                     cases[i].str, cases[i].match);
}

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define APP "/work/app"

static struct lg__sym frame(const char *name, const char *module)
{
    return (struct lg__sym){0x1000, module, 0x10, name, 0};
}

static void test_suppress_parse_match(void **state)
{
    (void)state;
    reset();
    assert_int_equal(parse("m", "stall:function:queue_pop\n"     /* 0 */
                                "call:sem_*\n"                   /* 1 */
                                "caller:helper\n"                /* 2 */
                                "function:queue_pop\n"           /* 3 */
                                "module:*/libplugin.so\n"        /* 4 */
                                "caller:libc_inner\n"            /* 5 */
                                "deadlock:call:pthread_join\n"   /* 6 */
                                "lock_order_inversion:function:b_then_a\n"),
                     0);
    /* Innermost first: inside libc, then the program's frames. */
    struct lg__sym f[] = {
        frame("libc_inner", LIBC), frame("helper", APP),
        frame("queue_pop", APP),   frame("on_tick", APP),
        frame(NULL, NULL),         frame("main", APP),
    };
    int n = 6;
    /* The first rule of the type that matches wins: rule 2 (the caller)
     * before rule 3 (a frame further out). */
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read", f,
                                    n),
                     2);
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL,
                                    "sem_wait", f, n),
                     1);
    /* The caller is the first frame outside the C runtime: libc_inner is
     * never one. */
    f[1].name = "other";
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read", f,
                                    n),
                     3);
    f[2].name = "other";
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read", f,
                                    n),
                     -1);
    /* A caller rule looks at that frame only. */
    f[1].name = "on_tick";
    f[3].name = "helper";
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read", f,
                                    n),
                     -1);
    f[4].module = "/opt/x/libplugin.so";
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read", f,
                                    n),
                     4);
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, NULL, f,
                                    0),
                     -1);
    /* Type-limited rules match their type only. */
    f[2].name = "queue_pop";
    assert_int_equal(lg__supp_match(&set, LG__REC_STALL, "read", f, n), 0);
    assert_int_equal(lg__supp_match(&set, LG__REC_STALL, NULL, f + 3, 3),
                     -1);
    assert_int_equal(lg__supp_match(&set, LG__REC_DEADLOCK, "pthread_join",
                                    f, n),
                     6);
    assert_int_equal(lg__supp_match(&set, LG__REC_DEADLOCK, "sem_wait", f,
                                    n),
                     -1);
    f[5].name = "b_then_a";
    assert_int_equal(lg__supp_match(&set, LG__REC_LOCK_ORDER,
                                    "pthread_mutex_lock", f, n),
                     7);
    assert_int_equal(lg__supp_match(&set, LG__REC_SUMMARY, "read", f, n),
                     -1);
}

/* Patterns see names as reports show them: demangled. */
static void test_suppress_parse_demangled(void **state)
{
    (void)state;
    reset();
    assert_int_equal(parse("d", "function:std::sync::mpsc::Receiver<T>::recv\n"
                                "function:mycrate::handler\n"
                                "caller:Cache::lookup(int)\n"
                                "function:ns::Queue::pop*\n"),
                     0);
    struct lg__sym rust[] = {
        frame("_ZN3std4sync4mpsc17Receiver$LT$T$GT$4recv17h0123456789abcdefE",
              APP),
    };
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "syscall",
                                    rust, 1),
                     0);
    struct lg__sym v0[] = {frame("_RNvCs1234_7mycrate7handler", APP)};
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "syscall",
                                    v0, 1),
                     1);
    /* C++ names go to the process's __cxa_demangle: a C program has none
     * until libstdc++ is loaded. */
    if (!dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL)) {
        LG_SKIP("cannot load libstdc++.so.6: %s", dlerror());
        return;
    }
    struct lg__sym cxx[] = {
        frame("_ZN5Cache6lookupEi", APP),
        frame("_ZN2ns5Queue3popEv", APP),
    };
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read",
                                    cxx, 2),
                     2);
    /* Another overload is not that caller: the next rule matches. */
    cxx[0].name = "_ZN5Cache6lookupEl";
    assert_int_equal(lg__supp_match(&set, LG__REC_BLOCKING_CALL, "read",
                                    cxx, 2),
                     3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suppress_parse_kinds),
        cmocka_unit_test(test_suppress_parse_bad_lines),
        cmocka_unit_test(test_suppress_parse_limits),
        cmocka_unit_test(test_suppress_parse_files),
        cmocka_unit_test(test_suppress_parse_glob),
        cmocka_unit_test(test_suppress_parse_match),
        cmocka_unit_test(test_suppress_parse_demangled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
