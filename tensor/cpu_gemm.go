package tensor

import "github.com/difftune/difftune/tensor/internal/gemm"

// The fast float32 matrix product: packed panels and a register-blocked SIMD
// micro-kernel (internal/gemm), with the bias, the activation and its
// derivative fused into its epilogue.
func init() {
	sgemmFast = func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, act Activation, deriv []float32) {
		gemm.SgemmEpilogue(transA, transB, m, n, k, a, max(lda, 1), b, max(ldb, 1), c, max(ldc, 1),
			gemm.Epilogue{Bias: bias, Act: gemmActivation[act], Deriv: deriv})
	}
}

// gemmActivation maps the tensor activations to the gemm package's.
var gemmActivation = [...]gemm.Activation{ActNone: gemm.None, ActReLU: gemm.ReLU, ActSiLU: gemm.SiLU, ActTanh: gemm.Tanh, ActSigmoid: gemm.Sigmoid}

// gemmPath names the matrix-product kernel in use ("avx512", "avx2", "generic").
func gemmPath() string { return "internal/gemm " + gemm.Path() }
