package gitops

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// checkProposal asserts that branch is exactly one commit on top of base,
// that it changes only envs/dev/kustomization.yaml, to digest d, and that
// the commit carries the author, time and message given.
func checkProposal(t *testing.T, dir, branch, base string, c *Commit, d, message string, when time.Time) {
	t.Helper()
	if got := runGit(t, dir, "rev-parse", "refs/heads/"+branch); got != c.SHA {
		t.Errorf("branch tip = %s, want the returned commit %s", got, c.SHA)
	}
	if got := runGit(t, dir, "rev-list", "--parents", "-n", "1", c.SHA); got != c.SHA+" "+base {
		t.Errorf("commit and parents = %q, want one parent %s", got, base)
	}
	if got := runGit(t, dir, "rev-list", "--count", "main.."+c.SHA); got != "1" {
		t.Errorf("commits ahead of main = %s, want 1", got)
	}
	changed := runGit(t, dir, "diff-tree", "-r", "--name-only", "--no-commit-id", base, c.SHA)
	if diff := cmp.Diff("envs/dev/kustomization.yaml", changed); diff != "" {
		t.Errorf("changed files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kustomization(d), runGit(t, dir, "show", c.SHA+":envs/dev/kustomization.yaml")+"\n"); diff != "" {
		t.Errorf("edited file (-want +got):\n%s", diff)
	}
	meta := runGit(t, dir, "log", "-1", "--format=%an|%ae|%at|%cn|%B", c.SHA)
	want := strings.Join([]string{testAuthor.Name, testAuthor.Email, strconv.FormatInt(when.Unix(), 10), testAuthor.Name, message}, "|")
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Errorf("commit metadata (-want +got):\n%s", diff)
	}
	runGit(t, dir, "fsck", "--strict", "--no-progress")
}

func TestPropose(t *testing.T) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			dir, url := tc.setup(t)
			r := &Repo{URL: url, Base: "main", Author: testAuthor}
			const branch = "conveyor/dev/web"
			base := runGit(t, dir, "rev-parse", "main")
			message := "promote web to dev\n\nConveyor-Digest: " + digest(1)
			when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

			first, err := r.Propose(ctx, branch, setDigest("dev", digest(1)), message, when)
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			if diff := cmp.Diff(&Commit{SHA: first.SHA, Base: base, Files: []string{"envs/dev/kustomization.yaml"}, Changed: true, Attempts: 1}, first); diff != "" {
				t.Errorf("first Propose (-want +got):\n%s", diff)
			}
			checkProposal(t, dir, branch, base, first, digest(1), message, when)

			// A replay, even later, finds the equivalent commit and pushes nothing.
			again, err := r.Propose(ctx, branch, setDigest("dev", digest(1)), message, when.Add(time.Hour))
			if err != nil {
				t.Fatalf("Propose again: %v", err)
			}
			if again.Changed || again.SHA != first.SHA {
				t.Errorf("Propose again = %+v, want unchanged %s", again, first.SHA)
			}
			if got := runGit(t, dir, "rev-parse", branch); got != first.SHA {
				t.Errorf("branch moved to %s on an idempotent Propose", got)
			}

			// A newer digest replaces the proposal: still one commit on base.
			later := when.Add(2 * time.Hour)
			newer, err := r.Propose(ctx, branch, setDigest("dev", digest(2)), message, later)
			if err != nil {
				t.Fatalf("Propose newer: %v", err)
			}
			if !newer.Changed || newer.SHA == first.SHA {
				t.Errorf("Propose newer = %+v, want a new commit", newer)
			}
			checkProposal(t, dir, branch, base, newer, digest(2), message, later)

			// An edit that leaves base as it is proposes nothing.
			if _, err := r.Propose(ctx, "conveyor/prod/web", setDigest("prod", digest(0)), message, when); !errors.Is(err, ErrNoChanges) {
				t.Errorf("Propose of a no-op edit: err = %v, want ErrNoChanges", err)
			}

			// Once base moves, the same proposal is rebuilt on the new tip.
			moved := pushCommit(t, url, "main", map[string]string{"README.md": "moved\n"})
			rebased, err := r.Propose(ctx, branch, setDigest("dev", digest(2)), message, later)
			if err != nil {
				t.Fatalf("Propose after base moved: %v", err)
			}
			if !rebased.Changed || rebased.Base != moved {
				t.Errorf("Propose after base moved = %+v, want a new commit on %s", rebased, moved)
			}
			checkProposal(t, dir, branch, moved, rebased, digest(2), message, later)

			if head, err := r.BranchHead(ctx, branch); err != nil || head != rebased.SHA {
				t.Errorf("BranchHead = %q, %v; want %s", head, err, rebased.SHA)
			}
			for i := range 2 { // deleting an absent branch succeeds
				if err := r.DeleteBranch(ctx, branch); err != nil {
					t.Fatalf("DeleteBranch #%d: %v", i+1, err)
				}
			}
			if head, err := r.BranchHead(ctx, branch); err != nil || head != "" {
				t.Errorf("BranchHead after delete = %q, %v; want absent", head, err)
			}
		})
	}
}

