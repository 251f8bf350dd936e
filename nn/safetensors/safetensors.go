// Package safetensors reads and writes the safetensors tensor file format
// (https://github.com/huggingface/safetensors).
//
// A safetensors file is laid out as
//
//	N       8 bytes, little-endian uint64: length of the header
//	header  N bytes of UTF-8 JSON, optionally padded with trailing spaces
//	buffer  the raw, little-endian tensor data
//
// The header is a JSON object mapping each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, where the
// offsets are relative to the start of the buffer, plus an optional
// "__metadata__" entry mapping strings to strings. The tensors' byte ranges
// must cover the buffer exactly, without gaps or overlaps.
//
// The decoders treat their input as untrusted: every structural property
// required by the format is checked, sizes are validated against [Limits]
// and against the data actually present before anything is allocated, and
// malformed input yields an error wrapping [ErrFormat] (or [ErrLimit]),
// never a panic.
package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// ErrFormat is wrapped by every error reporting malformed safetensors data.
var ErrFormat = errors.New("safetensors: invalid format")

// ErrLimit is wrapped by every error reporting data that exceeds [Limits].
var ErrLimit = errors.New("safetensors: limit exceeded")

// metadataKey is the reserved header key holding the file's metadata.
const metadataKey = "__metadata__"

// DType is the element type of a tensor, spelled as in the safetensors
// header.
type DType string

// The element types understood by this package.
const (
	BOOL   DType = "BOOL"    // boolean, one byte per element (0 or 1)
	U8     DType = "U8"      // unsigned 8-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	F8E5M2 DType = "F8_E5M2" // 8-bit float, 5 exponent bits and 2 mantissa bits
	F8E4M3 DType = "F8_E4M3" // 8-bit float, 4 exponent bits and 3 mantissa bits
	U16    DType = "U16"     // unsigned 16-bit integer
	I16    DType = "I16"     // signed 16-bit integer
	F16    DType = "F16"     // IEEE 754 half-precision float
	BF16   DType = "BF16"    // bfloat16
	U32    DType = "U32"     // unsigned 32-bit integer
	I32    DType = "I32"     // signed 32-bit integer
	F32    DType = "F32"     // IEEE 754 single-precision float
	U64    DType = "U64"     // unsigned 64-bit integer
	I64    DType = "I64"     // signed 64-bit integer
	F64    DType = "F64"     // IEEE 754 double-precision float
)

// Size returns the size in bytes of one element of type d, or 0 if d is not
// a type this package understands.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case U16, I16, F16, BF16:
		return 2
	case U32, I32, F32:
		return 4
	case U64, I64, F64:
		return 8
	}
	return 0
}

// Tensor is a dense, row-major tensor stored as raw little-endian bytes.
type Tensor struct {
	// DType is the element type.
	DType DType
	// Shape holds the dimensions, outermost first; an empty shape denotes a
	// scalar.
	Shape []int
	// Data holds the elements in row-major order, little-endian, so that
	// len(Data) equals DType.Size() times the product of Shape.
	Data []byte
}

// File is the content of a safetensors file.
type File struct {
	// Metadata holds the free-form string metadata of the "__metadata__"
	// header entry.
	Metadata map[string]string
	// Tensors maps each tensor name to its tensor.
	Tensors map[string]Tensor
}

// Float32Tensor returns an F32 tensor of the given shape holding a copy of
// v. It panics if a dimension is negative or if len(v) is not the product of
// the dimensions.
func Float32Tensor(shape []int, v []float32) Tensor {
	checkLen(shape, len(v))
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{DType: F32, Shape: slices.Clone(shape), Data: data}
}

// Float64Tensor returns an F64 tensor of the given shape holding a copy of
// v. It panics if a dimension is negative or if len(v) is not the product of
// the dimensions.
func Float64Tensor(shape []int, v []float64) Tensor {
	checkLen(shape, len(v))
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{DType: F64, Shape: slices.Clone(shape), Data: data}
}

// checkLen panics unless shape is valid and describes exactly n elements.
func checkLen(shape []int, n int) {
	dims, err := dimsOf(shape)
	if err == nil {
		var size uint64
		size, err = byteSize(1, dims)
		if err == nil && size != uint64(n) {
			err = errors.New("length mismatch")
		}
	}
	if err != nil {
		panic(fmt.Sprintf("safetensors: shape %v does not describe %d elements", shape, n))
	}
}

// Float32s returns a copy of the elements of an F32 tensor.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(F32); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// Float64s returns a copy of the elements of an F64 tensor.
func (t Tensor) Float64s() ([]float64, error) {
	if err := t.check(F64); err != nil {
		return nil, err
	}
	v := make([]float64, len(t.Data)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// check reports whether t is a consistent tensor of type want.
func (t Tensor) check(want DType) error {
	if t.DType != want {
		return fmt.Errorf("safetensors: tensor has dtype %q, not %q", t.DType, want)
	}
	return t.validate()
}

// validate reports whether t's dtype is known and its shape matches the
// length of its data.
func (t Tensor) validate() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	dims, err := dimsOf(t.Shape)
	if err != nil {
		return fmt.Errorf("shape %v: %w", t.Shape, err)
	}
	n, err := byteSize(size, dims)
	if err != nil {
		return fmt.Errorf("shape %v: %w", t.Shape, err)
	}
	if n != uint64(len(t.Data)) {
		return fmt.Errorf("shape %v of %s needs %d bytes, data has %d", t.Shape, t.DType, n, len(t.Data))
	}
	return nil
}

// dimsOf converts a shape to unsigned dimensions, rejecting negative ones.
func dimsOf(shape []int) ([]uint64, error) {
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d", d)
		}
		dims[i] = uint64(d)
	}
	return dims, nil
}

// byteSize returns size times the product of dims, failing if a dimension
// does not fit in an int or the product overflows an int. A zero dimension
// makes the product zero regardless of the others.
func byteSize(size int, dims []uint64) (uint64, error) {
	for _, d := range dims {
		if d > math.MaxInt {
			return 0, fmt.Errorf("dimension %d out of range", d)
		}
	}
	if slices.Contains(dims, 0) {
		return 0, nil
	}
	n := uint64(size)
	for _, d := range dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt {
			return 0, errors.New("size overflows")
		}
		n = lo
	}
	return n, nil
}
