package tasks

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

func init() {
	algos.RegisterTask(algos.TaskSpec{Name: "fmnist",
		Doc: "Fashion-MNIST images from a UNet; r̂ = a weak classifier's log p(class), the genuine reward a strong one's (ALGORITHMS.md §5)",
		New: func(quick bool) algos.Task { return NewFMNIST(quick) }})
}

// FMNISTConfig holds the settings of the fmnist task.
type FMNISTConfig struct {
	// DataDir is the directory of the four IDX files ("": FashionMNISTDir).
	DataDir string `json:",omitempty"`
	// Class is the label whose log-probability is the reward.
	Class int
	// Strong is the genuine reward's classifier, Weak the nominal one's.
	Strong, Weak FMNISTClassifierConfig
	algos.Diffusion
	// Control is the UNet of the control u_φ (its last convolution starts
	// at zero, so that a fit starts at the pre-trained model).
	Control nn.UNetConfig
	// TestImages > 0 measures the classifiers' accuracy and the Fréchet
	// statistics on the first that many test images (0: all 10,000); the
	// quick preset's 1,000 keep a run on a slow device short.
	TestImages int `json:",omitempty"`
	// AlphaGrid times the spread of r̂ on pre-trained samples, rounded to
	// two significant digits, is the default α grid.
	AlphaGrid []float64
}

// fmnistVP is the schedule of the image model: β from 0.1 to 10 (ᾱ(1) ≈
// 0.006, so x_1 is noise), ending at s = 0.05 where σ ≈ 0.13 in units of
// the pixels' half range. Euler–Maruyama in 25 steps is stable there: the
// last step's βΔt/σ² ≈ 0.8, while ending at 10⁻³ would make it ≈ 1.8 and
// overshoot. The samples are decoded at s_min by Tweedie's formula
// (FMNIST.Decode), so that the grain of σ does not reach the pixels.
var fmnistVP = sde.VP{BetaMin: 0.1, BetaMax: 10, SMin: 0.05}

// The UNet of ε_θ, sized for two cores: widths 16, 32, 32 (158k
// parameters; a DSM step of 128 images ≈ 0.95 s, a forward pass ≈ 3.6 ms
// per image on a 2-core AMD EPYC), and the control's, a quarter of its
// cost.
var (
	fmnistUNet    = nn.UNetConfig{Channels: 1, Height: FMNISTSide, Width: FMNISTSide, C1: 16, C2: 32, C3: 32, Groups: 4, Heads: 4, EmbDim: 32, TimeDim: 64}
	fmnistControl = nn.UNetConfig{Channels: 1, Height: FMNISTSide, Width: FMNISTSide, C1: 8, C2: 16, C3: 16, Groups: 4, Heads: 2, EmbDim: 16, TimeDim: 32}
)

// FMNIST is the fmnist task: a UNet ε_θ pre-trained by denoising score
// matching on the 60,000 training images (pixels p mapped to x = 2p − 1),
// the genuine reward log p(Class | x̂₀) under the strong classifier, the
// nominal reward r̂ the same under the weak one, x̂₀ the sample decoded by
// Tweedie's formula.
type FMNIST struct {
	FMNISTConfig
	quick        bool
	data         *FashionMNIST
	loaded       string
	b            tensor.Backend
	strong, weak *FMNISTClassifier
	strongAcc    float64
	weakAcc      float64
	eps          algos.Net // set by Pretrain: the decoder's denoiser
	oracle       *algos.Oracle
	// The strong classifier's features of the test images: of the class,
	// and of all of them.
	classStats, testStats algos.Moments
}

