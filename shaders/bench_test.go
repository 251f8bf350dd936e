//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"testing"

	"github.com/difftune/difftune/tensor"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// BenchmarkMatMul times n×n×n products on the device and reports GFLOP/s
// (2n³ per product). Each iteration records one product; the timer covers
// recording, submission and completion (Sync).
func BenchmarkMatMul(bm *testing.B) {
	for _, n := range []int{256, 512, 1024} {
		bm.Run(fmt.Sprint(n), func(bm *testing.B) {
			b := testBackend(bm)
			x := tensor.RandNormal(b, tensor.Float32, 1, 1, n, n)
			y := tensor.RandNormal(b, tensor.Float32, 1, 2, n, n)
			tensor.MatMul(x, y) // warm up: pipeline creation and first compile
			if err := b.Sync(); err != nil {
				bm.Fatal(err)
			}
			bm.ResetTimer()
			for range bm.N {
				tensor.MatMul(x, y)
			}
			if err := b.Sync(); err != nil {
				bm.Fatal(err)
			}
			bm.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGonumSgemm is the reference the Vulkan figures are read against
// on a machine without a GPU: gonum's pure-Go blas32 Sgemm at the same sizes.
func BenchmarkGonumSgemm(bm *testing.B) {
	for _, n := range []int{256, 512, 1024} {
		bm.Run(fmt.Sprint(n), func(bm *testing.B) {
			x := make([]float32, n*n)
			y := make([]float32, n*n)
			z := make([]float32, n*n)
			for i := range x {
				x[i], y[i] = float32(i%7)-3, float32(i%5)-2
			}
			impl := blas32.Implementation()
			bm.ResetTimer()
			for range bm.N {
				impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
			}
			bm.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDispatch measures the host cost of recording a small operation
// (1024-element add) and its share of submission, in a long batch.
func BenchmarkDispatch(bm *testing.B) {
	b := testBackend(bm)
	x := tensor.RandNormal(b, tensor.Float32, 1, 1, 1024)
	y := tensor.RandNormal(b, tensor.Float32, 1, 2, 1024)
	tensor.Add(x, y)
	if err := b.Sync(); err != nil {
		bm.Fatal(err)
	}
	bm.ResetTimer()
	for range bm.N {
		tensor.Add(x, y)
	}
	if err := b.Sync(); err != nil {
		bm.Fatal(err)
	}
}
