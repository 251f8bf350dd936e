package nn

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// TestSeqTransformer checks the sequence transformer's shapes, its gradients
// (input and every parameter, shared and per-row times) against finite
// differences, ZeroOutput, and a checkpoint round trip.
func TestSeqTransformer(t *testing.T) {
	m := NewSeqTransformer(init64(30), 3, 4, 8, 2, 2, 6)
	x := autograd.Param(randn(31, 2, 12))
	for _, times := range [][]float64{{0.4}, {0.2, 0.9}} {
		if got := m.Forward(x, times).Shape(); !slices.Equal(got, []int{2, 12}) {
			t.Fatalf("output shape %v", got)
		}
		w := autograd.Const(randn(32, 2, 12))
		loss := func(in []*autograd.Var) *autograd.Var {
			return autograd.SumAll(autograd.Mul(m.Forward(in[0], times), w))
		}
		if err := autograd.CheckGradients(loss, append([]*autograd.Var{x}, Vars(m)...), 1e-6, 1e-5); err != nil {
			t.Fatalf("times %v: %v", times, err)
		}
	}
	// Tokens interact: changing one token changes the output at another.
	x2 := x.Value.Clone()
	v := x2.Float64s()
	v[0] += 1
	a := m.Forward(autograd.Const(x.Value), []float64{0.4}).Value.Float64s()
	b := m.Forward(autograd.Const(tensor.FromFloat64(ref, v, 2, 12)), []float64{0.4}).Value.Float64s()
	if a[8] == b[8] {
		t.Error("token 3 does not see token 1")
	}
	m.ZeroOutput()
	for _, o := range m.Forward(x, []float64{0.4}).Value.Float64s() {
		if o != 0 {
			t.Fatal("ZeroOutput left a nonzero output")
		}
	}
	c := NewSeqTransformer(&Init{Backend: tensor.CPU(), DType: tensor.Float32, Seed: 1}, 8, 4, 16, 1, 4, 8)
	path := filepath.Join(t.TempDir(), "t.safetensors")
	if err := SaveCheckpoint(path, c, nil); err != nil {
		t.Fatal(err)
	}
	d := NewSeqTransformer(&Init{Backend: tensor.CPU(), DType: tensor.Float32, Seed: 2}, 8, 4, 16, 1, 4, 8)
	if _, err := LoadCheckpoint(path, d); err != nil {
		t.Fatal(err)
	}
	xs := autograd.Const(tensor.RandNormal(tensor.CPU(), tensor.Float32, 1, 1, 3, 32))
	if !slices.Equal(c.Forward(xs, []float64{0.5}).Value.Float32s(), d.Forward(xs, []float64{0.5}).Value.Float32s()) {
		t.Error("a loaded transformer computes differently")
	}
}
