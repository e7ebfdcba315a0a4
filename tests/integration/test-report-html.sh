#!/bin/sh
# `loopguard report --html OUT` (issue 15, item 4), and the records its
# timeline is drawn from:
#   ends      every blocking_call record of a process that ran to its end
#             has its blocking_end (same tid and site; blocked_ms), with
#             dedupe=0 one per call (4 for two_callers); the deadlocked
#             call has none. A text log has no blocking_end.
#   page      on the logs of fork trees (prog-fork fork, whose children report
#             nothing, and resume, whose child does), a deadlock killed before
#             its summary and a dedupe=0 run (prog-calls two_callers: two
#             sites, each called twice): one file, nothing it loads (no src or
#             href attribute, url() or @import, parsed as HTML); as many site
#             tbodies as the text report's "Blocking sites: N"; a timeline
#             group per loop thread of the logs and a span per blocking call
#             (the one with no end drawn open) and per stall; a thread name
#             holding markup is shown, never run.
#   chromium  the page in headless Chromium (html-check.py, through the
#             DevTools protocol): no console error or exception, the right
#             number of sites, all closed; a real click opens a site's
#             stacks, a click on "calls" sorts. Skipped with a line where
#             Chromium is missing or cannot start.
#   errors    --html with no name, and an unwritable OUT: exit 2, said.
. tests/integration/lib.sh
command -v jq >/dev/null 2>&1 || skip "jq not installed"
lg="$BUILD/loopguard"
for p in "$lg" "$BUILD/tests/prog-fork" "$BUILD/tests/prog-calls" \
    "$BUILD/examples/deadlock"; do
    [ -x "$p" ] || fail "$p not built (make test-bins)"
done
D=$LG_TMP/logs
mkdir -p "$D"
json="format=json:log=$D/lg.%p.jsonl"
# prog-fork says on stderr what went wrong: kept for a failure's message.
for mode in fork resume; do
    run_lg "$json" 60 "$BUILD/tests/prog-fork" $mode >/dev/null \
        2>"$LG_TMP/fork-$mode.err"
    [ "$rc" -eq 0 ] || fail "prog-fork $mode: exit $rc: $(grep -v '^==' \
        "$LG_TMP/fork-$mode.err" | head -c 600)"
done
run_lg "$json:stall_ms=200" 3 "$BUILD/examples/deadlock" >/dev/null 2>&1
run_lg "$json:dedupe=0" 30 "$BUILD/tests/prog-calls" loop two_callers \
    >/dev/null 2>&1
[ "$rc" -eq 0 ] || fail "prog-calls loop two_callers: exit $rc"

