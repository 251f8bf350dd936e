//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"

	"github.com/difftune/difftune/tensor"
)

// kEMStep (glsl/em_step.comp). Bindings: next, klNext, x, eps, u, kl.
// Push: rows, d, offsets of x, eps, u, kl, next, klNext, seed lo/hi, draw
// lo/hi, the coefficients X, Eps, U, Noise, KL, flags.
var kEMStep = &kernel{name: "em_step", bindings: 6, push: 18}

var _ tensor.EulerMaruyamaStepper = (*Backend)(nil)

// EulerMaruyamaStep records one fused Euler–Maruyama step (see
// tensor.EulerMaruyamaStepper): the update, its Philox noise and the rows'
// KL increments in a single dispatch.
func (b *Backend) EulerMaruyamaStep(next, klNext, x, eps, u, kl *tensor.Tensor, c tensor.EMCoeffs, seed, draw uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	rows, n := next.Dim(0), next.Len()
	if rows == 0 {
		return
	}
	if n > math.MaxInt32 {
		panic("vulkan: EulerMaruyamaStep of more than 2³¹ elements")
	}
	f := func(v float64) uint32 { return math.Float32bits(float32(v)) }
	ns := b.slotOf(next)
	// Without a control, u, kl and klNext are not touched: next stands in.
	bind := []access{{ns, true}, {ns, false}, {b.slotOf(x), false}, {b.slotOf(eps), false}, {ns, false}, {ns, false}}
	push := []uint32{u32(rows), u32(n / rows), u32(x.Offset()), u32(eps.Offset()), 0, 0, u32(next.Offset()), 0,
		uint32(seed), uint32(seed >> 32), uint32(draw), uint32(draw >> 32),
		f(c.X), f(c.Eps), f(c.U), f(c.Noise), f(c.KL), 0}
	if u != nil {
		bind[1] = access{b.slotOf(klNext), true}
		bind[4] = access{b.slotOf(u), false}
		bind[5] = access{b.slotOf(kl), false}
		push[4], push[5], push[7] = u32(u.Offset()), u32(kl.Offset()), u32(klNext.Offset())
		push[17] = 1
	}
	b.launch(kEMStep, []uint32{b.cfg.wg}, bind, push, b.cfg.groups1D(rows, b.cfg.wg), 1, 1)
}
