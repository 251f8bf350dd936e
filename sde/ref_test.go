package sde

import (
	"math"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// zeroNet is the zero control.
type zeroNet struct{}

func (zeroNet) Forward(x *autograd.Var, _ []float64) *autograd.Var {
	return autograd.Scale(x, 0)
}

// TestRolloutReference checks the path KL against a reference control:
// without one the rollout is the same bit for bit and has no KLRef; against
// the zero control KLRef is the KL to the pre-trained process; against the
// control itself it is 0; and checkpointing gives the same numbers.
func TestRolloutReference(t *testing.T) {
	b := tensor.CPU()
	vp := DefaultVP
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: 4}
	ctrl := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16)
	other := nn.NewTimeMLP(init, 2, 8, 2, tensor.ActSiLU, 16)
	x0 := autograd.Const(tensor.RandNormal(b, tensor.Float32, 1, 2, 32, 2))
	base := Rollout{VP: vp, Grid: vp.NewGrid(8), Eps: gaussianEps{vp}, Control: ctrl}
	plain := base.Run(x0, 3, 0)
	if plain.KLRef != nil {
		t.Fatal("KLRef without a reference")
	}
	for _, seg := range []int{0, 3} {
		r := base
		r.Segment = seg
		r.Ref = zeroNet{}
		res := r.Run(x0, 3, 0)
		eq := func(a, b []float64, tol float64) bool {
			for i := range a {
				if math.Abs(a[i]-b[i]) > tol*(1+math.Abs(b[i])) {
					return false
				}
			}
			return true
		}
		if !eq(res.X.Value.Float64s(), plain.X.Value.Float64s(), 0) || !eq(res.KL.Value.Float64s(), plain.KL.Value.Float64s(), 0) {
			t.Errorf("segment %d: a reference changed x_T or the KL", seg)
		}
		if !eq(res.KLRef.Value.Float64s(), plain.KL.Value.Float64s(), 1e-5) {
			t.Errorf("segment %d: KL against the zero control %v, KL to pre-trained %v", seg, res.KLRef.Value.Float64s()[:3], plain.KL.Value.Float64s()[:3])
		}
		r.Ref = ctrl
		if s := r.Run(x0, 3, 0).KLRef.Value.Float64s(); !eq(s, make([]float64, len(s)), 0) {
			t.Errorf("segment %d: KL against itself %v", seg, s[:3])
		}
		r.Ref = other
		res = r.Run(x0, 3, 0)
		autograd.SumAll(res.KLRef).Backward()
		if ctrl.Net.Layers[0].W.Grad == nil {
			t.Errorf("segment %d: no gradient of the KL against a reference", seg)
		}
		nn.ZeroGrad(ctrl)
		nn.ZeroGrad(other)
	}
}
