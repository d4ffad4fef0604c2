package webhook_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

const gitlabToken = "gitlab-hook-secret-0123456789"

func withGitLab(c *webhook.Config, _ *webhook.Queues) { c.GitLabToken = gitlabToken }

// gitlabRequest is a delivery as GitLab 17.4 and later send it, with the
// event's UUID and an Idempotency-Key (each omitted when empty).
func gitlabRequest(event string, body []byte, token, idempotencyKey, eventUUID string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, webhook.PathGitLab, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "GitLab/18.6.0")
	r.Header.Set("X-Gitlab-Instance", "https://gitlab.acme.example")
	r.Header.Set("X-Gitlab-Webhook-UUID", "9f6a1c2e-5b3d-4e7f-8a9b-0c1d2e3f4a5b")
	for k, v := range map[string]string{"X-Gitlab-Event": event, "X-Gitlab-Token": token, "Idempotency-Key": idempotencyKey, "X-Gitlab-Event-UUID": eventUUID} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	return r
}

// TestGitLabDeliveries passes every GitLab sample, and the ways a delivery
// can be wrong, through the ingress.
func TestGitLabDeliveries(t *testing.T) {
	push, approved, merged := sample(t, "gitlab-push.json"), sample(t, "gitlab-merge_request-approved.json"), sample(t, "gitlab-merge_request-merged.json")
	updated := bytes.Replace(approved, []byte(`"action": "approved"`), []byte(`"action": "update"`), 1)
	ok := func(event string, body []byte) *http.Request {
		return gitlabRequest(event, body, gitlabToken, "idem-1", "uuid-1")
	}
	for _, tc := range []struct {
		name      string
		req       *http.Request
		noToken   bool // the ingress has no GitLab token configured
		code      int
		status    string
		errSubstr string
		queued    map[string]int
	}{
		{"push sample", ok("Push Hook", push), false, 202, "accepted", "", map[string]int{queue.Builds: 1}},
		{"approved sample", ok("Merge Request Hook", approved), false, 202, "accepted", "", map[string]int{queue.Approvals: 1}},
		{"merged sample", ok("Merge Request Hook", merged), false, 202, "accepted", "", map[string]int{queue.Approvals: 1}},
		{"event UUID alone identifies it (GitLab < 17.4)", gitlabRequest("Push Hook", push, gitlabToken, "", "uuid-1"), false, 202, "accepted", "", map[string]int{queue.Builds: 1}},
		{"other merge request action ignored", ok("Merge Request Hook", updated), false, 202, "ignored", "", map[string]int{}},
		{"other event ignored", ok("Issue Hook", []byte(`{"object_kind":"issue"}`)), false, 202, "ignored", "", map[string]int{}},
		{"wrong token", gitlabRequest("Push Hook", push, "guess", "idem-1", "uuid-1"), false, 401, "error", "does not match", map[string]int{}},
		{"no token", gitlabRequest("Push Hook", push, "", "idem-1", "uuid-1"), false, 401, "error", "missing X-Gitlab-Token", map[string]int{}},
		{"no token configured refuses everything", ok("Push Hook", push), true, 401, "error", "not configured", map[string]int{}},
		{"no token configured, empty token sent", gitlabRequest("Push Hook", push, "", "idem-1", "uuid-1"), true, 401, "error", "not configured", map[string]int{}},
		{"missing event header", ok("", push), false, 400, "error", "missing X-Gitlab-Event", map[string]int{}},
		{"missing delivery id", gitlabRequest("Push Hook", push, gitlabToken, "", ""), false, 400, "error", "missing X-Gitlab-Event-UUID", map[string]int{}},
		{"delivery id with a control character", gitlabRequest("Push Hook", push, gitlabToken, "idem\x01", ""), false, 400, "error", "Idempotency-Key holds", map[string]int{}},
		{"malformed JSON", ok("Push Hook", []byte(`{"ref":`)), false, 400, "error", "malformed payload", map[string]int{}},
		{"push without project", ok("Push Hook", []byte(`{"ref":"refs/heads/main","after":"0d1a26e6"}`)), false, 400, "error", "needs project.path_with_namespace", map[string]int{}},
		{"merge request without iid", ok("Merge Request Hook", []byte(`{"object_attributes":{"action":"merge"},"project":{"path_with_namespace":"acme/gitops"}}`)), false, 400, "error", "needs object_attributes.iid", map[string]int{}},
		{"wrong method", httptest.NewRequest(http.MethodGet, webhook.PathGitLab, nil), false, 405, "", "", map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withGitLab)
			if tc.noToken {
				e = newEnv(t)
			}
			code, resp := do(e.handler, tc.req)
			if code != tc.code || resp.Status != tc.status || !strings.Contains(resp.Error, tc.errSubstr) {
				t.Fatalf("got %d %+v, want %d status %q error containing %q", code, resp, tc.code, tc.status, tc.errSubstr)
			}
			if got := e.counts(); !equal(got, tc.queued) {
				t.Fatalf("queued %v, want %v", got, tc.queued)
			}
		})
	}
}

