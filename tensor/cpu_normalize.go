package tensor

import "math"

// hostAffine is an Affine's vectors on the host (gamma nil without one).
type hostAffine[T number] struct {
	gamma, beta []T
	inner, k    int
}

func hostAffineOf[T number](a *Affine) hostAffine[T] {
	if a == nil {
		return hostAffine[T]{}
	}
	return hostAffine[T]{gamma: hostFrom[T](a.Gamma), beta: hostFrom[T](a.Beta), inner: a.Inner, k: a.K()}
}

// feature is the feature of the element at row-major index i (see Affine).
func (a hostAffine[T]) feature(i int) int { return i / a.inner % a.k }

// NormalizeRows normalizes rows in one float64 pass pair per row (see
// RowNormalizer): the mean, then the centred sum of squares, then the
// output with the affine applied. The reference backend composes the
// operation instead, so that the backend suite compares the two.
func (c *cpuBackend) NormalizeRows(y, mean, rstd, x *Tensor, eps float64, aff *Affine) {
	if c.reference {
		yy, m, r := normalizeRowsComposed(x, eps, aff)
		c.Copy(y, yy)
		c.Copy(mean, m)
		c.Copy(rstd, r)
		return
	}
	switch x.DType() {
	case Float32:
		normalizeKernel(hostFrom[float32](y), hostFrom[float32](mean), hostFrom[float32](rstd), hostFrom[float32](x)[:x.Len()], mean.Len(), eps, hostAffineOf[float32](aff))
	case Float64:
		normalizeKernel(hostFrom[float64](y), hostFrom[float64](mean), hostFrom[float64](rstd), hostFrom[float64](x)[:x.Len()], mean.Len(), eps, hostAffineOf[float64](aff))
	}
}

// normalizeKernel normalizes the rows of x (len(x)/rows each) into y.
func normalizeKernel[T number](y, mean, rstd, x []T, rows int, eps float64, a hostAffine[T]) {
	if rows == 0 {
		return
	}
	d := len(x) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*d : (r+1)*d]
			yr := y[r*d : (r+1)*d]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			m := s / float64(d)
			var q float64
			for _, v := range xr {
				c := float64(v) - m
				q += c * c
			}
			rs := 1 / math.Sqrt(q/float64(d)+eps)
			for j, v := range xr {
				yh := (float64(v) - m) * rs
				if a.gamma != nil {
					c := a.feature(r*d + j)
					yh = yh*float64(a.gamma[c]) + float64(a.beta[c])
				}
				yr[j] = T(yh)
			}
			mean[r] = T(m)
			rstd[r] = T(rs)
		}
	})
}

// NormalizeRowsGrad runs the backward pass of NormalizeRows in one float64
// pass per row for the two means and one for the output (see
// RowNormalizerGrad); the reference composes it.
func (c *cpuBackend) NormalizeRowsGrad(dx, g, x, mean, rstd *Tensor, aff *Affine) {
	if c.reference {
		c.Copy(dx, normalizeRowsGradComposed(g, x, mean, rstd, aff))
		return
	}
	switch g.DType() {
	case Float32:
		normalizeGradKernel(hostFrom[float32](dx), hostFrom[float32](g), hostFrom[float32](x)[:x.Len()], hostFrom[float32](mean), hostFrom[float32](rstd), rstd.Len(), hostAffineOf[float32](aff))
	case Float64:
		normalizeGradKernel(hostFrom[float64](dx), hostFrom[float64](g), hostFrom[float64](x)[:x.Len()], hostFrom[float64](mean), hostFrom[float64](rstd), rstd.Len(), hostAffineOf[float64](aff))
	}
}

// normalizeGradKernel writes dx = rstd·(g' − mean(g') − ŷ·mean(g'·ŷ)) per
// row of x (len(x)/rows each), with ŷ = (x − mean)·rstd and g' = g·γ (g
// without an affine).
func normalizeGradKernel[T number](dx, g, x, mean, rstd []T, rows int, a hostAffine[T]) {
	if rows == 0 {
		return
	}
	d := len(x) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0 := r * d
			m, rs := float64(mean[r]), float64(rstd[r])
			at := func(i int) (gp, yh float64) {
				gp = float64(g[i])
				if a.gamma != nil {
					gp *= float64(a.gamma[a.feature(i)])
				}
				return gp, (float64(x[i]) - m) * rs
			}
			var sg, sgy float64
			for i := i0; i < i0+d; i++ {
				gp, yh := at(i)
				sg += gp
				sgy += gp * yh
			}
			mg, mgy := sg/float64(d), sgy/float64(d)
			for i := i0; i < i0+d; i++ {
				gp, yh := at(i)
				dx[i] = T(rs * (gp - mg - yh*mgy))
			}
		}
	})
}

// NormalizeAffineGrad sums g·ŷ and g per feature in float64 (see
// RowNormalizerGrad); the reference composes it.
func (c *cpuBackend) NormalizeAffineGrad(dgamma, dbeta, g, x, mean, rstd *Tensor, aff *Affine) {
	if c.reference {
		dg, db := normalizeAffineGradComposed(g, x, mean, rstd, aff)
		c.Copy(dgamma, dg)
		c.Copy(dbeta, db)
		return
	}
	switch g.DType() {
	case Float32:
		affineGradKernel(hostFrom[float32](dgamma), hostFrom[float32](dbeta), hostFrom[float32](g), hostFrom[float32](x)[:x.Len()], hostFrom[float32](mean), hostFrom[float32](rstd), rstd.Len(), aff.Inner, aff.K())
	case Float64:
		affineGradKernel(hostFrom[float64](dgamma), hostFrom[float64](dbeta), hostFrom[float64](g), hostFrom[float64](x)[:x.Len()], hostFrom[float64](mean), hostFrom[float64](rstd), rstd.Len(), aff.Inner, aff.K())
	}
}

// affineGradKernel writes dγ[c] = Σ g·ŷ and dβ[c] = Σ g over the elements
// of feature c of x viewed as [outer, k, inner], ŷ = (x − mean)·rstd per
// row of len(x)/rows. Features are split among workers, each walking its
// block of features in memory order.
func affineGradKernel[T number](dgamma, dbeta, g, x, mean, rstd []T, rows, inner, k int) {
	if rows == 0 {
		return
	}
	d, outer := len(x)/rows, len(x)/(k*inner)
	parallelFor(k, max(1, parallelGrain/(outer*inner)), func(lo, hi int) {
		sgy, sg := make([]float64, hi-lo), make([]float64, hi-lo)
		for o := range outer {
			for c := lo; c < hi; c++ {
				for i := (o*k + c) * inner; i < (o*k+c+1)*inner; i++ {
					r := i / d
					gi := float64(g[i])
					sgy[c-lo] += gi * (float64(x[i]) - float64(mean[r])) * float64(rstd[r])
					sg[c-lo] += gi
				}
			}
		}
		for c := lo; c < hi; c++ {
			dgamma[c], dbeta[c] = T(sgy[c-lo]), T(sg[c-lo])
		}
	})
}
