package nn

import (
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/difftune/difftune/autograd"
	"github.com/difftune/difftune/tensor"
)

// tinyUNet is a UNet small enough for finite differences: 1×8×8 images
// (8 → 4 → 2 → 4 → 8), widths 4, 4, 8, 2 groups, 2 heads.
var tinyUNet = UNetConfig{Channels: 1, Height: 8, Width: 8, C1: 4, C2: 4, C3: 8, Groups: 2, Heads: 2, EmbDim: 8, TimeDim: 8}

// TestConvTranspose2dMatchesDirect compares the transposed convolution with
// its definition: every input pixel scatters its kernel, scaled, onto the
// output at stride·position − pad, plus the bias.
func TestConvTranspose2dMatchesDirect(t *testing.T) {
	const in, out, h, w, k, stride, pad = 3, 2, 3, 4, 4, 2, 1
	c := NewConvTranspose2d(init64(30), in, out, k, stride, pad)
	x := randn(31, 1, in, h, w)
	y := c.Forward(autograd.Const(x))
	oh, ow := (h-1)*stride-2*pad+k, (w-1)*stride-2*pad+k
	if want := []int{1, out, oh, ow}; !slices.Equal(y.Shape(), want) {
		t.Fatalf("shape %v, want %v", y.Shape(), want)
	}
	xv, wv, bv := x.Float64s(), c.W.Value.Float64s(), c.B.Value.Float64s()
	want := make([]float64, out*oh*ow)
	for o := range out {
		for i := range oh * ow {
			want[o*oh*ow+i] = bv[o]
		}
	}
	for ci := range in {
		for iy := range h {
			for ix := range w {
				for o := range out {
					for ky := range k {
						for kx := range k {
							yy, xx := iy*stride-pad+ky, ix*stride-pad+kx
							if yy >= 0 && yy < oh && xx >= 0 && xx < ow {
								want[(o*oh+yy)*ow+xx] += wv[((ci*out+o)*k+ky)*k+kx] * xv[(ci*h+iy)*w+ix]
							}
						}
					}
				}
			}
		}
	}
	near(t, "ConvTranspose2d", y.Value.Float64s(), want, 1e-12)
	bound := 1 / math.Sqrt(out*k*k)
	for _, v := range append(wv, bv...) {
		if math.Abs(v) > bound {
			t.Fatalf("parameter %v outside PyTorch's ±%v", v, bound)
		}
	}
}

// TestUNetShapes checks that the UNet returns its input's shape, flattened or
// not, with the same values either way, and that one shared time equals that
// time given to every image.
func TestUNetShapes(t *testing.T) {
	u := NewUNet(init64(40), tinyUNet)
	x := randn(41, 3, 64)
	flat := u.Forward(autograd.Const(x), []float64{0.3, 0.3, 0.3})
	if !slices.Equal(flat.Shape(), []int{3, 64}) {
		t.Fatalf("flattened input gave shape %v", flat.Shape())
	}
	img := u.Forward(autograd.Const(x.Reshape(3, 1, 8, 8)), []float64{0.3})
	if !slices.Equal(img.Shape(), []int{3, 1, 8, 8}) {
		t.Fatalf("image input gave shape %v", img.Shape())
	}
	near(t, "images vs flattened, shared vs per-image time", img.Value.Float64s(), flat.Value.Float64s(), 1e-12)
	// Different times give different outputs per image.
	other := u.Forward(autograd.Const(x), []float64{0.3, 0.9, 0.3}).Value.Float64s()
	f := flat.Value.Float64s()
	if slices.Equal(other[64:128], f[64:128]) || !slices.Equal(other[:64], f[:64]) {
		t.Fatal("an image's time does not act on that image alone")
	}
}

