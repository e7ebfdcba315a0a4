/* Rust v0 symbol demangling (_R...), printed like rustc-demangle's plain
 * format minus crate hashes. Runs on a loop thread's report path: no
 * allocation, recursion capped at MAX_DEPTH, reads stop at the NUL, and
 * any malformed input yields 0 rather than a guess. */
#include <stdint.h>
#include <string.h>

#include "lg-internal.h"

/* Real symbols nest well under this; the cap keeps hostile input from
 * exhausting a loop thread's stack. */
#define MAX_DEPTH 64

struct v0 {
    const char *s;            /* symbol after "_R" */
    size_t len, pos;
    struct lg__buf *b;
    int skip;                 /* >0: parse without printing */
    int depth;
    uint64_t bound;           /* lifetimes bound by enclosing binders */
};

static char peek(const struct v0 *d)
{
    return d->pos < d->len ? d->s[d->pos] : '\0';
}

static int eat(struct v0 *d, char c)
{
    if (peek(d) != c)
        return 0;
    d->pos++;
    return 1;
}

static char next(struct v0 *d)
{
    char c = peek(d);
    if (c)
        d->pos++;
    return c;
}

static void put(struct v0 *d, const char *s, size_t n)
{
    if (!d->skip)
        lg__buf_mem(d->b, s, n);
}

static void puts_(struct v0 *d, const char *s)
{
    put(d, s, strlen(s));
}

static void put_u64(struct v0 *d, uint64_t v)
{
    if (!d->skip)
        lg__buf_u64(d->b, v);
}

/* <base-62-number> = {<0-9a-zA-Z>} "_"; "_" is 0, else the value + 1. */
static int base62(struct v0 *d, uint64_t *out)
{
    uint64_t v = 0;
    if (eat(d, '_')) {
        *out = 0;
        return 1;
    }
    for (;;) {
        char c = next(d);
        unsigned dig;
        if (c == '_')
            break;
        if (c >= '0' && c <= '9')
            dig = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'z')
            dig = (unsigned)(c - 'a') + 10;
        else if (c >= 'A' && c <= 'Z')
            dig = (unsigned)(c - 'A') + 36;
        else
            return 0;
        if (v > (UINT64_MAX - dig) / 62)
            return 0;
        v = v * 62 + dig;
    }
    if (v == UINT64_MAX)
        return 0;
    *out = v + 1;
    return 1;
}

/* <disambiguator> = "s" <base-62-number>; absent is 0. */
static int disamb(struct v0 *d, uint64_t *out)
{
    uint64_t v;
    if (!eat(d, 's')) {
        *out = 0;
        return 1;
    }
    if (!base62(d, &v) || v == UINT64_MAX)
        return 0;
    *out = v + 1;
    return 1;
}

struct ident {
    const char *p;
    size_t n;
    int puny;
};

/* <undisambiguated-identifier> = ["u"] <decimal-number> ["_"] <bytes> */
static int ident(struct v0 *d, struct ident *id)
{
    size_t n = 0;
    id->puny = eat(d, 'u');
    char c = peek(d);
    if (c < '0' || c > '9')
        return 0;
    if (c == '0') {
        d->pos++;
    } else {
        while ((c = peek(d)) >= '0' && c <= '9') {
            if (n > (SIZE_MAX - 9) / 10)
                return 0;
            n = n * 10 + (size_t)(c - '0');
            d->pos++;
        }
    }
    eat(d, '_');              /* separates digits from an ident's digits */
    if (n > d->len - d->pos)
        return 0;
    id->p = d->s + d->pos;
    id->n = n;
    d->pos += n;
    return 1;
}

/* Punycode is shown as it is encoded: decoding needs a code point buffer
 * of unbounded size, and such names are rare in backtraces. */
static void put_ident(struct v0 *d, const struct ident *id)
{
    if (id->puny)
        puts_(d, "punycode{");
    put(d, id->p, id->n);
    if (id->puny)
        puts_(d, "}");
}

static int enter(struct v0 *d)
{
    return ++d->depth <= MAX_DEPTH;
}

static int path(struct v0 *d, int in_value);
static int type(struct v0 *d);
static int konst(struct v0 *d);

/* Moves to the target of a backref; *saved gets the position to return
 * to. Returns -1 when malformed, 0 when the target need not be printed
 * (skipping, or the output is already full: following backrefs then would
 * only cost time, possibly exponential), 1 to go there. */