// NewFMNIST returns the task with its defaults, or its quick preset.
func NewFMNIST(quick bool) *FMNIST {
	u := fmnistUNet
	c := FMNISTConfig{Class: 6, Strong: StrongFMNISTClassifier(), Weak: WeakFMNISTClassifier(),
		Diffusion: algos.Diffusion{VP: fmnistVP, Steps: 25,
			Pretrain: algos.PretrainConfig{Iters: 2000, Batch: 128, LR: 2e-3, Seed: 1, UNet: &u}},
		// α ≈ 0.26 on the default class: at 1.3 (0.5 × the spread)
		// ELEGANT's class fraction rose only from 0.17 to 0.23, at 0.5 to
		// 0.29, at 0.25 to 0.34 (seed 1; README, Images).
		Control: fmnistControl, AlphaGrid: []float64{0.1},
	}
	if quick {
		tiny := nn.UNetConfig{Channels: 1, Height: FMNISTSide, Width: FMNISTSide, C1: 4, C2: 8, C3: 8, Groups: 2, Heads: 2, EmbDim: 8, TimeDim: 16}
		c.Steps = 6
		c.Pretrain = algos.PretrainConfig{Iters: 40, Batch: 32, LR: 3e-3, Seed: 1, UNet: &tiny}
		c.Control = nn.UNetConfig{Channels: 1, Height: FMNISTSide, Width: FMNISTSide, C1: 4, C2: 4, C3: 4, Groups: 2, Heads: 1, EmbDim: 8, TimeDim: 8}
		c.Strong = FMNISTClassifierConfig{Width: 4, Train: 2000, Epochs: 1, Batch: 50, LR: 3e-3, Seed: 1}
		c.Weak = FMNISTClassifierConfig{Width: 4, Train: 500, Epochs: 2, Batch: 50, LR: 3e-3, Seed: 2}
		c.TestImages = 1000
	}
	return &FMNIST{FMNISTConfig: c, quick: quick}
}

// Name implements algos.Task.
func (t *FMNIST) Name() string { return "fmnist" }

// SampleDim is the dimension of a sample (algos.RolloutSizer).
func (t *FMNIST) SampleDim() int { return FMNISTPixels }

// RolloutBytes implements algos.RolloutSizer: per image and step the
// pathwise gradient keeps the activations of ε_θ and of the control, about
// 24 values per unit of their feature maps (convolutions, norms and
// activations of the blocks at 28², 14² and 7²), float32.
func (t *FMNIST) RolloutBytes(batch int) float64 {
	units := func(u nn.UNetConfig) float64 {
		hw := float64(u.Height * u.Width)
		return 24 * (float64(u.C1)*hw + float64(u.C2)*hw/4 + float64(u.C3)*hw/16)
	}
	return float64(batch) * float64(t.Steps) * (units(*t.Diffusion.Pretrain.UNet) + units(t.Control)) * 4
}

// ImageShape is the shape of a sample as an image (report.Imager).
func (t *FMNIST) ImageShape() (channels, height, width int) { return 1, FMNISTSide, FMNISTSide }

// Config implements algos.Task.
func (t *FMNIST) Config() any { return t.FMNISTConfig }

// SetFlags implements algos.FlagSetter.
func (t *FMNIST) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.DataDir, "data", t.DataDir, "directory of the Fashion-MNIST IDX files (empty: "+FashionMNISTDir+")")
	fs.IntVar(&t.Class, "class", t.Class, "the class whose log-probability is the reward, 0–9: "+classList())
	t.Diffusion.SetFlags(fs)
}

// classList is "0 T-shirt/top, 1 Trouser, …".
func classList() string {
	var parts []string
	for i, n := range FMNISTClassNames {
		parts = append(parts, fmt.Sprintf("%d %s", i, n))
	}
	return strings.Join(parts, ", ")
}

// Validate implements algos.Task.
func (t *FMNIST) Validate() error {
	if t.Class < 0 || t.Class >= FMNISTClasses {
		return fmt.Errorf("fmnist: -class must be 0 to 9 (%s), got %d", classList(), t.Class)
	}
	if t.TestImages < 0 {
		return fmt.Errorf("fmnist: test images must be ≥ 0 (0: all), got %d", t.TestImages)
	}
	for _, a := range t.AlphaGrid {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("fmnist: the α grid must hold positive numbers, got %v", a)
		}
	}
	if err := t.Strong.Validate(); err != nil {
		return fmt.Errorf("fmnist: strong classifier: %w", err)
	}
	if err := t.Weak.Validate(); err != nil {
		return fmt.Errorf("fmnist: weak classifier: %w", err)
	}
	if u := t.Diffusion.Pretrain.UNet; u == nil || u.Channels*u.Height*u.Width != FMNISTPixels {
		return fmt.Errorf("fmnist: ε_θ must be a UNet of 1×28×28 images")
	}
	return t.Diffusion.Validate()
}

