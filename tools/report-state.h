/* The state of `loopguard report` while it reads (report.c) and prints
 * (report-print.c). Memory is bounded by the caps here whatever the logs
 * hold: what is past a cap is counted, not kept. */
#ifndef LG_REPORT_STATE_H
#define LG_REPORT_STATE_H

#include <stdint.h>
#include <stdio.h>
#include <uthash.h>

#include "report.h"

#define SITES_MAX 4096      /* sites kept (the preload's site table) */
#define PAIRS_MAX 65536     /* (site, process) counts kept */
#define PROCS_MAX 65536     /* processes counted */
#define SET_MAX 8           /* pids, thread names or loop kinds shown */
#define NAME_MAX_SHOWN 64   /* bytes of a thread name or call kept */
#define STACK_MAX 8192      /* bytes of a stack's text kept */
#define WARN_MAX 20         /* bad lines named per file; the rest counted */
#define SPANS_MAX 100000    /* timeline spans kept; the rest counted */
#define LANES_MAX 1024      /* loop threads given a timeline */
#define EXIT_USAGE 2

/* A few distinct short strings, the rest only known to exist. */
struct strset {
    char *v[SET_MAX];
    int n, more;
};

struct site {
    uint64_t key;                /* the site hash */
    char call[NAME_MAX_SHOWN];
    char *stack;                 /* text; NULL until known */
    char *loop_stack;            /* text of where its loop was entered */
    int stack_where;             /* stack is a summary's one frame */
    unsigned long order;         /* first seen, to break ties */
    int nprocs, procs_more;      /* (site, pid) pairs; some past PAIRS_MAX */
    int64_t pids[SET_MAX];       /* the first pids, for the reader */
    struct strset threads, loops;
    uint64_t extra_count, extra_ns;  /* from records past PAIRS_MAX */
    uint64_t count, ns;          /* totals, once every file is read */
    int timed;                   /* some summary gave its time */
    UT_hash_handle hh;
};

/* A site's calls in one process: the summary's count when the summary
 * lists the site (it counts calls dedupe did not report), else the number
 * of its records (a process killed before its summary). */
struct pair {
    struct pair_key {
        uint64_t site;
        int64_t pid;
    } key;
    struct site *site;
    uint64_t records, count, ns;
    int summarised;
    UT_hash_handle hh;
};

struct proc {
    int64_t pid;
    uint64_t last_ns;            /* its latest record's time */
    UT_hash_handle hh;
};

/* A time a loop thread was blocked in a reported call or stalled, on the
 * wall clock of the records. */
enum span_kind { SPAN_CALL, SPAN_STALL };
struct span {
    uint64_t start_ns, end_ns;
    enum span_kind kind;
    int open;                    /* no end was read: it lasts until its
                                    process's last record */
    uint64_t site;               /* SPAN_CALL */
    char what[32];               /* the call, or what the stall was doing */
};

/* A loop thread's spans, in the order read. */
struct lane {
    struct lane_key {
        int64_t pid, tid;
    } key;
    char name[NAME_MAX_SHOWN], loop[NAME_MAX_SHOWN];
    struct span *spans;
    size_t n, cap;
    long open_call, open_stall;  /* index of an open span, or -1 */
    unsigned long order;
    UT_hash_handle hh;
};

/* Stalls, deadlocks or inversions: how many, by whom, the first's stack. */
struct events {
    const char *title;
    uint64_t records, begins, ends;  /* begins and ends: stalls only */
    double longest_ms;               /* stalls only */
    struct strset threads;
    char *head;                      /* the first's line, then its stack */
    char *stack;
    int stack_empty;
};

struct state {
    struct site *sites;
    unsigned long nsites;
    uint64_t rest_records, rest_count, rest_ns;  /* sites past SITES_MAX */
    struct pair *pairs;
    unsigned long npairs;
    struct proc *procs;
    unsigned long nprocs, procs_more;
    uint64_t records, bad, caps;
    int files_read;
    struct events stalls, deadlocks, inversions;
    struct lane *lanes;
    unsigned long nlanes, lanes_more;
    uint64_t nspans, spans_more;
    uint64_t t_min, t_max;       /* the records' times; t_min 0: none */
    FILE *err;
};

char *lg__report_dup(const char *s);     /* strdup, or exit 2 */
/* s as a short printable name in out[cap] ("thread" and the like): control
 * bytes as '?', cut to fit, NUL-ended. */
void lg__report_shown(char *out, size_t cap, const char *s);
void lg__report_set_free(struct strset *s);
/* Reads one log (NAME "-": stdin) into st; bad lines are named on st->err. */
void lg__report_read(struct state *st, const char *name);
/* The stacks' text: the frames as `loopguard report` prints them. */
char *lg__report_stack_text(const struct json *stack, uint64_t ts_ns);

/* The timeline (report-time.c): records of loop threads into spans. */
void lg__time_record(struct state *st, const struct lg__logrec *r);
/* Ends the spans still open at their process's last record. */
void lg__time_finish(struct state *st);
void lg__time_free(struct state *st);

/* The page of --html (report-html.c); text is the text report's events
 * sections. Returns 0, or -1 with errno. */
int lg__report_html(const struct state *st, struct site *const *ranked,
                    unsigned long n, const char *events_text, FILE *out);

#endif /* LG_REPORT_STATE_H */
