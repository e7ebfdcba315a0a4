/* Suppression rules: the parser of suppressions files (shared with the
 * launcher, which checks the files before it starts the program), the glob
 * matcher, and the questions the reports ask: does a rule cover this call,
 * this stack, this record? The process's rules live in one block of arena
 * memory, filled once by lg__supp_init() and only read after; what changes
 * is each rule's count, and a cache of call: verdicts. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lg-internal.h"

#define SYM_MAX 512           /* a demangled name is matched this far */
#define SHOW_MAX 64           /* bytes of user text quoted in a message */
#define MSG_MAX (LG__LOG_PATH_MAX + 256)
#define READ_CHUNK 1024        /* bytes read at once: it runs on the stack
                                 of whichever thread initialises */

/* The messages spell the limits out. */
_Static_assert(LG__SUPP_MAX == 256 && LG__SUPP_LINE_MAX == 256 &&
                   LG__SUPP_FILES_MAX == 8,
               "update the limits in the messages and docs/options.md");

static const char *const kind_names[] = {
#define XX(e, s) s,
    LG__SUPP_KIND_MAP(XX)
#undef XX
};

/* The record types a rule may be limited to, by their JSON names. */
static const struct {
    const char *name;
    int type;
} type_names[] = {
    {"blocking_call", LG__REC_BLOCKING_CALL},
    {"stall", LG__REC_STALL},
    {"deadlock", LG__REC_DEADLOCK},
    {"lock_order_inversion", LG__REC_LOCK_ORDER},
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

static struct lg__supp *active;       /* the process's, NULL: no rules */

int lg__supp_glob(const char *g, const char *s)
{
    /* Backtracking to the last star only: a later star can always cover
     * what an earlier one would. At worst the product of the lengths,
     * which are bounded (a pattern's 255 bytes, a name's 511). */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*g == '*') {
            star = ++g;
            resume = s;
        } else if (*g == '?' || *g == *s) {
            g++;
            s++;
        } else if (star) {
            g = star;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*g == '*')
        g++;
    return *g == '\0';
}

/* ---- parsing ------------------------------------------------------------ */

struct parse {
    struct lg__supp *s;
    int file;                 /* index in s->files */
    lg__supp_err err;
    void *arg;
    int bad;                  /* messages given */
    int line;                 /* number of the line being read */
    char acc[LG__SUPP_LINE_MAX];      /* its bytes, leading blanks left
                                         out, cut at the limit */
    size_t len;
    int cut;                  /* a byte that is not blank was cut */
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}



/* "FILE:LINE: " (or "FILE: " for line 0), the start of every message. */
static void say_where(struct lg__buf *b, const char *file, int line)
{
    lg__buf_printable(b, file, strlen(file));
    if (line > 0) {
        lg__buf_chr(b, ':');
        lg__buf_u64(b, (uint64_t)line);
    }
    lg__buf_str(b, ": ");
}

static void say(struct parse *p, int line, const char *what,
                const char *shown, size_t n, const char *tail)
{
    char msg[MSG_MAX];
    struct lg__buf b;
    lg__buf_init(&b, msg, sizeof msg);
    say_where(&b, p->s->files[p->file], line);
    lg__buf_str(&b, what);
    if (shown)
        lg__buf_shown(&b, shown, n, SHOW_MAX);
    if (tail)
        lg__buf_str(&b, tail);
    p->bad++;
    if (p->err)
        p->err(p->arg, line, msg);
}

static int word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(w, name, n) == 0;
}

/* The word before the next ':' at *q, blanks around it dropped; *q moves
 * past the ':'. -1 when there is no ':'. */
static int next_word(const char **q, const char *end, size_t *n,
                     const char **w)
{
    const char *p = *q, *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon)
        return -1;
    while (p < colon && is_blank(*p))
        p++;
    const char *e = colon;
    while (e > p && is_blank(e[-1]))
        e--;
    *w = p;
    *n = (size_t)(e - p);
    *q = colon + 1;
    return 0;
}

