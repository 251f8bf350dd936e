package bench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
	"github.com/difftune/difftune/tensor/philox"
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
		Workload{Name: "attention_256x4x8x16", Setup: attention(256*4, 8, 16)},
		Workload{Name: "attention_64x4x64x32", Setup: attention(64*4, 64, 32)},
		Workload{Name: "unet_train_b128", Setup: func(b tensor.Backend) (func(), float64, float64) {
			_, step, flops := NewUNetStep(b, nn.DefaultUNet, 128)
			return func() { step() }, flops, 0
		}},
		Workload{Name: "unet_sample_b64", Setup: unetSample},
	)
	for _, c := range convShapes {
		for _, backward := range []bool{false, true} {
			name := "conv2d_" + c.name + "_fwd"
			if backward {
				name += "bwd"
			}
			ws = append(ws, Workload{Name: name, Setup: conv2d(64, c.c, c.out, c.hw, c.stride, backward)})
		}
	}
	return ws
}

// convShapes are the 3×3 convolutions (padding 1) of a small UNet on 32×32
// images: one per resolution, and a stride-2 downsampling.
var convShapes = []struct {
	name               string
	c, out, hw, stride int
}{
	{"c32_32x32", 32, 32, 32, 1},
	{"c64_16x16", 64, 64, 16, 1},
	{"c128_8x8", 128, 128, 8, 1},
	{"c32to64_32x32_s2", 32, 64, 32, 2},
}

// conv2d is nn.Conv2d (3×3, padding 1, with bias) on a batch of n c-channel
// hw×hw images, forward only or forward and backward (the gradients of the
// input, weights and bias for a fixed output gradient). FLOPs: 2·n·out·oh·
// ow·c·9 forward, as much again for each of the two backward convolutions.
func conv2d(n, c, out, hw, stride int, backward bool) func(b tensor.Backend) (func(), float64, float64) {
	return func(b tensor.Backend) (func(), float64, float64) {
		conv := nn.NewConv2d(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}, c, out, 3, stride, 1)
		x := autograd.Param(tensor.RandNormal(b, tensor.Float32, 1, 1, n, c, hw, hw))
		g := tensor.NewConvGeom(n, c, hw, hw, 3, 3, stride, 1)
		dy := tensor.RandNormal(b, tensor.Float32, 1, 2, n, out, g.OutH, g.OutW)
		flops := 2 * float64(n*out*g.OutH*g.OutW*c*9)
		if !backward {
			return func() {
				autograd.NoGrad(func() { conv.Forward(x) })
				wait(b)
			}, flops, 0
		}
		return func() {
			for _, v := range []*autograd.Var{x, conv.W, conv.B} {
				v.ZeroGrad()
			}
			conv.Forward(x).BackwardWith(dy)
			wait(b)
		}, 3 * flops, 0
	}
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

// NewUNetStep returns one denoising training step of the UNet c at batch n
// (the twin's unet_train): x fixed N(0, I) images, s uniform in [0.001, 1)
// and ε ~ N(0, I) fresh each step, loss mean((ε̂(x + ε, s) − ε)²), backward,
// one Adam step at lr 1e-3. It returns the network, the step (which returns
// the loss) and the step's floating-point operations: the forward pass's
// (UNetFLOPs) ×3 for training, as transformerIter counts.
func NewUNetStep(b tensor.Backend, c nn.UNetConfig, n int) (u *nn.UNet, step func() float64, flops float64) {
	u = nn.NewUNet(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}, c)
	opt := nn.NewAdam(nn.Vars(u), nn.ConstantLR(1e-3))
	shape := []int{n, c.Channels, c.Height, c.Width}
	x := tensor.RandNormal(b, tensor.Float32, 1, 1, shape...)
	var draw uint64 = 1
	s := make([]float64, n)
	return u, func() float64 {
		draw += 2
		philox.Uniform64(1, draw, s)
		for i := range s {
			s[i] = 0.001 + 0.999*s[i]
		}
		eps := autograd.Const(tensor.RandNormal(b, tensor.Float32, 1, draw+1, shape...))
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(u.Forward(autograd.Const(tensor.Add(x, eps.Value)), s), eps)))
		loss.Backward()
		opt.Step()
		return loss.Value.Item()
	}, 3 * UNetFLOPs(c, n)
}

