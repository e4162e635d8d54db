// tests/workloads/go/split.go — a Go workload whose CPU split is known by
// construction: main.alphaBurn, main.betaBurn and main.gammaBurn run 5, 3
// and 2 units of the same loop in turn, so they take 50/30/20 % of the CPU.
// Each loop calls main.work, a small leaf Go compiles without a frame (no
// frame pointer push): at a sample inside it, rbp still points at the
// caller's frame, the case a frame-pointer unwinder must fix up. mix is
// inlined into each loop, so the binary has inline trees.
//
// usage: split SECONDS [CPUPROFILE]
// With CPUPROFILE, Go's own runtime/pprof profiles the same run at 500 Hz
// (its default 100 Hz gives too few samples for a short run; at 1000 Hz it
// loses most of its signals here): the referee of the shares. Go warns on
// stderr that the rate was set early; it is used. Prints "gosplit: rounds=N" at the end.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

const unit = 200000

var sink uint64

//go:noinline
func work(x uint64) uint64 {
	return x*6364136223846793005 + 1442695040888963407
}

func mix(x uint64) uint64 {
	return x ^ (x >> 17)
}

//go:noinline
func alphaBurn(n int) uint64 {
	s := sink
	for i := 0; i < n; i++ {
		s = mix(work(s))
	}
	return s
}

//go:noinline
func betaBurn(n int) uint64 {
	s := sink
	for i := 0; i < n; i++ {
		s = mix(work(s))
	}
	return s
}

//go:noinline
func gammaBurn(n int) uint64 {
	s := sink
	for i := 0; i < n; i++ {
		s = mix(work(s))
	}
	return s
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: split SECONDS [CPUPROFILE]")
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil || secs <= 0 {
		fmt.Fprintln(os.Stderr, "split: bad SECONDS")
		os.Exit(2)
	}
	if len(os.Args) > 2 {
		f, err := os.Create(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		runtime.SetCPUProfileRate(500)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	rounds := 0
	for time.Now().Before(end) {
		sink += alphaBurn(5 * unit)
		sink += betaBurn(3 * unit)
		sink += gammaBurn(2 * unit)
		rounds++
	}
	fmt.Printf("gosplit: rounds=%d\n", rounds)
}
