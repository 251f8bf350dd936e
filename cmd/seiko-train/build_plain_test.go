//go:build !goexperiment.simd

package main

// simdBuild is set in the GOEXPERIMENT=simd build (build_simd_test.go).
const simdBuild = false
