// Package forgetest is the contract every forge adapter passes: the same
// truth about pull requests that the approval and reconcile functions rely
// on, checked the same way against the local forge, GitHub's REST API and a
// real Gitea.
package forgetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Forge is the port plus ListMerged, which reconcile uses to find merges
// whose webhook was lost.
type Forge interface {
	forge.Forge
	ListMerged(ctx context.Context, label string, limit int) ([]*forge.PR, error)
}

// Env is one fresh repository on the forge under test.
type Env struct {
	Forge Forge
	// Base is the branch pull requests merge into.
	Base string
	// Push adds a commit to branch (created from Base when missing) and
	// returns the branch's new head.
	Push func(t *testing.T, branch string) string
	// Approve submits an approving review of pull request number, at its
	// current head, by someone other than its author.
	Approve func(t *testing.T, number int)
	// Comments lists the comments on pull request number as the forge
	// shows them, oldest first (the forge must implement
	// forge.Commenter).
	Comments func(t *testing.T, number int) []string
}

// Run runs the contract against the forge newEnv sets up, one fresh
// repository per case.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *Env)
	}{
		{"AdoptsTheOpenPullRequestAfterACrash", adopt},
		{"UpdatesInPlace", update},
		{"OneOpenPullRequestPerBranch", onePerBranch},
		{"ApprovalsNameTheHeadTheyApproved", approvalsOnHead},
		{"MergeIsIdempotent", mergeIdempotent},
		{"ListMergedFindsOnlyMergedAndLabelled", listMerged},
		{"ErrorClasses", errorClasses},
		{"CommentsLandBesideTheBody", comments},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func open(t *testing.T, e *Env, branch string, labels ...string) (*forge.PR, string) {
	t.Helper()
	head := e.Push(t, branch)
	pr, err := e.Forge.Create(ctx(t), forge.NewPR{Branch: branch, Base: e.Base, Title: "promote " + branch, Body: "body", Labels: labels})
	if err != nil {
		t.Fatalf("Create(%s): %v", branch, err)
	}
	return pr, head
}

func get(t *testing.T, e *Env, n int) *forge.PR {
	t.Helper()
	pr, err := e.Forge.Get(ctx(t), n)
	if err != nil {
		t.Fatalf("Get(#%d): %v", n, err)
	}
	return pr
}

func sameLabels(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// adopt: a handler that crashed after opening the pull request but before
// recording it calls Create again and must get the same one back.
func adopt(t *testing.T, e *Env) {
	first, head := open(t, e, "conveyor/web-dev", "conveyor", "env:dev")
	again, err := e.Forge.Create(ctx(t), forge.NewPR{Branch: "conveyor/web-dev", Base: e.Base, Title: "promote again", Body: "body", Labels: []string{"conveyor", "env:dev"}})
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if again.Number != first.Number {
		t.Fatalf("second Create opened #%d, want the open #%d adopted", again.Number, first.Number)
	}
	found, err := e.Forge.FindOpen(ctx(t), "conveyor/web-dev")
	if err != nil || found.Number != first.Number {
		t.Fatalf("FindOpen = %+v, %v; want #%d", found, err, first.Number)
	}
	pr := get(t, e, first.Number)
	if pr.Branch != "conveyor/web-dev" || pr.Base != e.Base || pr.HeadSHA != head || pr.State != forge.StateOpen ||
		!sameLabels(pr.Labels, []string{"conveyor", "env:dev"}) {
		t.Fatalf("Get = branch %q base %q head %q state %q labels %v; want conveyor/web-dev %s %s open [conveyor env:dev]",
			pr.Branch, pr.Base, pr.HeadSHA, pr.State, pr.Labels, e.Base, head)
	}
}

func update(t *testing.T, e *Env) {
	pr, _ := open(t, e, "conveyor/web-staging", "conveyor", "env:staging")
	up, err := e.Forge.Update(ctx(t), pr.Number, "new title", "new body", []string{"conveyor", "hold"})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if up.Number != pr.Number {
		t.Fatalf("Update returned #%d, want #%d", up.Number, pr.Number)
	}
	got := get(t, e, pr.Number)
	if got.Title != "new title" || got.Body != "new body" || !sameLabels(got.Labels, []string{"conveyor", "hold"}) {
		t.Fatalf("after Update: title %q body %q labels %v", got.Title, got.Body, got.Labels)
	}
	if _, err := e.Forge.Update(ctx(t), pr.Number, "new title", "new body", nil); err != nil {
		t.Fatalf("Update clearing labels: %v", err)
	}
	if got := get(t, e, pr.Number); len(got.Labels) != 0 {
		t.Fatalf("labels after clearing = %v, want none", got.Labels)
	}
}

func onePerBranch(t *testing.T, e *Env) {
	a, _ := open(t, e, "conveyor/a-dev")
	b, _ := open(t, e, "conveyor/b-dev")
	if a.Number == b.Number {
		t.Fatalf("two branches share #%d", a.Number)
	}
	if err := e.Forge.Close(ctx(t), a.Number, "superseded"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Forge.Close(ctx(t), a.Number, "superseded"); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := get(t, e, a.Number); got.State != forge.StateClosed || got.MergeCommit != "" {
		t.Fatalf("closed PR: state %q merge commit %q", got.State, got.MergeCommit)
	}
	if _, err := e.Forge.FindOpen(ctx(t), "conveyor/a-dev"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("FindOpen after Close: %v, want ErrNotFound", err)
	}
	reopened, _ := open(t, e, "conveyor/a-dev")
	if reopened.Number == a.Number || reopened.State != forge.StateOpen {
		t.Fatalf("Create after Close = #%d %s, want a new open PR", reopened.Number, reopened.State)
	}
}

// approvalsOnHead: the forge reports the commit each review approved, so a
// review of an earlier head can be told apart from one of the current head.
func approvalsOnHead(t *testing.T, e *Env) {
	pr, first := open(t, e, "conveyor/web-prod")
	e.Approve(t, pr.Number)
	second := e.Push(t, "conveyor/web-prod")
	if got := get(t, e, pr.Number); got.HeadSHA != second {
		t.Fatalf("head after push = %q, want %q", got.HeadSHA, second)
	}
	reviews, err := e.Forge.Reviews(ctx(t), pr.Number)
	if err != nil {
		t.Fatalf("Reviews: %v", err)
	}
	if len(reviews) != 1 || reviews[0].State != "approved" || reviews[0].CommitID != first || reviews[0].User == "" {
		t.Fatalf("reviews = %+v, want one approval of %s", reviews, first)
	}
	_, err = e.Forge.Merge(ctx(t), pr.Number, forge.MergeOptions{HeadSHA: first})
	if !errors.Is(err, forge.ErrNotMergeable) || retry.IsPermanent(err) {
		t.Fatalf("Merge at the stale head: %v, want a transient ErrNotMergeable", err)
	}
	e.Approve(t, pr.Number)
	reviews, err = e.Forge.Reviews(ctx(t), pr.Number)
	if err != nil || len(reviews) != 2 || reviews[1].CommitID != second {
		t.Fatalf("reviews after approving again = %+v, %v; want the second at %s", reviews, err, second)
	}
}

func mergeIdempotent(t *testing.T, e *Env) {
	pr, head := open(t, e, "conveyor/web-dev", "conveyor")
	sha, err := e.Forge.Merge(ctx(t), pr.Number, forge.MergeOptions{Method: forge.MergeMerge, HeadSHA: head})
	if err != nil || sha == "" {
		t.Fatalf("Merge = %q, %v", sha, err)
	}
	again, err := e.Forge.Merge(ctx(t), pr.Number, forge.MergeOptions{Method: forge.MergeMerge, HeadSHA: head})
	if err != nil || again != sha {
		t.Fatalf("second Merge = %q, %v; want %q", again, err, sha)
	}
	got := get(t, e, pr.Number)
	if got.State != forge.StateMerged || got.MergeCommit != sha || got.HeadSHA != head || got.Branch != "conveyor/web-dev" ||
		!sameLabels(got.Labels, []string{"conveyor"}) || got.MergedAt.IsZero() {
		t.Fatalf("merged PR = %+v, want merged at head %s with commit %s", got, head, sha)
	}
	if _, err := e.Forge.FindOpen(ctx(t), "conveyor/web-dev"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("FindOpen after merge: %v, want ErrNotFound", err)
	}
	if _, err := e.Forge.Merge(ctx(t), pr.Number, forge.MergeOptions{HeadSHA: "0000000000000000000000000000000000000000"}); !errors.Is(err, forge.ErrNotMergeable) {
		t.Fatalf("Merge of a PR merged at another head: %v, want ErrNotMergeable", err)
	}
}

func listMerged(t *testing.T, e *Env) {
	label := "conveyor"
	merged, mhead := open(t, e, "conveyor/m-dev", label)
	openPR, _ := open(t, e, "conveyor/o-dev", label)
	other, ohead := open(t, e, "conveyor/x-dev", "other")
	for _, m := range []struct {
		n    int
		head string
	}{{merged.Number, mhead}, {other.Number, ohead}} {
		if _, err := e.Forge.Merge(ctx(t), m.n, forge.MergeOptions{HeadSHA: m.head}); err != nil {
			t.Fatalf("Merge(#%d): %v", m.n, err)
		}
	}
	got, err := e.Forge.ListMerged(ctx(t), label, 10)
	if err != nil {
		t.Fatalf("ListMerged: %v", err)
	}
	var numbers []int
	for _, pr := range got {
		numbers = append(numbers, pr.Number)
		if pr.State != forge.StateMerged || pr.MergeCommit == "" {
			t.Errorf("listed #%d: state %q merge commit %q", pr.Number, pr.State, pr.MergeCommit)
		}
	}
	if !slices.Equal(numbers, []int{merged.Number}) {
		t.Fatalf("ListMerged(%q) = %v, want [%d] (not open #%d, not unlabelled #%d)", label, numbers, merged.Number, openPR.Number, other.Number)
	}
}

func errorClasses(t *testing.T, e *Env) {
	_, err := e.Forge.Get(ctx(t), 9999)
	if !errors.Is(err, forge.ErrNotFound) || !retry.IsPermanent(err) {
		t.Fatalf("Get of a missing PR: %v, want a permanent ErrNotFound", err)
	}
	if _, err := e.Forge.FindOpen(ctx(t), "conveyor/none"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("FindOpen of a branch without PR: %v, want ErrNotFound", err)
	}
	pr, head := open(t, e, "conveyor/closed-dev")
	if err := e.Forge.Close(ctx(t), pr.Number, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err = e.Forge.Merge(ctx(t), pr.Number, forge.MergeOptions{HeadSHA: head})
	if !errors.Is(err, forge.ErrNotMergeable) || !retry.IsPermanent(err) {
		t.Fatalf("Merge of a closed PR: %v, want a permanent ErrNotMergeable", err)
	}
}

// comments: a comment shows on the pull request, in order, and leaves its
// body as it was (the promoter compares bodies to find a current PR).
func comments(t *testing.T, e *Env) {
	c, ok := e.Forge.(forge.Commenter)
	if !ok || e.Comments == nil {
		t.Fatal("the adapter does not implement forge.Commenter, or the contract cannot read its comments")
	}
	pr, _ := open(t, e, "conveyor/c-dev")
	for _, body := range []string{"waiting for alice", "released"} {
		if err := c.Comment(ctx(t), pr.Number, body); err != nil {
			t.Fatalf("Comment(#%d): %v", pr.Number, err)
		}
	}
	if got := e.Comments(t, pr.Number); !slices.Equal(got, []string{"waiting for alice", "released"}) {
		t.Fatalf("comments on #%d = %q", pr.Number, got)
	}
	if got := get(t, e, pr.Number); got.Body != "body" || got.State != forge.StateOpen {
		t.Fatalf("after comments #%d: body %q state %s", pr.Number, got.Body, got.State)
	}
}
