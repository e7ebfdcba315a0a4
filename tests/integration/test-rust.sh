#!/bin/sh
# Rust programs on tokio (issue 4, item 2), built offline from Debian's
# packaged crates (tests/rust/.cargo/config.toml) into $BUILD/rust:
#   hang       the classic bug: a current_thread task loops on std mpsc
#              recv(). It prints one line and hangs (killed here); one
#              record: the futex wait, its stack naming
#              std::sync::mpsc::Receiver<T>::recv, on a tokio loop found
#              via the stack. The runtime's own park is never reported.
#              Then a deadlock record: its only thread waits for good.
#   hang-io    the same with tokio's I/O driver (parks in epoll_wait).
#   fixed      tokio::sync::mpsc, blocking_send from a std thread: exits 0,
#   fixed-io   no record (with and without the I/O driver).
#   correct    the runtime sends to a std thread blocked in recv(): no
#              record.
#   sleep      std::thread::sleep in a task: one record, clock_nanosleep.
#   mutex      a contended std::sync::Mutex in a task: one record, the
#              futex wait under std's Mutex::lock.
#   multi      a multi_thread runtime: a task's recv() on a worker is
#              reported; the same inside block_in_place is not.
#   busy       current_thread with the I/O driver (stall_ms=300): tasks
#              yielding to each other for 1 s make no stall; one task
#              computing for 1 s makes one, naming spin_in_task, and its end.
#   hang, release build: the task's code inlined into tokio's poll; still
#              one record, and (debug = 1) the task's closure an inlined
#              frame at the recv() line of hang.rs.
#   inline     release build, debug = 1: a helper inlined into the task
#              waits in recv() 50 ms: the report names it as an inlined
#              frame at its recv() line, then the task's closure at its
#              call, with file:line (issue 15).
# Skipped, with a line saying so, when cargo is not installed.
. tests/integration/lib.sh

command -v cargo >/dev/null 2>&1 ||
    skip "skip: cargo not found; the Rust tests need it (rustup or apt's cargo)"
ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 ||
    fail "Debian's tokio crate is missing: make deps installs librust-tokio-dev"

# Cargo writes Cargo.lock beside the manifest: build copies, so the source
# tree stays clean and the lock follows whatever tokio Debian ships.
rust="$BUILD/rust"
mkdir -p "$rust"
cp -R tests/rust/.cargo tests/rust/tokio tests/rust/tokio-io "$rust/"
for crate in tokio tokio-io; do
    (cd "$rust/$crate" && cargo build --offline --quiet \
        --target-dir "$rust/target") >"$LG_TMP/cargo-$crate.log" 2>&1 || {
        cat "$LG_TMP/cargo-$crate.log"
        fail "cargo build of tests/rust/$crate"
    }
done
(cd "$rust/tokio" && cargo build --offline --quiet --release --bin hang \
    --bin inline --target-dir "$rust/target") \
    >"$LG_TMP/cargo-release.log" 2>&1 || {
    cat "$LG_TMP/cargo-release.log"
    fail "cargo build --release of tests/rust/tokio"
}
bin="$rust/target/debug"

# run NAME SECONDS: runs NAME under the preload, JSON log in $out.
run() {
    out="$LG_TMP/$1.jsonl"
    rm -f "$out"
    run_lg "format=json:log=$out" "$2" "$bin/$1" >"$LG_TMP/$1.stdout"
}

cp "$rust/target/release/hang" "$bin/hang-release"
for prog in hang hang-io hang-release; do
    run "$prog" 5
    [ "$rc" -eq 137 ] || fail "$prog: expected the hang (killed), got status $rc"
    [ "$(cat "$LG_TMP/$prog.stdout")" = "got 0" ] ||
        fail "$prog: expected one line before the hang, got: $(cat "$LG_TMP/$prog.stdout")"
    expect_count 1 "$out" '.type == "blocking_call"' "$prog: records"
    expect_count 1 "$out" '.type == "blocking_call" and .call == "syscall"
        and (.object | startswith("futex 0x")) and .timeout_ms == null
        and .loop.kind == "tokio" and .loop.via == "stack"
        and any(.stack[]; .symbol == "std::sync::mpsc::Receiver<T>::recv"
                          or .symbol == "std::sync::mpmc::list::Channel<T>::recv")
        and any(.loop_stack[]; .symbol | test("block_on"))' \
        "$prog: the recv() in the task, on a tokio loop found via the stack"
    # The runtime's only thread waits on what only it could send: the
    # watchdog's deadlock record follows (issue 5, the seed bug).
    expect_count 1 "$out" '.type == "deadlock" and .threads_total == 1
        and .threads[0].call == "syscall"
        and (.threads[0].object | startswith("futex 0x"))
        and any(.threads[0].stack[]; .symbol | test("Receiver<T>::recv|Channel<T>::recv"))' \
        "$prog: a deadlock record naming recv()"
    echo "ok: $prog hangs after one line; one record: recv() on a tokio loop;"
    echo "    then a deadlock"
