/* `loopguard report`'s command line and output: the sites report.c
 * gathered, ranked, then the stalls, deadlocks and inversions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "report-state.h"

static void usage(FILE *f)
{
    fputs("usage: loopguard report [--exitcode=N] [--html=OUT] "
          "[--no-symbolize] [--] FILE...\n"
          "Reads loopguard's JSON-lines logs (format=json; '-' is standard"
          " input) and\nprints the blocking sites, grouped by site across"
          " processes and ranked by\ntime blocked, then stalls, deadlocks"
          " and lock-order inversions.\n\n"
          "  --exitcode=N          exit N (1-255) when anything was found\n"
          "  --html=OUT            also write the report as one page, OUT:"
          " a table of\n"
          "                        sites and a timeline of each loop "
          "thread\n"
          "  --no-symbolize        show frames as the logs wrote them (by "
          "default a\n"
          "                        frame without file:line is looked up "
          "in its module)\n"
          "  -h, --help            show this help\n\n"
          "Exit status: 0, or N when anything was found; 2 on a usage"
          " error or when\nno FILE could be read. A bad line is named on"
          " stderr and skipped.\n", f);
}

/* A site's calls and time: each process's summary where it lists the
 * site, else its records; then what was counted past PAIRS_MAX. */
static void total(struct state *st)
{
    struct pair *p, *tmp;
    HASH_ITER(hh, st->pairs, p, tmp) {
        p->site->count += p->summarised ? p->count : p->records;
        p->site->ns += p->ns;
    }
    struct site *s, *stmp;
    HASH_ITER(hh, st->sites, s, stmp) {
        s->count += s->extra_count;
        s->ns += s->extra_ns;
    }
}

/* Known time first, most first; then by calls; then as first seen. */
static int by_rank(const void *a, const void *b)
{
    const struct site *x = *(struct site *const *)a;
    const struct site *y = *(struct site *const *)b;
    if (x->timed != y->timed)
        return y->timed - x->timed;
    if (x->ns != y->ns)
        return x->ns < y->ns ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->order < y->order ? -1 : 1;
}

static void print_set(FILE *out, const char *what, const struct strset *s,
                      int quoted)
{
    fprintf(out, "  %s: ", what);
    for (int i = 0; i < s->n; i++)
        fprintf(out, quoted ? "%s\"%s\"" : "%s%s", i ? ", " : "", s->v[i]);
    fputs(s->more ? ", and more\n" : "\n", out);
}

static void print_site(FILE *out, int rank, const struct site *s)
{
    fprintf(out, "\n#%d %s: %llu call%s, ", rank, s->call,
            (unsigned long long)s->count, s->count == 1 ? "" : "s");
    if (s->timed)
        fprintf(out, "%.1f ms blocked", (double)s->ns / 1e6);
    else
        fputs("time not known (no summary)", out);
    fprintf(out, ", in %s%d process%s\n", s->procs_more ? "at least " : "",
            s->nprocs, s->nprocs == 1 ? "" : "es");
    /* As the logs write it (lg__buf_hex), so it can be searched for. */
    fprintf(out, "  site 0x%llx\n  pids: ", (unsigned long long)s->key);
    int shown = s->nprocs < SET_MAX ? s->nprocs : SET_MAX;
    for (int i = 0; i < shown; i++)
        fprintf(out, "%s%lld", i ? ", " : "", (long long)s->pids[i]);
    fputs(s->nprocs > shown || s->procs_more ? ", and more\n" : "\n", out);
    if (s->threads.n)
        print_set(out, "threads", &s->threads, 1);
    if (s->loops.n)
        print_set(out, "loops", &s->loops, 0);
    if (s->stack_where)
        fputs("  where (from a summary; no record of this site was "
              "read):\n", out);
    fputs(s->stack ? s->stack : "    (no stack)\n", out);
}

static void print_events(FILE *out, const struct events *ev)
{
    uint64_t n = ev->records;
    if (!n) {
        fprintf(out, "\n%s: none\n", ev->title);
        return;
    }
    if (ev->begins || ev->ends) {
        /* An episode is a begin and its end; a log cut before the end,
         * or one whose begin is in no file given, still counts one. */
        n = ev->begins > ev->ends ? ev->begins : ev->ends;
        fprintf(out, "\n%s: %llu (longest %.1f ms)\n", ev->title,
                (unsigned long long)n, ev->longest_ms);
    } else {
        fprintf(out, "\n%s: %llu\n", ev->title, (unsigned long long)n);
    }
    print_set(out, "threads", &ev->threads, 0);
    if (ev->head) {
        fputs(ev->head, out);
        fputs(ev->stack, out);
    }
}

/* The sites, ranked: an array the caller frees; *n its length. */
static struct site **ranked(struct state *st, unsigned long *n)
{
    struct site **v = calloc(st->nsites ? st->nsites : 1, sizeof *v), *s,
                *tmp;
    if (!v)
        exit(EXIT_USAGE);
    *n = 0;
    HASH_ITER(hh, st->sites, s, tmp)
        v[(*n)++] = s;
    qsort(v, *n, sizeof *v, by_rank);
    return v;
}

static void print_events_all(const struct state *st, FILE *out)
{
    print_events(out, &st->stalls);
    print_events(out, &st->deadlocks);
    print_events(out, &st->inversions);
}

