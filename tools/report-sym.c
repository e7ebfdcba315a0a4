/* `loopguard report`'s source lines for logs written without them (the
 * symbolizer was missing, timed out, or symbolize_ms=0): the frames of the
 * stacks it prints are looked up in the module files as they are now, by
 * the same loopguard-symbolizer the preload uses, here an ordinary child of
 * this command. A module file changed after the record was written is not
 * read: its lines would be another build's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uthash.h>

#include "report.h"
#include "symbolizer.h"

#define HELPER_NAME "loopguard-symbolizer"
#define ANSWER_MS 10000       /* one answer; then the helper is given up */
#define CACHE_MAX 65536       /* answers kept; past it, asked again */
#define MODULES_MAX 4096      /* module files checked; past it, not read */

/* An answer kept: n frames, strings in text. */
struct cached {
    struct key {
        uint64_t addr;
        char path[]; /* flexible: the key is addr and path's bytes */
    } *key;
    size_t keylen;
    int n;
    int kept;                 /* in the table; else freed after its use */
    struct lg__symp_frame f[LG__SYMP_DEPTH];
    UT_hash_handle hh;
};

/* A module file: whether it may be read for a record of time ts. */
struct module {
    char *path;
    int64_t mtime_ns;         /* -1: cannot be read */
    int warned;
    UT_hash_handle hh;
};

static int enabled;           /* off until lg__report_sym_setup */
static FILE *warn_to;
static int sock = -1;
static pid_t helper;
static int dead;              /* given up: no more lookups */
static uint32_t next_id;
static struct cached *cache;
static unsigned long ncached;
static struct module *modules;
static unsigned long nmodules;
static char inbuf[LG__SYMP_ANSWER_MAX];
static size_t inlen;

void lg__report_sym_setup(int on, FILE *err)
{
    enabled = on;
    warn_to = err;
}

static void give_up(const char *why)
{
    if (!dead && warn_to)
        fprintf(warn_to, "loopguard report: symbolizer: %s; frames the "
                "logs give without file:line are shown as written\n", why);
    dead = 1;
    if (sock >= 0)
        close(sock);
    sock = -1;
    if (helper > 0)
        while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
            ;
    helper = 0;
}

