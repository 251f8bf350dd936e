package safetensors

import (
	"fmt"
	"os"

	"github.com/difftune/difftune/nn/atomicfile"
)

// WriteFile atomically writes f in safetensors format to the named file,
// creating it with mode 0644 or replacing it.
//
// The encoding is written to a temporary file in the same directory, which
// is synced to stable storage and then renamed over path; the directory is
// synced afterwards so that the rename itself is durable. A reader of path
// therefore sees either its previous content or the complete new file, never
// a partial one, and on failure the temporary file is removed. f is
// validated as by [Encode] before any file is created.
func WriteFile(path string, f File) error {
	e, err := newEncoding(f)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, e.writeTo)
}

// ReadFile reads and decodes the named safetensors file, performing the
// checks of [Decode]. For a regular file, the header's claims are checked
// against the file size before the data buffer is allocated, and the data
// must end exactly at the end of the file.
func ReadFile(path string, lim Limits) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	size := int64(-1)
	if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
		if lim := lim.orDefault(); size > lim.MaxTotalBytes {
			return File{}, fmt.Errorf("%s: %w: file size %d exceeds the limit of %d bytes", path, ErrLimit, size, lim.MaxTotalBytes)
		}
	}
	f, err := read(fh, lim, size)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
