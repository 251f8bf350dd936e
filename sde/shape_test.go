package sde

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"

	// The Vulkan backend, where a device opens.
	_ "github.com/difftune/difftune/shaders"
)

// The image state of the shape tests: [n, c, h, w], flattened [n, c·h·w].
const imgN, imgC, imgH, imgW = 5, 2, 3, 4

var (
	imgShape  = []int{imgN, imgC, imgH, imgW}
	flatShape = []int{imgN, imgC * imgH * imgW}
)

// shapeBackend is a backend the shape tests run on, with its dtypes.
type shapeBackend struct {
	name   string
	b      tensor.Backend
	dtypes []tensor.DType
}

// shapeBackends are the gonum reference and the fast CPU backend in float64
// and float32, and the Vulkan backend in float32 where a device opens (in
// CI, CI=true, it must).
func shapeBackends(t *testing.T) []shapeBackend {
	both := []tensor.DType{tensor.Float64, tensor.Float32}
	out := []shapeBackend{{"reference", tensor.CPUReference(), both}, {"cpu", tensor.CPU(), both}}
	vk, err := tensor.Open("vulkan")
	switch {
	case err == nil:
		out = append(out, shapeBackend{"vulkan", vk, []tensor.DType{tensor.Float32}})
	case os.Getenv("CI") == "true":
		t.Fatalf("no Vulkan device in CI: %v", err)
	default:
		t.Logf("no Vulkan device, skipping it: %v", err)
	}
	return out
}

// eachBackend runs fn on every backend and dtype as a subtest.
func eachBackend(t *testing.T, fn func(t *testing.T, b tensor.Backend, dt tensor.DType)) {
	for _, sb := range shapeBackends(t) {
		for _, dt := range sb.dtypes {
			t.Run(fmt.Sprintf("%s/%v", sb.name, dt), func(t *testing.T) { fn(t, sb.b, dt) })
		}
	}
}

// reshaped is a TimeNet that applies net to its input viewed as [n, in...]
// and returns the result in the input's shape: the same network serves a
// rollout of images and of the flattened images, and the graphs of the two
// have the same structure (a reshape before and after the network).
type reshaped struct {
	net TimeNet
	in  []int
}

func (r reshaped) Forward(x *autograd.Var, times []float64) *autograd.Var {
	shape := slices.Clone(x.Shape())
	y := r.net.Forward(autograd.Reshape(x, append([]int{shape[0]}, r.in...)...), times)
	return autograd.Reshape(y, shape...)
}

func (r reshaped) Params() []nn.Param { return r.net.(nn.Module).Params() }

// convEps is a toy image ε_θ(x, s) = (1 + s)·conv(x) of x [n, c, h, w]: a
// 3×3 convolution, scaled by the time (one shared, or one per image).
type convEps struct{ conv *nn.Conv2d }

func (c convEps) Forward(x *autograd.Var, times []float64) *autograd.Var {
	if len(x.Shape()) != 4 {
		panic(fmt.Sprintf("convEps of shape %v", x.Shape()))
	}
	y := c.conv.Forward(x)
	if len(times) == 1 {
		return autograd.Scale(y, 1+times[0])
	}
	f := make([]float64, len(times))
	for i, s := range times {
		f[i] = 1 + s
	}
	return autograd.Mul(y, autograd.Const(tensor.FromFloat64As(x.Value.Backend(), x.Value.DType(), f, len(f), 1, 1, 1)))
}

func (c convEps) Params() []nn.Param { return c.conv.Params() }

// shapeNets are the networks of a shape test: an image ε (a convolution on
// [n, c, h, w]) and a control (an MLP on [n, c·h·w]), both wrapped to take
// states of either shape.
func shapeNets(b tensor.Backend, dt tensor.DType, seed uint64) (eps, ctrl reshaped, conv *nn.Conv2d, mlp *nn.TimeMLP) {
	init := &nn.Init{Backend: b, DType: dt, Seed: seed}
	conv = nn.NewConv2d(init, imgC, imgC, 3, 1, 1)
	// Scale the convolution down so that the rollout stays tame.
	conv.W.Value = tensor.Scale(conv.W.Value, 0.5)
	d := imgC * imgH * imgW
	mlp = nn.NewTimeMLP(init, d, 8, d, tensor.ActSiLU, 16)
	return reshaped{convEps{conv}, imgShape[1:]}, reshaped{mlp, flatShape[1:]}, conv, mlp
}

