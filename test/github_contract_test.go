package test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"
)

// TestGitHubServer holds the test GitHub to what Conveyor relies on, through
// Conveyor's own GitHub adapter and webhook classifier: pull requests are
// created once per branch and adopted after, labelled and updated; checks
// follow commit statuses; a merge needs the current head and really merges
// the branch into main; a conflicting pull request is not mergeable; a rate
// limit is a server-given wait; and every webhook is signed and reads as
// the event that caused it.
func TestGitHubServer(t *testing.T) {
	ctx := context.Background()
	gh := newGitHubServer(t, []byte(lambdaSecret))
	var mu sync.Mutex
	var got []string
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		name := r.Header.Get("X-GitHub-Event")
		if r.Header.Get("X-Hub-Signature-256") != webhook.SignatureHeader([]byte(lambdaSecret), body) {
			t.Errorf("%s webhook with a wrong signature", name)
		}
		c, err := webhook.ClassifyGitHub(name, body)
		if err != nil {
			t.Errorf("classifying the %s webhook: %v", name, err)
		}
		line := name
		if r, ok := c.Payload.(event.Review); ok {
			line += " " + r.Action + " " + r.HeadRef
		}
		mu.Lock()
		got = append(got, line)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hooks.Close()
	gh.createRepo(t, stackGitOps, map[string]string{"envs/dev/image.txt": "old\n", "envs/prod/image.txt": "old\n"})
	gh.subscribe(stackGitOps, hooks.URL, "push", "pull_request", "pull_request_review")
	client := func(login string) *github.Client {
		c := github.NewClient(gh.Client).WithAuthToken(gh.user(login))
		c.BaseURL, _ = url.Parse(gh.URL + "/api-v3/")
		return c
	}
	f := githubforge.New(client("conveyor-bot"), "acme", "gitops", githubforge.WithMergeablePoll(0, 0))
	head := gh.pushTo(t, stackGitOps, "main", "conveyor/dev/web", map[string]string{"envs/dev/image.txt": "new\n"}, "promote", time.Now())

	pr, err := f.Create(ctx, forge.NewPR{Branch: "conveyor/dev/web", Base: "main", Title: "Promote", Labels: []string{"conveyor"}, Reviewers: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Create(ctx, forge.NewPR{Branch: "conveyor/dev/web", Base: "main", Title: "Promote"})
	if err != nil || again.Number != pr.Number {
		t.Fatalf("creating again: #%d, %v; want #%d adopted", again.Number, err, pr.Number)
	}
	if _, err := f.Update(ctx, pr.Number, "Promote v2", "body", []string{"conveyor", "env:dev"}); err != nil {
		t.Fatal(err)
	}
	open, err := f.FindOpen(ctx, "conveyor/dev/web")
	if err != nil {
		t.Fatal(err)
	}
	want := &forge.PR{Number: pr.Number, URL: gh.URL + "/acme/gitops/pull/1", Title: "Promote v2", Body: "body", Branch: "conveyor/dev/web",
		Base: "main", HeadRepo: stackGitOps, HeadSHA: head, Labels: []string{"conveyor", "env:dev"}, State: forge.StateOpen,
		Mergeable: github.Bool(true), CreatedAt: open.CreatedAt}
	if diff := cmp.Diff(want, open); diff != "" {
		t.Errorf("the open pull request (-want +got):\n%s", diff)
	}
	if p, _ := gh.pull(stackGitOps, pr.Number); !slices.Equal(p.RequestedReviewers, []string{"alice"}) {
		t.Errorf("requested reviewers %v, want alice", p.RequestedReviewers)
	}

	t.Run("checks follow statuses", func(t *testing.T) {
		c := client("ci")
		for _, tc := range []struct {
			state string
			want  bool
		}{{"", true}, {"pending", false}, {"success", true}, {"failure", false}} {
			if tc.state != "" {
				if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "gitops", head, &github.RepoStatus{State: github.String(tc.state), Context: github.String("ci")}); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := f.ChecksPassed(ctx, head); err != nil || ok != tc.want {
				t.Errorf("after status %q: passed %v, %v; want %v", tc.state, ok, err, tc.want)
			}
		}
	})

	t.Run("merge needs the head and merges", func(t *testing.T) {
		if _, _, err := client("alice").PullRequests.CreateReview(ctx, "acme", "gitops", pr.Number, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
			t.Fatal(err)
		}
		if rs, err := f.Reviews(ctx, pr.Number); err != nil || len(rs) != 1 || rs[0].User != "alice" || rs[0].State != "approved" || rs[0].CommitID != head {
			t.Fatalf("reviews %+v, %v; want alice's approval of %.12s", rs, err, head)
		}
		_, err := f.Merge(ctx, pr.Number, forge.MergeOptions{HeadSHA: strings.Repeat("0", 40)})
		if !errors.Is(err, forge.ErrNotMergeable) || retry.IsPermanent(err) {
			t.Fatalf("merging another head: %v, want a transient ErrNotMergeable", err)
		}
		mc, err := f.Merge(ctx, pr.Number, forge.MergeOptions{HeadSHA: head, Message: "Approved-by: alice"})
		if err != nil {
			t.Fatal(err)
		}
		if got := gh.file(stackGitOps, "main", "envs/dev/image.txt"); got != "new" || gh.revParse(stackGitOps, "main") != mc {
			t.Errorf("main is %.12s with %q, want the merge %.12s with the branch's change", gh.revParse(stackGitOps, "main"), got, mc)
		}
		if again, err := f.Merge(ctx, pr.Number, forge.MergeOptions{HeadSHA: head}); again != mc || err != nil {
			t.Errorf("merging again: %q, %v; want the same merge commit", again, err)
		}
		if got, _ := f.Get(ctx, pr.Number); got.State != forge.StateMerged || got.MergedBy != "conveyor-bot" || got.MergeCommit != mc || got.HeadSHA != head {
			t.Errorf("merged pull request %+v", got)
		}
	})

	t.Run("conflicts are not mergeable", func(t *testing.T) {
		for _, b := range []string{"conveyor/prod/a", "conveyor/prod/b"} {
			gh.pushTo(t, stackGitOps, "main", b, map[string]string{"envs/prod/image.txt": b + "\n"}, b, time.Now())
		}
		var prs []*forge.PR
		for _, b := range []string{"conveyor/prod/a", "conveyor/prod/b"} {
			p, err := f.Create(ctx, forge.NewPR{Branch: b, Base: "main", Title: b})
			if err != nil {
				t.Fatal(err)
			}
			prs = append(prs, p)
		}
		if _, err := f.Merge(ctx, prs[0].Number, forge.MergeOptions{Method: forge.MergeSquash}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Merge(ctx, prs[1].Number, forge.MergeOptions{}); !errors.Is(err, forge.ErrNotMergeable) {
			t.Errorf("merging a conflicting pull request: %v, want ErrNotMergeable", err)
		}
	})

	t.Run("rate limit is a wait", func(t *testing.T) {
		gh.limitRate("GET "+ghRepoAPI+"/pulls/{n}", 3*time.Second)
		_, err := f.Get(ctx, pr.Number)
		if d, ok := retry.RetryAfter(err); !ok || d != 3*time.Second {
			t.Errorf("a 429: %v (wait %v), want a 3 s Retry-After", err, d)
		}
	})

	gh.sending.Wait()
	mu.Lock()
	defer mu.Unlock()
	wantHooks := []string{"push", "pull_request opened conveyor/dev/web", "pull_request_review approved conveyor/dev/web",
		"pull_request merged conveyor/dev/web", "push", "push", "pull_request opened conveyor/prod/a", "pull_request opened conveyor/prod/b",
		"pull_request merged conveyor/prod/a"}
	// Deliveries run in parallel, as GitHub's do: compare them as a set.
	slices.Sort(wantHooks)
	slices.Sort(got)
	if diff := cmp.Diff(wantHooks, got); diff != "" {
		t.Errorf("webhooks (-want +got):\n%s", diff)
	}
}
