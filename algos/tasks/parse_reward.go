package tasks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/autograd"
)

// This file gives the tasks the reward specs of the bilevel tuner
// (algos.RewardParser, ALGORITHMS.md §3): its upper reward r₁ and lower
// reward r₂ are chosen on the command line independently of the task's own
// nominal reward.

// ParseReward implements algos.RewardParser with the gmm2d grammar:
// `linear:w1,w2`, `quadratic:c1,c2` or `quadratic:c1,c2,m1,m2`.
func (t *GMM2D) ParseReward(spec string) (algos.Reward, error) {
	r, err := ParseReward(spec, t.data.Dim())
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ExactTilt implements algos.ExactTilter: for two rewards of the gmm2d
// grammar, E[r₁], E[r₂] and KL(p* ‖ p_data) under p* ∝ exp(r₂/λ)·p_data, in
// closed form (Mixture.Tilt); ok is false for other rewards.
func (t *GMM2D) ExactTilt(upper, lower algos.Reward, lambda float64) (meanUpper, meanLower, kl float64, ok bool) {
	r1, ok1 := upper.(QuadraticReward)
	r2, ok2 := lower.(QuadraticReward)
	if !ok1 || !ok2 || !(lambda > 0) {
		return 0, 0, 0, false
	}
	tilt, err := t.data.Tilt(r2, lambda)
	if err != nil {
		return 0, 0, 0, false
	}
	return tilt.MeanReward(r1), tilt.MeanReward(r2), tilt.KL(r2, lambda), true
}

// ParseReward implements algos.RewardParser for tfbind8:
//   - `y`: the genuine reward, the landscape's y of the decoded sequence. It
//     is a table, not differentiable in the relaxed input (algos.ValuesOnly),
//     so it can only be the upper reward r₁;
//   - `rhat`: the task's nominal MLP r̂ (evaluated only after Setup, which
//     fits or loads it);
//   - `letters:wA,wC,wG,wT`: the linear letter score Σ_i Σ_d w_d·x[4i + d],
//     which on a one-hot vertex is the sum over the 8 positions of the
//     weight of the letter there (e.g. letters:0,1,1,0 counts G and C).
func (t *TFBind8) ParseReward(spec string) (algos.Reward, error) {
	switch spec {
	case "rhat":
		return tfNominal{t}, nil
	case "y":
		return tfGenuine{t}, nil
	}
	kind, args, ok := strings.Cut(spec, ":")
	if !ok || kind != "letters" {
		return nil, fmt.Errorf("tfbind8 reward %q: want y, rhat or letters:wA,wC,wG,wT", spec)
	}
	fields := strings.Split(args, ",")
	if len(fields) != len(Alphabet) {
		return nil, fmt.Errorf("tfbind8 reward %q: %d letter weights, want %d (A, C, G, T)", spec, len(fields), len(Alphabet))
	}
	r := QuadraticReward{Spec: spec, W: make([]float64, OneHotDim), C: make([]float64, OneHotDim)}
	for d, f := range fields {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("tfbind8 reward %q: weight %q is not a finite number", spec, f)
		}
		for i := range SeqLen {
			r.W[4*i+d] = v
		}
	}
	return r, nil
}

// tfNominal is tfbind8's r̂ by reference, so that it can be named before
// Setup has fitted it.
type tfNominal struct{ t *TFBind8 }

func (n tfNominal) model() *MLPReward {
	if n.t.reward == nil {
		panic("tasks: tfbind8's r̂ evaluated before Setup")
	}
	return n.t.reward
}

// Eval implements algos.Reward.
func (n tfNominal) Eval(x *autograd.Var) *autograd.Var { return n.model().Eval(x) }

// Values implements algos.Reward.
func (n tfNominal) Values(x []float64) []float64 { return n.model().Values(x) }

// String is the nominal reward's spec once it is fitted ("rhat" before).
func (n tfNominal) String() string {
	if n.t.reward == nil {
		return "rhat"
	}
	return n.t.reward.String()
}

// ExactTiltSamples implements algos.TiltSampler: n exact samples of
// p* ∝ exp(r₂/λ)·p_data for a reward of the gmm2d grammar.
func (t *GMM2D) ExactTiltSamples(lower algos.Reward, lambda float64, n int, seed uint64) ([]float64, bool) {
	r, ok := lower.(QuadraticReward)
	if !ok {
		return nil, false
	}
	tilt, err := t.data.Tilt(r, lambda)
	if err != nil {
		return nil, false
	}
	return tilt.Sample(n, seed), true
}

// ExactTilt implements algos.ExactTilter for tfbind8 by enumeration: p_data
// is the uniform law on all 4⁸ sequences (the data the model is pre-trained
// on), p* ∝ exp(r₂/λ)·p_data over their one-hot vertices, and E[r₁], E[r₂]
// and KL(p* ‖ p_data) are sums over them. ok is false before Setup.
func (t *TFBind8) ExactTilt(upper, lower algos.Reward, lambda float64) (meanUpper, meanLower, kl float64, ok bool) {
	if t.land == nil || t.reward == nil || !(lambda > 0) {
		return 0, 0, 0, false
	}
	v1, v2 := t.vertexRewards(upper), t.vertexRewards(lower)
	meanLower, kl, _, w := algos.SelfNormalizedTilt(v2, lambda)
	for i, wi := range w {
		meanUpper += wi * v1[i]
	}
	return meanUpper, meanLower, kl, true
}

// vertexCache holds a reward's values on every sequence's vertex, by task
// and reward spec (they do not change after Setup).
var vertexCache sync.Map

func (t *TFBind8) vertexRewards(r algos.Reward) []float64 {
	type key struct {
		t    *TFBind8
		spec string
	}
	k := key{t, r.String()}
	if v, ok := vertexCache.Load(k); ok {
		return v.([]float64)
	}
	all := make([]int, NumSeqs)
	for i := range all {
		all[i] = i
	}
	v := r.Values(OneHots(all))
	vertexCache.Store(k, v)
	return v
}

// tfGenuine is tfbind8's y as a reward of values only (the upper reward).
type tfGenuine struct{ t *TFBind8 }

// ValuesOnly implements algos.ValuesOnly.
func (tfGenuine) ValuesOnly() {}

// Eval panics: y is not differentiable.
func (tfGenuine) Eval(*autograd.Var) *autograd.Var {
	panic("tasks: tfbind8's y is a table of sequences, not differentiable")
}

// Values is y of the decoded sequence of every row.
func (g tfGenuine) Values(x []float64) []float64 {
	if g.t.land == nil {
		panic("tasks: tfbind8's y evaluated before Setup")
	}
	return g.t.genuine(x)
}

func (tfGenuine) String() string { return "y" }

var (
	_ algos.ValuesOnly   = tfGenuine{}
	_ algos.RewardParser = (*GMM2D)(nil)
	_ algos.ExactTilter  = (*GMM2D)(nil)
	_ algos.TiltSampler  = (*GMM2D)(nil)
	_ algos.RewardParser = (*TFBind8)(nil)
	_ algos.ExactTilter  = (*TFBind8)(nil)
)
