/* Demangling for reports. Rust legacy names (_ZN...17h<hash>E) are decoded
 * here: Rust programs rarely load libstdc++. Other C++ names go to the
 * process's own __cxa_demangle, found at run time, so libloopguard.so does
 * not pull libstdc++ into C programs. Rust v0 names (_R...) go to
 * demangle-rust-v0.c: __cxa_demangle does not know them. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "lg-internal.h"

#define RUST_HASH_LEN 17      /* "h" and 16 hex digits */

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf,
                                 size_t *len, int *status);

static cxa_demangle_fn cxa;           /* atomic; never reset */
static unsigned long long cxa_miss;   /* atomic: dlpi_adds at the last
                                         failed lookup, 0 = none yet */

static int adds_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_adds)
                   + sizeof info->dlpi_adds)
        *(unsigned long long *)arg = info->dlpi_adds;
    return 1;                 /* the counter is global: one call is enough */
}

/* Keeps the object that defines p loaded, so the pointer cannot dangle
 * when the plugin that brought libstdc++ in is dlclosed. */
static void pin(void *p)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (dladdr1(p, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm
        && lm->l_name && lm->l_name[0])
        dlopen(lm->l_name, RTLD_NOW | RTLD_NOLOAD);
}

/* A failed dlsym allocates its error message, and libstdc++ can only
 * appear when an object is loaded: look again only when the loader's
 * count of loaded objects has moved since the last miss. */
static cxa_demangle_fn find_cxa(void)
{
    cxa_demangle_fn f = __atomic_load_n(&cxa, __ATOMIC_ACQUIRE);
    if (f)
        return f;
    unsigned long long adds = 0;
    dl_iterate_phdr(adds_cb, &adds);
    if (adds && __atomic_exchange_n(&cxa_miss, adds, __ATOMIC_RELAXED)
                    == adds)
        return NULL;
    void *p = dlsym(RTLD_DEFAULT, "__cxa_demangle");
    if (!p) {
        /* A C++ plugin dlopened with RTLD_LOCAL hides it from
         * RTLD_DEFAULT. */
        void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
        if (h)
            p = dlsym(h, "__cxa_demangle");
    }
    if (!p)
        return NULL;
    pin(p);
    f = (cxa_demangle_fn)p;
    __atomic_store_n(&cxa, f, __ATOMIC_RELEASE);
    return f;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}

/* Writes code point cp as UTF-8; 0 when it is not a printable one. */
static int put_utf8(struct lg__buf *b, unsigned long cp)
{
    char u[4];
    if (cp < 0x20 || cp == 0x7f || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp < 0x80) {
        lg__buf_chr(b, (char)cp);
        return 1;
    }
    int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (int i = n - 1; i > 0; i--, cp >>= 6)
        u[i] = (char)(0x80 | (cp & 0x3f));
    u[0] = (char)((0xf00u >> n) | cp);
    lg__buf_mem(b, u, (size_t)n);
    return 1;
}

/* One escape between '$'s ("LT", "u20"); 0 when it is not one. */
static int rust_escape(struct lg__buf *b, const char *s, size_t n)
{
    static const char pairs[][3] = {"SP@", "BP*", "RF&", "LT<", "GT>",
                                    "LP(", "RP)"};
    if (n == 1 && s[0] == 'C') {
        lg__buf_chr(b, ',');
        return 1;
    }
    for (size_t i = 0; n == 2 && i < sizeof pairs / sizeof pairs[0]; i++)
        if (s[0] == pairs[i][0] && s[1] == pairs[i][1]) {
            lg__buf_chr(b, pairs[i][2]);
            return 1;
        }
    if (n < 2 || n > 7 || s[0] != 'u')
        return 0;
    unsigned long cp = 0;
    for (size_t i = 1; i < n; i++) {
        if (!is_hex(s[i]))
            return 0;
        cp = cp * 16 + (unsigned long)(s[i] <= '9' ? s[i] - '0'
                                                   : (s[i] | 32) - 'a' + 10);
    }
    return put_utf8(b, cp);
}

static void rust_ident(struct lg__buf *b, const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 2 && s[0] == '_' && s[1] == '$')
        i = 1;                /* rustc's prefix for a leading escape */
    while (i < n) {
        const char *end = s[i] == '$' ? memchr(s + i + 1, '$', n - i - 1)
                                      : NULL;
        if (end && rust_escape(b, s + i + 1, (size_t)(end - s - i - 1))) {
            i = (size_t)(end - s) + 1;
        } else if (s[i] == '.' && i + 1 < n && s[i + 1] == '.') {
            lg__buf_str(b, "::");
            i += 2;
        } else {
            lg__buf_chr(b, s[i++]);
        }
    }
}

/* Parses "<len><ident>" at *p; returns the ident's length, 0 at 'E' or
 * when malformed (then *p is left on the offending byte). */
static size_t rust_part(const char **p, const char **ident)
{
    const char *s = *p;
    size_t len = 0;
    if (*s < '1' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9' && len < 4096)
        len = len * 10 + (size_t)(*s++ - '0');
    if (strnlen(s, len) < len)
        return 0;
    *ident = s;
    *p = s + len;
    return len;
}

/* Rust's legacy mangling: _ZN, length-prefixed parts, a last part
 * "h<16 hex>", E, and maybe a compiler suffix (".llvm.<n>", ".<n>" for
 * local copies), dropped like c++filt does. Returns 0 when name is not
 * one, leaving b untouched. */
static int rust_legacy(const char *name, struct lg__buf *b)
{
    const char *p = name + 3, *id = NULL, *last = NULL;
    size_t len, last_len = 0, parts = 0;
    if (strncmp(name, "_ZN", 3) != 0)
        return 0;
    while ((len = rust_part(&p, &id))) {
        last = id;
        last_len = len;
        parts++;
    }
    if (*p != 'E' || (p[1] != '\0' && p[1] != '.') || parts < 2
        || last_len != RUST_HASH_LEN || last[0] != 'h')
        return 0;
    for (size_t i = 1; i < RUST_HASH_LEN; i++)
        if (!is_hex(last[i]))
            return 0;
    p = name + 3;
    for (size_t i = 0; i + 1 < parts; i++) {
        len = rust_part(&p, &id);
        if (i)
            lg__buf_str(b, "::");
        rust_ident(b, id, len);
    }
    return 1;
}

size_t lg__demangle_rust(const char *name, char *out, size_t cap)
{
    if (cap == 0 || !name || name[0] != '_')
        return 0;
    if (name[1] == 'R')
        return lg__demangle_rust_v0(name, out, cap);
    struct lg__buf b;
    lg__buf_init(&b, out, cap);
    return rust_legacy(name, &b) ? b.len : 0;
}

size_t lg__demangle(const char *name, char *out, size_t cap)
{
    int saved = errno;
    struct lg__buf b;
    if (cap == 0)
        return 0;
    lg__buf_init(&b, out, cap);
    if (!name)
        name = "";
    if (name[0] == '_' && name[1] == 'R') {
        b.len = lg__demangle_rust_v0(name, out, cap);
        if (b.len == 0)
            lg__buf_str(&b, name);    /* malformed: show it as it is */
    } else if (name[0] != '_' || name[1] != 'Z') {
        lg__buf_str(&b, name);
    } else if (!rust_legacy(name, &b)) {
        cxa_demangle_fn f = find_cxa();
        int status = -1;
        char *s = f ? f(name, NULL, NULL, &status) : NULL;
        lg__buf_str(&b, status == 0 && s ? s : name);
        free(s);              /* with the allocator __cxa_demangle used */
    }
    errno = saved;
    return b.len;
}
