package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxRank is the largest number of dimensions a decoded tensor may have.
const MaxRank = 64

// Limits bounds the resources a decoder may commit to an input. A zero (or
// negative) field takes its value from [DefaultLimits].
type Limits struct {
	// MaxHeaderBytes bounds the length of the JSON header.
	MaxHeaderBytes int64
	// MaxTotalBytes bounds the size of the whole encoding: the 8-byte
	// length prefix, the header and the data buffer.
	MaxTotalBytes int64
	// MaxTensors bounds the number of tensors.
	MaxTensors int
}

// DefaultLimits are the limits used for the zero fields of a [Limits].
// The header bound matches the reference implementation's.
var DefaultLimits = Limits{
	MaxHeaderBytes: 100_000_000,
	MaxTotalBytes:  64 << 30,
	MaxTensors:     1 << 20,
}

// orDefault returns lim with its zero or negative fields replaced by the
// corresponding fields of DefaultLimits.
func (lim Limits) orDefault() Limits {
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if lim.MaxTotalBytes <= 0 {
		lim.MaxTotalBytes = DefaultLimits.MaxTotalBytes
	}
	if lim.MaxTensors <= 0 {
		lim.MaxTensors = DefaultLimits.MaxTensors
	}
	return lim
}

// Decode decodes a complete safetensors encoding held in data.
//
// Decode checks everything the format requires: the header length is within
// lim and within data; the header is a well-formed UTF-8 JSON object
// starting with '{', followed only by whitespace, without duplicate keys;
// "__metadata__", if present, maps strings to strings; every other entry has
// a non-empty name and exactly the fields "dtype" (a known [DType]), "shape"
// (at most [MaxRank] non-negative integers) and "data_offsets" (two integers
// begin <= end) with end-begin equal to the dtype size times the product of
// the shape; and the tensors' byte ranges cover the buffer exactly, without
// gaps or overlaps, up to the end of data. Errors wrap [ErrFormat] or
// [ErrLimit] and name the offending tensor.
//
// The returned maps are never nil. The Data of each returned tensor aliases
// data, with its capacity clipped so that appending to it cannot overwrite a
// neighbour; the caller must not modify data while the File is in use.
func Decode(data []byte, lim Limits) (File, error) {
	lim = lim.orDefault()
	if len(data) < 8 {
		return File{}, formatErr("truncated length prefix: %d of 8 bytes", len(data))
	}
	avail := uint64(len(data) - 8)
	n := binary.LittleEndian.Uint64(data)
	if err := checkHeaderLen(n, avail, lim); err != nil {
		return File{}, err
	}
	h, err := parseHeader(data[8:8+n], lim)
	if err != nil {
		return File{}, err
	}
	if err := checkBufLen(n, h.bufLen, avail, lim); err != nil {
		return File{}, err
	}
	return h.file(data[8+n:]), nil
}

// Read decodes a safetensors encoding from r. It reads exactly the length
// prefix, the header and the data buffer the header describes, and nothing
// beyond; it performs the same checks as [Decode].
//
// Read never trusts the sizes announced by its input: beyond 1 MiB, its
// buffers for the header and the data grow with the bytes actually read, so
// a truncated input announcing a huge buffer fails without a huge
// allocation. The tensors of the result share one newly allocated buffer.
func Read(r io.Reader, lim Limits) (File, error) {
	return read(r, lim, -1)
}