static int find_kind(const char *w, size_t n)
{
    for (int k = 0; k < LG__SUPP_KIND_COUNT; k++)
        if (word_is(w, n, kind_names[k]))
            return k;
    return -1;
}

/* One rule, trimmed (len bytes at t, NUL-terminated). */
static void parse_rule(struct parse *p, const char *t, size_t len)
{
    const char *q = t, *end = t + len, *w;
    size_t n;
    int type = LG__REC_BLOCKING_CALL;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)t[i] < 0x20 && t[i] != '\t') || t[i] == 0x7f) {
            say(p, p->line, "control character in rule ", t, len, NULL);
            return;
        }
    if (next_word(&q, end, &n, &w) != 0) {
        say(p, p->line, "expected KIND:PATTERN, found ", t, len,
            " (KIND: call, caller, function or module)");
        return;
    }
    for (size_t i = 0; i < NTYPES; i++)
        if (word_is(w, n, type_names[i].name)) {
            type = type_names[i].type;
            if (next_word(&q, end, &n, &w) != 0) {
                say(p, p->line, "expected TYPE:KIND:PATTERN, found ", t,
                    len, " (KIND: call, caller, function or module)");
                return;
            }
            break;
        }
    int kind = find_kind(w, n);
    if (kind < 0) {
        say(p, p->line, "unknown kind ", w, n,
            " (expected call, caller, function or module, after an "
            "optional blocking_call:, stall:, deadlock: or "
            "lock_order_inversion:)");
        return;
    }
    while (q < end && is_blank(*q))
        q++;
    if (q == end) {
        say(p, p->line, "empty pattern in ", t, len, NULL);
        return;
    }
    struct lg__supp *s = p->s;
    if (s->nrules >= LG__SUPP_MAX) {
        if (!s->full)
            say(p, p->line, "more than 256 rules: this rule and the ones "
                            "after it are ignored", NULL, 0, NULL);
        s->full = 1;
        return;
    }
    struct lg__supp_rule *r = &s->rules[s->nrules];
    memcpy(r->text, t, len + 1);
    r->type = (uint8_t)type;
    r->kind = (uint8_t)kind;
    r->pattern = (uint16_t)(q - t);
    r->file = (uint16_t)p->file;
    r->line = p->line;
    s->kinds[type] |= (uint8_t)(1u << kind);
    s->nrules++;
}

/* The line in acc is complete. */
static void end_line(struct parse *p)
{
    size_t n = p->len;
    while (n > 0 && is_blank(p->acc[n - 1]))
        n--;
    p->acc[n] = '\0';
    if (n > 0 && p->acc[0] != '#') {
        if (p->cut)
            say(p, p->line, "rule longer than 255 bytes: ", p->acc, n,
                NULL);
        else
            parse_rule(p, p->acc, n);
    }
    p->len = 0;
    p->cut = 0;
}

/* Takes the file's bytes in pieces of any size; a line is parsed when its
 * newline comes (or at the end of the file). Only a line's first 255
 * bytes are kept: a comment may be longer. */
static void feed(struct parse *p, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '\n') {
            end_line(p);
            p->line++;
        } else if (p->len == 0 && is_blank(c)) {
            continue;
        } else if (p->len < sizeof p->acc - 1) {
            p->acc[p->len++] = c;
        } else if (!is_blank(c)) {
            p->cut = 1;   /* blanks past the limit may be trailing ones */
        }
    }
}

/* Registers the file's name; -1 (said) when there is no room for it. */
static int begin(struct parse *p, struct lg__supp *s, const char *file,
                 lg__supp_err err, void *arg)
{
    memset(p, 0, sizeof *p);
    p->s = s;
    p->err = err;
    p->arg = arg;
    p->line = 1;
    size_t n = strlen(file);
    if (s->nfiles >= LG__SUPP_FILES_MAX || n >= LG__LOG_PATH_MAX) {
        char msg[MSG_MAX];
        struct lg__buf b;
        lg__buf_init(&b, msg, sizeof msg);
        lg__buf_printable(&b, file, n < SHOW_MAX ? n : SHOW_MAX);
        lg__buf_str(&b, n >= LG__LOG_PATH_MAX ? ": path too long"
                                              : ": more than 8 files");
        if (err)
            err(arg, 0, msg);
        return -1;
    }
    p->file = s->nfiles++;
    memcpy(s->files[p->file], file, n + 1);
    return 0;
}

