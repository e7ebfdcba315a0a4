/* uv-static-block: a libuv linked into the program (libuv_a.a), as Node
 * links it, so no uv_run call reaches the preload (test-static-uv). One
 * timer callback, on_timer_block, makes two blocking calls a worker thread
 * ends 10 ms later: a read() of a pipe, then uv_sem_wait(), libuv's thin
 * wrapper of sem_wait. Both are reported, on a libuv loop found via the
 * stack; libuv's own waits (its thread pool start, used by uv_queue_work
 * here) are not. It also prints what lg_thread_is_loop() (found at run
 * time: the preload brings libloopguard.so) answers before uv_run, in the
 * callback and after: "is_loop 0 1 0" under the preload. Exits 0 when
 * every callback ran. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

static int pipe_fds[2];
static uv_sem_t sem;
static int worked, after_work, blocked;
static int (*is_loop)(void);
static int in_callback = -1;

static int ask_is_loop(void)
{
    return is_loop ? is_loop() : -1;
}

static void *worker(void *arg)
{
    (void)arg;
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    nanosleep(&ms10, NULL);
    if (write(pipe_fds[1], "x", 1) != 1)
        exit(1);
    nanosleep(&ms10, NULL);
    uv_sem_post(&sem);
    return NULL;
}

static void on_work(uv_work_t *req)
{
    (void)req;
    worked++;
}

static void on_after_work(uv_work_t *req, int status)
{
    (void)req;
    after_work += status == 0;
}

static void on_timer_block(uv_timer_t *t)
{
    char c;
    pthread_t th;
    in_callback = ask_is_loop();
    if (pthread_create(&th, NULL, worker, NULL) != 0)
        exit(1);
    if (read(pipe_fds[0], &c, 1) != 1)
        exit(1);
    uv_sem_wait(&sem);
    blocked++;
    uv_close((uv_handle_t *)t, NULL);
    /* Joined from a thread that is not the loop's, after uv_run returns. */
    pthread_detach(th);
}

static void on_start(uv_timer_t *t)
{
    static uv_work_t req;
    if (uv_queue_work(t->loop, &req, on_work, on_after_work) != 0)
        exit(1);
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t start, block;
    if (pipe(pipe_fds) != 0 || uv_sem_init(&sem, 0) != 0)
        return 1;
    uv_timer_init(loop, &start);
    uv_timer_init(loop, &block);
    uv_timer_start(&start, on_start, 0, 0);
    uv_timer_start(&block, on_timer_block, 20, 0);
    is_loop = (int (*)(void))dlsym(RTLD_DEFAULT, "lg_thread_is_loop");
    int before = ask_is_loop();
    uv_run(loop, UV_RUN_DEFAULT);
    printf("is_loop %d %d %d\n", before, in_callback, ask_is_loop());
    if (worked != 1 || after_work != 1 || blocked != 1) {
        fprintf(stderr, "uv-static-block: callbacks %d %d %d\n", worked,
                after_work, blocked);
        return 1;
    }
    return 0;
}
