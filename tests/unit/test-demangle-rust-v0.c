/* lg__demangle_rust_v0 against real v0 symbols taken from a small rustc -O
 * program (std::sync::mpsc, a generic fn) with the strings c++filt 2.40
 * prints for them, crate hashes removed; malformed and hostile input must
 * give 0 without reading past the NUL; truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"

static const struct {
    const char *sym, *want;
} cases[] = {
    { "_RINvCsjMaewn57Afh_1t3genFG_RL0_SxEjEB2_",
      "t::gen::<for<'a> fn(&'a [i64]) -> usize>" },
    { "_RINvCsjMaewn57Afh_1t3genTmReEEB2_",
      "t::gen::<(u32, &str)>" },
    { "_RNvCsjMaewn57Afh_1t4main",
      "t::main" },
    { "_RNvXsJ_NtNtCsjrHSEGnQ3l9_3std4sync4mpscNtB5_9RecvErrorNtNtC"
      "sgEmfK2I1SDS_4core3fmt5Debug3fmt",
      "<std::sync::mpsc::RecvError as core::fmt::Debug>::fmt" },
    { "_RNvMs0_NtNtNtCsjrHSEGnQ3l9_3std4sync4mpmc5wakerNtB5_9SyncWa"
      "ker10disconnect.llvm.10199530987838755592",
      "<std::sync::mpmc::waker::SyncWaker>::disconnect" },
    { "_RNvMs3_NtCslNYArtu3iFV_5alloc7raw_vecINtB5_6RawVecTOhFUKCBN"
      "_EuENtNtCsjrHSEGnQ3l9_3std5alloc6SystemE8grow_oneB13_",
      "<alloc::raw_vec::RawVec<(*mut u8, unsafe extern \"C\" fn(*mut "
      "u8)), std::alloc::System>>::grow_one" },
    { "_RINvMs4_NtCsgY6Mt91CT9J_14rustc_demangle2v0NtB6_7Printer13p"
      "rint_backrefNCNvB2_10print_paths_0EB8_",
      "<rustc_demangle::v0::Printer>::print_backref::<<rustc_demang"
      "le::v0::Printer>::print_path::{closure#1}>" },
    { "_RNCNCNCNvNtCsjrHSEGnQ3l9_3std2rt19lang_start_internal00s_0B"
      "9_",
      "std::rt::lang_start_internal::{closure#0}::{closure#0}::{clo"
      "sure#1}" },
    { "_RNvNCNKNvNtNtCsjrHSEGnQ3l9_3std2io5stdio14OUTPUT_CAPTURE002"
      "3___RUST_STD_INTERNAL_VAL",
      "std::io::stdio::OUTPUT_CAPTURE::{K#0}::{closure#0}::__RUST_S"
      "TD_INTERNAL_VAL" },
    { "_RNvXNtNtNtCsgEmfK2I1SDS_4core3fmt3num3imphNtB6_7Display3fmt",
      "<u8 as core::fmt::Display>::fmt" },
    { "_RNvXs1g_NtCsgEmfK2I1SDS_4core3fmtRDNtB6_5DebugEL_Bx_3fmtB8_",
      "<&dyn core::fmt::Debug as core::fmt::Debug>::fmt" },
    { "_RNvXs1g_NtCsgEmfK2I1SDS_4core3fmtRINtNtCslNYArtu3iFV_5alloc"
      "5boxed3BoxDNtNtB8_5error5ErrorNtNtB8_6marker4SyncNtB1r_4Send"
      "EL_ENtB6_5Debug3fmtCsjrHSEGnQ3l9_3std",
      "<&alloc::boxed::Box<dyn core::error::Error + core::marker::S"
      "ync + core::marker::Send> as core::fmt::Debug>::fmt" },
    { "_RNvYNtNvXsf_NtNtCslNYArtu3iFV_5alloc5boxed7convertINtBc_3Bo"
      "xDNtNtCsgEmfK2I1SDS_4core5error5ErrorNtNtB11_6marker4SyncNtB"
      "1y_4SendEL_EINtNtB11_7convert4FromNtNtBe_6string6StringE4fro"
      "m11StringErrorBX_7type_idCsjrHSEGnQ3l9_3std",
      "<<alloc::boxed::Box<dyn core::error::Error + core::marker::S"
      "ync + core::marker::Send> as core::convert::From<alloc::stri"
      "ng::String>>::from::StringError as core::error::Error>::type"
      "_id" },
    /* c++filt prints "10: usize"; rustc-demangle, which we follow,
     * "10usize". */
    { "_RINvNtCsgEmfK2I1SDS_4core6escape14escape_unicodeKja_ECsgY6Mt91CT9J"
      "_14rustc_demangle",
      "core::escape::escape_unicode::<10usize>" },
};

