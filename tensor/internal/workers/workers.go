// Package workers keeps the goroutines that the CPU backend's parallel loops
// run on. The matrix products of package gemm and the elementwise, reduction
// and convolution loops of package tensor share them: a training step
// alternates the two kinds back to back, a few tens of microseconds each.
//
// A loop that started a goroutine per call ran mostly on its caller: Go puts
// a new goroutine in its creator's local run slot, where the other core,
// busy polling for the next product, did not take it before the caller had
// claimed every chunk itself (a gmm2d iteration had one goroutine running
// 37 % of its time). The workers here poll one channel for [spinTime] after
// each job, yielding to other goroutines and threads, so the next loop or
// product finds them awake, and block on it after that.
//
// A Job is shared, not split in advance: every participant (the caller and
// the workers it reached) claims parts of it until none is left, so a worker
// that the OS delays only takes less of the work. Jobs may nest (a part of a
// loop may run a product): a participant never waits for a part that nobody
// has claimed, only for the parts others are running.
package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Job is work that several goroutines share: each participant calls Work,
// which claims and runs parts of the job until none is left, and returns.
type Job interface{ Work() }

// spinTime is how long an idle worker polls for the next job before it
// blocks: waking a parked goroutine costs tens of microseconds (the OS
// wakes its thread, and the woken goroutine waits in its waker's run slot
// until another core takes it), and most gaps between the loops and
// products of a training step are shorter than this. Each poll yields to
// the worker's other goroutines and to the OS's other threads
// (sched_yield), so that on a busy machine polling does not take the core
// from the run: a gmm2d iteration (Zen 4, 2 cores, paired runs) ran 1.12×
// faster than with 50 µs of polling without sched_yield, and as fast
// beside a busy loop, where 200 µs without it was 1.26× slower.
const spinTime = 200 * time.Microsecond

var pool struct {
	mu sync.Mutex
	n  int
	ch chan Job
}

// Offer hands j to up to n workers, starting workers so that n exist, and
// returns how many it handed j to; it does not wait for them. A worker that
// is busy takes j when it is free (and finds it done, if it is), and one is
// skipped when the queue of jobs is full.
func Offer(j Job, n int) int {
	if n <= 0 {
		return 0
	}
	ch := start(n)
	sent := 0
	for range n {
		select {
		case ch <- j:
			sent++
		default:
			return sent
		}
	}
	return sent
}

// start makes sure that n workers wait for jobs and returns their channel.
func start(n int) chan Job {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.ch == nil {
		pool.ch = make(chan Job, 64)
	}
	for ; pool.n < n; pool.n++ {
		go worker(pool.ch)
	}
	return pool.ch
}

func worker(ch chan Job) {
	for {
		j, ok := spinReceive(ch)
		if !ok {
			j = <-ch
		}
		j.Work()
	}
}

// spinReceive polls ch for spinTime, yielding to other goroutines and
// threads.
func spinReceive(ch chan Job) (Job, bool) {
	deadline := time.Now().Add(spinTime)
	for {
		select {
		case j := <-ch:
			return j, true
		default:
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		runtime.Gosched()
		osYield()
	}
}

// For runs body on the chunks [c·size, min((c+1)·size, n)) of [0, n), on the
// calling goroutine and up to helpers workers, and returns when every chunk
// is done. size must be positive.
func For(n, size, helpers int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	j := &forJob{n: n, size: size, chunks: (n + size - 1) / size, body: body}
	if j.chunks == 1 {
		body(0, n)
		return
	}
	Offer(j, min(helpers, j.chunks-1))
	j.Work()
	for j.done.Load() < int64(j.chunks) {
		runtime.Gosched()
	}
}

// forJob is the Job of For.
type forJob struct {
	n, size, chunks int
	body            func(lo, hi int)
	next, done      atomic.Int64
}

func (j *forJob) Work() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		lo := c * j.size
		j.body(lo, min(lo+j.size, j.n))
		j.done.Add(1)
	}
}
