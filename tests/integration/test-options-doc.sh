#!/bin/sh
# docs/options.md documents exactly the keys of the key table in
# src/options.c: each key has a row in its "## Keys" table and a flag in its
# "## Launcher flags" table, and the Keys table has no row for a key the
# code lacks. The manual page (docs/loopguard.1) lists each flag too.
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/tests/integration/lib.sh"

src="$root/src/options.c"
doc="$root/docs/options.md"
man="$root/docs/loopguard.1"
[ -r "$man" ] || fail "cannot read $man"
[ -r "$src" ] || fail "cannot read $src"
[ -r "$doc" ] || fail "cannot read $doc"

# Rows of `static const struct key keys[] = { ... };`, one per line.
code_keys=$(sed -n '/^static const struct key keys\[\] = {/,/^};/p' "$src" |
    sed -n 's/^ *{ *"\([A-Za-z0-9_]*\)".*/\1/p')
# First cell of each row of the table under "## Keys".
doc_keys=$(sed -n '/^## Keys/,/^## /p' "$doc" |
    sed -n 's/^| *`\([A-Za-z0-9_]*\)` *|.*/\1/p')
flags=$(sed -n '/^## Launcher flags/,/^## /p' "$doc")

[ -n "$code_keys" ] || fail "no keys found in the table of $src"
[ -n "$doc_keys" ] || fail "no keys found under '## Keys' in $doc"
dup=$(printf '%s\n' "$doc_keys" | sort | uniq -d)
[ -z "$dup" ] || fail "keys listed twice in $doc: $dup"

bad=0
for k in $code_keys; do
    if ! printf '%s\n' "$doc_keys" | grep -qx "$k"; then
        echo "key '$k' is in src/options.c but not in docs/options.md" >&2
        bad=1
    fi
    flag="--$(printf '%s' "$k" | tr _ -)"
    if ! printf '%s\n' "$flags" | grep -q -- "\`$flag[=\`]"; then
        echo "key '$k' has no launcher flag $flag in docs/options.md" >&2
        bad=1
    fi
    # roff spells each '-' of a flag as '\-': an option's tag line.
    if ! grep -q "^\.B[IR]* $(printf '%s' "$flag" | sed 's/-/\\\\-/g')[= ]" \
         "$man"; then
        echo "key '$k' has no flag $flag in docs/loopguard.1" >&2
        bad=1
    fi
done
for k in $doc_keys; do
    if ! printf '%s\n' "$code_keys" | grep -qx "$k"; then
        echo "key '$k' is in docs/options.md but not in src/options.c" >&2
        bad=1
    fi
done
[ "$bad" -eq 0 ] || fail "docs/options.md and src/options.c disagree"
echo "options doc: $(echo $code_keys | wc -w) keys match"
