package tasks

import (
	"math"
	"testing"
)

// TestTiltMatchesImportanceWeights checks the closed-form tilted mixture
// against self-normalized importance weights on many data samples.
func TestTiltMatchesImportanceWeights(t *testing.T) {
	data := EightGaussians()
	const n = 400_000
	x := data.Sample(n, 3)
	for _, spec := range []string{"linear:1,0", "linear:0.5,-1", "quadratic:1,0", "quadratic:0.3,0.2"} {
		for _, alpha := range []float64{0.5, 1, 3} {
			r, err := ParseReward(spec, 2)
			if err != nil {
				t.Fatal(err)
			}
			tilt, err := data.Tilt(r, alpha)
			if err != nil {
				t.Fatal(err)
			}
			// log E[exp(r/α)] and E_α[r] by Monte Carlo.
			logw := make([]float64, n)
			for i := range n {
				logw[i] = r.At(x[2*i:2*i+2]) / alpha
			}
			lz := logSumExp(logw)
			var er float64
			for i := range n {
				er += math.Exp(logw[i]-lz) * r.At(x[2*i:2*i+2])
			}
			mcLogZ := lz - math.Log(n)
			if d := math.Abs(mcLogZ - tilt.LogZ); d > 0.02 {
				t.Errorf("%s α=%v: log Z = %v, Monte Carlo %v", spec, alpha, tilt.LogZ, mcLogZ)
			}
			if d := math.Abs(er - tilt.MeanReward(r)); d > 0.03*(1+math.Abs(er)) {
				t.Errorf("%s α=%v: E*[r] = %v, Monte Carlo %v", spec, alpha, tilt.MeanReward(r), er)
			}
			if kl := tilt.KL(r, alpha); !(kl > 0) {
				t.Errorf("%s α=%v: KL = %v, want > 0", spec, alpha, kl)
			}
			// Samples of the tilted mixture have the exact mean reward.
			ts := tilt.Sample(100_000, 5)
			var sr float64
			for i := range 100_000 {
				sr += r.At(ts[2*i : 2*i+2])
			}
			if d := math.Abs(sr/100_000 - tilt.MeanReward(r)); d > 0.03*(1+math.Abs(sr/100_000)) {
				t.Errorf("%s α=%v: sample mean reward %v, exact %v", spec, alpha, sr/100_000, tilt.MeanReward(r))
			}
		}
	}
}

func TestDefaultTargetValues(t *testing.T) {
	// α = 1, r = x₁: the numbers the default run is judged against.
	r, _ := ParseReward("linear:1,0", 2)
	tilt, _ := EightGaussians().Tilt(r, 1)
	if e := tilt.MeanReward(r); math.Abs(e-3.7134) > 1e-3 {
		t.Errorf("E*[r] = %v, want ≈ 3.7134", e)
	}
	if kl := tilt.KL(r, 1); math.Abs(kl-1.1617) > 1e-3 {
		t.Errorf("KL = %v, want ≈ 1.1617", kl)
	}
}

func TestParseRewardErrors(t *testing.T) {
	for _, bad := range []string{"", "linear", "linear:1", "linear:1,2,3", "linear:a,b", "cubic:1,2", "quadratic:-1,0", "linear:NaN,0", "linear:Inf,0"} {
		if _, err := ParseReward(bad, 2); err == nil {
			t.Errorf("ParseReward(%q) accepted", bad)
		}
	}
	r, err := ParseReward("quadratic:1,2", 2)
	if err != nil {
		t.Fatal(err)
	}
	if v := r.At([]float64{1, -2}); v != -9 {
		t.Errorf("quadratic:1,2 at (1,−2) = %v, want −9", v)
	}
}

func TestOffSupport(t *testing.T) {
	m := EightGaussians()
	if m.OffSupport([]float64{4, 0}, 4) {
		t.Error("a component mean is off the support")
	}
	if !m.OffSupport([]float64{0, 0}, 4) {
		t.Error("the origin (4 from every mean, 8σ) is on the support")
	}
	if !m.OffSupport([]float64{9, 0}, 4) {
		t.Error("(9, 0) is on the support")
	}
}
