/* lg__format_json (src/format-json.c): records built by hand are formatted,
 * parsed back with the strict test parser, and every field is checked by
 * name, type and value (docs/reports.md), including the truncated forms
 * that must stay one complete JSON line within the record's cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "lg-internal.h"

#define BIG_CAP LG__RECORD_MAX
#define TS_NS 1795688559214584801ull /* above 2^53: must stay exact */

static char buf[LG__RECORD_MAX + 1];

static const struct lg__sym stack4[] = {
    {0x7f3a1c2d4e10, "/lib/x86_64-linux-gnu/libc.so.6", 0xf82a0,
     "pthread_cond_wait", 0x40},
    {0x5581e1a0b2f4, "/usr/local/bin/app", 0x12f4, "queue_pop", 0x14},
    {0x7f3a1c5e9a11, "/lib/x86_64-linux-gnu/libuv.so.1", 0xbcbe, NULL, 0},
    {0xdeadbeef, NULL, 0, NULL, 0},
};

static const struct lg__sym loop2[] = {
    {0x7fdab2175920, "/lib/x86_64-linux-gnu/libuv.so.1", 0xf920, "uv_run", 0},
    {0x55f513fbe1f0, "/usr/local/bin/app", 0x11f0, "main", 0x30},
};

/* A blocking_call record with a loop, a 4-frame stack and a 2-frame
 * loop stack; tests change what they exercise. */
static struct lg__record base_record(void)
{
    struct lg__record r = {.type = LG__REC_BLOCKING_CALL};
    r.ts_ns = TS_NS;
    r.pid = 4242;
    r.tid = 4243;
    strcpy(r.thread, "loop-main");
    r.call = "pthread_cond_wait";
    r.object = "cond 0x7f00deadbeef";
    r.timeout_ns = -1;
    r.has_loop = 1;
    r.loop_kind = LG__LOOP_LIBUV;
    r.loop_via = LG__VIA_ENTRY;
    r.loop_id = (const void *)0x5581e2c0;
    r.site = 0xd95a14e10b75830cull;
    r.stack = stack4;
    r.nstack = 4;
    r.loop_stack = loop2;
    r.nloop_stack = 2;
    return r;
}

/* Formats r and parses it back; checks the line invariants every record
 * has: within cap, NUL-terminated at its length, exactly one newline and
 * that one last. */
static struct json *format_parse(const struct lg__record *r, size_t cap,
                                 int max_frames, size_t *lenp)
{
    memset(buf, 0x55, sizeof buf);
    size_t n = lg__format_json(buf, cap, r, max_frames);
    assert_true(n > 0);
    assert_true(n < cap); /* the NUL needs a byte too */
    assert_int_equal(strlen(buf), n);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    char err[128];
    struct json *j = json_parse(buf, n, err, sizeof err);
    if (!j)
        fail_msg("not JSON (%s): %.300s", err, buf);
    if (lenp)
        *lenp = n;
    return j;
}

/* The object has exactly these members, no more. */
static void expect_keys(const struct json *o, const char *const *keys, size_t n)
{
    assert_true(json_is(o, JSON_OBJECT));
    for (size_t i = 0; i < n; i++)
        if (!json_get(o, keys[i]))
            fail_msg("member \"%s\" missing", keys[i]);
    assert_int_equal(json_count(o), n);
}

static uint64_t get_u64(const struct json *o, const char *key)
{
    uint64_t v;
    if (!json_u64(json_get(o, key), &v))
        fail_msg("\"%s\" is not an unsigned integer", key);
    return v;
}

static uint64_t get_hex(const struct json *o, const char *key)
{
    uint64_t v;
    if (!json_hex(json_get(o, key), &v))
        fail_msg("\"%s\" is not a \"0x...\" string", key);
    return v;
}

static void expect_str_or_null(const struct json *v, const char *want)
{
    if (!want) {
        assert_true(json_is(v, JSON_NULL));
        return;
    }
    assert_true(json_is(v, JSON_STRING));
    assert_int_equal(v->len, strlen(want));
    assert_string_equal(v->str, want);
}

