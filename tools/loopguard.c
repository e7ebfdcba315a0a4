/* loopguard: runs a program under libloopguard-preload.so, like valgrind or
 * catchsegv. Turns its flags into LOOPGUARD_OPTIONS, puts the preload first
 * in LD_PRELOAD, refuses programs the loader would run in secure mode (it
 * would drop the preload without a word), and exits with the program's
 * status. docs/launcher.md is the user's page. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lg-internal.h"
#include "report.h"

#define PRELOAD_NAME "libloopguard-preload.so"
#define EXIT_USAGE 2          /* the program was not started */
#define OPTS_MAX 16384        /* LOOPGUARD_OPTIONS we build */
#define ENTRY_MAX (5 * LG__LOG_PATH_MAX + 64)   /* one quoted key=value */
#define LD_PRELOAD_MAX 16384
#define OPT_SEPS ":, \t\n\r\v\f" /* the separators options.c splits on */

/* One flag per LOOPGUARD_OPTIONS key; docs/options.md says what each does.
 * Flags are spelt with '-' or '_' alike (--max-frames, --max_frames). */
static const struct flag {
    const char *key;          /* LOOPGUARD_OPTIONS key */
    const char *arg;          /* placeholder in --help */
    const char *help;
} flags[] = {
    {"log", "FILE", "write reports to FILE (%p: the pid), not stderr"},
    {"format", "text|json", "report format (default text)"},
    {"mode", "report|abort", "abort at the first report (default report)"},
    {"exitcode", "N", "exit status when anything was reported (0: keep)"},
    {"dedupe", "0|1", "report each call site once (default 1)"},
    {"max_frames", "N", "frames printed per stack, 1 to 64 (default 32)"},
    {"stall_ms", "N", "stall and deadlock threshold in ms, 0: off (default 1000)"},
    {"lock_order", "0|1", "report lock-order inversions (default 1)"},
    {"grace_ms", "N", "report nothing in a loop's first N ms (default 0)"},
    {"suppressions", "FILE", "rules of what not to report (repeatable)"},
    {"max_reports", "N", "records written at most, 0: no cap (default 1000)"},
    {"symbolize_ms", "N", "wait for file:line N ms per report (default 2000)"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

/* The child's pid once it exists; the forwarding handler reads it. */
static volatile sig_atomic_t child_pid;

static void usage(FILE *f)
{
    fputs("usage: loopguard [OPTIONS] [--] PROGRAM [ARGS...]\n"
          "       loopguard report [--exitcode=N] FILE...\n"
          "Runs PROGRAM with libloopguard-preload.so, which reports blocking"
          " calls\nmade on event-loop threads. Each option sets the"
          " LOOPGUARD_OPTIONS key of\nthe same name, after any"
          " LOOPGUARD_OPTIONS from the environment.\n\n", f);
    for (size_t i = 0; i < NFLAGS; i++) {
        char name[64];
        size_t n = 0;
        for (const char *k = flags[i].key; *k && n < 40; k++)
            name[n++] = *k == '_' ? '-' : *k;
        name[n] = '\0';
        fprintf(f, "  --%s=%-*s%s\n", name, (int)(19 - n), flags[i].arg,
                flags[i].help);
    }
    fprintf(f, "  %-22sshow this help\n  %-22sshow the version\n\n",
            "-h, --help", "--version");
    fputs("Exit status: PROGRAM's; 128+N when a signal N killed it; 126 or"
          " 127 when\nit could not be executed; 2 when loopguard did not"
          " start it.\n\n'loopguard report' summarises JSON-lines logs"
          " ('loopguard report --help');\na program named report runs with"
          " 'loopguard -- report'.\n", f);
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("loopguard: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'loopguard --help' for more information.\n", stderr);
    exit(EXIT_USAGE);
}

/* Matches "--name" or "--name=value" against the table; NULL if unknown. */
static const struct flag *find_flag(const char *arg, const char **value)
{
    const char *name = arg + 2;
    size_t n = strcspn(name, "=");
    for (size_t i = 0; i < NFLAGS; i++) {
        const char *k = flags[i].key;
        size_t j = 0;
        while (j < n && k[j] && (name[j] == k[j] ||
                                 (name[j] == '-' && k[j] == '_')))
            j++;
        if (j == n && !k[j]) {
            *value = name[n] ? name + n + 1 : NULL;
            return &flags[i];
        }
    }
    return NULL;
}

/* Context for the parser's error lines: what the user wrote (a flag name,
 * or LOOPGUARD_OPTIONS for the inherited string). */
struct source {
    const char *name;
    int len;
};

/* The parser words its lines for the preload, which carries on with the
 * default ("; using text", "; ignored"); the launcher stops instead, so
 * that tail is cut, and the line names the flag the user typed. If the
 * wording ever changes, the line is printed whole. */
static void option_error(void *arg, const char *line)
{
    static const char prefix[] = "loopguard: LOOPGUARD_OPTIONS: ";
    const struct source *src = arg;
    size_t n = strlen(line);
    if (strncmp(line, prefix, sizeof prefix - 1) == 0) {
        line += sizeof prefix - 1;
        n -= sizeof prefix - 1;
    }
    const char *tail = NULL;
    for (const char *p = strstr(line, "; "); p; p = strstr(p + 2, "; "))
        tail = p;
    if (tail && (strncmp(tail, "; using ", 8) == 0 ||
                 strcmp(tail, "; ignored") == 0))
        n = (size_t)(tail - line);
    fprintf(stderr, "loopguard: %.*s: %.*s\n", src->len, src->name, (int)n,
            line);
}

/* Returns the number of bad entries in s, each reported on stderr. */
static int check_options(const char *s, const char *name, int len)
{
    struct lg__options o;
    struct source src = {name, len};
    lg__options_defaults(&o);
    return lg__options_parse(&o, s, option_error, &src);
}

/* Reads the options in front of PROGRAM, appending each flag's entry to
 * *opts after the inherited string, and adding bad values to *nbad (each
 * reported, so the user sees them all). A bad flag stops at once. Returns
 * the index of PROGRAM in argv. */
static int parse_flags(int argc, char **argv, struct lg__buf *opts,
                       int *nbad)
{
    int i;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i], *value;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("loopguard %d.%d.%d\n", LG_VERSION_MAJOR,
                   LG_VERSION_MINOR, LG_VERSION_PATCH);
            exit(0);
        }
        const struct flag *f = a[1] == '-' ? find_flag(a, &value) : NULL;
        if (!f)
            usage_error("unknown option %s", a);
        if (!value)
            usage_error("%s needs a value: %s=%s", a, a, f->arg);
        /* A suppressions file named from here stays the same file for a
         * program that changes directory first (`sh -c 'cd dir && ...'`):
         * the preload reads it where the program starts. */
        char abs[PATH_MAX];
        if (strcmp(f->key, "suppressions") == 0 && value[0] != '/' &&
            getcwd(abs, sizeof abs) &&
            strlen(abs) + 1 + strlen(value) < sizeof abs) {
            strcat(strcat(abs, "/"), value);
            value = abs;
        }
        char mem[ENTRY_MAX];
        struct lg__buf e;
        lg__buf_init(&e, mem, sizeof mem);
        lg__options_put(&e, f->key, value);
        int len = (int)strcspn(a, "=");
        if (e.full) {
            fprintf(stderr, "loopguard: %.*s: value too long\n", len, a);
            ++*nbad;
            continue;
        }
        *nbad += check_options(e.p, a, len);
        if (opts->len && !strchr(OPT_SEPS, opts->p[opts->len - 1]))
            lg__buf_chr(opts, ':');
        lg__buf_str(opts, e.p);
    }
    if (i >= argc)
        usage_error("no PROGRAM to run");
    return i;
}

