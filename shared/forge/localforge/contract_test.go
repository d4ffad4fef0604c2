package localforge_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge/forgetest"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

// TestContract runs the forge contract against the local forge over a real
// git repository, with branches pushed by the git CLI as a promoter would.
func TestContract(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) *forgetest.Env {
		ctx := context.Background()
		dir := t.TempDir()
		repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Commit(map[string]string{"README.md": "gitops\n"}, "init", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := repo.AcceptPushes(); err != nil {
			t.Fatal(err)
		}
		db, err := sqlitedb.Open(ctx, filepath.Join(dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		b, err := sqlitequeue.Open(ctx, db, queue.Topology)
		if err != nil {
			t.Fatal(err)
		}
		approvals, _ := b.Queue(queue.Approvals)
		g, err := gitops.New(repo.Dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
		if err != nil {
			t.Fatal(err)
		}
		f, err := localforge.New(ctx, db, g, repo.Dir, "local/gitops", approvals)
		if err != nil {
			t.Fatal(err)
		}
		clone := filepath.Join(dir, "clone")
		git(t, dir, "clone", "-q", repo.Dir, clone)
		n := 0
		return &forgetest.Env{
			Forge: f,
			Base:  "main",
			Push: func(t *testing.T, branch string) string {
				n++
				git(t, clone, "fetch", "-q", "origin")
				start := "origin/main"
				if git(t, clone, "ls-remote", "--heads", "origin", branch) != "" {
					start = "origin/" + branch
				}
				git(t, clone, "checkout", "-q", "-B", branch, start)
				name := strings.ReplaceAll(branch, "/", "-") + ".txt"
				if err := os.WriteFile(filepath.Join(clone, name), []byte(fmt.Sprintf("change %d\n", n)), 0o644); err != nil {
					t.Fatal(err)
				}
				git(t, clone, "add", name)
				git(t, clone, "commit", "-q", "-m", fmt.Sprintf("change %d", n))
				git(t, clone, "push", "-q", "origin", branch)
				return git(t, clone, "rev-parse", "HEAD")
			},
			Approve: func(t *testing.T, number int) {
				if err := f.Approve(context.Background(), number, "reviewer"); err != nil {
					t.Fatal(err)
				}
			},
			Comments: func(t *testing.T, number int) []string {
				got, err := f.Comments(context.Background(), number)
				if err != nil {
					t.Fatal(err)
				}
				return got
			},
		}
	})
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@localhost")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
