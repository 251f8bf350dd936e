package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/difftune/difftune/nn/atomicfile"
)

// sample returns a File exercising every dtype size, metadata, a scalar and
// a zero-sized tensor.
func sample() File {
	return File{
		Metadata: map[string]string{"format": "pt", "note": "quote \" backslash \\ tab \t <é>"},
		Tensors: map[string]Tensor{
			"w":      Float32Tensor([]int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}),
			"b":      Float64Tensor([]int{3}, []float64{math.Pi, -1e300, 5e-324}),
			"steps":  {DType: I64, Shape: []int{}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			"idx":    {DType: I32, Shape: []int{2}, Data: []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
			"mask":   {DType: BOOL, Shape: []int{3}, Data: []byte{1, 0, 1}},
			"pixels": {DType: U8, Shape: []int{1, 5}, Data: []byte{9, 8, 7, 6, 5}},
			"half":   {DType: F16, Shape: []int{1}, Data: []byte{0x00, 0x3c}},
			"empty":  {DType: F32, Shape: []int{2, 0}, Data: []byte{}},
			"ünï/🙂":  {DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x10, 0x40}},
		},
	}
}

func encode(t testing.TB, f File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, f); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

// diffFile describes how got differs from want, or returns "" if they hold
// the same metadata and tensors (treating nil and empty alike).
func diffFile(got, want File) string {
	if len(got.Metadata) != len(want.Metadata) {
		return fmt.Sprintf("metadata = %q, want %q", got.Metadata, want.Metadata)
	}
	for k, v := range want.Metadata {
		if g, ok := got.Metadata[k]; !ok || g != v {
			return fmt.Sprintf("metadata = %q, want %q", got.Metadata, want.Metadata)
		}
	}
	if len(got.Tensors) != len(want.Tensors) {
		return fmt.Sprintf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		g, ok := got.Tensors[name]
		switch {
		case !ok:
			return fmt.Sprintf("tensor %q missing", name)
		case g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data):
			return fmt.Sprintf("tensor %q = %s %v % x, want %s %v % x", name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	data := encode(t, want)

	got, err := Decode(data, Limits{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := diffFile(got, want); d != "" {
		t.Errorf("Decode: %s", d)
	}

	r := bytes.NewReader(data)
	got, err = Read(r, DefaultLimits)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if d := diffFile(got, want); d != "" {
		t.Errorf("Read: %s", d)
	}

	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteFile(path, want); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, data) {
		t.Errorf("WriteFile wrote different bytes than Encode")
	}
	got, err = ReadFile(path, Limits{})
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if d := diffFile(got, want); d != "" {
		t.Errorf("ReadFile: %s", d)
	}

	// Decoded maps and shapes are never nil, even when empty.
	got, err = Decode(encode(t, File{Tensors: map[string]Tensor{"s": {DType: U8, Data: []byte{1}}}}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata == nil || got.Tensors["s"].Shape == nil {
		t.Errorf("Decode returned nil metadata or shape: %+v", got)
	}
}

func TestEncodeEmptyFile(t *testing.T) {
	data := encode(t, File{})
	want := "\x08\x00\x00\x00\x00\x00\x00\x00{}      "
	if string(data) != want {
		t.Errorf("Encode(File{}) = %q, want %q", data, want)
	}
	f, err := Decode(data, Limits{})
	if err != nil || len(f.Tensors) != 0 || len(f.Metadata) != 0 {
		t.Errorf("Decode = %+v, %v; want an empty File", f, err)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	want := encode(t, sample())
	for range 20 {
		// Rebuild the maps so that their iteration order varies.
		f := sample()
		f2 := File{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
		for k, v := range f.Metadata {
			f2.Metadata[k] = v
		}
		for k, v := range f.Tensors {
			f2.Tensors[k] = v
		}
		if got := encode(t, f2); !bytes.Equal(got, want) {
			t.Fatalf("Encode is not deterministic:\n%q\n%q", got, want)
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	data := encode(t, sample())
	n := binary.LittleEndian.Uint64(data)
	if (8+n)%8 != 0 {
		t.Errorf("header length %d: data buffer starts at %d, not 8-byte aligned", n, 8+n)
	}
	if trimmed := bytes.TrimRight(data[8:8+n], " "); trimmed[len(trimmed)-1] != '}' {
		t.Errorf("header is not a JSON object padded with spaces: %q", data[8:8+n])
	}
	h, err := parseHeader(data[8:8+n], DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range h.entries {
		names = append(names, e.name)
		if size := uint64(e.dtype.Size()); (8+n+e.begin)%size != 0 {
			t.Errorf("tensor %q (%s) at file offset %d is not aligned", e.name, e.dtype, 8+n+e.begin)
		}
	}
	// Decreasing element size, then name.
	want := []string{"b", "steps", "empty", "idx", "w", "half", "ünï/🙂", "mask", "pixels"}
	if !slices.Equal(names, want) {
		t.Errorf("buffer order = %q, want %q", names, want)
	}
}

// TestGolden checks Encode and Decode against encodings written out by hand
// from the specification, including outputs of the reference Python
// implementation (huggingface/safetensors bindings/python/tests).
func TestGolden(t *testing.T) {
	zeros16 := strings.Repeat("\x00", 16)
	tests := []struct {
		name string
		file File
		enc  string
	}{{
		name: "reference I32 zeros",
		file: File{Tensors: map[string]Tensor{"test": {DType: I32, Shape: []int{2, 2}, Data: make([]byte, 16)}}},
		enc:  "@\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}` + "    " + zeros16,
	}, {
		name: "reference BF16",
		file: File{Tensors: map[string]Tensor{"test": {DType: BF16, Shape: []int{2, 2}, Data: []byte("\x10@\x80?\x80?\x80?")}}},
		enc:  "@\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}` + "    " + "\x10@\x80?\x80?\x80?",
	}, {
		// 136 = 0x88 header bytes: 133 of JSON and 3 of padding.
		name: "metadata and two tensors",
		file: File{
			Metadata: map[string]string{"k": "v"},
			Tensors: map[string]Tensor{
				"a": Float32Tensor([]int{1}, []float32{1}),
				"b": Float64Tensor([]int{1}, []float64{-2}),
			},
		},
		enc: "\x88\x00\x00\x00\x00\x00\x00\x00" +
			`{"__metadata__":{"k":"v"},` +
			`"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},` +
			`"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}` + "   " +
			"\x00\x00\x00\x00\x00\x00\x00\xc0" + // -2.0 as float64
			"\x00\x00\x80\x3f", // 1.0 as float32
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encode(t, tt.file); string(got) != tt.enc {
				t.Errorf("Encode =\n%q\nwant\n%q", got, tt.enc)
			}
			got, err := Decode([]byte(tt.enc), Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := diffFile(got, tt.file); d != "" {
				t.Errorf("Decode: %s", d)
			}
		})
	}
}

// TestDecodeForeignHeaders checks that headers written by other encoders
// (whitespace, other key orders, no padding, null metadata) are accepted.
func TestDecodeForeignHeaders(t *testing.T) {
	buf := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, hdr := range []string{
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`,
		"{\n  \"b\": {\"data_offsets\": [0, 8], \"shape\": [], \"dtype\": \"I64\"},\n\t\"a\": {\"shape\": [1], \"dtype\": \"F32\", \"data_offsets\": [8, 12]}\n}\n",
		`{"__metadata__":null,"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`,
		`{"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"__metadata__":{},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`,
		`{"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}` + "   ",
	} {
		f, err := Decode(build(hdr, buf), Limits{})
		if err != nil {
			t.Errorf("Decode(%q): %v", hdr, err)
			continue
		}
		want := File{Tensors: map[string]Tensor{
			"a": {DType: F32, Shape: []int{1}, Data: buf[8:]},
			"b": {DType: I64, Shape: []int{}, Data: buf[:8]},
		}}
		if d := diffFile(f, want); d != "" {
			t.Errorf("Decode(%q): %s", hdr, d)
		}
	}
}

// TestDecodeZeroSized checks that empty tensors may share an offset, and
// that a zero dimension makes the size zero whatever the other dimensions.
func TestDecodeZeroSized(t *testing.T) {
	big := 1 << (bits.UintSize - 2) // big*big overflows
	hdr := `{"a":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},` +
		fmt.Sprintf(`"b":{"dtype":"F32","shape":[%d,%d,0],"data_offsets":[0,0]},`, big, big) +
		`"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},` +
		`"d":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}`
	f, err := Decode(build(hdr, []byte{7}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := File{Tensors: map[string]Tensor{
		"a": {DType: F32, Shape: []int{2, 0}, Data: []byte{}},
		"b": {DType: F32, Shape: []int{big, big, 0}, Data: []byte{}},
		"c": {DType: U8, Shape: []int{1}, Data: []byte{7}},
		"d": {DType: U8, Shape: []int{0}, Data: []byte{}},
	}}
	if d := diffFile(f, want); d != "" {
		t.Error(d)
	}
	if d := diffFile(mustDecode(t, encode(t, f)), want); d != "" {
		t.Errorf("round trip: %s", d)
	}
}

func mustDecode(t *testing.T, data []byte) File {
	t.Helper()
	f, err := Decode(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// build assembles an encoding from a header and a data buffer.
func build(hdr string, buf []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	b = append(b, hdr...)
	return append(b, buf...)
}

// tensorHeader returns a header with one tensor entry.
func tensorHeader(name, dtype, shape, offsets string) string {
	return fmt.Sprintf(`{%q:{"dtype":%q,"shape":%s,"data_offsets":%s}}`, name, dtype, shape, offsets)
}

type corruption struct {
	name    string
	data    []byte
	lim     Limits
	sentry  error  // ErrFormat or ErrLimit
	message string // a substring of the error

	// How Read, which cannot see the end of its input in advance, differs.
	readTruncated bool // Read reports truncation instead
	readOK        bool // Read succeeds, leaving trailing bytes unread
}

// corruptions returns malformed encodings, each with the error it must cause.
func corruptions() []corruption {
	b16 := make([]byte, 16)
	ok := func(name, hdr string, buf []byte, msg string) corruption {
		return corruption{name: name, data: build(hdr, buf), sentry: ErrFormat, message: msg}
	}
	huge := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	half := uint64(1) << (bits.UintSize / 2) // half*half overflows an int
	return []corruption{
		{name: "empty", data: nil, sentry: ErrFormat, message: "truncated length prefix"},
		{name: "short prefix", data: []byte{1, 0, 0, 0, 0, 0, 0}, sentry: ErrFormat, message: "truncated length prefix"},
		{name: "huge header length", data: append(huge, "{}"...), sentry: ErrLimit, message: "header length"},
		{name: "header length over limit", data: build("{}", nil), lim: Limits{MaxHeaderBytes: 1}, sentry: ErrLimit, message: "header length 2 exceeds the limit"},
		{name: "header past end", data: append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), sentry: ErrFormat, message: "header length 100 exceeds the 2 bytes", readTruncated: true},
		{name: "empty header", data: build("", nil), sentry: ErrFormat, message: "does not start with '{'"},
		{name: "leading space", data: build(" {}", nil), sentry: ErrFormat, message: "does not start with '{'"},
		{name: "array header", data: build("[]", nil), sentry: ErrFormat, message: "does not start with '{'"},
		{name: "unterminated JSON", data: build(`{"a":{"dtype":"F32"`, nil), sentry: ErrFormat, message: "header JSON"},
		{name: "trailing comma", data: build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},}`, b16[:4]), sentry: ErrFormat, message: "header JSON"},
		{name: "trailing data", data: build(`{}{}`, nil), sentry: ErrFormat, message: "trailing data"},
		{name: "trailing garbage", data: build(`{} x`, nil), sentry: ErrFormat, message: "trailing data"},
		{name: "NUL padding", data: build("{}\x00", nil), sentry: ErrFormat, message: "trailing data"},
		{name: "invalid UTF-8", data: build("{\"\xff\":{}}", nil), sentry: ErrFormat, message: "UTF-8"},
		{name: "key not string", data: build(`{1:2}`, nil), sentry: ErrFormat, message: "header JSON"},
		ok("duplicate tensor", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, b16[:2], `duplicate header key "a"`),
		ok("duplicate field", `{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, b16[:1], `tensor "a": duplicate field "dtype"`),
		ok("unknown field", `{"a":{"dtype":"U8","Shape":[1],"shape":[1],"data_offsets":[0,1]}}`, b16[:1], `tensor "a": unknown field "Shape"`),
		ok("missing dtype", `{"a":{"shape":[1],"data_offsets":[0,1]}}`, b16[:1], `tensor "a": missing field "dtype"`),
		ok("missing shape", `{"a":{"dtype":"U8","data_offsets":[0,1]}}`, b16[:1], `tensor "a": missing field "shape"`),
		ok("missing offsets", `{"a":{"dtype":"U8","shape":[1]}}`, nil, `tensor "a": missing field "data_offsets"`),
		ok("entry not object", `{"a":5}`, nil, `tensor "a": entry is not an object`),
		ok("entry null", `{"a":null}`, nil, `tensor "a": entry is not an object`),
		ok("empty name", tensorHeader("", "U8", "[1]", "[0,1]"), b16[:1], "empty tensor name"),
		ok("unknown dtype", tensorHeader("a", "F128", "[1]", "[0,16]"), b16, `tensor "a": unknown dtype "F128"`),
		ok("lowercase dtype", tensorHeader("a", "f32", "[1]", "[0,4]"), b16[:4], `tensor "a": unknown dtype "f32"`),
		ok("dtype not string", `{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, b16[:4], `tensor "a": dtype is 4, not a string`),
		ok("shape not array", tensorHeader("a", "U8", "1", "[0,1]"), b16[:1], `tensor "a": shape is not an array`),
		ok("shape null", tensorHeader("a", "U8", "null", "[0,1]"), b16[:1], `tensor "a": shape is not an array`),
		ok("negative dimension", tensorHeader("a", "U8", "[2,-1]", "[0,1]"), b16[:1], `tensor "a": shape holds negative value -1`),
		ok("fractional dimension", tensorHeader("a", "U8", "[1.5]", "[0,1]"), b16[:1], `tensor "a": shape holds 1.5`),
		ok("exponent dimension", tensorHeader("a", "U8", "[1e1]", "[0,10]"), b16[:10], `tensor "a": shape holds 1e1`),
		ok("string dimension", tensorHeader("a", "U8", `["1"]`, "[0,1]"), b16[:1], `tensor "a": shape holds 1, not an integer`),
		ok("dimension beyond uint64", tensorHeader("a", "U8", "[18446744073709551616]", "[0,1]"), b16[:1], "not a 64-bit unsigned integer"),
		ok("dimension beyond int", tensorHeader("a", "U8", "[0,9223372036854775808]", "[0,0]"), nil, "out of range"),
		ok("overflowing shape", tensorHeader("a", "F32", fmt.Sprintf("[%d,%d]", half, half), "[0,0]"), nil, fmt.Sprintf(`tensor "a": shape [%d %d]: size overflows`, half, half)),
		ok("overflowing byte size", tensorHeader("a", "F64", fmt.Sprintf("[%d]", uint64(1)<<(bits.UintSize-3)), "[0,0]"), nil, "size overflows"),
		ok("rank too large", tensorHeader("a", "U8", "["+strings.Repeat("1,", MaxRank)+"1]", "[0,1]"), b16[:1], "more than 64 elements"),
		ok("one offset", tensorHeader("a", "U8", "[1]", "[1]"), b16[:1], "data_offsets has 1 elements, want 2"),
		ok("three offsets", tensorHeader("a", "U8", "[1]", "[0,1,1]"), b16[:1], "data_offsets has more than 2 elements"),
		ok("negative offset", tensorHeader("a", "U8", "[1]", "[-1,0]"), b16[:1], "data_offsets holds negative value -1"),
		ok("reversed offsets", tensorHeader("a", "U8", "[0]", "[1,0]"), b16[:1], "data_offsets [1, 0] are reversed"),
		ok("size mismatch", tensorHeader("a", "F32", "[2]", "[0,4]"), b16[:4], `tensor "a": shape [2] of F32 needs 8 bytes, data_offsets [0, 4] hold 4`),
		ok("offset out of range", tensorHeader("a", "U8", "[4]", "[16,20]"), b16, `tensor "a": data_offsets [16, 20] leave a gap after offset 0`),
		{
			name: "end past buffer", sentry: ErrFormat, message: "tensors cover 20 bytes but the data buffer has 16 bytes", readTruncated: true,
			data: build(tensorHeader("a", "U8", "[20]", "[0,20]"), b16),
		},
		ok("huge offsets", tensorHeader("a", "U8", "[1]", "[18446744073709551614,18446744073709551615]"), b16, "leave a gap"),
		{
			name: "buffer longer than tensors", sentry: ErrFormat, message: "tensors cover 4 bytes but the data buffer has 5 bytes", readOK: true,
			data: build(tensorHeader("a", "U8", "[4]", "[0,4]"), b16[:5]),
		},
		ok("gap at start", tensorHeader("a", "U8", "[4]", "[1,5]"), b16[:5], "leave a gap after offset 0"),
		ok("gap between", `{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[5,9]}}`, b16[:9], `tensor "b": data_offsets [5, 9] leave a gap after offset 4`),
		ok("overlap", `{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, b16[:6], `tensor "b": data_offsets [2, 6] overlap tensor "a"`),
		ok("same range", `{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, b16[:4], `overlap tensor "a"`),
		ok("empty tensor inside another", `{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`, b16[:4], `tensor "b": data_offsets [2, 2] overlap tensor "a"`),
		ok("metadata not object", `{"__metadata__":[]}`, nil, "__metadata__ is not an object"),
		ok("metadata value number", `{"__metadata__":{"a":1}}`, nil, `__metadata__: value of "a" is not a string`),
		ok("metadata value object", `{"__metadata__":{"a":{}}}`, nil, `__metadata__: value of "a" is not a string`),
		ok("metadata duplicate key", `{"__metadata__":{"a":"x","a":"y"}}`, nil, `__metadata__: duplicate key "a"`),
		ok("duplicate metadata", `{"__metadata__":{},"__metadata__":{}}`, nil, `duplicate header key "__metadata__"`),
		{
			name: "too many tensors", lim: Limits{MaxTensors: 1}, sentry: ErrLimit, message: "more than 1 tensors",
			data: build(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil),
		},
		{
			name: "total over limit", lim: Limits{MaxTotalBytes: 100}, sentry: ErrLimit, message: "data buffer of 200 bytes exceeds the total limit of 100 bytes",
			data: build(tensorHeader("a", "U8", "[200]", "[0,200]"), make([]byte, 200)),
		},
		{
			name: "header over total limit", lim: Limits{MaxTotalBytes: 10}, sentry: ErrLimit, message: "exceeds the total limit",
			data: build(`{"__metadata__":{}}`, nil),
		},
	}
}

func TestDecodeCorrupt(t *testing.T) {
	for _, c := range corruptions() {
		t.Run(c.name, func(t *testing.T) {
			check := func(fn string, f File, err error, sentry error, message string) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded: %+v", fn, f)
				}
				if !errors.Is(err, sentry) {
					t.Errorf("%s error %q does not wrap %v", fn, err, sentry)
				}
				if !strings.Contains(err.Error(), message) {
					t.Errorf("%s error %q does not contain %q", fn, err, message)
				}
			}
			f, err := Decode(c.data, c.lim)
			check("Decode", f, err, c.sentry, c.message)

			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err = ReadFile(path, c.lim)
			if c.sentry == ErrLimit {
				// ReadFile may refuse on the file size alone.
				check("ReadFile", f, err, ErrLimit, "limit")
			} else {
				check("ReadFile", f, err, c.sentry, c.message)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile error %q does not name the file", err)
			}

			f, err = Read(bytes.NewReader(c.data), c.lim)
			switch {
			case c.readOK:
				if err != nil {
					t.Errorf("Read: %v", err)
				}
			case c.readTruncated:
				check("Read", f, err, io.ErrUnexpectedEOF, "truncated")
			default:
				check("Read", f, err, c.sentry, c.message)
			}
		})
	}
}

func TestDecodeTruncated(t *testing.T) {
	data := encode(t, sample())
	for n := range len(data) {
		if f, err := Decode(data[:n], Limits{}); !errors.Is(err, ErrFormat) {
			t.Fatalf("Decode of %d of %d bytes = %+v, %v; want ErrFormat", n, len(data), f, err)
		}
		_, err := Read(bytes.NewReader(data[:n]), Limits{})
		if !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Read of %d of %d bytes: error %v; want truncation", n, len(data), err)
		}
	}
}

// errReader fails after delivering its data.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestReadIOError(t *testing.T) {
	data := encode(t, sample())
	boom := errors.New("boom")
	_, err := Read(&errReader{bytes.NewReader(data[:len(data)-3]), boom}, Limits{})
	if !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
		t.Errorf("Read error = %v, want the reader's error", err)
	}
}

func TestReadStopsAtEnd(t *testing.T) {
	data := encode(t, sample())
	r := bytes.NewReader(append(slices.Clip(data), "next"...))
	if _, err := Read(r, Limits{}); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "next" {
		t.Errorf("Read left %q unread, want %q", rest, "next")
	}
}

// allocated returns the bytes allocated while running f.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReadBoundedAllocation checks that Read and ReadFile do not allocate
// what an input claims without the input holding it.
func TestReadBoundedAllocation(t *testing.T) {
	const maxAlloc = 16 << 20
	claim := min(60<<30, uint64(math.MaxInt))
	tests := []struct{ name, hdr string }{
		// A valid header announcing a 60 GiB buffer (2 GiB on 32-bit
		// platforms), which is absent.
		{"huge buffer", tensorHeader("a", "U8", fmt.Sprintf("[%d]", claim), fmt.Sprintf("[0,%d]", claim))},
		// A header length of 90 MB, within the default limit, with no header.
		{"huge header", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := build(tt.hdr, []byte("only a few bytes"))
			if tt.hdr == "" {
				binary.LittleEndian.PutUint64(data, 90_000_000)
			}
			var err error
			if n := allocated(func() { _, err = Read(bytes.NewReader(data), Limits{}) }); n > maxAlloc {
				t.Errorf("Read allocated %d bytes", n)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Read error = %v, want truncation", err)
			}
			path := filepath.Join(t.TempDir(), "claim.safetensors")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if n := allocated(func() { _, err = ReadFile(path, Limits{}) }); n > maxAlloc {
				t.Errorf("ReadFile allocated %d bytes", n)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("ReadFile error = %v, want ErrFormat", err)
			}
		})
	}
}

func TestReadLargeBuffer(t *testing.T) {
	// Larger than readN's chunk, so that Read grows its buffer as it reads.
	v := make([]float32, 3<<20/4+5)
	for i := range v {
		v[i] = float32(i)
	}
	want := File{Tensors: map[string]Tensor{"v": Float32Tensor([]int{len(v)}, v)}}
	got, err := Read(bytes.NewReader(encode(t, want)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffFile(got, want); d != "" {
		t.Error(d)
	}
}

func TestDecodeAliasing(t *testing.T) {
	f := File{Tensors: map[string]Tensor{
		"a": {DType: U8, Shape: []int{2}, Data: []byte{1, 2}},
		"b": {DType: U8, Shape: []int{2}, Data: []byte{3, 4}},
	}}
	data := encode(t, f)
	got, err := Decode(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a := got.Tensors["a"].Data
	if &a[0] != &data[len(data)-4] {
		t.Errorf("Decode copied tensor data; want it to alias the input")
	}
	_ = append(a, 0xee)
	if b := got.Tensors["b"].Data; !bytes.Equal(b, []byte{3, 4}) {
		t.Errorf("appending to tensor a overwrote tensor b: %v", b)
	}
}

func TestEncodeInvalid(t *testing.T) {
	f32 := Float32Tensor([]int{1}, []float32{1})
	tests := []struct {
		name string
		file File
		msg  string
	}{
		{"empty name", File{Tensors: map[string]Tensor{"": f32}}, "empty tensor name"},
		{"reserved name", File{Tensors: map[string]Tensor{"__metadata__": f32}}, "reserved"},
		{"invalid UTF-8 name", File{Tensors: map[string]Tensor{"a\xff": f32}}, "not valid UTF-8"},
		{"invalid UTF-8 metadata", File{Metadata: map[string]string{"k": "\xc3"}}, "not valid UTF-8"},
		{"unknown dtype", File{Tensors: map[string]Tensor{"a": {DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}}, `unknown dtype "F128"`},
		{"negative dimension", File{Tensors: map[string]Tensor{"a": {DType: U8, Shape: []int{-1}}}}, "negative dimension -1"},
		{"short data", File{Tensors: map[string]Tensor{"a": {DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}, "needs 8 bytes, data has 4"},
		{"overflow", File{Tensors: map[string]Tensor{"a": {DType: F32, Shape: []int{math.MaxInt/2 + 1, 2}}}}, "size overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Encode(&b, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Encode error = %v, want one containing %q", err, tt.msg)
			}
			if b.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", b.Len())
			}
			dir := t.TempDir()
			if err := WriteFile(filepath.Join(dir, "x.safetensors"), tt.file); err == nil {
				t.Errorf("WriteFile succeeded")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("WriteFile left %d files behind", len(entries))
			}
		})
	}
}

func TestEncodeWriteError(t *testing.T) {
	boom := errors.New("boom")
	if err := Encode(failWriter{boom}, sample()); !errors.Is(err, boom) {
		t.Errorf("Encode error = %v, want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestFloatAccessors(t *testing.T) {
	f32 := []float32{0, float32(math.Copysign(0, -1)), 1.5, -3, float32(math.Inf(-1)), math.MaxFloat32, math.SmallestNonzeroFloat32}
	tt := Float32Tensor([]int{7, 1}, f32)
	if tt.DType != F32 || !slices.Equal(tt.Shape, []int{7, 1}) || len(tt.Data) != 28 {
		t.Fatalf("Float32Tensor = %+v", tt)
	}
	if !bytes.Equal(tt.Data[8:12], []byte{0, 0, 0xc0, 0x3f}) {
		t.Errorf("1.5 encoded as % x, want little-endian 3fc00000", tt.Data[8:12])
	}
	got, err := tt.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range f32 {
		if math.Float32bits(got[i]) != math.Float32bits(f32[i]) {
			t.Errorf("Float32s()[%d] = %v, want %v", i, got[i], f32[i])
		}
	}
	nan := math.Float32frombits(0x7fc00123)
	if got, _ := Float32Tensor([]int{1}, []float32{nan}).Float32s(); math.Float32bits(got[0]) != 0x7fc00123 {
		t.Errorf("NaN payload not preserved: %x", math.Float32bits(got[0]))
	}

	f64 := []float64{math.Pi, -0.0, math.Inf(1), math.SmallestNonzeroFloat64, 7}
	tt = Float64Tensor([]int{5}, f64)
	if !bytes.Equal(tt.Data[32:40], []byte{0, 0, 0, 0, 0, 0, 0x1c, 0x40}) {
		t.Errorf("7.0 encoded as % x, want little-endian 401c000000000000", tt.Data[32:40])
	}
	got64, err := tt.Float64s()
	if err != nil || !slices.Equal(got64, f64) {
		t.Errorf("Float64s() = %v, %v; want %v", got64, err, f64)
	}

	if _, err := tt.Float32s(); err == nil {
		t.Errorf("Float32s of an F64 tensor succeeded")
	}
	if _, err := (Tensor{DType: F64, Shape: []int{2}, Data: make([]byte, 8)}).Float64s(); err == nil {
		t.Errorf("Float64s of a tensor with short data succeeded")
	}

	// The constructors copy their arguments.
	shape := []int{1}
	v := []float32{1}
	tt = Float32Tensor(shape, v)
	shape[0], v[0] = 9, 9
	if got, _ := tt.Float32s(); tt.Shape[0] != 1 || got[0] != 1 {
		t.Errorf("Float32Tensor aliases its arguments")
	}

	for _, shape := range [][]int{{2}, {-1}, {}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Float32Tensor(%v, 3 values) did not panic", shape)
				}
			}()
			Float32Tensor(shape, make([]float32, 3))
		}()
	}
	if s := Float64Tensor(nil, []float64{2}); len(s.Shape) != 0 || len(s.Data) != 8 {
		t.Errorf("scalar Float64Tensor = %+v", s)
	}
}

func TestDTypeSize(t *testing.T) {
	sizes := map[DType]int{
		BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
		U16: 2, I16: 2, F16: 2, BF16: 2,
		U32: 4, I32: 4, F32: 4,
		U64: 8, I64: 8, F64: 8,
		"": 0, "f32": 0, "F128": 0, "C64": 0,
	}
	for d, want := range sizes {
		if got := d.Size(); got != want {
			t.Errorf("%q.Size() = %d, want %d", d, got, want)
		}
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	first := File{Tensors: map[string]Tensor{"a": Float32Tensor([]int{1}, []float32{1})}}
	second := sample()
	for _, f := range []File{first, second} {
		if err := WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if d := diffFile(got, f); d != "" {
			t.Error(d)
		}
	}
	assertOnly(t, dir, "m.safetensors")
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode = %v, want 0644", st.Mode().Perm())
		}
	}

	// A relative path is resolved against the working directory.
	t.Chdir(dir)
	if err := WriteFile("rel.safetensors", first); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, "m.safetensors", "rel.safetensors")
}

// assertOnly checks that dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func TestWriteAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	old := encode(t, sample())
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		w.Write(make([]byte, 3<<20)) // more than the buffer, so part reaches the file
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("atomicfile.WriteFile error = %v, want %v", err, boom)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("failed write changed the file")
	}
	assertOnly(t, dir, "m.safetensors")

	// The same holds where there was no file before.
	fresh := filepath.Join(dir, "new.safetensors")
	if err := atomicfile.WriteFile(fresh, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("atomicfile.WriteFile error = %v, want %v", err, boom)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed write created the file: %v", err)
	}
	assertOnly(t, dir, "m.safetensors")

	if err := WriteFile(filepath.Join(dir, "missing", "m.safetensors"), sample()); err == nil {
		t.Errorf("WriteFile into a missing directory succeeded")
	}
}

// TestWriteFileConcurrentReader checks that a reader never observes a
// partial file while the file is being rewritten.
func TestWriteFileConcurrentReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	small := File{Tensors: map[string]Tensor{"a": Float32Tensor([]int{1}, []float32{1})}}
	big := File{Tensors: map[string]Tensor{"a": Float32Tensor([]int{1 << 18}, make([]float32, 1<<18))}}
	if err := WriteFile(path, small); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := ReadFile(path, Limits{}); err != nil {
				t.Errorf("reader saw a bad file: %v", err)
				return
			}
		}
	})
	for i := range 30 {
		f := small
		if i%2 == 0 {
			f = big
		}
		if err := WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "absent"), Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	path := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, Limits{MaxTotalBytes: 64}); !errors.Is(err, ErrLimit) {
		t.Errorf("ReadFile over the size limit: %v, want ErrLimit", err)
	}
	// Trailing bytes after the buffer make a file invalid.
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write([]byte{0})
	fh.Close()
	if _, err := ReadFile(path, Limits{}); !errors.Is(err, ErrFormat) {
		t.Errorf("ReadFile with a trailing byte: %v, want ErrFormat", err)
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{MaxTensors: 3, MaxHeaderBytes: -1}.orDefault()
	want := Limits{MaxHeaderBytes: DefaultLimits.MaxHeaderBytes, MaxTotalBytes: DefaultLimits.MaxTotalBytes, MaxTensors: 3}
	if got != want {
		t.Errorf("orDefault = %+v, want %+v", got, want)
	}
}
