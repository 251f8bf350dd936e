package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// LockName is the advisory lock file of a run directory.
const LockName = ".lock"

// Lock is an advisory lock on a run directory: the file dir/.lock, created
// exclusively, holding the owner's pid and start time.
type Lock struct {
	path string
}

// lockInfo is the content of a lock file.
type lockInfo struct {
	PID     int    `json:"pid"`
	Started string `json:"started"`
}

// LockError is a run directory held by another process that is running.
type LockError struct {
	Dir     string
	PID     int
	Started string
}

func (e LockError) Error() string {
	return fmt.Sprintf("%s is in use by process %d (started %s): wait for it to end, or give another -out (remove %s only if that process is not a run)",
		e.Dir, e.PID, e.Started, filepath.Join(e.Dir, LockName))
}

// LockDir creates dir if needed and locks it. A lock left by a process that
// no longer runs is taken over, with a notice; one of a running process
// (this one included) is a LockError.
func LockDir(dir string, notice func(string)) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	path := filepath.Join(dir, LockName)
	raw, _ := json.Marshal(lockInfo{PID: os.Getpid(), Started: time.Now().UTC().Format(time.RFC3339)})
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.Write(append(raw, '\n'))
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("lock %s: %w", path, werr)
			}
			return &Lock{path: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt > 0 {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		old, stale := readLock(path)
		if !stale {
			return nil, LockError{Dir: dir, PID: old.PID, Started: old.Started}
		}
		if notice != nil {
			if old.PID > 0 {
				notice(fmt.Sprintf("taking over the stale lock %s of process %d (started %s), which no longer runs", path, old.PID, old.Started))
			} else {
				notice(fmt.Sprintf("taking over the unreadable stale lock %s", path))
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
	}
}

// readLock reads a lock file and says whether its owner is gone: a pid that
// no process has, or a file that cannot be read after a few seconds (an
// owner that died while writing it).
func readLock(path string) (lockInfo, bool) {
	var info lockInfo
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &info)
	}
	if err != nil || info.PID <= 0 {
		st, serr := os.Stat(path)
		return lockInfo{}, serr == nil && time.Since(st.ModTime()) > 5*time.Second
	}
	return info, !alive(info.PID)
}

// Unlock removes the lock file.
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
