package algos

import (
	"fmt"
	"math"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// Net is a network of a state and a time with named parameters: a noise
// predictor ε_θ(x, s) or a control u(t, x).
type Net interface {
	sde.TimeNet
	nn.Module
}

// Pretrained is a diffusion model ready to sample: its schedule, grid and
// noise-prediction network (frozen).
type Pretrained struct {
	VP    sde.VP
	Steps int // Euler–Maruyama steps of a rollout
	Eps   Net
	Dim   int
}

// Grid is the sampling grid.
func (p *Pretrained) Grid() sde.Grid { return p.VP.NewGrid(p.Steps) }

// PretrainConfig sets the network and the denoising score matching run.
type PretrainConfig struct {
	Width, Depth, EmbDim int
	Iters, Batch         int
	LR                   float64
	Seed                 uint64
	// Tokens > 0 makes ε_θ a transformer (nn.SeqTransformer) over Tokens
	// tokens of dim/Tokens values each, with Depth blocks of Heads heads; 0
	// keeps the MLP.
	Tokens int `json:",omitempty"`
	Heads  int `json:",omitempty"`
	// UNet, if set, makes ε_θ an nn.UNet of that size over images of dim =
	// Channels·Height·Width values (Width, Depth and EmbDim are then
	// unused); it takes precedence over Tokens.
	UNet *nn.UNetConfig `json:",omitempty"`
}

// DataSampler returns a fresh batch [n, d] of training data for iteration i.
type DataSampler func(i, n int) *tensor.Tensor

// NewEpsNet builds the noise-prediction network of the given size:
// [x, embedding] → Width (×Depth, SiLU) → d, the transformer of
// PretrainConfig.Tokens, or the UNet of PretrainConfig.UNet.
func NewEpsNet(init *nn.Init, dim int, c PretrainConfig) Net {
	if u := c.UNet; u != nil {
		if u.Channels*u.Height*u.Width != dim {
			panic(fmt.Sprintf("algos: a UNet of %d×%d×%d images for samples of dimension %d", u.Channels, u.Height, u.Width, dim))
		}
		return nn.NewUNet(init, *u)
	}
	if c.Tokens > 0 {
		return nn.NewSeqTransformer(init, c.Tokens, dim/c.Tokens, c.Width, c.Depth, c.Heads, c.EmbDim)
	}
	hidden := make([]int, c.Depth)
	for i := range hidden {
		hidden[i] = c.Width
	}
	return nn.NewTimeMLP(init, dim, c.EmbDim, dim, tensor.ActSiLU, hidden...)
}

// Pretrain fits ε_θ by denoising score matching with Adam (cosine-decayed
// learning rate), calling progress after each step. It stops with an error on
// a non-finite loss.
func Pretrain(b tensor.Backend, vp sde.VP, dim int, c PretrainConfig, data DataSampler, progress func(iter int, loss float64)) (Net, error) {
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: c.Seed}
	streams := &sde.Streams{Seed: c.Seed}
	eps := NewEpsNet(init, dim, c)
	opt := nn.NewAdam(nn.Vars(eps), nn.CosineLR(c.LR, c.LR/10, c.Iters, 0))
	for i := range c.Iters {
		x0 := data(i, c.Batch)
		loss := vp.DSMLoss(eps, x0, c.Seed, streams.Next())
		l := loss.Value.Item()
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("pre-training: loss is %v at step %d (lower the learning rate)", l, i)
		}
		loss.Backward()
		opt.Step()
		if progress != nil {
			progress(i, l)
		}
	}
	nn.SetTrainable(eps, false)
	return eps, nil
}

// Sample draws n samples of the pre-trained model (no control), in chunks,
// without recording gradients; rows of the result are points.
func (p *Pretrained) Sample(b tensor.Backend, n int, rng *sde.Streams) []float64 {
	return sampleChunks(n, func(m int) []float64 {
		x0 := tensor.RandNormal(b, tensor.Float32, rng.Seed, rng.Next(), m, p.Dim)
		var out []float64
		autograd.NoGrad(func() {
			out = p.rollout().Run(autograd.Const(x0), rng.Seed, rng.Next()).X.Value.Float64s()
		})
		return out
	})
}

// rollout is the pre-trained model's sampler.
func (p *Pretrained) rollout() sde.Rollout {
	return sde.Rollout{VP: p.VP, Grid: p.Grid(), Eps: p.Eps}
}