func TestGitLabOversize(t *testing.T) {
	e := newEnv(t, withGitLab, func(c *webhook.Config, _ *webhook.Queues) { c.MaxBody = 1024 })
	big := []byte(`{"ref":"` + strings.Repeat("x", 2048) + `"}`)
	if code, resp := do(e.handler, gitlabRequest("Push Hook", big, gitlabToken, "idem-1", "")); code != 413 || !strings.Contains(resp.Error, "1024-byte limit") {
		t.Fatalf("got %d %+v, want 413", code, resp)
	}
	r := gitlabRequest("Push Hook", big, gitlabToken, "idem-1", "")
	r.ContentLength = -1
	r.Body = io.NopCloser(bytes.NewReader(big))
	if code, _ := do(e.handler, r); code != 413 {
		t.Fatalf("chunked oversize: %d, want 413", code)
	}
	if got := e.counts(); len(got) != 0 {
		t.Fatalf("queued %v", got)
	}
}

// TestGitLabSamplesBecomeGitHubShapedEvents: the samples reach the queues
// as the same push and review payloads GitHub's deliveries give.
func TestGitLabSamplesBecomeGitHubShapedEvents(t *testing.T) {
	mergedAt := time.Date(2026, 11, 29, 0, 25, 41, 0, time.UTC)
	for _, tc := range []struct {
		file, event string
		want        any
	}{
		{"gitlab-push.json", "Push Hook", event.Push{Repository: "acme/web", CloneURL: "https://gitlab.acme.example/acme/web.git",
			HTMLURL: "https://gitlab.acme.example/acme/web", Ref: "refs/heads/main", Branch: "main",
			Before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", After: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
			Commit: &event.Commit{ID: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Message: "Serve /healthz from the web server\n\nReadiness probes need it.\n",
				Timestamp: time.Date(2026, 11, 28, 23, 40, 0, 0, time.UTC), URL: "https://gitlab.acme.example/acme/web/-/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", Author: "Mona Lisa"},
			ChangedFiles: []string{"internal/health/health.go", "cmd/web/main.go", "Dockerfile"}, Pusher: "mona"}},
		{"gitlab-merge_request-approved.json", "Merge Request Hook", event.Review{Action: event.ReviewApproved, Repository: "acme/gitops", Number: 7,
			Title: "Promote web to prod: sha256:4f2a…9c1e", HeadRef: "conveyor/prod/web", HeadSHA: "9b3c5d7e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c", BaseRef: "main",
			Labels: []string{"conveyor", "env:prod", "app:web"}, Reviewer: "alice", ReviewCommit: "9b3c5d7e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c",
			At: time.Date(2026, 11, 29, 0, 18, 0, 0, time.UTC)}},
		{"gitlab-merge_request-merged.json", "Merge Request Hook", event.Review{Action: event.ReviewMerged, Repository: "acme/gitops", Number: 7,
			Title: "Promote web to prod: sha256:4f2a…9c1e", HeadRef: "conveyor/prod/web", HeadSHA: "9b3c5d7e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c", BaseRef: "main",
			Labels: []string{"conveyor", "env:prod", "app:web"}, MergeCommit: "e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3", MergedBy: "bob", At: mergedAt}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t, withGitLab)
			if code, resp := do(e.handler, gitlabRequest(tc.event, sample(t, tc.file), gitlabToken, "idem-1", "uuid-1")); code != 202 {
				t.Fatalf("got %d %+v", code, resp)
			}
			q := queue.Builds
			if _, ok := tc.want.(event.Review); ok {
				q = queue.Approvals
			}
			envs := e.received(q)
			if len(envs) != 1 || envs[0].Source != "gitlab" || envs[0].DeliveryID != "idem-1" {
				t.Fatalf("envelopes %+v, want one from gitlab with delivery idem-1", envs)
			}
			var got any
			switch tc.want.(type) {
			case event.Push:
				var p event.Push
				if err := envs[0].DecodePayload(&p); err != nil {
					t.Fatal(err)
				}
				got = p
			case event.Review:
				var r event.Review
				if err := envs[0].DecodePayload(&r); err != nil {
					t.Fatal(err)
				}
				got = r
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("payload (-want +got):\n%s", d)
			}
		})
	}
}

