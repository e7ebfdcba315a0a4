/* lg__format_text (src/format-text.c): the sanitizer-style text form of
 * docs/reports.md, line by line, for records built by hand; truncation
 * keeps whole lines, the hint, and says how many frames it left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg-internal.h"

#define BIG_CAP LG__RECORD_MAX
#define MAX_LINES 256

static char buf[LG__RECORD_MAX + 1];
static char copy[LG__RECORD_MAX + 1];
static char *line[MAX_LINES];
static int nlines;

static const char hint1[] = "  A receive here stalls every callback on this "
                            "loop. Hand the work to a thread, or receive with";
static const char hint2[] = "  lg_chan_recv_start() (docs/migration.md).";

static const struct lg__sym stack4[] = {
    {0x7f3a1c2d4e10, "/lib/x86_64-linux-gnu/libc.so.6", 0xf82a0,
     "pthread_cond_wait", 0x40},
    {0x5581e1a0b2f4, "/usr/local/bin/app", 0x12f4, "queue_pop", 0x14},
    {0x7f3a1c5e9a11, "/lib/x86_64-linux-gnu/libuv.so.1", 0xbcbe, NULL, 0},
    {0x3000, "/bin/r", 0x30, "_ZN4core3fmt5write17h0123456789abcdefE", 0},
};
static const char *const stack4_lines[] = {
    "    #0 0x7f3a1c2d4e10 in pthread_cond_wait "
    "(/lib/x86_64-linux-gnu/libc.so.6+0xf82a0)",
    "    #1 0x5581e1a0b2f4 in queue_pop (/usr/local/bin/app+0x12f4)",
    "    #2 0x7f3a1c5e9a11 in ?? (/lib/x86_64-linux-gnu/libuv.so.1+0xbcbe)",
    "    #3 0x3000 in core::fmt::write (/bin/r+0x30)",
};

static const struct lg__sym loop2[] = {
    {0x7fdab2175920, "/lib/x86_64-linux-gnu/libuv.so.1", 0xf920, "uv_run", 0},
    {0x55f513fbe1f0, "/usr/local/bin/app", 0x11f0, "main", 0x30},
};
static const char *const loop2_lines[] = {
    "    #0 0x7fdab2175920 in uv_run "
    "(/lib/x86_64-linux-gnu/libuv.so.1+0xf920)",
    "    #1 0x55f513fbe1f0 in main (/usr/local/bin/app+0x11f0)",
};

static struct lg__record base_record(void)
{
    struct lg__record r = {.type = LG__REC_BLOCKING_CALL};
    r.ts_ns = 1795688559214584801ull;
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

/* Formats r and splits it into lines; the record is within cap, ends with
 * a newline, and has no NUL before its end. */
static void format_lines(const struct lg__record *r, size_t cap, int max_frames)
{
    memset(buf, 0x55, sizeof buf);
    size_t n = lg__format_text(buf, cap, r, max_frames);
    assert_true(n > 0 && n < cap);
    assert_int_equal(strlen(buf), n);
    assert_int_equal(buf[n - 1], '\n');
    memcpy(copy, buf, n + 1);
    nlines = 0;
    for (char *p = copy; *p; nlines++) {
        assert_true(nlines < MAX_LINES);
        char *nl = strchr(p, '\n');
        *nl = '\0';
        line[nlines] = p;
        p = nl + 1;
    }
}

static int find_line(const char *want)
{
    for (int i = 0; i < nlines; i++)
        if (strcmp(line[i], want) == 0)
            return i;
    return -1;
}

static void expect_hint_last(void)
{
    assert_true(nlines >= 2);
    assert_string_equal(line[nlines - 2], hint1);
    assert_string_equal(line[nlines - 1], hint2);
}

static void test_report_text_full(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 2 + 4 + 1 + 2 + 2);
    assert_string_equal(line[0], "==4242==loopguard: blocking receive "
                                 "pthread_cond_wait on event-loop thread 4243 "
                                 "\"loop-main\" (libuv loop 0x5581e2c0)");
    assert_string_equal(line[1], "  waits on cond 0x7f00deadbeef, "
                                 "no timeout");
    for (int i = 0; i < 4; i++)
        assert_string_equal(line[2 + i], stack4_lines[i]);
    assert_string_equal(line[6], "  the thread entered the loop here "
                                 "(via entry):");
    for (int i = 0; i < 2; i++)
        assert_string_equal(line[7 + i], loop2_lines[i]);
    expect_hint_last();
    assert_null(strstr(buf, "more frames not shown"));
}

