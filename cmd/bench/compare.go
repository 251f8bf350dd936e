package main

// bench -compare: each CPU workload beside its PyTorch twin (bench/torch),
// alternately, for several rounds.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/difftune/difftune/bench"
	"github.com/difftune/difftune/nn/atomicfile"
	"github.com/difftune/difftune/tensor"
)

// installHint is how a Debian machine gets PyTorch with OpenBLAS.
const installHint = "apt-get install python3-torch libopenblas0-pthread"

// compareConfig holds the flags of bench -compare.
type compareConfig struct {
	filter   *regexp.Regexp
	rounds   int
	reps     int
	budget   time.Duration
	python   string // explicit interpreter ("" = python3, then /usr/bin/python3)
	torchDir string // directory of the PyTorch scripts ("" = bench/torch above the working directory)
	sgemm    []int  // matmul_<n> sizes timed every round as the machine's limit
	jsonOut  string
}

// torchInfo is what the probe learns about the PyTorch installation.
type torchInfo struct {
	Python    string   `json:"python"`
	Version   string   `json:"torch"`
	BLAS      string   `json:"blas"` // the BLAS library loaded
	Threads   int      `json:"threads"`
	Workloads []string `json:"workloads"` // the names torch_workloads.py knows
}

// probeScript imports torch and torch_workloads.py (from the directory in
// argv[1]) and prints the version, the BLAS library its matrix products load
// (from /proc/self/maps; Debian's torch reports BLAS_INFO=generic, the
// libblas.so.3 alternative, OpenBLAS with libopenblas0-pthread), the threads
// and the workload names.
const probeScript = `import os, sys, json, re
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, sys.argv[1])
import torch
import torch_workloads as w
torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1]}) if os.path.exists("/proc/self/maps") else []
libs = [l for l in libs if "openblas" in os.path.basename(l)] or [l for l in libs if "libblas" in l] or libs
m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
blas = libs[0] if libs else "BLAS_INFO=" + (m.group(1) if m else "unknown")
print(json.dumps({"torch": torch.__version__, "blas": blas,
                  "threads": torch.get_num_threads(), "workloads": list(w.workloads())}))
`

// twin is the PyTorch side of one workload: a script and its arguments.
type twin struct {
	script string
	args   []string
}

// torchRun is what one run of a PyTorch script reports for one workload
// (torch_workloads.py prints one JSON object per line, torch_gmm2d_iter.py
// one indented object).
type torchRun struct {
	Workload string   `json:"workload"`
	Median   float64  `json:"seconds_median"`
	Min      float64  `json:"seconds_min"`
	GFLOPS   *float64 `json:"gflops_median"`
}

// parseTorchOutput decodes the JSON objects a PyTorch script printed.
func parseTorchOutput(out []byte) ([]torchRun, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	var runs []torchRun
	for {
		var r torchRun
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading PyTorch output: %w", err)
		}
		if r.Workload == "" || !(r.Median > 0) {
			return nil, fmt.Errorf("PyTorch output without a workload name or a positive seconds_median: %+v", r)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// findTorchDir returns dir when set, else bench/torch in the working
// directory or the nearest directory above it that has one.
func findTorchDir(dir string) (string, error) {
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "torch_workloads.py")); err != nil {
			return "", fmt.Errorf("-torch-dir: %w", err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "bench", "torch")
		if _, err := os.Stat(filepath.Join(cand, "torch_workloads.py")); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("bench/torch/torch_workloads.py not found in %s or above: run from the repository or pass -torch-dir", wd)
		}
	}
}

// pythonCandidates lists the interpreters to try: the explicit one, or
// python3 on PATH and then Debian's /usr/bin/python3 (where python3-torch
// installs, and which a pyenv or venv python3 on PATH does not see).
func pythonCandidates(explicit string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	if env := os.Getenv("PYTHON"); env != "" {
		return []string{env}
	}
	c := []string{"python3"}
	if p, err := exec.LookPath("python3"); err != nil || p != "/usr/bin/python3" {
		c = append(c, "/usr/bin/python3")
	}
	return c
}

// probeTorch finds a Python with torch and reads what it offers. The error,
// when none has it, is one line that says how to install it.
func probeTorch(candidates []string, torchDir string) (torchInfo, error) {
	var why []string
	for _, py := range candidates {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(py, "-c", probeScript, torchDir)
		cmd.Env = torchEnv()
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			var info torchInfo
			if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
				return info, fmt.Errorf("%s: reading the torch probe's output: %w", py, err)
			}
			info.Python = py
			return info, nil
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			why = append(why, fmt.Sprintf("%s: %s", py, lastLine(stderr.String())))
		} else {
			why = append(why, fmt.Sprintf("%s: not found", py))
		}
	}
	return torchInfo{}, fmt.Errorf("-compare needs python3 with PyTorch (%s); install it with `%s` (as root, Debian/Ubuntu), or pass -python", strings.Join(why, "; "), installHint)
}

