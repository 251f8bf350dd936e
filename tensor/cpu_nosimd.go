//go:build !(goexperiment.simd && amd64)

package tensor

// siluF32 replaces x by x·σ(x) and, if d is not nil, stores the derivative.
func siluF32(x, d []float32) { siluScalar(x, d) }

// sigmoidF32 replaces x by σ(x) and, if d is not nil, stores the derivative.
func sigmoidF32(x, d []float32) { sigmoidScalar(x, d) }

// simdPath names the elementwise kernels in use.
const simdPath = "generic"

// vectorBinary computes a contiguous op with SIMD where the build has it; it
// reports false when the caller must do the work.
func vectorBinary[T number](op BinaryOp, d, x, y []T) bool { return false }