// TestGitLabRedeliveryEnqueuesOnce: GitLab's retries keep the
// Idempotency-Key, an older GitLab's keep the event UUID, and a resend with
// fresh identities carries the same body: each is answered duplicate.
func TestGitLabRedeliveryEnqueuesOnce(t *testing.T) {
	push, other := sample(t, "gitlab-push.json"), bytes.Replace(sample(t, "gitlab-push.json"), []byte(`"total_commits_count": 2`), []byte(`"total_commits_count": 3`), 1)
	type delivery struct {
		body            []byte
		idem, eventUUID string
		code            int
		status          string
		builds          int
	}
	for _, tc := range []struct {
		name  string
		steps []delivery
	}{
		{"retry keeps the Idempotency-Key", []delivery{{push, "k1", "u1", 202, "accepted", 1}, {push, "k1", "u1", 200, "duplicate", 1}}},
		{"GitLab < 17.4 retry keeps the event UUID", []delivery{{push, "", "u1", 202, "accepted", 1}, {push, "", "u1", 200, "duplicate", 1}}},
		{"resend under fresh identities", []delivery{{push, "k1", "u1", 202, "accepted", 1}, {push, "k2", "u2", 200, "duplicate", 1}}},
		{"the same key on another body is still a duplicate", []delivery{{push, "k1", "u1", 202, "accepted", 1}, {other, "k1", "u9", 200, "duplicate", 1}}},
		{"a new event is a new build", []delivery{{push, "k1", "u1", 202, "accepted", 1}, {other, "k2", "u2", 202, "accepted", 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withGitLab)
			var first webhook.Response
			for i, s := range tc.steps {
				code, resp := do(e.handler, gitlabRequest("Push Hook", s.body, gitlabToken, s.idem, s.eventUUID))
				if code != s.code || resp.Status != s.status {
					t.Fatalf("step %d: got %d %+v, want %d %q", i, code, resp, s.code, s.status)
				}
				if i == 0 {
					first = resp
				}
				if s.status == "duplicate" && (len(resp.IDs) != 1 || resp.IDs[0] != first.IDs[0]) {
					t.Fatalf("step %d: duplicate answered %+v, want the first envelope %v", i, resp, first.IDs)
				}
				if got := e.counts()[queue.Builds]; got != s.builds {
					t.Fatalf("step %d: builds queue holds %d, want %d", i, got, s.builds)
				}
			}
		})
	}
}

// TestGitLabPushTruncation: GitLab lists at most 20 commits of a push and
// counts them all in total_commits_count; a partial list is marked
// truncated so a paths: filter builds instead of skipping.
func TestGitLabPushTruncation(t *testing.T) {
	body := func(after string, listed, total int) []byte {
		cs := make([]string, listed)
		for i := range cs {
			cs[i] = fmt.Sprintf(`{"id":"%040x","timestamp":"2026-11-28T23:40:00+00:00","modified":["f%d"]}`, i+1, i)
		}
		return []byte(fmt.Sprintf(`{"object_kind":"push","ref":"refs/heads/main","before":"%040x","after":"%s","project":{"path_with_namespace":"acme/web"},"commits":[%s],"total_commits_count":%d}`,
			99, after, strings.Join(cs, ","), total))
	}
	head := fmt.Sprintf("%040x", 20)
	for _, tc := range []struct {
		name               string
		body               []byte
		truncated, deleted bool
	}{
		{"sample: all listed", sample(t, "gitlab-push.json"), false, false},
		{"20 listed of 20", body(head, 20, 20), false, false},
		{"20 listed of 45", body(head, 20, 45), true, false},
		{"new branch at an old commit lists none", body(head, 0, 0), true, false},
		{"branch deleted", body(strings.Repeat("0", 40), 0, 0), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := webhook.ClassifyGitLab("Push Hook", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			p := c.Payload.(event.Push)
			if p.Truncated != tc.truncated || p.Deleted != tc.deleted {
				t.Fatalf("truncated %v deleted %v, want %v %v (%d files)", p.Truncated, p.Deleted, tc.truncated, tc.deleted, len(p.ChangedFiles))
			}
		})
	}
}
