// Command bench times the named workloads of package bench on each backend and
// prints a table (workload, backend, median time, GFLOP/s, speed-up over the
// CPU); -json also writes the results.
//
//	bench                              # every workload on every backend that opens
//	bench -run 'matmul|gmm2d' -device cpu,vulkan -json bench.json
//
// With -compare it times each selected workload on the CPU backend and then
// its PyTorch twin (bench/torch/torch_workloads.py NAME, torch_gmm2d_iter.py
// for gmm2d_iter, run as python3 subprocesses with OMP_WAIT_POLICY=PASSIVE and
// as many threads as GOMAXPROCS), alternately, for -rounds rounds, and prints
// the CPU model, which of our CPU kernels ran, the sgemm rate of both sides in
// every round (-sgemm sizes: the machine's limit, measured in the same run)
// and a table of the medians over rounds with the ratio PyTorch's time / ours
// (> 1: we are faster) and the GFLOP/s of each. Workloads without a PyTorch
// twin are listed as such. Without python3 or torch it says how to install
// them and exits with status 2, having run nothing; -python (or $PYTHON)
// names the interpreter, otherwise python3 and then /usr/bin/python3 (Debian's
// python3-torch) are tried.
//
//	GOEXPERIMENT=simd go build -o bin/ ./cmd/bench
//	bin/bench -compare -run 'matmul_1024|gmm2d|transformer|conv2d_c64_16x16_fwdbwd' -json compare.json
//	make compare                       # installs python3-torch when root and missing
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/difftune/difftune/bench"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	filter := fs.String("run", ".", "regular expression selecting workloads")
	devices := fs.String("device", "", "comma-separated backends (default: every registered backend that opens)")
	reps := fs.Int("reps", 7, "timed repetitions per workload (fewer for slow ones, see -budget)")
	budget := fs.Duration("budget", 20*time.Second, "time budget per workload and backend")
	jsonOut := fs.String("json", "", "also write the results to this JSON file")
	compare := fs.Bool("compare", false, "time each workload beside its PyTorch twin (CPU backend only)")
	rounds := fs.Int("rounds", 3, "with -compare: rounds of alternation")
	python := fs.String("python", "", "with -compare: the Python with torch (default $PYTHON, else python3, then /usr/bin/python3)")
	torchDir := fs.String("torch-dir", "", "with -compare: directory of the PyTorch scripts (default bench/torch of the enclosing repository)")
	sgemm := fs.String("sgemm", "1024,2048", "with -compare: matmul sizes timed every round on both sides as the machine's limit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	if *compare {
		if *devices != "" {
			return fmt.Errorf("-compare times the CPU backend only: drop -device")
		}
		sizes, err := parseSizes(*sgemm)
		if err != nil {
			return err
		}
		return runCompare(compareConfig{filter: re, rounds: *rounds, reps: *reps, budget: *budget,
			python: *python, torchDir: *torchDir, sgemm: sizes, jsonOut: *jsonOut}, stdout, stderr)
	}
	var backends []tensor.Backend
	if *devices == "" {
		for _, name := range tensor.Backends() {
			if b, err := tensor.Open(name); err == nil {
				backends = append(backends, b)
			} else {
				fmt.Fprintf(stderr, "skipping %s: %v\n", name, err)
			}
		}
	} else {
		for _, name := range strings.Split(*devices, ",") {
			b, err := tensor.Open(strings.TrimSpace(name))
			if err != nil {
				return err
			}
			backends = append(backends, b)
		}
	}
	fmt.Fprintf(stdout, "%-28s %-8s %12s %10s %10s\n", "workload", "backend", "median", "GFLOP/s", "vs cpu")
	var results []bench.Result
	for _, w := range bench.Workloads() {
		if !re.MatchString(w.Name) {
			continue
		}
		cpu := 0.0
		for _, b := range backends {
			r := bench.Time(w, b, *reps, *budget)
			if b.Name() == "cpu" {
				cpu = r.Median
			}
			if cpu > 0 {
				r.VsCPU = cpu / r.Median
			}
			results = append(results, r)
			fmt.Fprintf(stdout, "%-28s %-8s %12s %10.1f %10s\n", r.Workload, r.Backend, time.Duration(r.Median*1e9).Round(time.Microsecond),
				r.GFLOPS, map[bool]string{true: fmt.Sprintf("%.2f×", r.VsCPU), false: "-"}[r.VsCPU > 0])
		}
	}
	if *jsonOut != "" {
		out, err := json.MarshalIndent(struct {
			Kernels string         `json:"cpu_kernels"`
			Results []bench.Result `json:"results"`
		}{tensor.CPUKernels(), results}, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteBytes(*jsonOut, append(out, '\n'))
	}
	return nil
}