// Defaults implements algos.Task: ELEGANT, NO KL, Truncation (DRaFT-K)
// and RCGDM; batches of 16 rollouts checkpointed every 5 steps (the
// activations of a whole rollout of ε_θ and the control would be ≈ 0.5 GB
// per 16 images), Monte-Carlo soft values of 32 points × 8 rollouts.
func (t *FMNIST) Defaults() algos.Plan {
	p := algos.Plan{Methods: []string{"elegant", "nokl", "truncation", "rcgdm"}, Seed: 1,
		EvalSamples: 256, TargetSamples: 256,
		Recipe: algos.Recipe{
			Value:         algos.ValueOptions{Points: 32, Rollouts: 8, Iters: 200, Width: 128, LR: 1e-3, Holdout: 0.25},
			Initial:       algos.InitialOptions{Steps: 10, Iters: 50, Width: 128, Batch: 64, LR: 1e-2},
			Drift:         algos.DriftOptions{Iters: 60, Batch: 16, LR: 1e-3, LRMin: 1e-4, ClipNorm: 1, Segment: 5},
			BaselineIters: 60, TruncK: 5,
			// log p ≤ 0: the target is a confidence of 0.9.
			RCGDM: algos.RCGDMOptions{Target: math.Log(0.9), Guidance: 1, LabelNoise: 0.1, Width: 256, Iters: 300, Batch: 128, LR: 1e-3},
			// Not in the default comparison, and not tuned on images:
			// the sizes of rcgdm's predictor, and tfbind8's PPO at batches
			// of 32 rollouts.
			Guidance: algos.GuidanceOptions{Scale: 1, Width: 256, Iters: 300, Batch: 128, LR: 1e-3},
			PPO:      algos.PPOOptions{Beta: -1, Clip: 0.2, AdvClip: 5, Iters: 30, Batch: 32, Epochs: 2, Minibatch: 64, LR: 3e-4, ClipNorm: 1},
		}}
	if t.quick {
		r := &p.Recipe
		r.Value = algos.ValueOptions{Points: 4, Rollouts: 2, Iters: 10, Width: 16, LR: 1e-3}
		r.Initial = algos.InitialOptions{Steps: 3, Iters: 5, Width: 16, Batch: 16, LR: 1e-2}
		r.Drift.Iters, r.Drift.Batch, r.Drift.Segment = 3, 4, 2
		r.BaselineIters, r.TruncK = 3, 2
		r.RCGDM.Width, r.RCGDM.Iters, r.RCGDM.Batch = 16, 5, 16
		r.Guidance.Width, r.Guidance.Iters, r.Guidance.Batch = 16, 5, 16
		r.PPO.Iters, r.PPO.Batch, r.PPO.Minibatch = 2, 8, 16
		p.EvalSamples, p.TargetSamples = 32, 32
	}
	return p
}

// Load implements algos.Loader: it reads the IDX files.
func (t *FMNIST) Load() error {
	if t.data != nil && t.loaded == t.DataDir {
		return nil
	}
	d, err := LoadFashionMNIST(t.DataDir)
	if err != nil {
		return err
	}
	if n := t.TestImages; n > 0 && n < d.Test.Len() {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		d.Test = d.Test.Subset(idx)
	}
	t.data, t.loaded = d, t.DataDir
	return nil
}

// Setup implements algos.Task: it loads the data, trains (or loads) both
// classifiers and computes the strong one's features of the test images.
func (t *FMNIST) Setup(env algos.Env) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := t.Load(); err != nil {
		return err
	}
	var err error
	t.b = env.Backend
	if t.strong, t.strongAcc, err = CachedFMNISTClassifier(env, t.data, t.Strong, "fmnist-strong", "strong classifier"); err != nil {
		return err
	}
	if t.weak, t.weakAcc, err = CachedFMNISTClassifier(env, t.data, t.Weak, "fmnist-weak", "weak classifier"); err != nil {
		return err
	}
	var all, class []float64
	test := t.data.Test
	for lo := 0; lo < test.Len(); lo += fmnistEvalChunk {
		idx := make([]int, min(fmnistEvalChunk, test.Len()-lo))
		for i := range idx {
			idx[i] = lo + i
		}
		autograd.NoGrad(func() {
			_, f := t.strong.Forward(autograd.Const(test.Images(t.b, idx)))
			all = append(all, f.Value.Float64s()...)
		})
	}
	w := t.strong.Features()
	for i, l := range test.Labels {
		if int(l) == t.Class {
			class = append(class, all[i*w:(i+1)*w]...)
		}
	}
	t.testStats, t.classStats = algos.NewMoments(all, w), algos.NewMoments(class, w)
	t.oracle = algos.NewOracle(fmt.Sprintf("log p(%s) under the strong classifier", FMNISTClassNames[t.Class]), t.genuine)
	return nil
}

