//go:build !(goexperiment.simd && amd64)

package gemm

// Without GOEXPERIMENT=simd on amd64 the epilogues and the narrow products
// are the plain-Go ones for every implementation; the micro-kernel is
// chosen in kernel_plain_amd64.go or kernel_other.go.

func (im *impl) activate(m, n int, c []float32, ldc int, act Activation, d []float32, ldd int) {
	activateGeneric(m, n, c, ldc, act, d, ldd)
}

func (im *impl) finish(u *update) { finishGeneric(u) }

func (im *impl) gemvN(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	gemvNGeneric(m, n, k, x, ldx, b, ldb, y, ldy)
}

func (im *impl) gemvT(x, b []float32, ldb int, y []float32) { gemvTGeneric(x, b, ldb, y) }
