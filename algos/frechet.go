package algos

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Moments are the mean and the covariance of a sample of vectors: what the
// Fréchet distance compares.
type Moments struct {
	Mean []float64
	Cov  *mat.SymDense
	N    int
}

// NewMoments computes the mean and the unbiased covariance of the rows of x
// (dimension d). It panics unless x holds at least two rows of d values.
func NewMoments(x []float64, d int) Moments {
	n := len(x) / max(d, 1)
	if d < 1 || n < 2 || len(x) != n*d {
		panic(fmt.Sprintf("algos: moments of %d values in rows of %d", len(x), d))
	}
	m := Moments{Mean: make([]float64, d), Cov: mat.NewSymDense(d, nil), N: n}
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			m.Mean[j] += v / float64(n)
		}
	}
	c := make([]float64, n*d)
	for i := range n {
		for j := range d {
			c[i*d+j] = x[i*d+j] - m.Mean[j]
		}
	}
	cm := mat.NewDense(n, d, c)
	m.Cov.SymOuterK(1/float64(n-1), cm.T())
	return m
}

// FrechetDistance is the squared Fréchet (2-Wasserstein) distance between
// the Gaussians of two moments, the statistic of FID:
//
//	‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½
//
// (the last trace equals tr (Σ₁Σ₂)^½ and is computed from symmetric
// eigendecompositions, negative rounding of eigenvalues clipped at 0).
func FrechetDistance(a, b Moments) float64 {
	d := len(a.Mean)
	if len(b.Mean) != d {
		panic(fmt.Sprintf("algos: Fréchet distance of %d- and %d-dimensional moments", d, len(b.Mean)))
	}
	var dist float64
	for j := range d {
		dist += (a.Mean[j] - b.Mean[j]) * (a.Mean[j] - b.Mean[j])
		dist += a.Cov.At(j, j) + b.Cov.At(j, j)
	}
	root := symSqrt(a.Cov)
	var m mat.Dense
	m.Mul(root, b.Cov)
	m.Mul(&m, root)
	sym := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			sym.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, false) {
		return math.NaN()
	}
	for _, v := range eig.Values(nil) {
		dist -= 2 * math.Sqrt(max(v, 0))
	}
	return dist
}

// symSqrt is the square root of a symmetric positive semi-definite matrix
// (negative rounding of eigenvalues clipped at 0).
func symSqrt(s *mat.SymDense) *mat.Dense {
	var eig mat.EigenSym
	d := s.SymmetricDim()
	if !eig.Factorize(s, true) {
		return mat.NewDense(d, d, nil)
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	vals := eig.Values(nil)
	scaled := mat.DenseCopyOf(&vec)
	for j, v := range vals {
		r := math.Sqrt(max(v, 0))
		for i := range d {
			scaled.Set(i, j, scaled.At(i, j)*r)
		}
	}
	var out mat.Dense
	out.Mul(scaled, vec.T())
	return &out
}