static void expect_frame(const struct json *f, const struct lg__sym *s)
{
    static const char *const keys[] = {"pc", "symbol", "offset", "module"};
    expect_keys(f, keys, 4);
    assert_int_equal(get_hex(f, "pc"), s->pc);
    expect_str_or_null(json_get(f, "symbol"), s->name);
    assert_int_equal(get_u64(f, "offset"), s->modoff);
    expect_str_or_null(json_get(f, "module"), s->module);
}

/* The first n frames of the array are want[0..n). */
static void expect_frames(const struct json *a, const struct lg__sym *want,
                          size_t n)
{
    assert_true(json_is(a, JSON_ARRAY));
    assert_int_equal(json_count(a), n);
    for (size_t i = 0; i < n; i++)
        expect_frame(json_at(a, i), &want[i]);
}

static void expect_head(const struct json *j, const struct lg__record *r,
                        const char *type)
{
    int64_t v;
    assert_string_equal(json_str(json_get(j, "type")), type);
    assert_int_equal(get_u64(j, "ts_ns"), r->ts_ns);
    assert_true(json_i64(json_get(j, "pid"), &v) && v == r->pid);
    assert_true(json_i64(json_get(j, "tid"), &v) && v == r->tid);
    expect_str_or_null(json_get(j, "thread"), r->thread);
}

static const char *const blocking_keys[] = {
    "type",      "ts_ns", "pid",   "tid",        "thread",
    "call",      "object", "timeout_ms", "loop", "self_wait",
    "site",      "stack", "loop_stack", "frames_dropped",
};

/* Everything but the frames, which callers check (or count) themselves. */
static void expect_blocking(const struct json *j, const struct lg__record *r,
                            int dropped)
{
    expect_keys(j, blocking_keys, dropped ? 14 : 13);
    expect_head(j, r, "blocking_call");
    expect_str_or_null(json_get(j, "call"), r->call);
    expect_str_or_null(json_get(j, "object"),
                       r->object && r->object[0] ? r->object : NULL);
    const struct json *t = json_get(j, "timeout_ms");
    if (r->timeout_ns < 0) {
        assert_true(json_is(t, JSON_NULL));
    } else {
        assert_true(json_is(t, JSON_NUMBER));
        assert_true(t->num * 1e6 - (double)r->timeout_ns < 1000.0);
        assert_true(t->num * 1e6 - (double)r->timeout_ns > -1000.0);
    }
    const struct json *l = json_get(j, "loop");
    if (!r->has_loop) {
        assert_true(json_is(l, JSON_NULL));
    } else {
        static const char *const keys[] = {"kind", "id", "via"};
        expect_keys(l, keys, 3);
        assert_string_equal(json_str(json_get(l, "kind")),
                            lg__loop_kind_name(r->loop_kind));
        assert_string_equal(json_str(json_get(l, "via")),
                            lg__loop_via_name(r->loop_via));
        if (r->loop_id)
            assert_int_equal(get_hex(l, "id"), (uintptr_t)r->loop_id);
        else
            assert_true(json_is(json_get(l, "id"), JSON_NULL));
    }
    assert_int_equal(get_hex(j, "site"), r->site);
}

static void test_report_json_full(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    expect_blocking(j, &r, 0);
    /* The literal values too, not only agreement with the helpers. */
    const struct json *l = json_get(j, "loop");
    assert_string_equal(json_str(json_get(l, "kind")), "libuv");
    assert_string_equal(json_str(json_get(l, "via")), "entry");
    assert_string_equal(json_str(json_get(l, "id")), "0x5581e2c0");
    assert_string_equal(json_str(json_get(j, "site")), "0xd95a14e10b75830c");
    assert_string_equal(json_str(json_get(j, "object")), "cond 0x7f00deadbeef");
    expect_frames(json_get(j, "stack"), stack4, 4);
    expect_frames(json_get(j, "loop_stack"), loop2, 2);
    assert_string_equal(
        json_str(json_get(json_at(json_get(j, "stack"), 0), "pc")),
        "0x7f3a1c2d4e10");
    json_free(j);
}

