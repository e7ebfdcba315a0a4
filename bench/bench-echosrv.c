/* bench-echosrv PORT: a libuv TCP echo server on 127.0.0.1:PORT, one
 * thread, for bench/server-proc.py (issue 18): the server is its own
 * process, as a user's is, so that the preload's cost shows in its own
 * CPU time (which the bench takes from wait4). On SIGTERM it prints
 * "SERVER bytes=B cpu_ns=C" (B echoed in all; C its user + system time
 * over the whole run, getrusage), for a reader running it by hand, and
 * exits 0. Nothing else is printed. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

static uv_loop_t *loop;
static uint64_t bytes;

struct wreq {
    uv_write_t w;
    char data[];
};

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    static char buf[65536];
    (void)h;
    (void)want;
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, (uv_close_cb)free);
        return;
    }
    if (n == 0)
        return;
    bytes += (uint64_t)n;
    struct wreq *w = malloc(sizeof *w + (size_t)n);
    if (!w)
        abort();
    memcpy(w->data, b->base, (size_t)n);
    uv_buf_t out = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->w, s, &out, 1, on_written) != 0)
        free(w);
}

static void on_conn(uv_stream_t *srv, int status)
{
    if (status != 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c || uv_tcp_init(loop, c) != 0)
        abort();
    if (uv_accept(srv, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void on_term(uv_signal_t *h, int sig)
{
    (void)sig;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint64_t ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec)
                      * 1000000000u +
                  ((uint64_t)ru.ru_utime.tv_usec +
                   (uint64_t)ru.ru_stime.tv_usec) * 1000u;
    printf("SERVER bytes=%llu cpu_ns=%llu\n", (unsigned long long)bytes,
           (unsigned long long)ns);
    fflush(stdout);
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench-echosrv PORT\n");
        return 2;
    }
    loop = uv_default_loop();
    uv_tcp_t srv;
    struct sockaddr_in addr;
    uv_signal_t term;
    if (uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr) != 0 ||
        uv_tcp_init(loop, &srv) != 0 ||
        uv_tcp_bind(&srv, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&srv, 128, on_conn) != 0 ||
        uv_signal_init(loop, &term) != 0 ||
        uv_signal_start(&term, on_term, SIGTERM) != 0) {
        fprintf(stderr, "bench-echosrv: set-up failed\n");
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
