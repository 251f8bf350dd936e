package autograd_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TestConvTranspose2dGradients checks the transposed convolution's rule by
// central finite differences on both CPU backends: the UNet's upsampling
// (4×4, stride 2, padding 1), stride 1 without bias, a non-square kernel
// with stride 2 and no padding, and with only the weight or only the input
// requiring a gradient (the weight gradient then unfolds dy itself).
func TestConvTranspose2dGradients(t *testing.T) {
	type tc struct {
		n, in, out, h, w, kh, kw, stride, pad int
		bias, needX, needW                    bool
	}
	cases := []tc{
		{2, 3, 2, 3, 3, 4, 4, 2, 1, true, true, true},
		{1, 2, 3, 4, 3, 3, 3, 1, 1, false, true, true},
		{2, 2, 2, 3, 2, 3, 2, 2, 0, true, true, true},
		{1, 3, 2, 2, 3, 4, 4, 2, 1, true, false, true},
		{1, 3, 2, 2, 3, 4, 4, 2, 1, false, true, false},
	}
	for i, c := range cases {
		for _, be := range []tensor.Backend{tensor.CPU(), tensor.CPUReference()} {
			t.Run(fmt.Sprintf("%s %+v", be.Name(), c), func(t *testing.T) {
				g := tensor.NewConvTransposeGeom(c.n, c.out, c.h, c.w, c.kh, c.kw, c.stride, c.pad)
				rng := rand.New(rand.NewPCG(uint64(i), 11))
				mk := func(need bool, shape ...int) *autograd.Var {
					v := autograd.Param(randVar(rng, nil, shape...).Value.To(be))
					v.SetRequiresGrad(need)
					return v
				}
				in := []*autograd.Var{mk(c.needX, c.n, c.in, c.h, c.w), mk(c.needW, c.in, c.out*c.kh*c.kw)}
				if c.bias {
					in = append(in, mk(true, c.out))
				}
				f := func(in []*autograd.Var) *autograd.Var {
					var b *autograd.Var
					if len(in) > 2 {
						b = in[2]
					}
					y := autograd.ConvTranspose2d(in[0], in[1], b, g)
					if want := []int{g.N, g.C, g.H, g.W}; !slices.Equal(y.Shape(), want) {
						t.Fatalf("shape %v, want %v", y.Shape(), want)
					}
					return weighted(y)
				}
				if err := autograd.CheckGradients(f, in, 1e-6, 1e-6); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
