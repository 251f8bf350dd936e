package gemm

// avx2 is the AVX2 implementation: a 6×16 micro-kernel in assembly, in
// both builds; with GOEXPERIMENT=simd its epilogues are archsimd code
// (simd256_amd64.go), without they are the plain-Go ones.
var avx2 = &impl{
	name: "avx2", kind: kindAVX2,
	mr: 6, nr: 16,
	kc: 512, mc: 120, nc: 256,
}

// kernel6x16 is the AVX2 micro-kernel, written in assembly
// (kernel6x16_amd64.s) because the archsimd version of Go 1.26 reached a
// quarter of the core's FMA rate on AVX2: with 16 vector registers the
// allocator moved the accumulators from register to register on every k
// step (VFMADD213PS overwrites a factor) and could not hold more than ten.
// Here twelve accumulators stay in place and VFMADD231PS accumulates into
// them. It sums the products of taps pairs of panels, kc k steps each: B
// at b + offs[t], A running on (the taps of SgemmTaps; a plain product is
// one tap at offset 0). It writes the first rows rows and cols columns of
// the 6×16 tile to c (row stride ldc), adding c's previous value when add,
// bias (cols values) when bias is not nil and rbias[r] to row r when rbias
// (six values) is not nil.
//
//go:noescape
func kernel6x16(kc int, a *float32, rsa, csa int, b *float32, sb int, c *float32, ldc int, add bool, bias *float32, rows, cols int, offs *int, taps int, rbias *float32)

// oneTap is the tap list of a plain product.
var oneTap = [1]int{0}

// kernelAsm checks the panels and the tile of the 6×nr assembly kernel
// (kernel6x16 for nr = 16, kernel6x32 for nr = 32) against the strides
// before it hands their addresses to it, and sums the taps at offs (B_t =
// b[offs[t]:], A_t the kc steps of a after those of A_{t−1}); a plain
// product is the one tap oneTap.
func kernelAsm(nr, kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	steps := kc * len(offs)
	if kc <= 0 || len(offs) == 0 || rsa <= 0 || csa <= 0 || sb < nr || len(a) <= 5*rsa+(steps-1)*csa ||
		o.rows < 1 || o.rows > 6 || o.cols < 1 || o.cols > nr || o.ldc < o.cols || len(o.c) < (o.rows-1)*o.ldc+o.cols ||
		(o.bias != nil && len(o.bias) < o.cols) || (o.rowBias != nil && len(o.rowBias) < 6) {
		panic("gemm: bad micro-kernel arguments")
	}
	for _, off := range offs {
		if off < 0 || len(b) < off+(kc-1)*sb+nr {
			panic("gemm: bad micro-kernel tap offset")
		}
	}
	var bias, rbias *float32
	if o.bias != nil {
		bias = &o.bias[0]
	}
	if o.rowBias != nil {
		rbias = &o.rowBias[0]
	}
	if nr == 32 {
		kernel6x32(kc, &a[0], rsa, csa, &b[0], sb, &o.c[0], o.ldc, o.add, bias, o.rows, o.cols, &offs[0], len(offs), rbias)
		return
	}
	kernel6x16(kc, &a[0], rsa, csa, &b[0], sb, &o.c[0], o.ldc, o.add, bias, o.rows, o.cols, &offs[0], len(offs), rbias)
}
