/* `loopguard report --html OUT`: one self-contained page (no network, no
 * other file): the sites in a table that sorts on a click of its headings,
 * each row opening to its stacks; a timeline per loop thread, inline SVG;
 * then the stalls, deadlocks and inversions as the text report gives them.
 * Everything from the logs is escaped: a thread name is the program's to
 * choose, and a page must not run what a log holds. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report-state.h"

#define PLOT_W 900.0          /* the timeline's drawing width, px */
#define LABEL_W 260.0         /* its thread labels' width, px */
#define LANE_H 22.0
#define AXIS_H 28.0

static void esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;"
    "vertical-align:top}"
    "th{background:#f3f3f3;cursor:pointer;user-select:none;white-space:nowrap}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.site{cursor:pointer}tr.site:hover{background:#f7f7ff}"
    "tr.site td:first-child::before{content:'\\25B8 ';color:#888}"
    "tbody.open tr.site td:first-child::before{content:'\\25BE '}"
    "pre{background:#fafafa;border:1px solid #eee;padding:6px;margin:4px 0;"
    "overflow-x:auto;font-size:12px}"
    "h4{margin:6px 0 0;font-size:.95em}"
    ".call{fill:#c9302c}.stall{fill:#f0ad4e;fill-opacity:.55}"
    ".open{stroke:#000;stroke-dasharray:3 2}"
    ".lane{fill:#f7f7f7}.axis{stroke:#999}.tick{font-size:11px;fill:#555}"
    ".label{font-size:12px;fill:#222}.note{color:#666}"
    ".key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle}";

/* Sorting and opening rows. Each site is one tbody (its row and its stacks'
 * row), so a sort moves the pair together. */
static const char SCRIPT[] =
    "(function(){\n"
    "var table=document.getElementById('sites');\n"
    "if(!table)return;\n"
    "table.addEventListener('click',function(e){\n"
    "  var th=e.target.closest('th');\n"
    "  if(th){sortBy(th);return;}\n"
    "  var row=e.target.closest('tr.site');\n"
    "  if(!row)return;\n"
    "  var body=row.parentNode,more=row.nextElementSibling;\n"
    "  more.hidden=!more.hidden;\n"
    "  body.classList.toggle('open',!more.hidden);\n"
    "  row.setAttribute('aria-expanded',String(!more.hidden));\n"
    "});\n"
    "function sortBy(th){\n"
    "  var key=th.dataset.key,num=th.dataset.type==='num';\n"
    "  var dir=th.getAttribute('aria-sort')==='descending'?1:-1;\n"
    "  if(!th.hasAttribute('aria-sort')&&!num)dir=1;\n"
    "  table.querySelectorAll('th').forEach(function(h){"
    "h.removeAttribute('aria-sort');});\n"
    "  th.setAttribute('aria-sort',dir>0?'ascending':'descending');\n"
    "  var bodies=Array.prototype.slice.call(table.tBodies);\n"
    "  bodies.sort(function(a,b){\n"
    "    var x=a.dataset[key],y=b.dataset[key];\n"
    "    if(num){x=parseFloat(x);y=parseFloat(y);}\n"
    "    return x<y?-dir:x>y?dir:0;\n"
    "  });\n"
    "  bodies.forEach(function(b){table.appendChild(b);});\n"
    "}\n"
    "})();\n";

static void head(FILE *out, const struct state *st)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "\n<meta name=\"viewport\" content=\"width=device-width\">\n"
          "<title>loopguard report</title>\n<style>", out);
    fputs(STYLE, out);
    fputs("</style></head>\n<body>\n<h1>loopguard report</h1>\n<p>", out);
    fprintf(out, "%d log%s, %" PRIu64 " records from %s%lu process%s",
            st->files_read, st->files_read == 1 ? "" : "s", st->records,
            st->procs_more ? "at least " : "", st->nprocs,
            st->nprocs == 1 ? "" : "es");
    if (st->bad)
        fprintf(out, "; %" PRIu64 " bad line%s skipped", st->bad,
                st->bad == 1 ? "" : "s");
    fputs(".</p>\n", out);
    if (st->caps)
        fprintf(out, "<p class=\"note\">%" PRIu64 " process%s reached "
                "max_reports: records are missing, the summaries count "
                "them.</p>\n", st->caps, st->caps == 1 ? "" : "es");
}

static void set_cell(FILE *out, const struct strset *s, int quoted)
{
    fputs("<td>", out);
    for (int i = 0; i < s->n; i++) {
        fputs(i ? ", " : "", out);
        fputs(quoted ? "\"" : "", out);
        esc(out, s->v[i]);
        fputs(quoted ? "\"" : "", out);
    }
    fputs(s->more ? ", &hellip;</td>" : "</td>", out);
}

