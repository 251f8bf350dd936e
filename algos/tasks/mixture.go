package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Mixture is a Gaussian mixture with diagonal covariances.
type Mixture struct {
	Weights []float64   // sum to 1
	Means   [][]float64 // [k][d]
	Vars    [][]float64 // [k][d] per-dimension variances
}

// EightGaussians is the gmm2d task's data law: 8 equal Gaussians of std 0.5 on a circle
// of radius 4 (ALGORITHMS.md §5).
func EightGaussians() Mixture {
	const k, radius, std = 8, 4.0, 0.5
	m := Mixture{}
	for i := range k {
		a := 2 * math.Pi * float64(i) / k
		m.Weights = append(m.Weights, 1.0/k)
		m.Means = append(m.Means, []float64{radius * math.Cos(a), radius * math.Sin(a)})
		m.Vars = append(m.Vars, []float64{std * std, std * std})
	}
	return m
}

// Dim is the dimension of the points.
func (m Mixture) Dim() int { return len(m.Means[0]) }

// Sample draws n points (row-major [n, d]) with a seeded generator.
func (m Mixture) Sample(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	d := m.Dim()
	cum := make([]float64, len(m.Weights))
	acc := 0.0
	for i, w := range m.Weights {
		acc += w
		cum[i] = acc
	}
	out := make([]float64, n*d)
	for i := range n {
		u := rng.Float64() * acc
		k := 0
		for k < len(cum)-1 && u > cum[k] {
			k++
		}
		for j := range d {
			out[i*d+j] = m.Means[k][j] + math.Sqrt(m.Vars[k][j])*rng.NormFloat64()
		}
	}
	return out
}

// LogDensity is log p(x) at one point.
func (m Mixture) LogDensity(x []float64) float64 {
	terms := make([]float64, len(m.Weights))
	for k, w := range m.Weights {
		l := math.Log(w)
		for j, v := range x {
			dv := v - m.Means[k][j]
			l += -0.5*dv*dv/m.Vars[k][j] - 0.5*math.Log(2*math.Pi*m.Vars[k][j])
		}
		terms[k] = l
	}
	return logSumExp(terms)
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// Tilted is the exact target p_α ∝ exp(r/α)·p of a mixture tilted by a
// quadratic reward (ALGORITHMS.md §1, "Check"), with its normalizer.
type Tilted struct {
	Mixture
	// LogZ is log E_p[exp(r/α)].
	LogZ float64
}

// Tilt returns p_α ∝ exp(r/α)·m in closed form. Per component and dimension,
// N(x; μ, σ²)·exp((w·x − c·(x − m)²)/α) is again Gaussian: with the linear
// coefficient w' = w + 2c·m and the constant −c·m², its precision is
// p = 1/σ² + 2c/α, its mean (μ/σ² + w'/α)/p, and its mass
// exp(½p·mean² − μ²/(2σ²) − c·m²/α)/√(σ²p).
func (m Mixture) Tilt(r QuadraticReward, alpha float64) (Tilted, error) {
	if !(alpha > 0) {
		return Tilted{}, fmt.Errorf("tilt: alpha must be > 0, got %v", alpha)
	}
	d := m.Dim()
	t := Tilted{}
	logw := make([]float64, len(m.Weights))
	for k := range m.Weights {
		mean := make([]float64, d)
		vars := make([]float64, d)
		logw[k] = math.Log(m.Weights[k])
		for j := range d {
			s2, mu := m.Vars[k][j], m.Means[k][j]
			w, c := r.W[j], r.C[j]
			if r.M != nil {
				w += 2 * c * r.M[j]
				logw[k] -= c * r.M[j] * r.M[j] / alpha
			}
			p := 1/s2 + 2*c/alpha
			mj := (mu/s2 + w/alpha) / p
			mean[j], vars[j] = mj, 1/p
			logw[k] += 0.5*p*mj*mj - mu*mu/(2*s2) - 0.5*math.Log(s2*p)
		}
		t.Means = append(t.Means, mean)
		t.Vars = append(t.Vars, vars)
	}
	t.LogZ = logSumExp(logw)
	for _, l := range logw {
		t.Weights = append(t.Weights, math.Exp(l-t.LogZ))
	}
	return t, nil
}

// MeanReward is E[r] under the mixture, exactly: E[x_j] = μ_j and
// E[(x_j − m_j)²] = (μ_j − m_j)² + σ_j² per component.
func (m Mixture) MeanReward(r QuadraticReward) float64 {
	var e float64
	for k, w := range m.Weights {
		for j := range m.Dim() {
			mu, s2 := m.Means[k][j], m.Vars[k][j]
			dm := mu - r.centre(j)
			e += w * (r.W[j]*mu - r.C[j]*(dm*dm+s2))
		}
	}
	return e
}

// KL is KL(p_α ‖ p) = E_{p_α}[r]/α − log E_p[exp(r/α)].
func (t Tilted) KL(r QuadraticReward, alpha float64) float64 {
	return t.MeanReward(r)/alpha - t.LogZ
}

// OffSupport reports whether x lies farther than radius standard deviations
// from every component of the mixture (radius 4 leaves 3·10⁻⁴ of a 2-D
// Gaussian's mass outside).
func (m Mixture) OffSupport(x []float64, radius float64) bool {
	for k := range m.Weights {
		var z2 float64
		for j, v := range x {
			dv := v - m.Means[k][j]
			z2 += dv * dv / m.Vars[k][j]
		}
		if z2 <= radius*radius {
			return false
		}
	}
	return true
}