static void test_report_text_variants(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    r.timeout_ns = 50500000;
    r.call = "read";
    r.object = "fd 9 (pipe)";
    r.loop_kind = LG__LOOP_MANUAL;
    r.loop_via = LG__VIA_API;
    static const struct lg__sym anon[] = {{0xabc, NULL, 0x12, NULL, 0}};
    r.stack = anon;
    r.nstack = 1;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_string_equal(line[0],
                        "==4242==loopguard: blocking receive read on "
                        "event-loop thread 4243 \"loop-main\" (manual loop "
                        "0x5581e2c0)");
    assert_string_equal(line[1], "  waits on fd 9 (pipe), timeout 50.5 ms");
    /* A frame nothing is known about still has the frame shape. */
    assert_true(strncmp(line[2], "    #0 0xabc in ?? (", 20) == 0);
    assert_true(strstr(line[2], "+0x12)") != NULL);
    assert_string_equal(line[3], "  the thread entered the loop here "
                                 "(via api):");
    expect_hint_last();

    /* Timeouts are milliseconds with one decimal, truncated. */
    static const struct {
        int64_t ns;
        const char *text;
    } tmo[] = {{0, "timeout 0.0 ms"},
               {99999, "timeout 0.0 ms"},
               {100000, "timeout 0.1 ms"},
               {1999999, "timeout 1.9 ms"},
               {3600000000000ll, "timeout 3600000.0 ms"}};
    for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
        r.timeout_ns = tmo[i].ns;
        format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
        char want[96];
        snprintf(want, sizeof want, "  waits on fd 9 (pipe), %s", tmo[i].text);
        assert_string_equal(line[1], want);
    }

    /* No recorded loop and no loop stack; a loop without an id. */
    r.has_loop = 0;
    r.loop_stack = NULL;
    r.nloop_stack = 0;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_non_null(strstr(line[0], " \"loop-main\" (loop not recorded)"));
    assert_null(strstr(buf, "entered the loop"));
    assert_int_equal(nlines, 2 + 1 + 2);
    r.has_loop = 1;
    r.loop_id = NULL;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_non_null(strstr(line[0], " (manual loop (no id))"));
}

static struct lg__sym *long_frames(size_t namelen)
{
    struct lg__sym *f = calloc(LG__MAX_FRAMES, sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < LG__MAX_FRAMES; i++) {
        char *name = malloc(namelen + 1);
        assert_non_null(name);
        memset(name, 'a' + i % 26, namelen);
        name[namelen] = '\0';
        f[i] = (struct lg__sym){0x400000 + 16 * (uintptr_t)i,
                                "/usr/lib/libdeep.so", 0x1000 + (uintptr_t)i,
                                name, 0};
    }
    return f;
}

static void free_frames(struct lg__sym *f)
{
    for (int i = 0; i < LG__MAX_FRAMES; i++)
        free((char *)f[i].name);
    free(f);
}

/* Frame lines from `first` on are "    #0", "    #1", ... for frames
 * f[0..); returns how many there were. */
static int count_frames(int first, const struct lg__sym *f)
{
    int k = 0;
    for (int i = first; i < nlines && strncmp(line[i], "    #", 5) == 0;
         i++, k++) {
        char want[64];
        snprintf(want, sizeof want, "    #%d 0x%lx in ", k,
                 (unsigned long)f[k].pc);
        assert_true(strncmp(line[i], want, strlen(want)) == 0);
        snprintf(want, sizeof want, " (/usr/lib/libdeep.so+0x%lx)",
                 (unsigned long)f[k].modoff);
        size_t l = strlen(line[i]), w = strlen(want);
        assert_true(l > w && strcmp(line[i] + l - w, want) == 0);
    }
    return k;
}

/* A self-wait on an object without a name (the core always names one;
 * fuzz/fuzz-report.c found the formatter read NULL here) says so in both
 * lines instead of crashing the host. */