static void supp_error(void *arg, int line, const char *msg)
{
    (void)arg;
    (void)line;
    fprintf(stderr, "loopguard: %s\n", msg);
}

/* Reads every suppressions file with the preload's own parser, so that a
 * bad rule stops the launcher rather than being skipped in the program.
 * Returns the number of messages. */
static int check_suppressions(const struct lg__options *o)
{
    static struct lg__supp set;
    int bad = 0;
    for (int i = 0; i < o->suppressions.n; i++)
        bad += lg__supp_load(&set, o->suppressions.path[i], supp_error,
                             NULL);
    return bad;
}

/* The preload sits next to the launcher in the build tree, and in ../lib
 * once installed (make install: PREFIX/bin and PREFIX/lib). */
static int find_preload(char *out)
{
    static const char *const rel[] = {"/" PRELOAD_NAME,
                                      "/../lib/" PRELOAD_NAME};
    char dir[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0 || n >= (ssize_t)sizeof dir - 1) {
        fprintf(stderr, "loopguard: cannot read /proc/self/exe: %s\n",
                n < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s%s", dir, rel[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            realpath(path, out))
            return 0;
    }
    fprintf(stderr, "loopguard: cannot find %s in %s or %s/../lib; is "
                    "loopguard built or installed completely?\n",
            PRELOAD_NAME, dir, dir);
    return -1;
}

/* True when the LD_PRELOAD entry p (n bytes) is an ASan runtime. */
static int is_asan(const char *p, size_t n)
{
    const char *base = p;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/')
            base = p + i + 1;
    return (size_t)(p + n - base) >= 10 &&
           memcmp(base, "libasan.so", 10) == 0;
}

#ifdef __SANITIZE_ADDRESS__
#include <link.h>

static int find_asan(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    if (!is_asan(info->dlpi_name, strlen(info->dlpi_name)))
        return 0;
    *(const char **)arg = info->dlpi_name;
    return 1;
}

/* An ASan build of the preload needs the ASan runtime before it in
 * LD_PRELOAD, or ASan refuses to start. This launcher comes from the same
 * build, so it passes on the runtime it was itself linked with. */
static const char *asan_runtime(void)
{
    const char *path = NULL;
    dl_iterate_phdr(find_asan, &path);
    return path;
}
#else
static const char *asan_runtime(void)
{
    return NULL;
}
#endif

static int set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) == 0)
        return 0;
    fprintf(stderr, "loopguard: setenv %s: %s\n", name, strerror(errno));
    return -1;
}

