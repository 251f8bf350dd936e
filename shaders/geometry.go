//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import "fmt"

// maxRank is the most dimensions a strided kernel walks; views of higher
// rank (after merging) are split into several dispatches.
const maxRank = 6

// walk describes several views of one shape walked together: the shape
// after dropping size-1 dimensions and merging the adjacent dimensions that
// every operand stores nested (so contiguous views become one dimension),
// and each operand's strides and offset.
type walk struct {
	shape   []int
	strides [][]int
	offsets []int
}

func newWalk(shape []int, strides [][]int, offsets []int) walk {
	w := walk{strides: make([][]int, len(strides)), offsets: offsets}
	for i, d := range shape {
		if d == 1 {
			continue
		}
		last := len(w.shape) - 1
		merge := last >= 0
		for k := range strides {
			if merge && w.strides[k][last] != strides[k][i]*d {
				merge = false
			}
		}
		if merge {
			w.shape[last] *= d
			for k := range strides {
				w.strides[k][last] = strides[k][i]
			}
			continue
		}
		w.shape = append(w.shape, d)
		for k := range strides {
			w.strides[k] = append(w.strides[k], strides[k][i])
		}
	}
	if len(w.shape) == 0 {
		w.shape = []int{1}
		for k := range strides {
			w.strides[k] = []int{1}
		}
	}
	return w
}

// n is the number of elements.
func (w walk) n() int {
	n := 1
	for _, d := range w.shape {
		n *= d
	}
	return n
}

// contiguous reports whether every operand is one run of unit stride.
func (w walk) contiguous() bool {
	if len(w.shape) != 1 {
		return false
	}
	for _, s := range w.strides {
		if s[0] != 1 && w.shape[0] > 1 {
			return false
		}
	}
	return true
}

// split calls fn with sub-walks of at most maxRank dimensions that cover w:
// the leading dimensions beyond maxRank are iterated on the host, moving
// the offsets.
func (w walk) split(fn func(walk)) {
	extra := len(w.shape) - maxRank
	if extra <= 0 {
		fn(w)
		return
	}
	outer := w.shape[:extra]
	idx := make([]int, extra)
	for {
		sub := walk{shape: w.shape[extra:], strides: make([][]int, len(w.strides)), offsets: make([]int, len(w.offsets))}
		for k := range w.strides {
			sub.strides[k] = w.strides[k][extra:]
			sub.offsets[k] = w.offsets[k]
			for d, i := range idx {
				sub.offsets[k] += i * w.strides[k][d]
			}
		}
		fn(sub)
		d := extra - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < outer[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// u32 converts a size or offset for a push constant, panicking when it does
// not fit (buffers are limited to maxStorageBufferRange, so it always does
// for valid views).
func u32(v int) uint32 {
	if v < 0 || v > 1<<32-1 {
		panic(fmt.Sprintf("vulkan: index %d out of the 32-bit range of the kernels", v))
	}
	return uint32(v)
}
