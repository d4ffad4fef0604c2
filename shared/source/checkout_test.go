package source_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/source"
)

func TestCheckoutPushedCommitAfterNewerOnes(t *testing.T) {
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	pushed, err := repo.Commit(map[string]string{"a.txt": "one\n"}, "first", when)
	if err != nil {
		t.Fatal(err)
	}
	// Two more commits land before the build runs: the shallow clone's tip
	// is not the pushed commit.
	for i, content := range []string{"two\n", "three\n"} {
		if _, err := repo.Commit(map[string]string{"a.txt": content}, "later", when.Add(time.Duration(i+1)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "ctx")
	c, err := source.Checkout(context.Background(), repo.Dir, "main", pushed.Hash.String(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "a.txt")); string(got) != "one\n" {
		t.Fatalf("checked out %q, want the pushed commit's content", got)
	}
	if !c.Time.Equal(when) {
		t.Fatalf("commit time %v, want %v", c.Time, when)
	}
	if _, err := os.Stat(filepath.Join(out, ".git")); !os.IsNotExist(err) {
		t.Fatal(".git left in the build context")
	}
}

func TestCheckoutErrorsArePermanent(t *testing.T) {
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(map[string]string{"a": "a"}, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, loc, branch, sha string }{
		{"unknown commit", repo.Dir, "main", "0123456789abcdef0123456789abcdef01234567"},
		{"unknown branch", repo.Dir, "nope", "0123456789abcdef0123456789abcdef01234567"},
		{"no repository", filepath.Join(dir, "missing"), "main", "0123456789abcdef0123456789abcdef01234567"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.Checkout(context.Background(), tc.loc, tc.branch, tc.sha, filepath.Join(t.TempDir(), "c"), nil)
			if err == nil || !retry.IsPermanent(err) {
				t.Fatalf("Checkout = %v, want a permanent error", err)
			}
		})
	}
}
