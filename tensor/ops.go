package tensor

import (
	"fmt"
	"slices"
)

func sameBackend(ts ...*Tensor) {
	for _, t := range ts[1:] {
		if t.Backend() != ts[0].Backend() {
			panic(fmt.Sprintf("tensor: operands on different backends (%s, %s)", ts[0].Backend().Name(), t.Backend().Name()))
		}
		if t.DType() != ts[0].DType() {
			panic(fmt.Sprintf("tensor: operands of different dtypes (%v, %v)", ts[0].DType(), t.DType()))
		}
	}
}

// Apply computes op(x; p) elementwise.
func Apply(op UnaryOp, x *Tensor, p float64) *Tensor {
	out := New(x.Backend(), x.DType(), x.shape...)
	x.Backend().Unary(op, out, x, p)
	return out
}

// Combine computes op(a, b) elementwise with broadcasting.
func Combine(op BinaryOp, a, b *Tensor) *Tensor {
	sameBackend(a, b)
	shape := BroadcastShapes(a.shape, b.shape)
	out := New(a.Backend(), a.DType(), shape...)
	a.Backend().Binary(op, out, a.Expand(shape...), b.Expand(shape...))
	return out
}

// Add returns a + b (broadcasting).
func Add(a, b *Tensor) *Tensor { return Combine(OpAdd, a, b) }

// Sub returns a − b (broadcasting).
func Sub(a, b *Tensor) *Tensor { return Combine(OpSub, a, b) }

// Mul returns a·b elementwise (broadcasting).
func Mul(a, b *Tensor) *Tensor { return Combine(OpMul, a, b) }

// Div returns a/b elementwise (broadcasting).
func Div(a, b *Tensor) *Tensor { return Combine(OpDiv, a, b) }

// Exp returns eˣ elementwise.
func Exp(x *Tensor) *Tensor { return Apply(OpExp, x, 0) }

// Sqrt returns √x elementwise.
func Sqrt(x *Tensor) *Tensor { return Apply(OpSqrt, x, 0) }

// Neg returns −x.
func Neg(x *Tensor) *Tensor { return Apply(OpNeg, x, 0) }

// Square returns x² elementwise.
func Square(x *Tensor) *Tensor { return Apply(OpSquare, x, 0) }

// Scale returns c·x.
func Scale(x *Tensor, c float64) *Tensor { return Apply(OpMulScalar, x, c) }

// Shift returns x + c.
func Shift(x *Tensor, c float64) *Tensor { return Apply(OpAddScalar, x, c) }

// Clamp limits x to [lo, hi] elementwise.
func Clamp(x *Tensor, lo, hi float64) *Tensor {
	return Apply(OpMinScalar, Apply(OpMaxScalar, x, lo), hi)
}

// Where selects a where cond ≠ 0 and b elsewhere (broadcasting all three).
func Where(cond, a, b *Tensor) *Tensor {
	sameBackend(cond, a, b)
	shape := BroadcastShapes(BroadcastShapes(cond.shape, a.shape), b.shape)
	out := New(a.Backend(), a.DType(), shape...)
	a.Backend().Where(out, cond.Expand(shape...), a.Expand(shape...), b.Expand(shape...))
	return out
}

// Reduce applies a reduction along axis; keepDim keeps that axis with size 1.
func Reduce(op ReduceOp, x *Tensor, axis int, keepDim bool) *Tensor {
	axis = x.axis(axis)
	shape := slices.Clone(x.shape)
	shape[axis] = 1
	out := New(x.Backend(), x.DType(), shape...)
	if x.shape[axis] == 0 && op != ReduceSum {
		panic(fmt.Sprintf("tensor: %v over an empty axis", op))
	}
	x.Backend().Reduce(op, out, x, axis)
	if !keepDim {
		return out.Squeeze(axis)
	}
	return out
}

// Sum sums along axis.
func Sum(x *Tensor, axis int, keepDim bool) *Tensor { return Reduce(ReduceSum, x, axis, keepDim) }

// Mean averages along axis.
func Mean(x *Tensor, axis int, keepDim bool) *Tensor {
	return Scale(Sum(x, axis, keepDim), 1/float64(x.Dim(axis)))
}