static void test_report_text_self_wait_unnamed(void **state)
{
    (void)state;
    struct lg__record r = base_record();
    r.self_wait = 1;
    const char *objects[] = {NULL, ""};
    for (int i = 0; i < 2; i++) {
        r.object = objects[i];
        format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
        assert_string_equal(line[1], "  waits on (nothing named), no timeout");
        assert_string_equal(line[2], "  only this loop thread has ever "
                                     "signalled (nothing named), and no "
                                     "other thread has touched it:");
    }
}

/* Python frames (report.c puts them in): a line each, numbered with the
 * native ones; the way out is asyncio's. A CPython whose frames are not
 * read says so in one line, and keeps the C advice. */
static void test_report_text_python(void **state)
{
    (void)state;
    const struct lg__sym st[] = {
        stack4[0],
        {.name = "Queue.get", .module = "/usr/lib/python3.11/queue.py",
         .modoff = 180, .symoff = LG__SYM_PYTHON},
        {.name = "handler\n", .module = "/srv/app.py",
         .symoff = LG__SYM_PYTHON},
        stack4[1],
    };
    struct lg__record r = base_record();
    r.stack = st;
    r.nstack = 4;
    r.py_frames = 2;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_string_equal(line[2], stack4_lines[0]);
    assert_string_equal(line[3], "    #1 in Queue.get "
                                 "/usr/lib/python3.11/queue.py:180 (Python)");
    assert_string_equal(line[4], "    #2 in handler? /srv/app.py (Python)");
    assert_string_equal(line[5], "    #3 0x5581e1a0b2f4 in queue_pop "
                                 "(/usr/local/bin/app+0x12f4)");
    assert_non_null(strstr(buf, "await asyncio.to_thread(...)"));
    assert_non_null(strstr(buf, "loop.run_in_executor(...)"));
    assert_null(strstr(buf, "lg_chan_recv_start"));

    r = base_record();
    r.py_frames = -1;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_true(find_line("  (no Python frames: loopguard reads those of "
                          "CPython 3.11 to 3.13, this is an older one)") >
                0);
    expect_hint_last();
}

static void test_report_text_truncated(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(400);
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = LG__MAX_FRAMES;
    r.loop_stack = f;
    r.nloop_stack = LG__MAX_FRAMES;
    static const size_t caps[] = {4096, 16384};
    for (size_t c = 0; c < 2; c++) {
        format_lines(&r, caps[c], LG__MAX_FRAMES);
        assert_true(strlen(buf) < caps[c]);
        int shown = count_frames(2, f);
        assert_true(shown > 0 && shown < LG__MAX_FRAMES);
        int at = find_line("  the thread entered the loop here (via entry):");
        if (at >= 0)
            shown += count_frames(at + 1, f);
        char want[64];
        snprintf(want, sizeof want, "    ... %d more frames not shown",
                 2 * LG__MAX_FRAMES - shown);
        assert_string_equal(line[nlines - 3], want);
        expect_hint_last();
    }
    free_frames(f);
}

/* Deadlock and lock-order records whose stacks do not fit: each thread or
 * edge that fits is listed, the rest counted, and the closing paragraph is
 * always there, last (fuzz/fuzz-report.c found it cut off by the last
 * edge's frames, the record's final line unterminated). */
