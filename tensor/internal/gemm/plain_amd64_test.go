//go:build !goexperiment.simd && amd64

package gemm

import "golang.org/x/sys/cpu"

// implementations returns every implementation the CPU can run, for tests.
func implementations() []*impl {
	s := []*impl{generic}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s = append(s, avx2)
	}
	if cpu.X86.HasAVX512F {
		s = append(s, avx512)
	}
	return s
}
