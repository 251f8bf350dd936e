package gemm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkKernel times each implementation's micro-kernel alone on one
// goroutine, packed panels of depth 256 that stay in L1, so that its
// GFLOP/s can be compared with the core's peak.
func BenchmarkKernel(b *testing.B) {
	const kc = 256
	rng := rand.New(rand.NewPCG(1, 2))
	for _, im := range implementations() {
		b.Run(im.name, func(b *testing.B) {
			a := randSlice(rng, im.mr*kc+pad)
			bp := randSlice(rng, im.nr*kc+pad)
			t := make([]float32, im.mr*im.nr)
			for b.Loop() {
				im.kernel(kc, a, 1, im.mr, bp, im.nr, &tileOut{c: t, ldc: im.nr, rows: im.mr, cols: im.nr})
			}
			b.ReportMetric(2*float64(im.mr*im.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
