//go:build !amd64

package gemm

// implementations returns every implementation the CPU can run, for tests.
func implementations() []*impl { return []*impl{generic} }
