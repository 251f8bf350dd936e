package backendtest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// attentionCase is a shape of the attention tests: q [lead..., n, d], k and
// v [lead..., m, d]; mag multiplies q (large scores), scale the scores.
type attentionCase struct {
	lead       []int
	n, m, d    int
	mag, scale float64
}

// attentionCases: one query, key and feature; more keys than queries;
// rank 4; query blocks that are not a multiple of 16 rows, odd d; and
// scores up to a few hundred, where exp without the max subtracted
// overflows float32 (e^88.7) and one key takes nearly all the weight.
var attentionCases = []attentionCase{
	{[]int{1}, 1, 1, 1, 1, 0.5},
	{[]int{2}, 3, 5, 4, 1, 0.5},
	{[]int{2, 3}, 7, 7, 3, 1, 1 / math.Sqrt(3)},
	{[]int{3}, 37, 19, 33, 1, 1 / math.Sqrt(33)},
	{[]int{2}, 20, 20, 8, 40, 1},
}

// name describes c.
func (c attentionCase) name() string {
	return fmt.Sprintf("%v×%d×%d×%d mag %g", c.lead, c.n, c.m, c.d, c.mag)
}

// inputs returns random q, k and v for c (q multiplied by c.mag) and their
// values; q is a transposed view and k an offset view when views is set.
func (s *suite) attentionInputs(c attentionCase, views bool) (q, k, v *tensor.Tensor, qv, kv, vv []float64) {
	qv, q = s.randn(append(slices.Clone(c.lead), c.n, c.d)...)
	for i := range qv {
		qv[i] = s.round(qv[i] * c.mag)
	}
	q = tensor.FromFloat64As(s.b, s.dt, qv, q.Shape()...)
	kv, k = s.randn(append(slices.Clone(c.lead), c.m, c.d)...)
	vv, v = s.randn(append(slices.Clone(c.lead), c.m, c.d)...)
	if views {
		// q stored as [lead..., d, n] and transposed; k sliced off a
		// tensor with one more row of keys per batch index.
		r := len(c.lead)
		q = tensor.FromFloat64As(s.b, s.dt, transposeLast(qv, c.n, c.d), append(slices.Clone(c.lead), c.d, c.n)...).Transpose(r, r+1)
		big := make([]float64, 0, len(kv)+len(kv)/c.m)
		for b := range len(kv) / (c.m * c.d) {
			big = append(big, make([]float64, c.d)...)
			big = append(big, kv[b*c.m*c.d:(b+1)*c.m*c.d]...)
		}
		k = tensor.FromFloat64As(s.b, s.dt, big, append(slices.Clone(c.lead), c.m+1, c.d)...).Slice(r, 1, c.m+1)
	}
	return q, k, v, qv, kv, vv
}

// round rounds x to the suite's dtype.
func (s *suite) round(x float64) float64 {
	if s.dt == tensor.Float32 {
		return float64(float32(x))
	}
	return x
}

// transposeLast transposes the trailing r×c matrices of v.
func transposeLast(v []float64, r, c int) []float64 {
	t := make([]float64, len(v))
	for b := 0; b < len(v); b += r * c {
		for i := range r {
			for j := range c {
				t[b+j*r+i] = v[b+i*c+j]
			}
		}
	}
	return t
}

// attentionScores returns s_ij = scale·q_i·k_j of batch index z, P_ij =
// exp(s_ij − lse_i) and lse_i (computed with the row's max subtracted, in
// float64), and the largest |s_ij|.
func attentionScores(q, k []float64, z, n, m, d int, scale float64) (p, lse []float64, smax float64) {
	p, lse = make([]float64, n*m), make([]float64, n)
	for i := range n {
		row := p[i*m : (i+1)*m]
		mx := math.Inf(-1)
		for j := range m {
			var s float64
			for c := range d {
				s += q[(z*n+i)*d+c] * k[(z*m+j)*d+c]
			}
			row[j] = scale * s
			mx = max(mx, row[j])
			smax = max(smax, math.Abs(row[j]))
		}
		var l float64
		for _, s := range row {
			l += math.Exp(s - mx)
		}
		lse[i] = mx + math.Log(l)
		for j, s := range row {
			row[j] = math.Exp(s - lse[i])
		}
	}
	return p, lse, smax
}

// attentionRef is Attention in float64: out and lse of every batch index,
// and the largest |score|.
func attentionRef(q, k, v []float64, n, m, d int, scale float64) (out, lse []float64, smax float64) {
	batch := len(q) / (n * d)
	out, lse = make([]float64, len(q)), make([]float64, batch*n)
	for z := range batch {
		p, l, sm := attentionScores(q, k, z, n, m, d, scale)
		smax = max(smax, sm)
		copy(lse[z*n:], l)
		for i := range n {
			for j := range m {
				for c := range d {
					out[(z*n+i)*d+c] += p[i*m+j] * v[(z*m+j)*d+c]
				}
			}
		}
	}
	return out, lse, smax
}