// lastLine is the last non-empty line of s (a Python traceback's message).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// torchEnv is the environment of the PyTorch processes: libgomp must not
// spin (it starves OpenBLAS's threads on a small machine), and PyTorch runs
// on as many threads as we do.
func torchEnv() []string {
	return append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE", "THREADS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
}

// twinOf returns the PyTorch twin of the named workload, if it has one.
func twinOf(name string, info torchInfo, reps int) (twin, bool) {
	if name == "gmm2d_iter" {
		return twin{script: "torch_gmm2d_iter.py",
			args: []string{"--iters", strconv.Itoa(reps), "--threads", strconv.Itoa(runtime.GOMAXPROCS(0))}}, true
	}
	if slices.Contains(info.Workloads, name) {
		return twin{script: "torch_workloads.py", args: []string{name}}, true
	}
	return twin{}, false
}

// runTwin runs the PyTorch twin of name once and returns its report.
func runTwin(name string, t twin, info torchInfo, torchDir string) (torchRun, error) {
	var stdout, stderr bytes.Buffer
	args := append([]string{filepath.Join(torchDir, t.script)}, t.args...)
	cmd := exec.Command(info.Python, args...)
	cmd.Env = torchEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return torchRun{}, fmt.Errorf("PyTorch %s (%s %s): %v: %s", name, info.Python, strings.Join(args, " "), err, lastLine(stderr.String()))
	}
	runs, err := parseTorchOutput(stdout.Bytes())
	if err != nil {
		return torchRun{}, fmt.Errorf("PyTorch %s: %w", name, err)
	}
	for _, r := range runs {
		if r.Workload == name {
			return r, nil
		}
	}
	return torchRun{}, fmt.Errorf("PyTorch %s: the script reported no such workload", name)
}

// roundSample is one round's timing of one workload on each side.
type roundSample struct {
	Ours, Torch           float64 // median seconds over the round's repetitions (Torch 0: none)
	OursFLOPs, TorchFLOPs float64 // floating-point operations of one repetition (0: not counted)
}

// CompareResult is one workload of the comparison over all rounds.
type CompareResult struct {
	Workload string `json:"workload"`
	HasTwin  bool   `json:"has_pytorch_twin"`
	// Per round: our median and PyTorch's median seconds (over each side's
	// repetitions in that round), and their ratio.
	OursSeconds  []float64 `json:"ours_seconds,omitempty"`
	TorchSeconds []float64 `json:"pytorch_seconds,omitempty"`
	RoundRatios  []float64 `json:"round_ratios,omitempty"`
	// Medians over rounds; Ratio is PyTorch's median over ours (> 1: we are faster).
	OursMedian  *float64 `json:"ours_median_seconds"`
	TorchMedian *float64 `json:"pytorch_median_seconds"`
	Ratio       *float64 `json:"ratio"`
	OursGFLOPS  *float64 `json:"ours_gflops"`
	TorchGFLOPS *float64 `json:"pytorch_gflops"`
}

// SgemmRound is the matrix-product rate of both sides in one round.
type SgemmRound struct {
	Round      int     `json:"round"`
	N          int     `json:"n"`
	OursGFLOPS float64 `json:"ours_gflops"`
	BLASGFLOPS float64 `json:"pytorch_gflops"`
}

// median of xs (the mean of the middle two for an even count); xs is not modified.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ptr(x float64) *float64 { return &x }

// summarize folds the rounds of one workload into its result.
func summarize(name string, hasTwin bool, rounds []roundSample) CompareResult {
	r := CompareResult{Workload: name, HasTwin: hasTwin}
	if len(rounds) == 0 {
		return r
	}
	for _, s := range rounds {
		r.OursSeconds = append(r.OursSeconds, s.Ours)
		if hasTwin {
			r.TorchSeconds = append(r.TorchSeconds, s.Torch)
			r.RoundRatios = append(r.RoundRatios, s.Torch/s.Ours)
		}
	}
	ours := median(r.OursSeconds)
	r.OursMedian = ptr(ours)
	if f := rounds[0].OursFLOPs; f > 0 {
		r.OursGFLOPS = ptr(f / ours / 1e9)
	}
	if hasTwin {
		torch := median(r.TorchSeconds)
		r.TorchMedian, r.Ratio = ptr(torch), ptr(torch/ours)
		if f := rounds[0].TorchFLOPs; f > 0 {
			r.TorchGFLOPS = ptr(f / torch / 1e9)
		}
	}
	return r
}