/* A Python frame: no pc, offset or module; its function, file and line,
 * and "python": true, which no native frame has. */
static void test_report_json_python(void **state)
{
    (void)state;
    const struct lg__sym st[] = {
        stack4[0],
        {.name = "Queue.get", .module = "/usr/lib/python3.11/queue.py",
         .modoff = 180, .symoff = LG__SYM_PYTHON},
        {.name = "<module>", .module = "/srv/\"app\".py",
         .symoff = LG__SYM_PYTHON},
    };
    struct lg__record r = base_record();
    r.stack = st;
    r.nstack = 3;
    r.py_frames = 2;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    const struct json *s = json_get(j, "stack");
    assert_int_equal(json_count(s), 3);
    assert_null(json_get(json_at(s, 0), "python"));
    const struct json *f = json_at(s, 1);
    assert_true(json_is(json_get(f, "pc"), JSON_NULL));
    assert_true(json_is(json_get(f, "offset"), JSON_NULL));
    assert_true(json_is(json_get(f, "module"), JSON_NULL));
    assert_string_equal(json_str(json_get(f, "symbol")), "Queue.get");
    assert_string_equal(json_str(json_get(f, "file")),
                        "/usr/lib/python3.11/queue.py");
    uint64_t line;
    assert_true(json_u64(json_get(f, "line"), &line));
    assert_int_equal(line, 180);
    assert_true(json_get(f, "python")->boolean);
    f = json_at(s, 2);
    assert_string_equal(json_str(json_get(f, "file")), "/srv/\"app\".py");
    assert_true(json_is(json_get(f, "line"), JSON_NULL));
    json_free(j);
}

static void test_report_json_no_loop(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    r.has_loop = 0;
    r.loop_stack = NULL;
    r.nloop_stack = 0;
    r.object = "";           /* a sleep waits on nothing */
    r.timeout_ns = 50500000; /* 50.5 ms */
    r.site = 0;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    expect_blocking(j, &r, 0);
    assert_true(json_is(json_get(j, "loop"), JSON_NULL));
    assert_true(json_is(json_get(j, "object"), JSON_NULL));
    const struct json *t = json_get(j, "timeout_ms");
    assert_true(t->num == 50.5);
    assert_string_equal(t->raw, "50.500"); /* three decimals */
    assert_string_equal(json_str(json_get(j, "site")), "0x0");
    expect_frames(json_get(j, "stack"), stack4, 4);
    expect_frames(json_get(j, "loop_stack"), NULL, 0);
    json_free(j);

    /* NULL object, zero and sub-microsecond timeouts. */
    static const struct {
        int64_t ns;
        const char *raw;
    } tmo[] = {{0, "0.000"},
               {999, "0.000"},
               {1000, "0.001"},
               {1234567891, "1234.567"},
               {3600000000000ll, "3600000.000"}};
    r.object = NULL;
    for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
        r.timeout_ns = tmo[i].ns;
        j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
        expect_blocking(j, &r, 0);
        assert_string_equal(json_get(j, "timeout_ms")->raw, tmo[i].raw);
        json_free(j);
    }
}

static void test_report_json_loop_forms(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    /* A loop marked through the API without an id. */
    r.loop_kind = LG__LOOP_MANUAL;
    r.loop_via = LG__VIA_API;
    r.loop_id = NULL;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    expect_blocking(j, &r, 0);
    const struct json *l = json_get(j, "loop");
    assert_string_equal(json_str(json_get(l, "kind")), "manual");
    assert_string_equal(json_str(json_get(l, "via")), "api");
    assert_true(json_is(json_get(l, "id"), JSON_NULL));
    json_free(j);

    /* Every kind and via by its documented name; out-of-range values
     * fall back instead of indexing past the tables. */
    static const char *const kinds[] = {"libuv", "epoll", "libevent", "libev",
                                        "glib",  "tokio", "poll",     "manual",
                                        "asyncio"};
    static const char *const vias[] = {"entry", "stack", "epoll", "poll",
                                       "api"};
    for (int k = -1; k <= LG__LOOP_KIND_COUNT; k++) {
        r.loop_kind = k;
        r.loop_via = k % (LG__VIA_COUNT + 1);
        j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
        l = json_get(j, "loop");
        int known = k >= 0 && k < LG__LOOP_KIND_COUNT;
        assert_string_equal(json_str(json_get(l, "kind")),
                            known ? kinds[k] : "manual");
        int v = r.loop_via;
        assert_string_equal(json_str(json_get(l, "via")),
                            v >= 0 && v < LG__VIA_COUNT ? vias[v] : "api");
        json_free(j);
    }
}

