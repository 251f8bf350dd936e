package algos

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// Reward models with uncertainty for online fine-tuning (ALGORITHMS.md §2):
// an MLP regressor whose last hidden layer gives features φ, the Gram-matrix
// UCB bonus over those features, and an ensemble of bootstrap heads (its
// max as the optimistic reward, one head drawn at random as a Thompson
// sample).

// RegressorOptions set the reward model of online fine-tuning: an MLP
// x → Width → Features (SiLU after both: φ) → 1, fit to standardized y by
// Iters full-batch Adam steps at LR on the squared error plus
// WeightDecay·‖W‖² of its hidden weights; then its last layer is refit
// exactly by regularized least squares on [φ, 1] with ridge Lambda, which
// is also the λ of the UCB Gram matrix.
type RegressorOptions struct {
	Width, Features int
	Iters           int
	LR              float64
	WeightDecay     float64
	Lambda          float64
}

func (o RegressorOptions) validate() error {
	if o.Width < 1 || o.Features < 1 || o.Iters < 0 || !finitePositive(o.LR) || !(o.WeightDecay >= 0) || !finitePositive(o.Lambda) {
		return fmt.Errorf("the reward model needs width and features ≥ 1, iters ≥ 0, a finite lr > 0, weight decay ≥ 0 and λ > 0, got %+v", o)
	}
	return nil
}

// Regressor is a fitted reward model r̂(x) = μ + s·(φ(x)·w + b).
type Regressor struct {
	Body *nn.MLP // x → Width → Features; φ = SiLU of its output
	// Head is w then b, in standardized units of y.
	Head    []float64
	Mu, Sd  float64
	spec    string
	backend tensor.Backend
}

// FitRegressor fits a Regressor to rows of x (dim values each) and y.
func FitRegressor(b tensor.Backend, x []float64, dim int, y []float64, o RegressorOptions, seed uint64) (*Regressor, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	n := len(y)
	if n < 2 || len(x) != n*dim {
		return nil, fmt.Errorf("reward model: %d answers for %d values of dimension %d", n, len(x), dim)
	}
	mu, sd := Mean(y), Stddev(y)
	if !(sd > 0) {
		sd = 1
	}
	ys := make([]float64, n)
	for i, v := range y {
		ys[i] = (v - mu) / sd
	}
	init := &nn.Init{Backend: b, DType: tensor.Float32, Seed: seed}
	r := &Regressor{Body: nn.NewMLP(init, tensor.ActSiLU, dim, o.Width, o.Features), Mu: mu, Sd: sd, backend: b,
		spec: fmt.Sprintf("mlp %d→%d→%d→1 on %d answers", dim, o.Width, o.Features, n)}
	head := nn.NewLinear(init, o.Features, 1)
	xt := autograd.Const(tensor.FromFloat64As(b, tensor.Float32, x, n, dim))
	yt := autograd.Const(tensor.FromFloat64As(b, tensor.Float32, ys, n, 1))
	params := append(nn.Vars(r.Body), nn.Vars(head)...)
	opt := nn.NewAdam(params, nn.CosineLR(o.LR, o.LR/10, o.Iters, 0))
	for it := range o.Iters {
		loss := autograd.MeanAll(autograd.Square(autograd.Sub(head.Forward(r.Features(xt), tensor.ActNone), yt)))
		if o.WeightDecay > 0 {
			for _, l := range r.Body.Layers {
				loss = autograd.Add(loss, autograd.Scale(autograd.SumAll(autograd.Square(l.W)), o.WeightDecay))
			}
		}
		if l := loss.Value.Item(); !Number(l).Finite() {
			return nil, fmt.Errorf("reward model: loss is %v at step %d", l, it)
		}
		loss.Backward()
		opt.Step()
	}
	nn.SetTrainable(r.Body, false)
	// The last layer by regularized least squares on [φ, 1].
	var phi []float64
	autograd.NoGrad(func() { phi = r.Features(xt).Value.Float64s() })
	f := o.Features
	aug := make([]float64, n*(f+1))
	for i := range n {
		copy(aug[i*(f+1):], phi[i*f:(i+1)*f])
		aug[i*(f+1)+f] = 1
	}
	w, err := RidgeSolve(aug, ys, f+1, o.Lambda)
	if err != nil {
		return nil, fmt.Errorf("reward model: %w", err)
	}
	r.Head = w
	return r, nil
}

// Features returns φ(x) [n, Features], differentiable in x.
func (r *Regressor) Features(x *autograd.Var) *autograd.Var {
	return autograd.SiLU(r.Body.Forward(x))
}

// FeatureValues returns φ of every row of x (dim values each), flat.
func (r *Regressor) FeatureValues(x []float64, dim int) []float64 {
	var out []float64
	autograd.NoGrad(func() {
		out = r.Features(autograd.Const(tensor.FromFloat64As(r.backend, tensor.Float32, x, len(x)/dim, dim))).Value.Float64s()
	})
	return out
}