/* True when the LD_PRELOAD entry p (n bytes) names the file st. */
static int same_file(const char *p, size_t n, const struct stat *st)
{
    char path[PATH_MAX];
    struct stat e;
    if (n >= sizeof path)
        return 0;
    memcpy(path, p, n);
    path[n] = '\0';
    return stat(path, &e) == 0 && e.st_dev == st->st_dev &&
           e.st_ino == st->st_ino;
}

/* Sets LD_PRELOAD to the preload followed by the inherited entries, minus
 * any earlier copy of the preload: loaded twice, every wrapper would see
 * the other's calls. */
static int set_ld_preload(const char *preload)
{
    static char mem[LD_PRELOAD_MAX];
    const char *asan = asan_runtime(), *old = getenv("LD_PRELOAD");
    struct lg__buf b;
    struct stat self;
    if (stat(preload, &self) != 0) {
        fprintf(stderr, "loopguard: %s: %s\n", preload, strerror(errno));
        return -1;
    }
    lg__buf_init(&b, mem, sizeof mem);
    if (asan) {
        lg__buf_str(&b, asan);
        lg__buf_chr(&b, ':');
    }
    lg__buf_str(&b, preload);
    /* ld.so splits LD_PRELOAD on both ' ' and ':'. */
    for (const char *p = old ? old : ""; *p;) {
        size_t n = strcspn(p, " :");
        if (n && !same_file(p, n, &self) && !(asan && is_asan(p, n))) {
            lg__buf_chr(&b, ':');
            lg__buf_mem(&b, p, n);
        }
        p += n + (p[n] != '\0');
    }
    if (b.full) {
        fprintf(stderr, "loopguard: LD_PRELOAD would be longer than %d "
                        "bytes\n", LD_PRELOAD_MAX - 1);
        return -1;
    }
    return set_env("LD_PRELOAD", b.p);
}

/* Finds the file execvp would run, so the set-uid check looks at the right
 * one. Returns -1 when there is none; execvp then fails and says why. */
static int resolve_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/'))
        return snprintf(out, cap, "%s", name) < (int)cap ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";   /* glibc's execvp default */
    for (const char *p = path;; p++) {
        size_t n = strcspn(p, ":");
        struct stat st;
        /* An empty PATH element is the current directory. */
        if (snprintf(out, cap, "%.*s%s%s", (int)n, n ? p : ".", "/",
                     name) < (int)cap &&
            access(out, X_OK) == 0 && stat(out, &st) == 0 &&
            S_ISREG(st.st_mode))
            return 0;
        p += n;
        if (!*p)
            return -1;
    }
}

/* The loader runs set-user-ID, set-group-ID and capability-carrying
 * programs in secure mode, where it ignores a preload given by path: the
 * program would run unwatched and loopguard would report nothing. */
static int refuse_secure(const char *prog)
{
    char path[PATH_MAX];
    struct stat st;
    const char *why = NULL;
    if (resolve_program(prog, path, sizeof path) != 0 ||
        stat(path, &st) != 0)
        return 0;
    if (st.st_mode & S_ISUID)
        why = "is set-user-ID";
    else if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
        why = "is set-group-ID";
    else if (getxattr(path, "security.capability", NULL, 0) > 0)
        why = "has file capabilities";
    if (!why)
        return 0;
    fprintf(stderr, "loopguard: %s %s: ld.so ignores LD_PRELOAD for it, "
                    "so nothing would be checked; not running it\n",
            path, why);
    return 1;
}

static void forward_signal(int sig)
{
    int saved = errno;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
    errno = saved;
}

/* Dispositions and mask the launcher started with; the child gets them
 * back before exec, as if the launcher were not there. */
struct saved_signals {
    struct sigaction intr, quit, term, hup;
    sigset_t mask;
};

/* The terminal sends SIGINT and SIGQUIT to the whole process group, so the
 * child already has them and decides; the launcher outlives it to report
 * its status. SIGTERM and SIGHUP usually target the launcher alone and are
 * passed on. They stay blocked until child_pid is set, so none is lost or
 * sent to pid 0 (our own group) in between. */
