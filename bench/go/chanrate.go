// chanrate PRODUCERS SIZE MESSAGES: lg_chan's peer in Go, for
// bench/run-chan-peers.sh, measured as bench-chanrate measures lg_chan:
// PRODUCERS goroutines send MESSAGES messages of SIZE (8 or 64) bytes in
// all, as fast as they can, into a channel buffered for 1024; the main
// goroutine receives them. The rate is MESSAGES over the time from the
// producers' start to the last receipt; each producer's messages must
// arrive complete and in order (exit 1 otherwise).
// Prints "RESULT impl=go prod=P size=S msgs=M secs=T rate=R".
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const capacity = 1024
const seqBits = 56

type msg8 [1]uint64
type msg64 [8]uint64

func check(next []uint64, tag uint64) bool {
	p := tag >> seqBits
	seq := tag & (1<<seqBits - 1)
	if p >= uint64(len(next)) || next[p] != seq {
		return false
	}
	next[p]++
	return true
}

type message interface{ msg8 | msg64 }

// run sends per messages from each of n goroutines, made by mk, and
// receives them on the calling goroutine, checking their tags.
func run[M message](n int, per uint64, mk func(uint64) M,
	tag func(*M) uint64) (time.Duration, uint64) {
	ch := make(chan M, capacity)
	var start sync.WaitGroup
	start.Add(1)
	for p := 0; p < n; p++ {
		go func(p uint64) {
			start.Wait()
			for seq := uint64(0); seq < per; seq++ {
				ch <- mk(p<<seqBits | seq)
			}
		}(uint64(p))
	}
	next := make([]uint64, n)
	bad := uint64(0)
	t0 := time.Now()
	start.Done()
	for i := uint64(0); i < per*uint64(n); i++ {
		m := <-ch
		if !check(next, tag(&m)) {
			bad++
		}
	}
	return time.Since(t0), bad
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: chanrate PRODUCERS SIZE MESSAGES")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	size, _ := strconv.Atoi(os.Args[2])
	total, _ := strconv.ParseUint(os.Args[3], 10, 64)
	if n < 1 || (size != 8 && size != 64) {
		fmt.Fprintln(os.Stderr, "chanrate: PRODUCERS >= 1, SIZE 8 or 64")
		os.Exit(2)
	}
	per := total / uint64(n)
	var d time.Duration
	var bad uint64
	if size == 8 {
		d, bad = run(n, per, func(t uint64) msg8 { return msg8{t} },
			func(m *msg8) uint64 { return m[0] })
	} else {
		d, bad = run(n, per, func(t uint64) msg64 {
			return msg64{t, t, t, t, t, t, t, t}
		}, func(m *msg64) uint64 { return m[0] })
	}
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "chanrate: %d out of order\n", bad)
		os.Exit(1)
	}
	msgs := per * uint64(n)
	fmt.Printf("RESULT impl=go prod=%d size=%d msgs=%d secs=%.4f rate=%.0f\n",
		n, size, msgs, d.Seconds(), float64(msgs)/d.Seconds())
}
