/* Small helpers safe to call anywhere, including signal handlers and the
 * wrappers' slow paths: a bounded text buffer with number and JSON string
 * formatting (no snprintf: it may allocate and reads the locale), a
 * never-freed mmap arena for bounded tables, and the clocks. */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "lg-internal.h"

void lg__buf_init(struct lg__buf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->full = 0;
    if (cap)
        mem[0] = '\0';
}

/* Keeps one byte for the terminating NUL, so b->p is always a C string. */
void lg__buf_mem(struct lg__buf *b, const char *s, size_t n)
{
    if (b->cap == 0) {
        b->full |= n > 0;
        return;
    }
    size_t room = b->cap - 1 - b->len;
    if (n > room) {
        n = room;
        b->full = 1;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void lg__buf_str(struct lg__buf *b, const char *s)
{
    lg__buf_mem(b, s, strlen(s));
}

void lg__buf_chr(struct lg__buf *b, char c)
{
    lg__buf_mem(b, &c, 1);
}

void lg__buf_u64(struct lg__buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    lg__buf_mem(b, tmp + i, sizeof tmp - i);
}

void lg__proc_path(char *out, size_t cap, const char *dir, uint64_t num)
{
    struct lg__buf b;
    lg__buf_init(&b, out, cap);
    lg__buf_str(&b, dir);
    lg__buf_u64(&b, num);
    lg__buf_chr(&b, '\0');
}

void lg__buf_i64(struct lg__buf *b, int64_t v)
{
    if (v < 0) {
        lg__buf_chr(b, '-');
        lg__buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        lg__buf_u64(b, (uint64_t)v);
    }
}

void lg__buf_hex(struct lg__buf *b, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[18];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = digits[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    lg__buf_mem(b, tmp + i, sizeof tmp - i);
}

int lg__buf_fits_or_undo(struct lg__buf *b, size_t mark, size_t reserve)
{
    if (!b->full && b->len + reserve < b->cap)
        return 1;
    b->len = mark;
    if (b->cap)
        b->p[mark] = '\0';
    b->full = 0;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s does not
 * start one (a stray byte, an overlong form, a surrogate, a cut sequence). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2
             : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (n == 0 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
        (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* True when s[0..n) is the start of a sequence that was cut short. */
static int utf8_cut(const unsigned char *s, size_t n)
{
    if (n >= 4 || s[0] < 0xc2 || s[0] >= 0xf5)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return 1;
}

void lg__buf_printable(struct lg__buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        lg__buf_chr(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
    }
}

void lg__buf_shown(struct lg__buf *b, const char *s, size_t n, size_t max)
{
    lg__buf_chr(b, '\'');
    lg__buf_printable(b, s, n < max ? n : max);
    if (n > max)
        lg__buf_str(b, "...");
    lg__buf_chr(b, '\'');
}

void lg__buf_json_strn(struct lg__buf *b, const char *s, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strnlen(s, max);
    lg__buf_chr(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            lg__buf_mem(b, e, 2);
        } else if (c == '\n') {
            lg__buf_mem(b, "\\n", 2);
        } else if (c == '\t') {
            lg__buf_mem(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 15]};
            lg__buf_mem(b, e, 6);
        } else if (c >= 0x80) {
            /* JSON is UTF-8: a path or name that is not (any bytes are
             * legal in both) gets U+FFFD; a character cut at the very end
             * (a length limit, the kernel's 15-byte thread names) is left
             * out. */
            size_t n = utf8_seq(u + i, len - i);
            if (n) {
                lg__buf_mem(b, s + i, n);
                i += n;
                continue;
            }
            if (utf8_cut(u + i, len - i))
                break;
            lg__buf_mem(b, "\\ufffd", 6);
        } else {
            lg__buf_chr(b, (char)c);
        }
        i++;
    }
    lg__buf_chr(b, '"');
}

void lg__buf_json_str(struct lg__buf *b, const char *s)
{
    lg__buf_json_strn(b, s, SIZE_MAX);
}

/* A bump allocator over 1 MiB mappings; the tail of a chunk that cannot
 * serve a request is abandoned. Callers bound their own use (site table,
 * symbol tables), so the arena needs no limit. It runs only on slow paths,
 * so a plain lock (registered for fork) is enough. */
#define ARENA_CHUNK ((size_t)1 << 20)

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena_cur, *arena_end;

void *lg__arena_alloc(size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n > ARENA_CHUNK / 4) {
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    pthread_mutex_lock(&arena_lock);
    if (!arena_cur || (size_t)(arena_end - arena_cur) < n) {
        void *m = mmap(NULL, ARENA_CHUNK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            pthread_mutex_unlock(&arena_lock);
            return NULL;
        }
        arena_cur = m;
        arena_end = arena_cur + ARENA_CHUNK;
    }
    void *p = arena_cur;
    arena_cur += n;
    pthread_mutex_unlock(&arena_lock);
    return p;
}

pthread_mutex_t *lg__arena_lock(void)
{
    return &arena_lock;
}

uint64_t lg__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lg__coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lg__wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const void *lg__span_find(const void *v, size_t n, size_t size, uintptr_t pc)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uintptr_t *e =
            (const uintptr_t *)((const char *)v + mid * size);
        if (pc < e[0])
            hi = mid;
        else if (pc >= e[1])
            lo = mid + 1;
        else
            return e;
    }
    return NULL;
}