// attentionTol is the tolerance of the attention tests: a score, a sum of d
// products, is off by about (1 + |s|)·√(d+1) rounding units, and so is the
// relative error of exp(s − lse); sums over m (and n) keys add √(m+n).
func (s *suite) attentionTol(c attentionCase, smax float64) float64 {
	return 4 * s.tol.MatMul * math.Sqrt(float64((c.d+1)*(c.m+c.n+1))) * (1 + smax)
}

// forAttentionInputs calls f with the name and inputs of every attention
// case, and of the first three again with q transposed and k an offset
// view.
func (s *suite) forAttentionInputs(f func(name string, c attentionCase, q, k, v *tensor.Tensor, qv, kv, vv []float64)) {
	for i, c := range attentionCases {
		for _, views := range []bool{false, true} {
			if views && i >= 3 {
				continue
			}
			q, k, v, qv, kv, vv := s.attentionInputs(c, views)
			name := c.name()
			if views {
				name += " views"
			}
			f(name, c, q, k, v, qv, kv, vv)
		}
	}
}

// testAttention checks Attention's out and lse against a float64 reference
// (max-subtracted softmax) for every attention input.
func (s *suite) testAttention(t *testing.T) {
	s.forAttentionInputs(func(name string, c attentionCase, q, k, v *tensor.Tensor, qv, kv, vv []float64) {
		out, lse := tensor.Attention(q, k, v, c.scale)
		wo, wl, smax := attentionRef(qv, kv, vv, c.n, c.m, c.d, c.scale)
		tol := s.attentionTol(c, smax)
		check(t, name+" out", out, wo, tol)
		check(t, name+" lse", lse, wl, tol)
		if want := append(slices.Clone(c.lead), c.n, 1); !slices.Equal(out.Shape(), q.Shape()) || !slices.Equal(lse.Shape(), want) {
			t.Fatalf("%s: out %v, lse %v for q %v", name, out.Shape(), lse.Shape(), q.Shape())
		}
	})
}

// attentionGradRef is AttentionGrad in float64 from the given out and lse
// (those of the backend, rounded): with P = exp(s − lse), D_i = g_i·out_i
// and dS = P∘(g·vᵀ − D), dq = scale·dS·k, dk = scale·dSᵀ·q, dv = Pᵀ·g.
func attentionGradRef(g, q, k, v, out, lse []float64, n, m, d int, scale float64) (dq, dk, dv []float64) {
	batch := len(q) / (n * d)
	dq, dk, dv = make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
	for z := range batch {
		for i := range n {
			qi, gi, oi := q[(z*n+i)*d:(z*n+i+1)*d], g[(z*n+i)*d:(z*n+i+1)*d], out[(z*n+i)*d:(z*n+i+1)*d]
			var di float64
			for c := range d {
				di += gi[c] * oi[c]
			}
			for j := range m {
				kj, vj := k[(z*m+j)*d:(z*m+j+1)*d], v[(z*m+j)*d:(z*m+j+1)*d]
				var sij, dp float64
				for c := range d {
					sij += qi[c] * kj[c]
					dp += gi[c] * vj[c]
				}
				p := math.Exp(scale*sij - lse[z*n+i])
				ds := p * (dp - di)
				for c := range d {
					dq[(z*n+i)*d+c] += scale * ds * kj[c]
					dk[(z*m+j)*d+c] += scale * ds * qi[c]
					dv[(z*m+j)*d+c] += p * gi[c]
				}
			}
		}
	}
	return dq, dk, dv
}

// testAttentionGrad checks AttentionGrad against a float64 reference that
// starts from the same out and lse (Attention's, on the backend), for every
// attention input.
func (s *suite) testAttentionGrad(t *testing.T) {
	s.forAttentionInputs(func(name string, c attentionCase, q, k, v *tensor.Tensor, qv, kv, vv []float64) {
		gv, g := s.randn(q.Shape()...)
		out, lse := tensor.Attention(q, k, v, c.scale)
		dq, dk, dv := tensor.AttentionGrad(g, q, k, v, out, lse, c.scale)
		_, _, smax := attentionRef(qv, kv, vv, c.n, c.m, c.d, c.scale)
		wq, wk, wv := attentionGradRef(gv, qv, kv, vv, out.Float64s(), lse.Float64s(), c.n, c.m, c.d, c.scale)
		tol := s.attentionTol(c, smax)
		check(t, name+" dq", dq, wq, tol)
		check(t, name+" dk", dk, wk, tol)
		check(t, name+" dv", dv, wv, tol)
		if !slices.Equal(dq.Shape(), q.Shape()) || !slices.Equal(dk.Shape(), k.Shape()) || !slices.Equal(dv.Shape(), v.Shape()) {
			t.Fatalf("%s: dq %v, dk %v, dv %v", name, dq.Shape(), dk.Shape(), dv.Shape())
		}
	})
}