// sameBits fails unless got and want hold the same numbers to the last bit.
func sameBits(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if got == nil || want == nil {
		t.Fatalf("%s: nil tensor (got %v, want %v)", what, got, want)
	}
	g, w := got.Float64s(), want.Float64s()
	if len(g) != len(w) {
		t.Fatalf("%s: %d elements, want %d", what, len(g), len(w))
	}
	for i := range g {
		if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
			t.Fatalf("%s: element %d is %v, want %v (bit for bit)", what, i, g[i], w[i])
		}
	}
}

// nonTrivial fails when every element of v is zero (a test that compares
// zeros proves nothing).
func nonTrivial(t *testing.T, what string, v *tensor.Tensor) {
	t.Helper()
	for _, x := range v.Float64s() {
		if x != 0 {
			return
		}
	}
	t.Fatalf("%s is all zeros", what)
}

// TestRolloutImageMatchesFlat rolls out [n, c, h, w] states and the same
// states flattened to [n, c·h·w], with an image ε, a control and guidance,
// plain, checkpointed and truncated: x_T (in the state's shape) and the path
// KL must agree bit for bit.
func TestRolloutImageMatchesFlat(t *testing.T) {
	eachBackend(t, func(t *testing.T, b tensor.Backend, dt tensor.DType) {
		eps, ctrl, _, _ := shapeNets(b, dt, 21)
		x0 := tensor.RandNormal(b, dt, 7, 3, imgShape...)
		guide := func(x *autograd.Var, k int) *autograd.Var { return autograd.Scale(x, -0.1*float64(k%3)) }
		for _, c := range []struct {
			name             string
			segment, detach  int
			control, guiding bool
		}{
			{"pretrained", 0, 0, false, false},
			{"control", 0, 0, true, false},
			{"guidance", 0, 0, true, true},
			{"segments", 3, 0, true, false},
			{"detach", 0, 4, true, false},
			{"detach+segments", 4, 3, true, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := Rollout{VP: DefaultVP, Grid: DefaultVP.NewGrid(10), Eps: eps, Segment: c.segment, DetachBefore: c.detach}
				if c.control {
					r.Control = ctrl
				}
				if c.guiding {
					r.Guidance = guide
				}
				var traced [2][]*tensor.Tensor
				run := func(i int, x *tensor.Tensor) Result {
					r.Trace = func(k int, x *autograd.Var) { traced[i] = append(traced[i], x.Value) }
					// A leaf with a gradient, so that segments checkpoint.
					return r.Run(autograd.Param(x), 5, 1<<32)
				}
				img, flat := run(0, x0), run(1, x0.Reshape(flatShape...))
				if !slices.Equal(img.X.Shape(), imgShape) {
					t.Fatalf("x_T of shape %v, want %v", img.X.Shape(), imgShape)
				}
				sameBits(t, "x_T", img.X.Value, flat.X.Value)
				sameBits(t, "KL", img.KL.Value, flat.KL.Value)
				if c.control {
					nonTrivial(t, "KL", img.KL.Value)
				}
				if len(traced[0]) != len(traced[1]) || len(traced[0]) < r.Grid.Steps {
					t.Fatalf("traced %d and %d states", len(traced[0]), len(traced[1]))
				}
				for k, x := range traced[0] {
					if !slices.Equal(x.Shape(), imgShape) {
						t.Fatalf("trace %d of shape %v", k, x.Shape())
					}
					sameBits(t, fmt.Sprint("trace ", k), x, traced[1][k])
				}
			})
		}
	})
}

