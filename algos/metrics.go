package algos

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
)

// Number is a metric value that is written to JSON as null when it is not
// finite (a diverged method), so that outputs stay valid JSON.
type Number float64

// MarshalJSON writes finite numbers as usual and NaN/±Inf as null.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads a number, or null as NaN (a value that was not
// finite when written).
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// Finite reports whether the value is a finite number.
func (n Number) Finite() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// Mean is the average of v (NaN for an empty slice).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TopMean is the mean of the largest fraction q of v (at least one value).
func TopMean(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sortDesc(s)
	k := max(1, int(math.Ceil(q*float64(len(s)))))
	return Mean(s[:min(k, len(s))])
}

func sortDesc(v []float64) { slices.SortFunc(v, func(a, b float64) int { return cmp.Compare(b, a) }) }

// dist is the Euclidean distance between rows i of x and j of y (dimension d).
func dist(x []float64, i int, y []float64, j, d int) float64 {
	var s float64
	for k := range d {
		v := x[i*d+k] - y[j*d+k]
		s += v * v
	}
	return math.Sqrt(s)
}

// meanDistance is E‖X − Y‖ over all pairs of rows (excluding i = j when same).
func meanDistance(x, y []float64, d int, same bool) float64 {
	nx, ny := len(x)/d, len(y)/d
	var s float64
	var count int
	for i := range nx {
		for j := range ny {
			if same && i == j {
				continue
			}
			s += dist(x, i, y, j, d)
			count++
		}
	}
	return s / float64(count)
}

// Diversity is the mean pairwise Euclidean distance between samples (rows of
// x, dimension d), on at most 1000 of them.
func Diversity(x []float64, d int) float64 {
	x = x[:min(len(x), 1000*d)]
	return meanDistance(x, x, d, true)
}

// EnergyDistance is 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ between two samples (rows,
// dimension d), on at most 2000 points of each: zero exactly when the laws
// agree.
func EnergyDistance(x, y []float64, d int) float64 {
	x = x[:min(len(x), 2000*d)]
	y = y[:min(len(y), 2000*d)]
	return 2*meanDistance(x, y, d, false) - meanDistance(x, x, d, true) - meanDistance(y, y, d, true)
}

// Stddev is the population standard deviation of v.
func Stddev(v []float64) float64 {
	m := Mean(v)
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)))
}

// softmaxLog is the softmax of log-weights, w = exp(l − lz), with
// lz = logsumexp(l) computed around the largest l so that exp never
// overflows.
func softmaxLog(logw []float64) (w []float64, lz float64) {
	m := math.Inf(-1)
	for _, l := range logw {
		m = math.Max(m, l)
	}
	var z float64
	for _, l := range logw {
		z += math.Exp(l - m)
	}
	lz = m + math.Log(z)
	w = make([]float64, len(logw))
	for i, l := range logw {
		w[i] = math.Exp(l - lz)
	}
	return w, lz
}

// SelfNormalizedTilt estimates the tilted target p_α ∝ exp(r/α)·p from samples
// of p with rewards r: the weights w = softmax(r/α), E_α[r] = Σ w·r,
// KL(p_α ‖ p) ≈ Σ w·log(n·w), and the effective sample size 1/Σ w².
func SelfNormalizedTilt(r []float64, alpha float64) (meanReward, kl, ess float64, w []float64) {
	n := float64(len(r))
	logw := make([]float64, len(r))
	for i, v := range r {
		logw[i] = v / alpha
	}
	w, lz := softmaxLog(logw)
	var sq float64
	for i, l := range logw {
		meanReward += w[i] * r[i]
		if w[i] > 0 {
			kl += w[i] * (l - lz + math.Log(n))
		}
		sq += w[i] * w[i]
	}
	return meanReward, kl, 1 / sq, w
}
