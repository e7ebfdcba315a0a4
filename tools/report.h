/* `loopguard report`: reading the JSON-lines logs of docs/reports.md
 * (report-read.c) and the summary of many of them (report.c). The launcher
 * calls lg__report_main for `loopguard report ...`; docs/launcher.md is
 * the user's page. */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "json.h"

struct lg__buf;

/* A record is at most 16 KiB (docs/reports.md); four times that leaves
 * room for a later format while bounding what one line can cost: the
 * parsed tree of a 64 KiB line is a few MiB at worst. */
#define LG__LOGREAD_MAX 65536
/* The newest format version this reader knows. Records carry none today
 * (version 1); a record with a larger "version" is refused, not guessed. */
#define LG__LOG_VERSION 1

/* One log, read a line at a time with memory for one line. */
struct lg__logread {
    FILE *f;
    char *line;              /* LG__LOGREAD_MAX + 1 bytes, NUL-ended */
    size_t len;              /* bytes in line, newline removed */
    unsigned long lineno;    /* the line just read, from 1 */
    int unended;             /* the last line of the file had no newline */
    int err;                 /* errno of a failed read, else 0 */
};

enum lg__logread_status {
    LG__LOGREAD_EOF,         /* no more lines, or a read error (err) */
    LG__LOGREAD_LINE,        /* line[0..len) holds the line */
    LG__LOGREAD_LONG,        /* longer than LG__LOGREAD_MAX: skipped */
};

/* 0, or -ENOMEM. f stays the caller's to close. */
int lg__logread_init(struct lg__logread *r, FILE *f);
enum lg__logread_status lg__logread_next(struct lg__logread *r);
void lg__logread_free(struct lg__logread *r);

enum lg__logrec_type {
    LG__LOGREC_BLOCKING,     /* blocking_call */
    LG__LOGREC_STALL,
    LG__LOGREC_DEADLOCK,
    LG__LOGREC_LOCK_ORDER,   /* lock_order_inversion */
    LG__LOGREC_CAP_REACHED,
    LG__LOGREC_SUMMARY,
    LG__LOGREC_BLOCKING_END, /* blocking_end */
};

/* A line that is one record: the fields every record has, checked, and the
 * tree for the rest. Fields a type's report needs are checked too:
 * blocking_call's site (a hex string), call and stack; stall's phase;
 * deadlock's threads; lock_order_inversion's cycle; summary's sites;
 * blocking_end's site and blocked_ms. */
struct lg__logrec {
    enum lg__logrec_type type;
    struct json *root;       /* the whole record: json_free(root) */
    int64_t pid, tid;
    uint64_t ts_ns;          /* 0 when the record has none */
    const char *thread;      /* in root */
};

/* Returns 0 with *rec filled, or -1 with why[] saying what is wrong in one
 * line: "truncated record", "not JSON (...)", "unknown record type
 * 'x'", "format version 2 is newer than this loopguard reads (1)", "no
 * field 'site'" or "bad field 'site'". */
int lg__logrec_parse(const char *line, size_t len, struct lg__logrec *rec,
                     char *why, size_t whycap);

/* Appends a stack (an array of frames) as the text report prints it: a
 * line "    #N PC in SYMBOL[ FILE:LINE] (MODULE+OFFSET)[ (inlined)]" per
 * frame, control bytes shown as '?'. A frame the log gives without a
 * "file" is looked up (lg__report_sym_lookup; ts_ns is when its record
 * was written, 0 if unknown): a line per function inlined there, then its
 * own. Frames that do not fit in b are left out and counted on a last
 * line, which always fits when b has 64 bytes free; an empty or missing
 * stack is one line "    (no stack)". */
void lg__logrec_stack(struct lg__buf *b, const struct json *stack,
                      uint64_t ts_ns);

/* Source lines for frames of logs written without them (report-sym.c). */
struct lg__symp_frame;
/* on: look lines up (else lookups find nothing); err: where to warn. */
void lg__report_sym_setup(int on, FILE *err);
/* The functions at addr (in the module file path), innermost first, as
 * loopguard-symbolizer finds them: their count, 0 when nothing is known,
 * the module changed after ts_ns, or the helper cannot run (said once).
 * *frames stays valid until lg__report_sym_release(*release) and
 * lg__report_sym_end. */
int lg__report_sym_lookup(const char *path, uint64_t addr, uint64_t ts_ns,
                          const struct lg__symp_frame **frames,
                          void **release);
void lg__report_sym_release(void *release);
/* Stops the helper, frees what was kept. */
void lg__report_sym_end(void);

/* `loopguard report [--exitcode=N] FILE...`, argv[0] being "report": the
 * sites and events of the logs on out, warnings on err. Returns the exit
 * status: 0, N when anything was found, 2 on a usage error or when no
 * FILE could be read. */
int lg__report_main(int argc, char **argv, FILE *out, FILE *err);

#endif /* LG_REPORT_H */
