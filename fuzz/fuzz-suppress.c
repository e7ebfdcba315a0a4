/* Suppressions files (suppress.c): read by every process the preload is
 * loaded into that names one, and by the launcher. Whatever the bytes,
 * every rule kept has a known type and kind, a pattern that is not empty,
 * and its text as one NUL-terminated line without control characters;
 * every message is one line naming FILE:LINE (FILE alone for the whole
 * file), as many as the parser counts; the same bytes read from a file
 * in 1 KiB pieces give the same rules; and each pattern matches itself
 * (a star and a question mark match those characters too). */
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "lg-internal.h"

#define FILE_NAME "fz.supp"

static struct lg__supp set, again;
static const char *file;      /* the name the messages must start with */
static int msgs, max_line;

static void on_err(void *arg, int line, const char *msg)
{
    (void)arg;
    size_t n = strlen(file);
    if (strchr(msg, '\n') || strncmp(msg, file, n) != 0 || line < 0 ||
        line > max_line)
        abort();
    msg += n;
    if (line > 0) {
        /* ":LINE: " with LINE the one given. */
        char *end;
        if (*msg != ':' || strtol(msg + 1, &end, 10) != line ||
            strncmp(end, ": ", 2) != 0)
            abort();
    } else if (strncmp(msg, ": ", 2) != 0) {
        abort();
    }
    msgs++;
}

static void check_rule(const struct lg__supp_rule *r)
{
    const char *t = r->text;
    size_t len = strnlen(t, sizeof r->text);
    if (len == sizeof r->text || len == 0 ||
        r->kind >= LG__SUPP_KIND_COUNT || r->pattern >= len ||
        r->file != 0 || r->line < 1 || r->line > max_line)
        abort();
    if (r->type != LG__REC_BLOCKING_CALL && r->type != LG__REC_STALL &&
        r->type != LG__REC_DEADLOCK && r->type != LG__REC_LOCK_ORDER)
        abort();
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)t[i] < 0x20 && t[i] != '\t') || t[i] == 0x7f)
            abort();
    const char *p = t + r->pattern;
    if (p[0] == ' ' || p[0] == '\t' || t[len - 1] == ' ' ||
        t[len - 1] == '\t' || t[0] == '#')
        abort();
    if (!lg__supp_glob(p, p) || !lg__supp_glob("*", p))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    max_line = 1;
    for (size_t i = 0; i < size; i++)
        max_line += data[i] == '\n';

    memset(&set, 0, sizeof set);
    file = FILE_NAME;
    msgs = 0;
    int bad = lg__supp_parse(&set, FILE_NAME, (const char *)data, size,
                             on_err, NULL);
    if (bad != msgs || set.nrules < 0 || set.nrules > LG__SUPP_MAX ||
        set.nfiles != 1)
        abort();
    for (int i = 0; i < set.nrules; i++)
        check_rule(&set.rules[i]);

    /* From a file, read in pieces: the same rules, the same count. */
    memset(&again, 0, sizeof again);
    file = fz_file(data, size);
    msgs = 0;
    int bad2 = lg__supp_load(&again, file, on_err, NULL);
    if (bad2 != msgs || bad2 != bad || again.nrules != set.nrules)
        abort();
    for (int i = 0; i < set.nrules; i++) {
        const struct lg__supp_rule *a = &set.rules[i], *b = &again.rules[i];
        if (a->type != b->type || a->kind != b->kind ||
            a->pattern != b->pattern || a->line != b->line ||
            strcmp(a->text, b->text) != 0)
            abort();
    }
    return 0;
}
