package algos

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// TestPretrainUNet checks that PretrainConfig.UNet makes ε_θ a UNet that
// denoising score matching trains on flattened images (its loss on a fixed
// batch falls), that a UNet of other images is refused, and that a config
// without one keeps the JSON (so the cache keys) it had before the field.
func TestPretrainUNet(t *testing.T) {
	b := tensor.CPU()
	u := nn.UNetConfig{Channels: 1, Height: 8, Width: 8, C1: 4, C2: 4, C3: 8, Groups: 2, Heads: 2, EmbDim: 8, TimeDim: 8}
	c := PretrainConfig{Iters: 40, Batch: 16, LR: 3e-3, Seed: 5, UNet: &u}
	// Images with a bright square at one of four places: structure to learn.
	data := tensor.RandUniform(b, tensor.Float32, 9, 1, 64, 64).Float64s()
	for i := range 64 {
		q := i % 4
		for y := range 4 {
			for x := range 4 {
				data[i*64+(y+4*(q/2))*8+x+4*(q%2)] += 2
			}
		}
	}
	batch := tensor.FromFloat64As(b, tensor.Float32, data[:16*64], 16, 64)
	sampler := func(i, n int) *tensor.Tensor {
		o := (i * n) % 48
		return tensor.FromFloat64As(b, tensor.Float32, data[o*64:(o+n)*64], n, 64)
	}
	vp := sde.DefaultVP
	loss := func(eps Net) float64 { return vp.DSMLoss(eps, batch, 77, 1).Value.Item() }

	before := loss(NewEpsNet(&nn.Init{Backend: b, DType: tensor.Float32, Seed: c.Seed}, 64, c))
	eps, err := Pretrain(b, vp, 64, c, sampler, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := eps.(*nn.UNet); !ok {
		t.Fatalf("ε_θ is a %T, want *nn.UNet", eps)
	}
	after := loss(eps)
	t.Logf("DSM loss %.4f before, %.4f after", before, after)
	if !(after < 0.8*before) {
		t.Errorf("DSM loss %.4f after %d steps, %.4f before: want a clear fall", after, c.Iters, before)
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "dimension 63") {
			t.Errorf("a UNet of 8×8 images for 63 values: recovered %v, want a panic naming the dimension", r)
		}
	}()
	raw, _ := json.Marshal(PretrainConfig{Width: 32, Depth: 2})
	if strings.Contains(string(raw), "UNet") {
		t.Errorf("a config without a UNet marshals as %s", raw)
	}
	NewEpsNet(&nn.Init{Backend: b, DType: tensor.Float32}, 63, c)
}
