package tasks

import (
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"

	// The Vulkan backend registers itself as "vulkan".
	_ "github.com/difftune/difftune/shaders"
)

// fmnistFull trains the strong and the weak classifier on all of
// Fashion-MNIST and reports their test accuracy and training time (minutes
// on two cores):
//
//	go test -run TestFMNISTClassifiersFull -timeout 2h -v ./algos/tasks/ -args -fmnist-full
var fmnistFull = flag.Bool("fmnist-full", false, "train the strong and weak Fashion-MNIST classifiers on the real data and report their accuracy")

// TestFMNISTClassifierGradients checks the CNN's gradients, with respect to
// its parameters and its input, against finite differences (float64, a
// tiny 8 × 8 input).
func TestFMNISTClassifierGradients(t *testing.T) {
	b := tensor.CPU()
	m := NewFMNISTClassifier(&nn.Init{Backend: b, DType: tensor.Float64, Seed: 3}, 2)
	x := autograd.Param(tensor.RandUniform(b, tensor.Float64, 4, 1, 2, 1, 8, 8))
	w := autograd.Const(tensor.RandNormal(b, tensor.Float64, 4, 2, 2, FMNISTClasses+m.Features()))
	f := func(in []*autograd.Var) *autograd.Var {
		logp, feat := m.Forward(in[0])
		// A weighted sum of both outputs reaches every parameter.
		return autograd.SumAll(autograd.Mul(autograd.Concat(1, logp, feat), w))
	}
	inputs := append([]*autograd.Var{x}, nn.Vars(m)...)
	if err := autograd.CheckGradients(f, inputs, 1e-6, 1e-5); err != nil {
		t.Fatal(err)
	}
}

// syntheticFMNIST is a data set of noisy images whose class is the row of
// a bright horizontal band (for what needs no real data).
func syntheticFMNIST(train, test int, seed uint64) *FashionMNIST {
	rng := rand.New(rand.NewPCG(seed, 1))
	set := func(n int) ImageSet {
		s := ImageSet{Pixels: make([]uint8, n*FMNISTPixels), Labels: make([]uint8, n)}
		for i := range n {
			l := rng.IntN(FMNISTClasses)
			s.Labels[i] = uint8(l)
			top := 2 + 5*l/2
			for p := range FMNISTPixels {
				v := rng.Float64() * 160
				if r := p / FMNISTSide; r >= top && r < top+4 && p%FMNISTSide >= 4 && p%FMNISTSide < 24 {
					v += 95
				}
				s.Pixels[i*FMNISTPixels+p] = uint8(v)
			}
		}
		return s
	}
	return &FashionMNIST{Dir: "synthetic", Train: set(train), Test: set(test), Digest: "synthetic"}
}

// TestTrainFMNISTClassifier: 64 steps on 512 real training images (about
// 5 s) lift the accuracy on 500 test images far above chance (10%) and
// the untrained network's; the progress and the log see every step.
func TestTrainFMNISTClassifier(t *testing.T) {
	b := tensor.CPU()
	full := realFMNIST(t)
	d := &FashionMNIST{Dir: full.Dir, Train: full.Train, Test: full.Test.Subset(first(500)), Digest: full.Digest}
	c := FMNISTClassifierConfig{Width: 8, Train: 512, Epochs: 4, Batch: 32, LR: 2e-3, Seed: 7}
	start := time.Now()
	var ticks, events int
	h := algos.Hooks{Progress: func(string, int, int) { ticks++ }, Log: func(algos.Event) { events++ }}
	m, acc, err := TrainFMNISTClassifier(b, d, c, "tiny classifier", h)
	if err != nil {
		t.Fatal(err)
	}
	untrained := NewFMNISTClassifier(&nn.Init{Backend: b, DType: tensor.Float32, Seed: c.Seed}, c.Width).Accuracy(b, d.Test, 0)
	t.Logf("test accuracy %.3f after %d steps (%.1fs), %.3f untrained", acc, ticks, time.Since(start).Seconds(), untrained)
	if steps := c.Epochs * c.Train / c.Batch; ticks != steps || events != 2 {
		t.Errorf("%d progress ticks and %d log events for %d steps", ticks, events, steps)
	}
	if acc < 0.4 || acc < untrained+0.25 {
		t.Errorf("test accuracy %.3f after training, %.3f untrained: want ≥ 0.4", acc, untrained)
	}
	if got := m.Accuracy(b, d.Test, 0); got != acc {
		t.Errorf("accuracy %.4f, then %.4f", acc, got)
	}
}

