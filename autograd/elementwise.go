package autograd

import (
	"github.com/difftune/difftune/tensor"
)

// Add returns a + b (broadcasting).
func Add(a, b *Var) *Var {
	return record("add", tensor.Add(a.Value, b.Value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.SumTo(g, a.Shape()), tensor.SumTo(g, b.Shape())}
	}, a, b)
}

// Sub returns a − b (broadcasting).
func Sub(a, b *Var) *Var {
	return record("sub", tensor.Sub(a.Value, b.Value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.SumTo(g, a.Shape()), tensor.SumTo(tensor.Neg(g), b.Shape())}
	}, a, b)
}

// Mul returns a·b elementwise (broadcasting).
func Mul(a, b *Var) *Var {
	return record("mul", tensor.Mul(a.Value, b.Value), func(g *tensor.Tensor) []*tensor.Tensor {
		var ga, gb *tensor.Tensor
		if a.requiresGrad {
			ga = tensor.SumTo(tensor.Mul(g, b.Value), a.Shape())
		}
		if b.requiresGrad {
			gb = tensor.SumTo(tensor.Mul(g, a.Value), b.Shape())
		}
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// Div returns a/b elementwise (broadcasting).
func Div(a, b *Var) *Var {
	out := tensor.Div(a.Value, b.Value)
	return record("div", out, func(g *tensor.Tensor) []*tensor.Tensor {
		var ga, gb *tensor.Tensor
		gOverB := tensor.Div(g, b.Value)
		if a.requiresGrad {
			ga = tensor.SumTo(gOverB, a.Shape())
		}
		if b.requiresGrad {
			// ∂(a/b)/∂b = −(a/b)/b
			gb = tensor.SumTo(tensor.Neg(tensor.Mul(gOverB, out)), b.Shape())
		}
		return []*tensor.Tensor{ga, gb}
	}, a, b)
}

// Scale returns c·x.
func Scale(x *Var, c float64) *Var {
	return record("scale", tensor.Scale(x.Value, c), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Scale(g, c)}
	}, x)
}

// Shift returns x + c.
func Shift(x *Var, c float64) *Var {
	return record("shift", tensor.Shift(x.Value, c), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g}
	}, x)
}

// Neg returns −x.
func Neg(x *Var) *Var { return Scale(x, -1) }

// unary records y = f(x) with dy/dx computed by deriv from x and y.
func unary(name string, op tensor.UnaryOp, x *Var, p float64, deriv func(x, y *tensor.Tensor) *tensor.Tensor) *Var {
	y := tensor.Apply(op, x.Value, p)
	return record(name, y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Mul(g, deriv(x.Value, y))}
	}, x)
}

// Exp returns eˣ.
func Exp(x *Var) *Var {
	return unary("exp", tensor.OpExp, x, 0, func(_, y *tensor.Tensor) *tensor.Tensor { return y })
}

// Log returns ln x.
func Log(x *Var) *Var {
	return unary("log", tensor.OpLog, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor {
		return tensor.Apply(tensor.OpRecip, x, 0)
	})
}

// Sqrt returns √x.
func Sqrt(x *Var) *Var {
	return unary("sqrt", tensor.OpSqrt, x, 0, func(_, y *tensor.Tensor) *tensor.Tensor {
		return tensor.Scale(tensor.Apply(tensor.OpRecip, y, 0), 0.5)
	})
}

// Square returns x².
func Square(x *Var) *Var {
	return unary("square", tensor.OpSquare, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor { return tensor.Scale(x, 2) })
}

// Pow returns xᵖ for a constant p.
func Pow(x *Var, p float64) *Var {
	return unary("pow", tensor.OpPowScalar, x, p, func(x, _ *tensor.Tensor) *tensor.Tensor {
		return tensor.Scale(tensor.Apply(tensor.OpPowScalar, x, p-1), p)
	})
}

