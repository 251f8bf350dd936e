package autograd_test

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/petermattis/goid"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// noGradModel is a small network: loss(w) = Σ (x·w)² + Σ checkpoint(tanh(x·w)).
type noGradModel struct {
	x *autograd.Var
	w *autograd.Var
}

func newNoGradModel() noGradModel {
	return noGradModel{
		x: autograd.Const(tensor.FromFloat64(cpu, []float64{1, -2, 0.5, 3, 0.25, -1}, 2, 3)),
		w: autograd.Param(tensor.FromFloat64(cpu, []float64{0.1, -0.3, 0.2, 0.7, -0.5, 0.4}, 3, 2)),
	}
}

// loss builds the graph; onRecompute, when set, is called with Recording()
// each time the checkpointed segment runs.
func (m noGradModel) loss(onRecompute func(bool)) *autograd.Var {
	seg := autograd.Checkpoint(func(c []*autograd.Var) *autograd.Var {
		if onRecompute != nil {
			onRecompute(autograd.Recording())
		}
		return autograd.Tanh(autograd.MatMul(c[0], m.w))
	}, []*autograd.Var{m.x}, []*autograd.Var{m.w})
	return autograd.Add(autograd.SumAll(autograd.Square(autograd.MatMul(m.x, m.w))), autograd.SumAll(seg))
}

// grad back-propagates a fresh loss and returns the gradient of w.
func (m noGradModel) grad(t *testing.T, onRecompute func(bool)) []float64 {
	t.Helper()
	m.w.ZeroGrad()
	l := m.loss(onRecompute)
	if !l.RequiresGrad() || l.IsLeaf() {
		t.Fatal("loss built outside any NoGrad scope of this goroutine was not recorded")
	}
	l.Backward()
	return m.w.Grad.Float64s()
}

// TestNoGradIsPerGoroutine holds a NoGrad scope on an evaluator goroutine
// for the whole test while the test goroutine records and back-propagates
// (through a checkpoint, whose recompute lifts the scopes of its own
// goroutine only): the trainer's graphs must be recorded with the same
// gradients as without the evaluator, and the evaluator must never record.
// With a process-wide switch the first loss is not recorded; run with -race.
func TestNoGradIsPerGoroutine(t *testing.T) {
	m := newNoGradModel()
	want := m.grad(t, nil)

	entered, stop := make(chan struct{}), make(chan struct{})
	evalErr := make(chan error, 1)
	var evals int
	go func() {
		var err error
		defer func() { evalErr <- err }()
		autograd.NoGrad(func() {
			close(entered)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if autograd.Recording() {
					err = fmt.Errorf("evaluation %d: Recording() inside NoGrad", evals)
					return
				}
				// The evaluator reads the parameter the trainer back-propagates into.
				y := autograd.Tanh(autograd.MatMul(m.x, m.w))
				if y.RequiresGrad() || !y.IsLeaf() {
					err = fmt.Errorf("evaluation %d: an op under NoGrad was recorded", evals)
					return
				}
				evals++
				runtime.Gosched()
			}
		})
	}()
	<-entered
	stopped := false
	stopEvaluator := func() error {
		if stopped {
			return nil
		}
		stopped = true
		close(stop)
		return <-evalErr
	}
	defer stopEvaluator() // a failing trainer must not leave the scope open for later tests

	const iters = 300
	for i := range iters {
		if !autograd.Recording() {
			t.Fatalf("iteration %d: the trainer is not recording while another goroutine is in NoGrad", i)
		}
		var calls []bool
		got := m.grad(t, func(rec bool) { calls = append(calls, rec) })
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: grad %v, want %v", i, got, want)
		}
		// Forward under NoGrad, recompute recording.
		if !slices.Equal(calls, []bool{false, true}) {
			t.Fatalf("iteration %d: checkpointed segment ran with Recording() = %v, want [false true]", i, calls)
		}
		runtime.Gosched()
	}
	if err := stopEvaluator(); err != nil {
		t.Fatal(err)
	}
	if evals == 0 {
		t.Fatal("the evaluator never ran")
	}
	if n := autograd.OpenNoGradScopes(); n != 0 {
		t.Fatalf("%d NoGrad scopes left open", n)
	}
}

