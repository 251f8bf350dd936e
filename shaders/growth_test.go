//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"runtime"
	"testing"
	"time"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// footprint is what a Backend holds: device memory and Vulkan objects, and
// the Go heap after a collection.
type footprint struct {
	reserved        uint64 // bytes of device memory allocated
	buffers         int    // pooled VkBuffers
	sets, setPools  int    // cached descriptor sets, descriptor pools
	cmds, pipelines int    // command buffers, pipelines
	pending         int    // freed buffers not yet back in the pool
	heap            uint64 // Go heap in use after a collection
}

// footprintOf waits for the device, collects garbage and measures b.
func footprintOf(t *testing.T, b *Backend) footprint {
	t.Helper()
	runtime.GC()
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.mu.Lock()
	defer b.mu.Unlock()
	return footprint{reserved: b.mem.reserved, buffers: len(b.mem.slots), sets: len(b.sets.sets), setPools: len(b.sets.pools),
		cmds: len(b.rec.ring), pipelines: len(b.pipes.pipes), pending: len(b.deferred), heap: ms.HeapAlloc}
}

// TestNoGrowth runs more than 10⁵ dispatches of a small fine-tuning loop —
// a linear layer, a LayerNorm, another linear layer, a squared loss on
// fresh device-side random inputs, the backward pass and Adam — reading the
// loss on the host every step (so that every batch is submitted and waited
// for and its command buffer reused, and collected tensors' buffers go back
// to the pool), and syncing and collecting garbage every 64 steps (so that
// how many dead tensors await collection is set by the loop, not by when
// Go's collector runs: with tiny tensors the backend never forces a
// collection). It runs with pushed descriptors and with cached descriptor
// sets. With cached sets the warm-up lasts until the cache has filled and
// been emptied once (the buffers of fresh tensors come back from the pool in
// varying combinations, so most dispatches make a new set), which leaves the
// Go heap holding the cache's map at its largest; with pushed descriptors it
// is 512 steps, and no set may be allocated at all. After it, the device
// memory reserved and the numbers of command buffers, pipelines and pending
// frees must not grow, the number of buffers may grow by an eighth (a later
// peak of uncollected tensors), the descriptor-set cache must stay within
// its bound, and the Go heap within 1 MiB. It logs the dispatches per
// second of the loop after the warm-up.
func TestNoGrowth(t *testing.T) {
	b := testBackend(t)
	descriptorModes(t, b, func(t *testing.T, push bool) { testNoGrowth(t, b, push) })
}

func testNoGrowth(t *testing.T, b *Backend, push bool) {
	const width, batch = 16, 8
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 4}
	l1, l2 := nn.NewLinear(init, 4, width), nn.NewLinear(init, width, 4)
	ln := nn.NewLayerNorm(init, width)
	params := append(append(nn.Vars(l1), nn.Vars(ln)...), nn.Vars(l2)...)
	opt := nn.NewAdam(params, nn.ConstantLR(1e-3))
	sets := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.sets.sets)
	}
	allocs := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.sets.allocs
	}
	i := 0
	step := func() {
		x := tensor.RandNormal(b, tensor.Float32, 7, uint64(i), batch, 4)
		target := autograd.Const(tensor.Apply(tensor.OpTanh, x, 0))
		h := ln.Forward(l1.Forward(autograd.Const(x), tensor.ActSiLU))
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(l2.Forward(h, tensor.ActNone), target)))
		loss.Backward()
		opt.Step()
		if v := loss.Value.Item(); !(v >= 0) {
			t.Fatalf("step %d: loss %v", i, v)
		}
		if i%64 == 63 {
			runtime.GC()
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	start := time.Now()
	// With pushed descriptors no set is made: the cache never fills.
	for emptied, n := push, sets(); i < 512 || !emptied; {
		step()
		if i == 4096 {
			t.Fatalf("the descriptor-set cache (%d sets) was not emptied in %d steps", sets(), i)
		}
		m := sets()
		emptied = emptied || m < n
		n = m
	}
	warmup, d0 := i, b.Dispatches()
	before, peak := footprintOf(t, b), footprint{}
	a0, loop := allocs(), time.Now()
	for b.Dispatches()-d0 < 100_000 {
		step()
		b.mu.Lock()
		peak.sets, peak.setPools = max(peak.sets, len(b.sets.sets)), max(peak.setPools, len(b.sets.pools))
		b.mu.Unlock()
	}
	dur, dispatches, made := time.Since(loop), b.Dispatches()-d0, allocs()-a0
	after := footprintOf(t, b)
	t.Logf("%d steps of warm-up, then %d steps of %d dispatches in %v in all; after warm-up %+v, at the end %+v; descriptor sets at most %d in %d pools",
		warmup, i-warmup, dispatches/(i-warmup), time.Since(start).Round(time.Millisecond), before, after, peak.sets, peak.setPools)
	t.Logf("after the warm-up: %d dispatches in %v, %.0f dispatches/s; %d descriptor sets allocated",
		dispatches, dur.Round(time.Millisecond), float64(dispatches)/dur.Seconds(), made)
	// (Sets that earlier tests cached with cachedSets may remain.)
	if push && (made != 0 || peak.sets > before.sets || peak.setPools > before.setPools) {
		t.Errorf("with push descriptors, %d descriptor sets allocated in the loop (%d → at most %d cached)", made, before.sets, peak.sets)
	}
	if after.reserved > before.reserved || after.buffers > before.buffers+before.buffers/8 {
		t.Errorf("device memory grew from %d to %d bytes (%d to %d buffers)", before.reserved, after.reserved, before.buffers, after.buffers)
	}
	if after.cmds != ringSize || after.pipelines != before.pipelines || after.pending > before.pending {
		t.Errorf("command buffers %d (want %d), pipelines %d → %d, pending frees %d → %d",
			after.cmds, ringSize, before.pipelines, after.pipelines, before.pending, after.pending)
	}
	if peak.sets > maxSets || peak.setPools > (maxSets+setsPerPool-1)/setsPerPool {
		t.Errorf("%d descriptor sets in %d pools, want at most %d", peak.sets, peak.setPools, maxSets)
	}
	if after.heap > before.heap+1<<20 {
		t.Errorf("Go heap grew from %d to %d bytes", before.heap, after.heap)
	}
}
