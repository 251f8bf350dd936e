package nn

import (
	"fmt"
	"slices"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/nn/safetensors"
	"github.com/difftune/difftune/tensor"
)

// SaveCheckpoint writes a module's parameters (float32) and metadata to a
// safetensors file atomically: a crash leaves the previous file intact.
func SaveCheckpoint(path string, m Module, meta map[string]string) error {
	f := safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{}}
	for _, p := range m.Params() {
		f.Tensors[p.Name] = safetensors.Float32Tensor(slices.Clone(p.Value.Shape()), p.Value.Float32s())
	}
	return safetensors.WriteFile(path, f)
}

// LoadCheckpoint reads parameters saved by SaveCheckpoint into m, which must
// have the same architecture; it returns the file's metadata. Every parameter
// is checked (name, shape, dtype) before any is replaced.
func LoadCheckpoint(path string, m Module) (map[string]string, error) {
	f, err := safetensors.ReadFile(path, safetensors.DefaultLimits)
	if err != nil {
		return nil, err
	}
	params := m.Params()
	values := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		t, ok := f.Tensors[p.Name]
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: parameter %q missing (architecture changed?)", path, p.Name)
		}
		if !slices.Equal(t.Shape, p.Value.Shape()) {
			return nil, fmt.Errorf("checkpoint %s: parameter %q has shape %v, the model wants %v", path, p.Name, t.Shape, p.Value.Shape())
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: parameter %q: %w", path, p.Name, err)
		}
		values[i] = tensor.FromFloat32(p.Value.Backend(), v, t.Shape...).AsType(p.Value.DType())
	}
	if len(f.Tensors) != len(params) {
		return nil, fmt.Errorf("checkpoint %s: %d tensors for a model with %d parameters", path, len(f.Tensors), len(params))
	}
	for i, p := range params {
		p.Value = values[i]
	}
	return f.Metadata, nil
}

// CloneValues copies the current values of params (to restore later).
func CloneValues(params []*autograd.Var) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		out[i] = p.Value.Clone()
	}
	return out
}
