//go:build !(goexperiment.simd && amd64)

package gemm

// active is the implementation in use: without GOEXPERIMENT=simd on amd64,
// the plain-Go one.
var active = generic

// implementations returns every implementation the CPU can run, for tests.
func implementations() []*impl { return []*impl{generic} }
