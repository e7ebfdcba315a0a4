/* LOOPGUARD_OPTIONS: the table of keys, the defaults, and the parser that
 * turns "key=value:key=value" into a struct lg__options. Parsing runs before
 * anything else is set up (from a constructor, maybe before libc's own), so
 * it uses only the stack and the lg__buf helpers: no malloc, no stdio, no
 * locale. docs/options.md describes the keys; a test checks it against
 * keys[] below. */
#include <stddef.h>
#include <string.h>

#include "lg-internal.h"

/* One initializer serves both the global and lg__options_defaults(), so the
 * global is right even if the library is used before its constructor. */
#define OPTIONS_DEFAULT                                                       \
    {                                                                         \
        .log = "", .format = LG__FORMAT_TEXT, .mode = LG__MODE_REPORT,        \
        .exitcode = 0, .dedupe = 1, .max_frames = 32, .stall_ms = 1000,      \
        .lock_order = 1, .grace_ms = 0, .max_reports = 1000,                  \
        .symbolize_ms = 2000,                                                 \
    }

struct lg__options lg__opt = OPTIONS_DEFAULT;

static const struct lg__options defaults = OPTIONS_DEFAULT;

enum key_type {
    T_PATH,                   /* string copied into a char[] field */
    T_ENUM,                   /* one of names[], stored as its index */
    T_INT,                    /* decimal integer in min..max */
    T_BOOL,                   /* 0/1/true/false, stored as 0 or 1 */
    T_LIST                    /* a file path added to a struct lg__paths:
                                 the key may be given again */
};

struct key {
    const char *name;         /* as written in LOOPGUARD_OPTIONS */
    enum key_type type;
    size_t off;               /* offsetof the field in lg__options */
    int min, max;             /* T_INT: accepted range */
    const char *const *names; /* T_ENUM: values in enum order, NULL-ended */
};

static const char *const format_names[] = {"text", "json", NULL};
static const char *const mode_names[] = {"report", "abort", NULL};

#define OFF(f) offsetof(struct lg__options, f)

/* The one list of keys. tests/integration/test-options-doc.sh reads the
 * names from this table: keep one row per line, starting with {"name". */
static const struct key keys[] = {
    {"log", T_PATH, OFF(log), 0, 0, NULL},
    {"format", T_ENUM, OFF(format), 0, 0, format_names},
    {"mode", T_ENUM, OFF(mode), 0, 0, mode_names},
    {"exitcode", T_INT, OFF(exitcode), 0, 255, NULL},
    {"dedupe", T_BOOL, OFF(dedupe), 0, 1, NULL},
    {"max_frames", T_INT, OFF(max_frames), 1, LG__MAX_FRAMES, NULL},
    {"stall_ms", T_INT, OFF(stall_ms), 0, 3600000, NULL},
    {"lock_order", T_BOOL, OFF(lock_order), 0, 1, NULL},
    {"grace_ms", T_INT, OFF(grace_ms), 0, 3600000, NULL},
    {"suppressions", T_LIST, OFF(suppressions), 0, 0, NULL},
    {"max_reports", T_INT, OFF(max_reports), 0, 1000000000, NULL},
    {"symbolize_ms", T_INT, OFF(symbolize_ms), 0, 60000, NULL},
};

#define NKEYS (sizeof keys / sizeof keys[0])
#define PREFIX "loopguard: LOOPGUARD_OPTIONS: "
#define SHOW_MAX 64           /* bytes of a key or value quoted in a line */
#define MSG_MAX 512

/* Why a value was refused; picks the wording of the line. */
enum problem { P_OK, P_EMPTY, P_BAD, P_LONG, P_QUOTE, P_FULL };

void lg__options_defaults(struct lg__options *o)
{
    *o = defaults;
}

static int is_sep(char c)
{
    return c == ':' || c == ',' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r' || c == '\v' || c == '\f';
}

/* The inverse of parse_entry's value rules: a value holding a separator
 * or a quote goes in single quotes, each ' in it written as '"'"'. */
void lg__options_put(struct lg__buf *b, const char *key, const char *value)
{
    lg__buf_str(b, key);
    lg__buf_chr(b, '=');
    const char *p = value;
    while (*p && !is_sep(*p) && *p != '\'' && *p != '"')
        p++;
    if (!*p) {
        lg__buf_str(b, value);
        return;
    }
    lg__buf_chr(b, '\'');
    for (p = value; *p; p++) {
        if (*p == '\'')
            lg__buf_str(b, "'\"'\"'");
        else
            lg__buf_chr(b, *p);
    }
    lg__buf_chr(b, '\'');
}

