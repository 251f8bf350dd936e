package gemm

// avx512 is the AVX-512 implementation: a 6×32 micro-kernel in assembly,
// in both builds; with GOEXPERIMENT=simd its epilogues are archsimd code
// (simd512_amd64.go), without they are the plain-Go ones.
var avx512 = &impl{
	name: "avx512", kind: kindAVX512,
	mr: 6, nr: 32,
	kc: 512, mc: 120, nc: 256,
}

// kernel6x32 is the AVX-512 micro-kernel: kernel6x16 on ZMM registers, a
// 6×32 tile, with the same arguments. It replaced an archsimd 5×32 kernel
// (ten accumulators, all the Go 1.26 register allocator could hold without
// spilling, and one kernel call per tap of a convolution): in L1 on one
// Zen 4 core (BenchmarkKernel, one run) 107–109 GFLOP/s against its 71–86
// and the AVX2 kernel's 89–99; with the taps summed in registers, the 3×3
// convolutions forward ran 30–40 % faster and the UNet's training step
// 15–20 % (bench, alternating, 3 rounds).
//
//go:noescape
func kernel6x32(kc int, a *float32, rsa, csa int, b *float32, sb int, c *float32, ldc int, add bool, bias *float32, rows, cols int, offs *int, taps int, rbias *float32)
