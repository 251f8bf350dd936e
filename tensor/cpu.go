package tensor

import (
	"fmt"
	"runtime"

	"github.com/difftune/difftune/tensor/internal/workers"
)

// number is the element type of CPU buffers.
type number interface{ ~float32 | ~float64 }

// cpuBuffer holds the elements of a CPU tensor in a Go slice.
type cpuBuffer[T number] struct {
	owner *cpuBackend
	data  []T
}

func (b *cpuBuffer[T]) Backend() Backend { return b.owner }
func (b *cpuBuffer[T]) Len() int         { return len(b.data) }
func (b *cpuBuffer[T]) DType() DType     { return dtypeOf[T]() }

// dtypeOf is the DType of the element type T.
func dtypeOf[T number]() DType {
	var z T
	if _, ok := any(z).(float32); ok {
		return Float32
	}
	return Float64
}

// cpuBackend runs every operation on the host. The fast variant multiplies
// float32 matrices with the packed SIMD kernels of internal/gemm; the reference
// variant uses gonum's BLAS for every product, so the two can be compared.
type cpuBackend struct {
	name      string
	reference bool
}

var (
	cpuFast = &cpuBackend{name: "cpu"}
	cpuRef  = &cpuBackend{name: "cpu-ref", reference: true}
)

// The fast variant convolves float32 images itself (cpu_conv.go).
var _ Convolver = (*cpuBackend)(nil)

func init() {
	Register(cpuFast.name, func() (Backend, error) { return cpuFast, nil })
	Register(cpuRef.name, func() (Backend, error) { return cpuRef, nil })
}

// CPU returns the CPU backend with the fast float32 kernels.
func CPU() Backend { return cpuFast }

// CPUReference returns the CPU backend that uses gonum BLAS for every matrix
// product: the reference the fast kernels and the GPU are checked against.
func CPUReference() Backend { return cpuRef }

func (c *cpuBackend) Name() string { return c.name }
func (c *cpuBackend) Sync() error  { return nil }

func (c *cpuBackend) Alloc(dt DType, n int) Buffer {
	switch dt {
	case Float32:
		return newCPUBuffer(c, free32, n)
	case Float64:
		return newCPUBuffer(c, free64, n)
	}
	panic("tensor: cpu cannot allocate " + dt.String())
}

func (c *cpuBackend) Upload(dst Buffer, src any) {
	switch d := dst.(type) {
	case *cpuBuffer[float32]:
		copy(d.data, src.([]float32))
	case *cpuBuffer[float64]:
		copy(d.data, src.([]float64))
	default:
		panic(fmt.Sprintf("tensor: cpu Upload into %T", dst))
	}
}

func (c *cpuBackend) Download(src Buffer, offset int, dst any) {
	switch s := src.(type) {
	case *cpuBuffer[float32]:
		d := dst.([]float32)
		copy(d, s.data[offset:offset+len(d)])
	case *cpuBuffer[float64]:
		d := dst.([]float64)
		copy(d, s.data[offset:offset+len(d)])
	default:
		panic(fmt.Sprintf("tensor: cpu Download from %T", src))
	}
}

// host returns the slice behind a CPU tensor's buffer.
func host[T number](t *Tensor) []T {
	if t == nil {
		return nil
	}
	return t.buf.(*cpuBuffer[T]).data
}

// HostFloat32 exposes the storage of a float32 CPU tensor (not a copy), for
// kernels outside this package that work on host memory. It panics for other
// backends and dtypes.
func HostFloat32(t *Tensor) []float32 { return host[float32](t) }

// parallelFor splits [0, n) into chunks of at least grain and runs body on
// them concurrently: the caller and at most one worker per other core
// (package workers, the goroutines the matrix products run on too) claim
// chunks from a shared counter, so a goroutine that the OS delays (a busy,
// shared machine) only does less of the work instead of holding up the rest.
func parallelFor(n, grain int, body func(lo, hi int)) {
	grain = max(grain, 1)
	threads := min(runtime.GOMAXPROCS(0), n/grain)
	if threads <= 1 {
		body(0, n)
		return
	}
	chunks := min(4*threads, n/grain)
	workers.For(n, (n+chunks-1)/chunks, threads-1, body)
}

// parallelGrain is the number of elements below which elementwise work stays on
// the calling goroutine.
const parallelGrain = 1 << 15

// CPUKernels names the float32 kernels the CPU backend runs: "avx512" or
// "generic" for elementwise work, and the matrix-product path.
func CPUKernels() string {
	mm := "gonum"
	if sgemmFast != nil {
		mm = gemmPath()
	}
	return "elementwise " + simdPath + ", matmul " + mm
}
