// Package crashpoint lets a test kill the process at a named side-effect
// boundary — after an image push, after a git push, after a pull request is
// opened, before a state write — to prove that a restart finishes the work
// without duplicates. It does nothing unless CONVEYOR_CRASHPOINT names the
// point, and the name is read once.
package crashpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env names the crash point to trigger: "name" kills at its first hit,
// "name#N" at its N-th, so that a test can let some work finish first.
const Env = "CONVEYOR_CRASHPOINT"

// The boundaries Conveyor exposes.
const (
	AfterImagePush   = "after-image-push"
	AfterGitPush     = "after-git-push"
	AfterPROpened    = "after-pr-opened"
	BeforeStateWrite = "before-state-write"
	// BeforeGroupCommit is a shared transaction of the embedded database
	// with every write in it applied, before it commits.
	BeforeGroupCommit = "before-group-commit"
)

var armed = sync.OnceValues(func() (string, int64) {
	name, nth, _ := strings.Cut(os.Getenv(Env), "#")
	n, err := strconv.ParseInt(nth, 10, 64)
	if err != nil || n < 1 {
		n = 1
	}
	return name, n
})

var hits atomic.Int64

// Hit kills the process with SIGKILL — no deferred function, no flush — when
// name is the armed crash point and this is its armed hit.
func Hit(name string) {
	a, nth := armed()
	if a == "" || a != name || hits.Add(1) < nth {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is asynchronous: never continue past it
}
