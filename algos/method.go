package algos

import (
	"time"

	"github.com/difftune/difftune/nn"
)

// Method fits a sampler on a pre-trained model of a task.
type Method interface {
	Fit(ctx *Context) (*Fitted, error)
}

// Context is what a fit works with: the task, its pre-trained model and the
// run's α and target. One place holds α: here.
type Context struct {
	Env
	Task Task
	Pre  *Pretrained
	// Run is the run's name, Method the method's.
	Run, Method string
	// Alpha is the KL weight of the run; Target the tilted target at it.
	Alpha  float64
	Target Exact
	// Spread is the standard deviation of r̂ on the pre-trained model's
	// samples: the scale of the reward.
	Spread float64
	// Seed seeds the fit's networks and noise.
	Seed uint64
	// Round is the round of an online method's fit in progress (SEIKO's,
	// from 1), stamped on the events it logs; 0 outside rounds.
	Round int
	start time.Time
}

// Log sends a step of the fit to the hooks, stamped with the run and the
// time since the fit started, and reports its progress out of total.
func (c *Context) Log(e Event, total int) {
	e.Method = c.Method
	if c.Run != c.Method {
		e.Run = c.Run
	}
	e.Elapsed = time.Since(c.start).Seconds()
	if c.Round > 0 {
		e.Round = c.Round
	}
	c.Hooks.Emit(e)
	if total > 0 {
		c.Hooks.Tick(c.Run+" "+e.Phase, e.Iter+1, total)
	}
}

// Tick reports progress of a phase of the fit without logging a step.
func (c *Context) Tick(phase string, done, total int) { c.Hooks.Tick(c.Run+" "+phase, done, total) }

// Fitted is the outcome of a fit.
type Fitted struct {
	Sampler Sampler
	// Modules are the trained networks, checkpointed by name.
	Modules map[string]nn.Module
	// DivergedAt is the iteration at which the loss stopped being finite (−1
	// if it never did); the sampler then holds the last finite parameters.
	DivergedAt int
	// Setting describes knobs the method resolved from the context (PPO's β).
	Setting string
	// QueryCurve is an online method's curve of (queries spent, mean genuine
	// reward of the model after them), from the pre-trained model at 0.
	QueryCurve []QueryPoint
}

// QueryPoint is one point of a QueryCurve.
type QueryPoint struct {
	Queries int
	Genuine float64
}

// MethodSpec registers a method.
type MethodSpec struct {
	Name, Doc string
	// Sweep methods run at every α of a plan; the others at the first.
	Sweep bool
	// Tilted methods aim at p_α: their gain in r̂ and their KL are compared
	// with the target's.
	Tilted bool
	// Unregularized methods pay no KL: their runs have no α.
	Unregularized bool
	// New returns the method configured from a task's recipe.
	New func(r Recipe) Method
}

var methodRegistry = newRegistry[MethodSpec]("method")

// RegisterMethod makes a method available by name. It panics on a duplicate.
func RegisterMethod(s MethodSpec) { methodRegistry.add(s.Name, s) }

// LookupMethod returns a registered method.
func LookupMethod(name string) (MethodSpec, error) { return methodRegistry.lookup(name) }

// MethodNames lists the registered methods in alphabetical order.
func MethodNames() []string { return methodRegistry.names() }

// Recipe holds a task's settings of the methods, each method reading the
// parts it uses: the pathwise drift (ELEGANT's step 3 and the baselines
// without KL), ELEGANT's steps 1 and 2, and the baselines' own knobs.
type Recipe struct {
	Drift   DriftOptions
	Value   ValueOptions
	Initial InitialOptions
	// BaselineIters > 0 trains NO KL, Truncation and Random that many
	// iterations instead of Drift.Iters (they leave the support early).
	BaselineIters int
	// TruncK is Truncation's number of last steps that gradients flow
	// through (DRaFT-K).
	TruncK   int
	Guidance GuidanceOptions
	PPO      PPOOptions
	// SEIKO configures the online methods (seiko-*).
	SEIKO SEIKOOptions
	// RCGDM configures reward-directed guided sampling (rcgdm).
	RCGDM RCGDMOptions
	// Bilevel configures the bilevel tuner of the entropy strength.
	Bilevel BilevelOptions
}
