//go:build goexperiment.simd

package runtest

// SIMDBuild is set in the GOEXPERIMENT=simd build. The tests that kill and
// resume a process test the run directory, not the kernels: they run in the
// plain build (make test runs both).
const SIMDBuild = true