static void print_report(struct state *st, struct site *const *v,
                         unsigned long n, FILE *out)
{
    fprintf(out, "loopguard report: %d log%s, %llu records from %s%lu "
            "process%s", st->files_read, st->files_read == 1 ? "" : "s",
            (unsigned long long)st->records, st->procs_more ? "at least " : "",
            st->nprocs, st->nprocs == 1 ? "" : "es");
    if (st->bad)
        fprintf(out, "; %llu bad line%s skipped", (unsigned long long)st->bad,
                st->bad == 1 ? "" : "s");
    fputc('\n', out);
    if (st->caps)
        fprintf(out, "%llu process%s reached max_reports: records are "
                "missing, the summaries count them\n",
                (unsigned long long)st->caps, st->caps == 1 ? "" : "es");
    fprintf(out, "\nBlocking sites: %lu, by time blocked\n", n);
    for (unsigned long i = 0; i < n; i++)
        print_site(out, (int)i + 1, v[i]);
    if (st->rest_records || st->rest_count)
        fprintf(out, "\nPast the first %d sites, not shown: %llu records,"
                " %llu calls and %.1f ms blocked in summaries\n", SITES_MAX,
                (unsigned long long)st->rest_records,
                (unsigned long long)st->rest_count,
                (double)st->rest_ns / 1e6);
    print_events_all(st, out);
}

/* The page: written to a temporary name beside OUT, then renamed, so that
 * a reader never sees half of one. 0, or -1 said on err. */
static int write_html(struct state *st, struct site *const *v,
                      unsigned long n, const char *path, FILE *err)
{
    char *events = NULL, *tmp = NULL;
    size_t elen = 0;
    FILE *ev = open_memstream(&events, &elen);
    if (!ev || asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0) {
        fputs("loopguard report: out of memory\n", err);
        exit(EXIT_USAGE);
    }
    print_events_all(st, ev);
    fclose(ev);
    lg__time_finish(st);
    FILE *f = fopen(tmp, "w");
    int rc = f ? lg__report_html(st, v, n, events[0] == '\n' ? events + 1
                                                              : events, f)
               : -1;
    int e = errno;
    if (f && fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        fprintf(err, "loopguard report: cannot write %s: %s\n", path,
                strerror(e));
        unlink(tmp);
    }
    free(tmp);
    free(events);
    return rc;
}

static void state_free(struct state *st)
{
    struct site *s, *stmp;
    struct pair *p, *ptmp;
    struct proc *q, *qtmp;
    HASH_ITER(hh, st->sites, s, stmp) {
        HASH_DEL(st->sites, s);
        lg__report_set_free(&s->threads);
        lg__report_set_free(&s->loops);
        free(s->stack);
        free(s->loop_stack);
        free(s);
    }
    HASH_ITER(hh, st->pairs, p, ptmp) {
        HASH_DEL(st->pairs, p);
        free(p);
    }
    HASH_ITER(hh, st->procs, q, qtmp) {
        HASH_DEL(st->procs, q);
        free(q);
    }
    lg__time_free(st);
    struct events *ev[] = {&st->stalls, &st->deadlocks, &st->inversions};
    for (int i = 0; i < 3; i++) {
        lg__report_set_free(&ev[i]->threads);
        free(ev[i]->head);
        free(ev[i]->stack);
    }
}

static int found_any(const struct state *st)
{
    return st->nsites || st->rest_records || st->rest_count ||
           st->stalls.records || st->deadlocks.records ||
           st->inversions.records;
}

/* "N" of --exitcode=N: 0-255, digits only; -1 otherwise. */
static int exit_value(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 255 || *s == '+' || *s == '-')
        return -1;
    return (int)v;
}

int lg__report_main(int argc, char **argv, FILE *out, FILE *err)
{
    static struct state st;
    int exitcode = 0, symbolize = 1, i;
    const char *html = NULL;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(out);
            return 0;
        }
        if (strncmp(a, "--exitcode=", 11) == 0 &&
            (exitcode = exit_value(a + 11)) >= 0)
            continue;
        if (strcmp(a, "--no-symbolize") == 0) {
            symbolize = 0;
            continue;
        }
        if (strncmp(a, "--html=", 7) == 0 && a[7]) {
            html = a + 7;
            continue;
        }
        fprintf(err, "loopguard report: %s %s\n",
                strncmp(a, "--exitcode", 10) == 0
                    ? "needs --exitcode=N, N from 0 to 255, not"
                : strncmp(a, "--html", 6) == 0
                    ? "needs a file name: --html=OUT, not"
                    : "unknown option", a);
        usage(err);
        return EXIT_USAGE;
    }
    if (i >= argc) {
        fputs("loopguard report: no FILE to read\n", err);
        usage(err);
        return EXIT_USAGE;
    }
    memset(&st, 0, sizeof st);
    st.err = err;
    st.stalls.title = "Stalls";
    st.deadlocks.title = "Deadlocks";
    st.inversions.title = "Lock-order inversions";
    lg__report_sym_setup(symbolize, err);
    for (; i < argc; i++)
        lg__report_read(&st, argv[i]);
    int status = EXIT_USAGE;
    if (st.files_read) {
        unsigned long n;
        total(&st);
        struct site **v = ranked(&st, &n);
        print_report(&st, v, n, out);
        status = found_any(&st) ? exitcode : 0;
        if (html && write_html(&st, v, n, html, err) != 0)
            status = EXIT_USAGE;
        free(v);
    } else {
        fputs("loopguard report: no log could be read\n", err);
    }
    state_free(&st);
    lg__report_sym_end();
    return status;
}
