package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// giteaRequest is a delivery as Gitea v1.26 sends it. With githubHeaders
// it carries GitHub's header set too, as Gitea does; without, only
// Gitea's own, as a Forgejo or a header-stripping proxy may.
func giteaRequest(event, delivery string, body []byte, githubHeaders bool) *http.Request {
	r := httptest.NewRequest(http.MethodPost, webhook.PathGitHub, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	sig := strings.TrimPrefix(signed(body), "sha256=")
	r.Header.Set("X-Gitea-Event", event)
	r.Header.Set("X-Gitea-Delivery", delivery)
	r.Header.Set("X-Gitea-Signature", sig)
	if githubHeaders {
		r.Header.Set("X-GitHub-Event", event)
		r.Header.Set("X-GitHub-Delivery", delivery)
		r.Header.Set("X-Hub-Signature-256", "sha256="+sig)
	}
	return r
}

// received drains name and decodes every envelope.
func (e *env) received(name string) []event.Envelope {
	e.t.Helper()
	q, _ := e.broker.Queue(name)
	msgs, err := q.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []event.Envelope
	for _, m := range msgs {
		env, err := event.Decode(m.Body)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, *env)
	}
	return out
}

func TestGiteaDeliveries(t *testing.T) {
	push, approved := sample(t, "gitea-push.json"), sample(t, "gitea-pull_request_approved.json")
	for _, tc := range []struct {
		name   string
		req    *http.Request
		code   int
		status string
		queued map[string]int
	}{
		{"push, Gitea's headers only", giteaRequest("push", "g1", push, false), 202, "accepted", map[string]int{queue.Builds: 1}},
		{"push, both header sets", giteaRequest("push", "g1", push, true), 202, "accepted", map[string]int{queue.Builds: 1}},
		{"approval, Gitea's headers only", giteaRequest("pull_request_approved", "g1", approved, false), 202, "accepted", map[string]int{queue.Approvals: 1}},
		{"approval, both header sets", giteaRequest("pull_request_approved", "g1", approved, true), 202, "accepted", map[string]int{queue.Approvals: 1}},
		{"approval named by X-Gitea-Event-Type", giteaRequest("pull_request_review_approved", "g1", approved, false), 202, "accepted", map[string]int{queue.Approvals: 1}},
		{"rejection", giteaRequest("pull_request_rejected", "g1", approved, false), 202, "accepted", map[string]int{queue.Approvals: 1}},
		{"X-Gitea-Signature over another body", func() *http.Request {
			r := giteaRequest("push", "g1", push, false)
			r.Header.Set("X-Gitea-Signature", strings.TrimPrefix(signed(approved), "sha256="))
			return r
		}(), 401, "error", map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			code, resp := do(e.handler, tc.req)
			if code != tc.code || resp.Status != tc.status {
				t.Fatalf("got %d %+v, want %d %q", code, resp, tc.code, tc.status)
			}
			if got := e.counts(); !equal(got, tc.queued) {
				t.Fatalf("queued %v, want %v", got, tc.queued)
			}
		})
	}
}

// TestGiteaApprovalBecomesAReview proves a Gitea approval reaches the
// approval function as a review of the GitOps pull request, reviewer and
// branch included (the function then confirms it with the forge).
func TestGiteaApprovalBecomesAReview(t *testing.T) {
	e := newEnv(t)
	if code, resp := do(e.handler, giteaRequest("pull_request_approved", "g1", sample(t, "gitea-pull_request_approved.json"), false)); code != 202 {
		t.Fatalf("got %d %+v", code, resp)
	}
	envs := e.received(queue.Approvals)
	if len(envs) != 1 || envs[0].Source != "gitea" || envs[0].DeliveryID != "g1" {
		t.Fatalf("envelopes %+v, want one from gitea with delivery g1", envs)
	}
	var r event.Review
	if err := envs[0].DecodePayload(&r); err != nil {
		t.Fatal(err)
	}
	want := event.Review{Action: event.ReviewApproved, Repository: "acme/gitops", Number: 7, Title: "Promote web to prod: sha256:4f2a…9c1e",
		HeadRef: "conveyor/prod/web", HeadSHA: r.HeadSHA, BaseRef: "main", Labels: []string{"conveyor", "env:prod", "app:web"},
		Reviewer: "alice", At: time.Date(2026, 11, 29, 0, 18, 0, 0, time.UTC)}
	if fmt.Sprint(r) != fmt.Sprint(want) || len(r.HeadSHA) != 40 {
		t.Fatalf("review\n got %+v\nwant %+v", r, want)
	}
}

// TestGiteaRedeliverBuildsOnce proves Gitea's "redeliver", which sends the
// same signed body under a new X-Gitea-Delivery, puts one envelope on the
// builds queue, whichever header set carries the delivery id.
func TestGiteaRedeliverBuildsOnce(t *testing.T) {
	push := sample(t, "gitea-push.json")
	for _, tc := range []struct {
		name          string
		first, second bool // whether each delivery carries GitHub's headers too
	}{
		{"Gitea headers only", false, false},
		{"both header sets", true, true},
		{"first with both, redelivery with Gitea's only", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			code, first := do(e.handler, giteaRequest("push", "3f1c9a70-0001", push, tc.first))
			if code != 202 || first.Status != "accepted" {
				t.Fatalf("first delivery: %d %+v", code, first)
			}
			code, again := do(e.handler, giteaRequest("push", "3f1c9a70-0002", push, tc.second))
			if code != 200 || again.Status != "duplicate" || len(again.IDs) != 1 || again.IDs[0] != first.IDs[0] {
				t.Fatalf("redelivery under a new id: %d %+v, want 200 duplicate of %v", code, again, first.IDs)
			}
			envs := e.received(queue.Builds)
			if len(envs) != 1 || envs[0].ID != first.IDs[0] || envs[0].DeliveryID != "3f1c9a70-0001" {
				t.Fatalf("builds queue holds %+v, want only the first delivery's envelope", envs)
			}
		})
	}
}

