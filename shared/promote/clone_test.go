package promote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestAutoReleaseIntoOrdinaryClone promotes with release: auto into a GitOps
// repository that is an ordinary clone with main checked out (no
// receive.denyCurrentBranch=updateInstead): the merge moves main and the
// clean work tree with it. With a dirty work tree the merge is refused as
// permanent, naming the cause, and main, the work tree and the edited file
// stay as they were; once the tree is clean, the same promotion merges.
func TestAutoReleaseIntoOrdinaryClone(t *testing.T) {
	ctx := context.Background()
	f := newFixtureClone(t, "auto", false)
	kfile := filepath.Join(f.repo.Dir, "envs/dev/kustomization.yaml")
	gitCLI := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", f.repo.Dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	out, err := f.p.Promote(ctx, promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)))
	if err != nil || out.Action != promote.Merged {
		t.Fatalf("Promote = %+v, %v; want merged", out, err)
	}
	if data, _ := os.ReadFile(kfile); !strings.Contains(string(data), digest(1)) {
		t.Errorf("the checked-out work tree does not hold the merged digest:\n%s", data)
	}
	if s := gitCLI("status", "--porcelain"); s != "" {
		t.Errorf("the work tree is not clean after the merge:\n%s", s)
	}

	// A person edits a file of the clone and does not commit.
	readme := filepath.Join(f.repo.Dir, "conveyor.yaml")
	data, _ := os.ReadFile(readme)
	if err := os.WriteFile(readme, append(data, []byte("# draft\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	before := gitCLI("rev-parse", "main")
	_, err = f.p.Promote(ctx, promotion(2, time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)))
	if !errors.Is(err, gitops.ErrDirtyWorkTree) || !retry.IsPermanent(err) {
		t.Fatalf("Promote into a dirty clone = %v, want a permanent gitops.ErrDirtyWorkTree", err)
	}
	if got := gitCLI("rev-parse", "main"); got != before {
		t.Errorf("main moved from %s to %s", before, got)
	}
	if data, _ := os.ReadFile(kfile); !strings.Contains(string(data), digest(1)) || strings.Contains(string(data), digest(2)) {
		t.Errorf("the work tree changed:\n%s", data)
	}
	if s := gitCLI("status", "--porcelain"); s != "M conveyor.yaml" {
		t.Errorf("status = %q, want only the person's edit", s)
	}

	gitCLI("checkout", "--", "conveyor.yaml")
	out, err = f.p.Promote(ctx, promotion(2, time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)))
	if err != nil || out.Action != promote.Merged {
		t.Fatalf("Promote after cleaning = %+v, %v; want merged", out, err)
	}
	if data, _ := os.ReadFile(kfile); !strings.Contains(string(data), digest(2)) {
		t.Errorf("the work tree does not hold the second digest:\n%s", data)
	}
}
