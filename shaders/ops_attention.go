//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"math"
	"math/bits"

	"github.com/difftune/difftune/tensor"
)

// kAttention (glsl/attention.comp). Bindings: out, lse, q, k, v. Push:
// batch, n, m, d, offsets of out, lse, q, k, v, scale. Specialization: the
// workgroup size, the floats of shared memory, the query rows per
// workgroup.
var kAttention = &kernel{name: "attention", bindings: 5, push: 10}

// kAttentionGrad (glsl/attention_grad.comp). Bindings: dq, dk, dv, g, q, k,
// v, out, lse. Push: batch, n, m, d, offsets of the nine, scale.
// Specialization: as kAttention (the rows are query rows for dq, keys for
// dk and dv).
var kAttentionGrad = &kernel{name: "attention_grad", bindings: 9, push: 14}

// The register blocks of the attention kernels: a workgroup takes at most
// attnBlock query rows (keys, for dk and dv), and an invocation holds their
// sums for attnT keys, queries or features (the shaders' T).
const (
	attnBlock = 16
	attnT     = 4
)

var (
	_ tensor.FusedAttender     = (*Backend)(nil)
	_ tensor.FusedAttenderGrad = (*Backend)(nil)
)

// Attention records scaled dot-product attention (see tensor.FusedAttender)
// as one dispatch: a workgroup per block of R ≤ 16 query rows keeps their
// scores in shared memory, R·(m + d + 1) floats. It declines (false) where
// not even one row fits the device's shared memory
// (maxComputeSharedMemorySize: on lavapipe's 32 KiB, m + d ≤ 8191), and
// where the fused kernels are off (cfg.fused); tensor.Attention composes
// the operation instead.
func (b *Backend) Attention(out, lse, q, k, v *tensor.Tensor, scale float64) bool {
	if !b.cfg.fused {
		return false
	}
	batch, n, m, d := tensor.AttentionShape(q, k)
	lim := b.sharedFloats()
	r := attnRows(n, lim, func(r int) int { return r * (m + d + 1) })
	if r == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	bind := []access{{b.slotOf(out), true}, {b.slotOf(lse), true}, {b.slotOf(q), false}, {b.slotOf(k), false}, {b.slotOf(v), false}}
	push := []uint32{u32(batch), u32(n), u32(m), u32(d),
		u32(out.Offset()), u32(lse.Offset()), u32(q.Offset()), u32(k.Offset()), u32(v.Offset()),
		math.Float32bits(float32(scale))}
	spec := []uint32{b.attnWG(max(m, d)), sharedSpec(r*(m+d+1), lim), uint32(r)}
	groups := batch * ((n + r - 1) / r)
	b.launch(kAttention, spec, bind, push, uint32(min(groups, int(b.cfg.maxGroups))), 1, 1)
	return true
}

// AttentionGrad records the backward pass of Attention (see
// tensor.FusedAttenderGrad) as one dispatch of two kinds of workgroups:
// those of blocks of R ≤ 16 query rows write dq, with R·(m + 2d + 2) floats
// of shared memory; those of blocks of R keys write dk and dv, with
// R·(2n + 2d) + 2n. It declines (false) where one row and one key do not
// fit (on lavapipe's 32 KiB: n up to about 2000 at small d).
func (b *Backend) AttentionGrad(dq, dk, dv, g, q, k, v, out, lse *tensor.Tensor, scale float64) bool {
	if !b.cfg.fused {
		return false
	}
	batch, n, m, d := tensor.AttentionShape(q, k)
	lim := b.sharedFloats()
	need := func(r int) int { return max(r*(m+2*d+2), r*(2*n+2*d)+2*n) }
	r := attnRows(max(n, m), lim, need)
	if r == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	bind := []access{{b.slotOf(dq), true}, {b.slotOf(dk), true}, {b.slotOf(dv), true},
		{b.slotOf(g), false}, {b.slotOf(q), false}, {b.slotOf(k), false}, {b.slotOf(v), false}, {b.slotOf(out), false}, {b.slotOf(lse), false}}
	push := []uint32{u32(batch), u32(n), u32(m), u32(d),
		u32(dq.Offset()), u32(dk.Offset()), u32(dv.Offset()), u32(g.Offset()), u32(q.Offset()),
		u32(k.Offset()), u32(v.Offset()), u32(out.Offset()), u32(lse.Offset()),
		math.Float32bits(float32(scale))}
	spec := []uint32{b.attnWG(max(n, m, d)), sharedSpec(need(r), lim), uint32(r)}
	groups := batch * ((max(n, m) + r - 1) / r)
	b.launch(kAttentionGrad, spec, bind, push, uint32(min(groups, int(b.cfg.maxGroups))), 2, 1)
	return true
}

// attnRows returns the rows per workgroup of an attention kernel: a power
// of two, at most attnBlock and no more than rows needs, halved until
// need(r) floats fit in lim; 0 if not even one does.
func attnRows(rows, lim int, need func(r int) int) int {
	r := min(attnBlock, 1<<bits.Len(uint(rows-1)))
	for r > 0 && need(r) > lim {
		r /= 2
	}
	return r
}

// attnWG is the workgroup size of an attention kernel whose loops run over
// span keys, queries or features, attnT per invocation: on a GPU a power of
// two covering span/attnT, 32 to 64; on a CPU implementation one subgroup
// (lavapipe: 8 lanes, which measured about twice as fast as 64, run as
// coroutines that switch at every barrier).
func (b *Backend) attnWG(span int) uint32 {
	if s := b.dev.phys.sub; b.dev.isCPU && s.ok && s.size >= 4 && s.size <= 64 {
		return s.size
	}
	return uint32(max(32, min(64, 1<<bits.Len(uint((span-1)/attnT)))))
}

// sharedFloats is the shared memory of a workgroup, in floats.
func (b *Backend) sharedFloats() int {
	return int(b.dev.phys.limits.MaxComputeSharedMemorySize / 4)
}

// sharedSpec sizes a kernel's shared array for need floats: the next power
// of two (so that few pipelines are specialized), at most lim.
func sharedSpec(need, lim int) uint32 {
	return uint32(min(1<<bits.Len(uint(need-1)), lim))
}