// cpuModel is the first CPU's "model name" of /proc/cpuinfo with its vendor,
// family and model numbers (a generic name such as "AMD EPYC" says little:
// family 25 is Zen 3/4, 26 Zen 5), or runtime.GOARCH.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	return parseCPUInfo(string(b))
}

// parseCPUInfo reads the first processor's entry of /proc/cpuinfo.
func parseCPUInfo(s string) string {
	f := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" && len(f) > 0 {
			break // the end of the first processor
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			f[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	name := f["model name"]
	if name == "" {
		name = runtime.GOARCH
	}
	if f["vendor_id"] != "" && f["cpu family"] != "" && f["model"] != "" {
		name += fmt.Sprintf(" (%s family %s model %s)", f["vendor_id"], f["cpu family"], f["model"])
	}
	return name
}

// loadAvg is the 1, 5 and 15 minute load averages, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// goBuild is the Go version and GOEXPERIMENT of this binary ("-X:simd" in
// the version: the archsimd build).
func goBuild() string {
	s := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "GOEXPERIMENT" && kv.Value != "" && !strings.Contains(s, "X:") {
				s += " GOEXPERIMENT=" + kv.Value
			}
		}
	}
	return s
}

// secs formats seconds as a duration to the microsecond, or "-".
func secs(p *float64) string {
	if p == nil {
		return "-"
	}
	return time.Duration(*p * 1e9).Round(time.Microsecond).String()
}

// gflops formats a rate, or "-".
func gflops(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *p)
}

// printTable writes the comparison table.
func printTable(w io.Writer, results []CompareResult) {
	fmt.Fprintln(w, "ratio = PyTorch's time / ours: > 1 means we are faster (medians over rounds)")
	fmt.Fprintf(w, "%-28s %12s %12s %7s %10s %10s  %s\n", "workload", "ours", "PyTorch", "ratio", "ours GF/s", "torch GF/s", "ratio by round")
	for _, r := range results {
		if !r.HasTwin {
			fmt.Fprintf(w, "%-28s %12s %12s\n", r.Workload, "-", "no PyTorch twin (not timed; bin/bench times it)")
			continue
		}
		var byRound []string
		for _, x := range r.RoundRatios {
			byRound = append(byRound, fmt.Sprintf("%.2f", x))
		}
		fmt.Fprintf(w, "%-28s %12s %12s %6.2f× %10s %10s  %s\n", r.Workload, secs(r.OursMedian), secs(r.TorchMedian),
			*r.Ratio, gflops(r.OursGFLOPS), gflops(r.TorchGFLOPS), strings.Join(byRound, " "))
	}
}

// blasLabel is a short name of the BLAS library at path.
func blasLabel(path string) string {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(base, "openblas"):
		return "OpenBLAS"
	case strings.Contains(base, "mkl"):
		return "MKL"
	case strings.Contains(base, "blis"):
		return "BLIS"
	}
	return "BLAS"
}

