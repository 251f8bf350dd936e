package algos

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFrechetDistance checks the Fréchet distance against its closed form
// for covariances that commute, ‖μ₁ − μ₂‖² + Σ (√a_j − √b_j)² with a, b
// their eigenvalues in a shared rotated basis, and that it is zero between
// a sample and itself and symmetric.
func TestFrechetDistance(t *testing.T) {
	const d, n = 3, 4000
	rng := rand.New(rand.NewPCG(1, 2))
	// Two samples along the same rotated axes with scales sa and sb.
	c, s := math.Cos(0.7), math.Sin(0.7)
	rot := [d][d]float64{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
	sa, sb := [d]float64{1, 2, 0.5}, [d]float64{3, 0.5, 0.5}
	ma, mb := [d]float64{0, 1, 2}, [d]float64{1, 1, -1}
	draw := func(scale, mean [d]float64) []float64 {
		x := make([]float64, n*d)
		for i := range n {
			var z [d]float64
			for j := range d {
				z[j] = scale[j] * rng.NormFloat64()
			}
			for j := range d {
				x[i*d+j] = mean[j]
				for k := range d {
					x[i*d+j] += rot[j][k] * z[k]
				}
			}
		}
		return x
	}
	xa, xb := draw(sa, ma), draw(sb, mb)
	a, b := NewMoments(xa, d), NewMoments(xb, d)
	// The closed form, at the samples' own moments' eigenvalues would be
	// exact; at the populations' it holds within sampling error.
	var want float64
	for j := range d {
		want += (ma[j]-mb[j])*(ma[j]-mb[j]) + (sa[j]-sb[j])*(sa[j]-sb[j])
	}
	got := FrechetDistance(a, b)
	if math.Abs(got-want) > 0.05*want {
		t.Errorf("Fréchet distance %.4f, closed form %.4f", got, want)
	}
	if back := FrechetDistance(b, a); math.Abs(back-got) > 1e-9*want {
		t.Errorf("not symmetric: %.12f and %.12f", got, back)
	}
	if self := FrechetDistance(a, a); math.Abs(self) > 1e-9 {
		t.Errorf("distance of a sample to itself %.3g, want 0", self)
	}
	if m := NewMoments([]float64{1, 2, 3, 6}, 2); m.Mean[0] != 2 || m.Mean[1] != 4 || m.Cov.At(0, 1) != 4 || m.Cov.At(0, 0) != 2 {
		t.Errorf("moments of (1,2), (3,6): mean %v, cov %v", m.Mean, m.Cov)
	}
}