// Pretrain implements algos.Task: the UNet of PretrainConfig.UNet by
// denoising score matching on the training images (cached).
func (t *FMNIST) Pretrain(env algos.Env) (*algos.Pretrained, error) {
	eps, err := algos.PretrainCached(env, "fmnist-"+t.data.Digest[:12], t.VP, FMNISTPixels, t.Diffusion.Pretrain, t.Data(env.Backend, t.Diffusion.Pretrain.Seed))
	if err != nil {
		return nil, err
	}
	t.eps = eps
	return &algos.Pretrained{VP: t.VP, Steps: t.Steps, Dim: FMNISTPixels, Eps: eps}, nil
}

// Data implements algos.Task: batches of training images drawn uniformly
// (batch i from a seeded stream), x = 2p − 1, [n, 784].
func (t *FMNIST) Data(b tensor.Backend, seed uint64) algos.DataSampler {
	train := t.data.Train
	return func(i, n int) *tensor.Tensor {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		idx := make([]int, n)
		for j := range idx {
			idx[j] = rng.IntN(train.Len())
		}
		p := train.Images(b, idx)
		return tensor.FromFloat64As(b, tensor.Float32, scaleShift(p.Float64s(), 2, -1), n, FMNISTPixels)
	}
}

// scaleShift returns a·v + c elementwise, in place.
func scaleShift(v []float64, a, c float64) []float64 {
	for i := range v {
		v[i] = a*v[i] + c
	}
	return v
}

// Decode maps final states x [n, 784] (at s = s_min) to pixels in about
// [0, 1]: Tweedie's estimate x̂₀ = (x − σ·ε_θ(x, s_min))/√ᾱ, then
// p = (x̂₀ + 1)/2, not clipped (so that it is differentiable). It needs
// Pretrain.
func (t *FMNIST) Decode(x *autograd.Var) *autograd.Var {
	if t.eps == nil {
		panic("tasks: FMNIST.Decode before Pretrain")
	}
	return autograd.Shift(autograd.Scale(t.VP.Denoise(t.eps, x, t.VP.SMin), 0.5), 0.5)
}

// Pixels implements report.Imager: the decoded samples of the rows of x,
// clipped to [0, 1].
func (t *FMNIST) Pixels(x []float64) []float64 {
	var out []float64
	n := len(x) / FMNISTPixels
	for lo := 0; lo < n; lo += fmnistDecodeChunk {
		hi := min(n, lo+fmnistDecodeChunk)
		in := tensor.FromFloat64As(t.b, tensor.Float32, x[lo*FMNISTPixels:hi*FMNISTPixels], hi-lo, FMNISTPixels)
		autograd.NoGrad(func() { out = append(out, t.Decode(autograd.Const(in)).Value.Float64s()...) })
	}
	for i, v := range out {
		out[i] = min(1, max(0, v))
	}
	return out
}

// fmnistDecodeChunk is the samples decoded at once without gradients
// (the UNet's activations of 250 images ≈ 60 MB).
const fmnistDecodeChunk = 250

// classified is what the two classifiers say of decoded samples.
type classified struct {
	nominal  []float64 // weak log p(class), unclipped pixels
	genuine  []float64 // strong log p(class), clipped pixels
	label    []int     // strong argmax
	maxProb  []float64 // strong max probability
	features []float64 // strong features [n, Features()]
}

// classify decodes the rows of x and classifies them with both classifiers.
func (t *FMNIST) classify(x []float64) classified {
	var c classified
	n := len(x) / FMNISTPixels
	for lo := 0; lo < n; lo += fmnistDecodeChunk {
		hi := min(n, lo+fmnistDecodeChunk)
		in := tensor.FromFloat64As(t.b, tensor.Float32, x[lo*FMNISTPixels:hi*FMNISTPixels], hi-lo, FMNISTPixels)
		autograd.NoGrad(func() {
			p := t.Decode(autograd.Const(in))
			weak := t.weak.LogProbs(p).Value.Float64s()
			logp, f := t.strong.Forward(autograd.Clamp(p, 0, 1))
			strong := logp.Value.Float64s()
			for i := range hi - lo {
				c.nominal = append(c.nominal, weak[i*FMNISTClasses+t.Class])
				row := strong[i*FMNISTClasses : (i+1)*FMNISTClasses]
				best := 0
				for k, v := range row {
					if v > row[best] {
						best = k
					}
				}
				c.genuine = append(c.genuine, row[t.Class])
				c.label = append(c.label, best)
				c.maxProb = append(c.maxProb, math.Exp(row[best]))
			}
			c.features = append(c.features, f.Value.Float64s()...)
		})
	}
	return c
}

