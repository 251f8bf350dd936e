package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/difftune/difftune/nn/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	f := safetensors.File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: map[string]safetensors.Tensor{
			"layer.weight": safetensors.Float32Tensor([]int{2, 2}, []float32{1, 2, 3, 4}),
			"layer.bias":   safetensors.Float64Tensor([]int{2}, []float64{0.5, -0.5}),
		},
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		log.Fatal(err)
	}

	g, err := safetensors.ReadFile(path, safetensors.DefaultLimits)
	if err != nil {
		log.Fatal(err)
	}
	w := g.Tensors["layer.weight"]
	v, err := w.Float32s()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Metadata["format"], w.DType, w.Shape, v)
	// Output: pt F32 [2 2] [1 2 3 4]
}
