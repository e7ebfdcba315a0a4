/* LOOPGUARD_OPTIONS (options.c): parsed in every process the preload is
 * loaded into, before anything else runs. Whatever the string, the
 * options stay in their documented ranges (docs/options.md) and each bad
 * entry gives one message line. And the launcher's encoding of its flags
 * (lg__options_put) reads back exactly: the input as a log path, and its
 * halves as two suppressions files, written as the launcher writes them
 * and parsed again, are those paths (issue 20, item 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "lg-internal.h"

static int lines;

static void on_err(void *arg, const char *line)
{
    (void)arg;
    if (!line || strchr(line, '\n'))
        abort();              /* one line each, the caller adds the newline */
    lines++;
}

/* The launcher's encoding of its flags (lg__options_put) reads back
 * exactly: the log path, and two suppressions files (the halves of the
 * input), written in one LOOPGUARD_OPTIONS as the launcher writes them,
 * parse back to the same three paths, in order. */
static void round_trip(const char *path)
{
    size_t len = strlen(path);
    if (!*path || len >= LG__LOG_PATH_MAX)
        return;               /* refused by both, with a message */
    static char mem[24 * LG__LOG_PATH_MAX], s1[LG__LOG_PATH_MAX],
        s2[LG__LOG_PATH_MAX];
    size_t half = len / 2;
    memcpy(s1, path, half);
    s1[half] = '\0';
    strcpy(s2, path + half);
    struct lg__buf b;
    lg__buf_init(&b, mem, sizeof mem);
    lg__options_put(&b, "log", path);
    int supps = 0;
    if (half) {
        lg__buf_chr(&b, ':');     /* as the launcher joins its entries */
        lg__options_put(&b, "suppressions", s1);
        supps++;
    }
    lg__buf_chr(&b, ':');
    lg__options_put(&b, "suppressions", s2);
    supps++;
    if (b.full)
        abort();
    struct lg__options o;
    lg__options_defaults(&o);
    lines = 0;
    if (lg__options_parse(&o, b.p, on_err, NULL) != 0 ||
        strcmp(o.log, path) != 0 || o.suppressions.n != supps ||
        (half && strcmp(o.suppressions.path[0], s1) != 0) ||
        strcmp(o.suppressions.path[supps - 1], s2) != 0) {
        fprintf(stderr, "path %s\nwritten %s\nread back log %s, %d "
                "suppressions\n", path, b.p, o.log, o.suppressions.n);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    char *s = fz_rest(&f);
    struct lg__options o;
    lg__options_defaults(&o);
    lines = 0;
    int bad = lg__options_parse(&o, s, on_err, NULL);
    if (bad != lines || bad < 0)
        abort();
    if (memchr(o.log, '\0', sizeof o.log) == NULL)
        abort();
    if ((o.format != LG__FORMAT_TEXT && o.format != LG__FORMAT_JSON) ||
        (o.mode != LG__MODE_REPORT && o.mode != LG__MODE_ABORT) ||
        o.max_frames < 1 || o.max_frames > 64 || o.stall_ms < 0 ||
        o.stall_ms > 3600000 ||
        (o.dedupe != 0 && o.dedupe != 1) ||
        (o.lock_order != 0 && o.lock_order != 1) || o.exitcode < 0 ||
        o.exitcode > 255 || o.suppressions.n < 0 ||
        o.suppressions.n > LG__SUPP_FILES_MAX || o.max_reports < 0 ||
        o.max_reports > 1000000000)
        abort();
    for (int i = 0; i < o.suppressions.n; i++)
        if (!o.suppressions.path[i][0] ||
            !memchr(o.suppressions.path[i], '\0', LG__LOG_PATH_MAX))
            abort();
    round_trip(s);
    free(s);
    return 0;
}
