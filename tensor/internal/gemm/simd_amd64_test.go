//go:build goexperiment.simd && amd64

package gemm

import "simd/archsimd"

// implementations returns every implementation the CPU can run, for tests.
func implementations() []*impl {
	s := []*impl{generic}
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		s = append(s, avx2)
	}
	if archsimd.X86.AVX512() {
		s = append(s, avx512)
	}
	return s
}
