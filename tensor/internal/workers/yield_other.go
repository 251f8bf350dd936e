//go:build !linux

package workers

// osYield is a no-op where sched_yield is not at hand.
func osYield() {}
