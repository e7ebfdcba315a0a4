/* prog-uv-clean: a correct libuv program that must produce no report at all.
 *
 * It uses the parts of libuv that block internally on the loop thread by
 * design (threadpool start, uv_spawn's exec-status pipe, the signal lock
 * pipe) beside ordinary traffic: timers, a TCP echo over 127.0.0.1, fs
 * requests, uv_queue_work, uv_async_send from a plain thread, uv_spawn and
 * uv_signal. Everything starts from a callback, so all of it runs on a loop
 * thread, where the detector must tell libuv's own waits from a user's.
 * Exits 0 when every callback ran exactly as often as expected. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    uv_strerror(rc_));                                      \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

/* Aborts when a callback sees a condition a correct run never produces. */
#define ASSERT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                       \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#define TICKS 3                     /* firings of the repeating timer */
#define MSG "ping"
#define FILE_DATA "hello"

/* One row per callback: name, calls expected. Counters live in `count`. */
#define CALLBACK_MAP(XX)                                                    \
    XX(start, 1)                                                            \
    XX(tick, TICKS)                                                         \
    XX(connection, 1)                                                       \
    XX(connect, 1)                                                          \
    XX(client_write, 1)                                                     \
    XX(echo_write, 1)                                                       \
    XX(echo_received, 1)                                                    \
    XX(server_eof, 1)                                                       \
    XX(shutdown, 1)                                                         \
    XX(fs_step, 8)                                                          \
    XX(work, 1)                                                             \
    XX(after_work, 1)                                                       \
    XX(async, 1)                                                            \
    XX(child_exit, 1)                                                       \
    XX(signal, 1)                                                           \
    XX(close, 8)

enum {
#define XX(name, n) CB_##name,
    CALLBACK_MAP(XX)
#undef XX
    CB_COUNT
};

static int count[CB_COUNT];

static uv_loop_t loop;
static uv_timer_t start_timer, tick_timer;
static uv_tcp_t server, server_conn, client;
static uv_connect_t connect_req;
static uv_write_t client_write_req;
static uv_shutdown_t shutdown_req;
static uv_fs_t fs_req;
static uv_work_t work_req;
static uv_async_t async;
static uv_thread_t async_thread;
static uv_process_t child;
static uv_signal_t sig;

static char echo_buf[64];           /* what the client got back so far */
static size_t echo_len;
static char tmp_path[1024];         /* the file the fs chain creates */
static char file_buf[64];
static int file_fd;
static int work_result;

static void on_close(uv_handle_t *h)
{
    (void)h;
    count[CB_close]++;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(hint);
    buf->len = buf->base != NULL ? hint : 0;
}

/* ---- timers --------------------------------------------------------- */
static void on_tick(uv_timer_t *t)
{
    if (++count[CB_tick] == TICKS)
        uv_close((uv_handle_t *)t, on_close);
}

/* ---- TCP echo: the server writes back what it reads ----------------- */
static void on_echo_write(uv_write_t *req, int status)
{
    ASSERT(status == 0);
    count[CB_echo_write]++;
    free(req);
}

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        struct { uv_write_t req; char data[]; } *w = malloc(sizeof *w + n);
        ASSERT(w != NULL);
        memcpy(w->data, buf->base, n);
        uv_buf_t out = uv_buf_init(w->data, (unsigned)n);
        CHECK(uv_write(&w->req, s, &out, 1, on_echo_write));
    } else if (n == UV_EOF) {
        count[CB_server_eof]++;
        uv_close((uv_handle_t *)s, on_close);
        uv_close((uv_handle_t *)&server, on_close);
    } else {
        ASSERT(n == 0);
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *s, int status)
{
    ASSERT(status == 0);
    count[CB_connection]++;
    CHECK(uv_tcp_init(&loop, &server_conn));
    CHECK(uv_accept(s, (uv_stream_t *)&server_conn));
    CHECK(uv_read_start((uv_stream_t *)&server_conn, on_alloc,
                        on_server_read));
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    ASSERT(status == 0);
    count[CB_shutdown]++;
    uv_close((uv_handle_t *)req->handle, on_close);
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        ASSERT(echo_len + n <= sizeof echo_buf);
        memcpy(echo_buf + echo_len, buf->base, n);
        echo_len += n;
        if (echo_len == strlen(MSG)) {
            ASSERT(memcmp(echo_buf, MSG, echo_len) == 0);
            count[CB_echo_received]++;
            CHECK(uv_read_stop(s));
            CHECK(uv_shutdown(&shutdown_req, s, on_shutdown));
        }
    } else {
        ASSERT(n == 0);             /* EOF or an error comes too early */
    }
    free(buf->base);
}

