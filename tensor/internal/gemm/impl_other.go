//go:build !(goexperiment.simd && amd64)

package gemm

// active is the implementation in use: without GOEXPERIMENT=simd on amd64,
// the plain-Go one.
var active = generic

// implementations returns every implementation the CPU can run, for tests.
func implementations() []*impl { return []*impl{generic} }

func (im *impl) kernel(kc int, a []float32, rsa, csa int, b, t []float32) {
	kernelGeneric(kc, a, rsa, csa, b, t)
}

func (im *impl) finish(u *update) { finishGeneric(u) }

func (im *impl) gemvN(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	gemvNGeneric(m, n, k, x, ldx, b, ldb, y, ldy)
}

func (im *impl) gemvT(x, b []float32, ldb int, y []float32) { gemvTGeneric(x, b, ldb, y) }