static int *int_field(struct lg__options *o, const struct key *k)
{
    return (int *)(void *)((char *)o + k->off);
}


static void put_expected(struct lg__buf *b, const struct key *k)
{
    switch (k->type) {
    case T_PATH:
    case T_LIST:
        lg__buf_str(b, "a file path of at most ");
        lg__buf_u64(b, LG__LOG_PATH_MAX - 1);
        lg__buf_str(b, " bytes");
        break;
    case T_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (i > 0)
                lg__buf_str(b, k->names[i + 1] ? ", " : " or ");
            lg__buf_str(b, k->names[i]);
        }
        break;
    case T_INT:
        lg__buf_str(b, "a decimal integer from ");
        lg__buf_i64(b, k->min);
        lg__buf_str(b, " to ");
        lg__buf_i64(b, k->max);
        break;
    case T_BOOL:
        lg__buf_str(b, "0, 1, true or false");
        break;
    }
}

/* The value the option keeps, as the user would write it: for a list,
 * the refused value is only left out. */
static void put_current(struct lg__buf *b, const struct key *k,
                        struct lg__options *o)
{
    if (k->type == T_LIST) {
        lg__buf_str(b, "ignored");
        return;
    }
    lg__buf_str(b, "using ");
    if (k->type == T_PATH) {
        const char *p = (const char *)o + k->off;
        if (*p)
            lg__buf_shown(b, p, strlen(p), SHOW_MAX);
        else
            lg__buf_str(b, "stderr");
    } else if (k->type == T_ENUM) {
        lg__buf_str(b, k->names[*int_field(o, k)]);
    } else {
        lg__buf_i64(b, *int_field(o, k));
    }
}

/* Decimal digits only, whole string; values past max stop growing, so a
 * long run of digits is out of range rather than an overflow. */
static int parse_int(const char *v, size_t n, int min, int max, int *out)
{
    long acc = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (acc <= max)
            acc = acc * 10 + (v[i] - '0');
    }
    if (acc < min || acc > max)
        return -1;
    *out = (int)acc;
    return 0;
}

static int word_is(const char *v, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(v, w, n) == 0;
}

/* Stores v into the option, or leaves it untouched and says why not. */
static enum problem set_value(const struct key *k, struct lg__options *o,
                              const char *v, size_t n)
{
    int x;
    if (n == 0)
        return P_EMPTY;
    switch (k->type) {
    case T_PATH:
        if (n > LG__LOG_PATH_MAX - 1)
            return P_LONG;
        memcpy((char *)o + k->off, v, n);
        ((char *)o + k->off)[n] = '\0';
        return P_OK;
    case T_ENUM:
        for (x = 0; k->names[x]; x++)
            if (word_is(v, n, k->names[x])) {
                *int_field(o, k) = x;
                return P_OK;
            }
        return P_BAD;
    case T_INT:
        if (parse_int(v, n, k->min, k->max, &x) != 0)
            return P_BAD;
        *int_field(o, k) = x;
        return P_OK;
    case T_BOOL:
        if (word_is(v, n, "1") || word_is(v, n, "true"))
            x = 1;
        else if (word_is(v, n, "0") || word_is(v, n, "false"))
            x = 0;
        else
            return P_BAD;
        *int_field(o, k) = x;
        return P_OK;
    case T_LIST: {
        struct lg__paths *l = (struct lg__paths *)(void *)((char *)o + k->off);
        if (n > LG__LOG_PATH_MAX - 1)
            return P_LONG;
        if (l->n >= LG__SUPP_FILES_MAX)
            return P_FULL;
        memcpy(l->path[l->n], v, n);
        l->path[l->n++][n] = '\0';
        return P_OK;
    }
    }
    return P_BAD;
}

static const struct key *find_key(const char *s, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (word_is(s, n, keys[i].name))
            return &keys[i];
    return NULL;
}

/* Reads one value starting at p, shell-like: quotes may open anywhere and
 * are dropped, separators inside them are kept. Copies at most cap-1 bytes
 * into out but counts them all in *len. Sets *quote to the quote character
 * left open at the end of the string, else 0. Returns the end of the
 * value. */
static const char *scan_value(const char *p, char *out, size_t cap,
                              size_t *len, char *quote)
{
    char q = 0;
    size_t n = 0;
    for (; *p && (q || !is_sep(*p)); p++) {
        if (!q && (*p == '\'' || *p == '"')) {
            q = *p;
            continue;
        }
        if (q && *p == q) {
            q = 0;
            continue;
        }
        if (n < cap - 1)
            out[n] = *p;
        n++;
    }
    out[n < cap - 1 ? n : cap - 1] = '\0';
    *len = n;
    *quote = q;
    return p;
}

