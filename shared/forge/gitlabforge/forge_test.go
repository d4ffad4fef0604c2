package gitlabforge_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestErrorClasses: GitLab's failures get githubforge's classes.
func TestErrorClasses(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(90*time.Second).Unix(), 10)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		permanent bool
		notFound  bool
		wait      time.Duration // 0: no wait expected
	}{
		{"rate limited with Retry-After", http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, false, false, 7 * time.Second},
		{"rate limited with RateLimit-Reset only", http.StatusTooManyRequests, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": reset}, false, false, 90 * time.Second},
		{"rate limited without a wait", http.StatusTooManyRequests, nil, false, false, 60 * time.Second},
		{"server error is transient", http.StatusBadGateway, nil, false, false, 0},
		{"timeout is transient", http.StatusRequestTimeout, nil, false, false, 0},
		{"missing merge request is permanent", http.StatusNotFound, nil, true, true, 0},
		{"bad token is permanent", http.StatusUnauthorized, nil, true, false, 0},
		{"forbidden is permanent", http.StatusForbidden, nil, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitLab()
			g.fail, g.failHeaders = tt.status, tt.header
			_, err := newForge(t, g).Get(context.Background(), 1)
			if err == nil {
				t.Fatal("Get succeeded")
			}
			if retry.IsPermanent(err) != tt.permanent || errors.Is(err, forge.ErrNotFound) != tt.notFound {
				t.Fatalf("err = %v: permanent %v notFound %v; want %v %v", err, retry.IsPermanent(err), errors.Is(err, forge.ErrNotFound), tt.permanent, tt.notFound)
			}
			d, ok := retry.RetryAfter(err)
			if tt.wait == 0 && ok || tt.wait > 0 && (!ok || d < tt.wait-2*time.Second || d > tt.wait) {
				t.Fatalf("wait = %v, %v; want %v", d, ok, tt.wait)
			}
			if strings.Contains(err.Error(), "glpat-test-token") {
				t.Fatalf("the token leaked into the error: %v", err)
			}
		})
	}
}

// TestMergeRefusals: every refusal of the accept endpoint is a transient
// ErrNotMergeable; a rebase and an unknown method are refused before any
// request, permanently.
func TestMergeRefusals(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		method    string
		permanent bool
	}{
		{"405 not mergeable now", http.StatusMethodNotAllowed, "", false},
		{"406 branch cannot be merged", http.StatusNotAcceptable, forge.MergeMerge, false},
		{"409 sha is not the head", http.StatusConflict, forge.MergeSquash, false},
		{"422 merge failed", http.StatusUnprocessableEntity, "", false},
		{"rebase is refused", 0, forge.MergeRebase, true},
		{"unknown method is refused", 0, "octopus", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitLab()
			f := newForge(t, g)
			head := g.push("conveyor/dev/web")
			pr, err := f.Create(context.Background(), forge.NewPR{Branch: "conveyor/dev/web", Base: "main", Title: "t", Body: "b"})
			if err != nil {
				t.Fatal(err)
			}
			g.fail, g.failOn = tt.status, "/merge"
			_, err = f.Merge(context.Background(), pr.Number, forge.MergeOptions{Method: tt.method, HeadSHA: head})
			if !errors.Is(err, forge.ErrNotMergeable) && tt.method != "octopus" || err == nil || retry.IsPermanent(err) != tt.permanent {
				t.Fatalf("Merge: %v (permanent %v), want ErrNotMergeable, permanent %v", err, retry.IsPermanent(err), tt.permanent)
			}
			if tt.status == 0 && g.lastMerge != nil {
				t.Fatalf("refused merge reached GitLab: %v", g.lastMerge)
			}
		})
	}
}

// TestMergeSendsMethodShaAndMessage: the accept call carries the guard sha,
// squash as the method says, and a message that keeps GitLab's first line.
func TestMergeSendsMethodShaAndMessage(t *testing.T) {
	for _, tt := range []struct {
		method     string
		squash     any // nil: not sent
		wantCommit string
	}{
		{forge.MergeMerge, false, "merge"},
		{forge.MergeSquash, true, "merge"},
		{"", nil, "merge"},
	} {
		t.Run("method "+tt.method, func(t *testing.T) {
			g := newFakeGitLab()
			f := newForge(t, g)
			head := g.push("conveyor/dev/web")
			pr, _ := f.Create(context.Background(), forge.NewPR{Branch: "conveyor/dev/web", Base: "main", Title: "Promote web", Body: "b"})
			got, err := f.Merge(context.Background(), pr.Number, forge.MergeOptions{Method: tt.method, HeadSHA: head, Message: "Approved-by: alice"})
			if err != nil {
				t.Fatal(err)
			}
			if g.lastMerge["sha"] != head || g.lastMerge["squash"] != tt.squash {
				t.Fatalf("accept body %v, want sha %s squash %v", g.lastMerge, head, tt.squash)
			}
			msg, _ := g.lastMerge["merge_commit_message"].(string)
			if !strings.HasPrefix(msg, "Merge branch 'conveyor/dev/web' into 'main'\n\nPromote web\n\n") || !strings.HasSuffix(msg, "Approved-by: alice") {
				t.Fatalf("merge commit message %q", msg)
			}
			if pr, _ := f.Get(context.Background(), pr.Number); got != pr.MergeCommit || got == "" || got == head {
				t.Fatalf("Merge returned %q, the merge request says %q", got, pr.MergeCommit)
			}
		})
	}
}

