package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TestBuildContextSymlinkStaysInTheRepository builds a context that is a
// committed symlink: one leaving the repository is refused as the build
// function refuses it, one inside builds.
func TestBuildContextSymlinkStaysInTheRepository(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		refused      bool
	}{
		{"upwards", "../..", true},
		{"inside", "app", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			if err := os.WriteFile(filepath.Join(top, "secret.txt"), []byte("private\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(top, "repo")
			r, err := git.PlainInit(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			for p, content := range map[string]string{"app/Dockerfile": "FROM scratch\nCOPY . /ctx/\n", "app/index.html": "hi\n"} {
				full := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(tc.target, filepath.Join(dir, "ctx")); err != nil {
				t.Fatal(err)
			}
			wt, _ := r.Worktree()
			if err := wt.AddGlob("."); err != nil {
				t.Fatal(err)
			}
			sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Unix(1700000000, 0)}
			if _, err := wt.Commit("app", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"build", "--context", filepath.Join(dir, "ctx"), "--dockerfile", filepath.Join(dir, "app", "Dockerfile")}, &stdout, &stderr)
			switch {
			case tc.refused && (code != 1 || !strings.Contains(stderr.String(), `build context path "ctx"`)):
				t.Fatalf("build: exit %d (%s%s), want a refusal naming ctx", code, stdout.String(), stderr.String())
			case !tc.refused && code != 0:
				t.Fatalf("build: exit %d: %s", code, stderr.String())
			}
		})
	}
}
