package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LockName is the advisory lock file of a run directory.
const LockName = ".lock"

// Lock is an advisory lock on a run directory: the file dir/.lock, held
// open and locked (flock(2) where the system has it) for the life of the
// run, with the owner's pid and start time inside for the messages. The
// kernel releases the lock when its owner ends, however it ends, so a lock
// file that nobody holds is stale by construction: of two processes racing
// to take it over, exactly one wins.
type Lock struct {
	path string
	f    *os.File
	once sync.Once
	err  error
}

// lockInfo is the content of a lock file.
type lockInfo struct {
	PID     int    `json:"pid"`
	Started string `json:"started"`
}

// LockError is a run directory held by another process that is running.
type LockError struct {
	Dir     string
	PID     int // 0: its owner had not yet written its pid
	Started string
}

func (e LockError) Error() string {
	if e.PID <= 0 {
		return fmt.Sprintf("%s is in use by another process, which is starting: wait for it to end, or give another -out", e.Dir)
	}
	return fmt.Sprintf("%s is in use by process %d (started %s): wait for it to end, or give another -out (remove %s only if that process is not a run)",
		e.Dir, e.PID, e.Started, filepath.Join(e.Dir, LockName))
}

// LockDir creates dir if needed and locks it. A lock file that no process
// holds (its owner ended without removing it) is taken over, with a notice;
// one that a process holds (this one included) is a LockError.
func LockDir(dir string, notice func(string)) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	path := filepath.Join(dir, LockName)
	raw, _ := json.Marshal(lockInfo{PID: os.Getpid(), Started: time.Now().UTC().Format(time.RFC3339)})
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		got, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		old, present := readLockFile(f)
		if !got {
			f.Close()
			return nil, LockError{Dir: dir, PID: old.PID, Started: old.Started}
		}
		// The previous owner may have removed the file between our open
		// and our lock: then we hold a file that is no longer the lock.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		if present && notice != nil {
			if old.PID > 0 {
				notice(fmt.Sprintf("taking over the stale lock %s of process %d (started %s), which no longer runs", path, old.PID, old.Started))
			} else {
				notice(fmt.Sprintf("taking over the unreadable stale lock %s", path))
			}
		}
		if err := writeLockFile(f, append(raw, '\n')); err != nil {
			os.Remove(path)
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return &Lock{path: path, f: f}, nil
	}
	return nil, fmt.Errorf("lock %s: it keeps being replaced by other processes", path)
}

// readLockFile reads the content of a lock file: its owner, and whether it
// held anything at all.
func readLockFile(f *os.File) (lockInfo, bool) {
	var info lockInfo
	raw, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil || len(raw) == 0 {
		return info, false
	}
	if json.Unmarshal(raw, &info) != nil {
		info = lockInfo{}
	}
	return info, true
}

func writeLockFile(f *os.File, raw []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(raw, 0); err != nil {
		return err
	}
	return f.Sync()
}

// samePath reports whether f is the file that path names now.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Unlock removes the lock file and releases the lock. It may be called more
// than once, from any goroutine (an interrupt releases the lock too).
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		// Removed while still held: a process that opened the file meanwhile
		// finds, once it holds it, that it is no longer the lock.
		if err := os.Remove(l.path); err != nil && !os.IsNotExist(err) {
			l.err = err
		}
		if err := l.f.Close(); err != nil && l.err == nil {
			l.err = err
		}
	})
	return l.err
}
