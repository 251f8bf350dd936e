package tensor_test

import (
	"fmt"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// BenchmarkConvOps times the three float32 convolutions of the CPU backend
// alone (3×3, padding 1) on the shapes of the bench's conv2d workloads
// (bench/workloads.go) and the UNet's widest layer at 28×28, batch 128;
// the stride-1 ones both as shifted taps and blockwise (cpu_conv_taps.go).
func BenchmarkConvOps(b *testing.B) {
	for _, c := range []struct{ n, c, out, hw, s int }{{64, 32, 32, 32, 1}, {64, 64, 64, 16, 1}, {64, 128, 128, 8, 1}, {64, 32, 64, 32, 2}, {128, 64, 64, 28, 1}, {128, 16, 16, 28, 1}, {128, 32, 32, 14, 1}, {128, 64, 64, 7, 1}} {
		be := tensor.CPU()
		g := tensor.NewConvGeom(c.n, c.c, c.hw, c.hw, 3, 3, c.s, 1)
		x := tensor.RandNormal(be, tensor.Float32, 1, 1, g.N, g.C, g.H, g.W)
		w := tensor.RandNormal(be, tensor.Float32, 1, 2, c.out, g.C*9)
		bias := tensor.RandNormal(be, tensor.Float32, 1, 3, c.out)
		dy := tensor.RandNormal(be, tensor.Float32, 1, 4, g.N, c.out, g.OutH, g.OutW)
		fl := 2 * float64(c.n*c.out*g.OutH*g.OutW*c.c*9)
		name := fmt.Sprintf("c%d_o%d_%d_s%d", c.c, c.out, c.hw, c.s)
		for _, mode := range []struct {
			name      string
			minImages int // fewest images for the taps: never, always
		}{{"blocks", 1 << 30}, {"taps", 1}} {
			if mode.name == "taps" && c.s != 1 {
				continue
			}
			run := func(op string, f func() *tensor.Tensor) {
				b.Run(name+"/"+mode.name+"/"+op, func(b *testing.B) {
					restore := tensor.SetConvTapsMinImages(mode.minImages)
					defer restore()
					for range b.N {
						tensor.Free(f())
					}
					b.ReportMetric(fl*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			run("fwd", func() *tensor.Tensor { return tensor.Conv2d(x, w, bias, g) })
			run("dx", func() *tensor.Tensor { return tensor.Conv2dGradInput(dy, w, g) })
			run("dw", func() *tensor.Tensor { return tensor.Conv2dGradWeight(dy, x, g) })
		}
	}
}