// read implements Read. If size is non-negative, it is the exact size of the
// encoding in r, which must be entirely consumed by the header and buffer.
func read(r io.Reader, lim Limits, size int64) (File, error) {
	lim = lim.orDefault()
	avail := uint64(unknown)
	if size >= 0 {
		if size < 8 {
			return File{}, formatErr("truncated length prefix: %d of 8 bytes", size)
		}
		avail = uint64(size - 8)
	}
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return File{}, readErr("length prefix", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if err := checkHeaderLen(n, avail, lim); err != nil {
		return File{}, err
	}
	hdr, err := readN(r, n, size >= 0)
	if err != nil {
		return File{}, readErr("header", err)
	}
	h, err := parseHeader(hdr, lim)
	if err != nil {
		return File{}, err
	}
	if err := checkBufLen(n, h.bufLen, avail, lim); err != nil {
		return File{}, err
	}
	buf, err := readN(r, h.bufLen, size >= 0)
	if err != nil {
		return File{}, readErr("data buffer", err)
	}
	return h.file(buf), nil
}

// unknown is the avail argument of checkHeaderLen and checkBufLen when the
// size of the input is not known in advance.
const unknown = math.MaxUint64

// checkHeaderLen validates the header length n announced by the prefix
// against the limits and against avail, the number of bytes that follow the
// prefix, if known.
func checkHeaderLen(n, avail uint64, lim Limits) error {
	switch {
	case n > uint64(lim.MaxHeaderBytes) || n > math.MaxInt:
		return fmt.Errorf("%w: header length %d exceeds the limit of %d bytes", ErrLimit, n, lim.MaxHeaderBytes)
	case n+8 > uint64(lim.MaxTotalBytes):
		return fmt.Errorf("%w: header length %d exceeds the total limit of %d bytes", ErrLimit, n, lim.MaxTotalBytes)
	case n > avail:
		return formatErr("header length %d exceeds the %d bytes after the length prefix", n, avail)
	}
	return nil
}

// checkBufLen validates the buffer length bufLen described by a header of
// length n against the limits and against avail, the number of bytes that
// follow the length prefix, if known. The caller has checked n with
// checkHeaderLen.
func checkBufLen(n, bufLen, avail uint64, lim Limits) error {
	switch {
	case bufLen > uint64(lim.MaxTotalBytes)-8-n || bufLen > math.MaxInt:
		return fmt.Errorf("%w: data buffer of %d bytes exceeds the total limit of %d bytes", ErrLimit, bufLen, lim.MaxTotalBytes)
	case avail != unknown && bufLen != avail-n:
		return formatErr("tensors cover %d bytes but the data buffer has %d bytes", bufLen, avail-n)
	}
	return nil
}

// readN reads exactly n bytes from r. Unless exact is set, in which case the
// caller vouches that r holds n bytes, the buffer grows with the data read.
func readN(r io.Reader, n uint64, exact bool) ([]byte, error) {
	const chunk = 1 << 20
	if exact || n <= chunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var b bytes.Buffer
	b.Grow(chunk)
	_, err := io.CopyN(&b, r, int64(n)) // n <= math.MaxInt, checked by the caller
	return b.Bytes(), err
}

// readErr describes an error reading part of an encoding.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated %s: %w", ErrFormat, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("safetensors: reading %s: %w", what, err)
}

// formatErr returns an error wrapping ErrFormat with a formatted message.
func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// entry is one tensor as described by the header.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// header is a parsed and validated header.
type header struct {
	meta    map[string]string
	entries []entry // sorted by offset
	bufLen  uint64  // the buffer length the entries cover
}

// file returns the File described by h with tensor data taken from buf,
// whose length is h.bufLen.
func (h *header) file(buf []byte) File {
	f := File{Metadata: h.meta, Tensors: make(map[string]Tensor, len(h.entries))}
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	for _, e := range h.entries {
		f.Tensors[e.name] = Tensor{DType: e.dtype, Shape: e.shape, Data: buf[e.begin:e.end:e.end]}
	}
	return f
}

// parseHeader parses and validates the JSON header hdr.
func parseHeader(hdr []byte, lim Limits) (*header, error) {
	if !utf8.Valid(hdr) {
		return nil, formatErr("header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	p := parser{dec: dec}
	h := new(header)
	if err := p.delim('{'); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for dec.More() {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, formatErr("duplicate header key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if h.meta, err = p.metadata(); err != nil {
				return nil, err
			}
			continue
		}
		if len(h.entries) == lim.MaxTensors {
			return nil, fmt.Errorf("%w: more than %d tensors", ErrLimit, lim.MaxTensors)
		}
		e, err := p.tensor(key)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	if err := p.delim('}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, formatErr("header has trailing data after its JSON object")
	}

	slices.SortFunc(h.entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	prev := ""
	for _, e := range h.entries {
		switch {
		case e.begin < h.bufLen:
			return nil, formatErr("tensor %q: data_offsets [%d, %d] overlap tensor %q", e.name, e.begin, e.end, prev)
		case e.begin > h.bufLen:
			return nil, formatErr("tensor %q: data_offsets [%d, %d] leave a gap after offset %d", e.name, e.begin, e.end, h.bufLen)
		}
		h.bufLen, prev = e.end, e.name
	}
	return h, nil
}

// parser reads a header's JSON tokens.
type parser struct {
	dec *json.Decoder
}

// token returns the next JSON token, failing at the end of the input.
func (p *parser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("%w: header JSON: %w", ErrFormat, err)
	}
	return t, nil
}

// delim consumes the delimiter d.
func (p *parser) delim(d json.Delim) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if t != d {
		return formatErr("header JSON: found %v, expected %v", t, d)
	}
	return nil
}

// str consumes a string.
func (p *parser) str() (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", formatErr("header JSON: found %v, expected a string", t)
	}
	return s, nil
}

