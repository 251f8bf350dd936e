package tensor

import "math"

// NormalizeRows normalizes rows in one float64 pass pair per row (see
// RowNormalizer): the mean, then the centred sum of squares, then the
// output. The reference backend composes the operation instead, so that the
// backend suite compares the two.
func (c *cpuBackend) NormalizeRows(y, mean, rstd, x *Tensor, eps float64) {
	if c.reference {
		yy, m, r := normalizeRowsComposed(x, eps)
		c.Copy(y, yy)
		c.Copy(mean, m)
		c.Copy(rstd, r)
		return
	}
	switch x.DType() {
	case Float32:
		normalizeKernel(hostFrom[float32](y), hostFrom[float32](mean), hostFrom[float32](rstd), hostFrom[float32](x)[:x.Len()], mean.Len(), eps)
	case Float64:
		normalizeKernel(hostFrom[float64](y), hostFrom[float64](mean), hostFrom[float64](rstd), hostFrom[float64](x)[:x.Len()], mean.Len(), eps)
	}
}

// normalizeKernel normalizes the rows of x (len(x)/rows each) into y.
func normalizeKernel[T number](y, mean, rstd, x []T, rows int, eps float64) {
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
				yr[j] = T((float64(v) - m) * rs)
			}
			mean[r] = T(m)
			rstd[r] = T(rs)
		}
	})
}

// NormalizeRowsGrad runs the backward pass of NormalizeRows in one float64
// pass per row for the two means and one for the output (see
// RowNormalizerGrad); the reference composes it.
func (c *cpuBackend) NormalizeRowsGrad(dx, g, y, rstd *Tensor) {
	if c.reference {
		c.Copy(dx, normalizeRowsGradComposed(g, y, rstd))
		return
	}
	switch g.DType() {
	case Float32:
		normalizeGradKernel(hostFrom[float32](dx), hostFrom[float32](g), hostFrom[float32](y)[:y.Len()], hostFrom[float32](rstd), rstd.Len())
	case Float64:
		normalizeGradKernel(hostFrom[float64](dx), hostFrom[float64](g), hostFrom[float64](y)[:y.Len()], hostFrom[float64](rstd), rstd.Len())
	}
}

// normalizeGradKernel writes dx = rstd·(g − mean(g) − y·mean(g·y)) per row
// of y (len(y)/rows each).
func normalizeGradKernel[T number](dx, g, y, rstd []T, rows int) {
	if rows == 0 {
		return
	}
	d := len(y) / rows
	parallelFor(rows, max(1, parallelGrain/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0 := r * d
			var sg, sgy float64
			for j := range d {
				gj := float64(g[i0+j])
				sg += gj
				sgy += gj * float64(y[i0+j])
			}
			mg, mgy, rs := sg/float64(d), sgy/float64(d), float64(rstd[r])
			for j := range d {
				dx[i0+j] = T(rs * (float64(g[i0+j]) - mg - float64(y[i0+j])*mgy))
			}
		}
	})
}
