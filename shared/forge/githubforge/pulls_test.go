package githubforge_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

const (
	headSHA  = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	branch   = "conveyor/dev/web"
	pullPath = "/repos/o/r/pulls/42"
)

var (
	alreadyExists = ghError(http.StatusUnprocessableEntity, "Validation Failed",
		"https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
		map[string]any{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for o:conveyor/dev/web."})
	labelsJSON = `[
  {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "https://api.github.com/repos/o/r/labels/conveyor", "name": "conveyor", "description": "Opened by Conveyor", "color": "f29513", "default": false},
  {"id": 208045947, "node_id": "MDU6TGFiZWwyMDgwNDU5NDc=", "url": "https://api.github.com/repos/o/r/labels/env:dev", "name": "env:dev", "description": "", "color": "a2eeef", "default": false}
]`
)

func wantPR() *forge.PR {
	return &forge.PR{
		Number:    42,
		URL:       "https://github.com/o/r/pull/42",
		Title:     "Promote web to dev: sha256:3f2a…",
		Body:      "Promotes `web` to `dev`.",
		Branch:    branch,
		Base:      "main",
		HeadRepo:  "o/r",
		HeadSHA:   headSHA,
		State:     forge.StateOpen,
		Mergeable: ptr(true),
		CreatedAt: time.Date(2024, 3, 11, 9, 15, 27, 0, time.UTC),
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	newPR := forge.NewPR{
		Branch:    branch,
		Base:      "main",
		Title:     "Promote web to dev: sha256:3f2a…",
		Body:      "Promotes `web` to `dev`.",
		Labels:    []string{"conveyor", "env:dev"},
		Reviewers: []string{"alice", "o/platform-team", "@bob", "conveyor[bot]"},
	}
	createCall := call{Method: "POST", Path: "/repos/o/r/pulls", Body: map[string]any{
		"title": newPR.Title, "head": branch, "base": "main", "body": newPR.Body, "maintainer_can_modify": false,
	}}
	labelsCall := call{Method: "POST", Path: "/repos/o/r/issues/42/labels", Body: []any{"conveyor", "env:dev"}}
	reviewersCall := call{Method: "POST", Path: "/repos/o/r/pulls/42/requested_reviewers", Body: map[string]any{
		"reviewers": []any{"alice", "bob"}, "team_reviewers": []any{"platform-team"},
	}}
	labelled := wantPR()
	labelled.Labels = []string{"conveyor", "env:dev"}

	tests := []struct {
		name      string
		routes    map[string][]reply
		newPR     forge.NewPR
		want      *forge.PR
		wantCalls []call
	}{{
		name: "creates, labels and requests users and teams",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls":                        {{Status: 201, Body: "@pull.json"}},
			"POST /repos/o/r/issues/42/labels":             {{Body: labelsJSON}},
			"POST /repos/o/r/pulls/42/requested_reviewers": {{Status: 201, Body: "@pull.json"}},
		},
		newPR:     newPR,
		want:      labelled,
		wantCalls: []call{createCall, labelsCall, reviewersCall},
	}, {
		name: "adopts the open pull request on 422 already exists",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls":            {{Status: 422, Body: alreadyExists}},
			"GET /repos/o/r/pulls":             {{Body: listOf(pull(t, map[string]any{"mergeable": nil}))}},
			"POST /repos/o/r/issues/42/labels": {{Body: labelsJSON}},
		},
		newPR: forge.NewPR{Branch: branch, Base: "main", Title: newPR.Title, Body: newPR.Body, Labels: newPR.Labels},
		want: func() *forge.PR {
			pr := wantPR()
			pr.Labels = []string{"conveyor", "env:dev"}
			pr.Mergeable = nil
			return pr
		}(),
		wantCalls: []call{
			createCall,
			{Method: "GET", Path: "/repos/o/r/pulls", Query: "head=o:conveyor/dev/web&per_page=100&state=open"},
			labelsCall,
		},
	}, {
		name: "review refused from the author is not fatal",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls": {{Status: 201, Body: "@pull.json"}},
			"POST /repos/o/r/pulls/42/requested_reviewers": {{Status: 422, Body: ghError(422,
				"Review cannot be requested from pull request author.",
				"https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request")}},
		},
		newPR: forge.NewPR{Branch: branch, Base: "main", Title: newPR.Title, Body: newPR.Body, Reviewers: []string{"octocat"}},
		want:  wantPR(),
		wantCalls: []call{createCall, {Method: "POST", Path: "/repos/o/r/pulls/42/requested_reviewers", Body: map[string]any{
			"reviewers": []any{"octocat"},
		}}},
	}, {
		name: "the author alone is not requested",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls": {{Status: 201, Body: "@pull.json"}},
		},
		newPR:     forge.NewPR{Branch: branch, Base: "main", Title: newPR.Title, Body: newPR.Body, Reviewers: []string{"Conveyor[bot]"}},
		want:      wantPR(),
		wantCalls: []call{createCall},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, tt.routes)
			got, err := f.Create(context.Background(), tt.newPR)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Create PR (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	tests := []struct {
		name          string
		routes        map[string][]reply
		wantPermanent bool
		wantText      string
	}{{
		name: "invalid base is permanent",
		routes: map[string][]reply{"POST /repos/o/r/pulls": {{Status: 422, Body: ghError(422, "Validation Failed",
			"https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
			map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})}}},
		wantPermanent: true,
		wantText:      "creating pull request for conveyor/dev/web: POST /api-v3/repos/o/r/pulls: 422 Validation Failed: invalid: PullRequest.base",
	}, {
		name: "already exists but none listed open is transient",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls": {{Status: 422, Body: alreadyExists}},
			"GET /repos/o/r/pulls":  {{Body: "[]"}},
		},
		wantText: "A pull request already exists for o:conveyor/dev/web.",
	}, {
		name: "reviewer who is no collaborator is permanent",
		routes: map[string][]reply{
			"POST /repos/o/r/pulls": {{Status: 201, Body: "@pull.json"}},
			"POST /repos/o/r/pulls/42/requested_reviewers": {{Status: 422, Body: ghError(422,
				"Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the o/r repository.",
				"https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request")}},
		},
		wantPermanent: true,
		wantText:      "requesting reviewers for pull request #42: POST /api-v3/repos/o/r/pulls/42/requested_reviewers: 422 Reviews may only be requested from collaborators.",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newForge(t, tt.routes)
			_, err := f.Create(context.Background(), forge.NewPR{Branch: branch, Base: "main", Title: "t", Reviewers: []string{"mallory"}})
			if err == nil {
				t.Fatal("Create: no error")
			}
			if got := retry.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.wantPermanent)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestFindOpen(t *testing.T) {
	other := pull(t, map[string]any{"number": 7, "head": map[string]any{"label": "o:conveyor/prod/web", "ref": "conveyor/prod/web", "sha": headSHA}})
	tests := []struct {
		name    string
		list    string
		want    *forge.PR
		wantErr error
	}{
		{name: "found", list: listOf(other, fixture(t, "pull.json")), want: wantPR()},
		{name: "none open", list: "[]", wantErr: forge.ErrNotFound},
		{name: "filter ignored by GitHub", list: listOf(other), wantErr: forge.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{"GET /repos/o/r/pulls": {{Body: tt.list}}})
			got, err := f.FindOpen(context.Background(), branch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FindOpen error = %v, want %v", err, tt.wantErr)
			}
			if retry.IsPermanent(err) {
				t.Errorf("FindOpen: not found is an expected outcome, not a permanent failure: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FindOpen (-want +got):\n%s", diff)
			}
			wantCalls := []call{{Method: "GET", Path: "/repos/o/r/pulls", Query: "head=o:conveyor/dev/web&per_page=100&state=open"}}
			if diff := cmp.Diff(wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name       string
		labels     []string
		wantLabels []any
	}{
		{name: "replaces labels", labels: []string{"conveyor", "env:dev"}, wantLabels: []any{"conveyor", "env:dev"}},
		{name: "no labels clears them", labels: nil, wantLabels: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{
				"PATCH " + pullPath:               {{Body: pull(t, map[string]any{"title": "new title", "body": "new body"})}},
				"PUT /repos/o/r/issues/42/labels": {{Body: labelsJSON}},
			})
			got, err := f.Update(context.Background(), 42, "new title", "new body", tt.labels)
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			want := wantPR()
			want.Title, want.Body, want.Labels = "new title", "new body", []string{"conveyor", "env:dev"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Update (-want +got):\n%s", diff)
			}
			wantCalls := []call{
				{Method: "PATCH", Path: pullPath, Body: map[string]any{"title": "new title", "body": "new body"}},
				{Method: "PUT", Path: "/repos/o/r/issues/42/labels", Body: tt.wantLabels},
			}
			if diff := cmp.Diff(wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClose(t *testing.T) {
	tests := []struct {
		name      string
		pr        string
		wantCalls []call
	}{{
		name: "comments then closes",
		pr:   "@pull.json",
		wantCalls: []call{
			{Method: "GET", Path: pullPath},
			{Method: "POST", Path: "/repos/o/r/issues/42/comments", Body: map[string]any{"body": "Superseded by #43."}},
			{Method: "PATCH", Path: pullPath, Body: map[string]any{"state": "closed"}},
		},
	}, {
		name:      "already closed is success",
		pr:        pull(t, map[string]any{"state": "closed", "closed_at": "2024-03-11T10:00:00Z", "mergeable": nil}),
		wantCalls: []call{{Method: "GET", Path: pullPath}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, gh := newForge(t, map[string][]reply{
				"GET " + pullPath:                    {{Body: tt.pr}},
				"POST /repos/o/r/issues/42/comments": {{Status: 201, Body: `{"id": 1, "body": "Superseded by #43.", "user": {"login": "conveyor[bot]"}}`}},
				"PATCH " + pullPath:                  {{Body: pull(t, map[string]any{"state": "closed"})}},
			})
			if err := f.Close(context.Background(), 42, "Superseded by #43."); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if diff := cmp.Diff(tt.wantCalls, gh.Calls()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReviews(t *testing.T) {
	f, gh := newForge(t, map[string][]reply{
		"GET /repos/o/r/pulls/42/reviews": {
			{Body: "@reviews.json", Header: map[string]string{
				"Link": `<https://api.github.com/repositories/1296269/pulls/42/reviews?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1296269/pulls/42/reviews?per_page=100&page=2>; rel="last"`,
			}},
			{Body: "@reviews-page2.json"},
		},
	})
	got, err := f.Reviews(context.Background(), 42)
	if err != nil {
		t.Fatalf("Reviews: %v", err)
	}
	want := []forge.Review{
		{User: "bob", State: "changes_requested", CommitID: "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091", At: time.Date(2024, 3, 11, 9, 20, 0, 0, time.UTC)},
		{User: "alice", State: "approved", CommitID: headSHA, At: time.Date(2024, 3, 11, 9, 31, 12, 0, time.UTC)},
		{User: "bob", State: "commented", CommitID: headSHA, At: time.Date(2024, 3, 11, 9, 40, 5, 0, time.UTC)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reviews (-want +got):\n%s", diff)
	}
	wantCalls := []call{
		{Method: "GET", Path: "/repos/o/r/pulls/42/reviews", Query: "per_page=100"},
		{Method: "GET", Path: "/repos/o/r/pulls/42/reviews", Query: "page=2&per_page=100"},
	}
	if diff := cmp.Diff(wantCalls, gh.Calls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