/* Reads into inbuf until fn finds a whole message there; its size. */
static long read_until(long (*fn)(const char *, size_t, void *), void *arg)
{
    for (;;) {
        long got = fn(inbuf, inlen, arg);
        if (got != 0)
            return got;
        if (inlen == sizeof inbuf)
            return -1;
        struct pollfd p = {.fd = sock, .events = POLLIN};
        int r = poll(&p, 1, ANSWER_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(sock, inbuf + inlen, sizeof inbuf - inlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        inlen += (size_t)n;
    }
}

static long hello(const char *buf, size_t len, void *arg)
{
    (void)arg;
    return lg__symp_parse_hello(buf, len);
}

static long answer(const char *buf, size_t len, void *arg)
{
    return lg__symp_parse_answer(buf, len, arg);
}

static void consume(long n)
{
    inlen -= (size_t)n;
    memmove(inbuf, inbuf + n, inlen);
}

/* The helper beside libloopguard.so, as the preload finds it. */
static int start(void)
{
    char path[4096];
    if (lg__maps_path((uintptr_t)&lg__symp_parse_hello, path,
                      sizeof path - sizeof HELPER_NAME) != 0) {
        give_up("cannot tell where libloopguard.so is");
        return -1;
    }
    char *slash = strrchr(path, '/');
    if (!slash) {
        give_up("cannot tell where libloopguard.so is");
        return -1;
    }
    memcpy(slash + 1, HELPER_NAME, sizeof HELPER_NAME);
    if (access(path, X_OK) != 0) {
        char why[4200];
        snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
        give_up(why);
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        give_up(strerror(errno));
        return -1;
    }
    /* A helper that dies must not kill us with SIGPIPE on the next ask. */
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (dup2(sv[1], 0) < 0 || null < 0 || dup2(null, 1) < 0 ||
            dup2(null, 2) < 0)
            _exit(127);
        char me[32];
        snprintf(me, sizeof me, "%ld", (long)getppid());
        execl(path, HELPER_NAME, me, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        give_up(strerror(errno));
        return -1;
    }
    sock = sv[0];
    helper = pid;
    long n = read_until(hello, NULL);
    if (n <= 0) {
        give_up("the helper did not start");
        return -1;
    }
    consume(n);
    return 0;
}

static int64_t mtime_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* Whether path may be read for a record written at ts_ns (0: unknown). */
static int module_ok(const char *path, uint64_t ts_ns)
{
    struct module *m;
    HASH_FIND_STR(modules, path, m);
    if (!m) {
        if (nmodules == MODULES_MAX || !(m = calloc(1, sizeof *m)) ||
            !(m->path = strdup(path))) {
            free(m);
            return 0;
        }
        m->mtime_ns = mtime_of(path);
        HASH_ADD_KEYPTR(hh, modules, m->path, strlen(m->path), m);
        nmodules++;
    }
    if (m->mtime_ns < 0)
        return 0;
    if (ts_ns && (uint64_t)m->mtime_ns > ts_ns) {
        if (!m->warned++ && warn_to)
            fprintf(warn_to, "loopguard report: %s changed after the log "
                    "was written: its frames are shown without "
                    "file:line\n", path);
        return 0;
    }
    return 1;
}

static struct cached *keep(const char *path, uint64_t addr,
                           const struct lg__symp_answer *a)
{
    size_t plen = strlen(path), text = 0;
    for (int i = 0; i < a->n; i++)
        text += strlen(a->f[i].func) + strlen(a->f[i].file) + 2;
    struct cached *c = calloc(1, sizeof *c);
    size_t keylen = sizeof(struct key) + plen;
    char *mem = malloc(keylen + text);
    if (!c || !mem) {
        free(c);
        free(mem);
        return NULL;
    }
    c->key = (struct key *)mem;
    memset(c->key, 0, sizeof *c->key);
    c->key->addr = addr;
    memcpy(c->key->path, path, plen);
    c->keylen = keylen;
    char *p = mem + keylen;
    c->n = a->n;
    for (int i = 0; i < a->n; i++) {
        c->f[i].line = a->f[i].line;
        c->f[i].func = strcpy(p, a->f[i].func);
        p += strlen(p) + 1;
        c->f[i].file = strcpy(p, a->f[i].file);
        p += strlen(p) + 1;
    }
    if (ncached < CACHE_MAX) {
        HASH_ADD_KEYPTR(hh, cache, c->key, c->keylen, c);
        ncached++;
        c->kept = 1;
    }
    return c;
}

static struct cached *find(const char *path, uint64_t addr)
{
    size_t plen = strlen(path);
    char mem[sizeof(struct key) + 4096];
    struct cached *c;
    if (plen > 4096)
        return NULL;
    struct key *k = (struct key *)mem;
    memset(k, 0, sizeof *k);
    k->addr = addr;
    memcpy(k->path, path, plen);
    HASH_FIND(hh, cache, k, sizeof *k + plen, c);
    return c;
}

int lg__report_sym_lookup(const char *path, uint64_t addr, uint64_t ts_ns,
                          const struct lg__symp_frame **frames,
                          void **release)
{
    static struct lg__symp_answer a;
    *frames = NULL;
    *release = NULL;
    if (!enabled || dead || path[0] != '/' || strchr(path, '\n') ||
        !module_ok(path, ts_ns))
        return 0;
    struct cached *c = find(path, addr);
    if (!c) {
        char req[4200];
        size_t len = 0;
        if (sock < 0 && start() != 0)
            return 0;
        uint32_t id = next_id++;
        if (lg__symp_put_request(req, sizeof req, &len, id, addr, path) != 0)
            return 0;
        for (size_t off = 0; off < len;) {
            ssize_t w = write(sock, req + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                give_up("the helper went away");
                return 0;
            }
            off += (size_t)w;
        }
        long n = read_until(answer, &a);
        if (n <= 0 || a.id != id) {
            give_up(n == 0 ? "no answer in time" : "a bad answer");
            return 0;
        }
        consume(n);
        if (!(c = keep(path, addr, &a)))
            return 0;
        if (!c->kept)
            *release = c;

    }
    *frames = c->f;
    return c->n;
}

void lg__report_sym_release(void *r)
{
    struct cached *c = r;
    if (!c)
        return;
    free(c->key);
    free(c);
}

void lg__report_sym_end(void)
{
    struct cached *c, *ctmp;
    struct module *m, *mtmp;
    if (sock >= 0) {
        close(sock);
        sock = -1;
        if (helper > 0)
            while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
                ;
        helper = 0;
    }
    HASH_ITER(hh, cache, c, ctmp) {
        HASH_DEL(cache, c);
        lg__report_sym_release(c);
    }
    HASH_ITER(hh, modules, m, mtmp) {
        HASH_DEL(modules, m);
        free(m->path);
        free(m);
    }
    ncached = nmodules = 0;
}