static void signals_take(struct saved_signals *s)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    struct sigaction fwd = {.sa_handler = forward_signal,
                            .sa_flags = SA_RESTART};
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &s->mask);
    sigaction(SIGINT, &ign, &s->intr);
    sigaction(SIGQUIT, &ign, &s->quit);
    sigaction(SIGTERM, NULL, &s->term);
    sigaction(SIGHUP, NULL, &s->hup);
    /* Ignored on entry (nohup): the child inherits that, and so do we. */
    if (s->term.sa_handler != SIG_IGN)
        sigaction(SIGTERM, &fwd, NULL);
    if (s->hup.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &fwd, NULL);
}

/* Dispositions first: unblocking with our handler still in place would
 * run it in the child, where child_pid is 0, and drop the signal. */
static void signals_restore(const struct saved_signals *s)
{
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGQUIT, &s->quit, NULL);
    sigaction(SIGTERM, &s->term, NULL);
    sigaction(SIGHUP, &s->hup, NULL);
    sigprocmask(SIG_SETMASK, &s->mask, NULL);
}

/* Runs argv like a shell would; returns the wait status, or -1. */
static int run(char **argv, pid_t *pid)
{
    struct saved_signals s;
    int status;
    signals_take(&s);
    *pid = fork();
    if (*pid < 0) {
        fprintf(stderr, "loopguard: fork: %s\n", strerror(errno));
        return -1;
    }
    if (*pid == 0) {
        signals_restore(&s);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "loopguard: %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
    }
    child_pid = *pid;
    sigprocmask(SIG_SETMASK, &s.mask, NULL);
    while (waitpid(*pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "loopguard: waitpid: %s\n", strerror(errno));
            return -1;
        }
    }
    return status;
}

static void signal_name(int sig, char *out, size_t cap)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(out, cap, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(out, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(out, cap, "unknown signal");
}

/* Names the child's log when it holds something. Only the child's own
 * file: its descendants, if the name has %p, write files of their own. */
static void say_log(const char *tmpl, pid_t pid)
{
    char path[LG__LOG_PATH_MAX + 32];
    struct lg__buf b;
    struct stat st;
    if (!tmpl[0])
        return;
    lg__buf_init(&b, path, sizeof path);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            lg__buf_u64(&b, (uint64_t)pid);
            p++;
        } else {
            lg__buf_chr(&b, *p);
        }
    }
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        fprintf(stderr, "loopguard: reports in %s\n", path);
}

int main(int argc, char **argv)
{
    static char opts_mem[OPTS_MAX];
    char preload[PATH_MAX];
    struct lg__buf opts;
    struct lg__options o;
    const char *env = getenv("LOOPGUARD_OPTIONS");
    int nbad = 0;
    pid_t pid;

    /* Only as the first word: `loopguard -- report` and `loopguard
     * --log=x report` still run a program named report. */
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return lg__report_main(argc - 1, argv + 1, stdout, stderr);
    lg__buf_init(&opts, opts_mem, sizeof opts_mem);
    if (env) {
        nbad += check_options(env, "LOOPGUARD_OPTIONS", 17);
        lg__buf_str(&opts, env);
    }
    int first = parse_flags(argc, argv, &opts, &nbad);
    if (opts.full) {
        fprintf(stderr, "loopguard: LOOPGUARD_OPTIONS would be longer than "
                        "%d bytes\n", OPTS_MAX - 1);
        return EXIT_USAGE;
    }
    /* Each part was checked alone to name its source; the whole string
     * is what the preload will read. */
    lg__options_defaults(&o);
    if (!nbad)
        nbad += lg__options_parse(&o, opts.p, option_error,
                                  &(struct source){"LOOPGUARD_OPTIONS", 17});
    if (nbad) {
        fprintf(stderr, "loopguard: bad options; not running %s\n",
                argv[first]);
        return EXIT_USAGE;
    }
    if (check_suppressions(&o)) {
        fprintf(stderr, "loopguard: bad suppressions; not running %s\n",
                argv[first]);
        return EXIT_USAGE;
    }
    if (find_preload(preload) != 0 || refuse_secure(argv[first]) ||
        set_ld_preload(preload) != 0)
        return EXIT_USAGE;
    if (opts.len && set_env("LOOPGUARD_OPTIONS", opts.p) != 0)
        return EXIT_USAGE;

    int status = run(argv + first, &pid);
    if (status < 0)
        return EXIT_USAGE;
    say_log(o.log, pid);
    if (WIFSIGNALED(status)) {
        char name[32];
        signal_name(WTERMSIG(status), name, sizeof name);
        fprintf(stderr, "loopguard: %s killed by signal %d (%s)\n",
                argv[first], WTERMSIG(status), name);
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}
