package algos

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNumberJSON(t *testing.T) {
	b, err := json.Marshal(map[string]Number{"a": 1.5, "nan": Number(math.NaN()), "inf": Number(math.Inf(1))})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":1.5,"inf":null,"nan":null}` {
		t.Fatalf("got %s", b)
	}
	var back map[string]Number
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["a"] != 1.5 || !math.IsNaN(float64(back["nan"])) || !math.IsNaN(float64(back["inf"])) {
		t.Errorf("read back %v", back)
	}
	if err := json.Unmarshal([]byte(`{"a":"x"}`), &back); err == nil {
		t.Error("a string read as a Number")
	}
}

func TestSelfNormalizedTiltGaussian(t *testing.T) {
	// p = N(0, 1), r(x) = x, α = 1: p_α = N(1, 1), E_α[r] = 1, KL = ½.
	rng := rand.New(rand.NewPCG(1, 2))
	r := make([]float64, 200_000)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	mean, kl, ess, w := SelfNormalizedTilt(r, 1)
	if math.Abs(mean-1) > 0.03 || math.Abs(kl-0.5) > 0.03 {
		t.Fatalf("E_α[r] = %v (want 1), KL = %v (want 0.5)", mean, kl)
	}
	// ESS of exp(x) weights is n/e for a standard normal.
	if want := float64(len(r)) / math.E; math.Abs(ess-want) > 0.05*want {
		t.Fatalf("ESS %v, want ≈ %v", ess, want)
	}
	var s float64
	for _, v := range w {
		s += v
	}
	if math.Abs(s-1) > 1e-9 {
		t.Fatalf("weights sum to %v", s)
	}
	// Tiny α must not overflow.
	if m, _, _, _ := SelfNormalizedTilt([]float64{1, 2, 3}, 1e-4); math.Abs(m-3) > 1e-9 {
		t.Fatalf("α → 0 gives E_α[r] = %v, want the max 3", m)
	}
}

func TestEnergyDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sample := func(shift float64) []float64 {
		x := make([]float64, 2*1500)
		for i := range x {
			x[i] = rng.NormFloat64() + shift
		}
		return x
	}
	same := EnergyDistance(sample(0), sample(0), 2)
	shifted := EnergyDistance(sample(0), sample(1), 2)
	if math.Abs(same) > 0.01 || shifted < 0.3 {
		t.Fatalf("energy distance: same law %v, shifted by 1 %v", same, shifted)
	}
	if d := Diversity([]float64{0, 0, 3, 4}, 2); d != 5 {
		t.Fatalf("diversity of two points 5 apart = %v", d)
	}
	if m := TopMean([]float64{1, 5, 3, 2, 4, 0, 9, 7, 8, 6}, 0.1); m != 9 {
		t.Fatalf("top-10%% mean = %v", m)
	}
}

// TestRegistry checks that a name registered twice panics and that an
// unknown name is an error listing the names there are.
func TestRegistry(t *testing.T) {
	r := newRegistry[int]("widget")
	r.add("b", 2)
	r.add("a", 1)
	if v, err := r.lookup("a"); err != nil || v != 1 {
		t.Errorf("lookup a: %v, %v", v, err)
	}
	if _, err := r.lookup("c"); err == nil || !strings.Contains(err.Error(), `unknown widget "c" (available: [a b])`) {
		t.Errorf("unknown name: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate registration did not panic")
		}
	}()
	r.add("a", 3)
}
