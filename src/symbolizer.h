/* Source lines for report frames (file:line, and the functions inlined at
 * an address), read from DWARF by a helper process, loopguard-symbolizer,
 * so that libdw never runs in the host: the protocol the two speak
 * (symbolizer-proto.c, shared with the helper), the host's end of it
 * (symbolizer-client.c) and the host's bounded table of answers
 * (srcline.c). docs/internals.md, "Source lines", says why a process.
 * Private to src/, tools/loopguard-symbolizer.c, tests and fuzz/. */
#ifndef LG_SYMBOLIZER_H
#define LG_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>

#include "lg-internal.h"

/* ---------------------------------------------------------------------------
 * The protocol (symbolizer-proto.c). Lines of bytes over a socket pair.
 *
 * The helper first says who it is, once:   loopguard-symbolizer 1 LF
 * The host asks, one line per address:     ID SP HEX SP PATH LF
 *   ID decimal (< 2^32), HEX the address inside the module file PATH as
 *   lowercase hex without 0x (a return address already less one); PATH
 *   is the rest of the line.
 * The helper answers each, in order:       ID SP N LF
 * followed by N lines (N <= LG__SYMP_DEPTH): LINE TAB FUNC TAB FILE LF
 *   innermost first: the functions inlined at the address, then the one
 *   the address is in. LINE decimal (0: unknown); FUNC (the linkage name
 *   when the debug information has one) and FILE with \ TAB LF escaped as
 *   \\ \t \n; either may be empty (unknown). N = 0: nothing known.
 * ------------------------------------------------------------------------- */
#define LG__SYMP_HELLO "loopguard-symbolizer 1\n"
#define LG__SYMP_DEPTH 16         /* frames per address, at most */
#define LG__SYMP_STR_MAX 511      /* bytes of a name or path, at most */
#define LG__SYMP_TEXT_MAX (LG__SYMP_DEPTH * 2 * (LG__SYMP_STR_MAX + 1))
/* The longest frame line (escaped), and the longest whole answer: a
 * reader's buffer holds one. */
#define LG__SYMP_FRAME_MAX (14 + 4 * LG__SYMP_STR_MAX)
#define LG__SYMP_ANSWER_MAX (16 + LG__SYMP_DEPTH * LG__SYMP_FRAME_MAX)

struct lg__symp_frame {
    uint32_t line;            /* 0: unknown */
    const char *func;         /* "" when unknown */
    const char *file;         /* "" when unknown */
};

/* One answer, as parsed: its strings live in text[]. */
struct lg__symp_answer {
    uint32_t id;
    int n;                    /* frames in f[] */
    struct lg__symp_frame f[LG__SYMP_DEPTH];
    char text[LG__SYMP_TEXT_MAX];
};

/* Parses the answer at the start of buf[0..len). Returns the bytes it
 * took (> 0); 0 when buf holds only the start of one (read more); -1 when
 * it is malformed: after that the stream cannot be trusted. Never reads
 * past len; never allocates. */
LG__INTERNAL long lg__symp_parse_answer(const char *buf, size_t len,
                                        struct lg__symp_answer *a);
/* The hello at the start of buf: its length, 0 when incomplete, -1 when
 * buf starts with anything else (another program, another version). */
LG__INTERNAL long lg__symp_parse_hello(const char *buf, size_t len);

/* Appends one request line to out[0..cap) at *len. Returns 0, or -1
 * (nothing appended) when it does not fit or path holds a LF. */
LG__INTERNAL int lg__symp_put_request(char *out, size_t cap, size_t *len,
                                      uint32_t id, uint64_t addr,
                                      const char *path);
/* Splits one request line (without its LF; len bytes, NUL-terminated at
 * line[len]). Returns 0 with *path pointing into line, or -1. */
LG__INTERNAL int lg__symp_parse_request(const char *line, size_t len,
                                        uint32_t *id, uint64_t *addr,
                                        const char **path);
/* Appends one whole answer to out[0..cap) at *len: at most LG__SYMP_DEPTH
 * frames, each string cut to LG__SYMP_STR_MAX bytes, so that it always
 * parses back. Returns 0, or -1 (nothing appended) when cap is too small
 * (LG__SYMP_ANSWER_MAX always suffices). */
LG__INTERNAL int lg__symp_put_answer(char *out, size_t cap, size_t *len,
                                     uint32_t id,
                                     const struct lg__symp_frame *f, int n);

/* ---------------------------------------------------------------------------
 * The helper process (symbolizer-client.c). One per process, started on
 * the first report that has a frame to look up, never the host's child
 * (docs/internals.md). All calls take the client lock; call with in_shim
 * set, never holding the emit or log lock.
 * ------------------------------------------------------------------------- */
struct lg__srcq {
    uint64_t addr;            /* in the module's file */
    const char *path;         /* the module: a string that lives as long
                                 as the process (answers may come late) */
};

/* Called once per answer that arrives, with its query. The answer's
 * strings live only during the call. */
typedef void (*lg__srcq_cb)(const struct lg__srcq *q,
                            const struct lg__symp_answer *a);

#define LG__SYMC_BATCH 256    /* queries per batch */

/* Takes the client lock, waiting until deadline_ns at most (lg__now_ns()
 * clock): returns the batch to fill (LG__SYMC_BATCH entries), or NULL. */
LG__INTERNAL struct lg__srcq *lg__symc_begin(uint64_t deadline_ns);
/* Sends the batch's first n queries (n may be 0) and waits for their
 * answers until deadline_ns, calling cb for each, and for answers to the
 * previous batch that come late; then releases the lock. Starts the helper
 * first if none runs. Returns the number answered, or -1 when there is no
 * helper (missing, or it died: said once on stderr). */
LG__INTERNAL int lg__symc_finish(int n, uint64_t deadline_ns,
                                 lg__srcq_cb cb);
/* Registers the client lock (lg__init). */
LG__INTERNAL void lg__symc_init(void);
/* In a fork child: forgets the parent's helper (closes our end of it). */
LG__INTERNAL void lg__symc_fork_child(void);
/* On the watchdog, as it exits: the helper it started in its own table,
 * if any, goes with the table. */
LG__INTERNAL void lg__symc_watchdog_exit(void);

/* ---------------------------------------------------------------------------
 * The host's table of answers (srcline.c). lg__src_find and struct lg__src
 * are in lg-internal.h, for the formatters.
 * ------------------------------------------------------------------------- */

/* Keeps answer a for the address addr of module path (the fuzzer and unit
 * tests; the client's answers go the same way). Call under the client
 * lock, or single-threaded. */
LG__INTERNAL void lg__src_put(const char *path, uint64_t addr,
                              const struct lg__symp_answer *a);

/* Forgets every answer (the fuzzer, between inputs; single-threaded). */
LG__INTERNAL void lg__src_clear(void);

#endif /* LG_SYMBOLIZER_H */