static void test_report_text_threads_truncated(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(400);
    struct lg__thread_report th[5];
    memset(th, 0, sizeof th);
    for (int i = 0; i < 5; i++) {
        th[i].tid = 100 + i;
        snprintf(th[i].name, sizeof th[i].name, "worker-%d", i);
        th[i].call = "pthread_mutex_lock";
        snprintf(th[i].object, sizeof th[i].object, "mutex 0x7f00000%d", i);
        th[i].stack = f;
        th[i].nstack = LG__MAX_FRAMES;
    }
    static const int types[] = {LG__REC_DEADLOCK, LG__REC_LOCK_ORDER};
    static const char *const last[] = {
        "  Nothing left in this process can end these waits: the program "
        "hangs here.",
        "  Take them in one order everywhere, or trylock and back off."};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 5; i++)
            snprintf(th[i].held, sizeof th[i].held, "%s",
                     k ? th[(i + 1) % 5].object : "");
        struct lg__record r = {.type = types[k], .pid = 4242, .tid = 100};
        r.threads = th;
        r.nthreads = 5;
        r.threads_total = 7;    /* two more than listed */
        for (size_t cap = 1024; cap <= BIG_CAP; cap += 509) {
            format_lines(&r, cap, LG__MAX_FRAMES);
            assert_string_equal(line[nlines - 1], last[k]);
            int listed = 0;
            for (int i = 0; i < nlines; i++)
                listed += strncmp(line[i], "  thread ", 9) == 0;
            assert_true(listed >= 1 && listed <= 5);
            char want[64];
            snprintf(want, sizeof want, "  ... %d more %s not shown",
                     7 - listed, k ? "edges" : "threads");
            assert_string_equal(line[nlines - 2 - k], want);
        }
    }
    free_frames(f);
}

static void test_report_text_cap_sweep(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(37);
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = LG__MAX_FRAMES;
    r.loop_stack = f;
    r.nloop_stack = 20;
    for (size_t cap = 1024; cap <= BIG_CAP; cap += 61) {
        format_lines(&r, cap, LG__MAX_FRAMES);
        int shown = count_frames(2, f);
        int at = find_line("  the thread entered the loop here (via entry):");
        if (at >= 0)
            shown += count_frames(at + 1, f);
        if (shown < LG__MAX_FRAMES + 20) {
            char want[64];
            snprintf(want, sizeof want, "    ... %d more frames not shown",
                     LG__MAX_FRAMES + 20 - shown);
            assert_string_equal(line[nlines - 3], want);
        }
        expect_hint_last();
    }
    free_frames(f);
}

static void test_report_text_max_frames(void **state)
{
    (void)state;
    struct lg__sym *f = long_frames(10);
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = 10;
    r.loop_stack = f;
    r.nloop_stack = 2;
    format_lines(&r, BIG_CAP, 3);
    assert_int_equal(count_frames(2, f), 3);
    int at = find_line("  the thread entered the loop here (via entry):");
    assert_int_equal(at, 5);
    assert_int_equal(count_frames(at + 1, f), 2);
    free_frames(f);
}

/* A frame line is whole or left out, even for a path near PATH_MAX. */
static void test_report_text_long_fields(void **state)
{
    (void)state;
    static char module[2001];
    module[0] = '/';
    memset(module + 1, 'm', sizeof module - 2);
    const struct lg__sym f[] = {
        {0x1000, module, 0x10, "read", 0},
        {0x2000, "/lib/libc.so.6", 0x20, "main", 0},
    };
    struct lg__record r = base_record();
    r.stack = f;
    r.nstack = 2;
    r.nloop_stack = 0;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    int frames = 0;
    for (int i = 0; i < nlines; i++) {
        if (strncmp(line[i], "    #", 5) != 0)
            continue;
        /* A cut line runs into the next frame's. */
        if (strstr(line[i] + 5, "    #"))
            fail_msg("two frames on one line: %.60s ... %s", line[i],
                     strstr(line[i] + 5, "    #"));
        assert_true(line[i][strlen(line[i]) - 1] == ')');
        frames++;
    }
    int dropped = strstr(buf, "    ... 1 more frames not shown\n") ? 1 : 0;
    assert_int_equal(frames + dropped, 2);
}

/* A summary line is whole or counted among the sites not shown. */
static void test_report_text_long_summary(void **state)
{
    (void)state;
    static char module[2001];
    module[0] = '/';
    memset(module + 1, 'm', sizeof module - 2);
    struct lg__summary_site site = {
        0x42, "read", 1, 1000000, {0x1000, module, 0x10, "read", 0}};
    struct lg__record r = {.type = LG__REC_SUMMARY};
    r.pid = 1;
    r.loops_found = 1;
    r.sites = &site;
    r.nsites = 1;
    r.sites_total = 1;
    r.count_total = 1;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 2);
    static const char tail[] = "), 1.0 ms blocked, site 0x42";
    size_t l = strlen(line[1]);
    if (strncmp(line[1], "    1 x read in read (/mmm", 26) == 0)
        assert_true(l > sizeof tail &&
                    strcmp(line[1] + l - (sizeof tail - 1), tail) == 0);
    else
        assert_string_equal(line[1], "    ... 1 more sites");
}

