/* The lines the host and loopguard-symbolizer exchange (symbolizer.h has
 * the grammar). Both ends build and parse them here; the host's parser of
 * answers is fuzzed (fuzz/fuzz-symbolizer.c), since a helper that went
 * wrong must not be able to make the host read or write out of bounds.
 * No allocation, no locale, no stdio: it runs inside the host's wrappers. */
#include <string.h>

#include "symbolizer.h"

static int put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n > cap - *len)
        return -1;
    memcpy(out + *len, s, n);
    *len += n;
    return 0;
}

static int put_u64(char *out, size_t cap, size_t *len, uint64_t v,
                   unsigned base)
{
    char d[24];
    size_t i = sizeof d;
    do {
        d[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    return put(out, cap, len, d + i, sizeof d - i);
}

int lg__symp_put_request(char *out, size_t cap, size_t *len, uint32_t id,
                         uint64_t addr, const char *path)
{
    size_t n = *len, plen = strlen(path);
    if (memchr(path, '\n', plen) || put_u64(out, cap, &n, id, 10) ||
        put(out, cap, &n, " ", 1) || put_u64(out, cap, &n, addr, 16) ||
        put(out, cap, &n, " ", 1) || put(out, cap, &n, path, plen) ||
        put(out, cap, &n, "\n", 1))
        return -1;
    *len = n;
    return 0;
}

/* A decimal or hex number of at most `max` digits ended by `end`; *p
 * moves past the ending byte. */
static int get_num(const char **p, const char *lim, unsigned base,
                   int max, char end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    int digits = 0;
    for (; s < lim && *s != end; s++, digits++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else
            return -1;
        if (digits == max)
            return -1;
        x = x * base + d;
    }
    if (s == lim || digits == 0)
        return -1;
    *p = s + 1;
    *v = x;
    return 0;
}

int lg__symp_parse_request(const char *line, size_t len, uint32_t *id,
                           uint64_t *addr, const char **path)
{
    const char *p = line, *lim = line + len;
    uint64_t v;
    if (get_num(&p, lim, 10, 10, ' ', &v) || v > UINT32_MAX ||
        get_num(&p, lim, 16, 16, ' ', addr) || p == lim ||
        memchr(p, '\n', (size_t)(lim - p)) ||
        memchr(p, '\0', (size_t)(lim - p)))
        return -1;
    *id = (uint32_t)v;
    *path = p;
    return 0;
}

/* Escapes at most LG__SYMP_STR_MAX bytes of s. */
static int put_escaped(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strnlen(s, LG__SYMP_STR_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *e = s[i] == '\\' ? "\\\\" : s[i] == '\t' ? "\\t"
                      : s[i] == '\n' ? "\\n" : NULL;
        if (e ? put(out, cap, len, e, 2) : put(out, cap, len, s + i, 1))
            return -1;
    }
    return 0;
}

int lg__symp_put_answer(char *out, size_t cap, size_t *len, uint32_t id,
                        const struct lg__symp_frame *f, int n)
{
    size_t at = *len;
    if (n < 0)
        n = 0;
    if (n > LG__SYMP_DEPTH)
        n = LG__SYMP_DEPTH;
    int bad = put_u64(out, cap, &at, id, 10) || put(out, cap, &at, " ", 1) ||
              put_u64(out, cap, &at, (uint64_t)n, 10) ||
              put(out, cap, &at, "\n", 1);
    for (int i = 0; i < n && !bad; i++)
        bad = put_u64(out, cap, &at, f[i].line, 10) ||
              put(out, cap, &at, "\t", 1) ||
              put_escaped(out, cap, &at, f[i].func ? f[i].func : "") ||
              put(out, cap, &at, "\t", 1) ||
              put_escaped(out, cap, &at, f[i].file ? f[i].file : "") ||
              put(out, cap, &at, "\n", 1);
    if (bad)
        return -1;
    *len = at;
    return 0;
}

/* Unescapes the field at *p (up to `end` or the line's end, lim) into
 * a->text at *used, NUL-terminated. -1 on a bad escape or a field longer
 * than LG__SYMP_STR_MAX. */
static int get_field(const char **p, const char *lim, char end,
                     struct lg__symp_answer *a, size_t *used,
                     const char **out)
{
    const char *s = *p;
    char *t = a->text + *used;
    size_t n = 0;
    for (; s < lim && *s != end; s++) {
        char c = *s;
        if (c == '\\') {
            if (++s == lim)
                return -1;
            c = *s == '\\' ? '\\' : *s == 't' ? '\t' : *s == 'n' ? '\n' : 0;
            if (!c)
                return -1;
        } else if (c == '\t' || c == '\0') {
            return -1;
        }
        if (n == LG__SYMP_STR_MAX)
            return -1;
        t[n++] = c;
    }
    if (end != '\n' && s == lim)
        return -1;
    t[n] = '\0';
    *out = t;
    *used += n + 1;
    *p = s < lim ? s + 1 : s;
    return 0;
}

/* One frame line, lim at its LF. */
static int get_frame(const char *p, const char *lim,
                     struct lg__symp_answer *a, size_t *used,
                     struct lg__symp_frame *f)
{
    uint64_t line;
    if (get_num(&p, lim, 10, 10, '\t', &line) || line > UINT32_MAX ||
        get_field(&p, lim, '\t', a, used, &f->func) ||
        get_field(&p, lim, '\n', a, used, &f->file) || p != lim)
        return -1;
    f->line = (uint32_t)line;
    return 0;
}

long lg__symp_parse_answer(const char *buf, size_t len,
                           struct lg__symp_answer *a)
{
    const char *p = buf, *end = buf + len;
    const char *nl = memchr(p, '\n', len);
    if (!nl)
        return len > 32 ? -1 : 0;     /* a header is short */
    uint64_t id, n;
    if (get_num(&p, nl, 10, 10, ' ', &id) || id > UINT32_MAX ||
        get_num(&p, nl + 1, 10, 3, '\n', &n) || n > LG__SYMP_DEPTH)
        return -1;
    a->id = (uint32_t)id;
    a->n = (int)n;
    size_t used = 0;
    for (uint64_t i = 0; i < n; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return (size_t)(end - p) > LG__SYMP_FRAME_MAX ? -1 : 0;
        if (get_frame(p, nl, a, &used, &a->f[i]))
            return -1;
        p = nl + 1;
    }
    return (long)(p - buf);
}

long lg__symp_parse_hello(const char *buf, size_t len)
{
    size_t want = sizeof LG__SYMP_HELLO - 1;
    size_t n = len < want ? len : want;
    if (memcmp(buf, LG__SYMP_HELLO, n) != 0)
        return -1;
    return n == want ? (long)want : 0;
}
