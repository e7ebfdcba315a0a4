/* The symbolizer's answers (symbolizer-proto.c), as the host reads them
 * from its helper, a process that may go wrong: whatever bytes arrive,
 * the parser takes whole answers, never reads past what it was given,
 * keeps every string NUL-terminated within its limits, and what it took
 * encodes back to the same answer. The input is the stream, fed in pieces
 * of sizes it picks, as a socket delivers it; its lines are also read as
 * requests (the helper's parser). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "symbolizer.h"

static struct lg__symp_answer ans, again;
static char in[2 * LG__SYMP_ANSWER_MAX];
static char enc[LG__SYMP_ANSWER_MAX];

static void check_answer(const struct lg__symp_answer *a)
{
    if (a->n < 0 || a->n > LG__SYMP_DEPTH)
        abort();
    for (int i = 0; i < a->n; i++) {
        const char *s[2] = {a->f[i].func, a->f[i].file};
        for (int k = 0; k < 2; k++)
            if (s[k] < a->text || s[k] >= a->text + sizeof a->text ||
                strnlen(s[k], LG__SYMP_STR_MAX + 1) > LG__SYMP_STR_MAX)
                abort();
    }
    /* What was taken encodes back to the same answer. */
    size_t len = 0;
    if (lg__symp_put_answer(enc, sizeof enc, &len, a->id, a->f, a->n) ||
        lg__symp_parse_answer(enc, len, &again) != (long)len ||
        again.id != a->id || again.n != a->n)
        abort();
    for (int i = 0; i < a->n; i++)
        if (again.f[i].line != a->f[i].line ||
            strcmp(again.f[i].func, a->f[i].func) ||
            strcmp(again.f[i].file, a->f[i].file))
            abort();
}

static void requests(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl;
    char line[512];
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        size_t n = (size_t)(nl - p);
        if (n < sizeof line) {
            memcpy(line, p, n);
            line[n] = '\0';
            uint32_t id;
            uint64_t addr;
            const char *path;
            if (lg__symp_parse_request(line, n, &id, &addr, &path) == 0 &&
                (path < line || path >= line + n || strchr(path, '\n')))
                abort();
        }
        p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    unsigned step = 1 + fz_byte(&f) * 7;
    size_t have = 0;
    requests(f.p, f.n);
    while (f.n || have) {
        size_t take = f.n < step ? f.n : step;
        if (take > sizeof in - have)
            take = sizeof in - have;
        memcpy(in + have, f.p, take);
        f.p += take;
        f.n -= take;
        have += take;
        long k;
        size_t at = 0;
        while ((k = lg__symp_parse_answer(in + at, have - at, &ans)) > 0) {
            if ((size_t)k > have - at)
                abort();
            check_answer(&ans);
            at += (size_t)k;
        }
        have -= at;
        memmove(in, in + at, have);
        /* The host drops a helper that sends garbage, or fills its
         * buffer without a whole answer; so does this. */
        if (k < 0 || have == sizeof in || (take == 0 && have))
            break;
    }
    return 0;
}