static void on_client_write(uv_write_t *req, int status)
{
    (void)req;
    ASSERT(status == 0);
    count[CB_client_write]++;
}

static void on_connect(uv_connect_t *req, int status)
{
    static char msg[] = MSG;
    uv_buf_t buf = uv_buf_init(msg, strlen(msg));

    ASSERT(status == 0);
    count[CB_connect]++;
    CHECK(uv_read_start(req->handle, on_alloc, on_client_read));
    CHECK(uv_write(&client_write_req, req->handle, &buf, 1,
                   on_client_write));
}

static void start_tcp(void)
{
    struct sockaddr_storage name;
    struct sockaddr_in addr;
    int len = sizeof name;

    CHECK(uv_ip4_addr("127.0.0.1", 0, &addr));
    CHECK(uv_tcp_init(&loop, &server));
    CHECK(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
    CHECK(uv_listen((uv_stream_t *)&server, 8, on_connection));
    CHECK(uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len));
    CHECK(uv_tcp_init(&loop, &client));
    CHECK(uv_tcp_connect(&connect_req, &client, (struct sockaddr *)&name,
                         on_connect));
}

/* ---- fs through the threadpool: create, write, read back, stat ------ */
/* One request at a time; each callback checks its step and starts the next,
 * in this order. */
static const uv_fs_type fs_steps[] = {
    UV_FS_MKSTEMP, UV_FS_WRITE, UV_FS_CLOSE, UV_FS_OPEN, UV_FS_READ,
    UV_FS_CLOSE, UV_FS_STAT, UV_FS_UNLINK,
};

static void on_fs(uv_fs_t *req)
{
    static uv_buf_t wbuf, rbuf;
    int step = count[CB_fs_step]++;

    ASSERT(step < (int)(sizeof fs_steps / sizeof fs_steps[0]));
    ASSERT(req->fs_type == fs_steps[step] && req->result >= 0);
    if (req->fs_type == UV_FS_MKSTEMP)
        snprintf(tmp_path, sizeof tmp_path, "%s", req->path);
    if (req->fs_type == UV_FS_MKSTEMP || req->fs_type == UV_FS_OPEN)
        file_fd = (int)req->result;
    if (req->fs_type == UV_FS_READ)
        ASSERT(memcmp(file_buf, FILE_DATA, req->result) == 0 &&
               req->result == (ssize_t)strlen(FILE_DATA));
    if (req->fs_type == UV_FS_STAT)
        ASSERT(req->statbuf.st_size == strlen(FILE_DATA));
    uv_fs_req_cleanup(req);

    switch (step + 1) {
    case 1:
        wbuf = uv_buf_init(FILE_DATA, strlen(FILE_DATA));
        CHECK(uv_fs_write(&loop, req, file_fd, &wbuf, 1, 0, on_fs));
        break;
    case 2: case 5:
        CHECK(uv_fs_close(&loop, req, file_fd, on_fs));
        break;
    case 3:
        CHECK(uv_fs_open(&loop, req, tmp_path, O_RDONLY, 0, on_fs));
        break;
    case 4:
        rbuf = uv_buf_init(file_buf, sizeof file_buf);
        CHECK(uv_fs_read(&loop, req, file_fd, &rbuf, 1, 0, on_fs));
        break;
    case 6:
        CHECK(uv_fs_stat(&loop, req, tmp_path, on_fs));
        break;
    case 7:
        CHECK(uv_fs_unlink(&loop, req, tmp_path, on_fs));
        break;
    }
}

