// gosplit: the app of the container test. One goroutine burns CPU in three
// functions split 50/30/20 by construction: every round hands alphaBurn 5
// units of the same work, betaBurn 3 and gammaBurn 2, so the shares hold
// whatever the sampling phase. Each function runs its own copy of the loop
// (none calls a shared helper) so each is the leaf of its own samples.
// Usage: gosplit [SECONDS] (0 or none: until killed).
package main

import (
	"os"
	"strconv"
	"time"
)

const unit = 200000 // xorshift steps per unit of work (~0.3 ms here)

var sink uint64

//go:noinline
func alphaBurn(units int) {
	x := sink | 1
	for i := 0; i < units*unit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink = x
}

//go:noinline
func betaBurn(units int) {
	x := sink | 1
	for i := 0; i < units*unit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink = x
}

//go:noinline
func gammaBurn(units int) {
	x := sink | 1
	for i := 0; i < units*unit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink = x
}

func main() {
	seconds := 0.0
	if len(os.Args) > 1 {
		seconds, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for seconds <= 0 || time.Now().Before(end) {
		alphaBurn(5)
		betaBurn(3)
		gammaBurn(2)
	}
}
