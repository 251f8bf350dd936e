package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// Workload is a named piece of work that can run on any backend.
type Workload struct {
	Name string
	// Setup prepares the work on b and returns one repetition, with the
	// floating-point operations (or 0) and bytes moved (or 0) it performs.
	Setup func(b tensor.Backend) (run func(), flops, bytes float64)
}

// Workloads lists the named workloads in the order they are reported.
func Workloads() []Workload {
	var ws []Workload
	for _, n := range []int{256, 512, 1024, 2048, 4096} {
		ws = append(ws, Workload{Name: fmt.Sprintf("matmul_%d", n), Setup: matmul(n)})
	}
	ws = append(ws,
		Workload{Name: "silu_linear_512x256x256", Setup: linear(512, 256, 256)},
		Workload{Name: "em_step_gmm2d", Setup: emStep},
		Workload{Name: "gmm2d_iter", Setup: func(b tensor.Backend) (func(), float64, float64) {
			w := NewGMM2DIteration(b, 512, 100, 256)
			return func() { w.Run() }, w.FLOPs(), 0
		}},
		Workload{Name: "transformer_iter_256x8x64", Setup: transformerIter},
	)
	return ws
}

func wait(b tensor.Backend) {
	if err := b.Sync(); err != nil {
		panic(err)
	}
}

func matmul(n int) func(b tensor.Backend) (func(), float64, float64) {
	return func(b tensor.Backend) (func(), float64, float64) {
		x := tensor.RandNormal(b, tensor.Float32, 1, 1, n, n)
		y := tensor.RandNormal(b, tensor.Float32, 1, 2, n, n)
		return func() {
			tensor.MatMul(x, y)
			wait(b)
		}, 2 * float64(n) * float64(n) * float64(n), 0
	}
}

func linear(m, k, n int) func(b tensor.Backend) (func(), float64, float64) {
	return func(b tensor.Backend) (func(), float64, float64) {
		x := tensor.RandNormal(b, tensor.Float32, 1, 1, m, k)
		w := tensor.RandNormal(b, tensor.Float32, 1, 2, k, n)
		bias := tensor.RandNormal(b, tensor.Float32, 1, 3, n)
		return func() {
			tensor.Gemm(x, w, tensor.GemmOpts{Bias: bias, Act: tensor.ActSiLU, KeepDeriv: true})
			wait(b)
		}, 2 * float64(m*k*n), 0
	}
}

// emStep is one Euler–Maruyama step of the gmm2d model with its control,
// forward only (sampling).
func emStep(b tensor.Backend) (func(), float64, float64) {
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}
	eps := nn.NewTimeMLP(init, 2, 32, 2, tensor.ActSiLU, 256, 256, 256)
	ctrl := nn.NewTimeMLP(init, 2, 32, 2, tensor.ActSiLU, 256, 256, 256)
	r := sde.Rollout{VP: sde.DefaultVP, Grid: sde.DefaultVP.NewGrid(1), Eps: eps, Control: ctrl}
	x := autograd.Const(tensor.RandNormal(b, tensor.Float32, 1, 1, 512, 2))
	W := 256.0
	return func() {
		autograd.NoGrad(func() { r.Run(x, 1, 2) })
		wait(b)
	}, 512 * 2 * (34*W + 2*W*W + 2*W) * 2, 0
}

// transformerIter is one training step of a transformer block stack on
// batch 256 × 8 tokens × width 64 (forward, backward, Adam).
func transformerIter(b tensor.Backend) (func(), float64, float64) {
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}
	blocks := []*nn.TransformerBlock{nn.NewTransformerBlock(init, 64, 4, 256), nn.NewTransformerBlock(init, 64, 4, 256)}
	var params []*autograd.Var
	for _, blk := range blocks {
		params = append(params, nn.Vars(blk)...)
	}
	opt := nn.NewAdam(params, nn.ConstantLR(1e-4))
	x := autograd.Const(tensor.RandNormal(b, tensor.Float32, 1, 1, 256, 8, 64))
	// Per block and token: 4 projections 2·64² + attention 2·2·8·64 + MLP 2·2·64·256; ×3 for training.
	flops := 3 * 2 * 256 * 8 * (4*2*64*64 + 2*2*8*64 + 2*2*64*256.0)
	return func() {
		h := x
		for _, blk := range blocks {
			h = blk.Forward(h)
		}
		autograd.MeanAll(autograd.Square(h)).Backward()
		opt.Step()
		wait(b)
	}, flops, 0
}

// Result is the timing of one workload on one backend.
type Result struct {
	Workload string  `json:"workload"`
	Backend  string  `json:"backend"`
	Median   float64 `json:"median_seconds"`
	Min      float64 `json:"min_seconds"`
	Reps     int     `json:"reps"`
	GFLOPS   float64 `json:"gflops,omitempty"`
	GBps     float64 `json:"gbytes_per_second,omitempty"`
	// VsCPU is the CPU's median time over this one (> 1: faster than the CPU).
	VsCPU float64 `json:"speedup_vs_cpu,omitempty"`
}

// Time runs w on b: one warm-up, then reps timed repetitions (at least one,
// and fewer when a repetition is slow so that a workload takes ~budget).
func Time(w Workload, b tensor.Backend, reps int, budget time.Duration) Result {
	run, flops, bytes := w.Setup(b)
	start := time.Now()
	run() // warm-up: caches, lazily compiled pipelines
	if one := time.Since(start); one > 0 && budget > 0 {
		reps = max(1, min(reps, int(budget/one)))
	}
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		run()
		ts[i] = time.Since(t0).Seconds()
	}
	slices.Sort(ts)
	r := Result{Workload: w.Name, Backend: b.Name(), Median: ts[len(ts)/2], Min: ts[0], Reps: reps}
	if flops > 0 {
		r.GFLOPS = flops / r.Median / 1e9
	}
	if bytes > 0 {
		r.GBps = bytes / r.Median / 1e9
	}
	return r
}
