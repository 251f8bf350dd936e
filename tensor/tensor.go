// Package tensor provides the n-dimensional array type of difftune, the Backend
// interface that executes operations on it, and the CPU backend.
//
// A Tensor is a view (shape, strides, offset) over a Buffer owned by one
// backend. Views (Reshape of a contiguous tensor, Transpose, Slice, Expand) share
// the buffer; every other operation allocates its result on the backend of its
// first operand. Shape mismatches are programmer errors and panic; device and
// I/O failures are returned as errors by the functions that can meet them.
package tensor

import (
	"fmt"
	"slices"
)

// DType is the element type of a tensor.
type DType uint8

const (
	// Float32 is the working precision on every backend.
	Float32 DType = iota + 1
	// Float64 is supported on the CPU, for gradient checks and references.
	Float64
)

// String names the dtype as safetensors and numpy spell it.
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float64:
		return 8
	}
	panic("tensor: unknown dtype " + d.String())
}

// Tensor is a strided view over a backend buffer. The zero value is not usable;
// tensors are made by the constructors of this package and by operations.
type Tensor struct {
	shape   []int
	strides []int // in elements; 0 along broadcast dimensions
	offset  int   // in elements
	buf     Buffer
}

// Shape returns the dimensions (do not modify the returned slice).
func (t *Tensor) Shape() []int { return t.shape }

// Strides returns the element strides of each dimension (do not modify).
func (t *Tensor) Strides() []int { return t.strides }

// Offset is the index of the first element in the buffer.
func (t *Tensor) Offset() int { return t.offset }

// Buffer is the storage the tensor views.
func (t *Tensor) Buffer() Buffer { return t.buf }

// Backend is the backend that owns the storage.
func (t *Tensor) Backend() Backend { return t.buf.Backend() }

// DType is the element type.
func (t *Tensor) DType() DType { return t.buf.DType() }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis(i)] }

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.shape) }

func (t *Tensor) axis(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(fmt.Sprintf("tensor: axis %d out of range for shape %v", i, t.shape))
	}
	return i
}

// String describes the tensor without its data.
func (t *Tensor) String() string {
	return fmt.Sprintf("Tensor(%v %v on %s)", t.shape, t.DType(), t.Backend().Name())
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// IsContiguous reports whether the elements are laid out row-major without gaps
// (dimensions of size 1 may have any stride).
func (t *Tensor) IsContiguous() bool {
	acc := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != acc {
			return false
		}
		acc *= t.shape[i]
	}
	return true
}

// New allocates an uninitialized contiguous tensor on backend b.
func New(b Backend, dt DType, shape ...int) *Tensor {
	shape = slices.Clone(shape)
	return &Tensor{shape: shape, strides: contiguousStrides(shape), buf: b.Alloc(dt, numel(shape))}
}

// Zeros allocates a contiguous tensor filled with zeros.
func Zeros(b Backend, dt DType, shape ...int) *Tensor { return Full(b, dt, 0, shape...) }

// Full allocates a contiguous tensor filled with v.
func Full(b Backend, dt DType, v float64, shape ...int) *Tensor {
	t := New(b, dt, shape...)
	b.Fill(t, v)
	return t
}

// ZerosLike allocates zeros with t's backend, dtype and shape.
func ZerosLike(t *Tensor) *Tensor { return Zeros(t.Backend(), t.DType(), t.shape...) }

// FromFloat32 copies host data into a new float32 tensor of the given shape.
func FromFloat32(b Backend, data []float32, shape ...int) *Tensor {
	checkLen(len(data), shape)
	t := New(b, Float32, shape...)
	b.Upload(t.buf, data)
	return t
}

// FromFloat64 copies host data into a new float64 tensor of the given shape.
func FromFloat64(b Backend, data []float64, shape ...int) *Tensor {
	checkLen(len(data), shape)
	t := New(b, Float64, shape...)
	b.Upload(t.buf, data)
	return t
}

// FromFloat64As copies host float64 data into a new tensor of dtype dt.
func FromFloat64As(b Backend, dt DType, data []float64, shape ...int) *Tensor {
	if dt == Float64 {
		return FromFloat64(b, data, shape...)
	}
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return FromFloat32(b, f, shape...)
}

func checkLen(n int, shape []int) {
	if n != numel(shape) {
		panic(fmt.Sprintf("tensor: %d values for shape %v", n, shape))
	}
}

// Float32s copies the elements to the host in row-major order, converting if needed.
func (t *Tensor) Float32s() []float32 {
	c := t.Contiguous()
	switch t.DType() {
	case Float32:
		out := make([]float32, c.Len())
		c.Backend().Download(c.buf, c.offset, out)
		return out
	default:
		f := c.Float64s()
		out := make([]float32, len(f))
		for i, v := range f {
			out[i] = float32(v)
		}
		return out
	}
}

// Float64s copies the elements to the host in row-major order, converting if needed.
func (t *Tensor) Float64s() []float64 {
	c := t.Contiguous()
	switch t.DType() {
	case Float64:
		out := make([]float64, c.Len())
		c.Backend().Download(c.buf, c.offset, out)
		return out
	default:
		f := c.Float32s()
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
}

// Item returns the single element of a tensor with one element.
func (t *Tensor) Item() float64 {
	if t.Len() != 1 {
		panic(fmt.Sprintf("tensor: Item of shape %v", t.shape))
	}
	return t.Float64s()[0]
}

// Contiguous returns t if it is contiguous, otherwise a contiguous copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	out := New(t.Backend(), t.DType(), t.shape...)
	t.Backend().Copy(out, t)
	return out
}

// Clone returns a contiguous copy that shares nothing with t.
func (t *Tensor) Clone() *Tensor {
	out := New(t.Backend(), t.DType(), t.shape...)
	t.Backend().Copy(out, t)
	return out
}

// To copies the tensor to another backend (or returns it if already there).
func (t *Tensor) To(b Backend) *Tensor {
	if t.Backend() == b {
		return t
	}
	if t.DType() == Float64 {
		return FromFloat64(b, t.Float64s(), t.shape...)
	}
	return FromFloat32(b, t.Float32s(), t.shape...)
}

// AsType converts to dtype dt (returns t if it already has it).
func (t *Tensor) AsType(dt DType) *Tensor {
	if t.DType() == dt {
		return t
	}
	if dt == Float64 {
		return FromFloat64(t.Backend(), t.Float64s(), t.shape...)
	}
	return FromFloat32(t.Backend(), t.Float32s(), t.shape...)
}

// CopyFrom writes src (broadcast to t's shape) into the view t.
func (t *Tensor) CopyFrom(src *Tensor) {
	sameBackend(t, src)
	t.Backend().Copy(t, src.Expand(t.shape...))
}
