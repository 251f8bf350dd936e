package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/tensor"
)

// Options is one invocation of a training binary: a task, a plan, where to
// run and where to write.
type Options struct {
	Task    algos.Task
	Plan    algos.Plan
	Backend tensor.Backend
	// Cache is the directory of cached models ("" for none).
	Cache string
	// Out is the run directory; with Seeds, the parent of one directory
	// per seed.
	Out string
	// Seeds, if set, runs the plan once per seed into Out/seed<N>/ (reusing
	// the seeds that finished) and aggregates them in Out.
	Seeds []uint64
	// Force replaces a run of another configuration in Out (without it,
	// such a run is refused). A stopped run of the same configuration is
	// resumed, reusing its finished runs, unless Restart starts it over.
	Force, Restart bool
	// MaxMemory is the most bytes a run may expect to hold (0: 80 % of the
	// physical memory, when it can be read).
	MaxMemory float64
	// CheckpointEvery is the number of fine-tuning iterations between two
	// checkpoints of a fit in progress (0: DefaultCheckpointEvery); a
	// stopped run resumes from the last one.
	CheckpointEvery int
	Stdout, Stderr  io.Writer
	// Observe, if its hooks are set, also watches the run: Log receives
	// every logged event after the run directory has, Snapshots,
	// Trajectories, Pretrained and Target are passed on (a viewer; algos.Hooks). It must not change
	// what it is given.
	Observe algos.Hooks
	// SeedStarts, if set, is called before the run of each seed of Seeds
	// (a viewer files its frames by seed).
	SeedStarts func(seed uint64)
}

// Config is what config.json records of a run, besides the device and the
// start time.
type Config struct {
	Task       string     `json:"task"`
	TaskConfig any        `json:"task_config"`
	Plan       algos.Plan `json:"plan"`
}

func (o Options) config() Config {
	return Config{Task: o.Task.Name(), TaskConfig: o.Task.Config(), Plan: o.Plan}
}

// InputError is a bad setting or input file, found before anything was
// written: a binary exits with status 2 on it.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// Check validates everything a run needs before its directory is opened: the
// task's settings and data files, the plan, the cache directory.
func (o Options) Check() error {
	if err := o.Task.Validate(); err != nil {
		return InputError{err}
	}
	if err := o.Plan.Validate(); err != nil {
		return InputError{err}
	}
	if l, ok := o.Task.(algos.Loader); ok {
		if err := l.Load(); err != nil {
			return InputError{err}
		}
	}
	if o.Cache != "" {
		if st, err := os.Stat(o.Cache); err == nil && !st.IsDir() {
			return InputError{fmt.Errorf("-cache %s is a file, not a directory", o.Cache)}
		}
	}
	if o.Out == "" {
		return InputError{errors.New("no output directory")}
	}
	if st, err := os.Stat(o.Out); err == nil && !st.IsDir() {
		return InputError{fmt.Errorf("output directory %s is a file", o.Out)}
	}
	return o.checkMemory()
}

// checkMemory refuses a plan whose fine-tuning rollout or samples cannot
// fit in memory, by the task's estimate.
func (o Options) checkMemory() error {
	rs, ok := o.Task.(algos.RolloutSizer)
	if !ok {
		return nil
	}
	limit, from := o.MaxMemory, "-max-memory"
	if limit <= 0 {
		total := physicalMemory()
		if total <= 0 {
			return nil
		}
		limit, from = 0.8*total, "80% of the physical memory"
	}
	r := o.Plan.Recipe
	batch := max(r.Drift.Batch, r.PPO.Batch, r.Initial.Batch, r.Guidance.Batch)
	if need := rs.RolloutBytes(batch); need > limit {
		return InputError{fmt.Errorf("a fine-tuning rollout of batch %d needs about %s (batch × steps × activations kept for the pathwise gradient × 4 bytes), more than %s (%s): lower -batch or -steps",
			batch, bytesString(need), bytesString(limit), from)}
	}
	runs := len(o.Plan.Methods) * max(len(o.Plan.Alphas), 1)
	// Every run's evaluation samples are kept for the report; the
	// pre-trained model's target samples several times over (r̂, y,
	// weights).
	need := float64(4*o.Plan.TargetSamples+(runs+2)*o.Plan.EvalSamples) * float64(rs.SampleDim()) * 8
	if need > limit {
		return InputError{fmt.Errorf("%d evaluation samples (%d for the targets) of %d runs need about %s, more than %s (%s): lower -eval-samples",
			o.Plan.EvalSamples, o.Plan.TargetSamples, runs, bytesString(need), bytesString(limit), from)}
	}
	return nil
}

