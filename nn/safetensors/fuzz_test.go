package safetensors

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode and Read never panic, fail only with
// ErrFormat or ErrLimit, agree with each other, and that whatever they
// accept re-encodes to an encoding that decodes to the same File and
// re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add(encode(f, File{}))
	f.Add(encode(f, File{Metadata: map[string]string{"a": "b"}}))
	f.Add(encode(f, File{Tensors: map[string]Tensor{
		"x": Float32Tensor([]int{2}, []float32{1, 2}),
		"y": {DType: U8, Shape: []int{0}},
		"z": {DType: U8, Shape: []int{0}},
	}}))
	f.Add(build(`{"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]}, "a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	for _, c := range corruptions() {
		f.Add(c.data)
	}
	valid := encode(f, sample())
	for _, n := range []int{0, 5, 8, 20, len(valid) / 2, len(valid) - 1} {
		f.Add(valid[:n])
	}

	lim := Limits{MaxHeaderBytes: 1 << 16, MaxTotalBytes: 1 << 20, MaxTensors: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data, lim)
		rfile, rerr := Read(bytes.NewReader(data), lim)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrLimit) {
				t.Fatalf("Decode error %v wraps neither ErrFormat nor ErrLimit", err)
			}
			if rerr != nil && !errors.Is(rerr, ErrFormat) && !errors.Is(rerr, ErrLimit) {
				t.Fatalf("Read error %v wraps neither ErrFormat nor ErrLimit", rerr)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("Decode succeeded but Read failed: %v", rerr)
		}
		if d := diffFile(rfile, file); d != "" {
			t.Fatalf("Read and Decode disagree: %s", d)
		}

		var enc bytes.Buffer
		if err := Encode(&enc, file); err != nil {
			t.Fatalf("Encode of a decoded File: %v", err)
		}
		// Re-encoding may lengthen the header (escapes), so use the
		// default limits.
		file2, err := Decode(enc.Bytes(), Limits{})
		if err != nil {
			t.Fatalf("Decode of re-encoded File: %v\n%q", err, enc.Bytes())
		}
		if d := diffFile(file2, file); d != "" {
			t.Fatalf("re-encoded File differs: %s", d)
		}
		var enc2 bytes.Buffer
		if err := Encode(&enc2, file2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc.Bytes(), enc2.Bytes()) {
			t.Fatalf("re-encoding is not stable:\n%q\n%q", enc.Bytes(), enc2.Bytes())
		}
	})
}
