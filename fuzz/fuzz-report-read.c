/* `loopguard report`'s reader (tools/report-read.c, report.c): logs are
 * whatever a disk, a copy or a user left. Whatever the bytes, the line
 * reader gives back the input's lines in order, numbered from 1, each
 * whole or flagged too long; a line is a record of a known type or refused
 * with a one-line reason; a stack prints as whole "    #N" lines without
 * control bytes; and the whole command reads the file as one, returns 0 or
 * its --exitcode, prints its header, names FILE:LINE in each warning, and
 * writes a whole page whose only script is its own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-input.h"
#include "lg-internal.h"
#include "report.h"

static void check_line(const char *p, size_t n)
{
    struct lg__logrec rec;
    char why[256], mem[4096];
    struct lg__buf b;
    why[0] = '\0';
    if (lg__logrec_parse(p, n, &rec, why, sizeof why) != 0) {
        if (rec.root || !why[0] || strchr(why, '\n'))
            abort();
        return;
    }
    if (!rec.root || !rec.thread || (unsigned)rec.type > LG__LOGREC_BLOCKING_END)
        abort();
    lg__buf_init(&b, mem, sizeof mem);
    lg__logrec_stack(&b, json_get(rec.root, "stack"), 0);
    if (b.full || b.len == 0 || mem[b.len - 1] != '\n')
        abort();
    for (size_t i = 0; i < b.len; i++)
        if (((unsigned char)mem[i] < 0x20 && mem[i] != '\n') ||
            mem[i] == 0x7f || (mem[i] == '\n' && i + 1 < b.len &&
                               strncmp(mem + i + 1, "    ", 4) != 0))
            abort();
    json_free(rec.root);
}

/* The reader against the input split by hand. */
static void check_reader(const char *path, const uint8_t *data, size_t size)
{
    struct lg__logread r;
    FILE *f = fopen(path, "r");
    if (!f || lg__logread_init(&r, f) != 0)
        abort();
    size_t at = 0;
    unsigned long want_line = 0;
    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (data + at)) : size - at;
        enum lg__logread_status s = lg__logread_next(&r);
        if (r.lineno != ++want_line || r.unended != !nl)
            abort();
        if (n > LG__LOGREAD_MAX) {
            if (s != LG__LOGREAD_LONG)
                abort();
        } else if (s != LG__LOGREAD_LINE || r.len != n ||
                   memcmp(r.line, data + at, n) != 0 || r.line[n]) {
            abort();
        } else {
            check_line(r.line, r.len);
        }
        at += n + (nl != NULL);
    }
    if (lg__logread_next(&r) != LG__LOGREAD_EOF || r.err)
        abort();
    lg__logread_free(&r);
    fclose(f);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The page: whole, one script (its own: what the log holds is escaped),
 * a tbody per site the text report counts. */
static void check_page(const char *page, const char *text)
{
    static char mem[1 << 22];
    FILE *f = fopen(page, "r");
    if (!f)
        abort();
    size_t n = fread(mem, 1, sizeof mem - 1, f);
    fclose(f);
    unlink(page);
    mem[n] = '\0';
    const char *sites = strstr(text, "\nBlocking sites: ");
    if (!sites || n == sizeof mem - 1 || n < 8 ||
        strcmp(mem + n - 8, "</html>\n") != 0 ||
        count(mem, "<script") != 1 ||
        count(mem, "\n<tbody ") != strtoul(sites + 17, NULL, 10))
        abort();
}

static void check_command(const char *path)
{
    char *out = NULL, *err = NULL, page[4096], html[4200];
    size_t nout = 0, nerr = 0;
    FILE *o = open_memstream(&out, &nout), *e = open_memstream(&err, &nerr);
    const char *tmp = getenv("TMPDIR");
    snprintf(page, sizeof page, "%s/lg-fuzz-report.%ld.html",
             tmp && *tmp ? tmp : "/tmp", (long)getpid());
    snprintf(html, sizeof html, "--html=%s", page);
    /* No symbolizer: a fuzzer starts no process. */
    char *argv[] = {"report", "--exitcode=7", "--no-symbolize", html,
                    (char *)path, NULL};
    if (!o || !e)
        abort();
    int st = lg__report_main(5, argv, o, e);
    fclose(o);
    fclose(e);
    if ((st != 0 && st != 7) ||
        strncmp(out, "loopguard report: 1 log, ", 25) != 0)
        abort();
    /* "loopguard: PATH:LINE: ..." or, past the named ones, "PATH: N more". */
    size_t plen = strlen(path);
    for (char *l = err; *l;) {
        char *end = strchr(l, '\n');
        if (!end || strncmp(l, "loopguard: ", 11) != 0 ||
            strncmp(l + 11, path, plen) != 0 || l[11 + plen] != ':')
            abort();
        l = end + 1;
    }
    check_page(page, out);
    free(out);
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    check_reader(path, data, size);
    check_command(path);
    return 0;
}
