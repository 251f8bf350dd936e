//go:build !(goexperiment.simd && amd64)

package tensor

// siluF32 sets dst to src·σ(src) (dst may be src) and, if d is not nil,
// stores the derivative.
func siluF32(dst, src, d []float32) { siluScalar(dst, src[:len(dst)], d) }

// sigmoidF32 sets dst to σ(src) (dst may be src) and, if d is not nil,
// stores the derivative.
func sigmoidF32(dst, src, d []float32) { sigmoidScalar(dst, src[:len(dst)], d) }

// simdPath names the elementwise kernels in use.
const simdPath = "generic"

// vectorBinary computes a contiguous op with SIMD where the build has it; it
// reports false when the caller must do the work.
func vectorBinary[T number](op BinaryOp, d, x, y []T) bool { return false }

// attentionF32 and attentionGradF32 are the float32 attention kernels on
// SIMD lanes (cpu_attention_simd.go); without them the scalar ones run.
func attentionF32(out, lse, q, k, v []float32, batch, n, m, d int, scale float64) bool { return false }

func attentionGradF32(dq, dk, dv, g, q, k, v, out, lse []float32, batch, n, m, d int, scale float64) bool {
	return false
}

// softmaxRowF32 is the softmax of one float32 row on SIMD lanes
// (cpu_simd.go); without them the float64 loop of softmaxKernel runs.
func softmaxRowF32(d, s []float32, log bool) bool { return false }

// The vector sums and runs of the row normalizations (cpu_simd.go): none
// here, the scalar loops do every element.
func sumVec(x []float32) (s float64, n int)                              { return 0, 0 }
func sumSquaredDevVec(x []float32, m float64) (s float64, n int)         { return 0, 0 }
func sumDevVec(g, x []float32, m float64) (sg, sgx float64, n int)       { return 0, 0, 0 }
func normalizeRunVec(y, x []float32, m, rs, gamma, beta float64) (n int) { return 0 }
func normalizeGradRunVec(dx, g, x []float32, m, rs, gamma, mg, mgy float64) (n int) {
	return 0
}

// addWidenedVec is the vector column sum of reduceBlock (cpu_simd.go): none
// here.
func addWidenedVec(acc []float64, row []float32) (n int) { return 0 }

// vectorBinaryConst is vectorBinary with a constant operand (cpu_simd.go):
// none here, the caller's loop does every element.
func vectorBinaryConst[T number](op BinaryOp, d, x []T, c T, left bool) int { return 0 }

// deinterleaveVec and interleaveVec are the AVX-512 loops of deinterleave
// and interleave (cpu_simd.go): none here.
func deinterleaveVec(even, odd, src []float32) int { return 0 }
func interleaveVec(dst, even, odd []float32) int   { return 0 }
