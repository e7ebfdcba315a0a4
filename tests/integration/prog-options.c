/* Drives the options tests: a libuv timer callback reads a pipe that has
 * data ready, `n` times from one call site and once from another, so the
 * test can count reports under dedupe, abort, exitcode and max_frames.
 * `prog-options N` does that; `prog-options N closeall` then closes (or,
 * with `dup2all`, replaces) every descriptor from 3 to 1023 and reads again
 * on a second loop, to show the log survives; `prog-options N logflags`
 * prints the open flags of the descriptor writing to $LG_LOG_PATH. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static int n_reads;
static int fds[2];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "prog-options: %s failed\n", what);
        exit(2);
    }
}

static __attribute__((noinline)) void read_site_a(void)
{
    char c;
    check(write(fds[1], "a", 1) == 1, "write a");
    check(read(fds[0], &c, 1) == 1 && c == 'a', "read a");
}

static __attribute__((noinline)) void read_site_b(void)
{
    char c;
    check(write(fds[1], "b", 1) == 1, "write b");
    check(read(fds[0], &c, 1) == 1 && c == 'b', "read b");
}

static void on_timer(uv_timer_t *t)
{
    for (int i = 0; i < n_reads; i++)
        read_site_a();
    read_site_b();
    uv_close((uv_handle_t *)t, NULL);
}

static void run_loop_once(void)
{
    uv_loop_t loop;
    uv_timer_t t;
    check(uv_loop_init(&loop) == 0, "uv_loop_init");
    check(uv_timer_init(&loop, &t) == 0, "uv_timer_init");
    check(uv_timer_start(&t, on_timer, 0, 0) == 0, "uv_timer_start");
    check(uv_run(&loop, UV_RUN_DEFAULT) == 0, "uv_run");
    check(uv_loop_close(&loop) == 0, "uv_loop_close");
}

/* Prints the flags line of the fdinfo of each descriptor open on path. */
static void print_log_flags(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    check(d != NULL, "opendir");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char link[300], target[4096], info[300], line[256];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path) != 0)
            continue;
        snprintf(info, sizeof info, "/proc/self/fdinfo/%s", e->d_name);
        FILE *f = fopen(info, "r");
        check(f != NULL, "fopen fdinfo");
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "flags:", 6) == 0)
                printf("logfd %s %s", e->d_name, line);
        fclose(f);
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    check(argc >= 2, "usage: prog-options N [closeall|dup2all|logflags]");
    n_reads = atoi(argv[1]);
    const char *mode = argc > 2 ? argv[2] : "";
    check(pipe(fds) == 0, "pipe");
    run_loop_once();
    if (strcmp(mode, "logflags") == 0) {
        const char *p = getenv("LG_LOG_PATH");
        check(p != NULL, "LG_LOG_PATH");
        print_log_flags(p);
    } else if (strcmp(mode, "closeall") == 0 ||
               strcmp(mode, "dup2all") == 0) {
        int null = open("/dev/null", O_RDONLY);
        check(null >= 0, "open /dev/null");
        for (int fd = 3; fd < 1024; fd++) {
            if (fd == fds[0] || fd == fds[1] || fd == null)
                continue;
            if (mode[0] == 'c')
                close(fd);
            else
                dup2(null, fd);
        }
        close(null);
        run_loop_once();
    }
    return 0;
}
