//go:build !amd64

package gemm

// active is the implementation in use: the plain-Go one off amd64.
var active = generic

func (im *impl) kernel(kc int, a []float32, rsa, csa int, b []float32, sb int, o *tileOut) {
	kernelGeneric(kc, a, rsa, csa, b, sb, o)
}

func (im *impl) kernelTaps(kc int, a []float32, rsa, csa int, b []float32, sb int, offs []int, o *tileOut) {
	kernelEachTap(im, kc, a, rsa, csa, b, sb, offs, o)
}
