package tensor

import (
	"math"

	"github.com/difftune/difftune/tensor/philox"
)

func (c *cpuBackend) IndexSelect(dst, src *Tensor, axis int, idx []int) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(src.shape, axis)
	switch dst.DType() {
	case Float32:
		indexSelect(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner, idx)
	case Float64:
		indexSelect(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner, idx)
	}
}

func indexSelect[T number](d, s []T, outer, n, inner int, idx []int) {
	for o := range outer {
		for j, i := range idx {
			copy(d[(o*len(idx)+j)*inner:(o*len(idx)+j+1)*inner], s[(o*n+i)*inner:(o*n+i+1)*inner])
		}
	}
}

func (c *cpuBackend) IndexAdd(dst, src *Tensor, axis int, idx []int) {
	src = src.Contiguous()
	outer, n, inner := AxisGeometry(dst.shape, axis)
	switch dst.DType() {
	case Float32:
		indexAdd(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], outer, n, inner, idx)
	case Float64:
		indexAdd(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], outer, n, inner, idx)
	}
}

func indexAdd[T number](d, s []T, outer, n, inner int, idx []int) {
	for o := range outer {
		for j, i := range idx {
			row := d[(o*n+i)*inner : (o*n+i+1)*inner]
			for k, v := range s[(o*len(idx)+j)*inner : (o*len(idx)+j+1)*inner] {
				row[k] += v
			}
		}
	}
}

func (c *cpuBackend) Im2Col(dst, src *Tensor, g ConvGeom) {
	switch dst.DType() {
	case Float32:
		im2col(host[float32](dst)[dst.offset:], host[float32](src)[src.offset:], g, false)
	case Float64:
		im2col(host[float64](dst)[dst.offset:], host[float64](src)[src.offset:], g, false)
	}
}

func (c *cpuBackend) Col2Im(dst, src *Tensor, g ConvGeom) {
	switch dst.DType() {
	case Float32:
		d := host[float32](dst)[dst.offset : dst.offset+dst.Len()]
		fill(d, 0)
		im2col(host[float32](src)[src.offset:], d, g, true)
	case Float64:
		d := host[float64](dst)[dst.offset : dst.offset+dst.Len()]
		fill(d, 0)
		im2col(host[float64](src)[src.offset:], d, g, true)
	}
}

// im2col copies image patches into columns, or with fold adds the columns back
// into the image (the adjoint). cols is [n, c·kh·kw, oh·ow], img [n, c, h, w].
func im2col[T number](cols, img []T, g ConvGeom, fold bool) {
	rows := g.C * g.KH * g.KW
	spatial := g.OutH * g.OutW
	parallelFor(g.N*g.C, 1, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			n, ch := nc/g.C, nc%g.C
			im := img[(n*g.C+ch)*g.H*g.W:]
			for ky := range g.KH {
				for kx := range g.KW {
					r := (ch*g.KH+ky)*g.KW + kx
					col := cols[(n*rows+r)*spatial:]
					for oy := range g.OutH {
						y := oy*g.Stride - g.Pad + ky
						for ox := range g.OutW {
							x := ox*g.Stride - g.Pad + kx
							inside := y >= 0 && y < g.H && x >= 0 && x < g.W
							switch {
							case fold && inside:
								im[y*g.W+x] += col[oy*g.OutW+ox]
							case !fold && inside:
								col[oy*g.OutW+ox] = im[y*g.W+x]
							case !fold:
								col[oy*g.OutW+ox] = 0
							}
						}
					}
				}
			}
		}
	})
}

func (c *cpuBackend) RandNormal(dst *Tensor, seed, draw uint64) {
	switch dst.DType() {
	case Float32:
		philox.Normal32(seed, draw, host[float32](dst)[dst.offset:dst.offset+dst.Len()])
	case Float64:
		philox.Normal64(seed, draw, host[float64](dst)[dst.offset:dst.offset+dst.Len()])
	}
}

func (c *cpuBackend) RandUniform(dst *Tensor, seed, draw uint64) {
	switch dst.DType() {
	case Float32:
		philox.Uniform32(seed, draw, host[float32](dst)[dst.offset:dst.offset+dst.Len()])
	case Float64:
		philox.Uniform64(seed, draw, host[float64](dst)[dst.offset:dst.offset+dst.Len()])
	}
}

func (c *cpuBackend) AdamStep(param, grad, m, v *Tensor, h AdamHyper) {
	switch param.DType() {
	case Float32:
		adamKernel(host[float32](param)[param.offset:param.offset+param.Len()], host[float32](grad)[grad.offset:],
			host[float32](m)[m.offset:], host[float32](v)[v.offset:], h)
	case Float64:
		adamKernel(host[float64](param)[param.offset:param.offset+param.Len()], host[float64](grad)[grad.offset:],
			host[float64](m)[m.offset:], host[float64](v)[v.offset:], h)
	}
}

// adamKernel is Adam with bias correction; weight decay is decoupled (AdamW):
// p ← p − lr·(m̂/(√v̂ + ε) + wd·p).
func adamKernel[T number](p, g, m, v []T, h AdamHyper) {
	c1 := 1 - math.Pow(h.Beta1, float64(h.Step))
	c2 := 1 - math.Pow(h.Beta2, float64(h.Step))
	b1, b2 := h.Beta1, h.Beta2
	parallelFor(len(p), parallelGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := float64(g[i])
			mi := b1*float64(m[i]) + (1-b1)*gi
			vi := b2*float64(v[i]) + (1-b2)*gi*gi
			m[i], v[i] = T(mi), T(vi)
			upd := (mi / c1) / (math.Sqrt(vi/c2) + h.Eps)
			p[i] = T(float64(p[i]) - h.LR*(upd+h.WeightDecay*float64(p[i])))
		}
	})
}
