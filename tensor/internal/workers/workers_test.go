package workers

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestForCoversEachIndexOnce runs For over several sizes, chunk sizes and
// helper counts, nested inside another For too, and checks that every index
// is visited exactly once, before For returns.
func TestForCoversEachIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, size, helpers int }{
		{0, 1, 3}, {1, 1, 3}, {7, 1, 3}, {100, 7, 1}, {100, 7, 0}, {1000, 100, 3}, {1000, 1000, 3}, {1001, 10, 8},
	} {
		t.Run(fmt.Sprintf("n=%d,size=%d,helpers=%d", c.n, c.size, c.helpers), func(t *testing.T) {
			visits := make([]atomic.Int32, c.n)
			For(c.n, c.size, c.helpers, func(lo, hi int) {
				if lo < 0 || hi > c.n || lo >= hi || (hi-lo > c.size) {
					t.Errorf("chunk [%d, %d) of n=%d, size=%d", lo, hi, c.n, c.size)
					return
				}
				for i := lo; i < hi; i++ {
					visits[i].Add(1)
				}
			})
			for i := range visits {
				if v := visits[i].Load(); v != 1 {
					t.Fatalf("index %d visited %d times", i, v)
				}
			}
		})
	}
}

// TestForNested runs a For inside each chunk of another, on as many helpers
// as there are chunks (every worker busy), and checks the sums: a
// participant never waits for a part nobody has claimed.
func TestForNested(t *testing.T) {
	const outer, inner = 16, 1000
	var sums [outer]atomic.Int64
	For(outer, 1, outer, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			For(inner, 10, 4, func(l, h int) {
				for i := l; i < h; i++ {
					sums[o].Add(int64(i))
				}
			})
		}
	})
	for o := range sums {
		if got, want := sums[o].Load(), int64(inner*(inner-1)/2); got != want {
			t.Errorf("outer chunk %d: sum %d, want %d", o, got, want)
		}
	}
}

// countJob counts the calls of Work.
type countJob struct{ calls atomic.Int32 }

func (j *countJob) Work() { j.calls.Add(1) }

// TestOfferCallsWork checks that every worker Offer reports having reached
// calls Work once.
func TestOfferCallsWork(t *testing.T) {
	if got := Offer(&countJob{}, 0); got != 0 {
		t.Fatalf("Offer to 0 workers reached %d", got)
	}
	start(1)
	for len(pool.ch) > 0 { // jobs of the other tests, done, still queued
		runtime.Gosched()
	}
	j := &countJob{}
	sent := Offer(j, 3)
	if sent < 1 || sent > 3 {
		t.Fatalf("Offer(j, 3) = %d", sent)
	}
	deadline := time.Now().Add(10 * time.Second)
	for int(j.calls.Load()) < sent && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond) // a call too many would show by now
	if got := int(j.calls.Load()); got != sent {
		t.Fatalf("Work called %d times, Offer reached %d workers", got, sent)
	}
}
