// Package cli holds what the training binaries share besides their flags:
// exit statuses (2 for bad input, 1 for failures), the -task pre-scan that
// decides which task's flags exist, -seeds, the default cache, -device and
// the flags of a resumable output directory.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/difftune/difftune/algos"
	"github.com/difftune/difftune/algos/report"
	"github.com/difftune/difftune/tensor"
)

// UsageError is a bad flag or value: one line, exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Main runs a binary's run function on the command line and exits: 0 on
// success, 2 with one line on a UsageError or a report.InputError (bad
// input, found before anything was written), 1 otherwise.
func Main(name string, run func(args []string, stdout, stderr io.Writer) error) {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ue UsageError
	var bad report.InputError
	switch {
	case err == nil:
	case errors.As(err, &ue) || errors.As(err, &bad):
		fmt.Fprintf(os.Stderr, "%s: %v (see %s -h)\n", name, err, name)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// TaskArg is the value of -task in args ("gmm2d" if absent): the flags a
// task takes depend on it, so it is read before the flags are parsed.
func TaskArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "task" {
			if hasVal {
				return val
			}
			if i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return "gmm2d"
}

// SeedList reads -seeds: distinct non-negative integers separated by commas.
func SeedList(arg string) ([]uint64, error) {
	var seeds []uint64
	for f := range strings.SplitSeq(arg, ",") {
		s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil || slices.Contains(seeds, s) {
			return nil, fmt.Errorf("-seeds must be distinct non-negative integers separated by commas, got %q", arg)
		}
		seeds = append(seeds, s)
	}
	return seeds, nil
}

// DefaultCache is the directory of cached models: the user's cache dir.
func DefaultCache() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return dir + "/difftune"
	}
	return ".cache/difftune"
}

// OpenDevice opens the backend asked for; with none asked for, the default
// (cpu, or $DIFFTUNE_DEVICE).
func OpenDevice(name string) (tensor.Backend, error) {
	if name == "" {
		return tensor.Default()
	}
	b, err := tensor.Open(name)
	if err != nil {
		return nil, fmt.Errorf("-device %s: %w", name, err)
	}
	return b, nil
}

// ParseTask parses args with the binary's own flags (register binds them)
// and the flags of the task that -task names (algos.FlagSetter). It returns
// the task with its defaults, or, when *quick is set after parsing, with its
// quick preset and the task flags given applied again (explicit flags win
// over the preset), and the names of the flags given. A flag of another
// task is a UsageError naming that task; -h gives flag.ErrHelp.
func ParseTask(name string, args []string, stderr io.Writer, register func(*flag.FlagSet), quick *bool) (algos.Task, algos.TaskSpec, map[string]bool, error) {
	spec, err := algos.LookupTask(TaskArg(args))
	if err != nil {
		return nil, spec, nil, UsageError{err}
	}
	task := spec.New(false)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	register(fs)
	setTaskFlags(fs, task)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, spec, nil, err
		}
		return nil, spec, nil, UsageError{otherTaskFlag(err, spec.Name)}
	}
	if fs.NArg() > 0 {
		return nil, spec, nil, UsageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		task = spec.New(true)
		qs := flag.NewFlagSet(name, flag.ContinueOnError)
		setTaskFlags(qs, task)
		fs.Visit(func(f *flag.Flag) {
			if qs.Lookup(f.Name) != nil {
				qs.Set(f.Name, f.Value.String())
			}
		})
	}
	return task, spec, set, nil
}

// RunDirFlags are the flags of a binary that resumes a stopped run in its
// output directory (report.OpenRun): -force, -resume and -checkpoint-every.
type RunDirFlags struct {
	Force, Resume   bool
	CheckpointEvery int
}

// Register binds the flags to fs; out names the output directory's flag.
func (f *RunDirFlags) Register(fs *flag.FlagSet, out string) {
	fs.BoolVar(&f.Force, "force", false, "replace a run of another configuration in "+out+" (without it, such a run is refused)")
	fs.BoolVar(&f.Resume, "resume", true, "resume a stopped run of the same configuration in "+out+" from what it finished; false starts it over")
	fs.IntVar(&f.CheckpointEvery, "checkpoint-every", report.DefaultCheckpointEvery, "fine-tuning iterations between two checkpoints of a fit in progress, which a stopped run resumes from")
}

// Check validates the flags as usage errors.
func (f RunDirFlags) Check() error {
	if f.CheckpointEvery < 1 {
		return UsageError{fmt.Errorf("-checkpoint-every must be ≥ 1, got %d", f.CheckpointEvery)}
	}
	return nil
}

// Check validates a task and a plan as usage errors.
func Check(task algos.Task, plan algos.Plan) error {
	if err := task.Validate(); err != nil {
		return UsageError{err}
	}
	if err := plan.Validate(); err != nil {
		return UsageError{err}
	}
	return nil
}

func setTaskFlags(fs *flag.FlagSet, t algos.Task) {
	if fsr, ok := t.(algos.FlagSetter); ok {
		fsr.SetFlags(fs)
	}
}

// otherTaskFlag names the task that owns an undefined flag.
func otherTaskFlag(err error, task string) error {
	_, name, ok := strings.Cut(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	for _, other := range algos.TaskNames() {
		spec, _ := algos.LookupTask(other)
		fs := flag.NewFlagSet(other, flag.ContinueOnError)
		setTaskFlags(fs, spec.New(false))
		if other != task && fs.Lookup(name) != nil {
			return fmt.Errorf("-%s is a flag of -task %s (this is -task %s)", name, other, task)
		}
	}
	return err
}
