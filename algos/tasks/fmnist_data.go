package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/difftune/difftune/tensor"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist installs the data
// (`apt-get install dataset-fashion-mnist`; `make deps` does it as root).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// The Fashion-MNIST images: 28 × 28 grey pixels, one of 10 classes.
const (
	FMNISTSide    = 28
	FMNISTPixels  = FMNISTSide * FMNISTSide
	FMNISTClasses = 10
)

// FMNISTClassNames are the names of the Fashion-MNIST classes, by label.
var FMNISTClassNames = [FMNISTClasses]string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// FashionMNIST is the Fashion-MNIST data set (Zalando Research, 2017; MIT
// licence, /usr/share/doc/dataset-fashion-mnist/copyright): 60,000 training
// and 10,000 test images.
type FashionMNIST struct {
	Dir         string
	Train, Test ImageSet
	// Digest is the hex sha256 of the four files' contents, a cache key of
	// the models trained on them.
	Digest string
}

// ImageSet is a labelled set of Fashion-MNIST images.
type ImageSet struct {
	Pixels []uint8 // [n, 28, 28], 0 (background) to 255
	Labels []uint8 // [n], 0 to 9
}

// Len is the number of images.
func (s ImageSet) Len() int { return len(s.Labels) }

// Subset is the images idx of s, in that order (copies).
func (s ImageSet) Subset(idx []int) ImageSet {
	out := ImageSet{Pixels: make([]uint8, 0, len(idx)*FMNISTPixels), Labels: make([]uint8, len(idx))}
	for i, j := range idx {
		out.Pixels = append(out.Pixels, s.Pixels[j*FMNISTPixels:(j+1)*FMNISTPixels]...)
		out.Labels[i] = s.Labels[j]
	}
	return out
}

// Images returns the images idx as a float32 tensor [len(idx), 1, 28, 28]
// on b, pixels scaled to [0, 1].
func (s ImageSet) Images(b tensor.Backend, idx []int) *tensor.Tensor {
	v := make([]float32, len(idx)*FMNISTPixels)
	for i, j := range idx {
		for p, x := range s.Pixels[j*FMNISTPixels : (j+1)*FMNISTPixels] {
			v[i*FMNISTPixels+p] = float32(x) / 255
		}
	}
	return tensor.FromFloat32(b, v, len(idx), 1, FMNISTSide, FMNISTSide)
}

// LabelsOf returns the labels of the images idx.
func (s ImageSet) LabelsOf(idx []int) []int {
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = int(s.Labels[j])
	}
	return out
}

// The files of Fashion-MNIST in its directory, gzipped IDX files.
const (
	fmnistTrainImages = "train-images-idx3-ubyte.gz"
	fmnistTrainLabels = "train-labels-idx1-ubyte.gz"
	fmnistTestImages  = "t10k-images-idx3-ubyte.gz"
	fmnistTestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// LoadFashionMNIST reads Fashion-MNIST from dir (FashionMNISTDir when empty):
// the IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or not:
// ReadIDX tells them apart). It checks that images are 28 × 28, that each
// file of labels has one per image, each in 0 to 9. A missing file's error
// says how to install the data or where to point -data.
func LoadFashionMNIST(dir string) (*FashionMNIST, error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	d := &FashionMNIST{Dir: dir}
	hash := sha256.New()
	for _, part := range []struct {
		set            *ImageSet
		images, labels string
	}{{&d.Train, fmnistTrainImages, fmnistTrainLabels}, {&d.Test, fmnistTestImages, fmnistTestLabels}} {
		var files [2]*IDX
		for i, name := range []string{part.images, part.labels} {
			m, err := ReadIDX(filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("fashion-mnist: %w: install Debian's data (apt-get install dataset-fashion-mnist) or pass -data DIR, a directory with the files %s, %s, %s and %s",
					err, fmnistTrainImages, fmnistTrainLabels, fmnistTestImages, fmnistTestLabels)
			}
			if err != nil {
				return nil, fmt.Errorf("fashion-mnist: %w", err)
			}
			fmt.Fprintf(hash, "%s %v\n", name, m.Dims)
			hash.Write(m.Data)
			files[i] = m
		}
		images, labels := files[0], files[1]
		if len(images.Dims) != 3 || images.Dims[1] != FMNISTSide || images.Dims[2] != FMNISTSide {
			return nil, fmt.Errorf("fashion-mnist: %s holds an array of dimensions %v, want [n 28 28]", filepath.Join(dir, part.images), images.Dims)
		}
		if len(labels.Dims) != 1 || labels.Dims[0] != images.Dims[0] {
			return nil, fmt.Errorf("fashion-mnist: %s holds labels of dimensions %v for the %d images of %s", filepath.Join(dir, part.labels), labels.Dims, images.Dims[0], part.images)
		}
		for i, l := range labels.Data {
			if l >= FMNISTClasses {
				return nil, fmt.Errorf("fashion-mnist: %s: label %d of image %d, want 0 to %d", filepath.Join(dir, part.labels), l, i, FMNISTClasses-1)
			}
		}
		*part.set = ImageSet{Pixels: images.Data, Labels: labels.Data}
	}
	d.Digest = hex.EncodeToString(hash.Sum(nil))
	return d, nil
}
