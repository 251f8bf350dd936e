//go:build !goexperiment.simd && amd64

package gemm

import "golang.org/x/sys/cpu"

// active is the implementation in use: without GOEXPERIMENT=simd, the
// assembly AVX2 micro-kernel where the CPU has AVX2 and FMA, else plain Go.
var active = chooseImpl()

func chooseImpl() *impl {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return avx2
	}
	return generic
}

func (im *impl) kernel(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut) {
	if im.kind == kindAVX2 {
		kernel6x16Checked(kc, a, rsa, csa, b, sb, o) // ends with VZEROUPPER
		return
	}
	kernelGeneric(kc, a, rsa, csa, b, sb, o)
}

func (im *impl) kernelTaps(kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	if im.kind == kindAVX2 {
		kernel6x16TapsChecked(kc, a, rsa, csa, b, sb, offs, o)
		return
	}
	kernelEachTap(im, kc, a, rsa, csa, b, sb, offs, o)
}