static int backref(struct v0 *d, size_t *saved)
{
    size_t at = d->pos - 1;   /* the 'B' */
    uint64_t t;
    if (!base62(d, &t) || t >= at)
        return -1;            /* must point strictly backwards */
    if (d->skip || d->b->full)
        return 0;
    *saved = d->pos;
    d->pos = (size_t)t;
    return 1;
}

static int lifetime_name(struct v0 *d, uint64_t i)
{
    if (i == 0) {
        puts_(d, "'_");
        return 1;
    }
    if (i > d->bound)
        return 0;
    uint64_t depth = d->bound - i;
    if (depth < 26) {
        char s[2] = { '\'', (char)('a' + depth) };
        put(d, s, 2);
    } else {
        puts_(d, "'_");
        put_u64(d, depth);
    }
    return 1;
}

/* <binder> = "G" <base-62-number>: count + 1 lifetimes bound here. */
static int binder(struct v0 *d)
{
    uint64_t n;
    if (!eat(d, 'G'))
        return 1;
    if (!base62(d, &n) || n >= UINT64_MAX - d->bound - 1 || n >= 1u << 20)
        return 0;
    n++;
    puts_(d, "for<");
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            puts_(d, ", ");
        d->bound++;
        if (!lifetime_name(d, 1))
            return 0;
    }
    puts_(d, "> ");
    return 1;
}

static int generic_arg(struct v0 *d)
{
    if (eat(d, 'L')) {
        uint64_t i;
        return base62(d, &i) && lifetime_name(d, i);
    }
    if (eat(d, 'K'))
        return konst(d);
    return type(d);
}

/* {<generic-arg>} "E", printed as "a, b". */
static int generic_args(struct v0 *d)
{
    for (int i = 0; !eat(d, 'E'); i++) {
        if (i)
            puts_(d, ", ");
        if (!generic_arg(d))
            return 0;
    }
    return 1;
}

static int path_in(struct v0 *d, int in_value)
{
    uint64_t dis;
    struct ident id;
    char c = next(d);
    switch (c) {
    case 'C':
        if (!disamb(d, &dis) || !ident(d, &id))
            return 0;
        put_ident(d, &id);    /* the crate hash (dis) is noise here */
        return 1;
    case 'M':
    case 'X':
    case 'Y':
        if (c != 'Y') {
            if (!disamb(d, &dis))
                return 0;
            d->skip++;        /* the impl's own path is not shown */
            int ok = path(d, 0);
            d->skip--;
            if (!ok)
                return 0;
        }
        puts_(d, "<");
        if (!type(d))
            return 0;
        if (c != 'M') {
            puts_(d, " as ");
            if (!path(d, 0))
                return 0;
        }
        puts_(d, ">");
        return 1;
    case 'N': {
        char ns = next(d);
        if (!((ns >= 'a' && ns <= 'z') || (ns >= 'A' && ns <= 'Z')))
            return 0;
        if (!path(d, in_value) || !disamb(d, &dis) || !ident(d, &id))
            return 0;
        if (ns >= 'A' && ns <= 'Z') {
            /* Closures and shims have no name of their own. */
            puts_(d, "::{");
            if (ns == 'C')
                puts_(d, "closure");
            else if (ns == 'S')
                puts_(d, "shim");
            else
                put(d, &ns, 1);
            if (id.n) {
                puts_(d, ":");
                put_ident(d, &id);
            }
            puts_(d, "#");
            put_u64(d, dis);
            puts_(d, "}");
        } else if (id.n) {
            puts_(d, "::");
            put_ident(d, &id);
        }
        return 1;
    }
    case 'I':
        if (!path(d, in_value))
            return 0;
        puts_(d, in_value ? "::<" : "<");
        if (!generic_args(d))
            return 0;
        puts_(d, ">");
        return 1;
    case 'B': {
        size_t saved;
        int r = backref(d, &saved);
        if (r <= 0)
            return r == 0;
        int ok = path(d, in_value);
        d->pos = saved;
        return ok;
    }
    default:
        return 0;
    }
}

static int path(struct v0 *d, int in_value)
{
    if (!enter(d))
        return 0;
    int ok = path_in(d, in_value);
    d->depth--;
    return ok;
}

static const char *basic_type(char c)
{
    switch (c) {
    case 'a': return "i8";
    case 'b': return "bool";
    case 'c': return "char";
    case 'd': return "f64";
    case 'e': return "str";
    case 'f': return "f32";
    case 'h': return "u8";
    case 'i': return "isize";
    case 'j': return "usize";
    case 'l': return "i32";
    case 'm': return "u32";
    case 'n': return "i128";
    case 'o': return "u128";
    case 's': return "i16";
    case 't': return "u16";
    case 'u': return "()";
    case 'v': return "...";
    case 'x': return "i64";
    case 'y': return "u64";
    case 'z': return "!";
    case 'p': return "_";
    default: return NULL;
    }
}

