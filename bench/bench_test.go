package bench

import (
	"testing"

	"github.com/difftune/difftune/tensor"
)

// BenchmarkWorkloads times every named workload on every backend that opens
// here (the CPU always; Vulkan when its package is linked and a device exists).
// gmm2d_iter is the PyTorch comparison: batch 512, 100 steps, width 256.
func BenchmarkWorkloads(b *testing.B) {
	for _, name := range tensor.Backends() {
		be, err := tensor.Open(name)
		if err != nil {
			continue
		}
		for _, w := range Workloads() {
			b.Run(w.Name+"/"+name, func(b *testing.B) {
				run, flops, _ := w.Setup(be)
				run()
				b.ResetTimer()
				for range b.N {
					run()
				}
				if flops > 0 {
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				}
			})
		}
	}
}

// BenchmarkGMM2DIteration is the gmm2d fine-tuning iteration alone on the CPU.
func BenchmarkGMM2DIteration(b *testing.B) {
	w := NewGMM2DIteration(tensor.CPU(), 512, 100, 256)
	w.Run() // warm-up
	b.ResetTimer()
	for range b.N {
		w.Run()
	}
	b.ReportMetric(w.FLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestWorkloadsRun runs every workload once at a reduced size where it has
// one, so that the bench binary cannot rot.
func TestWorkloadsRun(t *testing.T) {
	w := NewGMM2DIteration(tensor.CPU(), 16, 5, 32)
	for range 3 {
		if l := w.Run(); l != l {
			t.Fatal("loss is NaN")
		}
	}
	for _, wl := range Workloads() {
		switch wl.Name {
		case "matmul_256", "silu_linear_512x256x256", "em_step_gmm2d", "transformer_iter_256x8x64", "attention_256x4x8x16",
			"conv2d_c128_8x8_fwdbwd", "unet_sample_b64":
			r := Time(wl, tensor.CPU(), 1, 0)
			if !(r.Median > 0) || r.GFLOPS <= 0 {
				t.Fatalf("%s: %+v", wl.Name, r)
			}
		}
	}
}
