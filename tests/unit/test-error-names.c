/* lg_err_name() and lg_strerror(): the errors the API returns have their
 * own name and text; anything else is "UNKNOWN" / "unknown error". */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loopguard.h"

static const struct {
    int err;
    const char *name;
} known[] = {
    {-EAGAIN, "EAGAIN"},       {-EPIPE, "EPIPE"},
    {-EDEADLK, "EDEADLK"},     {-ETIMEDOUT, "ETIMEDOUT"},
    {-EINVAL, "EINVAL"},       {-ENOMEM, "ENOMEM"},
    {-EOVERFLOW, "EOVERFLOW"}, {-EINTR, "EINTR"},
    {-ENOSYS, "ENOSYS"},       {-EBADF, "EBADF"},
};
#define NKNOWN (sizeof known / sizeof known[0])

static void test_error_names_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKNOWN; i++)
        assert_string_equal(lg_err_name(known[i].err), known[i].name);
    /* The aliases Linux gives the same numbers. */
    assert_string_equal(lg_err_name(-EWOULDBLOCK), "EAGAIN");
    assert_string_equal(lg_err_name(-EDEADLOCK), "EDEADLK");
}

static void test_error_names_strerror(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *s = lg_strerror(known[i].err);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        /* Each error reads differently. */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, lg_strerror(known[j].err));
    }
    assert_string_equal(lg_strerror(-ETIMEDOUT), "timed out");
    assert_non_null(strstr(lg_strerror(-EPIPE), "closed"));
    assert_non_null(strstr(lg_strerror(-EDEADLK), "event-loop"));
}

static void test_error_names_unknown(void **state)
{
    (void)state;
    /* Positive values are not this API's errors: errors are negative. */
    static const int odd[] = {0, 1, EPIPE, EAGAIN, -4095, -9999, INT_MIN,
                              INT_MAX};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        assert_string_equal(lg_err_name(odd[i]), "UNKNOWN");
        assert_string_equal(lg_strerror(odd[i]), "unknown error");
    }
}

static void test_error_names_static(void **state)
{
    (void)state;
    /* Static strings: the same pointer every time. */
    assert_ptr_equal(lg_err_name(-EPIPE), lg_err_name(-EPIPE));
    assert_ptr_equal(lg_strerror(-EPIPE), lg_strerror(-EPIPE));
    assert_ptr_equal(lg_strerror(-12345), lg_strerror(-54321));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names_known),
        cmocka_unit_test(test_error_names_strerror),
        cmocka_unit_test(test_error_names_unknown),
        cmocka_unit_test(test_error_names_static),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