/* A dyn trait's path, leaving its "<...>" open so that associated type
 * bindings can join it. Sets *open when it did. */
static int dyn_trait_path(struct v0 *d, int *open)
{
    if (!enter(d))
        return 0;
    int ok;
    if (eat(d, 'B')) {
        size_t saved;
        int r = backref(d, &saved);
        ok = r == 0 ? 1 : r > 0 && dyn_trait_path(d, open);
        if (r > 0)
            d->pos = saved;
    } else if (eat(d, 'I')) {
        ok = path(d, 0);
        puts_(d, "<");
        ok = ok && generic_args(d);
        *open = 1;
    } else {
        ok = path(d, 0);
    }
    d->depth--;
    return ok;
}

/* "D" [<binder>] {<dyn-trait>} "E" <lifetime> */
static int dyn_bounds(struct v0 *d)
{
    uint64_t saved_bound = d->bound, lt;
    puts_(d, "dyn ");
    if (!binder(d))
        return 0;
    for (int i = 0; !eat(d, 'E'); i++) {
        int open = 0;
        if (i)
            puts_(d, " + ");
        if (!dyn_trait_path(d, &open))
            return 0;
        while (eat(d, 'p')) {
            struct ident id;
            puts_(d, open ? ", " : "<");
            open = 1;
            if (!ident(d, &id))
                return 0;
            put_ident(d, &id);
            puts_(d, " = ");
            if (!type(d))
                return 0;
        }
        if (open)
            puts_(d, ">");
    }
    d->bound = saved_bound;
    if (!eat(d, 'L') || !base62(d, &lt))
        return 0;
    if (lt) {
        puts_(d, " + ");
        return lifetime_name(d, lt);
    }
    return 1;
}

/* "F" [<binder>] ["U"] ["K" <abi>] {<type>} "E" <type> */
static int fn_sig(struct v0 *d)
{
    uint64_t saved_bound = d->bound;
    if (!binder(d))
        return 0;
    if (eat(d, 'U'))
        puts_(d, "unsafe ");
    if (eat(d, 'K')) {
        struct ident id;
        puts_(d, "extern \"");
        if (eat(d, 'C')) {
            puts_(d, "C");
        } else {
            if (!ident(d, &id) || id.puny)
                return 0;
            /* '-' cannot appear in an identifier; abis spell it '_'. */
            for (size_t i = 0; i < id.n; i++)
                put(d, id.p[i] == '_' ? "-" : &id.p[i], 1);
        }
        puts_(d, "\" ");
    }
    puts_(d, "fn(");
    for (int i = 0; !eat(d, 'E'); i++) {
        if (i)
            puts_(d, ", ");
        if (!type(d))
            return 0;
    }
    puts_(d, ")");
    if (eat(d, 'u')) {
        /* unit return: Rust leaves "-> ()" out */
    } else {
        puts_(d, " -> ");
        if (!type(d))
            return 0;
    }
    d->bound = saved_bound;
    return 1;
}

static int type_in(struct v0 *d)
{
    char c = peek(d);
    const char *basic = basic_type(c);
    if (basic) {
        d->pos++;
        puts_(d, basic);
        return 1;
    }
    switch (c) {
    case 'R':
    case 'Q':
        d->pos++;
        puts_(d, "&");
        if (eat(d, 'L')) {
            uint64_t lt;
            if (!base62(d, &lt))
                return 0;
            if (lt) {
                if (!lifetime_name(d, lt))
                    return 0;
                puts_(d, " ");
            }
        }
        if (c == 'Q')
            puts_(d, "mut ");
        return type(d);
    case 'P':
    case 'O':
        d->pos++;
        puts_(d, c == 'P' ? "*const " : "*mut ");
        return type(d);
    case 'A':
    case 'S':
        d->pos++;
        puts_(d, "[");
        if (!type(d))
            return 0;
        if (c == 'A') {
            puts_(d, "; ");
            if (!konst(d))
                return 0;
        }
        puts_(d, "]");
        return 1;
    case 'T': {
        int i;
        d->pos++;
        puts_(d, "(");
        for (i = 0; !eat(d, 'E'); i++) {
            if (i)
                puts_(d, ", ");
            if (!type(d))
                return 0;
        }
        if (i == 1)
            puts_(d, ",");
        puts_(d, ")");
        return 1;
    }
    case 'F':
        d->pos++;
        return fn_sig(d);
    case 'D':
        d->pos++;
        return dyn_bounds(d);
    case 'B': {
        size_t saved;
        d->pos++;
        int r = backref(d, &saved);
        if (r <= 0)
            return r == 0;
        int ok = type(d);
        d->pos = saved;
        return ok;
    }
    default:
        return path(d, 0);
    }
}

