//go:build !goexperiment.simd && amd64

package gemm

import "golang.org/x/sys/cpu"

// active is the implementation in use: without GOEXPERIMENT=simd, the
// assembly AVX-512 micro-kernel where the CPU (and the OS) has AVX-512F,
// the AVX2 one where it has AVX2 and FMA, else plain Go.
var active = chooseImpl()

func chooseImpl() *impl {
	switch {
	case cpu.X86.HasAVX512F:
		return avx512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return avx2
	}
	return generic
}

func (im *impl) kernel(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut) {
	if im.kind == kindAVX512 || im.kind == kindAVX2 {
		kernelAsm(im.nr, kc, a, rsa, csa, b, sb, oneTap[:], o) // ends with VZEROUPPER
		return
	}
	kernelGeneric(kc, a, rsa, csa, b, sb, o)
}

func (im *impl) kernelTaps(kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	if im.kind == kindAVX512 || im.kind == kindAVX2 {
		kernelAsm(im.nr, kc, a, rsa, csa, b, sb, offs, o) // ends with VZEROUPPER
		return
	}
	kernelEachTap(im, kc, a, rsa, csa, b, sb, offs, o)
}
