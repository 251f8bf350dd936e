package tensor

import (
	"fmt"
	"slices"
)

func (t *Tensor) view(shape, strides []int, offset int) *Tensor {
	return &Tensor{shape: shape, strides: strides, offset: offset, buf: t.buf}
}

// Reshape returns a tensor with the same elements in a new shape; one dimension
// may be −1 and is inferred. It is a view when t is contiguous, a copy otherwise.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = slices.Clone(shape)
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor: bad shape %v in Reshape", shape))
		default:
			known *= d
		}
	}
	n := t.Len()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.shape, shape))
		}
		shape[infer] = n / known
	}
	if numel(shape) != n {
		panic(fmt.Sprintf("tensor: cannot reshape %v (%d elements) to %v", t.shape, n, shape))
	}
	c := t.Contiguous()
	return c.view(shape, contiguousStrides(shape), c.offset)
}

// Transpose swaps two axes (a view).
func (t *Tensor) Transpose(i, j int) *Tensor {
	perm := make([]int, t.Rank())
	for k := range perm {
		perm[k] = k
	}
	i, j = t.axis(i), t.axis(j)
	perm[i], perm[j] = perm[j], perm[i]
	return t.Permute(perm...)
}

// T transposes the last two axes (a view).
func (t *Tensor) T() *Tensor { return t.Transpose(-2, -1) }

// Permute reorders the axes: result axis k is t's axis perm[k] (a view).
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != t.Rank() {
		panic(fmt.Sprintf("tensor: permutation %v for rank %d", perm, t.Rank()))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	for k, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			panic(fmt.Sprintf("tensor: %v is not a permutation", perm))
		}
		seen[p] = true
		shape[k], strides[k] = t.shape[p], t.strides[p]
	}
	return t.view(shape, strides, t.offset)
}

// Slice keeps indices [start, end) of one axis (a view).
func (t *Tensor) Slice(axis, start, end int) *Tensor {
	axis = t.axis(axis)
	if start < 0 || end > t.shape[axis] || start > end {
		panic(fmt.Sprintf("tensor: slice [%d:%d] of axis %d with size %d", start, end, axis, t.shape[axis]))
	}
	shape := slices.Clone(t.shape)
	shape[axis] = end - start
	return t.view(shape, slices.Clone(t.strides), t.offset+start*t.strides[axis])
}

// Unsqueeze inserts a dimension of size 1 before axis (axis may equal Rank).
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	if axis < 0 {
		axis += t.Rank() + 1
	}
	if axis < 0 || axis > t.Rank() {
		panic(fmt.Sprintf("tensor: Unsqueeze(%d) of rank %d", axis, t.Rank()))
	}
	shape := slices.Insert(slices.Clone(t.shape), axis, 1)
	strides := slices.Insert(slices.Clone(t.strides), axis, 0)
	return t.view(shape, strides, t.offset)
}

// Squeeze removes a dimension of size 1.
func (t *Tensor) Squeeze(axis int) *Tensor {
	axis = t.axis(axis)
	if t.shape[axis] != 1 {
		panic(fmt.Sprintf("tensor: Squeeze of axis %d with size %d", axis, t.shape[axis]))
	}
	return t.view(slices.Delete(slices.Clone(t.shape), axis, axis+1), slices.Delete(slices.Clone(t.strides), axis, axis+1), t.offset)
}

// Expand broadcasts t to shape (numpy rules: leading dimensions are added, size-1
// dimensions repeat with stride 0). It is a view.
func (t *Tensor) Expand(shape ...int) *Tensor {
	if slices.Equal(t.shape, shape) {
		return t
	}
	if len(shape) < t.Rank() {
		panic(fmt.Sprintf("tensor: cannot expand %v to %v", t.shape, shape))
	}
	lead := len(shape) - t.Rank()
	strides := make([]int, len(shape))
	for i := range shape {
		if i < lead {
			continue
		}
		d := t.shape[i-lead]
		switch {
		case d == shape[i]:
			strides[i] = t.strides[i-lead]
		case d == 1:
			strides[i] = 0
		default:
			panic(fmt.Sprintf("tensor: cannot expand %v to %v", t.shape, shape))
		}
	}
	return t.view(slices.Clone(shape), strides, t.offset)
}

// BroadcastShapes returns the numpy broadcast of two shapes, panicking if they
// are incompatible.
func BroadcastShapes(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("tensor: shapes %v and %v do not broadcast", a, b))
		}
	}
	return out
}

// SumTo sums t over the dimensions that broadcasting added or expanded, so that
// the result has shape (the adjoint of Expand).
func SumTo(t *Tensor, shape []int) *Tensor {
	if slices.Equal(t.shape, shape) {
		return t
	}
	lead := t.Rank() - len(shape)
	if lead < 0 {
		panic(fmt.Sprintf("tensor: cannot sum %v to %v", t.shape, shape))
	}
	reduce := make([]bool, t.Rank())
	for i := range t.Rank() {
		if i < lead || (shape[i-lead] == 1 && t.shape[i] != 1) {
			reduce[i] = true
		} else if shape[i-lead] != t.shape[i] {
			panic(fmt.Sprintf("tensor: cannot sum %v to %v", t.shape, shape))
		}
	}
	// Innermost axes first, each run of adjacent reduced axes as one axis:
	// a bias gradient's h and w become one contiguous run per (image,
	// channel), and every sum reads only what the ones before it left
	// (summing the batch axis first read the whole gradient, column by
	// column).
	out := t
	for i := t.Rank() - 1; i >= 0; i-- {
		if !reduce[i] {
			continue
		}
		j := i
		for j > 0 && reduce[j-1] {
			j--
		}
		s := out.shape
		merged := append(append(slices.Clone(s[:j]), numel(s[j:i+1])), s[i+1:]...)
		out = Sum(out.Reshape(merged...), j, true)
		i = j
	}
	return out.Reshape(shape...)
}

// rowShape is t's shape with a last dimension of 1: one value per row (of
// the last axis), broadcasting against t.
func rowShape(t *Tensor) []int {
	return append(slices.Clone(t.shape[:t.Rank()-1]), 1)
}
