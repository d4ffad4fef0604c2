// Package crashpoint lets a test kill the process at a named side-effect
// boundary — after an image push, after a git push, after a pull request is
// opened, before a state write — to prove that a restart finishes the work
// without duplicates. It does nothing unless CONVEYOR_CRASHPOINT names the
// point, and the name is read once.
package crashpoint

import (
	"os"
	"sync"
	"syscall"
)

// Env names the crash point to trigger.
const Env = "CONVEYOR_CRASHPOINT"

// The boundaries Conveyor exposes.
const (
	AfterImagePush   = "after-image-push"
	AfterGitPush     = "after-git-push"
	AfterPROpened    = "after-pr-opened"
	BeforeStateWrite = "before-state-write"
)

var armed = sync.OnceValue(func() string { return os.Getenv(Env) })

// Hit kills the process with SIGKILL — no deferred function, no flush — when
// name is the armed crash point.
func Hit(name string) {
	if a := armed(); a != "" && a == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is asynchronous: never continue past it
	}
}