static void test_rust_v0_real_symbols(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[1024];
        memset(out, 'x', sizeof out);
        size_t n = lg__demangle_rust_v0(cases[i].sym, out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
        /* lg__demangle hands _R names over. */
        memset(out, 'x', sizeof out);
        n = lg__demangle(cases[i].sym, out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* Each input in a heap block of its exact size, so ASan catches any read
 * past the NUL. */
static size_t run(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, s, len + 1);
    memset(out, 'x', cap);
    size_t n = lg__demangle_rust_v0(copy, out, cap);
    free(copy);
    assert_true(n < cap);
    assert_int_equal(strlen(out), n);
    return n;
}

static void expect_bad(const char *s)
{
    char out[256];
    assert_int_equal(run(s, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_rust_v0_malformed(void **state)
{
    (void)state;
    char out[256];
    expect_bad("");
    expect_bad("_R");
    expect_bad("_RN");
    expect_bad("_RNv");
    expect_bad("_RC");
    expect_bad("_RC3fo");                 /* ident longer than the rest */
    expect_bad("_R0C3foo");               /* an encoding version */
    expect_bad("_RC3foo!");               /* junk after the path */
    expect_bad("_RNxC3foo3bar" "\x80");
    expect_bad("_RNvBz_4main");           /* backref forwards */
    expect_bad("_RNvB0_4main");           /* backref onto itself */
    expect_bad("_RNvB_4main");            /* loops back through itself */
    expect_bad("_RINvC3foo3barB_E");      /* type backref onto a path */
    expect_bad("_RNvCsZZZZZZZZZZZZZZZZZZZZ_3foo4main");   /* base 62 */
    expect_bad("_RC99999999999999999999999999foo");       /* decimal */
    expect_bad("_RC18446744073709551615_foo");
    expect_bad("_RINvC3foo3barKjfffffffffffffffffZ_E");   /* bad hex */
    expect_bad("_RINvC3foo3barKbg_E");
    expect_bad("_RINvC3foo3barKc110000_E");               /* not a char */
    expect_bad("_RINvC3foo3barRL1_hE");   /* unbound lifetime */
    expect_bad("_RINvC3foo3barFGZZZZZZZZZZZZZZ_uEuE");    /* huge binder */
    expect_bad("_RINvC3foo3barDNtC3std5DebugEE");         /* no lifetime */
    expect_bad("_RZC3foo");
    expect_bad("_ZN3foo3barE");
    expect_bad("main");
    assert_int_equal(lg__demangle_rust_v0(NULL, out, sizeof out), 0);
    assert_int_equal(lg__demangle_rust_v0("_RC3foo", out, 0), 0);

    /* Every prefix of every real symbol: no crash, no overread. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].sym);
        char buf[512];
        assert_true(len < sizeof buf);
        for (size_t k = 0; k < len; k++) {
            memcpy(buf, cases[i].sym, k);
            buf[k] = '\0';
            run(buf, out, sizeof out);
        }
    }
}

/* Nesting past the depth cap fails cleanly instead of using the stack. */
static void test_rust_v0_deep(void **state)
{
    (void)state;
    static char sym[4096];
    char out[64];
    size_t n = 0;
    sym[n++] = '_';
    sym[n++] = 'R';
    for (int i = 0; i < 500; i++) {
        sym[n++] = 'N';
        sym[n++] = 'v';
    }
    memcpy(sym + n, "C1a", 3);
    n += 3;
    for (int i = 0; i < 500; i++) {
        memcpy(sym + n, "1b", 2);
        n += 2;
    }
    sym[n] = '\0';
    assert_int_equal(run(sym, out, sizeof out), 0);

    /* &&&&...u8 as a generic argument */
    n = 0;
    memcpy(sym, "_RINvC1a1b", 10);
    n = 10;
    for (int i = 0; i < 1000; i++)
        sym[n++] = 'R';
    memcpy(sym + n, "hE", 3);
    assert_int_equal(run(sym, out, sizeof out), 0);

    /* A shallow nesting is fine. */
    assert_int_equal(run("_RINvC1a1bRRRhE", out, sizeof out),
                     strlen("a::b::<&&&u8>"));
    assert_string_equal(out, "a::b::<&&&u8>");
}

static void test_rust_v0_truncate(void **state)
{
    (void)state;
    char out[64];
    /* "<std::sync::mpsc::RecvError as core::fmt::Debug>::fmt" */
    const char *sym = cases[3].sym;
    memset(out, 'x', sizeof out);
    assert_int_equal(lg__demangle_rust_v0(sym, out, 10), 9);
    assert_string_equal(out, "<std::syn");
    assert_int_equal(lg__demangle_rust_v0(sym, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(lg__demangle(sym, out, 5), 4);
    assert_string_equal(out, "<std");
    /* A backref met once the output is full is not followed, yet the
     * symbol still checks as valid. */
    assert_int_equal(lg__demangle_rust_v0(cases[5].sym, out, 20), 19);
    assert_string_equal(out, "<alloc::raw_vec::Ra");
}

/* Constants, fn types, tuples, arrays, slices, pointers, closures,
 * punycode: hand-made symbols for the parts std rarely shows. */
static void test_rust_v0_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *sym, *want;
    } g[] = {
        { "_RINvC1a1bKj0_Kanff_E", "a::b::<0usize, -255i8>" },
        { "_RINvC1a1bKb1_Kb0_Kc41_Kpe", "" },
        { "_RINvC1a1bKb1_Kb0_Kc41_KpE", "a::b::<true, false, 'A', _>" },
        { "_RINvC1a1bKc2764_E", "a::b::<'\\u{2764}'>" },
        { "_RINvC1a1bKo100000000000000000_E",
          "a::b::<0x100000000000000000u128>" },
        { "_RINvC1a1bAhj3_ShThETlEE", "a::b::<[u8; 3usize], [u8], (u8,), "
                                      "(i32,)>" },
        { "_RINvC1a1bTEE", "a::b::<()>" },
        { "_RINvC1a1bPhOhQhE", "a::b::<*const u8, *mut u8, &mut u8>" },
        { "_RINvC1a1bFUKCEuFK6sysv64hEmFG0_RL0_hRL1_hEuE",
          "a::b::<unsafe extern \"C\" fn(), extern \"sysv64\" fn(u8) -> "
          "u32, for<'a, 'b> fn(&'b u8, &'a u8)>" },
        { "_RINvC1a1bDINtC1a1cpC1dhEL_E", "" },
        { "_RINvC1a1bDNtC1a1cEL_E", "a::b::<dyn a::c>" },
        { "_RINvC1a1bDINtC1a1chEp1dhEL_E", "a::b::<dyn a::c<u8, d = u8>>" },
        { "_RNCNvC1a1bs0_3foo", "a::b::{closure:foo#2}" },
        { "_RNvC1a8u8b7_u4ttaa", "" },
        { "_RNvC1au6y_2kaa", "a::punycode{y_2kaa}" },
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        char out[256];
        size_t n = run(g[i].sym, out, sizeof out);
        assert_string_equal(out, g[i].want);
        assert_int_equal(n, strlen(g[i].want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rust_v0_real_symbols),
        cmocka_unit_test(test_rust_v0_malformed),
        cmocka_unit_test(test_rust_v0_deep),
        cmocka_unit_test(test_rust_v0_truncate),
        cmocka_unit_test(test_rust_v0_grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
