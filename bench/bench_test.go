package bench

import (
	"testing"

	"github.com/difftune/difftune/tensor"
)

// BenchmarkGMM2DIteration times one gmm2d fine-tuning iteration at the
// PyTorch script's size (batch 512, 100 steps, width 256).
func BenchmarkGMM2DIteration(b *testing.B) {
	w := NewGMM2DIteration(tensor.CPU(), 512, 100, 256)
	w.Run() // warm-up
	b.ResetTimer()
	for range b.N {
		w.Run()
	}
	b.ReportMetric(w.FLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func TestGMM2DIterationLossIsFinite(t *testing.T) {
	w := NewGMM2DIteration(tensor.CPU(), 16, 5, 32)
	for range 3 {
		if l := w.Run(); l != l {
			t.Fatal("loss is NaN")
		}
	}
}