// Sin returns sin x.
func Sin(x *Var) *Var {
	return unary("sin", tensor.OpSin, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor { return tensor.Apply(tensor.OpCos, x, 0) })
}

// Cos returns cos x.
func Cos(x *Var) *Var {
	return unary("cos", tensor.OpCos, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor {
		return tensor.Neg(tensor.Apply(tensor.OpSin, x, 0))
	})
}

// Abs returns |x| (gradient sign(x), 0 at 0).
func Abs(x *Var) *Var {
	return unary("abs", tensor.OpAbs, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor {
		return tensor.Sub(tensor.Apply(tensor.OpStep, x, 0), tensor.Apply(tensor.OpStep, tensor.Neg(x), 0))
	})
}

// Softplus returns ln(1 + eˣ) (gradient sigmoid(x)).
func Softplus(x *Var) *Var {
	return unary("softplus", tensor.OpSoftplus, x, 0, func(x, _ *tensor.Tensor) *tensor.Tensor {
		return tensor.Apply(tensor.OpSigmoid, x, 0)
	})
}

// activationGrad multiplies g by act'(z), from the pre-activation z or the
// output y, with the fused backward kernels.
func activationGrad(act tensor.Activation, z, y, g *tensor.Tensor) *tensor.Tensor {
	switch act {
	case tensor.ActNone:
		return g
	case tensor.ActSiLU:
		return tensor.Combine(tensor.OpSiLUGrad, z, g)
	case tensor.ActReLU:
		return tensor.Combine(tensor.OpReLUGrad, y, g)
	case tensor.ActTanh:
		return tensor.Combine(tensor.OpTanhGrad, y, g)
	case tensor.ActSigmoid:
		return tensor.Combine(tensor.OpSigmoidGrad, y, g)
	}
	panic("autograd: unknown activation " + act.String())
}

// Activate applies an activation function.
func Activate(x *Var, act tensor.Activation) *Var {
	if act == tensor.ActNone {
		return x
	}
	y := tensor.Apply(act.Unary(), x.Value, 0)
	return record(act.String(), y, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{activationGrad(act, x.Value, y, g)}
	}, x)
}

// Tanh returns tanh x.
func Tanh(x *Var) *Var { return Activate(x, tensor.ActTanh) }

// Sigmoid returns 1/(1 + e⁻ˣ).
func Sigmoid(x *Var) *Var { return Activate(x, tensor.ActSigmoid) }

// SiLU returns x·sigmoid(x).
func SiLU(x *Var) *Var { return Activate(x, tensor.ActSiLU) }

// ReLU returns max(x, 0).
func ReLU(x *Var) *Var { return Activate(x, tensor.ActReLU) }

// Where selects a where cond ≠ 0, b elsewhere; cond is a constant mask.
func Where(cond *tensor.Tensor, a, b *Var) *Var {
	out := tensor.Where(cond, a.Value, b.Value)
	return record("where", out, func(g *tensor.Tensor) []*tensor.Tensor {
		zero := tensor.Zeros(g.Backend(), g.DType())
		return []*tensor.Tensor{
			tensor.SumTo(tensor.Where(cond, g, zero), a.Shape()),
			tensor.SumTo(tensor.Where(cond, zero, g), b.Shape()),
		}
	}, a, b)
}

// Clamp limits x to [lo, hi]; the gradient is zero where x is clipped.
func Clamp(x *Var, lo, hi float64) *Var {
	out := tensor.Clamp(x.Value, lo, hi)
	return record("clamp", out, func(g *tensor.Tensor) []*tensor.Tensor {
		inside := tensor.Mul(tensor.Apply(tensor.OpStep, tensor.Shift(x.Value, -lo), 0),
			tensor.Apply(tensor.OpStep, tensor.Shift(tensor.Neg(x.Value), hi), 0))
		return []*tensor.Tensor{tensor.Mul(g, inside)}
	}, x)
}