// physicalMemory reads MemTotal from /proc/meminfo, in bytes (0 if it
// cannot).
func physicalMemory() float64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%g kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func bytesString(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", b/(1<<10))
}

// Execute checks the options, runs the plan and writes everything into the
// run directory, printing the table of runs. Bad input is an InputError,
// returned before anything is written.
func Execute(o Options) error {
	if err := o.Check(); err != nil {
		return err
	}
	release, err := Hold(o.Out, o.Stderr)
	if err != nil {
		return err
	}
	defer release()
	if len(o.Seeds) > 0 {
		return executeSeeds(o)
	}
	_, err = executeOnce(o)
	return err
}

// executeOnce runs the plan once into o.Out (locked by the caller): a fresh
// run, or the resume of a stopped run of the same configuration, which
// reuses the runs it finished.
func executeOnce(o Options) (*algos.Result, error) {
	bars := newProgress(o.Stderr)
	d, resumed, err := OpenRun(o.Out, o.config(), o.Backend.Name(), o.Force, o.Restart, bars.Notice, "")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if resumed {
		bars.Notice(fmt.Sprintf("resuming the run of the same configuration in %s: its finished runs are reused, metrics.jsonl is appended to (-resume=false starts over)", o.Out))
	}
	store := &runStore{d: d, task: o.Task, notice: bars.Notice, every: o.CheckpointEvery}
	hooks := algos.Hooks{Log: store.log, Progress: bars.Update, Notice: bars.Notice,
		Snapshots: o.Observe.Snapshots, Trajectories: o.Observe.Trajectories, Pretrained: o.Observe.Pretrained, Target: o.Observe.Target}
	if watch := o.Observe.Log; watch != nil {
		hooks.Log = func(e algos.Event) {
			store.log(e)
			watch(e)
		}
	}
	env := algos.Env{Backend: o.Backend, Cache: o.Cache, Runs: store, Checkpoints: store, Hooks: hooks}
	res, err := algos.Run(env, o.Task, o.Plan)
	bars.Done()
	if resumed {
		if merr := markResumed(o.Out, store.reused, store.fitted); merr != nil && err == nil {
			err = merr
		}
	}
	if err != nil {
		return nil, err
	}
	if err := WriteResult(d, res); err != nil {
		return nil, err
	}
	s := res.Summary
	fmt.Fprintf(o.Stdout, "%s  r̂ %s  α = %g  β_max = %g\n", s.Task, s.Reward, s.Alpha, s.BetaMax)
	e := s.Exact
	data := ""
	if e.Reward.Finite() {
		data = fmt.Sprintf("data E*[r̂] = %s  KL(p*‖p_data) = %s   ", Num(e.Reward), Num(e.KL))
	}
	fmt.Fprintf(o.Stdout, "target at α = %g: %spre-trained model's: E[r̂] = %s  KL = %s (ESS %.0f)\n",
		s.Alpha, data, Num(e.PretrainedTarget), Num(e.PretrainedTargetKL), float64(e.ESS))
	fmt.Fprint(o.Stdout, Table(s, o.Task.Columns()))
	fmt.Fprint(o.Stdout, Events(s))
	fmt.Fprintf(o.Stdout, "wrote %s/{config.json,metrics.jsonl,summary.json,results.md,samples_*,*.png,checkpoints/}\n", strings.TrimRight(o.Out, "/"))
	return res, nil
}

