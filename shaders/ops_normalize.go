//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"

	"github.com/difftune/difftune/tensor"
)

// kNormalize (glsl/normalize.comp). Bindings: y, mean, rstd, x. Push:
// rows, n, offsets of x, y, mean, rstd, eps. Specialization: the workgroup
// size (at most normalizeMaxWG, the kernel's shared array).
var kNormalize = &kernel{name: "normalize", bindings: 4, push: 7}

const normalizeMaxWG = 256

var _ tensor.RowNormalizer = (*Backend)(nil)

// NormalizeRows records the normalization of x's rows (see
// tensor.RowNormalizer) as one dispatch: a workgroup per row reduces the
// mean and the centred sum of squares in shared memory and writes the row.
func (b *Backend) NormalizeRows(y, mean, rstd, x *tensor.Tensor, eps float64) {
	b.launchRows(kNormalize, mean.Len(), x.Len(), func(rows, n int) ([]access, []uint32) {
		return []access{{b.slotOf(y), true}, {b.slotOf(mean), true}, {b.slotOf(rstd), true}, {b.slotOf(x), false}},
			[]uint32{u32(rows), u32(n / rows), u32(x.Offset()), u32(y.Offset()), u32(mean.Offset()), u32(rstd.Offset()),
				math.Float32bits(float32(eps))}
	})
}

// launchRows records kernel k of the row normalization over rows rows of n
// elements in all: one workgroup per row (looping past the device's limit
// on groups), its bindings and push constants from args.
func (b *Backend) launchRows(k *kernel, rows, n int, args func(rows, n int) ([]access, []uint32)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	if rows == 0 || n == 0 {
		return
	}
	if n > math.MaxInt32 {
		panic("vulkan: " + k.name + " of more than 2³¹ elements")
	}
	bind, push := args(rows, n)
	b.launch(k, []uint32{uint32(min(b.cfg.wg, normalizeMaxWG))}, bind, push, uint32(min(rows, int(b.cfg.maxGroups))), 1, 1)
}

// kNormalizeGrad (glsl/normalize_grad.comp). Bindings: dx, g, y, rstd.
// Push: rows, n, offsets of dx, g, y, rstd. Specialization: the workgroup
// size (at most normalizeMaxWG).
var kNormalizeGrad = &kernel{name: "normalize_grad", bindings: 4, push: 6}

var _ tensor.RowNormalizerGrad = (*Backend)(nil)

// NormalizeRowsGrad records the backward pass of NormalizeRows (see
// tensor.RowNormalizerGrad) as one dispatch: a workgroup per row reduces
// the means of g and g·y in shared memory and writes the row of dx.
func (b *Backend) NormalizeRowsGrad(dx, g, y, rstd *tensor.Tensor) {
	b.launchRows(kNormalizeGrad, rstd.Len(), y.Len(), func(rows, n int) ([]access, []uint32) {
		return []access{{b.slotOf(dx), true}, {b.slotOf(g), false}, {b.slotOf(y), false}, {b.slotOf(rstd), false}},
			[]uint32{u32(rows), u32(n / rows), u32(dx.Offset()), u32(g.Offset()), u32(y.Offset()), u32(rstd.Offset())}
	})
}
