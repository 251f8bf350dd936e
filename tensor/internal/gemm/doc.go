// Package gemm is a single-precision matrix-multiply kernel for the CPU.
//
// [Sgemm] computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, like
// BLAS sgemm; [SgemmEpilogue] computes C = act(op(A)*op(B) + bias) and can
// save the pre-activation values, so that a linear layer's forward pass is a
// single call with a single pass over C.
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
//	                    micro-kernel: mr×nr tile of C += A panel · B panel
//
// Packing makes every operand access of the micro-kernel sequential and
// resolves the four transpose combinations once, in the packing routines; the
// edges are zero-padded, so the micro-kernel always computes a full mr×nr
// tile, and only the valid part of it is written to C. A micro-panel of A
// (mr×kc) stays in L1 while the B block (kc×nc) streams from L2. The tile is
// written back once per kc chunk, and on the last chunk the epilogue (alpha,
// beta, bias, pre-activation copy, activation) is applied while the tile is
// still in L1.
//
// Large products are split across goroutines along the larger of the two
// dimensions of C (each goroutine packs its own panels); small ones run on
// the calling goroutine. Pack buffers come from a sync.Pool, so a steady
// state of calls does not allocate.
//
// Products with a single row of C (vector times matrix) skip packing. When C
// is much narrower than the micro-tile (n of 1 or 2, say) the package
// computes Cᵀ = op(B)ᵀ·op(A)ᵀ instead, to keep the tile full.
//
// # Implementations
//
// Built with GOEXPERIMENT=simd on amd64, the package uses simd/archsimd: an
// AVX-512 micro-kernel of 5×32 (ten Float32x16 accumulators) when the CPU has
// AVX-512, an AVX2 one of 5×16 (ten Float32x8 accumulators) otherwise. Go's
// register allocator gives vector code 15 registers; the 5×32 shape is the
// largest that keeps its accumulators, two B vectors, the broadcast A value
// and its copy (VFMADD213PS overwrites an input) in registers. Built
// otherwise, a plain-Go kernel of 4×4 is used, with the same blocking. [Path]
// reports which implementation runs.
package gemm