static void test_report_json_escapes(void **state)
{
    (void)state;
    static const struct lg__sym odd[] = {
        {0x1000, "/opt/we\"ird\\dir/lib\tx.so", 0x10,
         "sym\"quoted\\back\nline\x01\x1f\x7f", 0},
        {0x2000, "/lib/libq.so", 0x20, "tab\there", 0},
    };
    struct lg__record r = base_record();
    strcpy(r.thread, "q\"b\\s\n\t\x01\x7f/");
    r.call = "read";
    r.object = "fd 7 \"x\"\\\x02";
    r.stack = odd;
    r.nstack = 2;
    r.loop_stack = odd;
    r.nloop_stack = 1;
    size_t n;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, &n);
    expect_blocking(j, &r, 0);
    expect_frames(json_get(j, "stack"), odd, 2);
    expect_frames(json_get(j, "loop_stack"), odd, 1);
    /* Escaped, not raw: no byte below 0x20 anywhere but the final '\n'. */
    for (size_t i = 0; i + 1 < n; i++)
        assert_true((unsigned char)buf[i] >= 0x20);
    json_free(j);
}

/* A demangled name is what the symbol field carries. */
static void test_report_json_demangled(void **state)
{
    (void)state;
    static const struct lg__sym rust[] = {
        {0x3000, "/bin/r", 0x30, "_ZN4core3fmt5write17h0123456789abcdefE", 0},
    };
    struct lg__record r = base_record();
    r.stack = rust;
    r.nstack = 1;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    assert_string_equal(
        json_str(json_get(json_at(json_get(j, "stack"), 0), "symbol")),
        "core::fmt::write");
    json_free(j);
}

/* 64 frames with long names on both stacks, into a pipe-sized record. */
static struct lg__sym *long_frames(size_t namelen, const char *module)
{
    struct lg__sym *f = calloc(LG__MAX_FRAMES, sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < LG__MAX_FRAMES; i++) {
        char *name = malloc(namelen + 1);
        assert_non_null(name);
        memset(name, 'a' + i % 26, namelen);
        name[namelen] = '\0';
        f[i] = (struct lg__sym){0x400000 + 16 * (uintptr_t)i, module,
                                0x1000 + (uintptr_t)i, name, 0};
    }
    return f;
}

static void free_frames(struct lg__sym *f)
{
    for (int i = 0; i < LG__MAX_FRAMES; i++)
        free((char *)f[i].name);
    free(f);
}

static void test_report_json_truncated(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(400, "/usr/lib/libdeep.so");
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = LG__MAX_FRAMES;
    r.loop_stack = f;
    r.nloop_stack = LG__MAX_FRAMES;
    size_t prev_shown = 0;
    static const size_t caps[] = {4096, 8192, 16384};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        size_t n;
        struct json *j = format_parse(&r, caps[c], LG__MAX_FRAMES, &n);
        assert_true(n <= caps[c]);
        expect_blocking(j, &r, 1);
        size_t ns = json_count(json_get(j, "stack"));
        size_t nl = json_count(json_get(j, "loop_stack"));
        /* The stack keeps the room first; what is shown is a prefix. */
        assert_true(ns > 0 && ns < LG__MAX_FRAMES);
        expect_frames(json_get(j, "stack"), f, ns);
        expect_frames(json_get(j, "loop_stack"), f, nl);
        assert_true(nl <= ns);
        uint64_t dropped = get_u64(j, "frames_dropped");
        assert_true(dropped > 0);
        assert_int_equal(dropped, 2 * LG__MAX_FRAMES - ns - nl);
        /* More room, more frames. */
        assert_true(ns + nl > prev_shown);
        prev_shown = ns + nl;
        json_free(j);
    }
    free_frames(f);
}