# ---- ends ---------------------------------------------------------------
dl=$(grep -l '"type":"deadlock"' "$D"/*.jsonl)
[ "$(echo "$dl" | wc -l)" = 1 ] || fail "want one deadlock log: $dl"
calls=$(grep -l '"site_caller_a"' "$D"/*.jsonl)
[ "$(echo "$calls" | wc -l)" = 1 ] || fail "want one prog-calls log: $calls"
for f in "$D"/*.jsonl; do
    [ "$f" = "$dl" ] && continue
    grep -q '"type":"summary"' "$f" || continue
    # Each record and its end, paired in order per (tid, site).
    jq -s -e '
        def key: "\(.tid) \(.site)";
        (map(select(.type == "blocking_call")) | map(key) | sort) as $b
        | (map(select(.type == "blocking_end")) | map(key) | sort) as $e
        | $b == $e and
          all(.[] | select(.type == "blocking_end");
              (.blocked_ms | type) == "number" and .blocked_ms >= 0 and
              (.call | type) == "string")' "$f" >/dev/null ||
        { cat "$f"; fail "ends: $f: a blocking_call without its end"; }
done
expect_count 4 "$calls" '.type == "blocking_end"' \
    "ends: dedupe=0, two sites called twice: an end per call"
expect_count 1 "$dl" '.type == "blocking_call"' "ends: the deadlock's call"
expect_count 0 "$dl" '.type == "blocking_end"' \
    "ends: the deadlocked call never returned"
run_lg "log=$LG_TMP/text.log" 30 "$BUILD/tests/prog-calls" loop cond_wait \
    >/dev/null 2>&1
[ "$(grep -c "loopguard: blocking receive" "$LG_TMP/text.log")" = 1 ] &&
    ! grep -q "blocking_end" "$LG_TMP/text.log" ||
    { cat "$LG_TMP/text.log"; fail "ends: a text log: want one report, no end"; }
echo "ok: ends: a blocking_end per reported call that returned"

# A thread name with markup, in a copy of the prog-calls log.
jq -c 'if .thread then .thread = "<img src=x onerror=alert(1)>" else . end' \
    "$calls" >"$D/markup.jsonl"
jq -c '.pid = 424242' "$D/markup.jsonl" >"$D/markup2.jsonl"
mv "$D/markup2.jsonl" "$D/markup.jsonl"

# ---- page ---------------------------------------------------------------
page=$LG_TMP/report.html
"$lg" report --html="$page" "$D"/*.jsonl >"$LG_TMP/out" 2>"$LG_TMP/err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$LG_TMP/err"; fail "page: exit $rc, want 0"; }
[ -s "$page" ] || fail "page: $page not written"
[ ! -e "$page.tmp"* ] 2>/dev/null || fail "page: a temporary file was left"
sites=$(sed -n 's/^Blocking sites: \([0-9]*\), by time blocked$/\1/p' \
    "$LG_TMP/out")
[ -n "$sites" ] && [ "$sites" -ge 3 ] || fail "page: text report: $sites sites"
# Parsed as a browser would: no attribute that loads (src, href, ...), no
# url() or @import in a style, no <link>, <iframe>, <object> or <embed>.
python3 - "$page" <<'PY' || fail "page: it loads something (above)"
import html.parser, re, sys
LOADS = {"src", "href", "srcset", "action", "formaction", "poster",
         "background", "data", "xlink:href", "manifest"}
bad = []
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        if tag in ("link", "iframe", "object", "embed", "base"):
            bad.append("<%s>" % tag)
        for k, v in attrs:
            if k in LOADS or (k == "style" and re.search(r"url\(", v or "")):
                bad.append("<%s %s=%r>" % (tag, k, v))
    def handle_data(self, d):
        if self.lasttag == "style" and re.search(r"url\(|@import", d):
            bad.append("style: " + d[:80])
P().feed(open(sys.argv[1], encoding="utf-8").read())
for b in bad:
    print("loads:", b)
sys.exit(1 if bad else 0)
PY
[ "$(grep -c '<script' "$page")" = 1 ] || fail "page: scripts other than its own"
grep -q '&lt;img src=x onerror=alert(1)&gt;' "$page" ||
    fail "page: the markup thread name is not shown escaped"
n=$(grep -c '^<tbody ' "$page")
[ "$n" = "$sites" ] || fail "page: $n site rows, the text report has $sites"
# A lane per loop thread (pid, tid) of the records it draws from.
want=$(jq -r 'select(.type == "blocking_call" or .type == "blocking_end" or
    .type == "stall") | "\(.pid) \(.tid)"' "$D"/*.jsonl | sort -u | wc -l)
n=$(grep -o '<g class="thread"' "$page" | wc -l)
[ "$n" = "$want" ] || fail "page: $n timeline lanes, want $want"
want=$(jq -s '[.[] | select(.type == "blocking_call")] | length' \
    "$D"/*.jsonl)
n=$(grep -o '<rect class="call' "$page" | wc -l)
[ "$n" = "$want" ] || fail "page: $n call spans, want $want"
n=$(grep -o '<rect class="call open"' "$page" | wc -l)
[ "$n" = 1 ] || fail "page: $n open call spans, want 1 (the deadlock's)"
n=$(grep -o '<rect class="stall' "$page" | wc -l)
[ "$n" -ge 1 ] || fail "page: no stall drawn"
grep -q 'Deadlocks: 1' "$page" || fail "page: no deadlock section"
echo "ok: page: self-contained, $sites sites, lanes and spans as logged"

# ---- errors -------------------------------------------------------------
# --html takes its name after '=' only: `--html a.jsonl b.jsonl` must not
# overwrite a log.
for bad in --html= --html; do
    cp "$calls" "$LG_TMP/keep.jsonl"
    "$lg" report $bad "$LG_TMP/keep.jsonl" >/dev/null 2>"$LG_TMP/e"
    [ $? -eq 2 ] && grep -q "needs a file name" "$LG_TMP/e" ||
        fail "errors: $bad: $(cat "$LG_TMP/e")"
    cmp -s "$calls" "$LG_TMP/keep.jsonl" || fail "errors: $bad wrote a log"
done
"$lg" report --html="$LG_TMP/no/such/dir/r.html" "$calls" >/dev/null \
    2>"$LG_TMP/e"
[ $? -eq 2 ] && grep -q "cannot write $LG_TMP/no/such/dir/r.html" \
    "$LG_TMP/e" || fail "errors: unwritable OUT: $(cat "$LG_TMP/e")"
echo "ok: errors: a bad OUT is exit 2, said"

# ---- chromium -----------------------------------------------------------
chrome=$(command -v chromium || command -v chromium-browser ||
    command -v google-chrome || true)
if [ -z "$chrome" ]; then
    skip_case chromium "Chromium is not installed (make deps installs it)"
elif ! command -v python3 >/dev/null 2>&1; then
    skip_case chromium "python3 is not installed (make deps installs it)"
else
    python3 tests/integration/html-check.py "$chrome" "$page" "$sites"
    rc=$?
    if [ "$rc" -eq 77 ]; then
        skip_case chromium "Chromium cannot start here (said above)"
    elif [ "$rc" -ne 0 ]; then
        fail "chromium: the page failed its checks (above)"
    else
        echo "ok: chromium: loads clean, $sites sites, a click opens, a click sorts"
    fi
fi
echo PASS
