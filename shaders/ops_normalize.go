//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"

	"github.com/difftune/difftune/tensor"
)

// kNormalize (glsl/normalize.comp). Bindings: y, mean, rstd, x, γ, β (x
// again for γ and β without an affine). Push: rows, n, offsets of x, y,
// mean, rstd, eps, γ, β, then inner and k of the affine (tensor.Affine).
// Specialization: the workgroup size (at most normalizeMaxWG, the kernel's
// shared array), whether there is an affine.
var kNormalize = &kernel{name: "normalize", bindings: 6, push: 11}

const normalizeMaxWG = 256

var _ tensor.RowNormalizer = (*Backend)(nil)

// NormalizeRows records the normalization of x's rows, with its affine if
// aff is not nil (see tensor.RowNormalizer), as one dispatch: a workgroup
// per row reduces the mean and the centred sum of squares in shared memory
// and writes the row.
func (b *Backend) NormalizeRows(y, mean, rstd, x *tensor.Tensor, eps float64, aff *tensor.Affine) {
	rows, n := mean.Len(), x.Len()
	b.launchRows(kNormalize, rows, n, aff != nil, func() ([]access, []uint32) {
		gamma, beta, inner, k := affineArgs(aff, x)
		return []access{{b.slotOf(y), true}, {b.slotOf(mean), true}, {b.slotOf(rstd), true}, {b.slotOf(x), false},
				{b.slotOf(gamma), false}, {b.slotOf(beta), false}},
			[]uint32{u32(rows), u32(n / rows), u32(x.Offset()), u32(y.Offset()), u32(mean.Offset()), u32(rstd.Offset()),
				math.Float32bits(float32(eps)), u32(gamma.Offset()), u32(beta.Offset()), inner, k}
	})
}

// affineArgs returns what the row kernels bind for γ and β and the push
// constants inner and k of aff; without an affine, x and 1, 1 (the kernels
// then read neither).
func affineArgs(aff *tensor.Affine, x *tensor.Tensor) (gamma, beta *tensor.Tensor, inner, k uint32) {
	if aff == nil {
		return x, x, 1, 1
	}
	return aff.Gamma, aff.Beta, u32(aff.Inner), u32(aff.K())
}

// launchRows records kernel k of the row normalization over n elements in
// all, with one workgroup per unit (a row; a feature for the affine's
// gradients), looping past the device's limit on groups; the workgroup size
// and whether there is an affine are its specialization constants, its
// bindings and push constants come from args.
func (b *Backend) launchRows(k *kernel, units, n int, affine bool, args func() ([]access, []uint32)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	if units == 0 || n == 0 {
		return
	}
	if n > math.MaxInt32 {
		panic("vulkan: " + k.name + " of more than 2³¹ elements")
	}
	bind, push := args()
	b.launch(k, []uint32{uint32(min(b.cfg.wg, normalizeMaxWG)), b2u(affine)}, bind, push, uint32(min(units, int(b.cfg.maxGroups))), 1, 1)
}

// kNormalizeGrad (glsl/normalize_grad.comp). Bindings: dx, g, x, mean,
// rstd, γ (x again without an affine). Push: rows, n, offsets of dx, g, x,
// mean, rstd, γ, then inner, k. Specialization: the workgroup size (at
// most normalizeMaxWG), whether there is an affine.
var kNormalizeGrad = &kernel{name: "normalize_grad", bindings: 6, push: 10}

var _ tensor.RowNormalizerGrad = (*Backend)(nil)

// NormalizeRowsGrad records the gradient of NormalizeRows with respect to x
// (see tensor.RowNormalizerGrad) as one dispatch: a workgroup per row
// reduces the means of g' and g'·ŷ in shared memory and writes the row of
// dx.
func (b *Backend) NormalizeRowsGrad(dx, g, x, mean, rstd *tensor.Tensor, aff *tensor.Affine) {
	rows, n := rstd.Len(), x.Len()
	b.launchRows(kNormalizeGrad, rows, n, aff != nil, func() ([]access, []uint32) {
		gamma, _, inner, k := affineArgs(aff, x)
		return []access{{b.slotOf(dx), true}, {b.slotOf(g), false}, {b.slotOf(x), false}, {b.slotOf(mean), false},
				{b.slotOf(rstd), false}, {b.slotOf(gamma), false}},
			[]uint32{u32(rows), u32(n / rows), u32(dx.Offset()), u32(g.Offset()), u32(x.Offset()), u32(mean.Offset()),
				u32(rstd.Offset()), u32(gamma.Offset()), inner, k}
	})
}

// kNormalizeAffineGrad (glsl/normalize_affine_grad.comp). Bindings: dγ,
// dβ, g, x, mean, rstd. Push: k, inner, outer, n (the rows' length),
// offsets of dγ, dβ, g, x, mean, rstd. Specialization: the workgroup size
// (at most normalizeMaxWG; launchRows's affine flag matches no constant).
var kNormalizeAffineGrad = &kernel{name: "normalize_affine_grad", bindings: 6, push: 10}

// NormalizeAffineGrad records the gradients of NormalizeRows's affine (see
// tensor.RowNormalizerGrad) as one dispatch: a workgroup per feature sums
// g·ŷ and g over the feature's elements in shared memory.
func (b *Backend) NormalizeAffineGrad(dgamma, dbeta, g, x, mean, rstd *tensor.Tensor, aff *tensor.Affine) {
	k, n := aff.K(), x.Len()
	b.launchRows(kNormalizeAffineGrad, k, n, false, func() ([]access, []uint32) {
		return []access{{b.slotOf(dgamma), true}, {b.slotOf(dbeta), true}, {b.slotOf(g), false}, {b.slotOf(x), false},
				{b.slotOf(mean), false}, {b.slotOf(rstd), false}},
			[]uint32{u32(k), u32(aff.Inner), u32(n / (k * aff.Inner)), u32(n / rstd.Len()),
				u32(dgamma.Offset()), u32(dbeta.Offset()), u32(g.Offset()), u32(x.Offset()), u32(mean.Offset()), u32(rstd.Offset())}
	})
}
