//go:build !goexperiment.simd

package runtest

// SIMDBuild is set in the GOEXPERIMENT=simd build (build_simd.go).
const SIMDBuild = false
