package algos

import (
	"flag"
	"fmt"
	"math"

	"github.com/difftune/difftune/sde"
)

// Diffusion is the part of a task's settings that every diffusion task has:
// the schedule, the Euler–Maruyama steps of a rollout, and the network and
// run of pre-training.
type Diffusion struct {
	VP       sde.VP
	Steps    int
	Pretrain PretrainConfig
}

// SetFlags binds -beta-max, -steps, -pretrain-iters and -width.
func (d *Diffusion) SetFlags(fs *flag.FlagSet) {
	fs.Float64Var(&d.VP.BetaMax, "beta-max", d.VP.BetaMax, fmt.Sprintf("β_max of the VP schedule (β_min = %g)", d.VP.BetaMin))
	fs.IntVar(&d.Steps, "steps", d.Steps, "Euler–Maruyama steps per rollout")
	fs.IntVar(&d.Pretrain.Iters, "pretrain-iters", d.Pretrain.Iters, "denoising score matching steps of pre-training")
	fs.IntVar(&d.Pretrain.Width, "width", d.Pretrain.Width, "hidden width of the noise-prediction network (and of a control shaped like it)")
}

// Validate reports settings that cannot run.
func (d Diffusion) Validate() error {
	if err := d.VP.Validate(); err != nil {
		return err
	}
	p := d.Pretrain
	switch {
	case math.IsInf(d.VP.BetaMax, 0):
		return fmt.Errorf("beta-max must be finite, got %v", d.VP.BetaMax)
	case d.Steps < 1:
		return fmt.Errorf("need steps ≥ 1, got %d", d.Steps)
	case p.Iters < 1 || p.Batch < 1 || !finitePositive(p.LR):
		return fmt.Errorf("pre-training needs iters and batch ≥ 1 and a finite lr > 0, got %+v", p)
	case p.UNet == nil && (p.Width < 1 || p.Depth < 1 || p.EmbDim < 1):
		return fmt.Errorf("the noise-prediction network needs width, depth and embedding ≥ 1, got %+v", p)
	case p.Tokens > 0 && p.Width%max(p.Heads, 1) != 0:
		return fmt.Errorf("transformer width %d is not a multiple of its %d heads", p.Width, p.Heads)
	}
	return nil
}

// finitePositive reports whether v is a finite number > 0.
func finitePositive(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

// rolloutFactor is the float32 values the pathwise gradient keeps per hidden
// unit of a network and step: its pre-activation and its activation.
const rolloutFactor = 2

// RolloutBytes estimates the memory a fine-tuning rollout of batch samples
// keeps for the pathwise gradient: at each step the activations of ε_θ and
// of a control shaped like it (width × depth units, per token for a
// transformer), float32.
func (d Diffusion) RolloutBytes(batch int) float64 {
	p := d.Pretrain
	units := float64(max(p.Tokens, 1)) * float64(p.Width) * float64(p.Depth)
	return float64(batch) * float64(d.Steps) * 2 * units * rolloutFactor * 4
}
