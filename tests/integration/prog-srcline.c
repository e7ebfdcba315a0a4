/* prog-srcline: blocking reads in libuv timer callbacks, through a static
 * helper inlined into each (built -O2 -g), for test-srcline: the report
 * names wait_byte as an inlined frame at its file:line, then the callback
 * at the line of the call. Each read finds a byte already in its pipe, so
 * the program runs to its end. Modes (argv[1]):
 *
 *   inline          one report (on_tick), then "done".
 *   twice           two reports (on_tick, then on_tock through
 *                   drain_byte).
 *   host [nocld|subreaper]
 *                   a host that watches its children: one report; prints
 *                   "reported PID" and waits for a line on stdin (the test
 *                   looks at the symbolizer meanwhile); lists its own
 *                   descriptors ("host-fd N TARGET"), a fork child's
 *                   ("fork-fd ...") and a posix_spawn'd child's
 *                   ("exec-fd ...");
 *                   reaps both with waitpid(-1) and counts SIGCHLDs;
 *                   checks what waitpid(-1, WNOHANG) ("plain") and
 *                   waitpid(-1, __WALL|WNOHANG) ("wall") find then; a
 *                   second report (on_tock); puts its own file where any
 *                   socket of ours was (dup2 over it); a third report
 *                   (on_tack); prints "taken N" (the numbers it put its
 *                   file at) and "kept 1" if those
 *                   numbers are still its file, "sigchld N",
 *                   "file-bytes N", "children N". With nocld, SIGCHLD is
 *                   SA_NOCLDWAIT (children reap themselves) and only
 *                   reports are made;
 *                   with subreaper, the host is a child subreaper from
 *                   its start (orphans of its descendants come to it).
 *   listfds         prints its descriptors ("exec-fd N TARGET"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static int fds[2];
static volatile sig_atomic_t sigchld;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* The blocking read, in a static helper the compiler must inline: the
 * report shows it as an inlined frame of its caller. */
static inline __attribute__((always_inline)) char wait_byte(int fd)
{
    char c = 0;
    if (read(fd, &c, 1) != 1)
        die("read");
    return c;
}

/* The same, its result unused: the instruction after the call is the
 * caller's next line, so the call's line is found only at the byte
 * before the return address. */
static inline __attribute__((always_inline)) void drain_byte(int fd)
{
    char c;
    (void)!read(fd, &c, 1);
}

static void on_tick(uv_timer_t *t)
{
    char c = wait_byte(fds[0]);
    printf("tick %c\n", c);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_tock(uv_timer_t *t)
{
    drain_byte(fds[0]);
    uv_close((uv_handle_t *)t, NULL);
    printf("tock\n");
}

static void on_tack(uv_timer_t *t)
{
    char c = wait_byte(fds[0]);
    printf("tack %c\n", c);
    uv_close((uv_handle_t *)t, NULL);
}

/* Runs one loop with a timer calling cb, after a byte was put in the
 * pipe for its read. */
static void run(uv_timer_cb cb)
{
    uv_loop_t loop;
    uv_timer_t timer;
    if (write(fds[1], "x", 1) != 1)
        die("write");
    if (uv_loop_init(&loop) || uv_timer_init(&loop, &timer) ||
        uv_timer_start(&timer, cb, 0, 0) || uv_run(&loop, UV_RUN_DEFAULT) ||
        uv_loop_close(&loop))
        die("uv");
    fflush(stdout);
}

static void list_fds(const char *tag)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d)
        die("opendir");
    while ((e = readdir(d))) {
        char path[300], target[256];
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("%s %s %s\n", tag, e->d_name, target);
    }
    closedir(d);
    fflush(stdout);
}

static void on_sigchld(int sig)
{
    (void)sig;
    sigchld++;
}

/* A fork child that lists its descriptors, or one made by posix_spawn
 * (which runs no atfork handler: only close-on-exec keeps ours out). */
static pid_t child(char *self, int exec)
{
    pid_t pid;
    if (exec) {
        char *argv[] = {self, "listfds", NULL};
        if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
            die("posix_spawn");
        return pid;
    }
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        list_fds("fork-fd");
        _exit(0);
    }
    return pid;
}

static int taken[16], ntaken;   /* numbers take_sockets() put f at */

/* Puts a file of our own at the number of every socket we never made, as
 * a host that reuses descriptor numbers would. Returns the file. */
static int take_sockets(void)
{
    char name[] = "/tmp/prog-srcline-XXXXXX";
    int f = mkstemp(name);
    if (f < 0)
        die("mkstemp");
    unlink(name);
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 7 && strncmp(target, "socket:", 7) == 0 && ntaken < 16) {
            taken[ntaken] = atoi(e->d_name);
            if (dup2(f, taken[ntaken++]) < 0)
                die("dup2");
        }
    }
    if (d)
        closedir(d);
    return f;
}

/* Our children now, zombies included, from /proc. */
static int children(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f)
        die(path);
    while (fscanf(f, "%4095s", buf) == 1)
        n++;
    fclose(f);
    return n;
}

static void host(char *self, int nocld, int subreaper)
{
    if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        die("prctl");
    struct sigaction sa = {.sa_handler = on_sigchld};
    sa.sa_flags = nocld ? SA_NOCLDWAIT : 0;
    sigaction(SIGCHLD, &sa, NULL);
    run(on_tick);
    printf("reported %d\n", (int)getpid());
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        die("stdin");
    if (nocld) {
        run(on_tock);
        return;
    }
    list_fds("host-fd");
    /* One child at a time: two SIGCHLDs pending at once would be one. */
    int st;
    pid_t p;
    for (int exec = 0; exec < 2; exec++) {
        pid_t c = child(self, exec);
        while ((p = waitpid(-1, &st, 0)) != c && (p > 0 || errno == EINTR))
            if (p > 0)
                printf("reaped a stranger %d\n", (int)p);
    }
    p = waitpid(-1, &st, WNOHANG);
    printf("plain %s\n", p < 0 && errno == ECHILD ? "ECHILD" : "CHILD");
    p = waitpid(-1, &st, __WALL | WNOHANG);
    printf("wall %s\n", p < 0 && errno == ECHILD ? "ECHILD" : "CHILD");
    run(on_tock);
    int f = take_sockets();
    run(on_tack);
    struct stat s, t;
    fstat(f, &s);
    printf("taken %d\n", ntaken);
    int kept = ntaken > 0;
    for (int i = 0; i < ntaken; i++)
        kept &= fstat(taken[i], &t) == 0 && t.st_ino == s.st_ino;
    printf("kept %d\n", kept);
    printf("sigchld %d\nfile-bytes %lld\nchildren %d\n", (int)sigchld,
           (long long)s.st_size, children());
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "inline";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "listfds") == 0) {
        list_fds("exec-fd");
        return 0;
    }
    if (pipe(fds) != 0)
        die("pipe");
    if (strcmp(mode, "host") == 0)
        host(argv[0], argc > 2 && strcmp(argv[2], "nocld") == 0,
             argc > 2 && strcmp(argv[2], "subreaper") == 0);
    else
        run(on_tick);
    if (strcmp(mode, "twice") == 0)
        run(on_tock);
    printf("done\n");
    return 0;
}
