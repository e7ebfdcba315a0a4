/* The state of `loopguard report` while it reads (report.c) and prints
 * (report-print.c). Memory is bounded by the caps here whatever the logs
 * hold: what is past a cap is counted, not kept. */
#ifndef LG_REPORT_STATE_H
#define LG_REPORT_STATE_H

#include <stdint.h>
#include <stdio.h>
#include <uthash.h>

#define SITES_MAX 4096      /* sites kept (the preload's site table) */
#define PAIRS_MAX 65536     /* (site, process) counts kept */
#define PROCS_MAX 65536     /* processes counted */
#define SET_MAX 8           /* pids, thread names or loop kinds shown */
#define NAME_MAX_SHOWN 64   /* bytes of a thread name or call kept */
#define STACK_MAX 8192      /* bytes of a stack's text kept */
#define WARN_MAX 20         /* bad lines named per file; the rest counted */
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
    FILE *err;
};

char *lg__report_dup(const char *s);     /* strdup, or exit 2 */
void lg__report_set_free(struct strset *s);
/* Reads one log (NAME "-": stdin) into st; bad lines are named on st->err. */
void lg__report_read(struct state *st, const char *name);

#endif /* LG_REPORT_STATE_H */