int lg__supp_parse(struct lg__supp *s, const char *file, const char *text,
                   size_t n, lg__supp_err err, void *arg)
{
    struct parse p;
    if (begin(&p, s, file, err, arg) != 0)
        return 1;
    feed(&p, text, n);
    end_line(&p);
    return p.bad;
}

int lg__supp_load(struct lg__supp *s, const char *file, lg__supp_err err,
                  void *arg)
{
    struct parse p;
    char buf[READ_CHUNK];
    int saved = errno;
    if (begin(&p, s, file, err, arg) != 0)
        return 1;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* strerrordesc_np: no locale, no allocation, in any process. */
        say(&p, 0, "cannot open: ", NULL, 0, strerrordesc_np(errno));
        errno = saved;
        return p.bad;
    }
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            say(&p, 0, "cannot read: ", NULL, 0, strerrordesc_np(errno));
            break;
        }
        if (got == 0) {
            end_line(&p);
            break;
        }
        feed(&p, buf, (size_t)got);
    }
    close(fd);
    errno = saved;
    return p.bad;
}

/* ---- the process's rules ------------------------------------------------ */

static void print_err(void *arg, int line, const char *msg)
{
    (void)arg;
    char out[MSG_MAX + 64];
    struct lg__buf b;
    lg__buf_init(&b, out, sizeof out);
    lg__buf_str(&b, "loopguard: ");
    lg__buf_str(&b, msg);
    lg__buf_str(&b, line > 0 ? "; line ignored\n" : "; file ignored\n");
    (void)!write(2, b.p, b.len);
}

void lg__supp_init(void)
{
    if (lg__opt.suppressions.n == 0)
        return;
    struct lg__supp *s = lg__arena_alloc(sizeof *s);
    if (!s) {
        static const char oom[] = "loopguard: no memory for suppression "
                                  "rules; none apply\n";
        (void)!write(2, oom, sizeof oom - 1);
        return;
    }
    for (int i = 0; i < lg__opt.suppressions.n; i++)
        lg__supp_load(s, lg__opt.suppressions.path[i], print_err, NULL);
    if (s->nrules)
        __atomic_store_n(&active, s, __ATOMIC_RELEASE);
}

static int is_runtime(const char *module)
{
    return module && lg__runtime_object(module);
}

static const char *pattern(const struct lg__supp_rule *r)
{
    return r->text + r->pattern;
}

/* The first rule of `type` and a kind in `kinds` matching str, below
 * `best` (rules after the best found so far cannot win). */
static int first_match(const struct lg__supp *s, int type, unsigned kinds,
                       const char *str, int best)
{
    for (int i = 0; i < best; i++) {
        const struct lg__supp_rule *r = &s->rules[i];
        if (r->type == type && (kinds >> r->kind & 1) &&
            lg__supp_glob(pattern(r), str))
            return i;
    }
    return best;
}

