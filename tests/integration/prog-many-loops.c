/* N threads, each running its own libuv loop, each making M blocking pipe
 * reads (data ready) in a timer callback: with dedupe=0 that is N*M reports
 * written concurrently, to check that none is lost or torn. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

static int per_thread;

struct worker {
    pthread_t th;
    int fds[2];
    int done;
};

static void on_timer(uv_timer_t *t)
{
    struct worker *w = t->data;
    char c;
    for (int i = 0; i < per_thread; i++) {
        if (write(w->fds[1], "r", 1) != 1 || read(w->fds[0], &c, 1) != 1)
            return;
        w->done++;
    }
    uv_close((uv_handle_t *)t, NULL);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    uv_loop_t loop;
    uv_timer_t t;
    if (pipe(w->fds) != 0 || uv_loop_init(&loop) != 0 ||
        uv_timer_init(&loop, &t) != 0)
        return NULL;
    t.data = w;
    if (uv_timer_start(&t, on_timer, 0, 0) == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    per_thread = argc > 2 ? atoi(argv[2]) : 100;
    struct worker *w = calloc((size_t)n, sizeof *w);
    if (!w)
        return 1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&w[i].th, NULL, run, &w[i]) != 0)
            return 1;
    int total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].done;
    }
    printf("%d reads\n", total);
    return total == n * per_thread ? 0 : 1;
}
