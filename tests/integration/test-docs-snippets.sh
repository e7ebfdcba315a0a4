#!/bin/sh
# docs/migration.md and docs/guide.md quote their C from files that compile
# (examples/, and tests/), since Markdown cannot include files: a fenced ```c block whose
# first line is `// from PATH` must appear verbatim, as consecutive lines
# (ignoring the block's leading and trailing blank lines), in PATH. A C
# block that quotes nothing must say so on its first line (`// sketch`), so
# no unchecked code slips in. The checker is tried on broken copies too.
. tests/integration/lib.sh

doc=docs/migration.md
[ -f "$doc" ] || fail "$doc is missing"

# check_doc DOC: prints one line per problem; exits non-zero if any.
check_doc() {
    awk -v tmp="$LG_TMP" '
    function problem(msg) { print FILENAME ":" start ": " msg; bad = 1 }
    # The block (lines b[1..n]) is in file f when its lines, leading and
    # trailing blank lines dropped, are consecutive lines of f.
    function verify(f,    lo, hi, m, line, fl, i, j, ok) {
        lo = 1; hi = n
        while (lo <= hi && b[lo] ~ /^[ \t]*$/) lo++
        while (hi >= lo && b[hi] ~ /^[ \t]*$/) hi--
        if (lo > hi) { problem("quotes " f " but holds no code"); return }
        m = 0
        while ((getline line < f) > 0) fl[++m] = line
        close(f)
        if (m == 0) { problem("quotes " f ", which is missing or empty");
                      return }
        for (i = 1; i + (hi - lo) <= m; i++) {
            ok = 1
            for (j = lo; j <= hi && ok; j++)
                ok = (fl[i + j - lo] == b[j])
            if (ok) { quoted++; return }
        }
        problem("this block is not in " f " verbatim (it drifted)")
    }
    /^```/ && !inblock {
        inblock = 1; isc = ($0 ~ /^```c[ \t]*$/); start = FNR; n = 0
        src = ""; first = 1; next
    }
    /^```[ \t]*$/ && inblock {
        inblock = 0
        if (isc && src != "") verify(src)
        next
    }
    inblock && isc {
        if (first && $0 ~ /^[ \t]*$/) next
        if (first) {
            first = 0
            if ($0 ~ /^\/\/ from [^ ]+[ \t]*$/) {
                src = $3; next
            }
            if ($0 !~ /^\/\/ sketch/)
                problem("a C block must start with `// from PATH` or " \
                        "`// sketch`")
        }
        b[++n] = $0
    }
    END {
        if (inblock) problem("unterminated code block")
        if (quoted == 0) { print FILENAME ": quotes no file"; bad = 1 }
        print quoted + 0 > (tmp "/quoted")
        exit bad
    }' "$1"
}

for d in docs/guide.md "$doc"; do
    check_doc "$d" || fail "$d has drifted from the code it quotes"
    n=$(cat "$LG_TMP/quoted")
    echo "ok: $n quoted C blocks in $d match their files"
done

# Every example the page is about is quoted at least once.
for f in examples/deadlock/main.c examples/stall/main.c \
         examples/fixed/main.c examples/loop-to-thread/main.c \
         examples/thread-to-loop/main.c; do
    grep -qxF "// from $f" "$doc" || fail "$doc quotes nothing from $f"
done

# The checker catches drift: a changed line, an unmarked block, a missing
# file. Each broken copy must fail.
broken() {
    awk "$2" "$doc" >"$LG_TMP/broken.md"
    if check_doc "$LG_TMP/broken.md" >"$LG_TMP/broken.out"; then
        fail "the checker missed $1"
    fi
    echo "ok: the checker catches $1: $(head -1 "$LG_TMP/broken.out")"
}
broken "a changed line" '
    q && /[a-z]/ && !done { sub(/[a-z]/, "Z"); done = 1 }
    /^\/\/ from examples\/fixed\/main.c$/ { q = 1 } { print }'
broken "an unmarked C block" '
    /^\/\/ from / && !done { done = 1; next } { print }'
broken "a missing file" '
    /^\/\/ from / && !done { $0 = "// from examples/nosuch/main.c"; done = 1 }
    { print }'