/* Every cap from small to the largest gives one complete line. */
static void test_report_json_cap_sweep(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(37, "/usr/lib/x86_64-linux-gnu/libz.so");
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = LG__MAX_FRAMES;
    r.loop_stack = f;
    r.nloop_stack = 20;
    for (size_t cap = 1024; cap <= BIG_CAP; cap += 61) {
        size_t n;
        struct json *j = format_parse(&r, cap, LG__MAX_FRAMES, &n);
        size_t shown = json_count(json_get(j, "stack")) +
                       json_count(json_get(j, "loop_stack"));
        uint64_t dropped = 0;
        if (json_get(j, "frames_dropped"))
            dropped = get_u64(j, "frames_dropped");
        assert_int_equal(shown + dropped, LG__MAX_FRAMES + 20);
        json_free(j);
    }
    free_frames(f);
}

static void test_report_json_max_frames(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(10, "/usr/lib/libm.so");
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = 10;
    r.loop_stack = loop2;
    r.nloop_stack = 2;
    struct json *j = format_parse(&r, BIG_CAP, 3, NULL);
    expect_frames(json_get(j, "stack"), f, 3);
    expect_frames(json_get(j, "loop_stack"), loop2, 2);
    json_free(j);
    j = format_parse(&r, BIG_CAP, 1, NULL);
    expect_frames(json_get(j, "stack"), f, 1);
    expect_frames(json_get(j, "loop_stack"), loop2, 1);
    json_free(j);
    free_frames(f);
}

/* Frames whose escaped text is longer than usual: a path near PATH_MAX,
 * a name made of characters that each take six bytes escaped. */
static void test_report_json_long_fields(void **state)
{
    (void)state;
    static char module[2001], name[501];
    module[0] = '/';
    memset(module + 1, 'm', sizeof module - 2);
    memset(name, '\x01', sizeof name - 1);
    const struct lg__sym f[] = {
        {0x1000, module, 0x10, "read", 0},
        {0x2000, "/lib/libc.so.6", 0x20, name, 0},
        {0x3000, "/lib/libc.so.6", 0x30, "main", 0},
    };
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = 3;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    const struct json *s = json_get(j, "stack");
    /* A frame is either shown whole or dropped and counted. */
    uint64_t dropped = 0;
    if (json_get(j, "frames_dropped"))
        dropped = get_u64(j, "frames_dropped");
    assert_int_equal(
        json_count(s) + json_count(json_get(j, "loop_stack")) + dropped, 3 + 2);
    /* Shown frames are exact in pc and offset; a fix may shorten an
     * over-long name or path, but only by cutting its end. */
    for (size_t i = 0; i < json_count(s); i++) {
        const struct json *fr = json_at(s, i);
        assert_int_equal(get_hex(fr, "pc"), f[i].pc);
        assert_int_equal(get_u64(fr, "offset"), f[i].modoff);
        const struct json *sym = json_get(fr, "symbol"),
                          *mod = json_get(fr, "module");
        assert_true(json_is(sym, JSON_STRING) && json_is(mod, JSON_STRING));
        assert_memory_equal(sym->str, f[i].name, sym->len);
        assert_memory_equal(mod->str, f[i].module, mod->len);
    }
    json_free(j);

    /* The summary's frames too. */
    struct lg__summary_site site = {0x42, "read", 1, 1, f[0]};
    struct lg__record sr = {
        .type = LG__REC_SUMMARY, .sites = &site, .nsites = 1, .sites_total = 1};
    j = format_parse(&sr, BIG_CAP, LG__MAX_FRAMES, NULL);
    assert_int_equal(get_u64(j, "sites_total"), 1);
    json_free(j);
}