// executeSeeds runs the plan once per seed, each into Out/seed<N>/ with its
// own outputs, then writes Out/summary.json and Out/results.md: every number
// as mean ± standard deviation over the seeds. The seed sets fine-tuning and
// evaluation; the task's models keep their own seeds, so the spread is that
// of the methods, not of the models.
func executeSeeds(o Options) error {
	var sums []algos.Summary
	for _, seed := range o.Seeds {
		one := o
		one.Seeds, one.Plan.Seed, one.Out = nil, seed, filepath.Join(o.Out, fmt.Sprintf("seed%d", seed))
		sum, err := Finished(one.Out, one.config(), o.Backend.Name())
		switch {
		case err != nil:
			return fmt.Errorf("seed %d: %w", seed, err)
		case sum != nil:
			fmt.Fprintf(o.Stdout, "== seed %d: reusing the finished run in %s\n", seed, one.Out)
		default:
			fmt.Fprintf(o.Stdout, "== seed %d → %s\n", seed, one.Out)
			if o.SeedStarts != nil {
				o.SeedStarts(seed)
			}
			res, err := executeOnce(one)
			if err != nil {
				return fmt.Errorf("seed %d: %w", seed, err)
			}
			sum = &res.Summary
		}
		sums = append(sums, *sum)
		if len(o.Plan.Alphas) == 0 {
			// A grid from r̂'s spread comes from the first seed's samples:
			// every seed then runs the same α.
			for _, t := range sum.Targets {
				o.Plan.Alphas = append(o.Plan.Alphas, t.Alpha)
			}
		}
	}
	cols := o.Task.Columns()
	agg := Aggregate(o.Seeds, sums, cols)
	table := SeedsTable(agg, cols)
	setting := fmt.Sprintf("Task %s; every run evaluated on %d samples.", agg.Task, o.Plan.EvalSamples)
	if err := WriteText(filepath.Join(o.Out, "results.md"), SeedsMarkdown(agg, cols, setting)); err != nil {
		return err
	}
	if err := WriteJSON(filepath.Join(o.Out, "summary.json"), agg); err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "\nover seeds %v (mean ± sd):\n%s", o.Seeds, table)
	fmt.Fprintf(o.Stdout, "wrote %s/{summary.json,results.md} and one directory per seed\n", strings.TrimRight(o.Out, "/"))
	return nil
}

// Hold locks the run directory dir for this process (LockDir, with its
// notices on stderr) and, until release is called, makes SIGINT and SIGTERM
// stop the process cleanly (onInterrupt). Every binary that writes a run
// directory holds it so.
func Hold(dir string, stderr io.Writer) (release func(), err error) {
	lock, err := LockDir(dir, func(msg string) { fmt.Fprintln(stderr, msg) })
	if err != nil {
		return nil, err
	}
	stop := onInterrupt(lock, dir, stderr)
	return func() {
		stop()
		lock.Unlock()
	}, nil
}

// onInterrupt makes SIGINT and SIGTERM stop the run cleanly until the
// returned function is called: the lock is released, one line says how to
// resume, and the process exits with status 128 + the signal's number (130,
// 143). Every file of the run directory is replaced atomically and
// metrics.jsonl is appended to line by line, so what the run leaves is what
// a resume continues from: its finished runs and the last checkpoint of the
// fit it was in.
func onInterrupt(lock *Lock, out string, stderr io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			lock.Unlock()
			code := 1
			if n, ok := sig.(syscall.Signal); ok {
				code = 128 + int(n)
			}
			fmt.Fprintf(stderr, "\n%s: interrupted (%v): stopped; the same command resumes the run in %s\n", filepath.Base(os.Args[0]), sig, out)
			os.Exit(code)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
