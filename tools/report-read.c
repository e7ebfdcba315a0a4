/* Reading loopguard's JSON-lines logs for `loopguard report`: a line reader
 * that never holds more than one bounded line, a check of each line as one
 * record of docs/reports.md, and the text form of a record's stack. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lg-internal.h"
#include "report.h"
#include "symbolizer.h"

#define FIELD_MAX 1024    /* a symbol, file or module path shown at most */

int lg__logread_init(struct lg__logread *r, FILE *f)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->line = malloc(LG__LOGREAD_MAX + 1);
    return r->line ? 0 : -ENOMEM;
}

void lg__logread_free(struct lg__logread *r)
{
    free(r->line);
    r->line = NULL;
}

/* A line too long is read to its end and dropped, so the next line starts
 * where it should: one bad line, not a run of pieces of it. */
enum lg__logread_status lg__logread_next(struct lg__logread *r)
{
    int c = EOF;
    size_t n = 0, over = 0;
    if (r->unended || r->err)
        return LG__LOGREAD_EOF;
    while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
        if (n < LG__LOGREAD_MAX)
            r->line[n++] = (char)c;
        else
            over = 1;
    }
    if (c == EOF && ferror(r->f)) {
        r->err = errno ? errno : EIO;
        return LG__LOGREAD_EOF;
    }
    if (c == EOF && n == 0 && !over)
        return LG__LOGREAD_EOF;
    r->unended = c == EOF;
    r->lineno++;
    r->line[n] = '\0';
    r->len = n;
    return over ? LG__LOGREAD_LONG : LG__LOGREAD_LINE;
}