// TestPushTruncation proves a push is marked truncated whenever its sender
// listed fewer commits than it pushed, so a paths: filter builds instead of
// skipping.
func TestPushTruncation(t *testing.T) {
	commits := func(n int) string {
		cs := make([]string, n)
		for i := range cs {
			cs[i] = fmt.Sprintf(`{"id":"%040x","modified":["f%d"]}`, i+1, i)
		}
		return "[" + strings.Join(cs, ",") + "]"
	}
	body := func(list string, extra string) []byte {
		return []byte(`{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"full_name":"acme/web"},"commits":` + list + extra + `}`)
	}
	github, gitea := webhook.ClassifyGitHub, webhook.ClassifyGitea
	for _, tc := range []struct {
		name      string
		classify  func(string, []byte) (webhook.Classification, error)
		body      []byte
		truncated bool
	}{
		{"GitHub, one commit", github, body(commits(1), ""), false},
		{"GitHub, 20 commits is not the webhook's cap", github, body(commits(20), ""), false},
		{"GitHub, 2048 commits", github, body(commits(2048), ""), true},
		{"GitHub, new branch lists none", github, body("[]", ""), true},
		{"GitHub, branch deleted", github, body("[]", `,"deleted":true`), false},
		{"Gitea sample: 5 of 7 listed", gitea, sample(t, "gitea-push.json"), true},
		{"Gitea, all 5 listed", gitea, body(commits(5), `,"total_commits":5`), false},
		{"Gitea, 3 of 40 listed", gitea, body(commits(3), `,"total_commits":40`), true},
		{"Gitea without total_commits, at its cap", gitea, body(commits(5), ""), true},
		{"Gitea without total_commits, under its cap", gitea, body(commits(4), ""), false},
		{"total_commits is honoured from any sender", github, body(commits(5), `,"total_commits":6`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.classify("push", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			p := c.Payload.(event.Push)
			if p.Truncated != tc.truncated {
				t.Fatalf("truncated = %v, want %v (%d files)", p.Truncated, tc.truncated, len(p.ChangedFiles))
			}
		})
	}
}

func TestParseHarborFormats(t *testing.T) {
	want := event.Image{Registry: "harbor.acme.example", Repository: "acme/web", Tag: "sha-0d1a26e67d8f", Action: "push",
		Digest: "sha256:4f2a8c0d6e1b3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1e"}
	ce := sample(t, "harbor-cloudevents-push.json")
	other := bytes.Replace(ce, []byte(`"6c1d9a2e-4b7f`), []byte(`"7d2e0b3f-4b7f`), 1)
	for _, tc := range []struct {
		name    string
		body    []byte
		images  int
		ignored int
		err     string
	}{
		{"default format push", sample(t, "harbor-push.json"), 1, 0, ""},
		{"CloudEvents push", ce, 1, 0, ""},
		{"CloudEvents pull", bytes.Replace(ce, []byte("harbor.artifact.pushed"), []byte("harbor.artifact.pulled"), 1), 0, 1, ""},
		{"CloudEvents push without data", []byte(`{"specversion":"1.0","id":"x","type":"harbor.artifact.pushed"}`), 0, 0, "data.repository.repo_full_name"},
		{"CloudEvents push with the default format's field only", []byte(`{"specversion":"1.0","id":"x","type":"harbor.artifact.pushed","event_data":{"repository":{"repo_full_name":"acme/web"}}}`), 0, 0, "needs data."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, ignored, err := webhook.ParseHarbor(tc.body)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || len(evs) != tc.images || ignored != tc.ignored {
				t.Fatalf("got %+v ignored %d err %v, want %d images, %d ignored", evs, ignored, err, tc.images, tc.ignored)
			}
			for _, e := range evs {
				if e.Image != want {
					t.Fatalf("image %+v, want %+v", e.Image, want)
				}
			}
		})
	}
	t.Run("a CloudEvent's id identifies it", func(t *testing.T) {
		a, _, _ := webhook.ParseHarbor(ce)
		again, _, _ := webhook.ParseHarbor(ce)
		b, _, _ := webhook.ParseHarbor(other)
		if a[0].Key != again[0].Key || a[0].Key == b[0].Key {
			t.Fatalf("keys %s, %s, %s: want the same event to repeat its key and another event not to", a[0].Key, again[0].Key, b[0].Key)
		}
	})
}

func TestHarborCloudEventsThroughTheIngress(t *testing.T) {
	e := newEnv(t)
	ce := sample(t, "harbor-cloudevents-push.json")
	r := registryRequest(webhook.PathHarbor, ce, "Bearer "+token)
	r.Header.Set("Content-Type", "application/cloudevents+json")
	if code, resp := do(e.handler, r); code != 202 || resp.Status != "accepted" || resp.Accepted != 1 {
		t.Fatalf("got %d %+v, want 202 accepted", code, resp)
	}
	if code, resp := do(e.handler, registryRequest(webhook.PathHarbor, ce, "Bearer "+token)); code != 200 || resp.Status != "duplicate" {
		t.Fatalf("redelivery: %d %+v, want 200 duplicate", code, resp)
	}
	envs := e.received(queue.Images)
	var img event.Image
	if len(envs) != 1 || envs[0].DecodePayload(&img) != nil || img.Ref() != "harbor.acme.example/acme/web@sha256:4f2a8c0d6e1b3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1e" {
		t.Fatalf("images queue holds %+v (%+v), want the pushed image once", envs, img)
	}
}
