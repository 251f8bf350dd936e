package tasks

import (
	"flag"
	"fmt"
	"io"
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
	algos.RegisterTask(algos.TaskSpec{Name: "tfbind8",
		Doc: "DNA 8-mers scored by the SIX6 binding landscape; r̂ is an MLP fit on half of them (ALGORITHMS.md §5)",
		New: func(quick bool) algos.Task { return NewTFBind8(quick) }})
}

// RewardModelConfig sets the nominal reward r̂ of tfbind8: an MLP
// 32 → Width (×Depth, SiLU) → 1 with a sigmoid output, fit by least squares
// to y on one half of the sequences (Split: random or bottom).
type RewardModelConfig struct {
	Split        string
	Width, Depth int
	Iters, Batch int
	LR           float64
	Seed         uint64
}

// TFBind8Config holds the settings of the tfbind8 task.
type TFBind8Config struct {
	// Landscape is the landscape file ("": the embedded SIX6 landscape).
	Landscape string
	// PretrainHalf is the data of the diffusion model: "all" (every 8-mer,
	// uniformly) or "bottom" (the half of lowest y, SEIKO's setting: the
	// high-y region is then rare under the pre-trained model, which is when
	// exploration matters).
	PretrainHalf string `json:",omitempty"`
	Reward       RewardModelConfig
	algos.Diffusion
	// AlphaGrid times the spread of r̂ on pre-trained samples, rounded to
	// two significant digits, is the default α grid.
	AlphaGrid []float64
	// ControlWidth is the hidden width of the control u_φ (RewardControl);
	// WarmStart starts it at the guided drift σ²∇_x r̂(x̂₀)/α instead of 0.
	ControlWidth int
	WarmStart    bool
	// MeanFieldSteps ≥ 1 gives the control of a run at α > 0 the mean-field
	// tilted feature at that α after that many fixed-point steps
	// (RewardControl.Tilt, TiltSteps); 0 keeps its first-order expansion.
	MeanFieldSteps int
}

// tfbind8VP is the VP schedule of ALGORITHMS.md §0 ending at s_min = 0.05
// rather than 1e-3. The score of one-hot data sharpens like 1/σ_s² as
// s → 0, and samples still between two letters in the last steps make the
// pathwise gradient heavy-tailed: with the control at the guided drift,
// batches of 512 gave estimates of −12 … 16 for a derivative of ≈ 0.13 (by
// finite differences) ending at 1e-3, and 0.04 … 0.14 against ≈ 0.11
// ending at 0.05. At s = 0.05, σ_s ≈ 0.17 against a unit margin between
// letters, so argmax decoding is still exact.
var tfbind8VP = sde.VP{BetaMin: 0.1, BetaMax: 20, SMin: 0.05}

// TFBind8 is the tfbind8 task: the landscape's y as the genuine reward, an
// MLP r̂ fit on half of the sequences as the nominal one, a transformer ε_θ
// pre-trained on all 4⁸ sequences, and targets by enumeration.
type TFBind8 struct {
	TFBind8Config
	quick  bool
	land   *Landscape
	loaded string // the Landscape that land was read from
	train  []bool // [NumSeqs]: inside r̂'s training half
	pool   []int  // the sequences of the pre-training data (PretrainHalf)
	reward *MLPReward
	rhat   []float64 // r̂ of every sequence's vertex
	oracle *algos.Oracle
}

// NewTFBind8 returns the task with its defaults, or its quick preset.
func NewTFBind8(quick bool) *TFBind8 {
	c := TFBind8Config{
		Reward: RewardModelConfig{Split: "random", Width: 128, Depth: 2, Iters: 3000, Batch: 256, LR: 1e-3, Seed: 1},
		Diffusion: algos.Diffusion{VP: tfbind8VP, Steps: 50,
			Pretrain: algos.PretrainConfig{Tokens: SeqLen, Width: 32, Depth: 1, Heads: 4, EmbDim: 32, Iters: 3000, Batch: 512, LR: 1e-3, Seed: 1}},
		AlphaGrid: []float64{0.5, 1, 2}, ControlWidth: 128, WarmStart: true, MeanFieldSteps: 2,
	}
	if quick {
		c.Steps = 20
		c.Pretrain.Iters, c.Pretrain.Batch, c.Pretrain.LR = 600, 256, 3e-3
		c.Reward.Iters = 600
		c.AlphaGrid = []float64{0.5}
	}
	return &TFBind8{TFBind8Config: c, quick: quick}
}

