package algos

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/nn/safetensors"
	"github.com/difftune/difftune/tensor"
)

// TestCachedModelChecksWeights caches a small network, then alters its
// file (one weight changed, keeping the file valid; one weight NaN): each
// time the file is set aside as .bad with a notice and the model retrained,
// and an intact file is loaded without training.
func TestCachedModelChecksWeights(t *testing.T) {
	b, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var notices []string
	env := Env{Backend: b, Cache: dir, Hooks: Hooks{Notice: func(m string) { notices = append(notices, m) }}}
	fresh := func() *nn.MLP {
		return nn.NewMLP(&nn.Init{Backend: b, DType: tensor.Float32, Seed: 3}, tensor.ActSiLU, 2, 4, 1)
	}
	trained := 0
	train := func() (*nn.MLP, error) { trained++; return fresh(), nil }
	get := func() {
		t.Helper()
		notices = nil
		if _, err := CachedModel(env, "toy", "toy model", "no steps", "key", fresh, train); err != nil {
			t.Fatal(err)
		}
	}
	get()
	files, _ := filepath.Glob(filepath.Join(dir, "toy-*.safetensors"))
	if trained != 1 || len(files) != 1 {
		t.Fatalf("trained %d times, files %v", trained, files)
	}
	path := files[0]
	get()
	if trained != 1 || !strings.Contains(strings.Join(notices, "\n"), "loaded the toy model") {
		t.Fatalf("an intact cache was not loaded (trained %d): %v", trained, notices)
	}
	for _, c := range []struct {
		name  string
		value float32
		want  string
	}{{"altered", 0.125, "altered"}, {"NaN", float32(math.NaN()), "NaN"}} {
		f, err := safetensors.ReadFile(path, safetensors.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		for name, ten := range f.Tensors {
			v, _ := ten.Float32s()
			v[0] = c.value
			f.Tensors[name] = safetensors.Float32Tensor(ten.Shape, v)
			break
		}
		if err := safetensors.WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		os.Remove(path + ".bad")
		get()
		msg := strings.Join(notices, "\n")
		if trained != 2 && c.name == "altered" || trained != 3 && c.name == "NaN" {
			t.Errorf("%s: not retrained (%d trainings): %s", c.name, trained, msg)
		}
		if !strings.Contains(msg, "set aside as "+path+".bad") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: notices %q", c.name, msg)
		}
		if _, err := os.Stat(path + ".bad"); err != nil {
			t.Errorf("%s: not set aside: %v", c.name, err)
		}
		get() // the retrained model was cached again, intact
		if !strings.Contains(strings.Join(notices, "\n"), "loaded the toy model") {
			t.Errorf("%s: the retrained model was not cached: %v", c.name, notices)
		}
	}
}
