package algos

import (
	"flag"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/tensor"
)

// Env is what a task and a method work with: the backend, the directory of
// cached models ("" for none) and the hooks that hear what they do.
type Env struct {
	Backend tensor.Backend
	Cache   string
	Hooks   Hooks
	// Seed is the run's seed (fine-tuning and evaluation); the models a task
	// pre-trains keep their own seeds, so that the cache serves every run.
	Seed uint64
	// Runs, if set, keeps every finished run and hands back those an
	// earlier, stopped invocation finished: the runner reuses them instead of
	// fitting them again.
	Runs RunStore
	// Checkpoints, if set, keeps the state of a fit every few iterations
	// and at its phase boundaries, and hands back the one a stopped
	// invocation left: the pathwise fits resume from it, to the same bits.
	// nil: none.
	Checkpoints Checkpointer
}

// RunStore persists finished runs (package algos/report keeps them in the
// run directory).
type RunStore interface {
	// Load returns the saved run, false if there is none (or it is
	// unusable).
	Load(run RunInfo) (SavedRun, bool)
	// Save keeps a finished run, with its fit's networks.
	Save(run RunInfo, saved SavedRun, fit *Fitted) error
}

// SavedRun is what the report needs of a finished run: its evaluation (before
// the comparison with the target, which the runner recomputes), its
// evaluation samples and its training curve.
type SavedRun struct {
	Summary MethodSummary
	Samples []float64
	Curve   []CurvePoint
}

// RolloutSizer is a task that can estimate the memory of a run before any
// work: of a fine-tuning rollout of batch samples (Diffusion implements
// it), and the dimension of its samples.
type RolloutSizer interface {
	RolloutBytes(batch int) float64
	SampleDim() int
}

// Task is a fine-tuning problem (docs/ALGORITHMS.md §5). The runner calls
// Setup once, then Pretrain, then everything else.
type Task interface {
	// Name is the task's registered name.
	Name() string
	// Validate reports settings that cannot run, before any work.
	Validate() error
	// Config is the task's own settings, as recorded in config.json.
	Config() any
	// Setup loads the data and fits what the nominal reward needs (cached).
	Setup(env Env) error
	// Pretrain returns the pre-trained diffusion model, from the cache or
	// trained by denoising score matching.
	Pretrain(env Env) (*Pretrained, error)
	// Nominal is r̂, the differentiable reward that methods optimize.
	Nominal() Reward
	// Oracle is the genuine reward.
	Oracle() *Oracle
	// Data returns batches of training data (seeded), for methods that fit
	// their own networks on it (guidance's regressor).
	Data(b tensor.Backend, seed uint64) DataSampler
	// Defaults is the task's default plan: its comparison's methods, the
	// seed, the evaluation sizes and the methods' settings measured to work
	// on it (its quick preset's, if it was made quick).
	Defaults() Plan
	// NewControl builds the control network u_φ of a run whose KL weight is
	// alpha (0: none); nil gives the default, an MLP shaped like ε_θ.
	NewControl(alpha float64) func(init *nn.Init, dim int) Net
	// Alphas is the default α grid, given the spread (standard deviation)
	// of r̂ on the pre-trained model's samples.
	Alphas(spread float64) []float64
	// Evaluate computes every metric of samples x (rows) with per-sample KL
	// estimates kl (nil: zero, the pre-trained model), for a run at alpha.
	Evaluate(x, kl []float64, alpha float64) MethodSummary
	// Monitor computes numbers of a training batch for the log (nil: none).
	Monitor(x []float64) map[string]Number
	// Columns are the metrics of the task's results table, in order.
	Columns() []Column
}

// Column is a metric of a results table: its key (MethodSummary.Metric) and
// its title.
type Column struct{ Key, Title string }

// ExactTargeter is a task that knows the target p* ∝ exp(r̂/α)·p_data
// exactly (closed form, or enumeration of the data): it fills Exact's Reward,
// KL and Genuine.
type ExactTargeter interface {
	ExactTarget(alpha float64) (Exact, error)
}

// ExactSampler is a task that can draw exact samples of its target at α.
type ExactSampler interface {
	ExactSamples(alpha float64, n int) []float64
}

// Describer is a task that reports more than its runs: Details receives the
// pre-trained model's samples and returns what Summary.Details holds.
type Describer interface {
	Details(pre []float64) map[string]any
}

// Loader is a task that reads its data files before any work: Load fails
// on a missing or malformed file before a run directory is opened.
type Loader interface {
	Load() error
}

// FlagSetter is a task with its own command-line flags, bound to its
// settings.
type FlagSetter interface {
	SetFlags(fs *flag.FlagSet)
}

// TaskSpec registers a task.
type TaskSpec struct {
	Name, Doc string
	// New returns the task with its defaults; quick selects its small
	// preset for smoke tests.
	New func(quick bool) Task
}

var taskRegistry = newRegistry[TaskSpec]("task")

// RegisterTask makes a task available by name. It panics on a duplicate.
func RegisterTask(s TaskSpec) { taskRegistry.add(s.Name, s) }

// LookupTask returns a registered task.
func LookupTask(name string) (TaskSpec, error) { return taskRegistry.lookup(name) }

// TaskNames lists the registered tasks in alphabetical order.
func TaskNames() []string { return taskRegistry.names() }