// Name implements algos.Task.
func (t *TFBind8) Name() string { return "tfbind8" }

// SampleDim is the dimension of a sample (algos.RolloutSizer).
func (t *TFBind8) SampleDim() int { return OneHotDim }

// Config implements algos.Task.
func (t *TFBind8) Config() any { return t.TFBind8Config }

// SetFlags implements algos.FlagSetter.
func (t *TFBind8) SetFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.Landscape, "landscape", t.Landscape, "landscape file (8-mer, reverse complement, E-score, median, Z-score); empty: the embedded SIX6 landscape")
	fs.StringVar(&t.Reward.Split, "reward-split", t.Reward.Split, "half of the sequences that r̂ is fit on: random or bottom (lowest y)")
	fs.StringVar(&t.PretrainHalf, "pretrain-half", t.PretrainHalf, "data of the diffusion model: all (every 8-mer) or bottom (the half of lowest y)")
	t.Diffusion.SetFlags(fs)
}

// UseOnline implements algos.OnlineTask: unless their flags were given, the
// diffusion model learns the bottom half of the sequences by y, and r̂ (the
// features of the control, RewardControl) the same half, so that neither
// knows the high-y region that the online methods must find by queries.
func (t *TFBind8) UseOnline(set map[string]bool) {
	if !set["pretrain-half"] {
		t.PretrainHalf = "bottom"
	}
	if !set["reward-split"] {
		t.Reward.Split = "bottom"
	}
}

// Validate implements algos.Task.
func (t *TFBind8) Validate() error {
	if t.Reward.Split != "random" && t.Reward.Split != "bottom" {
		return fmt.Errorf("reward split must be random or bottom, got %q", t.Reward.Split)
	}
	if t.PretrainHalf != "" && t.PretrainHalf != "all" && t.PretrainHalf != "bottom" {
		return fmt.Errorf("-pretrain-half must be all or bottom, got %q", t.PretrainHalf)
	}
	for _, a := range t.AlphaGrid {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("tfbind8: the α grid must hold positive numbers, got %v", a)
		}
	}
	rc := t.Reward
	switch {
	case t.ControlWidth < 0:
		return fmt.Errorf("tfbind8: control width %d", t.ControlWidth)
	case rc.Iters < 1 || rc.Batch < 1 || rc.Width < 1 || rc.Depth < 1 || !(rc.LR > 0) || math.IsInf(rc.LR, 0):
		return fmt.Errorf("tfbind8: reward model needs iters, batch, width and depth ≥ 1 and a finite lr > 0")
	}
	return t.Diffusion.Validate()
}

// Defaults implements algos.Task. What the pathwise methods needed to
// converge: the sampler ending at s = 0.05 (tfbind8VP), the control
// RewardControl started at its first-order guess, gradient clipping at norm
// 1, Adam 3e-3 cosine-decayed to 3e-4 over 150 batches of 128, and step 1's
// holdout shrinkage (its Monte-Carlo soft values are noise here; fitting
// them cost ≈ 0.09 of KL in step 2 at α = 0.073).
func (t *TFBind8) Defaults() algos.Plan {
	p := algos.Plan{Methods: []string{"elegant", "nokl", "truncation", "random", "guidance", "ppokl"}, Seed: 1,
		EvalSamples: 2000, TargetSamples: 20000,
		Recipe: algos.Recipe{
			Value:         algos.ValueOptions{Points: 128, Rollouts: 64, Iters: 300, Width: 64, LR: 1e-3, Holdout: 0.25},
			Initial:       algos.InitialOptions{Steps: 20, Iters: 100, Width: 64, Batch: 256, LR: 1e-2},
			Drift:         algos.DriftOptions{Iters: 150, Batch: 128, LR: 3e-3, LRMin: 3e-4, ClipNorm: 1},
			BaselineIters: 100, TruncK: 10,
			Guidance: algos.GuidanceOptions{Scale: 100, Width: 128, Iters: 1500, Batch: 512, LR: 1e-3},
			PPO:      algos.PPOOptions{Beta: -1, Clip: 0.2, AdvClip: 5, Iters: 100, Batch: 256, Epochs: 2, Minibatch: 1024, LR: 3e-4, ClipNorm: 1},
		}}
	p.Recipe.SEIKO = algos.DefaultSEIKOOptions()
	p.Recipe.SEIKO.Noise = 0.01 // y in [0, 1]: 1 % of its scale, as the authors' 0.1 on ≈ 10
	if t.quick {
		r := &p.Recipe
		r.SEIKO.Schedule, r.SEIKO.Iters, r.SEIKO.Model.Iters, r.SEIKO.CurveSamples = []int{64, 128}, 8, 150, 256
		r.Drift.Iters, r.Drift.Batch = 20, 128
		r.BaselineIters = 15
		r.Value.Points, r.Value.Rollouts, r.Value.Iters = 64, 16, 150
		r.Initial.Iters, r.Initial.Batch = 40, 128
		r.Guidance.Iters, r.Guidance.Batch = 200, 256
		r.PPO.Iters, r.PPO.Batch = 10, 128
		p.EvalSamples, p.TargetSamples = 500, 2000
	}
	return p
}