static void set_attr(FILE *out, const struct strset *s)
{
    for (int i = 0; i < s->n; i++) {
        fputs(i ? " " : "", out);
        esc(out, s->v[i]);
    }
}

static void site_body(FILE *out, int rank, const struct site *s)
{
    double ms = s->timed ? (double)s->ns / 1e6 : -1;
    fprintf(out, "<tbody data-rank=\"%d\" data-call=\"", rank);
    esc(out, s->call);
    fprintf(out, "\" data-calls=\"%" PRIu64 "\" data-ms=\"%.3f\" "
            "data-procs=\"%d\" data-threads=\"", s->count, ms, s->nprocs);
    set_attr(out, &s->threads);
    fputs("\" data-loops=\"", out);
    set_attr(out, &s->loops);
    fprintf(out, "\" data-site=\"0x%" PRIx64 "\">\n", s->key);
    fprintf(out, "<tr class=\"site\" aria-expanded=\"false\"><td class=\"n\">"
            "%d</td><td>", rank);
    esc(out, s->call);
    fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td>", s->count);
    if (s->timed)
        fprintf(out, "<td class=\"n\">%.1f</td>", ms);
    else
        fputs("<td class=\"n\" title=\"no summary: the process did not "
              "exit normally\">?</td>", out);
    fprintf(out, "<td class=\"n\">%s%d</td>", s->procs_more ? "&ge;" : "",
            s->nprocs);
    set_cell(out, &s->threads, 1);
    set_cell(out, &s->loops, 0);
    fprintf(out, "<td><code>0x%" PRIx64 "</code></td></tr>\n", s->key);
    fputs("<tr class=\"stacks\" hidden><td colspan=\"8\"><h4>", out);
    fputs(s->stack_where ? "Where (from a summary; no record of this site "
                           "was read)" : "The call", out);
    fputs("</h4><pre>", out);
    esc(out, s->stack ? s->stack : "    (no stack)\n");
    fputs("</pre>", out);
    if (s->loop_stack) {
        fputs("<h4>Where its loop was entered</h4><pre>", out);
        esc(out, s->loop_stack);
        fputs("</pre>", out);
    }
    fputs("</td></tr>\n</tbody>\n", out);
}

static void sites_table(FILE *out, const struct state *st,
                        struct site *const *v, unsigned long n)
{
    fprintf(out, "<h2>Blocking sites: %lu</h2>\n", n);
    if (!n) {
        fputs("<p>None.</p>\n", out);
        return;
    }
    fputs("<p class=\"note\">Ranked by time blocked. A click on a heading "
          "sorts; a click on a row shows its stacks.</p>\n"
          "<table id=\"sites\"><thead><tr>"
          "<th data-key=\"rank\" data-type=\"num\">#</th>"
          "<th data-key=\"call\">call</th>"
          "<th data-key=\"calls\" data-type=\"num\">calls</th>"
          "<th data-key=\"ms\" data-type=\"num\">ms blocked</th>"
          "<th data-key=\"procs\" data-type=\"num\">processes</th>"
          "<th data-key=\"threads\">threads</th>"
          "<th data-key=\"loops\">loops</th>"
          "<th data-key=\"site\">site</th></tr></thead>\n", out);
    for (unsigned long i = 0; i < n; i++)
        site_body(out, (int)i + 1, v[i]);
    fputs("</table>\n", out);
    if (st->rest_records || st->rest_count)
        fprintf(out, "<p class=\"note\">Past the first %d sites, not shown: "
                "%" PRIu64 " records, %" PRIu64 " calls and %.1f ms blocked "
                "in summaries.</p>\n", SITES_MAX, st->rest_records,
                st->rest_count, (double)st->rest_ns / 1e6);
}

/* A tick step of 1, 2 or 5 times a power of ten ms: about 8 ticks. */
static double tick_ms(double span_ms)
{
    double step = 0.001;
    while (span_ms / step > 8) {
        if (span_ms / (step * 2) <= 8)
            return step * 2;
        if (span_ms / (step * 5) <= 8)
            return step * 5;
        step *= 10;
    }
    return step;
}