// Max takes the maximum along axis.
func Max(x *Tensor, axis int, keepDim bool) *Tensor { return Reduce(ReduceMax, x, axis, keepDim) }

// LogSumExp computes log Σ exp(x) along axis without overflow.
func LogSumExp(x *Tensor, axis int, keepDim bool) *Tensor {
	return Reduce(ReduceLogSumExp, x, axis, keepDim)
}

// ArgMax returns the index of the first maximum along axis (as host ints, in
// row-major order of the remaining dimensions).
func ArgMax(x *Tensor, axis int) []int {
	f := Reduce(ReduceArgMax, x, axis, false).Float64s()
	out := make([]int, len(f))
	for i, v := range f {
		out[i] = int(v)
	}
	return out
}

// SumAll sums every element into a 0-d tensor.
func SumAll(x *Tensor) *Tensor {
	return Sum(x.Reshape(x.Len()), 0, false)
}

// Softmax normalizes exp(x) along axis.
func Softmax(x *Tensor, axis int) *Tensor {
	out := New(x.Backend(), x.DType(), x.shape...)
	x.Backend().Softmax(out, x, x.axis(axis), false)
	return out
}

// LogSoftmax is log(Softmax(x)), computed stably.
func LogSoftmax(x *Tensor, axis int) *Tensor {
	out := New(x.Backend(), x.DType(), x.shape...)
	x.Backend().Softmax(out, x, x.axis(axis), true)
	return out
}

// MatMul multiplies the last two dimensions of a and b (batched over leading
// dimensions, which broadcast): [..., m, k]·[..., k, n] → [..., m, n].
func MatMul(a, b *Tensor) *Tensor { return MatMulT(a, b, false, false) }

// MatMulT is MatMul with either operand transposed in its last two dimensions.
func MatMulT(a, b *Tensor, transA, transB bool) *Tensor {
	out, _ := Gemm(a, b, GemmOpts{TransA: transA, TransB: transB})
	return out
}

// GemmOpts selects transposes and the fused epilogue of Gemm.
type GemmOpts struct {
	TransA, TransB bool
	Bias           *Tensor    // [n], added to every row; nil for none
	Act            Activation // applied after the bias
	KeepDeriv      bool       // also return act'(z) at the pre-activation values z
}

