package localforge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

// local is a local forge over a real repository, with a clone to push
// branches from as a promoter would.
type local struct {
	f     *localforge.Forge
	dir   string // the GitOps repository
	clone string
	n     int
}

func newLocal(t *testing.T, opts ...localforge.Option) *local {
	t.Helper()
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
	g, err := gitops.New(repo.Dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := localforge.New(ctx, db, g, repo.Dir, "local/gitops", nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	l := &local{f: f, dir: repo.Dir, clone: filepath.Join(dir, "clone")}
	git(t, dir, "clone", "-q", repo.Dir, l.clone)
	return l
}

// open pushes a change on a new branch and opens a pull request for it.
func (l *local) open(t *testing.T, branch string, labels ...string) *forge.PR {
	t.Helper()
	l.n++
	git(t, l.clone, "fetch", "-q", "origin")
	git(t, l.clone, "checkout", "-q", "-B", branch, "origin/main")
	name := fmt.Sprintf("f%d.txt", l.n)
	if err := os.WriteFile(filepath.Join(l.clone, name), []byte("change\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, l.clone, "add", name)
	git(t, l.clone, "commit", "-q", "-m", "change "+name)
	git(t, l.clone, "push", "-q", "origin", branch)
	pr, err := l.f.Create(context.Background(), forge.NewPR{Branch: branch, Base: "main", Title: "promote " + branch, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func (l *local) message(t *testing.T, sha string) string {
	t.Helper()
	r, err := gogit.PlainOpen(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	return c.Message
}

// TestProtection: the local forge asks its protection before every merge,
// with the reviews of the pull request; a refusal leaves the pull request
// open and says how to override; an override skips the protection and is
// recorded on the pull request and in the merge commit.
func TestProtection(t *testing.T) {
	ctx := context.Background()
	var asked [][]forge.Review
	protect := func(_ context.Context, pr *forge.PR, reviews []forge.Review) error {
		asked = append(asked, reviews)
		for _, r := range reviews {
			if r.State == "approved" && r.CommitID == pr.HeadSHA {
				return nil
			}
		}
		return errors.New("no approval of the current head")
	}
	l := newLocal(t, localforge.WithProtection(protect))

	refused := l.open(t, "conveyor/prod/web")
	_, err := l.f.Merge(ctx, refused.Number, forge.MergeOptions{})
	if !errors.Is(err, forge.ErrNotMergeable) || !strings.Contains(err.Error(), "no approval of the current head") ||
		!strings.Contains(err.Error(), fmt.Sprintf("conveyor pr merge %d --override", refused.Number)) {
		t.Fatalf("merge without approval: %v, want ErrNotMergeable with the reason and the override command", err)
	}
	if pr, _ := l.f.Get(ctx, refused.Number); pr.State != forge.StateOpen || pr.MergeCommit != "" {
		t.Fatalf("after a refused merge the pull request is %s (merge commit %q), want open", pr.State, pr.MergeCommit)
	}

	const reason = "incident 7: the fix cannot wait"
	before := len(asked)
	sha, err := l.f.Merge(localforge.WithOverride(localforge.WithMerger(ctx, "mallory"), reason), refused.Number, forge.MergeOptions{})
	if err != nil {
		t.Fatalf("merge with an override: %v", err)
	}
	if len(asked) != before {
		t.Errorf("the protection was asked about an override")
	}
	pr, _ := l.f.Get(ctx, refused.Number)
	if pr.State != forge.StateMerged || pr.Override != reason || pr.MergedBy != "mallory" || pr.MergeCommit != sha {
		t.Fatalf("overridden merge recorded as %+v, want merged by mallory with the reason", pr)
	}
	if msg := l.message(t, sha); !strings.Contains(msg, "Override: "+reason) {
		t.Fatalf("merge commit message %q does not carry the override", msg)
	}

	approved := l.open(t, "conveyor/staging/web")
	if err := l.f.Approve(ctx, approved.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	sha, err = l.f.Merge(localforge.WithMerger(ctx, "alice"), approved.Number, forge.MergeOptions{Message: "Approved-by: alice"})
	if err != nil {
		t.Fatalf("merge with an approval: %v", err)
	}
	got := asked[len(asked)-1]
	if len(got) != 1 || got[0].User != "alice" || got[0].CommitID != approved.HeadSHA {
		t.Errorf("the protection saw reviews %+v, want alice's approval of %s", got, approved.HeadSHA)
	}
	pr, _ = l.f.Get(ctx, approved.Number)
	if pr.Override != "" || pr.MergedBy != "alice" {
		t.Errorf("merge within the policy recorded as %+v, want no override", pr)
	}
	if msg := l.message(t, sha); !strings.Contains(msg, "Approved-by: alice") || strings.Contains(msg, "Override:") {
		t.Errorf("merge commit message %q, want the approvals and no override", msg)
	}
}

func TestListMerged(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	var merged []int
	for i, labels := range [][]string{{"conveyor"}, {"other"}, {"conveyor", "x"}, {"conveyor"}} {
		pr := l.open(t, fmt.Sprintf("conveyor/env%d/web", i), labels...)
		if i == 3 {
			continue // left open
		}
		if _, err := l.f.Merge(ctx, pr.Number, forge.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		merged = append(merged, pr.Number)
	}
	for _, tc := range []struct {
		label string
		limit int
		want  []int
	}{
		{"conveyor", 10, []int{merged[2], merged[0]}},
		{"conveyor", 1, []int{merged[2]}},
		{"other", 10, []int{merged[1]}},
		{"none", 10, nil},
	} {
		prs, err := l.f.ListMerged(ctx, tc.label, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, pr := range prs {
			got = append(got, pr.Number)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ListMerged(%q, %d) = %v, want %v (newest first, open ones left out)", tc.label, tc.limit, got, tc.want)
		}
	}
}

func TestEnvTeams(t *testing.T) {
	t.Setenv(localforge.TeamsEnv, "acme/sre = alice,, Bob ;acme/dev=carol;broken;acme/empty=")
	for _, tc := range []struct {
		org, team, user string
		want            bool
	}{
		{"acme", "sre", "alice", true},
		{"acme", "sre", "bob", true},
		{"ACME", "SRE", "Alice", true},
		{"acme", "sre", "carol", false},
		{"acme", "dev", "carol", true},
		{"acme", "empty", "", false},
		{"other", "sre", "alice", false},
		{"acme", "broken", "broken", false},
		{"acme", "sre", "", false},
	} {
		got, err := localforge.EnvTeams{}.IsTeamMember(context.Background(), tc.org, tc.team, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("IsTeamMember(%s, %s, %s) = %v, %v; want %v", tc.org, tc.team, tc.user, got, err, tc.want)
		}
	}
}
