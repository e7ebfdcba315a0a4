/* lg__symbolize on libraries built here with cc and objcopy: a stripped
 * library named through its .gnu_debuglink file in .debug/, one without a
 * debug file, one whose debug file has another build-id (refused), a
 * library dlopened by a relative path (reported by its absolute path), and
 * one replaced on disk after it was loaded. */
#include <dlfcn.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "skip.h"

static char dir[PATH_MAX];        /* real path of the fixture directory */

static const char fixture_src[] =
    "#ifdef PAD\n"
    "static __attribute__((noinline, used)) int pad_fn(int x)\n"
    "{ __asm__ volatile(\"\" : \"+r\"(x)); return x * 5 + PAD; }\n"
    "#endif\n"
    "static __attribute__((noinline)) int hidden_fn(int x)\n"
    "{ __asm__ volatile(\"\" : \"+r\"(x)); return x * 3 + TAG; }\n"
    "void *fixture_hidden(void) { return (void *)hidden_fn; }\n";

static int sh(const char *cmd)
{
    char buf[4 * PATH_MAX];
    snprintf(buf, sizeof buf, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
    return system(buf);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/lg-symbolize-XXXXXX", src[PATH_MAX + 64];
    if (system("(command -v cc && command -v objcopy) >/dev/null 2>&1") != 0
        || !mkdtemp(tmpl) || !realpath(tmpl, dir)) {
        dir[0] = '\0';
        return 0;     /* the tests skip */
    }
    snprintf(src, sizeof src, "%s/fix.c", dir);
    FILE *f = fopen(src, "w");
    if (!f)
        return -1;
    fputs(fixture_src, f);
    fclose(f);
#define CC "cc -shared -fPIC -O1 -g -fno-toplevel-reorder -Wl,--build-id" \
           " fix.c "
    if (sh(CC "-DTAG=1 -o libfix-a.so && mkdir .debug"
              " && objcopy --only-keep-debug libfix-a.so .debug/libfix-a.dbg"
              " && objcopy --strip-all --add-gnu-debuglink="
              ".debug/libfix-a.dbg libfix-a.so")
        || sh(CC "-DTAG=1 -o libfix-b.so && objcopy --strip-all libfix-b.so")
        || sh(CC "-DTAG=2 -o libfix-d.so && objcopy --strip-all"
                 " --add-gnu-debuglink=.debug/libfix-a.dbg libfix-d.so")
        || sh(CC "-DTAG=3 -o libfix-c.so")
        || sh(CC "-DTAG=4 -o libfix-e.so")
        || sh(CC "-DTAG=5 -DPAD=64 -o libfix-e.new"))
        return -1;
#undef CC
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (dir[0])
        sh("rm -rf .debug fix.c libfix-a.so libfix-b.so libfix-c.so "
           "libfix-d.so libfix-e.so libfix-e.new && rmdir \"$PWD\"");
    return 0;
}

/* Loads dir/name and symbolizes its static hidden_fn + 1. */
static void hidden(const char *name, struct lg__sym *s)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    void *(*get)(void) = (void *(*)(void))dlsym(h, "fixture_hidden");
    assert_non_null(get);
    lg__symbolize((uintptr_t)get() + 1, 0, s);
    assert_non_null(s->module);
    assert_string_equal(s->module, path);
}

static void test_symbolize_debuglink(void **state)
{
    (void)state;
    struct lg__sym s;
    if (!dir[0])
        LG_SKIP("no fixture: cc, objcopy or a directory in /tmp missing");
    hidden("libfix-a.so", &s);
    assert_non_null(s.name);
    assert_string_equal(s.name, "hidden_fn");
    assert_int_equal(s.symoff, 1);
}

static void test_symbolize_stripped(void **state)
{
    (void)state;
    struct lg__sym s;
    if (!dir[0])
        LG_SKIP("no fixture: cc, objcopy or a directory in /tmp missing");
    hidden("libfix-b.so", &s);
    assert_null(s.name);
    assert_int_equal(s.symoff, 0);
    /* A debug file of another build is not believed. */
    hidden("libfix-d.so", &s);
    assert_null(s.name);
}

static void test_symbolize_relative(void **state)
{
    (void)state;
    char cwd[PATH_MAX], want[PATH_MAX + 64];
    struct lg__sym s;
    Dl_info info;
    if (!dir[0])
        LG_SKIP("no fixture: cc, objcopy or a directory in /tmp missing");
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    void *h = dlopen("./libfix-c.so", RTLD_NOW | RTLD_LOCAL);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(h);
    void *(*get)(void) = (void *(*)(void))dlsym(h, "fixture_hidden");
    assert_non_null(get);
    uintptr_t pc = (uintptr_t)get() + 2;
    assert_int_not_equal(dladdr((void *)pc, &info), 0);
    assert_string_equal(info.dli_fname, "./libfix-c.so");

    lg__symbolize(pc, 0, &s);
    snprintf(want, sizeof want, "%s/libfix-c.so", dir);
    assert_non_null(s.module);
    assert_string_equal(s.module, want);
    assert_non_null(s.name);
    assert_string_equal(s.name, "hidden_fn");
    assert_int_equal(s.symoff, 2);
    /* An exported function of it: dladdr names it, the path is still
     * made absolute. */
    lg__symbolize((uintptr_t)get + 1, 1, &s);
    assert_string_equal(s.module, want);
    assert_string_equal(s.name, "fixture_hidden");
}

/* A library replaced on disk after it was loaded (a package upgrade): its
 * new file's symbols would name the old code wrongly, so the table is
 * refused and dladdr answers from memory. */
static void test_symbolize_replaced(void **state)
{
    (void)state;
    char path[PATH_MAX + 64];
    struct lg__sym s;
    if (!dir[0])
        LG_SKIP("no fixture: cc, objcopy or a directory in /tmp missing");
    snprintf(path, sizeof path, "%s/libfix-e.so", dir);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    assert_int_equal(sh("mv libfix-e.new libfix-e.so"), 0);
    void *(*get)(void) = (void *(*)(void))dlsym(h, "fixture_hidden");
    assert_non_null(get);

    lg__symbolize((uintptr_t)get() + 1, 0, &s);
    assert_string_equal(s.module, path);
    assert_null(s.name);
    lg__symbolize((uintptr_t)get + 1, 0, &s);
    assert_non_null(s.name);
    assert_string_equal(s.name, "fixture_hidden");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_debuglink),
        cmocka_unit_test(test_symbolize_stripped),
        cmocka_unit_test(test_symbolize_relative),
        cmocka_unit_test(test_symbolize_replaced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
