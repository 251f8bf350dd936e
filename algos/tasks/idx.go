package tasks

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// IDX is an array of unsigned bytes read from an IDX file (the format of
// MNIST and Fashion-MNIST): Data holds the product of Dims bytes, the last
// dimension varying fastest.
type IDX struct {
	Dims []int
	Data []byte
}

// MaxIDXBytes bounds the data of an IDX file a reader accepts (1 GiB; the
// largest Fashion-MNIST file holds 47 MB).
const MaxIDXBytes = 1 << 30

// maxIDXDims bounds the number of dimensions (an IDX file of images has 3).
const maxIDXDims = 16

// idxChunk is the most that reading grows the data by before the bytes are
// there: a header that promises more than the input holds costs at most
// twice what the input holds.
const idxChunk = 1 << 20

// ReadIDX reads an IDX file of unsigned bytes, plain or gzip-compressed
// (detected by its magic 1f 8b). Errors name the file and what is wrong
// with it.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	m, err := ParseIDX(f, size)
	if err != nil {
		return nil, fmt.Errorf("idx file %s: %w", path, err)
	}
	return m, nil
}

// ParseIDX decodes an IDX file of unsigned bytes from r, plain or
// gzip-compressed: the magic 00 00 08 (unsigned bytes) and the number of
// dimensions, each dimension a big-endian uint32, then the data, nothing
// after it. size is the number of bytes r holds (a file's size), or −1 when
// unknown: a plain file whose header promises more or less data than size
// is refused before any is read. Whatever the header claims, the data grows
// only as its bytes arrive, so a malformed input never makes it allocate
// more than about twice what it holds (or MaxIDXBytes).
func ParseIDX(r io.Reader, size int64) (*IDX, error) {
	br := bufio.NewReader(r)
	compressed := false
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r, compressed, size = zr, true, -1
	} else {
		r = br
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, readErr("the 4-byte magic", err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("not an IDX file: magic % x, want 00 00 08 <dims>", head[:])
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("element type 0x%02x unsupported: only unsigned bytes (0x08)", head[2])
	}
	nd := int(head[3])
	if nd == 0 || nd > maxIDXDims {
		return nil, fmt.Errorf("%d dimensions, want 1 to %d", nd, maxIDXDims)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, readErr(fmt.Sprintf("the %d dimensions", nd), err)
	}
	m := &IDX{Dims: make([]int, nd)}
	var prod uint64 = 1
	for i := range m.Dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		m.Dims[i] = int(d)
		// prod ≤ MaxIDXBytes and d < 2³² keep the product within 62 bits.
		if prod *= uint64(d); prod > MaxIDXBytes {
			return nil, fmt.Errorf("dimensions %v: more than %d bytes of data", dimsSoFar(raw, i), MaxIDXBytes)
		}
	}
	total := int(prod)
	if head := int64(4 + 4*nd); size >= 0 && !compressed && size-head != int64(total) {
		return nil, fmt.Errorf("dimensions %v declare %d bytes of data, the file holds %d after its %d-byte header", m.Dims, total, size-head, head)
	}
	m.Data = make([]byte, 0, min(total, idxChunk))
	for len(m.Data) < total {
		n := min(total-len(m.Data), idxChunk)
		m.Data = slices.Grow(m.Data, n)
		got, err := io.ReadFull(r, m.Data[len(m.Data):len(m.Data)+n])
		m.Data = m.Data[:len(m.Data)+got]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated: dimensions %v declare %d bytes of data, the file ends after %d", m.Dims, total, len(m.Data))
			}
			return nil, fmt.Errorf("reading the data: %w", err)
		}
	}
	// One byte more must be the end (for gzip, reading to its end checks
	// the stream's CRC and length).
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return nil, fmt.Errorf("trailing bytes after the %d bytes of data that dimensions %v declare", total, m.Dims)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("after the data: %w", err)
	}
	return m, nil
}

// readErr describes a failure to read a part of the header.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated: the file ends within %s", what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// dimsSoFar decodes the first i+1 dimensions of a header for an error.
func dimsSoFar(raw []byte, i int) []uint32 {
	d := make([]uint32, i+1)
	for j := range d {
		d[j] = binary.BigEndian.Uint32(raw[4*j:])
	}
	return d
}
