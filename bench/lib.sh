# Shared by bench/run-loops.sh and bench/run-locks.sh: `. bench/lib.sh`
# after setting $build. Sets $pin (taskset to CPU 1 when it works, else
# empty) and $tmp (a directory removed on exit); defines median (of the
# numbers on stdin, one per line).
pin=""
taskset -c 1 true 2>/dev/null && pin="taskset -c 1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
