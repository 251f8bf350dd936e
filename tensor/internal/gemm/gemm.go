package gemm

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Activation selects the elementwise function an [Epilogue] applies.
type Activation uint8

// The activations of an [Epilogue].
const (
	None    Activation = iota // identity
	ReLU                      // max(x, 0)
	SiLU                      // x*sigmoid(x)
	Tanh                      // tanh(x)
	Sigmoid                   // 1/(1+exp(-x))
)

// String returns the name of the activation.
func (a Activation) String() string {
	switch a {
	case None:
		return "None"
	case ReLU:
		return "ReLU"
	case SiLU:
		return "SiLU"
	case Tanh:
		return "Tanh"
	case Sigmoid:
		return "Sigmoid"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// Epilogue is the work [SgemmEpilogue] fuses into the write of C:
// C = Act(op(A)*op(B) + Bias), and the activation's derivative at the same
// values for the backward pass.
type Epilogue struct {
	// Bias, when not nil, is added to every row of the product; its length
	// must be at least n.
	Bias []float32
	// Act is applied last.
	Act Activation
	// Deriv, when not nil, receives Act'(z) at z = op(A)*op(B) + Bias (1
	// for None), as an m×n row-major matrix with row stride n: the
	// backward pass of the layer multiplies its incoming gradient by it.
	// Its length must be at least m*n. The derivative of ReLU at 0 is 0.
	Deriv []float32
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(X) is X, or Xᵀ when the corresponding trans flag is set.
//
// op(A) is m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the row
// strides of A, B and C as stored (A is k×m when transA is set, B is n×k when
// transB is set). When beta is 0, C is not read, so it may hold anything,
// NaN included; when alpha is 0 or k is 0, A and B are not read. C must not
// overlap A or B, nor the rest of a's slice: a row-major A may be read up to
// mr−1 rows past its last (where the slice holds them) and those values
// unused, so they must not be written meanwhile.
//
// Sgemm panics when a dimension is negative, a stride is too small or a
// slice too short. It is safe for concurrent use.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(active, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SgemmEpilogue computes C = ep.Act(op(A)*op(B) + ep.Bias) on row-major
// matrices, and stores ep.Act' at op(A)*op(B) + ep.Bias in ep.Deriv when that
// is not nil. The arguments are those of [Sgemm] with alpha = 1 and beta = 0: C is
// not read. When k is 0 the product is zero, so C = ep.Act(ep.Bias).
func SgemmEpilogue(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, ep Epilogue) {
	sgemm(active, transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, &ep)
}

// SgemmSerial is [Sgemm] computed on the calling goroutine only, for callers
// that run independent products in parallel themselves (the images of a
// convolution, tensor/cpu_conv.go): it wakes no worker.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := newProblem(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
	p.serial = true
	p.solve(active)
}

// sgemm checks the arguments and computes the product with im.
func sgemm(im *impl, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	p := newProblem(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)
	p.solve(im)
}

// newProblem checks the arguments and returns the problem they describe.
func newProblem(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) problem {
	p := problem{
		transA: transA, transB: transB,
		m: m, n: n, k: k,
		alpha: alpha,
		a:     a, lda: lda,
		b: b, ldb: ldb,
		beta: beta,
		c:    c, ldc: ldc,
	}
	p.check()
	if ep != nil {
		if ep.Act > Sigmoid {
			panic(fmt.Sprintf("gemm: unknown activation %d", ep.Act))
		}
		if ep.Bias != nil && len(ep.Bias) < n {
			panic(fmt.Sprintf("gemm: len(Bias) = %d < n = %d", len(ep.Bias), n))
		}
		if ep.Deriv != nil && len(ep.Deriv) < m*n {
			panic(fmt.Sprintf("gemm: len(Deriv) = %d < m*n = %d", len(ep.Deriv), m*n))
		}
		p.bias, p.deriv, p.ldd, p.act = ep.Bias, ep.Deriv, n, ep.Act
	}
	return p
}

// Path returns the name of the implementation in use: "avx512", "avx2" or
// "generic".
func Path() string { return active.name }

var threads atomic.Int64

// SetThreads sets the largest number of goroutines one call may use. A value
// below 1 restores the default, runtime.GOMAXPROCS(0) at the time of the
// call.
func SetThreads(n int) {
	if n < 1 {
		n = 0
	}
	threads.Store(int64(n))
}

// Threads returns the largest number of goroutines one call may use.
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// check panics when the arguments do not describe valid matrices.
func (p *problem) check() {
	if p.m < 0 || p.n < 0 || p.k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", p.m, p.n, p.k))
	}
	ar, ac := p.m, p.k
	if p.transA {
		ar, ac = p.k, p.m
	}
	br, bc := p.k, p.n
	if p.transB {
		br, bc = p.n, p.k
	}
	checkMatrix("A", ar, ac, p.a, p.lda)
	checkMatrix("B", br, bc, p.b, p.ldb)
	checkMatrix("C", p.m, p.n, p.c, p.ldc)
}

func checkMatrix(name string, r, c int, s []float32, ld int) {
	if ld < max(1, c) {
		panic(fmt.Sprintf("gemm: ld%s = %d < max(1, %d)", name, ld, c))
	}
	if r == 0 || c == 0 {
		return
	}
	if need := (r-1)*ld + c; len(s) < need {
		panic(fmt.Sprintf("gemm: len(%s) = %d < %d for a %d×%d matrix with stride %d", name, len(s), need, r, c, ld))
	}
}
