package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// headerAlign is the alignment, in bytes, of the start of the data buffer.
// The header is padded with spaces so that 8+len(header) is a multiple of it.
const headerAlign = 8

// Encode writes f to w in safetensors format.
//
// The output is deterministic: tensors are laid out in order of decreasing
// element size and then by name, which, together with the 8-byte alignment
// of the buffer, aligns every tensor to its element size. The header lists
// "__metadata__" first (omitted when f.Metadata is empty), then the tensors
// in buffer order, and is padded with spaces to the alignment.
//
// Encode validates f completely before writing anything: every tensor must
// have a non-empty name other than "__metadata__", a known dtype,
// non-negative dimensions and exactly as much data as its shape requires,
// and all names, metadata keys and values must be valid UTF-8.
func Encode(w io.Writer, f File) error {
	e, err := newEncoding(f)
	if err != nil {
		return err
	}
	return e.writeTo(w)
}

// encoding is a validated File ready to be written.
type encoding struct {
	prefix []byte   // the 8-byte length followed by the padded header
	data   [][]byte // tensor data in buffer order
}

// newEncoding validates f and lays it out.
func newEncoding(f File) (*encoding, error) {
	names := slices.Collect(maps.Keys(f.Tensors))
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("safetensors: encode: %w", err)
		}
		if err := f.Tensors[name].validate(); err != nil {
			return nil, fmt.Errorf("safetensors: encode: tensor %q: %w", name, err)
		}
	}
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("safetensors: encode: metadata entry %q is not valid UTF-8", k)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, sb := f.Tensors[a].DType.Size(), f.Tensors[b].DType.Size()
		return cmp.Or(cmp.Compare(sb, sa), cmp.Compare(a, b))
	})

	var h bytes.Buffer
	h.Write(make([]byte, 8)) // room for the length prefix
	h.WriteByte('{')
	if len(f.Metadata) > 0 {
		writeString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range slices.Sorted(maps.Keys(f.Metadata)) {
			if i > 0 {
				h.WriteByte(',')
			}
			writeString(&h, k)
			h.WriteByte(':')
			writeString(&h, f.Metadata[k])
		}
		h.WriteByte('}')
	}
	e := &encoding{data: make([][]byte, 0, len(names))}
	var off uint64
	for i, name := range names {
		t := f.Tensors[name]
		if i > 0 || len(f.Metadata) > 0 {
			h.WriteByte(',')
		}
		writeString(&h, name)
		h.WriteString(`:{"dtype":`)
		writeString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		h.WriteString(`],"data_offsets":[`)
		h.WriteString(strconv.FormatUint(off, 10))
		h.WriteByte(',')
		off += uint64(len(t.Data))
		h.WriteString(strconv.FormatUint(off, 10))
		h.WriteString("]}")
		e.data = append(e.data, t.Data)
	}
	h.WriteByte('}')
	for h.Len()%headerAlign != 0 {
		h.WriteByte(' ')
	}
	e.prefix = h.Bytes()
	binary.LittleEndian.PutUint64(e.prefix, uint64(len(e.prefix)-8))
	return e, nil
}

// writeTo writes the encoding to w.
func (e *encoding) writeTo(w io.Writer) error {
	if _, err := w.Write(e.prefix); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	for _, d := range e.data {
		if _, err := w.Write(d); err != nil {
			return fmt.Errorf("safetensors: encode: %w", err)
		}
	}
	return nil
}

// checkName reports whether name may be used as a tensor name.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty tensor name")
	case name == metadataKey:
		return fmt.Errorf("tensor name %q is reserved", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("tensor name %q is not valid UTF-8", name)
	}
	return nil
}

// writeString writes s, which must be valid UTF-8, to b as a JSON string.
// Only the characters JSON requires are escaped.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