func TestLandRace(t *testing.T) {
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			dir, url := tc.setup(t)
			base := runGit(t, dir, "rev-parse", "main")
			var calls []int
			var other string
			r, err := New(url, "main", nil, testAuthor, withBeforePush(func(_ context.Context, attempt int) error {
				calls = append(calls, attempt)
				if attempt == 1 {
					other = pushCommit(t, url, "main", map[string]string{"README.md": "someone else\n"})
				}
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.Land(ctx, setDigest("dev", digest(3)), "promote web to dev", time.Now())
			if err != nil {
				t.Fatalf("Land: %v", err)
			}
			if diff := cmp.Diff([]int{1, 2}, calls); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&Commit{SHA: c.SHA, Base: other, Files: []string{"envs/dev/kustomization.yaml"}, Changed: true, Attempts: 2}, c); diff != "" {
				t.Errorf("Land (-want +got):\n%s", diff)
			}
			if got := runGit(t, dir, "rev-list", "--parents", "-n", "1", "main"); got != c.SHA+" "+other {
				t.Errorf("main and parents = %q, want %s on top of %s", got, c.SHA, other)
			}
			if got := runGit(t, dir, "rev-list", "--count", base+"..main"); got != "2" {
				t.Errorf("commits since base = %s, want 2", got)
			}
			if got := runGit(t, dir, "show", "main:README.md"); got != "someone else" {
				t.Errorf("README.md = %q: the other writer's change was lost", got)
			}
			if got := runGit(t, dir, "show", "main:envs/dev/kustomization.yaml"); !strings.Contains(got, digest(3)) {
				t.Errorf("kustomization lacks the landed digest:\n%s", got)
			}
			runGit(t, dir, "fsck", "--strict", "--no-progress")
		})
	}
}

func TestLandGivesUp(t *testing.T) {
	ctx := testContext(t)
	_, url := transports[0].setup(t)
	n := 0
	r, err := New(url, "main", nil, testAuthor, WithAttempts(2), withBeforePush(func(context.Context, int) error {
		n++
		pushCommit(t, url, "main", map[string]string{"README.md": strconv.Itoa(n)})
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Land(ctx, setDigest("dev", digest(4)), "promote", time.Now())
	if !errors.Is(err, ErrRaceLost) || retry.IsPermanent(err) || n != 2 {
		t.Errorf("Land against a busy base: err = %v after %d attempts, want transient ErrRaceLost after 2", err, n)
	}
}

func TestLandMerge(t *testing.T) {
	ctx := testContext(t)
	dir, url := transports[1].setup(t)
	r := &Repo{URL: url, Base: "main", Author: testAuthor}
	const branch = "conveyor/dev/web"
	proposal, err := r.Propose(ctx, branch, setDigest("dev", digest(5)), "promote", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	moved := pushCommit(t, url, "main", map[string]string{"README.md": "moved\n"})

	merge, err := r.LandMerge(ctx, branch, setDigest("dev", digest(5)), "Merge promotion #1", time.Now())
	if err != nil {
		t.Fatalf("LandMerge: %v", err)
	}
	if diff := cmp.Diff(&Commit{SHA: merge.SHA, Base: moved, Files: []string{"envs/dev/kustomization.yaml"}, Changed: true, Attempts: 1}, merge); diff != "" {
		t.Errorf("LandMerge (-want +got):\n%s", diff)
	}
	if got := runGit(t, dir, "rev-list", "--parents", "-n", "1", "main"); got != merge.SHA+" "+moved+" "+proposal.SHA {
		t.Errorf("main and parents = %q, want merge %s of %s and %s", got, merge.SHA, moved, proposal.SHA)
	}
	if diff := cmp.Diff("envs/dev/kustomization.yaml", runGit(t, dir, "diff-tree", "-r", "--name-only", "--no-commit-id", moved, "main")); diff != "" {
		t.Errorf("merge changes to base (-want +got):\n%s", diff)
	}
	if got := runGit(t, dir, "show", "main:README.md"); got != "moved" {
		t.Errorf("README.md = %q, want base's content kept", got)
	}
	runGit(t, dir, "fsck", "--strict", "--no-progress")

	again, err := r.LandMerge(ctx, branch, setDigest("dev", digest(5)), "Merge promotion #1", time.Now())
	if err != nil || again.Changed || again.SHA != merge.SHA {
		t.Errorf("LandMerge of a merged branch = %+v, %v; want unchanged %s", again, err, merge.SHA)
	}
}