// Eval implements Reward.
func (r *Regressor) Eval(x *autograd.Var) *autograd.Var {
	phi := r.Features(x)
	f := len(r.Head) - 1
	w := make([]float64, f)
	for i := range w {
		w[i] = r.Sd * r.Head[i]
	}
	b := r.Mu + r.Sd*r.Head[f]
	out := autograd.Linear(phi, autograd.Const(tensor.FromFloat64As(r.backend, tensor.Float32, w, f, 1)),
		autograd.Const(tensor.FromFloat64As(r.backend, tensor.Float32, []float64{b}, 1)), tensor.ActNone)
	return autograd.Reshape(out, x.Value.Dim(0))
}

// Values implements Reward.
func (r *Regressor) Values(x []float64) []float64 {
	return RewardValues(r, r.backend, tensor.Float32, x, r.Body.Layers[0].In())
}

// String implements Reward.
func (r *Regressor) String() string { return r.spec }

// RidgeSolve returns argmin_w ‖Aw − y‖² + λ‖w‖² for A with rows of f
// values, by a Cholesky factorization of AᵀA + λI.
func RidgeSolve(a, y []float64, f int, lambda float64) ([]float64, error) {
	g := NewGram(f, lambda)
	rhs := make([]float64, f)
	for i := range y {
		row := a[i*f : (i+1)*f]
		g.Add(row)
		for k, v := range row {
			rhs[k] += v * y[i]
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(g.A) {
		return nil, fmt.Errorf("the regularized Gram matrix is not positive definite")
	}
	var w mat.VecDense
	if err := ch.SolveVecTo(&w, mat.NewVecDense(f, rhs)); err != nil {
		return nil, err
	}
	return w.RawVector().Data, nil
}

// Gram is Σ = Σ_j φ_jφ_jᵀ + λI, grown by rank-one updates (ALGORITHMS.md
// §2, UCB).
type Gram struct {
	A *mat.SymDense
	N int
}

// NewGram returns λI of size f.
func NewGram(f int, lambda float64) *Gram {
	a := mat.NewSymDense(f, nil)
	for i := range f {
		a.SetSym(i, i, lambda)
	}
	return &Gram{A: a}
}

// Add adds φφᵀ.
func (g *Gram) Add(phi []float64) {
	g.A.SymRankOne(g.A, 1, mat.NewVecDense(len(phi), phi))
	g.N++
}

// Inverse returns Σ⁻¹ (row-major, f × f) by its Cholesky factorization.
func (g *Gram) Inverse() ([]float64, error) {
	var ch mat.Cholesky
	if !ch.Factorize(g.A) {
		return nil, fmt.Errorf("the Gram matrix is not positive definite")
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, err
	}
	f := g.A.SymmetricDim()
	out := make([]float64, f*f)
	for i := range f {
		for j := range f {
			out[i*f+j] = inv.At(i, j)
		}
	}
	return out, nil
}

// Width returns √(φᵀΣ⁻¹φ).
func (g *Gram) Width(phi []float64) (float64, error) {
	var ch mat.Cholesky
	if !ch.Factorize(g.A) {
		return 0, fmt.Errorf("the Gram matrix is not positive definite")
	}
	var z mat.VecDense
	v := mat.NewVecDense(len(phi), phi)
	if err := ch.SolveVecTo(&z, v); err != nil {
		return 0, err
	}
	return math.Sqrt(mat.Dot(v, &z)), nil
}

// UCBBonus is ĝ(x) = C1·min(C2, √(φ(x)ᵀΣ⁻¹φ(x))) for a fixed Σ⁻¹.
type UCBBonus struct {
	Phi    func(x *autograd.Var) *autograd.Var
	Inv    []float64 // Σ⁻¹, f × f
	C1, C2 float64
	Dim    int
	B      tensor.Backend
}

// NewUCBBonus builds the bonus of features phi over the data's features
// (rows of f values) with ridge λ.
func NewUCBBonus(b tensor.Backend, dim int, phi func(*autograd.Var) *autograd.Var, data []float64, f int, lambda, c1, c2 float64) (*UCBBonus, error) {
	g := NewGram(f, lambda)
	for i := 0; i+f <= len(data); i += f {
		g.Add(data[i : i+f])
	}
	inv, err := g.Inverse()
	if err != nil {
		return nil, err
	}
	return &UCBBonus{Phi: phi, Inv: inv, C1: c1, C2: c2, Dim: dim, B: b}, nil
}

// Eval implements Reward.
func (u *UCBBonus) Eval(x *autograd.Var) *autograd.Var {
	phi := u.Phi(x)
	f := phi.Value.Dim(1)
	inv := autograd.Const(tensor.FromFloat64As(u.B, tensor.Float32, u.Inv, f, f))
	q := autograd.Sum(autograd.Mul(autograd.MatMul(phi, inv), phi), 1, false)
	q = autograd.Clamp(q, 0, u.C2*u.C2)
	return autograd.Scale(autograd.Sqrt(autograd.Shift(q, 1e-12)), u.C1)
}

// Values implements Reward.
func (u *UCBBonus) Values(x []float64) []float64 {
	return RewardValues(u, u.B, tensor.Float32, x, u.Dim)
}

// String implements Reward.
func (u *UCBBonus) String() string {
	return fmt.Sprintf("UCB bonus %g·min(%g, √(φᵀΣ⁻¹φ))", u.C1, u.C2)
}

// SumReward is the sum of rewards (r̂ + ĝ).
type SumReward []Reward

// Eval implements Reward.
func (s SumReward) Eval(x *autograd.Var) *autograd.Var {
	out := s[0].Eval(x)
	for _, r := range s[1:] {
		out = autograd.Add(out, r.Eval(x))
	}
	return out
}

// Values implements Reward.
func (s SumReward) Values(x []float64) []float64 {
	out := s[0].Values(x)
	for _, r := range s[1:] {
		for i, v := range r.Values(x) {
			out[i] += v
		}
	}
	return out
}

// String implements Reward.
func (s SumReward) String() string {
	out := s[0].String()
	for _, r := range s[1:] {
		out += " + " + r.String()
	}
	return out
}

// Ensemble is M reward heads, each fit on a bootstrap resample of the
// data. As a Reward it is the optimistic max_m r̂_m (Bootstrap).
type Ensemble struct {
	Heads []*Regressor
	Dim   int
	B     tensor.Backend
}

// FitEnsemble fits m heads, head k on a resample of the n answers drawn
// with replacement by a stream of (seed, k).
func FitEnsemble(b tensor.Backend, x []float64, dim int, y []float64, m int, o RegressorOptions, seed uint64) (*Ensemble, error) {
	if m < 1 {
		return nil, fmt.Errorf("an ensemble needs ≥ 1 head, got %d", m)
	}
	n := len(y)
	e := &Ensemble{Dim: dim, B: b}
	for k := range m {
		rng := rand.New(rand.NewPCG(seed, uint64(k)))
		xs, ys := make([]float64, 0, len(x)), make([]float64, n)
		for i := range n {
			j := rng.IntN(n)
			xs = append(xs, x[j*dim:(j+1)*dim]...)
			ys[i] = y[j]
		}
		h, err := FitRegressor(b, xs, dim, ys, o, seed^uint64(0x9e37*(k+1)))
		if err != nil {
			return nil, fmt.Errorf("head %d: %w", k, err)
		}
		e.Heads = append(e.Heads, h)
	}
	return e, nil
}

// stack is [n, M]: every head's reward.
func (e *Ensemble) stack(x *autograd.Var) *autograd.Var {
	n := x.Value.Dim(0)
	cols := make([]*autograd.Var, len(e.Heads))
	for k, h := range e.Heads {
		cols[k] = autograd.Reshape(h.Eval(x), n, 1)
	}
	if len(cols) == 1 {
		return cols[0]
	}
	return autograd.Concat(1, cols...)
}

// Eval implements Reward: max over heads.
func (e *Ensemble) Eval(x *autograd.Var) *autograd.Var { return autograd.Max(e.stack(x), 1, false) }

// Values implements Reward.
func (e *Ensemble) Values(x []float64) []float64 {
	return RewardValues(e, e.B, tensor.Float32, x, e.Dim)
}

// String implements Reward.
func (e *Ensemble) String() string { return fmt.Sprintf("max of %d bootstrap heads", len(e.Heads)) }

// MeanValues is the ensemble mean (1/M)Σ_m r̂_m of every row of x.
func (e *Ensemble) MeanValues(x []float64) []float64 {
	out := make([]float64, len(x)/e.Dim)
	for _, h := range e.Heads {
		for i, v := range h.Values(x) {
			out[i] += v / float64(len(e.Heads))
		}
	}
	return out
}

// StdValues is the ensemble's standard deviation over heads of every row
// of x: its uncertainty ĝ.
func (e *Ensemble) StdValues(x []float64) []float64 {
	n, m := len(x)/e.Dim, len(e.Heads)
	vals := make([][]float64, m)
	for k, h := range e.Heads {
		vals[k] = h.Values(x)
	}
	out := make([]float64, n)
	col := make([]float64, m)
	for i := range n {
		for k := range m {
			col[k] = vals[k][i]
		}
		out[i] = Stddev(col)
	}
	return out
}

// Draw is a Thompson sample of the ensemble: one head drawn uniformly by a
// stream of (seed, round).
func (e *Ensemble) Draw(seed uint64, round int) (int, *Regressor) {
	k := rand.New(rand.NewPCG(seed, 0x75+uint64(round))).IntN(len(e.Heads))
	return k, e.Heads[k]
}