// Gemm computes act(op(a)·op(b) + bias) in one fused pass, batched like MatMul.
// With o.KeepDeriv it also returns act'(z), so that the backward pass is one
// product with the incoming gradient (nil for ActNone, whose derivative is 1).
func Gemm(a, b *Tensor, o GemmOpts) (out, deriv *Tensor) {
	sameBackend(a, b)
	if a.Rank() < 2 || b.Rank() < 2 {
		panic(fmt.Sprintf("tensor: MatMul of shapes %v and %v (rank ≥ 2 needed)", a.shape, b.shape))
	}
	m, ka := a.Dim(-2), a.Dim(-1)
	if o.TransA {
		m, ka = ka, m
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if o.TransB {
		kb, n = n, kb
	}
	if ka != kb {
		panic(fmt.Sprintf("tensor: MatMul of shapes %v (transposed %v) and %v (transposed %v)", a.shape, o.TransA, b.shape, o.TransB))
	}
	if o.Bias != nil {
		sameBackend(a, o.Bias)
		if o.Bias.Rank() != 1 || o.Bias.Dim(0) != n {
			panic(fmt.Sprintf("tensor: bias of shape %v for %d output columns", o.Bias.shape, n))
		}
	}
	batch := BroadcastShapes(a.shape[:a.Rank()-2], b.shape[:b.Rank()-2])
	outShape := append(slices.Clone(batch), m, n)
	a3, ta := matmulOperand(a, batch, o.TransA)
	b3, tb := matmulOperand(b, batch, o.TransB)
	// A weight shared by the whole batch: fold the batch into the rows of a.
	if b3.strides[0] == 0 && !ta && a3.shape[0] > 1 && a3.strides[0] == a3.shape[1]*a3.strides[1] {
		a3 = a3.view([]int{1, a3.shape[0] * a3.shape[1], a3.shape[2]}, []int{0, a3.strides[1], 1}, a3.offset)
		b3 = b3.view([]int{1, b3.shape[1], b3.shape[2]}, []int{0, b3.strides[1], 1}, b3.offset)
	}
	rows := a3.shape[1]
	if ta {
		rows = a3.shape[2]
	}
	dst := New(a.Backend(), a.DType(), a3.shape[0], rows, n)
	if o.KeepDeriv && o.Act != ActNone {
		deriv = New(a.Backend(), a.DType(), a3.shape[0], rows, n)
	}
	var bias *Tensor
	if o.Bias != nil {
		bias = o.Bias.Contiguous()
	}
	a.Backend().MatMul(dst, a3, b3, ta, tb, bias, o.Act, deriv)
	out = dst.view(outShape, contiguousStrides(outShape), 0)
	if deriv != nil {
		deriv = deriv.view(outShape, contiguousStrides(outShape), 0)
	}
	return out, deriv
}

// matmulOperand presents t, broadcast to batch, as a 3-D view [B, r, c] whose
// last dimension has unit stride, flipping trans when t is stored column-major
// and copying only when neither layout fits.
func matmulOperand(t *Tensor, batch []int, trans bool) (*Tensor, bool) {
	t = t.Expand(append(slices.Clone(batch), t.Dim(-2), t.Dim(-1))...)
	if !rowMajorMatrix(t) {
		if tt := t.T(); rowMajorMatrix(tt) {
			t, trans = tt, !trans
		} else {
			t = t.Contiguous()
		}
	}
	rank := t.Rank()
	r, c := t.shape[rank-2], t.shape[rank-1]
	sr := t.strides[rank-2]
	if r == 1 {
		sr = max(sr, c) // a single row: its stride is never stepped
	}
	bs := numel(batch)
	bstride, ok := mergeBatch(t.shape[:rank-2], t.strides[:rank-2])
	if !ok {
		t = t.Contiguous()
		sr, bstride = c, r*c
	}
	return t.view([]int{bs, r, c}, []int{bstride, sr, 1}, t.offset), trans
}

// rowMajorMatrix reports whether the last two dimensions of t are stored with
// unit column stride and a row stride of at least the row length.
func rowMajorMatrix(t *Tensor) bool {
	rank := t.Rank()
	r, c := t.shape[rank-2], t.shape[rank-1]
	sr, sc := t.strides[rank-2], t.strides[rank-1]
	return (sc == 1 || c == 1) && (sr >= max(c, 1) || r == 1)
}

// mergeBatch returns the single stride of the flattened batch dimensions, if
// they can be flattened without a copy (all broadcast, or nested row-major).
func mergeBatch(shape, strides []int) (int, bool) {
	stride, set := 0, false
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] == 1 {
			continue
		}
		if !set {
			stride, set = strides[i], true
			continue
		}
		if strides[i] != stride*shape[i+1] && !(strides[i] == 0 && stride == 0) {
			return 0, false
		}
	}
	return stride, true
}

// Concat joins tensors along axis; all other dimensions must agree.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor: Concat of nothing")
	}
	sameBackend(ts...)
	axis = ts[0].axis(axis)
	shape := slices.Clone(ts[0].shape)
	shape[axis] = 0
	for _, t := range ts {
		if t.Rank() != len(shape) {
			panic(fmt.Sprintf("tensor: Concat of ranks %d and %d", len(shape), t.Rank()))
		}
		for i, d := range t.shape {
			if i != axis && d != shape[i] {
				panic(fmt.Sprintf("tensor: Concat along %d of shapes %v and %v", axis, ts[0].shape, t.shape))
			}
		}
		shape[axis] += t.shape[axis]
	}
	out := New(ts[0].Backend(), ts[0].DType(), shape...)
	at := 0
	for _, t := range ts {
		n := t.shape[axis]
		out.Backend().Copy(out.Slice(axis, at, at+n), t)
		at += n
	}
	return out
}

