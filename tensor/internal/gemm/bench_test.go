package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

type benchShape struct {
	transA, transB bool
	m, n, k        int
	act            Activation // with an epilogue (bias and Deriv) when not None
}

func (s benchShape) name() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	name := fmt.Sprintf("%s%s/m=%d,n=%d,k=%d", t(s.transA), t(s.transB), s.m, s.n, s.k)
	if s.act != None {
		name += "/bias+" + s.act.String()
	}
	return name
}

var benchShapes = []benchShape{
	{m: 256, n: 256, k: 256},
	{m: 512, n: 512, k: 512},
	{m: 1024, n: 1024, k: 1024},
	// The hot path of a 256-wide MLP on a batch of 512: forward x·W,
	// backward dX = dY·Wᵀ and dW = Xᵀ·dY.
	{m: 512, n: 256, k: 256},
	{m: 512, n: 256, k: 256, transB: true},
	{m: 256, n: 256, k: 512, transA: true},
	{m: 256, n: 256, k: 512, transA: true, transB: true},
	{m: 512, n: 256, k: 256, act: SiLU},
	// First layer (34 inputs), last layer (2 outputs) and their gradients.
	{m: 512, n: 256, k: 34},
	{m: 512, n: 256, k: 34, act: SiLU},
	{m: 34, n: 256, k: 512, transA: true},
	{m: 512, n: 2, k: 256},
	{m: 512, n: 256, k: 2, transB: true},
	{m: 256, n: 2, k: 512, transA: true},
	// One sample.
	{m: 1, n: 256, k: 256},
	{m: 1, n: 256, k: 256, transB: true},
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func BenchmarkSgemm(b *testing.B) {
	b.Logf("path %s, %d threads", Path(), Threads())
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		b.Run(s.name(), func(b *testing.B) {
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			a := randSlice(rng, s.m*s.k)
			bm := randSlice(rng, s.k*s.n)
			c := make([]float32, s.m*s.n)
			ep := Epilogue{Act: s.act}
			if s.act != None {
				ep.Bias = randSlice(rng, s.n)
				ep.Deriv = make([]float32, s.m*s.n)
			}
			b.ResetTimer()
			for b.Loop() {
				if s.act != None {
					SgemmEpilogue(s.transA, s.transB, s.m, s.n, s.k, a, lda, bm, ldb, c, s.n, ep)
				} else {
					Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
			}
			reportFlops(b, s.m, s.n, s.k)
		})
	}
	b.Run("gonum/NN/m=1024,n=1024,k=1024", func(b *testing.B) {
		const n = 1024
		mk := func() blas32.General {
			return blas32.General{Rows: n, Cols: n, Stride: n, Data: randSlice(rng, n*n)}
		}
		a, bm, c := mk(), mk(), mk()
		for b.Loop() {
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, a, bm, 0, c)
		}
		reportFlops(b, n, n, n)
	})
}

func reportFlops(b *testing.B, m, n, k int) {
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
