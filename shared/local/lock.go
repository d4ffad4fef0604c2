package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockName is the lock file in a data directory: whoever holds an
// exclusive flock on it owns the directory, and it holds their pid.
const LockName = "conveyor.lock"

// ErrDataDirInUse: another process holds the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// DirLock is a held data directory; Close releases it.
type DirLock struct{ f *os.File }

// LockDataDir takes the data directory for this process. Two runtimes on
// one directory would both consume its queues and write its registry
// journal; the kernel releases the flock when the process dies, however
// it dies, so a stale lock file never blocks a restart.
func LockDataDir(dir string) (*DirLock, error) {
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another conveyor process (%s, holding %s): stop it, or give this one another --data-dir",
				ErrDataDirInUse, dir, holder(f), path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// holder names the process in the lock file, as far as it is known.
func holder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid := strings.TrimSpace(string(b[:n]))
	if _, err := strconv.Atoi(pid); err != nil {
		return "pid unknown"
	}
	return "pid " + pid
}

// Close releases the data directory.
func (l *DirLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}
