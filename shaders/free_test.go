//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"testing"

	"github.com/difftune/difftune/tensor"
)

// TestFree frees a tensor that a recorded, not yet submitted command reads:
// the command still sees its contents, the storage returns to the pool once
// the command is done, and the freed tensor can no longer be used.
func TestFree(t *testing.T) {
	b := testBackend(t)
	const n = 1 << 16
	x := tensor.FromFloat32(b, randn(3, n), n)
	want := tensor.Scale(tensor.FromFloat32(tensor.CPU(), randn(3, n), n), 2).Float32s()
	s := b.slotOf(x)
	y := tensor.Scale(x, 2)
	tensor.Free(x)
	closeTo(t, "a command recorded before the Free", y.Float32s(), want, 0)
	b.mu.Lock()
	b.collect()
	pooled := false
	for _, f := range b.mem.free[classKey{s.kind, s.size}] {
		pooled = pooled || f == s
	}
	b.mu.Unlock()
	if !pooled {
		t.Error("the freed buffer is not back in the pool after its last command completed")
	}
	defer func() {
		if recover() == nil {
			t.Error("using a freed tensor did not panic")
		}
	}()
	tensor.Scale(x, 2)
}
