// Package cli holds what the training binaries share besides their flags:
// exit statuses (2 for bad input, 1 for failures), the -task pre-scan that
// decides which task's flags exist, -seeds, the default cache and -device.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

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