static int type(struct v0 *d)
{
    if (!enter(d))
        return 0;
    int ok = type_in(d);
    d->depth--;
    return ok;
}

/* <const-data> = ["n"] {<hex-digit>} "_"; lowercase digits only. */
static int hex_value(struct v0 *d, uint64_t *v, const char **p, size_t *n,
                     int *big)
{
    *v = 0;
    *big = 0;
    *p = d->s + d->pos;
    *n = 0;
    for (char c; (c = next(d)) != '_'; (*n)++) {
        unsigned dig;
        if (c >= '0' && c <= '9')
            dig = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            dig = (unsigned)(c - 'a') + 10;
        else
            return 0;
        if (*v >> 60)
            *big = 1;         /* u128 and friends: shown in hex */
        *v = *v << 4 | dig;
    }
    return 1;
}

static int konst_in(struct v0 *d)
{
    char c = next(d);
    uint64_t v;
    const char *hp;
    size_t hn;
    int big, neg = 0;
    switch (c) {
    case 'p':
        puts_(d, "_");
        return 1;
    case 'B': {
        size_t saved;
        int r = backref(d, &saved);
        if (r <= 0)
            return r == 0;
        int ok = konst(d);
        d->pos = saved;
        return ok;
    }
    case 'a': case 's': case 'l': case 'x': case 'n': case 'i':
        neg = eat(d, 'n');
        /* fall through */
    case 'h': case 't': case 'm': case 'y': case 'o': case 'j':
        if (!hex_value(d, &v, &hp, &hn, &big))
            return 0;
        if (neg)
            puts_(d, "-");
        if (big) {
            puts_(d, "0x");
            put(d, hp, hn);
        } else {
            put_u64(d, v);
        }
        puts_(d, basic_type(c));
        return 1;
    case 'b':
        if (!hex_value(d, &v, &hp, &hn, &big) || big || v > 1)
            return 0;
        puts_(d, v ? "true" : "false");
        return 1;
    case 'c': {
        if (!hex_value(d, &v, &hp, &hn, &big) || big || v > 0x10ffff
            || (v >= 0xd800 && v < 0xe000))
            return 0;
        if (v >= 0x20 && v < 0x7f && v != '\'' && v != '\\') {
            char s[3] = { '\'', (char)v, '\'' };
            put(d, s, 3);
        } else {
            /* No UTF-8 encoder here: show the code point. */
            puts_(d, "'\\u{");
            static const char hx[] = "0123456789abcdef";
            int started = 0;
            for (int sh = 20; sh >= 0; sh -= 4) {
                unsigned nib = (unsigned)(v >> sh) & 15;
                if (nib || started || sh == 0) {
                    put(d, &hx[nib], 1);
                    started = 1;
                }
            }
            puts_(d, "}'");
        }
        return 1;
    }
    default:
        return 0;             /* str and structural consts: not handled */
    }
}

static int konst(struct v0 *d)
{
    if (!enter(d))
        return 0;
    int ok = konst_in(d);
    d->depth--;
    return ok;
}

size_t lg__demangle_rust_v0(const char *sym, char *out, size_t cap)
{
    struct lg__buf b;
    struct v0 d;
    if (cap == 0)
        return 0;
    lg__buf_init(&b, out, cap);
    if (!sym || sym[0] != '_' || sym[1] != 'R')
        return 0;
    memset(&d, 0, sizeof d);
    d.s = sym + 2;            /* backrefs count from here */
    d.len = strlen(d.s);
    d.b = &b;
    /* A leading digit is an encoding version; only the unversioned form
     * exists so far. */
    char c = peek(&d);
    if ((c >= '0' && c <= '9') || !path(&d, 1))
        goto bad;
    /* The instantiating crate, parsed only to validate it. */
    c = peek(&d);
    if (c >= 'A' && c <= 'Z') {
        d.skip++;
        if (!path(&d, 0))
            goto bad;
        d.skip--;
    }
    /* Vendor suffixes such as ".llvm.1234" follow a '.' or '$'. */
    c = peek(&d);
    if (c != '\0' && c != '.' && c != '$')
        goto bad;
    return b.len;
bad:
    out[0] = '\0';
    return 0;
}
