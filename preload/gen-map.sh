#!/bin/sh
# Writes the preload's version script from the table: one node per glibc
# version that versioned rows name, listing their symbols. Unversioned
# (PLAIN) rows stay out of it, so they are exported at the base version and
# bind whatever version a program asks for. The lg__wrap_* names behind the
# .symver aliases are made local.
# Usage: gen-map.sh CC symbols.def
cc=$1; def=$2
printf '#define LG_SYM(c, s, v, e, n, r, p) LGMAP e v s\n#include "%s"\n' \
    "$(cd "$(dirname "$def")" && pwd)/$(basename "$def")" |
    $cc -E -P -x c - |
    awk '
    $1 == "LGMAP" && ($2 == "DEFAULT" || $2 == "COMPAT") {
        gsub(/"/, "", $3); gsub(/"/, "", $4)
        if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 }
        syms[$3] = syms[$3] "    " $4 ";\n"
    }
    function vless(a, b,    x, y, i, k) {
        sub(/^[^0-9]*/, "", a); sub(/^[^0-9]*/, "", b)
        k = split(a, x, "."); split(b, y, ".")
        for (i = 1; i <= k; i++)
            if (x[i] + 0 != y[i] + 0) return x[i] + 0 < y[i] + 0
        return 0
    }
    END {
        # Oldest version first: each node inherits the one before it.
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++)
                if (vless(order[j], order[i])) {
                    t = order[i]; order[i] = order[j]; order[j] = t
                }
        for (i = 0; i < n; i++) {
            v = order[i]
            printf "%s {\n  global:\n%s", v, syms[v]
            if (i == 0) printf "  local:\n    lg__wrap_*;\n"
            if (i == 0) printf "};\n"; else printf "} %s;\n", order[i - 1]
        }
    }'