// TestUNetGradients checks the whole tiny UNet by central finite differences
// in float64, through the input and parameters of every kind of layer (the
// time MLP, a residual block's time shift and skip, attention, both
// transposed convolutions, the output), with one time per image.
func TestUNetGradients(t *testing.T) {
	u := NewUNet(init64(50), tinyUNet)
	byName := map[string]*autograd.Var{}
	for _, p := range u.Params() {
		byName[p.Name] = p.Var
	}
	x := autograd.Param(randn(51, 2, 1, 8, 8))
	in := []*autograd.Var{x}
	for _, name := range []string{"temb.layers.0.bias", "d1.t.weight", "m1.n1.weight", "att.attn.q.weight", "att.attn.o.bias",
		"up2.bias", "up1.weight", "u2.skip.weight", "u1.c2.bias", "out.conv.weight"} {
		p, ok := byName[name]
		if !ok {
			t.Fatalf("no parameter %q", name)
		}
		in = append(in, p)
	}
	w := autograd.Const(randn(52, 2, 1, 8, 8))
	loss := func(in []*autograd.Var) *autograd.Var {
		return autograd.SumAll(autograd.Mul(u.Forward(in[0], []float64{0.2, 0.7}), w))
	}
	if err := autograd.CheckGradients(loss, in, 1e-6, 1e-5); err != nil {
		t.Fatal(err)
	}
}

// TestUNetCheckpointRoundTrip saves a UNet, loads it into one of another
// seed, and checks that the parameters and the output agree; the names are
// unique and a UNet of other widths is refused.
func TestUNetCheckpointRoundTrip(t *testing.T) {
	b := tensor.CPU()
	cfg := tinyUNet
	m := NewUNet(&Init{Backend: b, DType: tensor.Float32, Seed: 1}, cfg)
	seen := map[string]bool{}
	for _, p := range m.Params() {
		if seen[p.Name] {
			t.Fatalf("parameter name %q twice", p.Name)
		}
		seen[p.Name] = true
	}
	path := filepath.Join(t.TempDir(), "unet.safetensors")
	if err := SaveCheckpoint(path, m, nil); err != nil {
		t.Fatal(err)
	}
	other := NewUNet(&Init{Backend: b, DType: tensor.Float32, Seed: 2}, cfg)
	if _, err := LoadCheckpoint(path, other); err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		if !slices.Equal(p.Value.Float32s(), other.Params()[i].Value.Float32s()) {
			t.Fatalf("parameter %s differs after the round trip", p.Name)
		}
	}
	x := autograd.Const(tensor.RandNormal(b, tensor.Float32, 3, 1, 2, 64))
	if !slices.Equal(m.Forward(x, []float64{0.5}).Value.Float32s(), other.Forward(x, []float64{0.5}).Value.Float32s()) {
		t.Fatal("the loaded UNet computes another function")
	}
	cfg.C3 = 12
	if _, err := LoadCheckpoint(path, NewUNet(&Init{Backend: b, DType: tensor.Float32, Seed: 3}, cfg)); err == nil {
		t.Fatal("loaded a checkpoint into a UNet of other widths")
	}
}

// TestUNetSamplingReleasesTemporaries: outside recording scopes the
// residual blocks free their temporaries, so a forward pass allocates
// well under what it does with release off, and its output is the
// recording pass's bit for bit, also when the blocks run on recycled
// buffers.
func TestUNetSamplingReleasesTemporaries(t *testing.T) {
	u := NewUNet(&Init{Backend: tensor.CPU(), DType: tensor.Float32, Seed: 3}, DefaultUNet)
	c := DefaultUNet
	x := autograd.Const(tensor.RandNormal(tensor.CPU(), tensor.Float32, 1, 2, 4, c.Channels, c.Height, c.Width))
	times := []float64{0.3, 0.5, 0.7, 0.9}
	want := u.Forward(x, times).Value.Float32s()
	allocated := func(on bool) (uint64, []float32) {
		releaseTemporaries = on
		defer func() { releaseTemporaries = true }()
		var out []float32
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		autograd.NoGrad(func() { out = u.Forward(x, times).Value.Float32s() })
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, out
	}
	off, outOff := allocated(false)
	allocated(true) // fills the free lists
	on, outOn := allocated(true)
	for _, got := range [][]float32{outOff, outOn} {
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("output[%d] = %v outside recording, %v recording", i, got[i], want[i])
			}
		}
	}
	if on > off/2 {
		t.Errorf("a forward pass outside recording allocated %d bytes with release, %d without: want under half", on, off)
	}
	t.Logf("allocated: %d bytes with release, %d without", on, off)
}