// Load implements algos.Loader: it reads the landscape.
func (t *TFBind8) Load() error {
	if t.land != nil && t.loaded == t.Landscape {
		return nil
	}
	land, err := OpenLandscape(t.Landscape)
	if err != nil {
		return err
	}
	t.land, t.loaded = land, t.Landscape
	return nil
}

// Setup implements algos.Task: it loads the landscape, splits it and fits r̂
// (or loads it from the cache).
func (t *TFBind8) Setup(env algos.Env) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := t.Load(); err != nil {
		return err
	}
	land := t.land
	train, err := land.Split(t.Reward.Split, t.Reward.Seed)
	if err != nil {
		return err
	}
	rc := t.Reward
	hidden := make([]int, rc.Depth)
	for i := range hidden {
		hidden[i] = rc.Width
	}
	spec := fmt.Sprintf("mlp r̂ %d×%d fit on the %s half", rc.Depth, rc.Width, rc.Split)
	fresh := func() *MLPReward {
		return NewMLPReward(&nn.Init{Backend: env.Backend, DType: tensor.Float32, Seed: rc.Seed}, spec, OneHotDim, hidden...)
	}
	key := struct {
		Task      string
		Landscape string // digest of the E-scores
		Reward    RewardModelConfig
	}{"tfbind8-reward", land.Digest(), rc}
	fit := func() (*MLPReward, error) { return fitRewardModel(fresh(), land, train, rc, env.Hooks) }
	r, err := algos.CachedModel(env, "tfbind8-reward", "reward model r̂", fmt.Sprintf("%d steps × batch %d", rc.Iters, rc.Batch), key, fresh, fit)
	if err != nil {
		return err
	}
	nn.SetTrainable(r, false)
	t.land, t.train, t.reward = land, train, r
	t.pool = nil
	bottom := train
	if t.bottomPretrained() && t.Reward.Split != "bottom" {
		if bottom, err = land.Split("bottom", 0); err != nil {
			return err
		}
	}
	for q := range NumSeqs {
		if !t.bottomPretrained() || bottom[q] {
			t.pool = append(t.pool, q)
		}
	}
	t.rhat = t.allSequenceRewards()
	t.oracle = algos.NewOracle("y: the "+land.Path+" landscape", t.genuine)
	return nil
}

// genuine is y of the decoded sequence of every row.
func (t *TFBind8) genuine(x []float64) []float64 {
	seqs, _ := DecodeAll(x)
	y := make([]float64, len(seqs))
	for i, q := range seqs {
		y[i] = t.land.Y[q]
	}
	return y
}

// bottomPretrained reports whether the diffusion model learns the bottom
// half of the sequences only.
func (t *TFBind8) bottomPretrained() bool { return t.PretrainHalf == "bottom" }

// Pretrain implements algos.Task: a transformer over the 8 positions, of
// the pool of PretrainHalf (cached under a name that carries the
// landscape's digest when the pool depends on it).
func (t *TFBind8) Pretrain(env algos.Env) (*algos.Pretrained, error) {
	name := "tfbind8"
	if t.bottomPretrained() {
		name = "tfbind8-bottom-" + t.land.Digest()[:12]
	}
	eps, err := algos.PretrainCached(env, name, t.VP, OneHotDim, t.Diffusion.Pretrain, t.Data(env.Backend, t.Diffusion.Pretrain.Seed))
	if err != nil {
		return nil, err
	}
	return &algos.Pretrained{VP: t.VP, Steps: t.Steps, Dim: OneHotDim, Eps: eps}, nil
}