int lg__supp_match(const struct lg__supp *s, int type, const char *call,
                   const struct lg__sym *f, int n)
{
    if (!s)
        s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (!s || type < 0 || type > LG__REC_LOCK_ORDER || !s->kinds[type])
        return -1;
    unsigned kinds = s->kinds[type];
    int nrules = s->nrules;
    int best = nrules;
    if (call && (kinds & 1u << LG__SUPP_CALL))
        best = first_match(s, type, 1u << LG__SUPP_CALL, call, best);
    /* The caller: past the runtime's frames and the loop library's. */
    int caller = 0;
    while (caller < n && (is_runtime(f[caller].module) ||
                          lg__in_loop_library(f[caller].pc - 1)))
        caller++;
    /* Frame by frame, each name demangled once, every rule tried on it. */
    unsigned fk = kinds & (1u << LG__SUPP_CALLER | 1u << LG__SUPP_FUNCTION);
    for (int i = 0; i < n && best > 0; i++) {
        if (f[i].module && (kinds & 1u << LG__SUPP_MODULE))
            best = first_match(s, type, 1u << LG__SUPP_MODULE, f[i].module,
                               best);
        unsigned k = fk & ~(i == caller ? 0u : 1u << LG__SUPP_CALLER);
        if (!k || !f[i].name)
            continue;
        char name[SYM_MAX];
        lg__demangle(f[i].name, name, sizeof name);
        best = first_match(s, type, k, name, best);
    }
    return best < nrules ? best : -1;
}

static int min_rule(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int lg__supp_record(const struct lg__record *r)
{
    if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE))
        return -1;
    if (r->type == LG__REC_STALL)
        return r->stall_ended ? -1
                              : lg__supp_match(NULL, r->type, r->call,
                                               r->stack, r->nstack);
    if (r->type != LG__REC_DEADLOCK && r->type != LG__REC_LOCK_ORDER)
        return -1;
    /* Any thread of a deadlock, any edge of a cycle. */
    int best = -1;
    for (int i = 0; i < r->nthreads; i++) {
        const struct lg__thread_report *t = &r->threads[i];
        best = min_rule(best, lg__supp_match(NULL, r->type, t->call,
                                             t->stack, t->nstack));
    }
    return best;
}

/* A cache entry: the call name's address above 16 bits of the verdict,
 * the rule + 1 (0: no rule). An address above 48 bits (not user space on
 * x86-64 today) is not cached. */
#define CACHE_SHIFT 16

int lg__supp_call(const char *call)
{
    struct lg__supp *s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (LG__LIKELY(!s) ||
        !(s->kinds[LG__REC_BLOCKING_CALL] & 1u << LG__SUPP_CALL))
        return -1;
    uintptr_t a = (uintptr_t)call;
    unsigned slot = (unsigned)((a >> 3) ^ (a >> 11)) % 64;
    uint64_t e = __atomic_load_n(&s->call_cache[slot], __ATOMIC_RELAXED);
    if (e >> CACHE_SHIFT == a)
        return (int)(e & 0xffff) - 1;
    int rule = first_match(s, LG__REC_BLOCKING_CALL, 1u << LG__SUPP_CALL,
                           call, s->nrules);
    rule = rule < s->nrules ? rule : -1;
    if (a >> (64 - CACHE_SHIFT) == 0)
        __atomic_store_n(&s->call_cache[slot],
                         (uint64_t)a << CACHE_SHIFT | (uint64_t)(rule + 1),
                         __ATOMIC_RELAXED);
    return rule;
}

int lg__supp_need_stack(void)
{
    struct lg__supp *s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    return s && (s->kinds[LG__REC_BLOCKING_CALL] & ~(1u << LG__SUPP_CALL));
}

void lg__supp_hit(int i)
{
    struct lg__supp *s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (s && i >= 0 && i < s->nrules)
        __atomic_add_fetch(&s->rules[i].count, 1, __ATOMIC_RELAXED);
}

void lg__supp_fork_child(void)
{
    struct lg__supp *s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    for (int i = 0; s && i < s->nrules; i++)
        s->rules[i].count = 0;
}

int lg__supp_used(struct lg__summary_rule *out, int max)
{
    struct lg__supp *s = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    int n = 0;
    for (int i = 0; s && i < s->nrules; i++) {
        const struct lg__supp_rule *r = &s->rules[i];
        uint64_t c = __atomic_load_n(&r->count, __ATOMIC_RELAXED);
        if (!c)
            continue;
        if (n < max)
            out[n] = (struct lg__summary_rule){r->text, s->files[r->file],
                                               r->line, c};
        n++;
    }
    return n;
}
