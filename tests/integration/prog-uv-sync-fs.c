/* prog-uv-sync-fs DIR: libuv fs requests made on the loop thread, with and
 * without a callback, and joins (test-uv-sync-fs). A request made without
 * a callback runs on the loop thread itself, from uv_fs_read: its blocking
 * is the program's. Each case is its own timer callback, so a report's
 * stack names it:
 *   on_read_pipe    uv_fs_read of a pipe, no callback: reported (read);
 *   on_write_pipe   uv_fs_write to a pipe, no callback: reported (write);
 *                   a write() of its own to the pipe: no receive, not
 *                   reported;
 *   on_open_fifo    uv_fs_open of a FIFO for reading, which a plain thread
 *                   opens for writing, then uv_fs_read of it, no callback:
 *                   reported (open, read);
 *   on_read_file    uv_fs_read of a regular file, no callback: not reported;
 *   on_read_async   uv_fs_read of a pipe with a callback: runs on the
 *                   thread pool, not reported (nor the pool's start);
 *   on_join         uv_thread_join in a callback: reported (pthread_join);
 *                   another thread it starts is joined by main after
 *                   uv_run returned: not reported.
 * Built twice: on the shared libuv (prog-uv-sync-fs, found through the
 * uv_fs_* and uv_run wrappers) and on libuv's static archive
 * (loops/uv-static-sync-fs, found through the stack). Each pipe holds its
 * byte before it is read, so nothing here waits. Exits 0 when every
 * request returned what it should and every callback ran once. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

/* Exits, naming the line, when a call returned what a correct run never
 * does. */
#define ASSERT(cond) check((cond) != 0, __LINE__, #cond)

static void check(int ok, int line, const char *what)
{
    if (!ok) {
        fprintf(stderr, "prog-uv-sync-fs.c:%d: %s\n", line, what);
        exit(1);
    }
}

static int read_pipe[2], write_pipe[2], async_pipe[2];
static int file_fd;
static char fifo[4096];
static uv_thread_t fifo_writer, late;
static int ran, async_done;
static char byte, abyte;
static uv_buf_t buf;

static void noop(void *arg)
{
    (void)arg;
}

static void write_fifo(void *arg)
{
    (void)arg;
    int fd = open(fifo, O_WRONLY);   /* until the loop opens it to read */
    ASSERT(fd >= 0);
    ASSERT(write(fd, "f", 1) == 1);
    close(fd);
}

static void done(uv_timer_t *t)
{
    ran++;
    uv_close((uv_handle_t *)t, NULL);
}

static void on_read_pipe(uv_timer_t *t)
{
    uv_fs_t req;
    ASSERT(uv_fs_read(t->loop, &req, read_pipe[0], &buf, 1, -1, NULL) == 1);
    ASSERT(byte == 'p');
    uv_fs_req_cleanup(&req);
    done(t);
}

static void on_write_pipe(uv_timer_t *t)
{
    uv_fs_t req;
    uv_buf_t w = uv_buf_init("w", 1);
    ASSERT(uv_fs_write(t->loop, &req, write_pipe[1], &w, 1, -1, NULL) == 1);
    uv_fs_req_cleanup(&req);
    ASSERT(write(write_pipe[1], "v", 1) == 1);   /* no receive: no report */
    done(t);
}

static void on_open_fifo(uv_timer_t *t)
{
    uv_fs_t req;
    int fd = uv_fs_open(t->loop, &req, fifo, O_RDONLY, 0, NULL);
    ASSERT(fd >= 0);
    uv_fs_req_cleanup(&req);
    ASSERT(uv_fs_read(t->loop, &req, fd, &buf, 1, -1, NULL) == 1);
    ASSERT(byte == 'f');
    uv_fs_req_cleanup(&req);
    ASSERT(uv_fs_close(t->loop, &req, fd, NULL) == 0);
    uv_fs_req_cleanup(&req);
    done(t);
}

static void on_read_file(uv_timer_t *t)
{
    uv_fs_t req;
    ASSERT(uv_fs_read(t->loop, &req, file_fd, &buf, 1, 0, NULL) == 1);
    ASSERT(byte == 'r');
    uv_fs_req_cleanup(&req);
    ASSERT(uv_fs_read(t->loop, &req, file_fd, &buf, 1, -1, NULL) == 1);
    uv_fs_req_cleanup(&req);
    done(t);
}

static void after_read_async(uv_fs_t *req)
{
    ASSERT(req->result == 1 && abyte == 'a');
    async_done++;
    uv_fs_req_cleanup(req);
}

static void on_read_async(uv_timer_t *t)
{
    static uv_fs_t req;
    static uv_buf_t abuf;
    abuf = uv_buf_init(&abyte, 1);
    ASSERT(uv_fs_read(t->loop, &req, async_pipe[0], &abuf, 1, -1,
                      after_read_async) == 0);
    done(t);
}

static void on_join(uv_timer_t *t)
{
    uv_thread_t th;
    ASSERT(uv_thread_create(&th, noop, NULL) == 0);
    ASSERT(uv_thread_join(&th) == 0);
    ASSERT(uv_thread_create(&late, noop, NULL) == 0);
    done(t);
}

int main(int argc, char **argv)
{
    static uv_timer_t timers[6];
    static const uv_timer_cb cases[6] = {
        on_read_pipe, on_write_pipe, on_open_fifo,
        on_read_file, on_read_async, on_join,
    };
    char file[4096];
    ASSERT(argc == 2);
    snprintf(fifo, sizeof fifo, "%s/fifo", argv[1]);
    snprintf(file, sizeof file, "%s/file", argv[1]);
    ASSERT(mkfifo(fifo, 0600) == 0);
    file_fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT(file_fd >= 0 && write(file_fd, "rr", 2) == 2);
    ASSERT(lseek(file_fd, 1, SEEK_SET) == 1);
    ASSERT(pipe(read_pipe) == 0 && write(read_pipe[1], "p", 1) == 1);
    ASSERT(pipe(write_pipe) == 0);
    ASSERT(pipe(async_pipe) == 0 && write(async_pipe[1], "a", 1) == 1);
    buf = uv_buf_init(&byte, 1);
    ASSERT(uv_thread_create(&fifo_writer, write_fifo, NULL) == 0);

    uv_loop_t *loop = uv_default_loop();
    for (int i = 0; i < 6; i++) {
        ASSERT(uv_timer_init(loop, &timers[i]) == 0);
        ASSERT(uv_timer_start(&timers[i], cases[i], 0, 0) == 0);
    }
    ASSERT(uv_run(loop, UV_RUN_DEFAULT) == 0);
    /* After the loop returned: no loop thread any more. */
    ASSERT(uv_thread_join(&late) == 0);
    ASSERT(uv_thread_join(&fifo_writer) == 0);
    ASSERT(ran == 6 && async_done == 1);
    ASSERT(uv_loop_close(loop) == 0);
    return 0;
}