// TestApprovalsWithoutApprovedAt: on a GitLab that does not say when an
// approval was given, an approval counts for the current head only if the
// project resets approvals on push; otherwise it names no head at all.
func TestApprovalsWithoutApprovedAt(t *testing.T) {
	for _, tt := range []struct {
		name             string
		reset, premium   bool
		wantCurrentHead  bool
		wantAfterPushLen int
	}{
		{"approvals reset on push", true, true, true, 0},
		{"approvals kept on push", false, true, false, 1},
		{"no approval settings (GitLab Free)", false, false, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitLab()
			g.noApprovedAt, g.resetOnPush, g.premium = true, tt.reset, tt.premium
			f := newForge(t, g)
			head := g.push("conveyor/prod/web")
			pr, _ := f.Create(context.Background(), forge.NewPR{Branch: "conveyor/prod/web", Base: "main", Title: "t", Body: "b"})
			g.approve(pr.Number)
			rs, err := f.Reviews(context.Background(), pr.Number)
			if err != nil || len(rs) != 1 || rs[0].User != "reviewer1" || rs[0].State != "approved" {
				t.Fatalf("Reviews = %+v, %v", rs, err)
			}
			if (rs[0].CommitID == head) != tt.wantCurrentHead || (!tt.wantCurrentHead && rs[0].CommitID != "") {
				t.Fatalf("approval placed on %q; head %s, want placed on it: %v", rs[0].CommitID, head, tt.wantCurrentHead)
			}
			second := g.push("conveyor/prod/web")
			rs, err = f.Reviews(context.Background(), pr.Number)
			if err != nil || len(rs) != tt.wantAfterPushLen {
				t.Fatalf("after a push: %+v, %v; want %d approvals", rs, err, tt.wantAfterPushLen)
			}
			for _, r := range rs {
				if r.CommitID == second {
					t.Fatalf("an approval given before the push counts for the new head %s", second)
				}
			}
		})
	}
}

// TestApprovalAtTheInstantOfAPush: an approval stamped in the same instant
// as a new version is not trusted for the new head.
func TestApprovalAtTheInstantOfAPush(t *testing.T) {
	g := newFakeGitLab()
	f := newForge(t, g)
	first := g.push("conveyor/prod/web")
	pr, _ := f.Create(context.Background(), forge.NewPR{Branch: "conveyor/prod/web", Base: "main", Title: "t", Body: "b"})
	g.push("conveyor/prod/web")
	g.mu.Lock()
	m := g.mrs[pr.Number]
	m.Approvals = append(m.Approvals, glApproval{User: "alice", At: m.Versions[len(m.Versions)-1].At})
	g.mu.Unlock()
	rs, err := f.Reviews(context.Background(), pr.Number)
	if err != nil || len(rs) != 1 || rs[0].CommitID != first {
		t.Fatalf("Reviews = %+v, %v; want alice's approval on the older head %s", rs, err, first)
	}
}

func TestChecksPassed(t *testing.T) {
	status := func(name, s string, allowFailure bool) map[string]any {
		return map[string]any{"id": 1, "sha": sha("x"), "ref": "conveyor/dev/web", "status": s, "name": name,
			"allow_failure": allowFailure, "created_at": "2026-11-01T09:00:00.000Z", "author": user("conveyor", 2)}
	}
	for _, tt := range []struct {
		name     string
		statuses []map[string]any
		want     bool
	}{
		{"no statuses", nil, true},
		{"all succeeded", []map[string]any{status("build", "success", false), status("lint", "skipped", false)}, true},
		{"pending", []map[string]any{status("build", "success", false), status("verify", "pending", false)}, false},
		{"running", []map[string]any{status("verify", "running", false)}, false},
		{"failed", []map[string]any{status("verify", "failed", false)}, false},
		{"failed but allowed to", []map[string]any{status("build", "success", false), status("flaky", "failed", true)}, true},
		{"manual gate", []map[string]any{status("deploy", "manual", false)}, false},
		{"optional manual job", []map[string]any{status("build", "success", false), status("docs", "manual", true)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGitLab()
			g.statuses[sha("x")] = tt.statuses
			got, err := newForge(t, g).ChecksPassed(context.Background(), sha("x"))
			if err != nil || got != tt.want {
				t.Fatalf("ChecksPassed = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestIsTeamMember(t *testing.T) {
	g := newFakeGitLab()
	g.members["acme/platform/sre"] = map[string]string{"alice": "active", "bob": "awaiting"}
	f := newForge(t, g)
	for _, tt := range []struct {
		org, team, user string
		want            bool
	}{
		{"acme", "platform/sre", "alice", true},
		{"acme", "platform/sre", "bob", false},       // invitation not accepted
		{"acme", "platform/sre", "reviewer1", false}, // not a member
		{"acme", "platform/sre", "mallory", false},   // no such user
		{"acme", "platform/dev", "alice", false},     // no such group
	} {
		got, err := f.IsTeamMember(context.Background(), tt.org, tt.team, tt.user)
		if err != nil || got != tt.want {
			t.Errorf("IsTeamMember(%s, %s, %s) = %v, %v; want %v", tt.org, tt.team, tt.user, got, err, tt.want)
		}
	}
}

// TestForkMergeRequestIsNotAdopted: a fork's merge request from a branch of
// the same name is neither found nor reported as the project's own.
func TestForkMergeRequestIsNotAdopted(t *testing.T) {
	g := newFakeGitLab()
	f := newForge(t, g)
	g.push("conveyor/prod/web")
	pr, _ := f.Create(context.Background(), forge.NewPR{Branch: "conveyor/prod/web", Base: "main", Title: "t", Body: "b"})
	g.mrs[pr.Number].FromFork = true
	if _, err := f.FindOpen(context.Background(), "conveyor/prod/web"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("FindOpen: %v, want ErrNotFound", err)
	}
	if got, _ := f.Get(context.Background(), pr.Number); got.HeadRepo == projectPath {
		t.Fatalf("a fork's merge request reports HeadRepo %q", got.HeadRepo)
	}
}
