package tasks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/difftune/difftune/tensor"
)

// writeFMNIST writes a synthetic Fashion-MNIST of train and test images
// into a new directory: image i of a set is filled with its label·20 + i,
// its label i mod 10; the test set's files are plain (not gzipped), which
// the loader takes as well. edit, if set, may change a file's dimensions
// and data before it is written.
func writeFMNIST(t *testing.T, train, test int, edit func(name string, dims []int, data []byte) ([]int, []byte)) string {
	t.Helper()
	dir := t.TempDir()
	for _, part := range []struct {
		n              int
		images, labels string
		gz             bool
	}{{train, fmnistTrainImages, fmnistTrainLabels, true}, {test, fmnistTestImages, fmnistTestLabels, false}} {
		pix, lab := make([]byte, part.n*FMNISTPixels), make([]byte, part.n)
		for i := range part.n {
			lab[i] = byte(i % FMNISTClasses)
			for p := range FMNISTPixels {
				pix[i*FMNISTPixels+p] = byte(int(lab[i])*20 + i)
			}
		}
		for _, f := range []struct {
			name string
			dims []int
			data []byte
		}{{part.images, []int{part.n, FMNISTSide, FMNISTSide}, pix}, {part.labels, []int{part.n}, lab}} {
			if edit != nil {
				f.dims, f.data = edit(f.name, f.dims, f.data)
			}
			raw := encodeIDX(f.dims, f.data)
			if part.gz {
				raw = gzipped(raw)
			}
			if err := os.WriteFile(filepath.Join(dir, f.name), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestLoadFashionMNISTSynthetic loads small synthetic files and refuses
// those whose dimensions or labels are wrong, or that are missing.
func TestLoadFashionMNISTSynthetic(t *testing.T) {
	d, err := LoadFashionMNIST(writeFMNIST(t, 12, 5, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 12 || d.Test.Len() != 5 || len(d.Train.Pixels) != 12*FMNISTPixels || len(d.Digest) != 64 {
		t.Fatalf("%d train, %d test images, %d pixels, digest %q", d.Train.Len(), d.Test.Len(), len(d.Train.Pixels), d.Digest)
	}
	idx := []int{11, 3}
	if got := d.Train.LabelsOf(idx); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("labels of %v: %v", idx, got)
	}
	x := d.Train.Images(tensor.CPU(), idx)
	v := x.Float32s()
	if !slices.Equal(x.Shape(), []int{2, 1, FMNISTSide, FMNISTSide}) || v[0] != float32(1*20+11)/255 || v[FMNISTPixels+5] != float32(3*20+3)/255 {
		t.Errorf("images %v: shape %v, pixels %v, %v", idx, x.Shape(), v[0], v[FMNISTPixels+5])
	}
	sub := d.Train.Subset(idx)
	if !slices.Equal(sub.Labels, []uint8{1, 3}) || !slices.Equal(sub.Pixels[:FMNISTPixels], d.Train.Pixels[11*FMNISTPixels:12*FMNISTPixels]) ||
		!slices.Equal(sub.Pixels[FMNISTPixels:], d.Train.Pixels[3*FMNISTPixels:4*FMNISTPixels]) {
		t.Errorf("subset %v: labels %v, %d pixels", idx, sub.Labels, len(sub.Pixels))
	}

	bad := []struct {
		name string
		edit func(name string, dims []int, data []byte) ([]int, []byte)
		want string
	}{
		{"side", func(name string, dims []int, data []byte) ([]int, []byte) {
			if name == fmnistTestImages {
				return []int{dims[0], 14, 56}, data
			}
			return dims, data
		}, "dimensions [5 14 56], want [n 28 28]"},
		{"count", func(name string, dims []int, data []byte) ([]int, []byte) {
			if name == fmnistTrainLabels {
				return []int{dims[0] - 1}, data[1:]
			}
			return dims, data
		}, "labels of dimensions [11] for the 12 images"},
		{"label", func(name string, dims []int, data []byte) ([]int, []byte) {
			if name == fmnistTestLabels {
				data[2] = 10
			}
			return dims, data
		}, "label 10 of image 2"},
		{"truncated", func(name string, dims []int, data []byte) ([]int, []byte) {
			if name == fmnistTrainImages {
				return dims, data[:len(data)-1]
			}
			return dims, data
		}, "truncated"},
	}
	for _, c := range bad {
		_, err := LoadFashionMNIST(writeFMNIST(t, 12, 5, c.edit))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	_, err = LoadFashionMNIST(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") || !strings.Contains(err.Error(), "-data DIR") {
		t.Errorf("an empty directory: %v", err)
	}
}

// realFMNIST loads Debian's Fashion-MNIST once per test binary, or skips
// (CI installs it: make deps).
func realFMNIST(t testing.TB) *FashionMNIST {
	t.Helper()
	realOnce.Do(func() { realData, realErr = LoadFashionMNIST("") })
	if realErr != nil {
		if _, err := os.Stat(FashionMNISTDir); os.IsNotExist(err) {
			t.Skipf("no Fashion-MNIST in %s (apt-get install dataset-fashion-mnist)", FashionMNISTDir)
		}
		t.Fatal(realErr)
	}
	return realData
}

var (
	realOnce sync.Once
	realData *FashionMNIST
	realErr  error
)

// TestLoadFashionMNISTReal reads the real files: 60,000 and 10,000 images,
// every class 6,000 and 1,000 times, pixels spanning 0 to 255.
func TestLoadFashionMNISTReal(t *testing.T) {
	d := realFMNIST(t)
	for _, c := range []struct {
		name string
		set  ImageSet
		n    int
	}{{"train", d.Train, 60000}, {"test", d.Test, 10000}} {
		if c.set.Len() != c.n || len(c.set.Pixels) != c.n*FMNISTPixels {
			t.Fatalf("%s: %d images, %d pixels", c.name, c.set.Len(), len(c.set.Pixels))
		}
		var count [FMNISTClasses]int
		for _, l := range c.set.Labels {
			count[l]++
		}
		for k, n := range count {
			if n != c.n/FMNISTClasses {
				t.Errorf("%s: class %d (%s) %d times", c.name, k, FMNISTClassNames[k], n)
			}
		}
		if lo, hi := slices.Min(c.set.Pixels), slices.Max(c.set.Pixels); lo != 0 || hi != 255 {
			t.Errorf("%s: pixels in [%d, %d]", c.name, lo, hi)
		}
	}
}
