#!/bin/sh
# One tmux session's life, driven as a script would drive it, on the server
# socket named $1 (tmux -L): typed commands and their output, panes,
# windows, buffers, if-shell and run-shell jobs, a control-mode client.
# Prints what the user would see; exit 0 when every step came. Waits are
# tmux's own wait-for channels, never sleeps. Used by test-compat-tmux.sh.
sock=$1
t() { tmux -L "$sock" -f /dev/null "$@"; }
# step NAME: waits for the pane's shell to signal NAME.
step() {
    timeout 20 tmux -L "$sock" wait-for "$1" || {
        echo "step $1 never came"; t kill-server; exit 11
    }
}
sh="env PS1='$ ' sh"
t new-session -d -s main -n first -x 80 -y 24 "$sh" || exit 10
t send-keys -t main "echo hello; seq 1 5; tmux -L $sock wait-for -S one" Enter
step one
# The typed line may come before or after the shell's first prompt (then
# the prompt starts the output's first line): only the command's output is
# compared.
t capture-pane -t main -p | sed -n 's/^\$ //; /^hello$/,/^5$/p'
t split-window -t main -h "$sh"
t new-window -t main -n second "$sh"
t rename-window -t main:1 renamed
t set-buffer -b buf "copied text"
t show-buffer -b buf; echo
t if-shell "test 1 = 1" "set-buffer -b ifs yes" "set-buffer -b ifs no"
t show-buffer -b ifs; echo
t run-shell -b "tmux -L $sock wait-for -S two"
step two
t display-message -p '#{session_name} #{session_windows} #{window_panes}'
t select-window -t main:0
t display-message -p '#{session_name} #{session_windows} #{window_panes}'
t list-windows -t main -F '#{window_index} #{window_name} #{window_panes}'
t send-keys -t main:1 "printf '%s\\n' a b c | sort -r; tmux -L $sock wait-for -S three" Enter
step three
t capture-pane -t main:1 -p | sed -n 's/^\$ //; /^c$/,/^a$/p'
printf 'list-sessions -F "#{session_name}"\ndisplay-message -p "control ok"\n' |
    timeout 20 tmux -L "$sock" -f /dev/null -C attach -t main | grep -v '^%'
t kill-server
echo done