static void start_fs(void)
{
    char dir[512], tmpl[1024];
    size_t len = sizeof dir;

    CHECK(uv_os_tmpdir(dir, &len));
    snprintf(tmpl, sizeof tmpl, "%s/prog-uv-clean-XXXXXX", dir);
    CHECK(uv_fs_mkstemp(&loop, &fs_req, tmpl, on_fs));
}

/* ---- uv_queue_work ---------------------------------------------------- */
static void do_work(uv_work_t *req)
{
    (void)req;
    count[CB_work]++;               /* on a pool thread; read after join */
    work_result = 6 * 7;
}

static void after_work(uv_work_t *req, int status)
{
    (void)req;
    ASSERT(status == 0 && work_result == 42);
    count[CB_after_work]++;
}

/* ---- uv_async_send from a plain thread -------------------------------- */
static void on_async(uv_async_t *a)
{
    count[CB_async]++;
    uv_close((uv_handle_t *)a, on_close);
}

static void async_sender(void *arg)
{
    (void)arg;
    CHECK(uv_async_send(&async));
}

/* ---- uv_spawn and uv_signal ------------------------------------------- */
static void on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
    ASSERT(status == 0 && term_signal == 0);
    count[CB_child_exit]++;
    uv_close((uv_handle_t *)p, on_close);
}

static void on_signal(uv_signal_t *s, int signum)
{
    ASSERT(signum == SIGUSR1);
    count[CB_signal]++;
    CHECK(uv_signal_stop(s));
    uv_close((uv_handle_t *)s, on_close);
}

static void start_child(void)
{
    char *args[] = { "true", NULL };
    uv_process_options_t opts = {
        .exit_cb = on_child_exit, .file = "/bin/true", .args = args,
    };

    CHECK(uv_spawn(&loop, &child, &opts));
}

static void on_start(uv_timer_t *t)
{
    count[CB_start]++;
    uv_close((uv_handle_t *)t, on_close);
    CHECK(uv_timer_init(&loop, &tick_timer));
    CHECK(uv_timer_start(&tick_timer, on_tick, 1, 1));
    start_tcp();
    start_fs();
    CHECK(uv_queue_work(&loop, &work_req, do_work, after_work));
    CHECK(uv_thread_create(&async_thread, async_sender, NULL));
    start_child();
    CHECK(uv_signal_init(&loop, &sig));
    CHECK(uv_signal_start(&sig, on_signal, SIGUSR1));
    CHECK(uv_kill(uv_os_getpid(), SIGUSR1));
}

int main(void)
{
    static const struct { const char *name; int expected; } rows[] = {
#define XX(name, n) { #name, n },
        CALLBACK_MAP(XX)
#undef XX
    };
    int bad = 0;

    CHECK(uv_loop_init(&loop));
    CHECK(uv_async_init(&loop, &async, on_async));
    CHECK(uv_timer_init(&loop, &start_timer));
    CHECK(uv_timer_start(&start_timer, on_start, 0, 0));
    CHECK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK(uv_thread_join(&async_thread));
    CHECK(uv_loop_close(&loop));

    for (int i = 0; i < CB_COUNT; i++) {
        if (count[i] != rows[i].expected) {
            fprintf(stderr, "prog-uv-clean: %s ran %d times, expected %d\n",
                    rows[i].name, count[i], rows[i].expected);
            bad = 1;
        }
    }
    if (!bad)
        printf("prog-uv-clean: every callback ran as expected\n");
    return bad;
}