// TestRolloutImageGradients back-propagates a loss of x_T and the KL
// through rollouts of images and of the flattened images, with and without
// checkpointed segments and truncation: the gradients of the control, of
// the (trainable) ε and of x0 must agree bit for bit, and the checkpointed
// ones must match the plain ones.
func TestRolloutImageGradients(t *testing.T) {
	eachBackend(t, func(t *testing.T, b tensor.Backend, dt tensor.DType) {
		eps, ctrl, conv, mlp := shapeNets(b, dt, 22)
		x0 := tensor.RandNormal(b, dt, 8, 3, imgShape...)
		grads := func(shape []int, segment, detach int) (loss *tensor.Tensor, g []*tensor.Tensor) {
			nn.ZeroGrad(conv)
			nn.ZeroGrad(mlp)
			r := Rollout{VP: DefaultVP, Grid: DefaultVP.NewGrid(9), Eps: eps, Control: ctrl, Segment: segment, DetachBefore: detach}
			x := autograd.Param(x0.Reshape(shape...))
			res := r.Run(x, 6, 1<<32)
			l := autograd.Add(autograd.SumAll(autograd.Square(res.X)), autograd.SumAll(res.KL))
			l.Backward()
			if detach == 0 {
				if !slices.Equal(x.Grad.Shape(), shape) {
					t.Fatalf("x0 gradient of shape %v, want %v", x.Grad.Shape(), shape)
				}
				g = append(g, x.Grad.Reshape(flatShape...))
			}
			for _, p := range append(nn.Vars(conv), nn.Vars(mlp)...) {
				g = append(g, p.Grad)
			}
			return l.Value, g
		}
		for _, c := range []struct{ segment, detach int }{{0, 0}, {4, 0}, {0, 5}, {3, 2}} {
			t.Run(fmt.Sprintf("segment%d-detach%d", c.segment, c.detach), func(t *testing.T) {
				li, gi := grads(imgShape, c.segment, c.detach)
				lf, gf := grads(flatShape, c.segment, c.detach)
				sameBits(t, "loss", li, lf)
				for i := range gi {
					sameBits(t, fmt.Sprint("gradient ", i), gi[i], gf[i])
					nonTrivial(t, fmt.Sprint("gradient ", i), gi[i])
				}
				if c.segment == 0 {
					return
				}
				// Checkpointed segments against keeping every activation.
				lp, gp := grads(imgShape, 0, c.detach)
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 1e-4
				}
				if l0, l1 := lp.Item(), li.Item(); math.Abs(l0-l1) > tol*math.Abs(l0) {
					t.Fatalf("loss %v with checkpoints, %v without", l1, l0)
				}
				for i := range gp {
					a, b := gp[i].Float64s(), gi[i].Float64s()
					for j := range a {
						if math.Abs(a[j]-b[j]) > 100*tol*(1+math.Abs(a[j])) {
							t.Fatalf("gradient %d[%d]: %v with checkpoints, %v without", i, j, b[j], a[j])
						}
					}
				}
			})
		}
	})
}

// TestInitialLawImageMatchesFlat samples the initial law of images and of
// the flattened images with a control: z₁, the cost and the control's
// gradients agree bit for bit; without a control z₁ has the shape asked.
func TestInitialLawImageMatchesFlat(t *testing.T) {
	eachBackend(t, func(t *testing.T, b tensor.Backend, dt tensor.DType) {
		_, ctrl, _, mlp := shapeNets(b, dt, 23)
		law := InitialLaw{Steps: 4, Control: ctrl}
		sample := func(img bool) (z, cost *tensor.Tensor, g []*tensor.Tensor) {
			nn.ZeroGrad(mlp)
			var zv, cv *autograd.Var
			if img {
				zv, cv = law.SampleShape(b, dt, imgShape, 3, 9<<32)
			} else {
				zv, cv = law.Sample(b, dt, flatShape[0], flatShape[1], 3, 9<<32)
			}
			autograd.Add(autograd.SumAll(autograd.Square(zv)), autograd.SumAll(cv)).Backward()
			for _, p := range nn.Vars(mlp) {
				g = append(g, p.Grad)
			}
			return zv.Value, cv.Value, g
		}
		zi, ci, gi := sample(true)
		zf, cf, gf := sample(false)
		if !slices.Equal(zi.Shape(), imgShape) || !slices.Equal(ci.Shape(), []int{imgN}) {
			t.Fatalf("z₁ %v, cost %v", zi.Shape(), ci.Shape())
		}
		sameBits(t, "z₁", zi, zf)
		sameBits(t, "cost", ci, cf)
		nonTrivial(t, "cost", ci)
		for i := range gi {
			sameBits(t, fmt.Sprint("gradient ", i), gi[i], gf[i])
		}
		// Without a control: N(0, I) draws of the shape, the flat ones.
		free := InitialLaw{Steps: 3}
		zi2, _ := free.SampleShape(b, dt, imgShape, 4, 2<<32)
		zf2, _ := free.Sample(b, dt, flatShape[0], flatShape[1], 4, 2<<32)
		if !slices.Equal(zi2.Shape(), imgShape) {
			t.Fatalf("z₁ without a control of shape %v", zi2.Shape())
		}
		sameBits(t, "z₁ without a control", zi2.Value, zf2.Value)
	})
}