// metadata consumes the value of the "__metadata__" entry: null or an object
// mapping strings to strings.
func (p *parser) metadata() (map[string]string, error) {
	t, err := p.token()
	if err != nil || t == nil { // t == nil for JSON null
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, formatErr("%s is not an object", metadataKey)
	}
	m := make(map[string]string)
	for p.dec.More() {
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, formatErr("%s: duplicate key %q", metadataKey, k)
		}
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		v, ok := t.(string)
		if !ok {
			return nil, formatErr("%s: value of %q is not a string", metadataKey, k)
		}
		m[k] = v
	}
	return m, p.delim('}')
}

// tensor consumes and validates the header entry of the tensor name.
func (p *parser) tensor(name string) (entry, error) {
	e := entry{name: name}
	if name == "" {
		return e, formatErr("empty tensor name")
	}
	t, err := p.token()
	if err != nil {
		return e, err
	}
	if t != json.Delim('{') {
		return e, formatErr("tensor %q: entry is not an object", name)
	}
	var dims, offsets []uint64
	var hasDType, hasShape, hasOffsets bool
	for p.dec.More() {
		field, err := p.str()
		if err != nil {
			return e, err
		}
		var dup bool
		switch field {
		case "dtype":
			dup, hasDType = hasDType, true
			var t json.Token
			if t, err = p.token(); err == nil {
				s, ok := t.(string)
				if !ok {
					return e, formatErr("tensor %q: dtype is %v, not a string", name, t)
				}
				e.dtype = DType(s)
			}
		case "shape":
			dup, hasShape = hasShape, true
			dims, err = p.uints(name, field, MaxRank)
		case "data_offsets":
			dup, hasOffsets = hasOffsets, true
			offsets, err = p.uints(name, field, 2)
		default:
			return e, formatErr("tensor %q: unknown field %q", name, field)
		}
		if dup {
			return e, formatErr("tensor %q: duplicate field %q", name, field)
		}
		if err != nil {
			return e, err
		}
	}
	if err := p.delim('}'); err != nil {
		return e, err
	}
	switch {
	case !hasDType:
		return e, formatErr("tensor %q: missing field \"dtype\"", name)
	case !hasShape:
		return e, formatErr("tensor %q: missing field \"shape\"", name)
	case !hasOffsets:
		return e, formatErr("tensor %q: missing field \"data_offsets\"", name)
	case len(offsets) != 2:
		return e, formatErr("tensor %q: data_offsets has %d elements, want 2", name, len(offsets))
	}
	size := e.dtype.Size()
	if size == 0 {
		return e, formatErr("tensor %q: unknown dtype %q", name, e.dtype)
	}
	nbytes, err := byteSize(size, dims)
	if err != nil {
		return e, formatErr("tensor %q: shape %v: %v", name, dims, err)
	}
	e.begin, e.end = offsets[0], offsets[1]
	if e.begin > e.end {
		return e, formatErr("tensor %q: data_offsets [%d, %d] are reversed", name, e.begin, e.end)
	}
	if e.end-e.begin != nbytes {
		return e, formatErr("tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d",
			name, dims, e.dtype, nbytes, e.begin, e.end, e.end-e.begin)
	}
	e.shape = make([]int, len(dims))
	for i, d := range dims {
		e.shape[i] = int(d) // d <= math.MaxInt, checked by byteSize
	}
	return e, nil
}

// uints consumes an array of at most maxLen non-negative integers, the value
// of field of the tensor name.
func (p *parser) uints(name, field string, maxLen int) ([]uint64, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('[') {
		return nil, formatErr("tensor %q: %s is not an array", name, field)
	}
	v := []uint64{}
	for p.dec.More() {
		if len(v) == maxLen {
			return nil, formatErr("tensor %q: %s has more than %d elements", name, field, maxLen)
		}
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, formatErr("tensor %q: %s holds %v, not an integer", name, field, t)
		}
		x, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			if i, err := strconv.ParseInt(string(num), 10, 64); err == nil && i < 0 {
				return nil, formatErr("tensor %q: %s holds negative value %d", name, field, i)
			}
			return nil, formatErr("tensor %q: %s holds %s, not a 64-bit unsigned integer", name, field, num)
		}
		v = append(v, x)
	}
	return v, p.delim(']')
}