static const char *const type_names[] = {
    [LG__LOGREC_BLOCKING] = "blocking_call",
    [LG__LOGREC_STALL] = "stall",
    [LG__LOGREC_DEADLOCK] = "deadlock",
    [LG__LOGREC_LOCK_ORDER] = "lock_order_inversion",
    [LG__LOGREC_CAP_REACHED] = "cap_reached",
    [LG__LOGREC_SUMMARY] = "summary",
    [LG__LOGREC_BLOCKING_END] = "blocking_end",
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

/* A parse error where the text ran out, or inside a word the text ends
 * in ("tr" of true), is a line cut short: a write the disk could not
 * finish, or a file copied while it grew. */
static int cut_short(const char *line, size_t len, size_t at)
{
    static const char *const words[] = {"true", "false", "null"};
    while (len > at && (line[len - 1] == ' ' || line[len - 1] == '\r' ||
                        line[len - 1] == '\t'))
        len--;
    if (at >= len)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (len - at < strlen(words[i]) &&
            memcmp(line + at, words[i], len - at) == 0)
            return 1;
    return 0;
}

/* The field a record of this type cannot be reported without, and the
 * JSON type it must have (a string checked as a site when is_site). */
static const struct need {
    const char *field;
    enum json_type type;
    int is_site;
} needs[][3] = {
    [LG__LOGREC_BLOCKING] = {{"site", JSON_STRING, 1},
                             {"call", JSON_STRING, 0},
                             {"stack", JSON_ARRAY, 0}},
    [LG__LOGREC_STALL] = {{"phase", JSON_STRING, 0}},
    [LG__LOGREC_DEADLOCK] = {{"threads", JSON_ARRAY, 0}},
    [LG__LOGREC_LOCK_ORDER] = {{"cycle", JSON_ARRAY, 0}},
    [LG__LOGREC_SUMMARY] = {{"sites", JSON_ARRAY, 0}},
    [LG__LOGREC_BLOCKING_END] = {{"site", JSON_STRING, 1},
                                 {"blocked_ms", JSON_NUMBER, 0}},
};

static int refuse(char *why, size_t cap, const char *what, const char *field)
{
    snprintf(why, cap, "%s field '%s'", what, field);
    return -1;
}

static int check_fields(struct lg__logrec *rec, char *why, size_t cap)
{
    const struct json *root = rec->root, *v;
    uint64_t u;
    if (!json_i64(json_get(root, "pid"), &rec->pid))
        return refuse(why, cap, json_get(root, "pid") ? "bad" : "no", "pid");
    if (!json_i64(json_get(root, "tid"), &rec->tid))
        return refuse(why, cap, json_get(root, "tid") ? "bad" : "no", "tid");
    v = json_get(root, "ts_ns");
    if (v && !json_u64(v, &rec->ts_ns))
        return refuse(why, cap, "bad", "ts_ns");
    if (!(rec->thread = json_str(json_get(root, "thread"))))
        return refuse(why, cap, json_get(root, "thread") ? "bad" : "no",
                      "thread");
    for (int i = 0; i < 3 && needs[rec->type][i].field; i++) {
        const struct need *n = &needs[rec->type][i];
        v = json_get(root, n->field);
        if (!v)
            return refuse(why, cap, "no", n->field);
        if (!json_is(v, n->type) || (n->is_site && !json_hex(v, &u)))
            return refuse(why, cap, "bad", n->field);
    }
    return 0;
}

int lg__logrec_parse(const char *line, size_t len, struct lg__logrec *rec,
                     char *why, size_t whycap)
{
    char err[96];
    size_t at;
    int64_t version;
    memset(rec, 0, sizeof *rec);
    rec->root = json_parse_at(line, len, err, sizeof err, &at);
    if (!rec->root) {
        if (cut_short(line, len, at))
            snprintf(why, whycap, "truncated record (the line ends at byte "
                                  "%zu, inside it)", len);
        else
            snprintf(why, whycap, "not JSON (%s)", err);
        return -1;
    }
    const struct json *t = json_get(rec->root, "type"), *ver;
    const char *name = json_str(t);
    if (!json_is(rec->root, JSON_OBJECT)) {
        snprintf(why, whycap, "not a record (a JSON value, not an object)");
        goto bad;
    }
    /* A newer format is refused before its type: a later loopguard may
     * well write types this one has never heard of. */
    if ((ver = json_get(rec->root, "version"))) {
        if (!json_i64(ver, &version) || version < 1) {
            refuse(why, whycap, "bad", "version");
            goto bad;
        }
        if (version > LG__LOG_VERSION) {
            snprintf(why, whycap, "format version %lld is newer than this "
                     "loopguard reads (%d)", (long long)version,
                     LG__LOG_VERSION);
            goto bad;
        }
    }
    if (!name) {
        refuse(why, whycap, t ? "bad" : "no", "type");
        goto bad;
    }
    for (rec->type = 0; rec->type < NTYPES; rec->type++)
        if (strcmp(name, type_names[rec->type]) == 0)
            break;
    if (rec->type == NTYPES) {
        struct lg__buf b;
        char shown[64];
        lg__buf_init(&b, shown, sizeof shown);
        lg__buf_shown(&b, name, t->len, 32);
        snprintf(why, whycap, "unknown record type %s", shown);
        goto bad;
    }
    if (check_fields(rec, why, whycap) == 0)
        return 0;
bad:
    json_free(rec->root);
    rec->root = NULL;
    return -1;
}

/* A string of the log, as one line of at most FIELD_MAX bytes. */
static void put_text(struct lg__buf *b, const struct json *s)
{
    lg__buf_printable(b, s->str, s->len < FIELD_MAX ? s->len : FIELD_MAX);
}

static void put_cstr(struct lg__buf *b, const char *s)
{
    lg__buf_printable(b, s, strnlen(s, FIELD_MAX));
}

/* " FILE:LINE" from the log's frame. */
static void put_src(struct lg__buf *b, const struct json *f)
{
    const struct json *file = json_get(f, "file");
    uint64_t line;
    if (!json_is(file, JSON_STRING))
        return;
    lg__buf_chr(b, ' ');
    put_text(b, file);
    if (json_u64(json_get(f, "line"), &line) && line) {
        lg__buf_chr(b, ':');
        lg__buf_u64(b, line);
    }
}

/* " FILE:LINE" from the symbolizer's answer. */
static void put_found(struct lg__buf *b, const struct lg__symp_frame *s)
{
    if (!s->file[0])
        return;
    lg__buf_chr(b, ' ');
    put_cstr(b, s->file);
    if (s->line) {
        lg__buf_chr(b, ':');
        lg__buf_u64(b, s->line);
    }
}

/* "    #N PC in " */
static void put_head(struct lg__buf *b, uint64_t num, const struct json *f)
{
    const struct json *pc = json_get(f, "pc");
    lg__buf_str(b, "    #");
    lg__buf_u64(b, num);
    lg__buf_chr(b, ' ');
    if (json_is(pc, JSON_STRING))
        lg__buf_printable(b, pc->str, pc->len < 32 ? pc->len : 32);
    else
        lg__buf_str(b, "0x?");
    lg__buf_str(b, " in ");
}

/* " (MODULE+OFFSET)[ (inlined)]" and the line's end. */
static void put_tail(struct lg__buf *b, const struct json *f, int inlined)
{
    const struct json *mod = json_get(f, "module");
    uint64_t off;
    lg__buf_str(b, " (");
    if (json_is(mod, JSON_STRING))
        put_text(b, mod);
    else
        lg__buf_str(b, "<unknown module>");
    lg__buf_chr(b, '+');
    if (json_u64(json_get(f, "offset"), &off))
        lg__buf_hex(b, off);
    else
        lg__buf_chr(b, '?');
    lg__buf_str(b, inlined ? ") (inlined)\n" : ")\n");
}

static void put_name(struct lg__buf *b, const char *linkage)
{
    char name[FIELD_MAX];
    if (!linkage[0]) {
        lg__buf_str(b, "??");
        return;
    }
    lg__demangle(linkage, name, sizeof name);
    put_cstr(b, name);
}

/* The frame's lines: as the log has it, or, when the log has no source
 * line for it and the symbolizer finds one, a line per function inlined
 * at its address, then its own with its file:line. Returns the lines. */
static int put_frame(struct lg__buf *b, uint64_t num, const struct json *f,
                     int exact, uint64_t ts_ns)
{
    const struct json *sym = json_get(f, "symbol");
    const struct json *mod = json_get(f, "module");
    const struct json *in = json_get(f, "inlined");
    const struct lg__symp_frame *found = NULL;
    void *release = NULL;
    uint64_t off;
    int n = 0;
    const struct json *py = json_get(f, "python");
    if (json_is(py, JSON_BOOL) && py->boolean) {
        /* A Python frame: "    #N in FUNC FILE:LINE (Python)", as the
         * text report has it. */
        lg__buf_str(b, "    #");
        lg__buf_u64(b, num);
        lg__buf_str(b, " in ");
        if (json_is(sym, JSON_STRING))
            put_text(b, sym);
        else
            lg__buf_str(b, "??");
        put_src(b, f);
        lg__buf_str(b, " (Python)\n");
        return 1;
    }
    /* "file" present (even null): the writer asked already. */
    if (!json_get(f, "file") && json_is(mod, JSON_STRING) &&
        strlen(mod->str) == mod->len && json_u64(json_get(f, "offset"), &off)
        && (exact || off))
        n = lg__report_sym_lookup(mod->str, off - (exact ? 0 : 1), ts_ns,
                                  &found, &release);
    for (int i = 0; i < n - 1; i++) {
        put_head(b, num + (uint64_t)i, f);
        put_name(b, found[i].func);
        put_found(b, &found[i]);
        put_tail(b, f, 1);
    }
    put_head(b, num + (uint64_t)(n ? n - 1 : 0), f);
    if (json_is(sym, JSON_STRING))
        put_text(b, sym);
    else if (n)
        put_name(b, found[n - 1].func);
    else
        lg__buf_str(b, "??");
    if (n)
        put_found(b, &found[n - 1]);
    else
        put_src(b, f);
    put_tail(b, f, json_is(in, JSON_BOOL) && in->boolean);
    lg__report_sym_release(release);
    return n ? n : 1;
}

void lg__logrec_stack(struct lg__buf *b, const struct json *stack,
                      uint64_t ts_ns)
{
    size_t n = json_count(stack), shown = 0;
    uint64_t num = 0;
    if (!json_is(stack, JSON_ARRAY) || n == 0) {
        lg__buf_str(b, "    (no stack)\n");
        return;
    }
    for (; shown < n; shown++) {
        size_t mark = b->len;
        int lines = put_frame(b, num, json_at(stack, shown), shown == 0,
                              ts_ns);
        if (!lg__buf_fits_or_undo(b, mark, 64))
            break;
        num += (uint64_t)lines;
    }
    if (shown < n) {
        lg__buf_str(b, "    ... ");
        lg__buf_u64(b, n - shown);
        lg__buf_str(b, " more frames not shown\n");
    }
}
