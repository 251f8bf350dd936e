// Package atomicfile replaces files so that a reader, or a crash, never sees
// a partial one: the content goes to a temporary file in the same directory,
// which is synced and then renamed over the target.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile atomically replaces path (mode 0644) by what write produces. On
// failure the temporary file is removed and path keeps its previous content.
func WriteFile(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close() // the error, if any, was reported by the failing step
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for _, step := range []func() error{bw.Flush, func() error { return tmp.Chmod(0o644) }, tmp.Sync, tmp.Close,
		func() error { return os.Rename(tmp.Name(), path) }} {
		if err := step(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: syncing directory: %w", path, err)
	}
	return nil
}

// WriteBytes atomically replaces path by data.
func WriteBytes(path string, data []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir flushes the directory entry changes of dir to stable storage.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing on Windows
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
