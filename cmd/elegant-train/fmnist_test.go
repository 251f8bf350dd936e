package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/algos/tasks"
	"github.com/difftune/difftune/tensor"
)

// needFMNIST skips where Debian's Fashion-MNIST is not installed (make deps
// installs it; CI has it).
func needFMNIST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(tasks.FashionMNISTDir, "t10k-labels-idx1-ubyte.gz")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Fashion-MNIST in CI: %v", err)
		}
		t.Skipf("no Fashion-MNIST: %v (apt-get install dataset-fashion-mnist)", err)
	}
}

// needVulkan skips where no Vulkan device opens, except in CI (CI=true),
// where lavapipe must.
func needVulkan(t *testing.T) {
	t.Helper()
	if _, err := tensor.Open("vulkan"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device in CI: %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
}

// TestFMNISTFlagErrors: a class outside 0–9 and a -data directory without
// the files are usage errors, found before -out is created.
func TestFMNISTFlagErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var ue usageError
	err := run([]string{"-task", "fmnist", "-class", "10", "-out", out, "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "class") {
		t.Errorf("-class 10: %v", err)
	}
	err = run([]string{"-task", "fmnist", "-data", dir, "-out", out, "-cache", ""}, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), dir) {
		t.Errorf("-data without the files: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("bad input created -out")
	}
}

// readImagesNPY reads a float32 .npy of images written by the report: its
// shape and values.
func readImagesNPY(t *testing.T, path string) ([]int, []float32) {
	t.Helper()
	raw := mustRead(t, path)
	if len(raw) < 12 || string(raw[1:6]) != "NUMPY" {
		t.Fatalf("%s is no .npy file", path)
	}
	var hlen, off int
	if raw[6] == 1 {
		hlen, off = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	} else {
		hlen, off = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	}
	header := string(raw[off : off+hlen])
	if !strings.Contains(header, "'<f4'") {
		t.Fatalf("%s: header %q, want float32", path, header)
	}
	lo, hi := strings.Index(header, "'shape': ("), strings.Index(header, ")")
	var shape []int
	for _, f := range strings.Split(header[lo+len("'shape': ("):hi], ",") {
		if f = strings.TrimSpace(f); f != "" {
			var v int
			if err := json.Unmarshal([]byte(f), &v); err != nil {
				t.Fatalf("%s: shape %q", path, header)
			}
			shape = append(shape, v)
		}
	}
	data := raw[off+hlen:]
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return shape, v
}

// TestFMNISTQuick runs the image task's methods on its -quick preset (with
// -frames of the first iteration) and checks the outputs: the samples as n × 28 × 28 pixels in [0, 1], their
// grids, the classifiers' accuracies and the pre-trained model's class
// histogram, every metric finite.
func TestFMNISTQuick(t *testing.T) {
	needFMNIST(t)
	out, cache := t.TempDir(), t.TempDir()
	var stdout, stderr bytes.Buffer
	frames := filepath.Join(out, "frames")
	if err := run([]string{"-task", "fmnist", "-quick", "-out", out, "-cache", cache, "-frames", frames, "-frames-every", "1000"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	checkFrame(t, filepath.Join(frames, "frame_elegant_00000.png"))
	runs := []string{"pretrained", "elegant", "nokl", "truncation", "rcgdm"}
	files := []string{"summary.json", "results.md", "samples.png", "curve_elegant.png", "curve_nokl.png", "curve_truncation.png"}
	for _, r := range runs {
		files = append(files, "samples_"+r+".png")
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	for _, r := range runs {
		shape, px := readImagesNPY(t, filepath.Join(out, "samples_"+r+".npy"))
		if len(shape) != 3 || shape[0] != 32 || shape[1] != 28 || shape[2] != 28 || len(px) != 32*784 {
			t.Fatalf("samples_%s.npy: shape %v, %d values", r, shape, len(px))
		}
		for _, p := range px {
			if !(p >= 0 && p <= 1) {
				t.Fatalf("samples_%s.npy: pixel %v", r, p)
			}
		}
	}
	var sum struct {
		Methods map[string]map[string]any
		Details struct {
			FMNIST struct {
				Strong    float64   `json:"strong_accuracy"`
				Weak      float64   `json:"weak_accuracy"`
				Histogram []float64 `json:"class_histogram"`
				Data      []float64 `json:"class_histogram_data"`
			} `json:"fmnist"`
		}
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, "summary.json")), &sum); err != nil {
		t.Fatal(err)
	}
	d := sum.Details.FMNIST
	var total float64
	for _, h := range d.Histogram {
		total += h
	}
	if !(d.Strong > 0.3 && d.Weak > 0.2) || len(d.Histogram) != 10 || math.Abs(total-1) > 1e-9 || len(d.Data) != 10 || !(d.Data[3] > 0.05 && d.Data[3] < 0.15) {
		t.Errorf("details: %+v", d)
	}
	for _, r := range runs {
		for _, k := range []string{"reward_nominal", "reward_genuine", "class_fraction", "max_prob", "fid_class", "fid_all", "diversity"} {
			if _, ok := sum.Methods[r][k].(float64); !ok {
				t.Errorf("%s: %s = %v", r, k, sum.Methods[r][k])
			}
		}
	}
	if md := string(mustRead(t, filepath.Join(out, "results.md"))); !strings.Contains(md, "| 6 Shirt |") || strings.Contains(md, "data: E[r̂]") {
		t.Errorf("results.md lacks the class histogram, or shows an exact target it does not know:\n%s", md)
	}
}

// TestFMNISTVulkanMatchesCPU fine-tunes ELEGANT on the quick preset on the
// CPU and on Vulkan from the same cached models and seed: the runs draw the
// same noise, so their rewards agree to float32 rounding of a few dozen
// UNet passes (far within a seed change's noise). In CI the Vulkan device
// (lavapipe) must open.
func TestFMNISTVulkanMatchesCPU(t *testing.T) {
	needFMNIST(t)
	needVulkan(t)
	cache := t.TempDir()
	sums := map[string]map[string]map[string]any{}
	for _, device := range []string{"cpu", "vulkan"} {
		out := filepath.Join(t.TempDir(), device)
		var stderr bytes.Buffer
		if err := run([]string{"-task", "fmnist", "-quick", "-method", "elegant", "-iters", "1", "-eval-samples", "16", "-device", device, "-out", out, "-cache", cache}, &bytes.Buffer{}, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", device, err, stderr.String())
		}
		var sum struct{ Methods map[string]map[string]any }
		if err := json.Unmarshal(mustRead(t, filepath.Join(out, "summary.json")), &sum); err != nil {
			t.Fatal(err)
		}
		sums[device] = sum.Methods
	}
	for _, run := range []string{"pretrained", "elegant"} {
		for _, key := range []string{"reward_nominal", "reward_genuine", "fid_all", "diversity"} {
			c, v := sums["cpu"][run][key].(float64), sums["vulkan"][run][key].(float64)
			t.Logf("%s %s: CPU %.6f, Vulkan %.6f", run, key, c, v)
			if math.Abs(c-v) > 1e-3*(1+math.Abs(c)) {
				t.Errorf("%s's %s: CPU %v, Vulkan %v", run, key, c, v)
			}
		}
	}
}
