package tasks

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// quickFMNIST is the fmnist task's quick preset, set up and pre-trained
// once per test binary (its classifiers and UNet train in seconds).
func quickFMNIST(t *testing.T) *FMNIST {
	t.Helper()
	realFMNIST(t)
	quickOnce.Do(func() {
		task := NewFMNIST(true)
		env := algos.Env{Backend: tensor.CPU(), Cache: t.TempDir()}
		if quickErr = task.Setup(env); quickErr == nil {
			_, quickErr = task.Pretrain(env)
		}
		quickTask = task
	})
	if quickErr != nil {
		t.Fatal(quickErr)
	}
	return quickTask
}

var (
	quickOnce sync.Once
	quickTask *FMNIST
	quickErr  error
)

// TestFMNISTData: a batch is reproducible from its seed and index, each
// row is a training image mapped to x = 2p − 1.
func TestFMNISTData(t *testing.T) {
	task := NewFMNIST(true)
	task.data = realFMNIST(t)
	b := tensor.CPU()
	x := task.Data(b, 3)(7, 5)
	if s := x.Shape(); len(s) != 2 || s[0] != 5 || s[1] != FMNISTPixels {
		t.Fatalf("batch of shape %v", s)
	}
	again, other := task.Data(b, 3)(7, 5).Float64s(), task.Data(b, 3)(8, 5).Float64s()
	v := x.Float64s()
	same := func(a, b []float64) bool {
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if !same(v, again) || same(v, other) {
		t.Errorf("batch 7 of seed 3 drawn twice differs, or equals batch 8")
	}
	// Every row is some training image: find the first row's.
	found := false
	for j := 0; j < task.data.Train.Len() && !found; j++ {
		px := task.data.Train.Pixels[j*FMNISTPixels : (j+1)*FMNISTPixels]
		found = true
		for p, q := range px {
			if math.Abs(v[p]-(2*float64(q)/255-1)) > 1e-6 {
				found = false
				break
			}
		}
	}
	if !found {
		t.Errorf("the first row is no training image mapped to 2p − 1")
	}
}

// TestFMNISTRewards: r̂'s differentiable Eval agrees with its host Values
// and its gradient with a finite difference along a direction; the oracle
// is the strong classifier's log p(class) of the clipped decoded pixels;
// Pixels lie in [0, 1].
func TestFMNISTRewards(t *testing.T) {
	task := quickFMNIST(t)
	b := tensor.CPU()
	const n = 6
	x := tensor.RandNormal(b, tensor.Float32, 11, 1, n, FMNISTPixels)
	xv := x.Float64s()
	rw := task.Nominal()
	in := autograd.Param(x)
	r := rw.Eval(in)
	if s := r.Shape(); len(s) != 1 || s[0] != n {
		t.Fatalf("r̂ of shape %v", s)
	}
	vals := rw.Values(xv)
	for i, v := range r.Value.Float64s() {
		if math.Abs(v-vals[i]) > 1e-5*(1+math.Abs(v)) {
			t.Errorf("row %d: Eval %v, Values %v", i, v, vals[i])
		}
	}
	autograd.SumAll(r).Backward()
	grad := in.Grad.Float64s()
	// Directional derivative along the gradient of the sum, by central
	// differences in float64 of float32 evaluations (h large enough for
	// float32's rounding).
	var norm float64
	for _, g := range grad {
		norm += g * g
	}
	norm = math.Sqrt(norm)
	if !(norm > 0) {
		t.Fatalf("r̂ has a zero gradient")
	}
	const h = 1e-2
	shifted := func(sign float64) float64 {
		y := make([]float64, len(xv))
		for i := range y {
			y[i] = xv[i] + sign*h*grad[i]/norm
		}
		var s float64
		for _, v := range rw.Values(y) {
			s += v
		}
		return s
	}
	fd := (shifted(1) - shifted(-1)) / (2 * h)
	if math.Abs(fd-norm) > 0.05*norm {
		t.Errorf("directional derivative %.5f by finite differences, %.5f by autograd", fd, norm)
	}

	px := task.Pixels(xv)
	if len(px) != len(xv) {
		t.Fatalf("%d pixels of %d values", len(px), len(xv))
	}
	for _, p := range px {
		if p < 0 || p > 1 {
			t.Fatalf("pixel %v outside [0, 1]", p)
		}
	}
	var want []float64
	autograd.NoGrad(func() {
		logp := task.strong.LogProbs(autograd.Const(tensor.FromFloat64As(b, tensor.Float32, px, n, FMNISTPixels))).Value.Float64s()
		for i := range n {
			want = append(want, logp[i*FMNISTClasses+task.Class])
		}
	})
	for i, g := range task.Oracle().Score(xv) {
		if math.Abs(g-want[i]) > 1e-5*(1+math.Abs(g)) {
			t.Errorf("row %d: oracle %v, strong log p of the pixels %v", i, g, want[i])
		}
	}
}

// TestFMNISTEvaluate: the metrics of a batch are in their ranges, the
// Fréchet distance of test images of the class to their own statistics is
// far below that of other classes' images, and the control starts at zero.
func TestFMNISTEvaluate(t *testing.T) {
	task := quickFMNIST(t)
	b := tensor.CPU()
	x := tensor.RandNormal(b, tensor.Float32, 12, 1, 40, FMNISTPixels).Float64s()
	s := task.Evaluate(x, make([]float64, 40), 0.1)
	frac, _ := s.Metric("class_fraction")
	conf, _ := s.Metric("max_prob")
	for _, k := range []string{"reward_nominal", "reward_genuine", "fid_class", "fid_all", "diversity", "kl"} {
		if v, ok := s.Metric(k); !ok || !v.Finite() {
			t.Errorf("%s = %v (%v)", k, v, ok)
		}
	}
	if !(frac >= 0 && frac <= 1) || !(conf >= 0.1 && conf <= 1) {
		t.Errorf("class fraction %v, confidence %v", frac, conf)
	}
	// Moments of the test images of the class and of another class.
	features := func(class int) []float64 {
		var idx []int
		for i, l := range task.data.Test.Labels {
			if int(l) == class && len(idx) < 300 {
				idx = append(idx, i)
			}
		}
		var f []float64
		autograd.NoGrad(func() {
			_, ft := task.strong.Forward(autograd.Const(task.data.Test.Images(b, idx)))
			f = ft.Value.Float64s()
		})
		return f
	}
	w := task.strong.Features()
	own := algos.FrechetDistance(algos.NewMoments(features(task.Class), w), task.classStats)
	far := algos.FrechetDistance(algos.NewMoments(features(1), w), task.classStats) // trousers against shirts
	t.Logf("Fréchet distance to the class's statistics: its own test images %.4f, trousers %.4f", own, far)
	if !(own < far/5) {
		t.Errorf("Fréchet distance of the class's images %.4f, of trousers %.4f", own, far)
	}

	ctrl := task.NewControl(0.1)(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 3}, FMNISTPixels)
	u := ctrl.Forward(autograd.Const(tensor.FromFloat64As(b, tensor.Float32, x[:2*FMNISTPixels], 2, FMNISTPixels)), []float64{0.5})
	for _, v := range u.Value.Float64s() {
		if v != 0 {
			t.Fatalf("the control starts at %v, want 0", v)
		}
	}
}

// TestFMNISTValidate: a class outside 0–9 is refused with the list of
// classes; the rollout estimate grows with the batch.
func TestFMNISTValidate(t *testing.T) {
	task := NewFMNIST(false)
	if err := task.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	task.Class = 10
	if err := task.Validate(); err == nil || !strings.Contains(err.Error(), "9 Ankle boot") {
		t.Errorf("class 10: %v", err)
	}
	task.Class = 6
	task.Diffusion.Pretrain.UNet = nil
	if err := task.Validate(); err == nil {
		t.Errorf("no UNet: no error")
	}
	if a, b := NewFMNIST(false).RolloutBytes(16), NewFMNIST(false).RolloutBytes(32); !(a > 1e8 && b == 2*a) {
		t.Errorf("rollout bytes %g for 16 images, %g for 32", a, b)
	}
}