// Data implements algos.Task: the pool of PretrainHalf (all 4⁸ sequences,
// or the bottom half), i.e. one-hot encodings of sequences drawn uniformly
// from it (batch i from a seeded stream). It needs Setup.
func (t *TFBind8) Data(b tensor.Backend, seed uint64) algos.DataSampler {
	pool := t.pool
	return func(i, n int) *tensor.Tensor {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		idx := make([]int, n)
		for j := range idx {
			if len(pool) == NumSeqs {
				idx[j] = rng.IntN(NumSeqs) // the stream of the uniform data, as before pools
			} else {
				idx[j] = pool[rng.IntN(len(pool))]
			}
		}
		return tensor.FromFloat64As(b, tensor.Float32, OneHots(idx), n, OneHotDim)
	}
}

// Nominal implements algos.Task.
func (t *TFBind8) Nominal() algos.Reward { return t.reward }

// Oracle implements algos.Task: y of the decoded sequence.
func (t *TFBind8) Oracle() *algos.Oracle { return t.oracle }

// LandscapeData returns the loaded landscape (nil before Setup).
func (t *TFBind8) LandscapeData() *Landscape { return t.land }

// NewControl implements algos.Task: the control of a run with KL weight α
// starts at the guided drift of RewardControl with Scale = 1/α, and with
// the mean-field tilted feature at α; without KL, at zero.
func (t *TFBind8) NewControl(alpha float64) func(*nn.Init, int) algos.Net {
	scale := 0.0
	if t.WarmStart && alpha > 0 {
		scale = 1 / alpha
	}
	return func(init *nn.Init, _ int) algos.Net {
		ctrl := NewRewardControl(init, t.VP, t.reward, t.ControlWidth, scale)
		if t.MeanFieldSteps > 0 && alpha > 0 {
			ctrl.Tilt, ctrl.TiltSteps = alpha, t.MeanFieldSteps
		}
		return ctrl
	}
}

// Alphas implements algos.Task: the grid times r̂'s spread.
func (t *TFBind8) Alphas(spread float64) []float64 {
	var out []float64
	for _, m := range t.AlphaGrid {
		out = append(out, roundSignificant(m*spread, 2))
	}
	return out
}

// ExactTarget implements algos.ExactTargeter: p* ∝ exp(r̂/α)·p_data over
// the data, the uniform law on the pool of PretrainHalf, by enumeration:
// E*[r̂], E*[y] and KL(p* ‖ p_data).
func (t *TFBind8) ExactTarget(alpha float64) (algos.Exact, error) {
	rhat := make([]float64, len(t.pool))
	for i, q := range t.pool {
		rhat[i] = t.rhat[q]
	}
	reward, kl, _, w := algos.SelfNormalizedTilt(rhat, alpha)
	var genuine float64
	for i, wi := range w {
		genuine += wi * t.land.Y[t.pool[i]]
	}
	return algos.Exact{Reward: algos.Number(reward), KL: algos.Number(kl), Genuine: new(algos.Number(genuine))}, nil
}

// Evaluate implements algos.Task: r̂ on x_T and on the decoded one-hot
// sequence, y (mean, top 10 %, max), KL, Hamming diversity, distance of x_T
// from its vertex, fractions in r̂'s half and unique.
func (t *TFBind8) Evaluate(x, kl []float64, _ float64) algos.MethodSummary {
	var s algos.MethodSummary
	seqs, dist := DecodeAll(x)
	y := t.oracle.Score(x)
	inTrain := 0
	for _, q := range seqs {
		if t.train[q] {
			inTrain++
		}
	}
	s.RewardNominal = algos.Number(algos.Mean(t.reward.Batch(x)))
	s.SetExtra("reward_nominal_decoded", algos.Mean(t.reward.Batch(OneHots(seqs))))
	s.RewardGenuine = algos.Number(algos.Mean(y))
	s.SetExtra("reward_genuine_top10", algos.TopMean(y, 0.1))
	s.SetExtra("reward_genuine_max", algos.TopMean(y, 0))
	if kl != nil {
		s.KL = algos.Number(algos.Mean(kl))
	}
	s.Diversity = algos.Number(HammingDiversity(seqs))
	s.SetExtra("vertex_distance", algos.Mean(dist))
	s.SetExtra("in_train_half", float64(inTrain)/float64(len(seqs)))
	s.SetExtra("unique", UniqueFraction(seqs))
	for name, v := range map[string]algos.Number{"reward_nominal": s.RewardNominal, "kl": s.KL, "vertex_distance": s.Extras["vertex_distance"]} {
		if !v.Finite() {
			s.Note(name, "not finite: the samples overflowed float32 (the method diverged); decoded sequences are meaningless")
		}
	}
	return s
}

