//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"slices"

	"github.com/difftune/difftune/tensor"
)

// kReduce (glsl/reduce.comp). Push constants: rows, n, rank, sOff, dOff,
// sAxis, dAxis, shape[6], sStride[6], dStride[6].
var kReduce = &kernel{name: "reduce", bindings: 2, push: 25}

// Softmax ops of the reduce kernel, after the tensor.ReduceOp values.
const (
	opSoftmax    = 5
	opLogSoftmax = 6
)

// Workgroup sizes of the two launch shapes of the reduce kernel.
const (
	reduceRowWG   = 64
	reduceGroupWG = 128
)

// reduceRows records the reduce kernel: op applied along axis of src, into
// dst (same shape with the axis of size 1 for reductions, src's shape for
// softmax).
func (b *Backend) reduceRows(op uint32, dst, src *tensor.Tensor, axis int) {
	n := src.Dim(axis)
	drop := func(s []int) []int { return slices.Delete(slices.Clone(s), axis, axis+1) }
	w := newWalk(drop(src.Shape()), [][]int{drop(src.Strides()), drop(dst.Strides())}, []int{src.Offset(), dst.Offset()})
	sAxis, dAxis := src.Strides()[axis], 0
	if op >= opSoftmax {
		dAxis = dst.Strides()[axis]
	}
	bind := []access{{b.slotOf(dst), true}, {b.slotOf(src), false}}
	w.split(func(w walk) {
		rows := w.n()
		if rows == 0 || (n == 0 && op >= opSoftmax) {
			return
		}
		push := make([]uint32, 25)
		push[0], push[1], push[2] = u32(rows), u32(n), uint32(len(w.shape))
		push[3], push[4], push[5], push[6] = u32(w.offsets[0]), u32(w.offsets[1]), u32(sAxis), u32(dAxis)
		for j := range w.shape {
			push[7+j] = u32(w.shape[j])
			push[13+j] = u32(w.strides[0][j])
			push[19+j] = u32(w.strides[1][j])
		}
		// A workgroup per row for long axes (and for moderately long ones
		// when there are too few rows to fill the device otherwise).
		group := n >= b.cfg.reduceGroupMin || (n >= 32 && rows < 256)
		if group {
			b.launch(kReduce, []uint32{op, 1, reduceGroupWG}, bind, push, uint32(min(rows, int(b.cfg.maxGroups))), 1, 1)
		} else {
			b.launch(kReduce, []uint32{op, 0, reduceRowWG}, bind, push, b.cfg.groups1D(rows, reduceRowWG), 1, 1)
		}
	})
}

// Reduce reduces src along axis into dst (src's shape with that axis 1).
func (b *Backend) Reduce(op tensor.ReduceOp, dst, src *tensor.Tensor, axis int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	b.reduceRows(uint32(op), dst, src, axis)
}

// Softmax computes softmax (or log-softmax) of src along axis.
func (b *Backend) Softmax(dst, src *tensor.Tensor, axis int, log bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checkOpen()
	op := uint32(opSoftmax)
	if log {
		op = opLogSoftmax
	}
	b.reduceRows(op, dst, src, axis)
}
