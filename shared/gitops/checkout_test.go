package gitops

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// newClone makes an ordinary repository, as `git init` and a first commit
// leave it: main checked out, a work tree, receive.denyCurrentBranch unset.
func newClone(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	runGit(t, dir, "init", "-q", "-b", "main")
	writeFiles(t, dir, map[string]string{"envs/dev/kustomization.yaml": kustomization(digest(1)), "README.md": "gitops\n"})
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-q", "-m", "seed")
	return dir
}

// TestLandOnCheckedOutBranch lands on the branch an ordinary clone has
// checked out: a clean work tree follows the branch; a dirty one refuses the
// push with ErrDirtyWorkTree (permanent), leaving the branch, the work tree
// and the refs as they were.
func TestLandOnCheckedOutBranch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dirty func(t *testing.T, dir string)
	}{
		{name: "clean"},
		{name: "an edited tracked file", dirty: func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"README.md": "edited by hand\n"})
		}},
		{name: "a staged change", dirty: func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"notes.txt": "staged\n"})
			runGit(t, dir, "add", "notes.txt")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newClone(t)
			if tc.dirty != nil {
				tc.dirty(t, dir)
			}
			before := runGit(t, dir, "rev-parse", "main")
			status := runGit(t, dir, "status", "--porcelain")
			r, err := New(dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.Land(testContext(t), setDigest("dev", digest(2)), "promote", time.Now())
			file, rerr := os.ReadFile(filepath.Join(dir, "envs/dev/kustomization.yaml"))
			if rerr != nil {
				t.Fatal(rerr)
			}
			if refs := runGit(t, dir, "for-each-ref", "--format=%(refname)", "refs/conveyor/"); refs != "" {
				t.Errorf("refs left behind: %s", refs)
			}
			if tc.dirty == nil {
				if err != nil {
					t.Fatalf("Land on a checked-out main: %v", err)
				}
				if got := runGit(t, dir, "rev-parse", "main"); got != c.SHA {
					t.Errorf("main = %s, want %s", got, c.SHA)
				}
				if !strings.Contains(string(file), digest(2)) {
					t.Errorf("the work tree was not updated:\n%s", file)
				}
				if s := runGit(t, dir, "status", "--porcelain"); s != "" {
					t.Errorf("the work tree is not clean after the push:\n%s", s)
				}
				return
			}
			if !errors.Is(err, ErrDirtyWorkTree) || !retry.IsPermanent(err) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Land = %v, want a permanent ErrDirtyWorkTree naming %s", err, dir)
			}
			if got := runGit(t, dir, "rev-parse", "main"); got != before {
				t.Errorf("main moved to %s", got)
			}
			if !strings.Contains(string(file), digest(1)) {
				t.Errorf("the work tree changed:\n%s", file)
			}
			if s := runGit(t, dir, "status", "--porcelain"); s != status {
				t.Errorf("status = %q, want %q", s, status)
			}
		})
	}
}
