package gemm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func BenchmarkExp(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))

	im := active
	im.kc = envInt("KC", im.kc)
	im.mc = envInt("MC", im.mc)
	im.nc = envInt("NC", im.nc)
	b.Logf("kc=%d mc=%d nc=%d", im.kc, im.mc, im.nc)
	for _, th := range []int{1, 2} {
		for _, sh := range [][3]int{{1024, 1024, 1024}, {512, 256, 256}} {
			b.Run(fmt.Sprintf("t%d/%v", th, sh), func(b *testing.B) {
				SetThreads(th)
				defer SetThreads(0)
				m, n, k := sh[0], sh[1], sh[2]
				a := randSlice(rng, m*k)
				bm := randSlice(rng, k*n)
				c := make([]float32, m*n)
				for b.Loop() {
					Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
				}
				reportFlops(b, m, n, k)
			})
		}
	}
}

func BenchmarkFinish(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	acc := randSlice(rng, 32)
	c := make([]float32, 32)
	pre := make([]float32, 32)
	bias := randSlice(rng, 32)
	for _, act := range []Activation{None, ReLU, SiLU, Tanh, Sigmoid} {
		b.Run(act.String(), func(b *testing.B) {
			for b.Loop() {
				for range 4096 {
					active.finish(&update{m: 1, n: 32, c: c, acc: acc, bias: bias, pre: pre, alpha: 1, act: act})
				}
			}
			b.ReportMetric(float64(b.N)*4096*32/float64(b.Elapsed().Nanoseconds()), "elem/ns")
		})
	}
}
