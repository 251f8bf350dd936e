package algos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TestUCBBonusLinearFeatures checks the Gram-matrix bonus with linear
// features φ(x) = x: along a direction e observed n times (and nothing
// else), Σ = n·eeᵀ + λI, so √(eᵀΣ⁻¹e) = 1/√(n + λ) exactly, which shrinks
// like 1/√n; orthogonal directions keep 1/√λ.
func TestUCBBonusLinearFeatures(t *testing.T) {
	const lambda = 0.5
	e := []float64{0.6, 0.8, 0} // a unit direction of R³
	ident := func(x *autograd.Var) *autograd.Var { return x }
	b := tensor.CPU()
	var prev float64
	for _, n := range []int{1, 4, 16, 64, 256} {
		var data []float64
		for range n {
			data = append(data, e...)
		}
		g := NewGram(3, lambda)
		for i := 0; i < len(data); i += 3 {
			g.Add(data[i : i+3])
		}
		want := 1 / math.Sqrt(float64(n)+lambda)
		got, err := g.Width(e)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("n = %d: width %v, closed form %v", n, got, want)
		}
		if orth, _ := g.Width([]float64{0.8, -0.6, 0}); math.Abs(orth-1/math.Sqrt(lambda)) > 1e-12 {
			t.Errorf("n = %d: orthogonal width %v, want 1/√λ = %v", n, orth, 1/math.Sqrt(lambda))
		}
		// The differentiable bonus (float32) agrees, with C₁ and the cap C₂.
		u, err := NewUCBBonus(b, 3, ident, data, 3, lambda, 2, 10)
		if err != nil {
			t.Fatal(err)
		}
		if v := u.Values(e)[0]; math.Abs(v-2*want) > 1e-5*2*want+1e-6 {
			t.Errorf("n = %d: bonus %v, want 2·%v", n, v, want)
		}
		capped, _ := NewUCBBonus(b, 3, ident, data, 3, lambda, 2, 0.1)
		if v := capped.Values(e)[0]; math.Abs(v-2*math.Min(0.1, want)) > 1e-5 {
			t.Errorf("n = %d: capped bonus %v, want %v", n, v, 2*math.Min(0.1, want))
		}
		if prev > 0 {
			// ×4 observations halve the bonus (up to λ).
			ratio := want / prev
			if math.Abs(ratio*math.Sqrt(4)-1) > 0.2 {
				t.Errorf("n = %d: bonus ratio %v to n/4, want ≈ 1/2", n, ratio)
			}
		}
		prev = want
	}
	// Its gradient exists and is finite.
	x := autograd.Param(tensor.FromFloat64As(b, tensor.Float32, []float64{1, 2, 3}, 1, 3))
	u, _ := NewUCBBonus(b, 3, ident, e, 3, lambda, 1, 10)
	autograd.SumAll(u.Eval(x)).Backward()
	for _, g := range x.Grad.Float64s() {
		if !Number(g).Finite() {
			t.Fatalf("gradient %v", x.Grad.Float64s())
		}
	}
}

