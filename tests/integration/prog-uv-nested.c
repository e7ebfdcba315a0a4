/* prog-uv-nested: a synchronous helper that spins a private libuv loop
 * inside a callback of another (test-nested-loop). on_tick calls
 * run_private_loop(), which runs its own loop until a 20 ms timer fires:
 * meanwhile the outer loop runs nothing. The inner loop's epoll wait is
 * reported as a blocking call of the outer loop (its id is printed). */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

static int fired;

static void on_inner(uv_timer_t *t)
{
    fired++;
    uv_close((uv_handle_t *)t, NULL);
}

static __attribute__((noinline)) void run_private_loop(void)
{
    uv_loop_t priv;
    uv_timer_t t;
    if (uv_loop_init(&priv) != 0)
        exit(1);
    uv_timer_init(&priv, &t);
    uv_timer_start(&t, on_inner, 20, 0);
    uv_run(&priv, UV_RUN_DEFAULT);
    if (uv_loop_close(&priv) != 0)
        exit(1);
}

static void on_tick(uv_timer_t *t)
{
    run_private_loop();
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_tick, 0, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("outer %p\n", (void *)loop);
    return fired == 1 ? 0 : 1;
}
