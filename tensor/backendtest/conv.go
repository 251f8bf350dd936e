package backendtest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// convRef is the direct convolution in float64: y = conv(x, w) + bias (bias
// may be nil), and, for the output gradient dy, the gradients dx and dw
// (see tensor.Convolver), all from one loop over every kernel tap that
// lands inside the image.
func convRef(x, w, bias, dy []float64, g tensor.ConvGeom, out int) (y, dx, dw []float64) {
	ohw, kk := g.OutH*g.OutW, g.KH*g.KW
	y, dx, dw = make([]float64, g.N*out*ohw), make([]float64, len(x)), make([]float64, len(w))
	for n := range g.N {
		for o := range out {
			for oy := range g.OutH {
				for ox := range g.OutW {
					yi := (n*out+o)*ohw + oy*g.OutW + ox
					if bias != nil {
						y[yi] = bias[o]
					}
					for c := range g.C {
						for ky := range g.KH {
							iy := oy*g.Stride - g.Pad + ky
							for kx := range g.KW {
								ix := ox*g.Stride - g.Pad + kx
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								xi, wi := ((n*g.C+c)*g.H+iy)*g.W+ix, o*g.C*kk+(c*g.KH+ky)*g.KW+kx
								y[yi] += w[wi] * x[xi]
								dx[xi] += w[wi] * dy[yi]
								dw[wi] += dy[yi] * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

// testConv2d checks Conv2d (with and without bias), Conv2dGradInput,
// ConvTranspose2d and Conv2dGradWeight (from the image and from its
// patches) against the direct convolution in float64, within MatMul·√(k+1)
// for sums of k products:
// strides 1 and 2, padding 0, 1 and 2, odd and non-square sizes, 1×1 and
// non-square kernels, a 1×1 image, 1×1 kernels with stride 2, padding wider
// than the kernel, batches of odd sizes, and sizes that leave partial tiles
// in every GEMM dimension of an implicit-GEMM kernel.
func (s *suite) testConv2d(t *testing.T) {
	type tc struct{ n, c, h, w, kh, kw, stride, pad, out int }
	for _, c := range []tc{
		{2, 3, 7, 5, 3, 3, 1, 1, 4},
		{1, 2, 9, 9, 3, 3, 2, 1, 5},
		{3, 1, 6, 7, 3, 3, 2, 0, 2},
		{1, 4, 5, 5, 1, 1, 1, 0, 3},
		{2, 3, 8, 6, 2, 3, 2, 1, 3},
		{1, 3, 9, 8, 5, 5, 2, 2, 6},
		{2, 5, 11, 13, 3, 3, 1, 1, 70},
		{2, 17, 9, 7, 3, 3, 2, 1, 9},
		{5, 3, 13, 11, 3, 3, 2, 1, 7},
		{3, 8, 6, 7, 1, 1, 2, 0, 33},
		{2, 2, 1, 1, 3, 3, 1, 1, 3},
		{3, 6, 4, 9, 3, 1, 1, 2, 5},
	} {
		g := tensor.NewConvGeom(c.n, c.c, c.h, c.w, c.kh, c.kw, c.stride, c.pad)
		name := fmt.Sprintf("%+v", c)
		xv, x := s.randn(g.N, g.C, g.H, g.W)
		wv, w := s.randn(c.out, g.C*g.KH*g.KW)
		bv, bias := s.randn(c.out)
		dyv, dy := s.randn(g.N, c.out, g.OutH, g.OutW)
		y, dx, dw := convRef(xv, wv, bv, dyv, g, c.out)
		y0, _, _ := convRef(xv, wv, nil, dyv, g, c.out)
		tol := func(k int) float64 { return s.tol.MatMul * math.Sqrt(float64(k+1)) }
		check(t, name+" conv2d", tensor.Conv2d(x, w, bias, g), y, tol(g.C*g.KH*g.KW))
		yt, cols := tensor.Conv2dPatches(x, w, nil, g)
		check(t, name+" conv2d without bias", yt, y0, tol(g.C*g.KH*g.KW))
		check(t, name+" grad input", tensor.Conv2dGradInput(dy, w, g), dx, tol(c.out*g.KH*g.KW))
		// The transposed convolution of dy is the input gradient plus a bias
		// per channel, in the geometry NewConvTransposeGeom gives where the
		// convolution covers its input exactly.
		tbv, tbias := s.randn(g.C)
		yt2 := slices.Clone(dx)
		for i := range yt2 {
			yt2[i] += tbv[i/(g.H*g.W)%g.C]
		}
		check(t, name+" transposed", tensor.ConvTranspose2d(dy, w, tbias, g), yt2, tol(c.out*g.KH*g.KW))
		check(t, name+" transposed without bias", tensor.ConvTranspose2d(dy, w, nil, g), dx, tol(c.out*g.KH*g.KW))
		if (g.H+2*g.Pad-g.KH)%g.Stride == 0 && (g.W+2*g.Pad-g.KW)%g.Stride == 0 {
			if tg := tensor.NewConvTransposeGeom(g.N, g.C, g.OutH, g.OutW, g.KH, g.KW, g.Stride, g.Pad); tg != g {
				t.Errorf("%s: NewConvTransposeGeom gives %+v", name, tg)
			}
		}
		check(t, name+" grad weight", tensor.Conv2dGradWeight(dy, x, g), dw, tol(g.N*g.OutH*g.OutW))
		if cols != nil {
			check(t, name+" grad weight from the patches", tensor.Conv2dGradWeight(dy, cols, g), dw, tol(g.N*g.OutH*g.OutW))
		}
	}
}