// printSgemm writes the per-round matrix-product rates (blas: PyTorch's BLAS library).
func printSgemm(w io.Writer, sg []SgemmRound, rounds int, blas string) {
	if len(sg) == 0 {
		return
	}
	fmt.Fprintf(w, "%-24s", "sgemm GFLOP/s (limit)")
	for r := 1; r <= rounds; r++ {
		fmt.Fprintf(w, " %9s", fmt.Sprintf("round %d", r))
	}
	fmt.Fprintln(w)
	var sizes []int
	for _, s := range sg {
		if !slices.Contains(sizes, s.N) {
			sizes = append(sizes, s.N)
		}
	}
	for _, n := range sizes {
		for _, side := range []string{"ours", "PyTorch/" + blasLabel(blas)} {
			fmt.Fprintf(w, "%-24s", fmt.Sprintf("%d³ %s", n, side))
			for _, s := range sg {
				if s.N == n {
					v := s.OursGFLOPS
					if side != "ours" {
						v = s.BLASGFLOPS
					}
					fmt.Fprintf(w, " %9.1f", v)
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// runCompare is bench -compare: it checks for PyTorch first (and runs
// nothing without it), then times each selected workload on our CPU backend
// and its PyTorch twin alternately, round after round.
func runCompare(cfg compareConfig, stdout, stderr io.Writer) error {
	if cfg.rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	dir, err := findTorchDir(cfg.torchDir)
	if err != nil {
		return err
	}
	info, err := probeTorch(pythonCandidates(cfg.python), dir)
	if err != nil {
		return err
	}
	cpu, err := tensor.Open("cpu")
	if err != nil {
		return err
	}

	// The workloads of a round: the sgemm sizes first, then the selection.
	byName := map[string]bench.Workload{}
	var names []string
	for _, w := range bench.Workloads() {
		byName[w.Name] = w
	}
	for _, n := range cfg.sgemm {
		name := fmt.Sprintf("matmul_%d", n)
		if _, ok := byName[name]; !ok {
			return fmt.Errorf("-sgemm: no workload %s", name)
		}
		names = append(names, name)
	}
	var selected []string
	for _, w := range bench.Workloads() {
		if cfg.filter.MatchString(w.Name) {
			selected = append(selected, w.Name)
			if !slices.Contains(names, w.Name) {
				names = append(names, w.Name)
			}
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-run %q selects no workload", cfg.filter)
	}
	for _, n := range cfg.sgemm {
		if _, ok := twinOf(fmt.Sprintf("matmul_%d", n), info, cfg.reps); !ok {
			return fmt.Errorf("-sgemm: PyTorch has no matmul_%d (torch_workloads.py)", n)
		}
	}

	fmt.Fprintf(stdout, "CPU:      %s, %d threads (GOMAXPROCS), load average %s at the start\n", cpuModel(), runtime.GOMAXPROCS(0), loadAvg())
	fmt.Fprintf(stdout, "ours:     %s; CPU kernels: %s\n", goBuild(), tensor.CPUKernels())
	fmt.Fprintf(stdout, "PyTorch:  %s via %s, BLAS %s, %d threads, OMP_WAIT_POLICY=PASSIVE\n", info.Version, info.Python, info.BLAS, info.Threads)
	fmt.Fprintf(stdout, "%d rounds, each running every workload on our side and then on PyTorch's, alternately\n\n", cfg.rounds)

	samples := map[string][]roundSample{}
	for round := 1; round <= cfg.rounds; round++ {
		for _, name := range names {
			t, ok := twinOf(name, info, cfg.reps)
			if !ok {
				continue
			}
			r := bench.Time(byName[name], cpu, cfg.reps, cfg.budget)
			s := roundSample{Ours: r.Median, OursFLOPs: r.GFLOPS * 1e9 * r.Median}
			debug.FreeOSMemory() // leave the machine to PyTorch
			tr, err := runTwin(name, t, info, dir)
			if err != nil {
				return err
			}
			s.Torch = tr.Median
			if tr.GFLOPS != nil {
				s.TorchFLOPs = *tr.GFLOPS * 1e9 * tr.Median
			}
			samples[name] = append(samples[name], s)
			fmt.Fprintf(stderr, "round %d/%d %-28s ours %-12s PyTorch %-12s ratio %.2f\n", round, cfg.rounds, name,
				secs(&s.Ours), secs(&s.Torch), s.Torch/s.Ours)
		}
	}

	var sg []SgemmRound
	for round := 0; round < cfg.rounds; round++ {
		for _, n := range cfg.sgemm {
			rs := samples[fmt.Sprintf("matmul_%d", n)]
			if round < len(rs) {
				s := rs[round]
				sg = append(sg, SgemmRound{Round: round + 1, N: n, OursGFLOPS: s.OursFLOPs / s.Ours / 1e9, BLASGFLOPS: s.TorchFLOPs / s.Torch / 1e9})
			}
		}
	}
	var results []CompareResult
	for _, name := range selected {
		_, ok := twinOf(name, info, cfg.reps)
		results = append(results, summarize(name, ok, samples[name]))
	}
	printSgemm(stdout, sg, cfg.rounds, info.BLAS)
	fmt.Fprintln(stdout)
	printTable(stdout, results)
	fmt.Fprintf(stdout, "\nload average %s at the end\n", loadAvg())

	if cfg.jsonOut == "" {
		return nil
	}
	out, err := json.MarshalIndent(struct {
		CPU     string          `json:"cpu"`
		Threads int             `json:"threads"`
		Go      string          `json:"go"`
		Kernels string          `json:"cpu_kernels"`
		Torch   torchInfo       `json:"pytorch"`
		Rounds  int             `json:"rounds"`
		Sgemm   []SgemmRound    `json:"sgemm"`
		Results []CompareResult `json:"results"`
	}{cpuModel(), runtime.GOMAXPROCS(0), goBuild(), tensor.CPUKernels(), info, cfg.rounds, sg, results}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(cfg.jsonOut, append(out, '\n'))
}

// parseSizes parses a comma-separated list of matrix sizes ("" = none).
func parseSizes(s string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sgemm: %q is not a matrix size", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}