// Monitor implements algos.Task: the mean y of the decoded batch and its
// distance from the one-hot vertices.
func (t *TFBind8) Monitor(x []float64) map[string]algos.Number {
	seqs, dist := DecodeAll(x)
	var y float64
	for _, q := range seqs {
		y += t.land.Y[q]
	}
	return map[string]algos.Number{"genuine": algos.Number(y / float64(len(seqs))), "vertex_distance": algos.Number(algos.Mean(dist))}
}

// Columns implements algos.Task.
func (t *TFBind8) Columns() []algos.Column {
	return []algos.Column{
		{Key: "reward_nominal", Title: "r̂(x_T)"}, {Key: "reward_nominal_decoded", Title: "r̂(decoded)"},
		{Key: "reward_genuine", Title: "y mean"}, {Key: "reward_genuine_top10", Title: "y top-10%"}, {Key: "reward_genuine_max", Title: "y max"},
		{Key: "kl", Title: "KL"}, {Key: "target_gain_ratio", Title: "gain/target"}, {Key: "target_kl_ratio", Title: "KL/target"},
		{Key: "vertex_distance", Title: "vertex dist"}, {Key: "diversity", Title: "diversity"},
		{Key: "in_train_half", Title: "in r̂'s half"}, {Key: "unique", Title: "unique"},
	}
}

// Details implements algos.Describer: r̂'s fit on both halves and the
// pre-trained model's letter statistics against the data.
func (t *TFBind8) Details(pre []float64) map[string]any {
	fit := t.rewardFit()
	fit.RHatStdOfPre = algos.Number(algos.Stddev(t.reward.Batch(pre)))
	preSeqs, _ := DecodeAll(pre)
	return map[string]any{"reward_model": fit, "pretrained_stats": CompareSequenceStats(preSeqs, t.pool)}
}

// WriteFASTA writes decoded samples, each headed by its run, index, genuine
// reward y, r̂ of its one-hot vertex and the distance of x_T from it.
func (t *TFBind8) WriteFASTA(w io.Writer, run string, x []float64) error {
	seqs, dist := DecodeAll(x)
	rhat := t.reward.Batch(OneHots(seqs))
	for i, s := range seqs {
		if _, err := fmt.Fprintf(w, ">%s_%d y=%.4f rhat=%.4f dist=%.3f\n%s\n", run, i, t.land.Y[s], rhat[i], dist[i], SeqString(s)); err != nil {
			return err
		}
	}
	return nil
}

// allSequenceRewards evaluates r̂ on the one-hot vertex of every sequence.
func (t *TFBind8) allSequenceRewards() []float64 {
	all := make([]int, NumSeqs)
	for i := range all {
		all[i] = i
	}
	var out []float64
	for lo := 0; lo < len(all); lo += 8192 {
		out = append(out, t.reward.Batch(OneHots(all[lo:min(lo+8192, len(all))]))...)
	}
	return out
}

// RewardModelFit reports r̂'s error against y on its training half and on
// the other half.
type RewardModelFit struct {
	Split          string       `json:"split"`
	TrainSize      int          `json:"train_size"`
	TrainRMSE      algos.Number `json:"train_rmse"`
	TrainSpearman  algos.Number `json:"train_spearman"`
	OtherRMSE      algos.Number `json:"other_rmse"`
	OtherSpearman  algos.Number `json:"other_spearman"`
	TrainMeanY     algos.Number `json:"train_mean_y"`
	TrainMeanRHat  algos.Number `json:"train_mean_rhat"`
	OtherMeanY     algos.Number `json:"other_mean_y"`
	OtherMeanRHat  algos.Number `json:"other_mean_rhat"`
	RHatStdOfPre   algos.Number `json:"rhat_std_pretrained"` // spread of r̂(x_T) on pre-trained samples
	TopSequence    string       `json:"top_sequence"`        // argmax of r̂ over all 8-mers
	TopSequenceY   algos.Number `json:"top_sequence_y"`
	TopSequenceHat algos.Number `json:"top_sequence_rhat"`
}

