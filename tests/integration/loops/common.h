/* What the named-loop test programs (test-named-loops) share: each
 * *-clean.c defines LOOPS_LIB ("libev", ...) and includes this; its
 * *-block.c twin defines LOOPS_BLOCK first, which adds the one blocking
 * receive: a pipe, a thread that writes it 10 ms after it starts, and
 * block_read(), which a loop callback calls to wait for that write. */
#ifndef LOOPS_COMMON_H
#define LOOPS_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef LOOPS_BLOCK
#define LOOPS_VARIANT "block"
#else
#define LOOPS_VARIANT "clean"
#endif

#define N_TICKS 5
#define N_ROUNDS 3
#define MSG "hello\n"
#define MSG_LEN (sizeof MSG - 1)

static inline void die(const char *what)
{
    fprintf(stderr, "%s-%s: %s failed: %s\n", LOOPS_LIB, LOOPS_VARIANT, what,
            strerror(errno));
    exit(1);
}

static inline void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        die("fcntl O_NONBLOCK");
}

/* A non-blocking TCP socket listening on 127.0.0.1, on a port the kernel
 * picks; its address in *sin. */
static inline int loopback_listener(struct sockaddr_in *sin)
{
    socklen_t slen = sizeof *sin;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof *sin) ||
        listen(fd, 16) || getsockname(fd, (struct sockaddr *)sin, &slen))
        die("listen socket");
    set_nonblock(fd);
    return fd;
}

#ifdef LOOPS_BLOCK
static int block_fds[2];
static int block_reads;
static pthread_t block_thread;

static void *block_writer(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if (write(block_fds[1], "x", 1) != 1)
        die("write (pipe)");
    return NULL;
}

/* The pipe and its writer; call before the loop runs. */
static inline void block_start(void)
{
    if (pipe(block_fds) != 0)
        die("pipe");
    if ((errno = pthread_create(&block_thread, NULL, block_writer, NULL)))
        die("pthread_create (writer)");
}

/* The blocking receive: every other callback on the loop waits for it. */
static inline void block_read(void)
{
    char c;
    if (read(block_fds[0], &c, 1) != 1)
        die("read (pipe)");
    block_reads++;
}

/* After the loop: joins the writer, closes the pipe. */
static inline void block_end(void)
{
    if ((errno = pthread_join(block_thread, NULL)) != 0)
        die("pthread_join (writer)");
    close(block_fds[0]);
    close(block_fds[1]);
}
#endif

#endif
