package tensor

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
)

// Buffer is a backend's storage for the elements of one or more tensors.
type Buffer interface {
	Backend() Backend
	DType() DType
	Len() int
}

// Backend executes tensor operations. Every operation writes a freshly allocated
// contiguous dst (Copy also accepts a strided dst); inputs are views with any
// strides, stride 0 meaning broadcast. All tensors passed to one call live on
// this backend and share one dtype; the functions of this package check shapes
// before calling, so a Backend may assume them consistent.
//
// The test suite in package backendtest checks every operation of an
// implementation against float64 references.
type Backend interface {
	// Name identifies the backend in the registry and in messages.
	Name() string
	// Alloc returns storage for n elements (contents undefined).
	Alloc(dt DType, n int) Buffer
	// Upload copies src ([]float32 or []float64 matching the buffer) to the start of dst.
	Upload(dst Buffer, src any)
	// Download copies len(dst) elements starting at offset into dst.
	Download(src Buffer, offset int, dst any)
	// Sync waits for all recorded work and reports an asynchronous failure.
	Sync() error

	// Copy writes src into dst elementwise; both have dst's shape, any strides.
	Copy(dst, src *Tensor)
	// Fill sets every element of the contiguous dst to v.
	Fill(dst *Tensor, v float64)
	// Unary computes dst = op(src; p) elementwise.
	Unary(op UnaryOp, dst, src *Tensor, p float64)
	// Binary computes dst = op(a, b) elementwise; a and b have dst's shape.
	Binary(op BinaryOp, dst, a, b *Tensor)
	// Where computes dst = cond ≠ 0 ? a : b; all three have dst's shape.
	Where(dst, cond, a, b *Tensor)
	// Reduce reduces src along axis into dst, whose shape is src's with that axis 1.
	Reduce(op ReduceOp, dst, src *Tensor, axis int)
	// Softmax computes softmax (or log-softmax) of src along axis.
	Softmax(dst, src *Tensor, axis int, log bool)
	// MatMul computes dst = act(op(a)·op(b) + bias) over a batch: a is
	// [batch, m, k] (or [batch, k, m] when transA), b is [batch, k, n] (or
	// [batch, n, k]), dst [batch, m, n]. bias ([n], may be nil) and act are the
	// fused epilogue; deriv (may be nil, shape of dst) receives the
	// derivative act'(z) at the pre-activation values z, for the backward pass.
	MatMul(dst, a, b *Tensor, transA, transB bool, bias *Tensor, act Activation, deriv *Tensor)
	// IndexSelect gathers entries idx along axis: dst has src's shape with
	// that axis replaced by len(idx).
	IndexSelect(dst, src *Tensor, axis int, idx []int)
	// IndexAdd is the adjoint of IndexSelect: dst (zeroed by the caller) += src
	// scattered to positions idx along axis.
	IndexAdd(dst, src *Tensor, axis int, idx []int)
	// Im2Col unfolds image patches of src [n, c, h, w] into dst
	// [n, c·kh·kw, oh·ow] (zero padding).
	Im2Col(dst, src *Tensor, g ConvGeom)
	// Col2Im is the adjoint of Im2Col: dst [n, c, h, w] = Σ of the columns of
	// src folded back (dst is overwritten).
	Col2Im(dst, src *Tensor, g ConvGeom)
	// RandNormal fills dst with standard normals of the Philox stream (seed,
	// draw): element i is the i-th normal of that stream on every backend.
	RandNormal(dst *Tensor, seed, draw uint64)
	// RandUniform fills dst with uniforms in (0, 1) from the Philox stream.
	RandUniform(dst *Tensor, seed, draw uint64)
	// AdamStep updates param, m and v in place from grad (AdamW when
	// weightDecay ≠ 0); step counts from 1. All four are contiguous.
	AdamStep(param, grad, m, v *Tensor, h AdamHyper)
}

// AdamHyper holds the hyper-parameters of one Adam/AdamW update.
type AdamHyper struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Step                               int
}

// ConvGeom describes a 2-D convolution's geometry for Im2Col/Col2Im.
type ConvGeom struct {
	N, C, H, W  int // input batch, channels, height, width
	KH, KW      int // kernel size
	Stride, Pad int
	OutH, OutW  int // derived by NewConvGeom
}

// NewConvGeom fills in the output size of a convolution.
func NewConvGeom(n, c, h, w, kh, kw, stride, pad int) ConvGeom {
	if stride < 1 || pad < 0 || kh < 1 || kw < 1 {
		panic(fmt.Sprintf("tensor: bad convolution geometry k=%dx%d stride=%d pad=%d", kh, kw, stride, pad))
	}
	oh := (h+2*pad-kh)/stride + 1
	ow := (w+2*pad-kw)/stride + 1
	if oh < 1 || ow < 1 {
		panic(fmt.Sprintf("tensor: kernel %dx%d larger than padded input %dx%d", kh, kw, h+2*pad, w+2*pad))
	}
	return ConvGeom{N: n, C: c, H: h, W: w, KH: kh, KW: kw, Stride: stride, Pad: pad, OutH: oh, OutW: ow}
}