static void test_report_text_summary(void **state)
{
    (void)state;
    static const struct lg__summary_site sites[] = {
        {0xd95a14e10b75830cull,
         "read",
         7,
         9912270,
         {0x55f513fbe446, "/work/app", 0x1446, "on_timer", 0x16}},
        {0x1, "pthread_cond_wait", 1, 0, {0x1234, NULL, 0, NULL, 0}},
        /* Made from Python code: the site's Python frame. */
        {0x2, "clock_nanosleep", 3, 0,
         {0, "/srv/app.py", 9, "handle", LG__SYM_PYTHON}},
    };
    struct lg__record r = {.type = LG__REC_SUMMARY};
    r.pid = 12841;
    r.tid = 12841;
    r.loops_found = 1;
    strcpy(r.thread, "stall");
    r.sites = sites;
    r.nsites = 3;
    r.sites_total = 5;
    r.count_total = 12;
    r.blocked_ns_total = 123456789012ull;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 5);
    assert_string_equal(line[0], "==12841==loopguard: summary: 12 blocking "
                                 "calls at 5 sites on event-loop threads, "
                                 "123456.7 ms blocked");
    assert_string_equal(line[1], "    7 x read in on_timer (/work/app+0x1446)"
                                 ", 9.9 ms blocked, site "
                                 "0xd95a14e10b75830c");
    assert_string_equal(line[2], "    1 x pthread_cond_wait in ?? (?+0x0), "
                                 "0.0 ms blocked, site 0x1");
    assert_string_equal(line[3], "    3 x clock_nanosleep in handle "
                                 "/srv/app.py:9 (Python), 0.0 ms blocked, "
                                 "site 0x2");
    assert_string_equal(line[4], "    ... 2 more sites");

    /* One site: singular, and nothing left to list. */
    r.nsites = 1;
    r.sites_total = 1;
    r.count_total = 7;
    r.blocked_ns_total = 9912270;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 2);
    assert_string_equal(line[0], "==12841==loopguard: summary: 7 blocking "
                                 "calls at 1 site on event-loop threads, "
                                 "9.9 ms blocked");
    r.count_total = 1;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_string_equal(line[0], "==12841==loopguard: summary: 1 blocking "
                                 "call at 1 site on event-loop threads, "
                                 "9.9 ms blocked");

    /* Calls counted but not reported: one line after the first. */
    r.in_grace = 3;
    r.allowed = 2;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 3);
    assert_string_equal(line[1], "  not reported: 3 in a loop's grace "
                                 "period (grace_ms), 2 inside "
                                 "lg_allow_blocking_begin/end");
    r.in_grace = r.allowed = 0;

    /* Many sites into a pipe-sized record: whole lines, and the rest
     * counted. */
    static struct lg__summary_site many[64];
    for (int i = 0; i < 64; i++)
        many[i] =
            (struct lg__summary_site){(uint64_t)i, "read", 1, 1, stack4[1]};
    r.sites = many;
    r.nsites = 64;
    r.sites_total = 100;
    format_lines(&r, 2048, LG__MAX_FRAMES);
    int listed = nlines - 2;
    assert_true(listed > 0 && listed < 64);
    for (int i = 0; i < listed; i++)
        assert_true(strncmp(line[1 + i], "    1 x read in queue_pop (", 27) ==
                    0);
    char want[48];
    snprintf(want, sizeof want, "    ... %d more sites", 100 - listed);
    assert_string_equal(line[nlines - 1], want);

    /* What the sites do not hold comes before them, so a list cut to fit
     * keeps it; each line only when it has something to say. */
    r.sites_lower_bound = 1;
    r.unattr_count = 95904;
    r.unattr_ns = 2500000;
    r.not_written = 99000;
    r.lost = 1;
    format_lines(&r, 2048, LG__MAX_FRAMES);
    assert_string_equal(line[0], "==12841==loopguard: summary: 1 blocking "
                                 "call at at least 100 sites on event-loop "
                                 "threads, 9.9 ms blocked");
    assert_string_equal(line[1], "  95904 calls, 2.5 ms blocked, at sites "
                                 "past the site table: in no site below");
    assert_string_equal(line[2], "  99000 records not written: max_reports "
                                 "reached");
    assert_string_equal(line[3], "  1 record lost: neither the log nor "
                                 "stderr could be written");
    assert_true(strncmp(line[4], "    1 x read in queue_pop (", 27) == 0);
    r.sites_lower_bound = 0;
    r.unattr_count = 1;
    r.not_written = 1;
    r.lost = 0;
    r.nsites = 0;
    r.sites_total = 0;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 3);
    assert_string_equal(line[1], "  1 call, 2.5 ms blocked, at sites past "
                                 "the site table: in no site below");
    assert_string_equal(line[2], "  1 record not written: max_reports "
                                 "reached");

    /* Back to the list of 64 for the rules. */
    r.unattr_count = r.unattr_ns = r.not_written = r.lost = 0;
    r.nsites = 64;
    r.sites_total = 100;
    r.count_total = 1;
    r.blocked_ns_total = 9912270;
    /* The rules that suppressed something, a line each after the sites,
     * which leave them their room. */
    static const struct lg__summary_rule rules[] = {
        {"call:nanosleep", "/etc/lg.supp", 3, 5},
        {"stall:function:on_*", "/tmp/b\nd", 12, 1},
    };
    r.rules = rules;
    r.nrules = 2;
    format_lines(&r, 2048, LG__MAX_FRAMES);
    assert_true(nlines > 4);
    assert_true(strncmp(line[1], "    1 x read in queue_pop (", 27) == 0);
    assert_true(strncmp(line[nlines - 3], "    ... ", 8) == 0);
    assert_string_equal(line[nlines - 2], "    5 x suppressed by "
                                          "call:nanosleep (/etc/lg.supp:3)");
    assert_string_equal(line[nlines - 1], "    1 x suppressed by "
                                          "stall:function:on_* (/tmp/b?d:12)");
    /* Nothing reported, something suppressed. */
    r.nsites = r.sites_total = 0;
    r.count_total = r.blocked_ns_total = 0;
    r.nrules = 1;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 2);
    assert_string_equal(line[0], "==12841==loopguard: summary: 0 blocking "
                                 "calls at 0 sites on event-loop threads, "
                                 "0.0 ms blocked");
    assert_string_equal(line[1], "    5 x suppressed by "
                                 "call:nanosleep (/etc/lg.supp:3)");
    /* No loop found: one line says so, then what else was counted. */
    r.loops_found = 0;
    format_lines(&r, BIG_CAP, LG__MAX_FRAMES);
    assert_int_equal(nlines, 2);
    assert_string_equal(line[0], "==12841==loopguard: summary: no event loop "
                                 "was found in this process: no call was "
                                 "checked (docs/guide.md, \"Loops that are "
                                 "not found\")");
    assert_string_equal(line[1], "    5 x suppressed by "
                                 "call:nanosleep (/etc/lg.supp:3)");
}

static void test_report_text_cap_reached(void **state)
{
    (void)state;
    struct lg__record r = {.type = LG__REC_CAP_REACHED};
    r.pid = 12841;
    r.tid = 12841;
    r.max_reports = 1000;
    format_lines(&r, 4096, LG__MAX_FRAMES);
    assert_int_equal(nlines, 1);
    assert_string_equal(line[0], "==12841==loopguard: max_reports=1000 "
                                 "reached: no more records are written but "
                                 "deadlocks; "
                                 "the exit summary counts them");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_text_full),
        cmocka_unit_test(test_report_text_variants),
        cmocka_unit_test(test_report_text_self_wait_unnamed),
        cmocka_unit_test(test_report_text_python),
        cmocka_unit_test(test_report_text_truncated),
        cmocka_unit_test(test_report_text_threads_truncated),
        cmocka_unit_test(test_report_text_cap_sweep),
        cmocka_unit_test(test_report_text_max_frames),
        cmocka_unit_test(test_report_text_long_fields),
        cmocka_unit_test(test_report_text_long_summary),
        cmocka_unit_test(test_report_text_summary),
        cmocka_unit_test(test_report_text_cap_reached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