static void report(void (*err)(void *, const char *), void *arg,
                   struct lg__buf *b)
{
    if (err)
        err(arg, b->p);
}

/* Words the refusal of a known key's value. */
static void say_refused(struct lg__buf *b, const struct key *k,
                        struct lg__options *o, enum problem pb,
                        const char *v, size_t n, char quote)
{
    size_t klen = strlen(k->name);
    switch (pb) {
    case P_EMPTY:
        lg__buf_str(b, "empty value for ");
        lg__buf_shown(b, k->name, klen, SHOW_MAX);
        break;
    case P_LONG:
        lg__buf_str(b, "value for ");
        lg__buf_shown(b, k->name, klen, SHOW_MAX);
        lg__buf_str(b, " is too long");
        break;
    case P_QUOTE:
        lg__buf_str(b, "unterminated ");
        lg__buf_chr(b, quote);
        lg__buf_str(b, " quote in value for ");
        lg__buf_shown(b, k->name, klen, SHOW_MAX);
        lg__buf_str(b, ", which runs to the end (expected a closing ");
        lg__buf_chr(b, quote);
        lg__buf_str(b, "); ");
        put_current(b, k, o);
        return;
    case P_FULL:
        lg__buf_str(b, "more than ");
        lg__buf_u64(b, LG__SUPP_FILES_MAX);
        lg__buf_str(b, " values for ");
        lg__buf_shown(b, k->name, klen, SHOW_MAX);
        lg__buf_str(b, ": ");
        lg__buf_shown(b, v, n, SHOW_MAX);
        lg__buf_str(b, " ");
        put_current(b, k, o);
        return;
    default:
        lg__buf_str(b, "bad value ");
        lg__buf_shown(b, v, n, SHOW_MAX);
        lg__buf_str(b, " for ");
        lg__buf_shown(b, k->name, klen, SHOW_MAX);
        break;
    }
    lg__buf_str(b, " (expected ");
    put_expected(b, k);
    lg__buf_str(b, "); ");
    put_current(b, k, o);
}

static void say_unknown(struct lg__buf *b, const char *key, size_t n)
{
    lg__buf_str(b, "unknown option ");
    lg__buf_shown(b, key, n, SHOW_MAX);
    lg__buf_str(b, " (known: ");
    for (size_t i = 0; i < NKEYS; i++) {
        if (i > 0)
            lg__buf_str(b, ", ");
        lg__buf_str(b, keys[i].name);
    }
    lg__buf_str(b, "); ignored");
}

/* Handles the entry at p (not a separator); returns where it ends and sets
 * *bad when it produced a line. */
static const char *parse_entry(struct lg__options *o, const char *p,
                               void (*err)(void *, const char *), void *arg,
                               int *bad)
{
    char val[LG__LOG_PATH_MAX];
    char line[MSG_MAX];
    struct lg__buf b;
    const char *key = p;
    size_t klen, vlen;
    char quote;

    while (*p && *p != '=' && !is_sep(*p))
        p++;
    klen = (size_t)(p - key);
    lg__buf_init(&b, line, sizeof line);
    lg__buf_str(&b, PREFIX);
    *bad = 1;
    if (*p != '=') {
        lg__buf_shown(&b, key, klen, SHOW_MAX);
        lg__buf_str(&b, " has no value (expected key=value); ignored");
        report(err, arg, &b);
        return p;
    }
    p = scan_value(p + 1, val, sizeof val, &vlen, &quote);
    if (klen == 0) {
        lg__buf_str(&b, "value ");
        lg__buf_shown(&b, val, vlen, SHOW_MAX);
        lg__buf_str(&b, " has no key (expected key=value); ignored");
        report(err, arg, &b);
        return p;
    }
    const struct key *k = find_key(key, klen);
    if (!k) {
        say_unknown(&b, key, klen);
        report(err, arg, &b);
        return p;
    }
    /* A value cut short by a missing quote is not what the user meant,
     * even when it would parse. */
    enum problem pb = quote ? P_QUOTE : set_value(k, o, val, vlen);
    if (pb == P_OK) {
        *bad = 0;
        return p;
    }
    say_refused(&b, k, o, pb, val, vlen, quote);
    report(err, arg, &b);
    return p;
}

int lg__options_parse(struct lg__options *o, const char *s,
                      void (*err)(void *arg, const char *line), void *arg)
{
    int nbad = 0;
    if (!s)
        return 0;
    while (*s) {
        if (is_sep(*s)) {
            s++;
            continue;
        }
        int bad;
        s = parse_entry(o, s, err, arg, &bad);
        nbad += bad;
    }
    return nbad;
}
