//go:build goexperiment.simd && amd64

package gemm

import "simd/archsimd"

// active is the implementation in use: the widest the CPU supports.
var active = chooseImpl()

func chooseImpl() *impl {
	switch {
	case archsimd.X86.AVX512():
		return avx512
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		return avx2
	}
	return generic
}

// Every AVX path below ends with VZEROUPPER (archsimd.ClearAVXUpperBits):
// the Go 1.26 compiler does not emit it, and scalar floating-point code
// that runs after a kernel with dirty upper halves of the vector registers
// (the legacy-SSE math.Exp of a sigmoid, any float64 loop) pays a false
// dependency on every instruction: on a Xeon (Sapphire Rapids) the tfbind8
// quick run was 5× slower in the GOEXPERIMENT=simd build than in the plain
// one, 89 % of it in math.archExp.
func (im *impl) kernel(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut) {
	switch im.kind {
	case kindAVX512, kindAVX2:
		kernelAsm(im.nr, kc, a, rsa, csa, b, sb, oneTap[:], o) // ends with VZEROUPPER
	default:
		kernelGeneric(kc, a, rsa, csa, b, sb, o)
	}
}

func (im *impl) kernelTaps(kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	if im.kind == kindAVX512 || im.kind == kindAVX2 {
		kernelAsm(im.nr, kc, a, rsa, csa, b, sb, offs, o) // ends with VZEROUPPER
		return
	}
	kernelEachTap(im, kc, a, rsa, csa, b, sb, offs, o)
}

func (im *impl) activate(m, n int, c []float32, ldc int, act Activation, d []float32, ldd int) {
	switch im.kind {
	case kindAVX512:
		activate512(m, n, c, ldc, act, d, ldd)
		archsimd.ClearAVXUpperBits()
	case kindAVX2:
		activate256(m, n, c, ldc, act, d, ldd)
		archsimd.ClearAVXUpperBits()
	default:
		activateGeneric(m, n, c, ldc, act, d, ldd)
	}
}

func (im *impl) finish(u *update) {
	switch im.kind {
	case kindAVX512:
		finish512(u)
		archsimd.ClearAVXUpperBits()
	case kindAVX2:
		finish256(u)
		archsimd.ClearAVXUpperBits()
	default:
		finishGeneric(u)
	}
}

func (im *impl) gemvN(m, n, k int, x []float32, ldx int, b []float32, ldb int, y []float32, ldy int) {
	switch im.kind {
	case kindAVX512:
		gemvN512(m, n, k, x, ldx, b, ldb, y, ldy)
		archsimd.ClearAVXUpperBits()
	case kindAVX2:
		gemvN256(m, n, k, x, ldx, b, ldb, y, ldy)
		archsimd.ClearAVXUpperBits()
	default:
		gemvNGeneric(m, n, k, x, ldx, b, ldb, y, ldy)
	}
}

func (im *impl) gemvT(x, b []float32, ldb int, y []float32) {
	switch im.kind {
	case kindAVX512:
		gemvT512(x, b, ldb, y)
		archsimd.ClearAVXUpperBits()
	case kindAVX2:
		gemvT256(x, b, ldb, y)
		archsimd.ClearAVXUpperBits()
	default:
		gemvTGeneric(x, b, ldb, y)
	}
}

// Constants of the vector exp (Cephes' expf) and tanh (Eigen's rational
// approximation, exact to float32 rounding beyond tanhClamp).
const (
	log2e = 1.44269504088896341
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	expP0 = 1.9875691500e-4
	expP1 = 1.3981999507e-3
	expP2 = 8.3334519073e-3
	expP3 = 4.1665795894e-2
	expP4 = 1.6666665459e-1
	expP5 = 5.0000001201e-1

	tanhClamp = 7.90531110763549805
	tanhA1    = 4.89352455891786e-03
	tanhA3    = 6.37261928875436e-04
	tanhA5    = 1.48572235717979e-05
	tanhA7    = 5.12229709037114e-08
	tanhA9    = -8.60467152213735e-11
	tanhA11   = 2.00018790482477e-13
	tanhA13   = -2.76076847742355e-16
	tanhB0    = 4.89352518554385e-03
	tanhB2    = 2.26843463243900e-03
	tanhB4    = 1.18534705686654e-04
	tanhB6    = 1.19825839466702e-06
)
