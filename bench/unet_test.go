package bench

import (
	"slices"
	"testing"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// TestUNetStep runs the unet_train workload's step on a small UNet and
// batch: the loss is finite and of the order of 1 (ε̂ starts small, ε is
// N(0, I)), Adam moves every parameter, and the FLOP count is the forward
// pass's ×3 and grows with the batch.
func TestUNetStep(t *testing.T) {
	c := nn.UNetConfig{Channels: 1, Height: 8, Width: 8, C1: 8, C2: 8, C3: 8, Groups: 4, Heads: 2, EmbDim: 8, TimeDim: 16}
	u, step, flops := NewUNetStep(tensor.CPU(), c, 3)
	if want := 3 * UNetFLOPs(c, 3); flops != want || !(UNetFLOPs(c, 6) > UNetFLOPs(c, 3)) {
		t.Fatalf("flops %v, want %v growing with the batch", flops, want)
	}
	before := nn.CloneValues(nn.Vars(u))
	for i := range 3 {
		if l := step(); !(l > 0.2 && l < 5) {
			t.Fatalf("step %d: loss %v", i, l)
		}
	}
	for i, p := range u.Params() {
		if slices.Equal(p.Value.Float32s(), before[i].Float32s()) {
			t.Fatalf("parameter %s did not move", p.Name)
		}
	}
}
