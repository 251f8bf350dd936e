// Package autograd is a reverse-mode automatic differentiation tape over
// tensors. A Var holds a value and, after Backward, the gradient of a scalar
// with respect to it. Operations on Vars record a node with a backward rule when
// any input requires a gradient and recording is enabled; Backward walks the
// nodes in reverse topological order, accumulating gradients.
//
// The primitives are few (one file each family), each checked against central
// finite differences in float64 by the package's tests; everything else is
// composed from them.
//
// Recording is switched off by NoGrad scopes, which are per goroutine: a
// scope belongs to the goroutine that opened it; goroutines started inside it
// record unless they open their own. So an evaluator or viewer goroutine may
// run under NoGrad while a trainer goroutine records and back-propagates.
// Separate goroutines may build and back-propagate separate graphs at once,
// but a graph (and the Grad of its leaves) belongs to one goroutine at a
// time: two concurrent Backward passes into the same leaves race.
package autograd

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"

	"github.com/difftune/difftune/tensor"
)

// Var is a tensor in a computation graph.
type Var struct {
	// Value is the forward value.
	Value *tensor.Tensor
	// Grad is the accumulated gradient of leaves that require one (nil before
	// the first Backward that reaches them).
	Grad *tensor.Tensor

	requiresGrad bool
	node         *node
}

// node records how a Var was computed: its inputs and the rule that maps the
// gradient of the output to gradients of the inputs.
//
// An operation with several results (recordMulti) is recorded as a hidden
// joint Var whose node holds the inputs and backwardN, the rule that maps
// the gradients of all results at once; each result's node has the joint as
// its only input and part = its position + 1. Backward hands each result's
// gradient to its joint, which comes after every result in reverse
// topological order, and runs backwardN once with all of them.
type node struct {
	op       string
	inputs   []*Var
	backward func(g *tensor.Tensor) []*tensor.Tensor

	nout      int                                        // joint: number of results
	backwardN func(gs []*tensor.Tensor) []*tensor.Tensor // joint: nil entries are zero gradients
	part      int                                        // result: position in its joint + 1
}

// Param wraps t as a leaf whose gradient is wanted (a trainable parameter or
// an input to differentiate with respect to).
func Param(t *tensor.Tensor) *Var { return &Var{Value: t, requiresGrad: true} }

// Const wraps t as a leaf without gradient.
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients flow to this Var.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking of a leaf on or off.
func (v *Var) SetRequiresGrad(on bool) {
	if v.node != nil {
		panic("autograd: SetRequiresGrad on a computed Var")
	}
	v.requiresGrad = on
}

// Detach returns a leaf with the same value and no history.
func (v *Var) Detach() *Var { return &Var{Value: v.Value} }

// IsLeaf reports whether v was not computed by a recorded operation.
func (v *Var) IsLeaf() bool { return v.node == nil }

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// ZeroGrad forgets the accumulated gradient.
func (v *Var) ZeroGrad() { v.Grad = nil }

// String describes the Var.
func (v *Var) String() string {
	op := "leaf"
	if v.node != nil {
		op = v.node.op
	}
	return fmt.Sprintf("Var(%v, %s, grad=%v)", v.Value.Shape(), op, v.requiresGrad)
}

// No-grad scopes are counted per goroutine. noGradDepths maps a goroutine's
// id (goid.Get) to the number of NoGrad scopes it has open, with no entry
// for none; an entry is only written by its own goroutine. noGradScopes is
// the sum of all depths: while it is 0, which is the common case of a
// training loop, Recording answers without looking the goroutine up.
var (
	noGradScopes atomic.Int64
	noGradDepths sync.Map // int64 goroutine id -> int depth > 0
)

// noGradDepth is the number of NoGrad scopes open on goroutine id.
func noGradDepth(id int64) int {
	if d, ok := noGradDepths.Load(id); ok {
		return d.(int)
	}
	return 0
}

// setNoGradDepth sets goroutine id's depth from old to d, keeping
// noGradScopes the sum of the depths.
func setNoGradDepth(id int64, old, d int) {
	if d == 0 {
		noGradDepths.Delete(id)
	} else {
		noGradDepths.Store(id, d)
	}
	noGradScopes.Add(int64(d - old))
}

// NoGrad runs fn without recording operations (inference, rollouts whose
// gradient is not needed, parameter updates). The scope is the calling
// goroutine's: goroutines that fn starts record unless they open their own.
// Scopes nest, and the state is restored when fn returns or panics.
func NoGrad(fn func()) {
	id := goid.Get()
	d := noGradDepth(id)
	setNoGradDepth(id, d, d+1)
	defer setNoGradDepth(id, d+1, d)
	fn()
}