// TestNoGradManyGoroutines runs trainers and evaluators side by side, each
// with its own model.
func TestNoGradManyGoroutines(t *testing.T) {
	want := newNoGradModel().grad(t, nil)
	var wg sync.WaitGroup
	const goroutines = 8
	errs := make(chan error, goroutines) // at most one each: nobody blocks
	for g := range goroutines {
		wg.Go(func() {
			m := newNoGradModel()
			for i := range 50 {
				if g%2 == 0 {
					var recorded bool
					autograd.NoGrad(func() { recorded = m.loss(nil).RequiresGrad() || autograd.Recording() })
					if recorded {
						errs <- fmt.Errorf("evaluator %d, step %d: recorded under NoGrad", g, i)
						return
					}
					continue
				}
				m.w.ZeroGrad()
				l := m.loss(nil)
				if !l.RequiresGrad() {
					errs <- fmt.Errorf("trainer %d, step %d: loss not recorded", g, i)
					return
				}
				l.Backward()
				if got := m.w.Grad.Float64s(); !slices.Equal(got, want) {
					errs <- fmt.Errorf("trainer %d, step %d: grad %v, want %v", g, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := autograd.OpenNoGradScopes(); n != 0 {
		t.Fatalf("%d NoGrad scopes left open", n)
	}
}

// TestNoGradNotInherited: a goroutine started inside a NoGrad scope records.
func TestNoGradNotInherited(t *testing.T) {
	x := autograd.Param(tensor.FromFloat64(cpu, []float64{1, 2}, 2))
	type result struct{ recording, recorded bool }
	ch := make(chan result)
	autograd.NoGrad(func() {
		go func() { ch <- result{autograd.Recording(), autograd.Square(x).RequiresGrad()} }()
		if r := <-ch; !r.recording || !r.recorded {
			t.Errorf("goroutine started inside NoGrad: Recording() = %v, op recorded = %v; want both true", r.recording, r.recorded)
		}
		if autograd.Recording() {
			t.Error("the scope's own goroutine records")
		}
	})
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	fn()
}

// TestNoGradNestedAndPanics: scopes nest, and leaving one by a panic
// restores the depth it was opened at.
func TestNoGradNestedAndPanics(t *testing.T) {
	x := autograd.Param(tensor.FromFloat64(cpu, []float64{1, 2}, 2))
	autograd.NoGrad(func() {
		autograd.NoGrad(func() {
			if autograd.Recording() {
				t.Fatal("recording in a nested scope")
			}
		})
		if autograd.Recording() || autograd.Square(x).RequiresGrad() {
			t.Fatal("leaving a nested scope switched recording on inside the outer one")
		}
		mustPanic(t, "a panic in a nested scope", func() {
			autograd.NoGrad(func() { autograd.NoGrad(func() { panic("boom") }) })
		})
		if autograd.Recording() {
			t.Fatal("a panic out of nested scopes switched recording on inside the outer one")
		}
		if n := autograd.OpenNoGradScopes(); n != 1 {
			t.Fatalf("%d scopes open inside one, want 1", n)
		}
	})
	mustPanic(t, "a panic in NoGrad", func() { autograd.NoGrad(func() { panic("boom") }) })
	if !autograd.Recording() || !autograd.Square(x).RequiresGrad() {
		t.Fatal("recording not restored after a panic in NoGrad")
	}

	// Backward inside NoGrad: the checkpoint's recompute records, and a
	// panic during it leaves the scope as it was.
	m := newNoGradModel()
	want := m.grad(t, nil)
	l := m.loss(nil)
	m.w.ZeroGrad()
	autograd.NoGrad(func() {
		l.Backward()
		if autograd.Recording() {
			t.Fatal("the checkpoint's recompute left recording on inside NoGrad")
		}
	})
	if got := m.w.Grad.Float64s(); !slices.Equal(got, want) {
		t.Fatalf("grad from a Backward inside NoGrad %v, want %v", got, want)
	}
	calls := 0
	l = autograd.SumAll(autograd.Checkpoint(func(c []*autograd.Var) *autograd.Var {
		if calls++; calls == 2 {
			panic("recompute")
		}
		return autograd.Square(c[0])
	}, []*autograd.Var{x}, nil))
	autograd.NoGrad(func() {
		mustPanic(t, "a panicking recompute", l.Backward)
		if autograd.Recording() {
			t.Fatal("a panicking recompute left recording on inside NoGrad")
		}
	})
	if !autograd.Recording() {
		t.Fatal("recording off after the scopes")
	}
	if n := autograd.OpenNoGradScopes(); n != 0 {
		t.Fatalf("%d NoGrad scopes left open", n)
	}
}

// TestNoGradGoroutineID checks goid.Get, which reads the runtime's
// goroutine struct, against the id that runtime.Stack prints, so that a Go
// release that moves the field fails here rather than mixing up scopes.
func TestNoGradGoroutineID(t *testing.T) {
	stackID := func() int64 {
		var buf [64]byte
		s := bytes.TrimPrefix(buf[:runtime.Stack(buf[:], false)], []byte("goroutine "))
		id, err := strconv.ParseInt(string(s[:bytes.IndexByte(s, ' ')]), 10, 64)
		if err != nil {
			panic(err)
		}
		return id
	}
	ids := make(chan [2]int64)
	for range 4 {
		go func() { ids <- [2]int64{goid.Get(), stackID()} }()
	}
	for range 4 {
		if id := <-ids; id[0] != id[1] {
			t.Fatalf("goid.Get() = %d, runtime.Stack says goroutine %d", id[0], id[1])
		}
	}
	if a, b := goid.Get(), stackID(); a != b {
		t.Fatalf("goid.Get() = %d, runtime.Stack says goroutine %d", a, b)
	}
}

// BenchmarkRecordingCheck measures Recording(), which every recorded op
// calls: with no scope open anywhere (the fast path), with a scope open on
// another goroutine (a goroutine lookup), and inside a scope.
func BenchmarkRecordingCheck(b *testing.B) {
	b.Run("no-scope", func(b *testing.B) {
		for b.Loop() {
			if !autograd.Recording() {
				b.Fatal("not recording")
			}
		}
	})
	b.Run("scope-on-other-goroutine", func(b *testing.B) {
		entered, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			autograd.NoGrad(func() { close(entered); <-stop })
		}()
		<-entered
		for b.Loop() {
			if !autograd.Recording() {
				b.Fatal("not recording")
			}
		}
		close(stop)
		<-done
	})
	b.Run("inside-scope", func(b *testing.B) {
		autograd.NoGrad(func() {
			for b.Loop() {
				if autograd.Recording() {
					b.Fatal("recording")
				}
			}
		})
	})
	b.Run("scope-on-other-goroutine-parallel", func(b *testing.B) {
		entered, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			autograd.NoGrad(func() { close(entered); <-stop })
		}()
		<-entered
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !autograd.Recording() {
					panic("not recording")
				}
			}
		})
		close(stop)
		<-done
	})
}