/* Thread names are cut at 15 bytes by the kernel, possibly inside a UTF-8
 * sequence; module paths and symbols are bytes too. JSON text must be
 * UTF-8 (RFC 8259 section 8.1). */
static void test_report_json_utf8(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    /* "work" + five 3-byte characters, cut by the kernel after 15 bytes. */
    memcpy(r.thread, "work\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8", 15);
    r.thread[15] = '\0';
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    const char *t = json_str(json_get(j, "thread"));
    assert_non_null(t);
    /* The whole characters survive. */
    assert_memory_equal(t, "work\xe4\xb8\x80\xe4\xb8\x80\xe4\xb8\x80", 13);
    json_free(j);
}

static void test_report_json_summary(void **state)
{
    (void)state;
    static const struct lg__summary_site sites[] = {
        {0xd95a14e10b75830cull,
         "read",
         7,
         9912270,
         {0x55f513fbe446, "/work/app", 0x1446, "on_timer", 0x16}},
        {0x1, "pthread_cond_wait", 1, 0, {0x1234, NULL, 0, NULL, 0}},
        {UINT64_MAX,
         "sem_wait",
         UINT64_MAX,
         UINT64_MAX,
         {0x7fff0000, "/lib/q\"uote.so", 0x99, "fn\\x", 1}},
    };
    struct lg__record r = {.type = LG__REC_SUMMARY};
    r.ts_ns = TS_NS;
    r.pid = 12841;
    r.tid = 12842;
    strcpy(r.thread, "stall");
    r.sites = sites;
    r.nsites = 3;
    r.sites_total = 5; /* two more sites were not listed */
    r.count_total = 12;
    r.blocked_ns_total = 123456789012ull;
    r.in_grace = 7;
    r.allowed = 8;
    r.unattr_count = 3;
    r.unattr_ns = 456;
    r.not_written = UINT64_MAX;
    r.lost = 7;
    r.loops_found = 3;
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    static const char *const keys[] = {
        "type",        "ts_ns",        "pid",         "tid",
        "thread",      "count",        "blocked_ns",  "sites_total",
        "loops_found", "grace",        "allowed",     "sites_exact",
        "unattributed", "not_written", "lost",        "sites",
        "suppressed"};
    expect_keys(j, keys, 17);
    assert_int_equal(get_u64(j, "loops_found"), 3);
    assert_int_equal(json_count(json_get(j, "suppressed")), 0);
    expect_head(j, &r, "summary");
    assert_int_equal(get_u64(j, "count"), 12);
    assert_int_equal(get_u64(j, "blocked_ns"), 123456789012ull);
    assert_int_equal(get_u64(j, "sites_total"), 5);
    assert_int_equal(get_u64(j, "grace"), 7);
    assert_int_equal(get_u64(j, "allowed"), 8);
    assert_true(json_is(json_get(j, "sites_exact"), JSON_BOOL));
    assert_int_equal(json_get(j, "sites_exact")->boolean, 1);
    static const char *const ukeys[] = {"count", "blocked_ns"};
    expect_keys(json_get(j, "unattributed"), ukeys, 2);
    assert_int_equal(get_u64(json_get(j, "unattributed"), "count"), 3);
    assert_int_equal(get_u64(json_get(j, "unattributed"), "blocked_ns"), 456);
    assert_int_equal(get_u64(j, "not_written"), UINT64_MAX);
    assert_int_equal(get_u64(j, "lost"), 7);
    const struct json *a = json_get(j, "sites");
    assert_int_equal(json_count(a), 3);
    for (size_t i = 0; i < 3; i++) {
        static const char *const skeys[] = {"site", "call", "count",
                                            "blocked_ns", "where"};
        const struct json *s = json_at(a, i);
        expect_keys(s, skeys, 5);
        assert_int_equal(get_hex(s, "site"), sites[i].site);
        assert_string_equal(json_str(json_get(s, "call")), sites[i].call);
        assert_int_equal(get_u64(s, "count"), sites[i].count);
        assert_int_equal(get_u64(s, "blocked_ns"), sites[i].blocked_ns);
        expect_frame(json_get(s, "where"), &sites[i].where);
    }
    json_free(j);

    /* A site of Python code is named by its Python frame. */
    static const struct lg__summary_site py[] = {
        {0x2, "clock_nanosleep", 3, 0,
         {0, "/srv/app.py", 9, "handle", LG__SYM_PYTHON}},
    };
    r.sites = py;
    r.nsites = 1;
    j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    const struct json *w = json_get(json_at(json_get(j, "sites"), 0), "where");
    assert_true(json_is(json_get(w, "pc"), JSON_NULL));
    assert_int_equal(json_get(w, "python")->boolean, 1);
    assert_string_equal(json_str(json_get(w, "symbol")), "handle");
    assert_string_equal(json_str(json_get(w, "file")), "/srv/app.py");
    assert_int_equal(get_u64(w, "line"), 9);
    json_free(j);

    /* Into a pipe-sized record, many sites still give one valid line. */
    static struct lg__summary_site many[64];
    for (int i = 0; i < 64; i++)
        many[i] =
            (struct lg__summary_site){(uint64_t)i, "read", 1, 1, stack4[1]};
    r.sites = many;
    r.nsites = 64;
    r.sites_total = 100;
    r.sites_lower_bound = 1;
    j = format_parse(&r, 4096, LG__MAX_FRAMES, NULL);
    a = json_get(j, "sites");
    assert_true(json_count(a) > 0 && json_count(a) < 64);
    for (size_t i = 0; i < json_count(a); i++)
        assert_int_equal(get_hex(json_at(a, i), "site"), i);
    assert_int_equal(get_u64(j, "sites_total"), 100);
    /* The counts come before the list, so a list cut to fit keeps them. */
    assert_int_equal(json_get(j, "sites_exact")->boolean, 0);
    assert_int_equal(get_u64(json_get(j, "unattributed"), "count"), 3);
    assert_int_equal(get_u64(j, "not_written"), UINT64_MAX);
    assert_int_equal(get_u64(j, "lost"), 7);
    json_free(j);

    /* The rules that suppressed something, each whole; in a pipe-sized
     * record beside many sites, they keep their room. */
    static const struct lg__summary_rule rules[] = {
        {"call:nanosleep", "/etc/lg.supp", 3, 5},
        {"stall:function:a\"b*", "/tmp/q\"uote", 12, UINT64_MAX},
    };
    r.rules = rules;
    r.nrules = 2;
    for (int pass = 0; pass < 2; pass++) {
        j = format_parse(&r, pass ? 4096 : BIG_CAP, LG__MAX_FRAMES, NULL);
        assert_true(json_count(json_get(j, "sites")) > 0);
        a = json_get(j, "suppressed");
        assert_int_equal(json_count(a), 2);
        for (size_t i = 0; i < 2; i++) {
            static const char *const rkeys[] = {"rule", "file", "line",
                                                "count"};
            const struct json *u = json_at(a, i);
            expect_keys(u, rkeys, 4);
            assert_string_equal(json_str(json_get(u, "rule")),
                                rules[i].rule);
            assert_string_equal(json_str(json_get(u, "file")),
                                rules[i].file);
            assert_int_equal(get_u64(u, "line"), rules[i].line);
            assert_int_equal(get_u64(u, "count"), rules[i].count);
        }
        json_free(j);
    }
}