// genuine is the oracle: strong log p(class) of every decoded row.
func (t *FMNIST) genuine(x []float64) []float64 { return t.classify(x).genuine }

// Nominal implements algos.Task: the weak classifier's log p(class) of the
// decoded sample, differentiable in x through the frozen ε_θ.
func (t *FMNIST) Nominal() algos.Reward { return fmnistReward{t} }

// Oracle implements algos.Task.
func (t *FMNIST) Oracle() *algos.Oracle { return t.oracle }

// fmnistReward is r̂ of the fmnist task.
type fmnistReward struct{ t *FMNIST }

// Eval implements algos.Reward.
func (r fmnistReward) Eval(x *autograd.Var) *autograd.Var {
	n := x.Shape()[0]
	logp := r.t.weak.LogProbs(r.t.Decode(autograd.Reshape(x, n, FMNISTPixels)))
	return autograd.Reshape(autograd.Slice(logp, 1, r.t.Class, r.t.Class+1), n)
}

// Values implements algos.Reward.
func (r fmnistReward) Values(x []float64) []float64 { return r.t.classify(x).nominal }

// String implements algos.Reward.
func (r fmnistReward) String() string {
	return fmt.Sprintf("log p(%s) under the weak classifier", FMNISTClassNames[r.t.Class])
}

// NewControl implements algos.Task: a small UNet whose last convolution
// is zero, so that the fit starts at the pre-trained model.
func (t *FMNIST) NewControl(float64) func(*nn.Init, int) algos.Net {
	return func(init *nn.Init, _ int) algos.Net {
		u := nn.NewUNet(init, t.Control)
		u.Out.W.Value = tensor.ZerosLike(u.Out.W.Value)
		u.Out.B.Value = tensor.ZerosLike(u.Out.B.Value)
		return u
	}
}

// Alphas implements algos.Task: the grid times r̂'s spread.
func (t *FMNIST) Alphas(spread float64) []float64 {
	var out []float64
	for _, m := range t.AlphaGrid {
		out = append(out, roundSignificant(m*spread, 2))
	}
	return out
}

// Evaluate implements algos.Task: r̂ and the genuine reward, the fraction
// of samples the strong classifier puts in the class and its mean
// confidence, the diversity and the Fréchet distances of the strong
// classifier's features to the test images of the class and to all of
// them, and the KL.
func (t *FMNIST) Evaluate(x, kl []float64, _ float64) algos.MethodSummary {
	var s algos.MethodSummary
	c := t.classify(x)
	s.RewardNominal = algos.Number(algos.Mean(c.nominal))
	s.RewardGenuine = algos.Number(algos.Mean(c.genuine))
	in := 0
	for _, l := range c.label {
		if l == t.Class {
			in++
		}
	}
	s.SetExtra("class_fraction", float64(in)/float64(len(c.label)))
	s.SetExtra("max_prob", algos.Mean(c.maxProb))
	w := t.strong.Features()
	s.Diversity = algos.Number(algos.Diversity(c.features, w))
	st := algos.NewMoments(c.features, w)
	s.SetExtra("fid_class", algos.FrechetDistance(st, t.classStats))
	s.SetExtra("fid_all", algos.FrechetDistance(st, t.testStats))
	if kl != nil {
		s.KL = algos.Number(algos.Mean(kl))
	}
	if !s.RewardNominal.Finite() {
		s.Note("reward_nominal", "not finite: the samples overflowed float32 (the method diverged)")
	}
	return s
}

// Monitor implements algos.Task: the genuine reward and the class fraction
// of the batch.
func (t *FMNIST) Monitor(x []float64) map[string]algos.Number {
	c := t.classify(x)
	in := 0
	for _, l := range c.label {
		if l == t.Class {
			in++
		}
	}
	return map[string]algos.Number{"genuine": algos.Number(algos.Mean(c.genuine)), "class_fraction": algos.Number(float64(in) / float64(len(c.label)))}
}