// TestRidgeSolve checks regularized least squares against its closed form
// in one dimension: w = Σxy/(Σx² + λ).
func TestRidgeSolve(t *testing.T) {
	x := []float64{1, 2, 3}
	y := []float64{2, 4.5, 5.5}
	w, err := RidgeSolve(x, y, 1, 0.7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (2 + 9 + 16.5) / (14 + 0.7); math.Abs(w[0]-want) > 1e-12 {
		t.Errorf("w = %v, want %v", w[0], want)
	}
}

// TestOracleBudgetNoiseLog checks that the budget cannot be exceeded (a
// refused query scores and counts nothing), that the noise is seeded and
// of the given size, and that the log holds every counted query.
func TestOracleBudgetNoiseLog(t *testing.T) {
	first := func(x []float64) []float64 {
		out := make([]float64, len(x)/2)
		for i := range out {
			out[i] = x[2*i]
		}
		return out
	}
	calls := 0
	o := NewOracle("x1", func(x []float64) []float64 { calls++; return first(x) })
	o.SetBudget(10)
	pts := func(n int) []float64 { return make([]float64, 2*n) }
	if _, err := o.Query(pts(6), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Query(pts(5), 2); !errors.Is(err, ErrBudget) {
		t.Fatalf("6 + 5 of a budget of 10: %v", err)
	}
	if o.Queries() != 6 || calls != 1 {
		t.Fatalf("a refused query was counted or scored: %d queries, %d calls", o.Queries(), calls)
	}
	if _, err := o.Query(pts(4), 2); err != nil {
		t.Fatalf("the last 4 of the budget: %v", err)
	}
	for _, n := range []int{1, 100} {
		if _, err := o.Query(pts(n), 2); !errors.Is(err, ErrBudget) {
			t.Fatalf("past a spent budget: %v", err)
		}
	}
	if o.Queries() != 10 {
		t.Fatalf("%d queries counted of a budget of 10", o.Queries())
	}

	// Noise: seeded (the same seed, the same answers), of the given std;
	// evaluation (Score) stays exact.
	noisy := func(seed uint64) (*Oracle, []float64) {
		o := NewOracle("x1", first)
		o.SetNoise(0.1, seed)
		var log bytes.Buffer
		o.SetLog(&log)
		o.SetTag(QueryTag{Round: 3, Variant: "v"})
		y, err := o.Query(pts(4000), 2)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		sc := bufio.NewScanner(&log)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec QueryRecord
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Index != lines || rec.Round != 3 || rec.Variant != "v" || len(rec.X) != 2 || rec.Y != y[lines] {
				t.Fatalf("log line %d: %+v", lines, rec)
			}
			lines++
		}
		if lines != 4000 {
			t.Fatalf("%d log lines for 4000 queries", lines)
		}
		return o, y
	}
	o1, y1 := noisy(7)
	_, y2 := noisy(7)
	_, y3 := noisy(8)
	same, diff := 0, 0
	for i := range y1 {
		if y1[i] == y2[i] {
			same++
		}
		if y1[i] != y3[i] {
			diff++
		}
	}
	if same != len(y1) || diff != len(y1) {
		t.Errorf("noise not seeded: %d of %d equal with the same seed, %d differ with another", same, len(y1), diff)
	}
	if sd := Stddev(y1); math.Abs(sd-0.1) > 0.005 || math.Abs(Mean(y1)) > 0.006 {
		t.Errorf("noise mean %v, std %v, want 0 and 0.1", Mean(y1), sd)
	}
	if s := o1.Score(pts(3)); s[0] != 0 {
		t.Errorf("Score is noisy: %v", s)
	}
}

// TestEnsembleThompson fits an ensemble of bootstrap heads and checks that
// Thompson draws differ between rounds, that their mean over many rounds is
// the ensemble mean, and that the optimistic reward is the max over heads.
func TestEnsembleThompson(t *testing.T) {
	b := tensor.CPU()
	n, d := 64, 2
	x, y := make([]float64, n*d), make([]float64, n)
	for i := range n {
		x[2*i], x[2*i+1] = math.Sin(float64(i)), math.Cos(1.3*float64(i))
		y[i] = x[2*i] + 0.3*math.Sin(7*float64(i))
	}
	o := RegressorOptions{Width: 16, Features: 8, Iters: 60, LR: 1e-2, WeightDecay: 1e-4, Lambda: 1e-2}
	e, err := FitEnsemble(b, x, d, y, 4, o, 3)
	if err != nil {
		t.Fatal(err)
	}
	probe := []float64{0.5, -0.2, -1, 0.7, 0.1, 0.1}
	heads := make([][]float64, len(e.Heads))
	for k, h := range e.Heads {
		heads[k] = h.Values(probe)
	}
	if heads[0][0] == heads[1][0] {
		t.Fatalf("bootstrap heads agree exactly: %v", heads)
	}
	seen := map[int]bool{}
	sum := make([]float64, 3)
	const rounds = 4000
	for r := range rounds {
		k, h := e.Draw(11, r)
		seen[k] = true
		for i, v := range h.Values(probe) {
			sum[i] += v / rounds
		}
		if r < 8 && k != func() int { k2, _ := e.Draw(11, r); return k2 }() {
			t.Fatal("a round's draw is not reproducible")
		}
	}
	if len(seen) != len(e.Heads) {
		t.Errorf("draws took %d of %d heads", len(seen), len(e.Heads))
	}
	mean := e.MeanValues(probe)
	opt := e.Values(probe)
	for i := range mean {
		spread := 0.0
		hi := math.Inf(-1)
		for k := range heads {
			spread = math.Max(spread, math.Abs(heads[k][i]-mean[i]))
			hi = math.Max(hi, heads[k][i])
		}
		// The mean of M-way uniform draws has sd ≤ spread/√rounds.
		if math.Abs(sum[i]-mean[i]) > 4*spread/math.Sqrt(rounds)+1e-6 {
			t.Errorf("probe %d: mean of draws %v, ensemble mean %v (head spread %v)", i, sum[i], mean[i], spread)
		}
		if math.Abs(opt[i]-hi) > 1e-6 {
			t.Errorf("probe %d: optimistic %v, max over heads %v", i, opt[i], hi)
		}
	}
	// The heads fit the data: their mean is close to y.
	if rmse := func() float64 {
		m := e.MeanValues(x)
		var s float64
		for i := range m {
			s += (m[i] - y[i]) * (m[i] - y[i])
		}
		return math.Sqrt(s / float64(n))
	}(); rmse > 0.35 {
		t.Errorf("ensemble RMSE %v on its data (noise 0.21)", rmse)
	}
}

// TestOracleReplay checks that replayed queries are answered from the log
// without scoring, that only the rest is scored and logged, and that a
// query that differs from its record is refused.
func TestOracleReplay(t *testing.T) {
	scored := 0
	o := NewOracle("x1", func(x []float64) []float64 {
		scored += len(x)
		return append([]float64(nil), x...)
	})
	tag := QueryTag{Round: 1, Variant: "v"}
	recs := []QueryRecord{{Index: 0, QueryTag: tag, X: []float64{1}, Y: 10}, {Index: 1, QueryTag: tag, X: []float64{2}, Y: 20}}
	var log bytes.Buffer
	o.SetLog(&log)
	o.SetTag(tag)
	o.SetReplay(recs)
	y, err := o.Query([]float64{1, 2, 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if y[0] != 10 || y[1] != 20 || y[2] != 3 || scored != 1 || o.Queries() != 3 {
		t.Errorf("answers %v, %d scored, %d counted: want [10 20 3], 1, 3", y, scored, o.Queries())
	}
	if n := bytes.Count(log.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("%d lines logged, want the 1 new query", n)
	}
	if done, held := o.Replayed(); done != 2 || held != 2 {
		t.Errorf("replayed %d of %d", done, held)
	}
	o.SetReplay(recs)
	if _, err := o.Query([]float64{5}, 1); err == nil {
		t.Error("a query that differs from its record was answered")
	}
}
