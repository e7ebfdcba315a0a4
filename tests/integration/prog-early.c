/* Checks that wrapped calls made by a library constructor that ran before
 * the preload's worked, then that detection works afterwards: one blocking
 * pipe read in a libuv callback. */
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

extern int early_result;
static int fds[2];

static void on_timer(uv_timer_t *t)
{
    char c;
    if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1)
        fprintf(stderr, "prog-early: pipe failed\n");
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_timer_t t;
    if (early_result != 0) {
        fprintf(stderr, "prog-early: the early constructor failed\n");
        return 1;
    }
    if (pipe(fds) != 0 || uv_timer_init(uv_default_loop(), &t) != 0 ||
        uv_timer_start(&t, on_timer, 0, 0) != 0 ||
        uv_run(uv_default_loop(), UV_RUN_DEFAULT) != 0 ||
        uv_loop_close(uv_default_loop()) != 0)
        return 1;
    return 0;
}
