/* The symbolizer's answers (symbolizer-proto.c), as the host reads them
 * from its helper, a process that may go wrong: whatever bytes arrive,
 * the parser takes whole answers, never reads past what it was given,
 * keeps every string NUL-terminated within its limits, and what it took
 * encodes back to the same answer. Each answer then goes into the table
 * (srcline.c) and a record with its frames, inlined ones included, is
 * formatted: one JSON line the strict test parser accepts, text lines
 * without stray newlines. The input is the stream, fed in pieces of sizes
 * it picks, as a socket delivers it; its lines are also read as requests
 * (the helper's parser). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "json.h"
#include "lg-internal.h"
#include "symbolizer.h"

#define MODULE "/fuzz/module"
#define MAX_ANSWERS 32

static struct lg__symp_answer ans, again;
static char in[2 * LG__SYMP_ANSWER_MAX];
static char enc[LG__SYMP_ANSWER_MAX];
static char rec[LG__RECORD_MAX + 1];

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

/* A record whose frames are the answers kept: each at its own address. */
static void format(int n)
{
    static struct lg__sym st[MAX_ANSWERS];
    struct lg__record r = {.type = LG__REC_BLOCKING_CALL, .call = "read"};
    for (int i = 0; i < n; i++)
        st[i] = (struct lg__sym){0x1000 + (uintptr_t)i, MODULE,
                                 (uintptr_t)i + 1, i & 1 ? "sym" : NULL, 1};
    r.stack = st;
    r.nstack = n;
    r.loop_stack = st;
    r.nloop_stack = n;
    r.timeout_ns = -1;
    static const size_t caps[] = {4096, LG__RECORD_MAX};
    for (int c = 0; c < 2; c++) {
        size_t len = lg__format_json(rec, caps[c], &r, LG__MAX_FRAMES);
        rec[len] = '\0';
        if (len == 0 || len >= caps[c] || rec[len - 1] != '\n' ||
            memchr(rec, '\n', len - 1))
            abort();
        char err[128];
        struct json *j = json_parse(rec, len - 1, err, sizeof err);
        if (!j) {
            fprintf(stderr, "%s: %.2000s\n", err, rec);
            abort();
        }
        json_free(j);
        len = lg__format_text(rec, caps[c], &r, LG__MAX_FRAMES);
        if (len == 0 || len >= caps[c] || rec[len - 1] != '\n')
            abort();
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)rec[k] < 0x20 && rec[k] != '\n')
                abort();
    }
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
    int kept = 0;
    lg__src_clear();
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
            if (kept < MAX_ANSWERS)
                lg__src_put(MODULE, (uint64_t)kept++, &ans);
        }
        have -= at;
        memmove(in, in + at, have);
        /* The host drops a helper that sends garbage, or fills its
         * buffer without a whole answer; so does this. */
        if (k < 0 || have == sizeof in || (take == 0 && have))
            break;
    }
    format(kept);
    return 0;
}
