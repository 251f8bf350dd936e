package tensor_test

import (
	"testing"

	"github.com/difftune/difftune/tensor"
)

// TestFreeRecycles frees a large CPU tensor: the next allocation of its
// length reuses its storage, and the freed tensor and its views can no
// longer be read.
func TestFreeRecycles(t *testing.T) {
	const n = 1 << 16 // 256 KiB of float32
	x := tensor.Full(tensor.CPU(), tensor.Float32, 3, 2, n/2)
	view := x.Reshape(n)
	storage := &tensor.HostFloat32(x)[0]
	tensor.Free(x)
	y := tensor.New(tensor.CPU(), tensor.Float32, n)
	if &tensor.HostFloat32(y)[0] != storage {
		t.Error("a freed buffer was not reused by the next allocation of its length")
	}
	tensor.Free(y)
	if z := tensor.New(tensor.CPU(), tensor.Float32, n+1); &tensor.HostFloat32(z)[0] == storage {
		t.Error("a freed buffer was reused for another length")
	}
	for name, f := range map[string]func(){"tensor": func() { x.Float32s() }, "view": func() { view.Float32s() }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("reading the %s of a freed buffer did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestFreeSmall frees a tensor too small to recycle: it is not reused, and
// is unusable all the same.
func TestFreeSmall(t *testing.T) {
	x := tensor.Full(tensor.CPU(), tensor.Float64, 1, 8)
	tensor.Free(x)
	defer func() {
		if recover() == nil {
			t.Error("reading a freed tensor did not panic")
		}
	}()
	x.Float64s()
}