// UnaryOp names an elementwise function of one tensor (and a scalar p).
type UnaryOp uint8

// Unary operations; p is the scalar parameter where one is used.
const (
	OpNeg       UnaryOp = iota // −x
	OpExp                      // eˣ
	OpLog                      // ln x
	OpSqrt                     // √x
	OpRsqrt                    // 1/√x
	OpTanh                     // tanh x
	OpSigmoid                  // 1/(1+e⁻ˣ)
	OpSiLU                     // x·sigmoid(x)
	OpReLU                     // max(x, 0)
	OpAbs                      // |x|
	OpSquare                   // x²
	OpSin                      // sin x
	OpCos                      // cos x
	OpRecip                    // 1/x
	OpPowScalar                // xᵖ
	OpAddScalar                // x + p
	OpMulScalar                // x·p
	OpMaxScalar                // max(x, p)
	OpMinScalar                // min(x, p)
	OpStep                     // 1 if x > 0 else 0
	OpSoftplus                 // ln(1 + eˣ), stable
	numUnaryOps
)

var unaryNames = [...]string{"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "silu", "relu", "abs",
	"square", "sin", "cos", "recip", "pow", "add_scalar", "mul_scalar", "max_scalar", "min_scalar", "step", "softplus"}

func (op UnaryOp) String() string { return unaryNames[op] }

// BinaryOp names an elementwise function of two tensors.
type BinaryOp uint8

// Binary operations. The *Grad operations are fused backward rules: the first
// operand is the forward input x (or output y where noted), the second the
// incoming gradient g.
const (
	OpAdd         BinaryOp = iota // a + b
	OpSub                         // a − b
	OpMul                         // a·b
	OpDiv                         // a/b
	OpPow                         // aᵇ
	OpMaximum                     // max(a, b)
	OpMinimum                     // min(a, b)
	OpGreater                     // 1 if a > b else 0
	OpSiLUGrad                    // g·σ(x)(1 + x(1 − σ(x)))
	OpTanhGrad                    // g·(1 − y²), y = tanh x
	OpSigmoidGrad                 // g·y(1 − y), y = σ(x)
	OpReLUGrad                    // g·[x > 0]
	numBinaryOps
)

var binaryNames = [...]string{"add", "sub", "mul", "div", "pow", "maximum", "minimum", "greater",
	"silu_grad", "tanh_grad", "sigmoid_grad", "relu_grad"}

func (op BinaryOp) String() string { return binaryNames[op] }

// ReduceOp names a reduction along one axis.
type ReduceOp uint8

// Reductions.
const (
	ReduceSum       ReduceOp = iota // Σ
	ReduceMax                       // max
	ReduceMin                       // min
	ReduceLogSumExp                 // log Σ exp, computed stably around the max
	ReduceArgMax                    // index of the first maximum, as a float
	numReduceOps
)

var reduceNames = [...]string{"sum", "max", "min", "logsumexp", "argmax"}

func (op ReduceOp) String() string { return reduceNames[op] }

// Activation is the activation fused into a MatMul epilogue.
type Activation uint8

// Activations for MatMul epilogues and nn layers.
const (
	ActNone Activation = iota
	ActReLU
	ActSiLU
	ActTanh
	ActSigmoid
)

var actNames = [...]string{"none", "relu", "silu", "tanh", "sigmoid"}

func (a Activation) String() string { return actNames[a] }

var (
	registryMu sync.Mutex
	registry   = map[string]func() (Backend, error){}
	opened     = map[string]Backend{}
)

// Register makes a backend available by name to Open. Backends register
// themselves from an init function; registering a name twice panics.
func Register(name string, open func() (Backend, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("tensor: backend registered twice: " + name)
	}
	registry[name] = open
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open returns the backend registered under name, starting it on first use.
// The same instance is returned to every caller.
func Open(name string) (Backend, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if b, ok := opened[name]; ok {
		return b, nil
	}
	open, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("unknown device %q (available: %v; a GPU backend needs its package linked in)", name, names)
	}
	b, err := open()
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", name, err)
	}
	opened[name] = b
	return b, nil
}

// EnvDevice is the environment variable that overrides the default device.
const EnvDevice = "DIFFTUNE_DEVICE"

// Default opens the device named by $DIFFTUNE_DEVICE, or the CPU backend.
func Default() (Backend, error) {
	if name := os.Getenv(EnvDevice); name != "" {
		return Open(name)
	}
	return CPU(), nil
}