// withRecording runs fn with recording on for the calling goroutine, even
// inside its NoGrad scopes (a checkpoint's recompute); other goroutines'
// scopes are untouched.
func withRecording(fn func()) {
	if noGradScopes.Load() == 0 {
		fn()
		return
	}
	id := goid.Get()
	d := noGradDepth(id)
	if d == 0 {
		fn()
		return
	}
	setNoGradDepth(id, d, 0)
	defer setNoGradDepth(id, 0, d)
	fn()
}

// Recording reports whether operations are being recorded on the calling
// goroutine.
func Recording() bool {
	if noGradScopes.Load() == 0 {
		return true
	}
	return noGradDepth(goid.Get()) == 0
}

// record returns a Var for value computed from inputs by op, with a node when
// gradients are needed.
func record(op string, value *tensor.Tensor, backward func(g *tensor.Tensor) []*tensor.Tensor, inputs ...*Var) *Var {
	out := &Var{Value: value}
	if !Recording() {
		return out
	}
	for _, in := range inputs {
		if in.requiresGrad {
			out.requiresGrad = true
			out.node = &node{op: op, inputs: inputs, backward: backward}
			break
		}
	}
	return out
}

// recordMulti returns Vars for the results values of one operation on
// inputs, recorded as one node (see node) when gradients are needed.
// backward receives one gradient per result, nil for a result that no
// gradient reached (at least one is set), and returns one per input.
func recordMulti(op string, values []*tensor.Tensor, backward func(gs []*tensor.Tensor) []*tensor.Tensor, inputs ...*Var) []*Var {
	outs := make([]*Var, len(values))
	for i, v := range values {
		outs[i] = &Var{Value: v}
	}
	if !Recording() || !slices.ContainsFunc(inputs, func(in *Var) bool { return in.requiresGrad }) {
		return outs
	}
	joint := &Var{requiresGrad: true, node: &node{op: op, inputs: inputs, nout: len(values), backwardN: backward}}
	for i, o := range outs {
		o.requiresGrad = true
		o.node = &node{op: op, inputs: []*Var{joint}, part: i + 1}
	}
	return outs
}

// Backward computes the gradient of v, which must hold one element, with
// respect to every leaf that requires a gradient, adding to their Grad. The
// graph is freed as it is walked: call Backward once per forward pass.
func (v *Var) Backward() {
	if v.Value.Len() != 1 {
		panic(fmt.Sprintf("autograd: Backward of a Var with shape %v (need a scalar; use BackwardWith)", v.Shape()))
	}
	v.BackwardWith(tensor.Full(v.Value.Backend(), v.Value.DType(), 1, v.Shape()...))
}

// BackwardWith back-propagates the gradient g (shape of v) from v.
func (v *Var) BackwardWith(g *tensor.Tensor) {
	v.backward(g, func(leaf *Var, g *tensor.Tensor, owned bool) { accumulate(&leaf.Grad, g, owned) })
}

// Grad returns the gradient of the scalar out with respect to each of wrt
// (nil for one that out does not depend on), like torch.autograd.grad: no
// leaf's Grad changes, so it may run on a model that another part of the
// program trains (inputs' gradients for guidance, ∇ₓ r̂(x), ∇ₓ of a
// classifier). The gradients are values, not differentiable in turn. Each of
// wrt must require a gradient (Param).
func Grad(out *Var, wrt ...*Var) []*tensor.Tensor {
	if out.Value.Len() != 1 {
		panic(fmt.Sprintf("autograd: Grad of a Var with shape %v (need a scalar)", out.Shape()))
	}
	want := make(map[*Var]int, len(wrt))
	for i, w := range wrt {
		if !w.requiresGrad {
			panic(fmt.Sprintf("autograd: Grad with respect to input %d, which does not require a gradient", i))
		}
		want[w] = i
	}
	res := make([]*tensor.Tensor, len(wrt))
	if !out.requiresGrad {
		return res // out depends on none of them
	}
	out.backward(tensor.Full(out.Value.Backend(), out.Value.DType(), 1, out.Shape()...), func(leaf *Var, g *tensor.Tensor, owned bool) {
		if i, ok := want[leaf]; ok {
			accumulate(&res[i], g, owned)
		}
	})
	return res
}