// IndexSelect gathers the entries idx along axis.
func IndexSelect(x *Tensor, axis int, idx []int) *Tensor {
	axis = x.axis(axis)
	for _, i := range idx {
		if i < 0 || i >= x.shape[axis] {
			panic(fmt.Sprintf("tensor: index %d out of range for axis %d of size %d", i, axis, x.shape[axis]))
		}
	}
	shape := slices.Clone(x.shape)
	shape[axis] = len(idx)
	out := New(x.Backend(), x.DType(), shape...)
	x.Backend().IndexSelect(out, x, axis, idx)
	return out
}

// IndexAdd returns zeros of shape with src's slices added at positions idx along
// axis (repeated indices accumulate): the adjoint of IndexSelect.
func IndexAdd(src *Tensor, axis int, idx []int, shape []int) *Tensor {
	axis = src.axis(axis)
	if len(idx) != src.shape[axis] {
		panic(fmt.Sprintf("tensor: IndexAdd of %d indices for axis size %d", len(idx), src.shape[axis]))
	}
	for _, i := range idx {
		if i < 0 || i >= shape[axis] {
			panic(fmt.Sprintf("tensor: index %d out of range for axis %d of size %d", i, axis, shape[axis]))
		}
	}
	out := Zeros(src.Backend(), src.DType(), shape...)
	src.Backend().IndexAdd(out, src, axis, idx)
	return out
}

// OneHot encodes classes idx (each in [0, n)) as rows of a [len(idx), n] tensor.
func OneHot(b Backend, dt DType, idx []int, n int) *Tensor {
	data := make([]float64, len(idx)*n)
	for r, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("tensor: class %d out of range [0, %d)", i, n))
		}
		data[r*n+i] = 1
	}
	return FromFloat64As(b, dt, data, len(idx), n)
}

// RandNormal draws standard normals from the Philox stream (seed, draw).
func RandNormal(b Backend, dt DType, seed, draw uint64, shape ...int) *Tensor {
	t := New(b, dt, shape...)
	b.RandNormal(t, seed, draw)
	return t
}

// RandUniform draws uniforms in (0, 1) from the Philox stream (seed, draw).
func RandUniform(b Backend, dt DType, seed, draw uint64, shape ...int) *Tensor {
	t := New(b, dt, shape...)
	b.RandUniform(t, seed, draw)
	return t
}

// Im2Col unfolds the patches of x [n, c, h, w] into [n, c·kh·kw, oh·ow].
func Im2Col(x *Tensor, g ConvGeom) *Tensor {
	if x.Rank() != 4 || !slices.Equal(x.shape, []int{g.N, g.C, g.H, g.W}) {
		panic(fmt.Sprintf("tensor: Im2Col of shape %v with geometry %+v", x.shape, g))
	}
	out := New(x.Backend(), x.DType(), g.N, g.C*g.KH*g.KW, g.OutH*g.OutW)
	x.Backend().Im2Col(out, x.Contiguous(), g)
	return out
}

// Col2Im folds columns [n, c·kh·kw, oh·ow] back into an image [n, c, h, w],
// summing overlaps: the adjoint of Im2Col.
func Col2Im(cols *Tensor, g ConvGeom) *Tensor {
	if !slices.Equal(cols.shape, []int{g.N, g.C * g.KH * g.KW, g.OutH * g.OutW}) {
		panic(fmt.Sprintf("tensor: Col2Im of shape %v with geometry %+v", cols.shape, g))
	}
	out := New(cols.Backend(), cols.DType(), g.N, g.C, g.H, g.W)
	cols.Backend().Col2Im(out, cols.Contiguous(), g)
	return out
}

// AdamStep applies one Adam/AdamW update to param in place, with moments m, v.
func AdamStep(param, grad, m, v *Tensor, h AdamHyper) {
	sameBackend(param, grad, m, v)
	for _, t := range []*Tensor{grad, m, v} {
		if !slices.Equal(t.shape, param.shape) {
			panic(fmt.Sprintf("tensor: AdamStep shapes %v and %v", param.shape, t.shape))
		}
	}
	if !param.IsContiguous() || !m.IsContiguous() || !v.IsContiguous() {
		panic("tensor: AdamStep needs contiguous param and moments")
	}
	param.Backend().AdamStep(param, grad.Contiguous(), m, v, h)
}
