/* loopguard-symbolizer: the process that reads DWARF for a host running
 * under libloopguard-preload.so (docs/internals.md, "Source lines"). The
 * host starts it beside the preload, never as its own child, with one end
 * of a socket pair as fd 0 (requests in, answers out) and /dev/null as
 * fds 1 and 2; it asks for the file:line and inlined functions of module
 * addresses (src/symbolizer.h has the protocol). libdw runs only here,
 * never in the host; this process exits when the host's end closes.
 * Usage: loopguard-symbolizer HOST-PID (the pid is for ps only). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolizer-dwarf.h"

#define IN_MAX 8192           /* a request line, at most */
#define OUT_MAX (4 * LG__SYMP_ANSWER_MAX)
#define REQUEST_SECONDS 60    /* one answer taking longer: the DWARF is
                                 pathological; die rather than hang */

static char out[OUT_MAX];
static size_t out_len;

static void flush(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t w = write(0, out + done, out_len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            exit(0);          /* the host is gone */
        done += (size_t)w;
    }
    out_len = 0;
}

static void answer(const char *line, size_t len)
{
    static char bufs[LG__SYMP_DEPTH][LG__SYMP_STR_MAX + 1];
    struct lg__symp_frame f[LG__SYMP_DEPTH];
    uint32_t id;
    uint64_t addr;
    const char *path;
    if (lg__symp_parse_request(line, len, &id, &addr, &path) != 0)
        exit(2);              /* not our host: stop talking */
    alarm(REQUEST_SECONDS);
    int n = lg__dwarf_lookup(path, addr, f, bufs);
    alarm(0);
    if (OUT_MAX - out_len < LG__SYMP_ANSWER_MAX)
        flush();
    lg__symp_put_answer(out, OUT_MAX, &out_len, id, f, n);
}

/* A clean start whatever the host had: every signal at its default and
 * unblocked (the host blocked them all while it started us), so that
 * SIGPIPE or the host's death ends us rather than a handler. */
static void reset_signals(void)
{
    sigset_t none;
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(int argc, char **argv)
{
    static char in[IN_MAX + 1];
    size_t have = 0;
    (void)argv;
    if (argc != 2 || isatty(0)) {
        fprintf(stderr, "usage: loopguard-symbolizer HOST-PID (started by "
                        "libloopguard-preload.so, not by hand)\n");
        return 2;
    }
    reset_signals();
    memcpy(out, LG__SYMP_HELLO, sizeof LG__SYMP_HELLO - 1);
    out_len = sizeof LG__SYMP_HELLO - 1;
    flush();
    for (;;) {
        ssize_t r = read(0, in + have, IN_MAX - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;         /* the host closed its end, or exited */
        have += (size_t)r;
        char *p = in, *nl;
        while ((nl = memchr(p, '\n', have - (size_t)(p - in)))) {
            *nl = '\0';
            answer(p, (size_t)(nl - p));
            p = nl + 1;
        }
        have -= (size_t)(p - in);
        memmove(in, p, have);
        if (have == IN_MAX)
            return 2;         /* a line longer than any request */
        flush();              /* before the next read may wait */
    }
}
