/* The strict JSON parser of json.h: recursive descent into a malloc'd tree.
 * Memory failures abort rather than unwind: its users are tests, and
 * `loopguard report`, which gives it lines of at most 64 KiB. */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* bounds recursion on hostile input */

struct parser {
    const unsigned char *s;
    size_t len, pos;
    char *err;
    size_t errcap;
    int depth;
    size_t errpos;   /* where the first error was found */
    int failed;
};

static struct json *value(struct parser *p);

static void *xcalloc(size_t n, size_t size)
{
    void *m = calloc(n ? n : 1, size);
    if (!m)
        abort();
    return m;
}

static struct json *node(enum json_type t)
{
    struct json *j = xcalloc(1, sizeof *j);
    j->type = t;
    return j;
}

static struct json *fail(struct parser *p, const char *why)
{
    /* Only the first (innermost) error is kept: it names the real cause. */
    if (!p->failed) {
        p->failed = 1;
        p->errpos = p->pos;
    }
    if (p->err && p->errcap && !p->err[0])
        snprintf(p->err, p->errcap, "%s at byte %zu", why, p->pos);
    return NULL;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int peek(struct parser *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

static int literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return 0;
    p->pos += n;
    return 1;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = k - 1; i > 0; i--, cp >>= 6)
        o[i] = (char)(0x80 | (cp & 0x3f));
    o[0] = (char)(lead[k] | cp);
    return k;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0: no overlong forms,
 * no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (k == 0 || s[0] >= 0xf8 || n < k)
        return 0;
    unsigned long cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

static int hex4(struct parser *p, unsigned long *out)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    *out = 0;
    for (int i = 0; i < 4; i++, p->pos++) {
        int c = peek(p);
        const char *d = c > 0 ? strchr(digits, c) : NULL;
        if (!d)
            return 0;
        long v = d - digits;
        *out = *out << 4 | (unsigned long)(v < 16 ? v : v - 6);
    }
    return 1;
}

/* After "\u": one code point, joining a surrogate pair. */
static int unicode_escape(struct parser *p, unsigned long *cp)
{
    unsigned long lo;
    if (!hex4(p, cp))
        return 0;
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return 0; /* a low surrogate alone */
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 1;
    if (!literal(p, "\\u") || !hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
        return 0;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 1;
}

#define FAIL(why)                                                              \
    do {                                                                       \
        fail(p, why);                                                          \
        goto bad;                                                              \
    } while (0)

/* Decodes a string literal; p->pos is on the opening quote. Decoded text
 * is never longer than its literal, which bounds the allocation. */
static char *string(struct parser *p, size_t *outlen)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char *o = xcalloc(p->len - p->pos + 1, 1);
    size_t n = 0, k;
    unsigned long cp;
    for (p->pos++;;) {
        int c = peek(p);
        if (c < 0)
            FAIL("unterminated string");
        if (c == '"')
            break;
        if (c < 0x20)
            FAIL("control character in string");
        if (c >= 0x80) {
            if (!(k = utf8_len(p->s + p->pos, p->len - p->pos)))
                FAIL("invalid UTF-8 in string");
            memcpy(o + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
            continue;
        }
        p->pos++;
        if (c != '\\') {
            o[n++] = (char)c;
            continue;
        }
        c = peek(p);
        const char *e = c > 0 ? strchr(from, c) : NULL;
        if (c >= 0)
            p->pos++;
        if (e)
            o[n++] = to[e - from];
        else if (c != 'u')
            FAIL("bad escape");
        else if (!unicode_escape(p, &cp))
            FAIL("bad \\u escape");
        else
            n += put_utf8(o + n, cp);
    }
    p->pos++;
    *outlen = n;
    /* The literal's room was the rest of the input: give it back, or a
     * line of many short strings would hold its length squared. */
    char *fit = realloc(o, n + 1);
    return fit ? fit : o;
bad:
    free(o);
    return NULL;
}

static struct json *number(struct parser *p)
{
    size_t start = p->pos;
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0') {
        p->pos++;
    } else if (peek(p) >= '1' && peek(p) <= '9') {
        while (peek(p) >= '0' && peek(p) <= '9')
            p->pos++;
    } else {
        return fail(p, "bad number");
    }
    for (int part = 0; part < 2; part++) {
        if (part == 0 ? peek(p) != '.' : (peek(p) | 0x20) != 'e')
            continue;
        p->pos++;
        if (part == 1 && (peek(p) == '+' || peek(p) == '-'))
            p->pos++;
        if (!(peek(p) >= '0' && peek(p) <= '9'))
            return fail(p, "bad number");
        while (peek(p) >= '0' && peek(p) <= '9')
            p->pos++;
    }
    struct json *j = node(JSON_NUMBER);
    j->raw = xcalloc(p->pos - start + 1, 1);
    memcpy(j->raw, p->s + start, p->pos - start);
    j->num = strtod(j->raw, NULL);
    return j;
}