// InputGrad is ∇ₓ Σ_rows f(x): the gradient of the sum of f's outputs with
// respect to its input x, row by row when f acts on each row alone. It
// records on the calling goroutine even inside a NoGrad scope, and leaves
// the Grad of every parameter of f untouched (Grad).
func InputGrad(f func(x *Var) *Var, x *tensor.Tensor) *tensor.Tensor {
	var g *tensor.Tensor
	withRecording(func() {
		in := Param(x)
		g = Grad(SumAll(f(in)), in)[0]
		if g == nil {
			g = tensor.Zeros(x.Backend(), x.DType(), x.Shape()...)
		}
	})
	return g
}

// backward back-propagates g from v, handing each leaf's gradient to leaf
// (owned: nothing else refers to the tensor).
func (v *Var) backward(g *tensor.Tensor, leaf func(leaf *Var, g *tensor.Tensor, owned bool)) {
	if !slices.Equal(g.Shape(), v.Shape()) {
		panic(fmt.Sprintf("autograd: gradient of shape %v for a Var of shape %v", g.Shape(), v.Shape()))
	}
	if !v.requiresGrad {
		panic("autograd: Backward of a Var that does not require a gradient")
	}
	order := topoOrder(v)
	grads := map[*Var]*tensor.Tensor{v: g}
	parts := map[*Var][]*tensor.Tensor{} // per joint: its results' gradients
	// sums are the gradients in grads that this pass made by adding
	// contributions: nothing else refers to one until it is handed on, so a
	// sum that a larger one replaces is freed at once (a weight used at
	// every step of a rollout collects one sum per step), and a leaf adopts
	// its sum without a copy.
	sums := map[*tensor.Tensor]bool{}
	for i := len(order) - 1; i >= 0; i-- {
		u := order[i]
		var gin []*tensor.Tensor
		if u.node != nil && u.node.nout > 0 {
			gs := parts[u]
			delete(parts, u)
			if gs == nil {
				continue
			}
			if u.node.backwardN == nil {
				panic("autograd: Backward through a graph that was already freed (" + u.node.op + ")")
			}
			gin = u.node.backwardN(gs)
			u.node.backwardN = nil
		} else {
			gu := grads[u]
			delete(grads, u)
			if gu == nil {
				continue
			}
			owned := sums[gu]
			delete(sums, gu)
			if u.node == nil {
				leaf(u, gu, owned)
				continue
			}
			if u.node.part > 0 {
				joint := u.node.inputs[0]
				gs := parts[joint]
				if gs == nil {
					gs = make([]*tensor.Tensor, joint.node.nout)
					parts[joint] = gs
				}
				gs[u.node.part-1] = gu
				continue
			}
			if u.node.backward == nil {
				panic("autograd: Backward through a graph that was already freed (" + u.node.op + ")")
			}
			gin = u.node.backward(gu)
		}
		for k, in := range u.node.inputs {
			if in.requiresGrad && gin[k] != nil {
				if !slices.Equal(gin[k].Shape(), in.Shape()) {
					panic(fmt.Sprintf("autograd: %s returned a gradient of shape %v for an input of shape %v", u.node.op, gin[k].Shape(), in.Shape()))
				}
				if prev, ok := grads[in]; ok {
					sum := tensor.Add(prev, gin[k])
					if sums[prev] {
						delete(sums, prev)
						tensor.Free(prev)
					}
					sums[sum] = true
					grads[in] = sum
				} else {
					grads[in] = gin[k]
				}
			}
		}
		u.node.backward = nil
	}
}

// accumulate adds g to the gradient *dst, taking g itself where *dst is
// nil and g is owned (nothing else refers to it), a copy otherwise.
func accumulate(dst **tensor.Tensor, g *tensor.Tensor, owned bool) {
	switch {
	case *dst != nil:
		*dst = tensor.Add(*dst, g)
	case owned:
		*dst = g
	default:
		*dst = g.Clone()
	}
}

// topoOrder lists the Vars that v depends on (and that require gradients) so
// that every Var comes after its inputs.
func topoOrder(v *Var) []*Var {
	var order []*Var
	visited := map[*Var]bool{}
	type frame struct {
		v    *Var
		next int
	}
	stack := []frame{{v: v}}
	visited[v] = true
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.v.node != nil && top.next < len(top.v.node.inputs) {
			in := top.v.node.inputs[top.next]
			top.next++
			if in.requiresGrad && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{v: in})
			}
			continue
		}
		order = append(order, top.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
