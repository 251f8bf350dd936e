// Package gemm is a single-precision matrix multiply for the CPU.
//
// [Sgemm] computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, like
// BLAS sgemm; [SgemmEpilogue] computes C = act(op(A)*op(B) + bias) and can
// save the activation's derivative, so that the forward pass of a dense layer
// is one call and one pass over C. [SgemmTaps] sums the products of one
// packed A ([PackTaps], or [PackTapsStrided] from a convolution's kernels
// as they lie) with several B read in place at offsets of one buffer: the
// taps of a convolution whose patches are shifts of its image.
//
// # Blocking scheme
//
// The algorithm is the one of GotoBLAS and BLIS. The k dimension is cut into
// chunks of at most kc, the columns of C into blocks of at most nc and the
// rows into blocks of at most mc:
//
//	for each nc-wide column block of op(B) and C
//	    for each kc-deep chunk of k
//	        pack the kc×nc block of op(B) into nr-column micro-panels
//	        for each mc-tall row block of op(A) and C
//	            pack the mc×kc block of op(A) into mr-row micro-panels
//	            for each A micro-panel (mr rows)
//	                for each B micro-panel (nr columns)
//	                    micro-kernel: the mr×nr tile of C += A panel · B panel
//
// Packing makes every access of the micro-kernel sequential and resolves the
// four transpose combinations in the packing routines; the edges are padded
// with zeros, so the micro-kernel always computes a full tile, and only its
// valid part is written. An A micro-panel (mr×kc) stays in L1 while the B
// block (kc×nc) streams from L2. Operands that are already laid out as the
// micro-kernel reads them are not copied: the rows of a row-major A are read
// in place (the micro-kernel takes a row and a k stride), and so are the rows
// of a row-major B when a kc-row block of it is small enough (kc*ldb at most
// 128K values); only their partial edge panels are packed.
//
// The micro-kernel writes its tile to C itself (only the valid part of an
// edge tile): it adds the previous value of C for the k chunks after the
// first, and on the last chunk adds the bias; the activation and its
// derivative then run on the tile while it is in L1. Products with alpha
// != 1, beta other than 0 and 1, or computed as Cᵀ go through a scratch tile
// and a general update.
//
// Products with at most four rows of C whose op(B) is row-major are computed
// as combinations of the rows of B, and those with at most four columns whose
// op(A) is row-major as dot products, without packing. When C is much
// narrower than the micro-tile otherwise, the package computes
// Cᵀ = op(B)ᵀ·op(A)ᵀ instead.
//
// # Parallelism
//
// Products big enough are split along the rows (or columns) of C into tasks
// that the calling goroutine and up to [Threads]()-1 worker goroutines claim
// until none is left, so that a worker that wakes late only takes less of the
// work. When k fits in one chunk, the operand that all tasks share is packed
// once, by all of them. The workers are those of package workers, which the
// backend's elementwise loops run on too: idle, they poll for the next job
// for a few tens of microseconds before they block, because the products
// and loops of a training step come back to back. Pack buffers come from a sync.Pool: a steady state of
// calls does not allocate. [SgemmSerial] keeps a product on the calling
// goroutine, for callers that parallelize over independent products.
//
// # Implementations
//
// The micro-kernels of amd64 are Go assembly, in both builds: 6×16 on AVX2
// and FMA (kernel6x16_amd64.s, twelve YMM accumulators that stay in place)
// and the same at twice the width, 6×32 on ZMM registers, where the CPU has
// AVX-512F (kernel6x32_amd64.s). Both sum the taps of a convolution
// ([SgemmTaps]) in registers, prefetch B 16 k steps ahead and the C tile
// before the k loop, which B streaming from L2 needs (2048³ at 110–118
// instead of 98–103 GFLOP/s on two Zen 3 cores). Written with simd/archsimd
// they ran at a fraction of that: Go 1.26's register allocator hands out 15
// vector registers and VFMADD213PS overwrites a factor, so that the archsimd
// 5×16 AVX2 kernel reached 24 GFLOP/s on a Zen 3 core against the
// assembly's 81, and the 5×32 AVX-512 one 71–86 on a Zen 4 core against
// 107–109 (BenchmarkKernel). Built with GOEXPERIMENT=simd, the epilogues
// are archsimd code (exp from Cephes' polynomial, tanh from Eigen's rational
// approximation); without, plain Go (CPU features from golang.org/x/sys/cpu).
// Elsewhere a plain-Go 3×3 kernel runs the same blocking. [Path] reports
// which implementation runs.
package gemm