static int by_order(const void *a, const void *b)
{
    const struct lane *x = *(struct lane *const *)a;
    const struct lane *y = *(struct lane *const *)b;
    if (x->key.pid != y->key.pid)
        return x->key.pid < y->key.pid ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void span_title(FILE *out, const struct span *s, double t0)
{
    double from = (double)(s->start_ns) / 1e6 - t0;
    double took = (double)(s->end_ns - s->start_ns) / 1e6;
    fputs("<title>", out);
    if (s->kind == SPAN_CALL) {
        esc(out, s->what);
        fprintf(out, " at site 0x%" PRIx64, s->site);
    } else {
        fputs("stall (", out);
        esc(out, s->what);
        fputs(")", out);
    }
    fprintf(out, ": from +%.3f ms, %s%.3f ms%s</title>", from,
            s->open ? "at least " : "", took,
            s->open ? " (no end was logged)" : "");
}

static void timeline(FILE *out, const struct state *st)
{
    fputs("<h2>Timeline</h2>\n", out);
    if (!st->nlanes) {
        fputs("<p>No loop thread was blocked or stalled.</p>\n", out);
        return;
    }
    struct lane **v = calloc(st->nlanes, sizeof *v), *l, *tmp;
    unsigned long n = 0;
    if (!v)
        exit(EXIT_USAGE);
    HASH_ITER(hh, st->lanes, l, tmp)
        v[n++] = l;
    qsort(v, n, sizeof *v, by_order);
    double t0 = (double)st->t_min / 1e6;
    double span = (double)(st->t_max - st->t_min) / 1e6;
    if (span <= 0)
        span = 1;
    double step = tick_ms(span), scale = PLOT_W / span;
    double h = AXIS_H + LANE_H * (double)n + 4;
    time_t when = (time_t)(st->t_min / 1000000000);
    char date[64] = "?";
    struct tm tm;
    if (gmtime_r(&when, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(out, "<p class=\"note\">From %s, over %.3f ms. "
            "<span class=\"key\" style=\"background:#c9302c\"></span>"
            "blocked in a reported call "
            "<span class=\"key\" style=\"background:#f0ad4e\"></span>stalled"
            ". With dedupe on (the default), a site's later calls are "
            "counted in the table, not drawn; a hover names a span.</p>\n",
            date, span);
    fprintf(out, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            LABEL_W + PLOT_W + 40, h, LABEL_W + PLOT_W + 40, h);
    for (double t = 0; t <= span + step / 2; t += step) {
        double x = LABEL_W + t * scale;
        fprintf(out, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" "
                "x2=\"%.1f\" y2=\"%.1f\"/>", x, AXIS_H - 6, x, h);
        if (step >= 1000)
            fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">+%g s"
                    "</text>\n", x + 2, AXIS_H - 10, t / 1000);
        else
            fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">+%g ms"
                    "</text>\n", x + 2, AXIS_H - 10, t);
    }
    for (unsigned long i = 0; i < n; i++) {
        double y = AXIS_H + LANE_H * (double)i;
        l = v[i];
        fprintf(out, "<g class=\"thread\" data-pid=\"%" PRId64 "\" "
                "data-tid=\"%" PRId64 "\"><rect class=\"lane\" x=\"%.1f\" "
                "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", l->key.pid,
                l->key.tid, LABEL_W, y + 2, PLOT_W, LANE_H - 4);
        fprintf(out, "<text class=\"label\" x=\"4\" y=\"%.1f\">pid %" PRId64
                " tid %" PRId64 " &quot;", y + LANE_H - 7, l->key.pid,
                l->key.tid);
        esc(out, l->name);
        fputs("&quot; (", out);
        esc(out, l->loop);
        fputs(")</text>\n", out);
        for (size_t k = 0; k < l->n; k++) {
            const struct span *s = &l->spans[k];
            double x = LABEL_W + ((double)s->start_ns / 1e6 - t0) * scale;
            double w = (double)(s->end_ns - s->start_ns) / 1e6 * scale;
            int stall = s->kind == SPAN_STALL;
            fprintf(out, "<rect class=\"%s%s\" x=\"%.1f\" y=\"%.1f\" "
                    "width=\"%.1f\" height=\"%.1f\">", stall ? "stall"
                                                             : "call",
                    s->open ? " open" : "", x, y + (stall ? 2 : 6),
                    w < 2 ? 2 : w, stall ? LANE_H - 4 : LANE_H - 12);
            span_title(out, s, t0);
            fputs("</rect>\n", out);
        }
        fputs("</g>\n", out);
    }
    fputs("</svg>\n", out);
    if (st->lanes_more || st->spans_more)
        fprintf(out, "<p class=\"note\">Not drawn: %s%" PRIu64 " spans past "
                "the first %d.</p>\n", st->lanes_more ? "the threads past "
                "the first 1024, and " : "", st->spans_more, SPANS_MAX);
    free(v);
}

int lg__report_html(const struct state *st, struct site *const *ranked,
                    unsigned long n, const char *events_text, FILE *out)
{
    head(out, st);
    sites_table(out, st, ranked, n);
    timeline(out, st);
    fputs("<h2>Stalls, deadlocks and lock-order inversions</h2>\n"
          "<pre id=\"events\">", out);
    esc(out, events_text);
    fputs("</pre>\n<script>\n", out);
    fputs(SCRIPT, out);
    fputs("</script>\n</body></html>\n", out);
    fflush(out);
    return ferror(out) ? -1 : 0;
}
