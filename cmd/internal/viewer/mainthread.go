package viewer

import "sync/atomic"

// The window system wants its calls on the process's main thread. RunMain
// turns the calling goroutine (main, its thread locked by the binary's
// init) into a server of those calls; without RunMain they run on the
// caller's goroutine, which X11 accepts from one thread at a time.
var (
	mainCalls   = make(chan func())
	mainServing atomic.Bool
)

// RunMain runs f on a new goroutine and serves the window's calls on the
// calling one until f returns. Call it from main, with the main goroutine
// locked to the main thread (runtime.LockOSThread in an init function).
func RunMain(f func()) {
	done := make(chan struct{})
	mainServing.Store(true)
	go func() {
		defer close(done)
		f()
	}()
	for {
		select {
		case c := <-mainCalls:
			c()
		case <-done:
			mainServing.Store(false)
			return
		}
	}
}

// onMain runs c on the main thread when RunMain serves it, here otherwise,
// and returns when c has.
func onMain(c func()) {
	if !mainServing.Load() {
		c()
		return
	}
	done := make(chan struct{})
	mainCalls <- func() {
		defer close(done)
		c()
	}
	<-done
}