// TestPerturbAndDSMImageMatchesFlat: Perturb of images returns x_s and the
// noise in the images' shape, with the numbers of the flattened batch (also
// for a strided batch); DSMLoss and its gradients agree bit for bit.
func TestPerturbAndDSMImageMatchesFlat(t *testing.T) {
	eachBackend(t, func(t *testing.T, b tensor.Backend, dt tensor.DType) {
		x0 := tensor.RandNormal(b, dt, 5, 5, imgShape...)
		xi, ni, si := DefaultVP.Perturb(x0, 9, 3<<32)
		xf, nf, sf := DefaultVP.Perturb(x0.Reshape(flatShape...), 9, 3<<32)
		if !slices.Equal(xi.Shape(), imgShape) || !slices.Equal(ni.Shape(), imgShape) {
			t.Fatalf("x_s %v, noise %v, want %v", xi.Shape(), ni.Shape(), imgShape)
		}
		if !slices.Equal(si, sf) {
			t.Fatalf("times %v and %v", si, sf)
		}
		sameBits(t, "x_s", xi, xf)
		sameBits(t, "noise", ni, nf)
		sameBits(t, "noise draws", ni, tensor.RandNormal(b, dt, 9, 3<<32+1, imgShape...))
		// A strided batch: images stored channels-last, viewed [n, c, h, w].
		strided := tensor.RandNormal(b, dt, 5, 6, imgN, imgH, imgW, imgC).Permute(0, 3, 1, 2)
		xsi, _, _ := DefaultVP.Perturb(strided, 9, 3<<32)
		xsf, _, _ := DefaultVP.Perturb(strided.Contiguous().Reshape(flatShape...), 9, 3<<32)
		sameBits(t, "strided x_s", xsi, xsf)

		eps, _, conv, _ := shapeNets(b, dt, 24)
		loss := func(x *tensor.Tensor) (*tensor.Tensor, []*tensor.Tensor) {
			nn.ZeroGrad(conv)
			l := DefaultVP.DSMLoss(eps, x, 9, 3<<32)
			l.Backward()
			var g []*tensor.Tensor
			for _, p := range nn.Vars(conv) {
				g = append(g, p.Grad)
			}
			return l.Value, g
		}
		li, gi := loss(x0)
		lf, gf := loss(x0.Reshape(flatShape...))
		sameBits(t, "DSM loss", li, lf)
		for i := range gi {
			sameBits(t, fmt.Sprint("DSM gradient ", i), gi[i], gf[i])
			nonTrivial(t, fmt.Sprint("DSM gradient ", i), gi[i])
		}
	})
}

// TestBadStateShapes: states without a batch axis (rank 1) are refused with
// a message that says what is wanted.
func TestBadStateShapes(t *testing.T) {
	b := tensor.CPUReference()
	x := tensor.RandNormal(b, tensor.Float64, 1, 1, 6)
	eps := gaussianEps{DefaultVP}
	for name, fn := range map[string]func(){
		"Run":         func() { Rollout{VP: DefaultVP, Grid: DefaultVP.NewGrid(2), Eps: eps}.Run(autograd.Const(x), 1, 0) },
		"Perturb":     func() { DefaultVP.Perturb(x, 1, 0) },
		"DSMLoss":     func() { DefaultVP.DSMLoss(eps, x, 1, 0) },
		"SampleShape": func() { InitialLaw{Steps: 2}.SampleShape(b, tensor.Float64, []int{6}, 1, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, "rank ≥ 2") || !strings.Contains(msg, "[6]") {
					t.Fatalf("panic %q, want one about the rank of shape [6]", msg)
				}
			}()
			fn()
		})
	}
	// A control of the wrong shape is refused too (no silent broadcast).
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, "control of shape") {
			t.Fatalf("panic %q, want one about the control's shape", msg)
		}
	}()
	InitialLaw{Steps: 2, Control: flatCtrl{}}.SampleShape(b, tensor.Float64, []int{2, 3, 4}, 1, 0)
}

// flatCtrl returns a control of the wrong shape, [n, 1].
type flatCtrl struct{}

func (flatCtrl) Forward(x *autograd.Var, _ []float64) *autograd.Var {
	return autograd.Const(tensor.Zeros(x.Value.Backend(), x.Value.DType(), x.Shape()[0], 1))
}
