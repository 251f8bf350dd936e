package tasks

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX is the plain IDX file of unsigned bytes data with dims.
func encodeIDX(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

// gzipped compresses b.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// tinyIDX is a valid 2×3 file.
func tinyIDX() []byte { return encodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}) }

// TestParseIDX reads a small file plain and gzipped, from bytes and from a
// file, and refuses each kind of malformed input with the error that names
// what is wrong.
func TestParseIDX(t *testing.T) {
	plain := tinyIDX()
	dir := t.TempDir()
	for name, raw := range map[string][]byte{"plain": plain, "gzip": gzipped(plain)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		for how, read := range map[string]func() (*IDX, error){
			"bytes": func() (*IDX, error) { return ParseIDX(bytes.NewReader(raw), -1) },
			"file":  func() (*IDX, error) { return ReadIDX(path) },
		} {
			m, err := read()
			if err != nil {
				t.Fatalf("%s %s: %v", name, how, err)
			}
			if !slices.Equal(m.Dims, []int{2, 3}) || !slices.Equal(m.Data, []byte{1, 2, 3, 4, 5, 6}) {
				t.Errorf("%s %s: dims %v data %v", name, how, m.Dims, m.Data)
			}
		}
	}
	huge := encodeIDX([]int{1 << 16, 1 << 16}, nil)
	gz := gzipped(plain)
	cases := []struct {
		name string
		raw  []byte
		size int64
		want string
	}{
		{"empty", nil, -1, "ends within the 4-byte magic"},
		{"magic", []byte{1, 2, 8, 1, 0, 0, 0, 0}, -1, "not an IDX file"},
		{"float", []byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, -1, "type 0x0d unsupported"},
		{"no dims", []byte{0, 0, 8, 0}, -1, "0 dimensions"},
		{"short header", plain[:9], -1, "ends within the 2 dimensions"},
		{"truncated", plain[:len(plain)-1], -1, "truncated: dimensions [2 3] declare 6 bytes of data, the file ends after 5"},
		{"size", plain[:len(plain)-1], int64(len(plain) - 1), "declare 6 bytes of data, the file holds 5"},
		{"trailing", append(slices.Clone(plain), 0), -1, "trailing bytes"},
		{"huge", huge, -1, "more than 1073741824 bytes"},
		{"overflow", encodeIDX([]int{1 << 31, 1 << 31, 1 << 31}, nil), -1, "more than"},
		{"gzip truncated", gz[:len(gz)-6], -1, "unexpected EOF"},
		{"gzip trailing", append(slices.Clone(gz), 1, 2, 3), -1, "after the data"},
		{"gzip trailing data", gzipped(append(slices.Clone(plain), 7)), -1, "trailing bytes"},
		{"gzip header", gz[:5], -1, "gzip"},
	}
	for _, c := range cases {
		_, err := ParseIDX(bytes.NewReader(c.raw), c.size)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	path := filepath.Join(dir, "short")
	os.WriteFile(path, plain[:len(plain)-2], 0o644)
	if _, err := ReadIDX(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "the file holds 4") {
		t.Errorf("a short file: %v, want its name and its size", err)
	}
}

// FuzzParseIDX checks that the IDX reader never panics, that it accepts a
// plain input only when it is exactly the encoding of what it returns, and
// that it allocates within a bound set by the input's length, whatever the
// header claims.
func FuzzParseIDX(f *testing.F) {
	plain := tinyIDX()
	gz := gzipped(plain)
	f.Add(plain)
	f.Add(gz)
	f.Add(plain[:len(plain)-1])
	f.Add(plain[:7])
	f.Add(gz[:len(gz)/2])
	f.Add(encodeIDX([]int{1 << 20, 28, 28}, []byte{1, 2, 3}))
	f.Add(gzipped(encodeIDX([]int{1 << 20, 28, 28}, make([]byte, 4096))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		isGzip := len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
		// What reading may allocate: the data grows by chunks of idxChunk
		// as it arrives (plain data is at most the input; deflate inflates
		// at most 1032:1), doubled by growing, plus the readers' buffers.
		bound := uint64(2*len(raw) + idxChunk + 1<<20)
		if isGzip {
			bound = uint64(2*1032*len(raw) + 2*idxChunk + 1<<20)
		}
		var before, after runtime.MemStats
		for _, size := range []int64{-1, int64(len(raw))} {
			runtime.ReadMemStats(&before)
			m, err := ParseIDX(bytes.NewReader(raw), size)
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > bound {
				t.Fatalf("%d bytes of input (size %d) allocated %d bytes", len(raw), size, got)
			}
			if err != nil {
				if m != nil {
					t.Fatalf("an error (%v) with a result", err)
				}
				continue
			}
			n := 1
			for _, d := range m.Dims {
				n *= d
			}
			if len(m.Data) != n {
				t.Fatalf("dims %v with %d bytes", m.Dims, len(m.Data))
			}
			if !isGzip && !bytes.Equal(encodeIDX(m.Dims, m.Data), raw) {
				t.Fatalf("accepted %x as dims %v data %x", raw, m.Dims, m.Data)
			}
		}
	})
}
