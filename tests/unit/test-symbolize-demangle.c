/* lg__demangle: C++ through a libstdc++ loaded at run time (and names left
 * alone before it is), Rust legacy and v0 names without it, plain
 * names unchanged, truncation. The tests run in order in one process: the
 * first one needs libstdc++ not loaded yet. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "skip.h"

#define CXX_PUSH_BACK "_ZNSt6vectorIiSaIiEE9push_backERKi"
#define RUST_RECV                                                             \
    "_ZN3std4sync4mpsc17Receiver$LT$T$GT$4recv17h0123456789abcdefE"

static void expect(const char *mangled, const char *want)
{
    char out[512];
    memset(out, 'x', sizeof out);
    size_t n = lg__demangle(mangled, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_symbolize_demangle_no_libstdcxx(void **state)
{
    (void)state;
    /* Sanitizer runtimes (libubsan) may have loaded it already. */
    void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (h) {
        dlclose(h);
        LG_SKIP("libstdc++ was loaded before the test (a sanitizer runtime)");
    }
    expect(CXX_PUSH_BACK, CXX_PUSH_BACK);
    expect(CXX_PUSH_BACK, CXX_PUSH_BACK);   /* the miss is remembered */
    /* Rust programs rarely load libstdc++: decoded without it. */
    expect(RUST_RECV, "std::sync::mpsc::Receiver<T>::recv");
}

static void test_symbolize_demangle_cxx(void **state)
{
    (void)state;
    /* Found on the first call after the load: no waiting period. */
    assert_non_null(dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL));
    expect(CXX_PUSH_BACK,
           "std::vector<int, std::allocator<int> >::push_back(int const&)");
    expect("_Z3foov.cold", "foo() [clone .cold]");
    expect("_Zjunk", "_Zjunk");
    expect("_Z", "_Z");
}

static void test_symbolize_demangle_rust(void **state)
{
    (void)state;
    expect(RUST_RECV, "std::sync::mpsc::Receiver<T>::recv");
    expect("_ZN54_$LT$$LP$$RP$$u20$as$u20$std..process..Termination$GT$"
           "6report17h2585065ca48fe458E",
           "<() as std::process::Termination>::report");
    expect("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$"
           "17h168e94e611939a97E",
           "std::rt::lang_start::{{closure}}");
    expect("_ZN4core3ptr13drop_in_place17hAABBCCDDEEFF0011E.llvm.12345",
           "core::ptr::drop_in_place");
    expect("_ZN4core3ptr13drop_in_place17hAABBCCDDEEFF0011E.2321",
           "core::ptr::drop_in_place");
    expect("_ZN1a11$RF$$BP$$C$17h0123456789abcdefE", "a::&*,");
    expect("_ZN1a15$u5b$$u5d$$u7e$17h0123456789abcdefE", "a::[]~");
    expect("_ZN1a9$u27$$SP$17h0123456789abcdefE", "a::'@");
    expect("_ZN1a7$u3bb$x17h0123456789abcdefE", "a::\xce\xbbx");
    /* Not Rust: no hash, or the hash is not last; left to the C++ rules. */
    expect("_ZN3foo3barEv", "foo::bar()");
    expect("_ZN3foo17h0123456789abcdefEv",
           "foo::h0123456789abcdef()");
}

static void test_symbolize_demangle_plain(void **state)
{
    (void)state;
    expect("main", "main");
    expect("uv_run", "uv_run");
    expect("", "");
    expect("_start", "_start");
    /* Rust v0: decoded here, not by __cxa_demangle; malformed ones are
     * left as they are. */
    expect("_RNvCs1234_7mycrate4main", "mycrate::main");
    expect("_RNvCs1234_7mycrate4mai", "_RNvCs1234_7mycrate4mai");
}

static void test_symbolize_demangle_truncate(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    assert_int_equal(lg__demangle(CXX_PUSH_BACK, out, sizeof out), 7);
    assert_string_equal(out, "std::ve");
    assert_int_equal(lg__demangle(RUST_RECV, out, 5), 4);
    assert_string_equal(out, "std:");
    assert_int_equal(lg__demangle("read_all_of_it", out, 4), 3);
    assert_string_equal(out, "rea");
    assert_int_equal(lg__demangle("read", out, 1), 0);
    assert_string_equal(out, "");
    out[0] = 'x';
    assert_int_equal(lg__demangle("read", out, 0), 0);
    assert_int_equal(out[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_demangle_no_libstdcxx),
        cmocka_unit_test(test_symbolize_demangle_cxx),
        cmocka_unit_test(test_symbolize_demangle_rust),
        cmocka_unit_test(test_symbolize_demangle_plain),
        cmocka_unit_test(test_symbolize_demangle_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