static void add(struct json *parent, struct json *child)
{
    struct json **m =
        realloc(parent->items, (parent->n + 1) * sizeof *parent->items);
    if (!m)
        abort();
    parent->items = m;
    parent->items[parent->n++] = child;
}

/* Arrays and objects share one loop; objects read "key": first. */
static struct json *container(struct parser *p, int is_obj)
{
    struct json *j = node(is_obj ? JSON_OBJECT : JSON_ARRAY), *v;
    char *key = NULL;
    size_t klen;
    int close = is_obj ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        return j;
    }
    for (;;) {
        skip_ws(p);
        if (is_obj) {
            if (peek(p) != '"' || !(key = string(p, &klen)))
                FAIL("expected member name");
            if (strlen(key) != klen || json_get(j, key))
                FAIL("duplicate or NUL member name");
            skip_ws(p);
            if (peek(p) != ':')
                FAIL("expected ':'");
            p->pos++;
        }
        if (!(v = value(p)))
            goto bad;
        v->key = key;
        key = NULL;
        add(j, v);
        skip_ws(p);
        if (peek(p) == close) {
            p->pos++;
            return j;
        }
        if (peek(p) != ',')
            FAIL("expected ',' or end of container");
        p->pos++;
    }
bad:
    free(key);
    json_free(j);
    return NULL;
}

static struct json *value(struct parser *p)
{
    struct json *j = NULL;
    skip_ws(p);
    if (++p->depth > MAX_DEPTH)
        return fail(p, "nested too deep");
    int c = peek(p);
    if (c == '{' || c == '[') {
        j = container(p, c == '{');
    } else if (c == '"') {
        size_t n;
        char *s = string(p, &n);
        if (s) {
            j = node(JSON_STRING);
            j->str = s;
            j->len = n;
        }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        j = number(p);
    } else if (c == 't' || c == 'f') {
        int t = literal(p, "true");
        if (t || literal(p, "false"))
            (j = node(JSON_BOOL))->boolean = t;
        else
            fail(p, "unexpected word");
    } else if (literal(p, "null")) {
        j = node(JSON_NULL);
    } else {
        fail(p, "unexpected character");
    }
    p->depth--;
    return j;
}

struct json *json_parse_at(const char *text, size_t len, char *err,
                           size_t errcap, size_t *errpos)
{
    struct parser p = {.s = (const unsigned char *)text, .len = len,
                       .err = err, .errcap = errcap};
    size_t pos;
    if (!errpos)
        errpos = &pos;
    *errpos = 0;
    if (err && errcap)
        err[0] = '\0';
    struct json *j = value(&p);
    if (j) {
        skip_ws(&p);
        if (p.pos == p.len)
            return j;
        json_free(j);
        fail(&p, "trailing garbage");
    }
    *errpos = p.errpos;
    return NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errcap)
{
    return json_parse_at(text, len, err, errcap, NULL);
}

void json_free(struct json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        json_free(j->items[i]);
    free(j->items);
    free(j->key);
    free(j->raw);
    free(j->str);
    free(j);
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!json_is(obj, JSON_OBJECT))
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->items[i]->key, key) == 0)
            return obj->items[i];
    return NULL;
}

const struct json *json_at(const struct json *arr, size_t i)
{
    return json_is(arr, JSON_ARRAY) && i < arr->n ? arr->items[i] : NULL;
}

size_t json_count(const struct json *j)
{
    return j && (j->type == JSON_ARRAY || j->type == JSON_OBJECT) ? j->n : 0;
}

int json_is(const struct json *j, enum json_type t)
{
    return j && j->type == t;
}

const char *json_str(const struct json *j)
{
    return json_is(j, JSON_STRING) ? j->str : NULL;
}

/* number() checked the grammar, so strtoull/strtoll read the whole text;
 * what is left to refuse is a sign, a fraction, and overflow. */
int json_u64(const struct json *j, uint64_t *out)
{
    if (!json_is(j, JSON_NUMBER) || strpbrk(j->raw, "-.eE"))
        return 0;
    errno = 0;
    unsigned long long v = strtoull(j->raw, NULL, 10);
    if (errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

int json_i64(const struct json *j, int64_t *out)
{
    if (!json_is(j, JSON_NUMBER) || strpbrk(j->raw, ".eE"))
        return 0;
    errno = 0;
    long long v = strtoll(j->raw, NULL, 10);
    if (errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

int json_hex(const struct json *j, uint64_t *out)
{
    const char *s = json_str(j);
    if (!s || strncmp(s, "0x", 2) != 0 || j->len < 3 || j->len > 18 ||
        strspn(s + 2, "0123456789abcdef") != j->len - 2)
        return 0;
    *out = strtoull(s + 2, NULL, 16);
    return 1;
}