// Columns implements algos.Task.
func (t *FMNIST) Columns() []algos.Column {
	return []algos.Column{
		{Key: "reward_nominal", Title: "r̂ (weak log p)"}, {Key: "reward_genuine", Title: "strong log p"},
		{Key: "class_fraction", Title: "in class"}, {Key: "max_prob", Title: "confidence"},
		{Key: "fid_class", Title: "FD class"}, {Key: "fid_all", Title: "FD all"},
		{Key: "diversity", Title: "diversity"}, {Key: "kl", Title: "KL"},
	}
}

// FMNISTDetails is what Details reports of the classifiers and of the
// pre-trained model's samples.
type FMNISTDetails struct {
	StrongAccuracy algos.Number `json:"strong_accuracy"`
	WeakAccuracy   algos.Number `json:"weak_accuracy"`
	// Histogram is the fraction of the pre-trained samples the strong
	// classifier assigns to each class; Data the same of the test images
	// (their labels).
	Histogram     []float64    `json:"class_histogram"`
	DataHistogram []float64    `json:"class_histogram_data"`
	MaxProb       algos.Number `json:"max_prob"`
	FIDAll        algos.Number `json:"fid_all"`
	// FIDTrain is the Fréchet distance between as many training images and
	// the test images: the floor of FIDAll at that sample size.
	FIDTrain algos.Number `json:"fid_train_floor"`
	Samples  int          `json:"samples"`
}

// Details implements algos.Describer: the classifiers' accuracy and the
// pre-trained model's class histogram, confidence and Fréchet distance,
// against the data's.
func (t *FMNIST) Details(pre []float64) map[string]any {
	c := t.classify(pre)
	d := FMNISTDetails{StrongAccuracy: algos.Number(t.strongAcc), WeakAccuracy: algos.Number(t.weakAcc),
		Histogram: make([]float64, FMNISTClasses), DataHistogram: make([]float64, FMNISTClasses),
		MaxProb: algos.Number(algos.Mean(c.maxProb)), Samples: len(c.label)}
	for _, l := range c.label {
		d.Histogram[l] += 1 / float64(len(c.label))
	}
	for _, l := range t.data.Test.Labels {
		d.DataHistogram[l] += 1 / float64(t.data.Test.Len())
	}
	w := t.strong.Features()
	d.FIDAll = algos.Number(algos.FrechetDistance(algos.NewMoments(c.features, w), t.testStats))
	// The floor: as many training images, through the same classifier.
	idx := make([]int, min(len(c.label), t.data.Train.Len()))
	for i := range idx {
		idx[i] = i
	}
	var f []float64
	autograd.NoGrad(func() {
		for lo := 0; lo < len(idx); lo += fmnistEvalChunk {
			_, ft := t.strong.Forward(autograd.Const(t.data.Train.Images(t.b, idx[lo:min(lo+fmnistEvalChunk, len(idx))])))
			f = append(f, ft.Value.Float64s()...)
		}
	})
	d.FIDTrain = algos.Number(algos.FrechetDistance(algos.NewMoments(f, w), t.testStats))
	return map[string]any{"fmnist": d}
}

// Markdown implements report.Describer.
func (t *FMNIST) Markdown(s algos.Summary) string {
	d, ok := s.Details["fmnist"].(FMNISTDetails)
	if !ok {
		return ""
	}
	var b strings.Builder
	u := t.Diffusion.Pretrain.UNet
	fmt.Fprintf(&b, "Reward: log p(%s) (class %d). Strong classifier (genuine reward) %.1f%% test accuracy, weak (r̂) %.1f%%.\n\n",
		FMNISTClassNames[t.Class], t.Class, 100*float64(d.StrongAccuracy), 100*float64(d.WeakAccuracy))
	fmt.Fprintf(&b, "Pre-trained UNet (widths %d/%d/%d, %d DSM steps × %d), %d samples: the strong classifier's mean confidence %.3f; Fréchet distance of its features to the test images %.3f (%d training images: %.3f).\n\n",
		u.C1, u.C2, u.C3, t.Diffusion.Pretrain.Iters, t.Diffusion.Pretrain.Batch, d.Samples, float64(d.MaxProb), float64(d.FIDAll), d.Samples, float64(d.FIDTrain))
	b.WriteString("| class | pre-trained | data |\n|---|---|---|\n")
	for k := range FMNISTClasses {
		fmt.Fprintf(&b, "| %d %s | %.3f | %.3f |\n", k, FMNISTClassNames[k], d.Histogram[k], d.DataHistogram[k])
	}
	b.WriteString("\n")
	return b.String()
}