/* The one line that says max_reports was reached. */
static void test_report_json_cap_reached(void **state)
{
    (void)state;
    struct lg__record r = {.type = LG__REC_CAP_REACHED};
    r.ts_ns = TS_NS;
    r.pid = 12841;
    r.tid = 12842;
    strcpy(r.thread, "flood");
    r.max_reports = 1000;
    struct json *j = format_parse(&r, 4096, LG__MAX_FRAMES, NULL);
    static const char *const keys[] = {"type", "ts_ns",  "pid",
                                       "tid",  "thread", "max_reports"};
    expect_keys(j, keys, 6);
    expect_head(j, &r, "cap_reached");
    assert_int_equal(get_u64(j, "max_reports"), 1000);
    json_free(j);

}

/* A stall (begin, with a stack, then end), a 40-thread deadlock and a
 * 3-edge lock-order cycle: complete, parseable JSON at every cap, the
 * per-thread lists cut to fit and counted. */
static void test_report_json_watchdog(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    r.type = LG__REC_STALL;
    r.stalled_ns = 1234567890;
    r.call = NULL;
    r.doing = "running";
    struct json *j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    assert_string_equal(json_str(json_get(j, "type")), "stall");
    assert_string_equal(json_str(json_get(j, "phase")), "begin");
    assert_string_equal(json_str(json_get(j, "doing")), "running");
    assert_true(json_is(json_get(j, "call"), JSON_NULL));
    assert_int_equal(json_count(json_get(j, "stack")), 4);
    assert_true(json_get(j, "stalled_ms")->num > 1234.5 &&
                json_get(j, "stalled_ms")->num < 1234.6);
    json_free(j);
    r.stall_ended = 1;
    r.nstack = r.nloop_stack = 0;
    j = format_parse(&r, BIG_CAP, LG__MAX_FRAMES, NULL);
    assert_string_equal(json_str(json_get(j, "phase")), "end");
    json_free(j);

    static struct lg__thread_report th[40];
    for (int i = 0; i < 40; i++) {
        memset(&th[i], 0, sizeof th[i]);
        th[i].tid = 100 + i;
        strcpy(th[i].name, "worker");
        th[i].call = "pthread_cond_wait";
        strcpy(th[i].object, "cond 0x1234");
        th[i].stack = stack4;
        th[i].nstack = 4;
    }
    struct lg__record d = base_record();
    d.type = LG__REC_DEADLOCK;
    d.threads = th;
    d.nthreads = 32;
    d.threads_total = 40;
    for (size_t cap = 512; cap <= BIG_CAP; cap += 509) {
        j = format_parse(&d, cap, LG__MAX_FRAMES, NULL);
        assert_string_equal(json_str(json_get(j, "type")), "deadlock");
        assert_int_equal(get_u64(j, "threads_total"), 40);
        const struct json *a = json_get(j, "threads");
        assert_int_equal(json_count(a), get_u64(j, "shown"));
        for (size_t i = 0; i < json_count(a); i++)
            assert_int_equal(get_u64(json_at(a, i), "tid"), 100 + i);
        json_free(j);
    }

    for (int i = 0; i < 3; i++)
        strcpy(th[i].held, "mutex 0x99");
    struct lg__record c = base_record();
    c.type = LG__REC_LOCK_ORDER;
    c.threads = th;
    c.nthreads = c.threads_total = 3;
    j = format_parse(&c, BIG_CAP, LG__MAX_FRAMES, NULL);
    assert_string_equal(json_str(json_get(j, "type")),
                        "lock_order_inversion");
    assert_int_equal(get_u64(j, "locks"), 3);
    const struct json *a = json_get(j, "cycle");
    assert_int_equal(json_count(a), 3);
    assert_string_equal(json_str(json_get(json_at(a, 0), "held")),
                        "mutex 0x99");
    assert_string_equal(json_str(json_get(json_at(a, 0), "acquired")),
                        "cond 0x1234");
    json_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_json_full),
        cmocka_unit_test(test_report_json_python),
        cmocka_unit_test(test_report_json_no_loop),
        cmocka_unit_test(test_report_json_loop_forms),
        cmocka_unit_test(test_report_json_escapes),
        cmocka_unit_test(test_report_json_demangled),
        cmocka_unit_test(test_report_json_truncated),
        cmocka_unit_test(test_report_json_cap_sweep),
        cmocka_unit_test(test_report_json_max_frames),
        cmocka_unit_test(test_report_json_long_fields),
        cmocka_unit_test(test_report_json_utf8),
        cmocka_unit_test(test_report_json_summary),
        cmocka_unit_test(test_report_json_cap_reached),
        cmocka_unit_test(test_report_json_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