done
expect_count 1 "$LG_TMP/hang-release.jsonl" '.type == "blocking_call" and
    any(.stack[]; .symbol == "hang::main::{{closure}}::{{closure}}" and
        .inlined == true and (.file | endswith("/hang.rs")) and .line == 12)' \
    "hang-release: the task's closure, inlined, at its recv() line"
echo "ok: hang-release names the task's recv() line, inlined into tokio"

cp "$rust/target/release/inline" "$bin/inline-release"
run inline-release 30
[ "$rc" -eq 0 ] || fail "inline: exited with status $rc, expected 0"
src_inline="$rust/tokio/src/bin/inline.rs"
l_recv=$(grep -n 'rx.recv().unwrap()' "$src_inline" | cut -d: -f1)
l_call=$(grep -n 'let v = wait_value(&rx);' "$src_inline" | cut -d: -f1)
expect_count 1 "$out" '.type == "blocking_call"' "inline: records"
expect_count 1 "$out" '.type == "blocking_call" and
    ([.stack[] | select(.file == "'"$src_inline"'")] | length >= 2 and
     .[0].symbol == "inline::wait_value" and .[0].inlined == true and
     .[0].line == '"$l_recv"' and
     (.[1].symbol | startswith("inline::main::{{closure}}")) and
     .[1].line == '"$l_call"' and .[0].pc == .[1].pc)' \
    "inline: wait_value inlined at its recv(), then the task at its call"
echo "ok: inline: wait_value (inlined, line $l_recv), then the task"
echo "    (line $l_call)"

for prog in fixed fixed-io correct; do
    run "$prog" 30
    [ "$rc" -eq 0 ] || fail "$prog exited with status $rc, expected 0"
    [ "$(wc -l <"$LG_TMP/$prog.stdout")" -eq 3 ] ||
        fail "$prog: expected 3 lines, got: $(cat "$LG_TMP/$prog.stdout")"
    [ ! -s "$out" ] || { cat "$out"; fail "$prog: expected no record"; }
    echo "ok: $prog exits 0, no record"
done

run sleep 30
[ "$rc" -eq 0 ] || fail "sleep exited with status $rc, expected 0"
expect_count 1 "$out" '.type == "blocking_call"' "sleep: records"
expect_count 1 "$out" '.type == "blocking_call"
    and (.call == "clock_nanosleep" or .call == "nanosleep")
    and .timeout_ms == 30 and .loop.kind == "tokio"
    and any(.stack[]; .symbol == "sleep::nap")' \
    "sleep: std::thread::sleep in the task's nap()"
echo "ok: sleep in a task: one record"

run mutex 30
[ "$rc" -eq 0 ] || fail "mutex exited with status $rc, expected 0"
expect_count 1 "$out" '.type == "blocking_call"' "mutex: records"
expect_count 1 "$out" '.type == "blocking_call" and .call == "syscall"
    and .loop.kind == "tokio"
    and any(.stack[]; .symbol | test("Mutex.*::lock"))
    and any(.stack[]; .symbol == "mutex::take")' \
    "mutex: the contended lock in the task's take()"
echo "ok: contended std Mutex in a task: one record"
run multi 30
[ "$rc" -eq 0 ] || fail "multi exited with status $rc, expected 0"
expect_count 1 "$out" '.type == "blocking_call"' "multi: records"
expect_count 1 "$out" '.type == "blocking_call" and .call == "syscall"
    and .loop.kind == "tokio" and .loop.via == "stack"
    and any(.stack[]; .symbol == "multi::recv_plain")' \
    "multi: recv() in a task on a multi_thread worker"
echo "ok: multi_thread worker: one record; block_in_place: none"

# A current_thread runtime with its I/O driver polls it (timeout 0) between
# tasks while busy, so it is watched for stalls: tasks yielding to each
# other for 1 s are no stall, one task computing for 1 s is.
out="$LG_TMP/busy.jsonl"
rm -f "$out"
run_lg "format=json:log=$out:stall_ms=300" 30 "$bin/busy" \
    >"$LG_TMP/busy.stdout"
[ "$rc" -eq 0 ] || fail "busy exited with status $rc, expected 0"
[ "$(tr '\n' ' ' <"$LG_TMP/busy.stdout")" = "turned spun " ] ||
    fail "busy: unexpected output: $(cat "$LG_TMP/busy.stdout")"
expect_count 1 "$out" '.type == "stall" and .phase == "begin"' \
    "busy: stalls (yielding tasks must make none)"
expect_count 1 "$out" '.type == "stall" and .phase == "begin"
    and .doing == "running" and .loop.kind == "tokio"
    and .loop.via == "stack"
    and any(.stack[]; .symbol == "busy::spin_in_task")' \
    "busy: a stall of the runtime, in spin_in_task"
expect_count 1 "$out" '.type == "stall" and .phase == "end"
    and .stalled_ms >= 600' "busy: the stall's end"
expect_count 0 "$out" '.type != "stall" and .type != "summary"' \
    "busy: other records"
echo "ok: busy current_thread runtime: turning is no stall; computing is"
echo "ok: rust"
