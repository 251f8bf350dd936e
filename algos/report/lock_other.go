//go:build !unix

package report

import "os"

// tryLock cannot lock here: a lock file with content counts as held (a run
// that crashed leaves one, to be removed by hand, as LockError says).
func tryLock(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	return st.Size() == 0, nil
}