// unetSample is one Euler–Maruyama step of sampling with the UNet ε_θ (the
// twin's unet_sample): 64 images, no gradients, the pre-trained SDE's
// update x ← x + (½βx + β ε_θ(x, s)/σ)Δt + √(βΔt) z, the first step of 25
// (s = 1).
func unetSample(b tensor.Backend) (func(), float64, float64) {
	c := nn.DefaultUNet
	u := nn.NewUNet(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 1}, c)
	vp := sde.DefaultVP
	r := sde.Rollout{VP: vp, Grid: sde.Grid{Steps: 1, Dt: (1 - vp.SMin) / 25}, Eps: u}
	x := autograd.Const(tensor.RandNormal(b, tensor.Float32, 1, 1, 64, c.Channels*c.Height*c.Width))
	return func() {
		autograd.NoGrad(func() { r.Run(x, 1, 2) })
		wait(b)
	}, UNetFLOPs(c, 64), 0
}

// UNetFLOPs is the floating-point operations of the UNet c's forward pass
// on n images: 2 per multiply-add of every convolution (a transposed one
// counted as the convolution it transposes), linear projection and
// attention product; the normalizations and elementwise operations are
// not counted.
func UNetFLOPs(c nn.UNetConfig, n int) float64 {
	hw := float64(c.Height * c.Width)
	conv := func(px float64, in, out, k int) float64 { return 2 * float64(n) * px * float64(in*out*k*k) }
	res := func(px float64, in, out int) float64 {
		f := conv(px, in, out, 3) + conv(px, out, out, 3) + 2*float64(n*c.TimeDim*out)
		if in != out {
			f += conv(px, in, out, 1)
		}
		return f
	}
	q := hw / 16 // the attention's tokens
	attn := 4*conv(q, c.C3, c.C3, 1) + 4*float64(n)*q*q*float64(c.C3)
	return 2*float64(n*(c.EmbDim*c.TimeDim+c.TimeDim*c.TimeDim)) +
		conv(hw, c.Channels, c.C1, 3) + res(hw, c.C1, c.C1) + conv(hw/4, c.C1, c.C2, 3) +
		res(hw/4, c.C2, c.C2) + conv(hw/16, c.C2, c.C3, 3) +
		2*res(q, c.C3, c.C3) + attn +
		conv(hw/16, c.C3, c.C2, 4) + res(hw/4, 2*c.C2, c.C2) +
		conv(hw/4, c.C2, c.C1, 4) + res(hw, 2*c.C1, c.C1) + conv(hw, c.C1, c.Channels, 3)
}

// attention is scaled dot-product attention forward and backward
// (tensor.Attention, tensor.AttentionGrad) over heads (batch × heads)
// sequences of n tokens of width d. FLOPs: 4·n²·d per head forward (q·kᵀ,
// P·v) and 8·n²·d backward (g·vᵀ, dS·k, dSᵀ·q, Pᵀ·g), not counting the
// recomputed scores.
func attention(heads, n, d int) func(b tensor.Backend) (func(), float64, float64) {
	return func(b tensor.Backend) (func(), float64, float64) {
		q := tensor.RandNormal(b, tensor.Float32, 1, 1, heads, n, d)
		k := tensor.RandNormal(b, tensor.Float32, 1, 2, heads, n, d)
		v := tensor.RandNormal(b, tensor.Float32, 1, 3, heads, n, d)
		g := tensor.RandNormal(b, tensor.Float32, 1, 4, heads, n, d)
		scale := 1 / math.Sqrt(float64(d))
		return func() {
			out, lse := tensor.Attention(q, k, v, scale)
			tensor.AttentionGrad(g, q, k, v, out, lse, scale)
			wait(b)
		}, 12 * float64(heads*n*n*d), 0
	}
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
