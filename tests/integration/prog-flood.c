/* prog-flood: blocks on its libuv loop thread from many distinct stacks
 * (test-flood.sh).
 *
 *   prog-flood SITES PASSES [broken-stderr] [full-stderr] [unlink=PATH]
 *              [hwm] [hang]
 *
 * A timer callback makes SITES blocking calls (sem_wait, reported even
 * when the semaphore is posted, so the call returns at once), each from
 * its own stack: call i descends through one of two functions per bit of
 * i. That is done PASSES times, the same stacks each pass. Then it prints
 * what it did and how many SIGPIPE and SIGXFSZ its handlers saw (the
 * preload's own writes must raise none here), and exits 0.
 *
 * broken-stderr: stderr is first made the write end of a pipe whose read
 * end is closed, so every write to it fails with EPIPE. full-stderr:
 * stderr is first made the non-blocking write end of a pipe, filled, whose
 * read end stays open and unread (EAGAIN forever). unlink=PATH: PATH
 * is removed after the calls, before exit (frees room on a full disk for
 * the exit summary). hwm: prints the process's peak resident memory
 * (VmHWM, KiB) on a second line. hang: after the calls, the loop thread
 * reads a pipe only it could write, and waits for good (a deadlock; no
 * signal handlers then). Exits
 * 3 when a call changed errno. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static sem_t sem;
static unsigned sites, passes, depth;
static volatile sig_atomic_t n_sigpipe, n_sigxfsz;
static volatile unsigned sink_left, sink_right;
static int hang;

static void on_signal(int sig)
{
    if (sig == SIGPIPE)
        n_sigpipe++;
    else
        n_sigxfsz++;
}

static void block_once(void)
{
    if (sem_post(&sem) != 0) {
        perror("prog-flood: sem_post");
        exit(1);
    }
    errno = EDOM;
    if (sem_wait(&sem) != 0) {
        perror("prog-flood: sem_wait");
        exit(1);
    }
    if (errno != EDOM) {
        fprintf(stderr, "prog-flood: errno changed to %d\n", errno);
        exit(3);
    }
}

/* Two functions, distinct bodies (so the compiler cannot fold them), each
 * with its call in a frame of its own: the stack spells i in binary. */
static void descend(unsigned d, unsigned i);

static __attribute__((noinline)) void left(unsigned d, unsigned i)
{
    descend(d, i);
    sink_left++;
}

static __attribute__((noinline)) void right(unsigned d, unsigned i)
{
    descend(d, i);
    sink_right++;
}

static __attribute__((noinline)) void descend(unsigned d, unsigned i)
{
    if (d == 0)
        block_once();
    else if (i & 1)
        right(d - 1, i >> 1);
    else
        left(d - 1, i >> 1);
    __asm__ volatile("" ::: "memory");   /* no tail call: keep the frame */
}

static void on_timer(uv_timer_t *t)
{
    for (unsigned p = 0; p < passes; p++)
        for (unsigned i = 0; i < sites; i++)
            descend(depth, i);
    if (hang) {
        int fds[2];
        char c;
        if (pipe(fds) == 0)
            (void)!read(fds[0], &c, 1);
    }
    uv_close((uv_handle_t *)t, NULL);
}

/* VmHWM from /proc/self/status, in KiB; -1 when it cannot be read. */
static long peak_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static void break_stderr(void)
{
    int fds[2];
    if (pipe(fds) != 0 || dup2(fds[1], 2) != 2) {
        perror("prog-flood: pipe");
        exit(1);
    }
    close(fds[0]);
    close(fds[1]);
}

static void fill_stderr(void)
{
    static int fds[2];            /* the read end stays open, unread */
    if (pipe2(fds, O_NONBLOCK) != 0 || dup2(fds[1], 2) != 2) {
        perror("prog-flood: pipe2");
        exit(1);
    }
    close(fds[1]);
    static const char junk[4096];
    while (write(2, junk, sizeof junk) > 0)
        ;
}

int main(int argc, char **argv)
{
    const char *unlink_path = NULL;
    int hwm = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: prog-flood SITES PASSES [broken-stderr] "
                        "[unlink=PATH]\n");
        return 2;
    }
    sites = (unsigned)strtoul(argv[1], NULL, 10);
    passes = (unsigned)strtoul(argv[2], NULL, 10);
    while (depth < 32 && (1ull << depth) < sites)
        depth++;
    for (int a = 3; a < argc; a++) {
        if (strcmp(argv[a], "broken-stderr") == 0)
            break_stderr();
        else if (strcmp(argv[a], "full-stderr") == 0)
            fill_stderr();
        else if (strncmp(argv[a], "unlink=", 7) == 0)
            unlink_path = argv[a] + 7;
        else if (strcmp(argv[a], "hwm") == 0)
            hwm = 1;
        else if (strcmp(argv[a], "hang") == 0)
            hang = 1;
    }
    /* Not with hang: a handler could write to the pipe, which would make
     * the wait no certain deadlock. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (!hang) {
        sigaction(SIGPIPE, &sa, NULL);
        sigaction(SIGXFSZ, &sa, NULL);
    }
    if (sem_init(&sem, 0, 0) != 0) {
        perror("prog-flood: sem_init");
        return 1;
    }

    uv_loop_t loop;
    uv_timer_t timer;
    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &timer) != 0 ||
        uv_timer_start(&timer, on_timer, 0, 0) != 0) {
        fprintf(stderr, "prog-flood: libuv set-up failed\n");
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (unlink_path && unlink(unlink_path) != 0)
        perror("prog-flood: unlink");
    printf("flood: %u sites x %u passes, sigpipe %d, sigxfsz %d\n", sites,
           passes, (int)n_sigpipe, (int)n_sigxfsz);
    if (hwm)
        printf("hwm %ld\n", peak_kib());
    return 0;
}