// rewardFit measures r̂ against y on both halves.
func (t *TFBind8) rewardFit() RewardModelFit {
	var ty, tr, oy, or []float64
	for s, in := range t.train {
		if in {
			ty, tr = append(ty, t.land.Y[s]), append(tr, t.rhat[s])
		} else {
			oy, or = append(oy, t.land.Y[s]), append(or, t.rhat[s])
		}
	}
	top := 0
	for s, v := range t.rhat {
		if v > t.rhat[top] {
			top = s
		}
	}
	N := func(v float64) algos.Number { return algos.Number(v) }
	return RewardModelFit{Split: t.Reward.Split, TrainSize: len(ty),
		TrainRMSE: N(RMSE(tr, ty)), TrainSpearman: N(Spearman(tr, ty)),
		OtherRMSE: N(RMSE(or, oy)), OtherSpearman: N(Spearman(or, oy)),
		TrainMeanY: N(algos.Mean(ty)), TrainMeanRHat: N(algos.Mean(tr)), OtherMeanY: N(algos.Mean(oy)), OtherMeanRHat: N(algos.Mean(or)),
		TopSequence: SeqString(top), TopSequenceY: N(t.land.Y[top]), TopSequenceHat: N(t.rhat[top])}
}

// fitRewardModel fits r̂ to y on the training half by least squares (Adam,
// cosine-decayed learning rate).
func fitRewardModel(r *MLPReward, land *Landscape, train []bool, c RewardModelConfig, h algos.Hooks) (*MLPReward, error) {
	var idx []int
	for s, in := range train {
		if in {
			idx = append(idx, s)
		}
	}
	b := r.Net.Layers[0].W.Value.Backend()
	rng := rand.New(rand.NewPCG(c.Seed, 0x7e3a))
	opt := nn.NewAdam(nn.Vars(r), nn.CosineLR(c.LR, c.LR/10, c.Iters, 0))
	batch := make([]int, c.Batch)
	y := make([]float64, c.Batch)
	for it := range c.Iters {
		for j := range batch {
			batch[j] = idx[rng.IntN(len(idx))]
			y[j] = land.Y[batch[j]]
		}
		x := tensor.FromFloat64As(b, tensor.Float32, OneHots(batch), c.Batch, OneHotDim)
		pred := r.Eval(autograd.Const(x))
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(pred, autograd.Const(tensor.FromFloat64As(b, tensor.Float32, y, c.Batch)))))
		l := loss.Value.Item()
		if !algos.Number(l).Finite() {
			return nil, fmt.Errorf("reward model: loss is %v at step %d", l, it)
		}
		loss.Backward()
		opt.Step()
		h.Tick("reward model", it+1, c.Iters)
		if it%100 == 0 || it == c.Iters-1 {
			h.Emit(algos.Event{Method: "reward", Phase: "fit", Iter: it, Loss: algos.Number(l), LR: opt.LR(it)})
		}
	}
	return r, nil
}

// roundSignificant rounds v to digits significant digits.
func roundSignificant(v float64, digits int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	scale := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// Markdown implements report.Describer: r̂'s fit and the pre-trained
// model's letter statistics.
func (t *TFBind8) Markdown(s algos.Summary) string {
	var b strings.Builder
	if rm, ok := s.Details["reward_model"].(RewardModelFit); ok {
		fmt.Fprintf(&b, "Landscape %s. r̂ fit on %d sequences: RMSE / Spearman against y %.4f / %.4f on its half, %.4f / %.4f on the other; spread of r̂ on pre-trained samples %.4f; argmax %s (y = %.4f, r̂ = %.4f).\n\n",
			t.land.Path, rm.TrainSize, float64(rm.TrainRMSE), float64(rm.TrainSpearman), float64(rm.OtherRMSE), float64(rm.OtherSpearman),
			float64(rm.RHatStdOfPre), rm.TopSequence, float64(rm.TopSequenceY), float64(rm.TopSequenceHat))
	}
	if ps, ok := s.Details["pretrained_stats"].(SequenceStats); ok {
		p := t.Diffusion.Pretrain
		fmt.Fprintf(&b, "Pre-trained transformer (width %d, %d blocks, %d heads, %d DSM steps × %d) against the data (all 4⁸ sequences), %d decoded samples: largest per-position frequency difference %.4f (sampling noise %.4f), largest pairwise %.4f (noise %.4f), mean total variation of the 28 pair tables %.4f.\n\n",
			p.Width, p.Depth, p.Heads, p.Iters, p.Batch, ps.Samples, float64(ps.PositionMaxAbsDiff), float64(ps.PositionNoise),
			float64(ps.PairMaxAbsDiff), float64(ps.PairNoise), float64(ps.PairTV))
	}
	return b.String()
}