// first is 0, 1, …, n−1.
func first(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// TestCachedFMNISTClassifier: training twice from one seed gives the same
// weights (the cache's training against a direct one), and the cache hands
// back that model, frozen, with its accuracy; another configuration trains
// anew.
func TestCachedFMNISTClassifier(t *testing.T) {
	b := tensor.CPU()
	d := syntheticFMNIST(96, 40, 1)
	c := FMNISTClassifierConfig{Width: 2, Train: 64, Epochs: 2, Batch: 16, LR: 5e-3, Seed: 3}
	m, acc, err := TrainFMNISTClassifier(b, d, c, "tiny classifier", algos.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	env := algos.Env{Backend: b, Cache: t.TempDir(), Hooks: algos.Hooks{Notice: func(s string) { notices = append(notices, s) }}}
	cached, cacc, err := CachedFMNISTClassifier(env, d, c, "fmnist-tiny", "tiny classifier")
	if err != nil {
		t.Fatal(err)
	}
	loaded, lacc, err := CachedFMNISTClassifier(env, d, c, "fmnist-tiny", "tiny classifier")
	if err != nil {
		t.Fatal(err)
	}
	if !sameWeights(cached, m) {
		t.Error("two trainings of one seed differ")
	}
	if !sameWeights(loaded, m) || cacc != acc || lacc != acc {
		t.Errorf("cached and loaded classifiers (accuracy %.4f, %.4f) differ from the trained one (%.4f)", cacc, lacc, acc)
	}
	if len(notices) != 3 || !strings.HasPrefix(notices[2], "loaded the tiny classifier") {
		t.Errorf("notices %q: want a training, a caching, a load", notices)
	}
	if loaded.Params()[0].RequiresGrad() {
		t.Error("the cached classifier is trainable")
	}
	c.Seed++
	other, _, err := CachedFMNISTClassifier(env, d, c, "fmnist-tiny", "tiny classifier")
	if err != nil {
		t.Fatal(err)
	}
	if sameWeights(other, m) || len(notices) != 5 {
		t.Errorf("another seed: the same weights, or notices %q", notices[3:])
	}
	c.Epochs = 0
	if _, _, err := CachedFMNISTClassifier(env, d, c, "fmnist-tiny", "tiny classifier"); err == nil || !strings.Contains(err.Error(), "0 epochs") {
		t.Errorf("0 epochs: %v", err)
	}
}

// sameWeights reports whether two modules hold bit-identical parameters.
func sameWeights(a, b nn.Module) bool {
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i].Name != pb[i].Name || !slices.Equal(pa[i].Value.Float32s(), pb[i].Value.Float32s()) {
			return false
		}
	}
	return true
}

// TestFMNISTClassifierVulkan: the forward pass on Vulkan (which must open
// in CI, CI=true) agrees with the CPU's on a small batch, both outputs.
func TestFMNISTClassifierVulkan(t *testing.T) {
	vk, err := tensor.Open("vulkan")
	switch {
	case err == nil:
	case os.Getenv("CI") == "true":
		t.Fatalf("no Vulkan device in CI: %v", err)
	default:
		t.Skipf("no Vulkan device: %v", err)
	}
	d := syntheticFMNIST(0, 6, 2)
	idx := first(6)
	var outs [2][2][]float32
	for i, b := range []tensor.Backend{tensor.CPU(), vk} {
		m := NewFMNISTClassifier(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 5}, 4)
		autograd.NoGrad(func() {
			logp, feat := m.Forward(autograd.Const(d.Test.Images(b, idx)))
			outs[i] = [2][]float32{logp.Value.Float32s(), feat.Value.Float32s()}
		})
	}
	for k, what := range []string{"log-probabilities", "features"} {
		cpu, gpu := outs[0][k], outs[1][k]
		worst := 0.0
		for i := range cpu {
			worst = max(worst, math.Abs(float64(cpu[i]-gpu[i])))
		}
		if len(cpu) != len(gpu) || worst > 1e-4 {
			t.Errorf("%s: Vulkan differs from the CPU by %g", what, worst)
		}
	}
}

// TestFMNISTClassifiersFull (-fmnist-full) trains both presets on the real
// data and reports what they reach.
func TestFMNISTClassifiersFull(t *testing.T) {
	if !*fmnistFull {
		t.Skip("trains for minutes: -fmnist-full")
	}
	d := realFMNIST(t)
	for _, p := range []struct {
		name string
		c    FMNISTClassifierConfig
	}{{"weak", WeakFMNISTClassifier()}, {"strong", StrongFMNISTClassifier()}} {
		start := time.Now()
		last := time.Now()
		h := algos.Hooks{Log: func(e algos.Event) {
			if time.Since(last) > 30*time.Second {
				t.Logf("%s step %d loss %.4f (%.0fs)", p.name, e.Iter, float64(e.Loss), time.Since(start).Seconds())
				last = time.Now()
			}
		}}
		m, acc, err := TrainFMNISTClassifier(tensor.CPU(), d, p.c, p.name, h)
		if err != nil {
			t.Fatal(err)
		}
		trainAcc := m.Accuracy(tensor.CPU(), d.Train, 10000)
		t.Logf("%s %+v: test accuracy %.4f (train %.4f on 10k), %.0fs", p.name, p.c, acc, trainAcc, time.Since(start).Seconds())
	}
}
