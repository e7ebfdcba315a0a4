/* The cmocka test docs/guide.md quotes ("In CI"): each test runs one tick of
 * code on a libuv loop and asserts that the detector reported nothing in it;
 * the report callback puts each record into the test's own output. Run
 * under the preload by test-control.sh: test_tick_computes passes and
 * test_tick_reads_a_pipe fails, with the record printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>
#include <loopguard.h>
#include <uv.h>

static int fds[2];

static void computes(uv_timer_t *t)
{
    (void)t;
}

static void reads_a_pipe(uv_timer_t *t)
{
    char c;
    (void)t;
    assert_int_equal(read(fds[0], &c, 1), 1);
}

/* Runs cb once on a loop of its own. */
static void run_one_tick(uv_timer_cb cb)
{
    uv_loop_t loop;
    uv_timer_t t;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_timer_init(&loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, cb, 0, 0), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    uv_close((uv_handle_t *)&t, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void to_test_output(const char *json, size_t len, void *data)
{
    (void)data;
    fprintf(stderr, "loopguard: %.*s\n", (int)len, json);
}

static void test_tick_computes(void **state)
{
    (void)state;
    uint64_t before = lg_reports();
    run_one_tick(computes);
    assert_int_equal(lg_reports() - before, 0);
}

static void test_tick_reads_a_pipe(void **state)
{
    (void)state;
    uint64_t before = lg_reports();
    run_one_tick(reads_a_pipe);
    assert_int_equal(lg_reports() - before, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tick_computes),
        cmocka_unit_test(test_tick_reads_a_pipe),
    };
    if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1)
        return 2;
    lg_set_report_callback(to_test_output, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
