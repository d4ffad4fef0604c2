package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

const (
	secret = "It's a Secret to Everybody"
	token  = "registry-token-0123456789"
)

type env struct {
	t       *testing.T
	broker  *sqlitequeue.Broker
	handler http.Handler
}

func newEnv(t *testing.T, mutate ...func(*webhook.Config, *webhook.Queues)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	qs := webhook.Queues{}
	for name, dst := range map[string]*webhook.Sender{queue.Builds: &qs.Builds, queue.Images: &qs.Images, queue.Approvals: &qs.Approvals} {
		q, _ := b.Queue(name)
		*dst = q
	}
	cfg := webhook.Config{GitHubSecret: []byte(secret), RegistryToken: token, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	for _, m := range mutate {
		m(&cfg, &qs)
	}
	in, err := webhook.New(cfg, qs, st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, broker: b, handler: in}
}

// counts returns the visible messages per queue.
func (e *env) counts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, name := range []string{queue.Builds, queue.Images, queue.Approvals} {
		s, err := e.broker.Stats(context.Background(), name)
		if err != nil {
			e.t.Fatal(err)
		}
		if s.Visible > 0 {
			out[name] = s.Visible
		}
	}
	return out
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func githubRequest(event, delivery string, body []byte, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, webhook.PathGitHub, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if event != "" {
		r.Header.Set("X-GitHub-Event", event)
	}
	if delivery != "" {
		r.Header.Set("X-GitHub-Delivery", delivery)
	}
	if sig != "" {
		r.Header.Set("X-Hub-Signature-256", sig)
	}
	return r
}

func signed(body []byte) string { return webhook.SignatureHeader([]byte(secret), body) }

func do(h http.Handler, r *http.Request) (int, webhook.Response) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var resp webhook.Response
	_ = json.Unmarshal(w.Body.Bytes(), &resp)
	return w.Code, resp
}

func TestGitHub(t *testing.T) {
	push := sample(t, "github-push.json")
	tampered := bytes.Replace(push, []byte("octocat"), []byte("mallory"), 1)
	for _, tc := range []struct {
		name      string
		req       *http.Request
		code      int
		status    string
		errSubstr string
		queued    map[string]int
	}{
		{"push accepted", githubRequest("push", "d1", push, signed(push)), 202, "accepted", "", map[string]int{queue.Builds: 1}},
		{"branch deletion still recorded", githubRequest("push", "d1", sample(t, "github-push-branch-deleted.json"), signed(sample(t, "github-push-branch-deleted.json"))), 202, "accepted", "", map[string]int{queue.Builds: 1}},
		{"merged PR to approvals", githubRequest("pull_request", "d1", sample(t, "github-pull_request-merged.json"), signed(sample(t, "github-pull_request-merged.json"))), 202, "accepted", "", map[string]int{queue.Approvals: 1}},
		{"review to approvals", githubRequest("pull_request_review", "d1", sample(t, "github-pull_request_review-approved.json"), signed(sample(t, "github-pull_request_review-approved.json"))), 202, "accepted", "", map[string]int{queue.Approvals: 1}},
		{"GHCR package to images", githubRequest("registry_package", "d1", sample(t, "github-registry_package-published.json"), signed(sample(t, "github-registry_package-published.json"))), 202, "accepted", "", map[string]int{queue.Images: 1}},
		{"ping", githubRequest("ping", "d1", sample(t, "github-ping.json"), signed(sample(t, "github-ping.json"))), 200, "pong", "", map[string]int{}},
		{"unknown event ignored", githubRequest("issues", "d1", sample(t, "github-issues-opened.json"), signed(sample(t, "github-issues-opened.json"))), 202, "ignored", "", map[string]int{}},
		{"signature over a different body", githubRequest("push", "d1", tampered, signed(push)), 401, "error", "does not match", map[string]int{}},
		{"wrong secret", githubRequest("push", "d1", push, webhook.SignatureHeader([]byte("guess"), push)), 401, "error", "does not match", map[string]int{}},
		{"no signature", githubRequest("push", "d1", push, ""), 401, "error", "missing X-Hub-Signature-256", map[string]int{}},
		{"sha1 signature form", githubRequest("push", "d1", push, "sha1=0123"), 401, "error", "is not", map[string]int{}},
		{"malformed JSON", githubRequest("push", "d1", []byte(`{"ref":`), signed([]byte(`{"ref":`))), 400, "error", "malformed payload", map[string]int{}},
		{"push without repository", githubRequest("push", "d1", []byte(`{"ref":"refs/heads/main"}`), signed([]byte(`{"ref":"refs/heads/main"}`))), 400, "error", "needs repository.full_name", map[string]int{}},
		{"missing event header", githubRequest("", "d1", push, signed(push)), 400, "error", "missing X-GitHub-Event", map[string]int{}},
		{"missing delivery header", githubRequest("push", "", push, signed(push)), 400, "error", "missing X-GitHub-Delivery", map[string]int{}},
		{"delivery id of 100 KiB", githubRequest("push", strings.Repeat("d", 100<<10), push, signed(push)), 400, "error", "X-GitHub-Delivery is 102400 bytes", map[string]int{}},
		{"delivery id with a control character", githubRequest("push", "d1\x7f", push, signed(push)), 400, "error", "X-GitHub-Delivery holds", map[string]int{}},
		{"wrong method", httptest.NewRequest(http.MethodGet, webhook.PathGitHub, nil), 405, "", "", map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
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

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestMissingSecretRefusesEverything(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config, _ *webhook.Queues) { c.GitHubSecret = nil; c.RegistryToken = "" })
	push := sample(t, "github-push.json")
	// Even a request "signed" with the empty key must fail.
	if code, resp := do(e.handler, githubRequest("push", "d1", push, webhook.SignatureHeader(nil, push))); code != 401 || !strings.Contains(resp.Error, "not configured") {
		t.Fatalf("got %d %+v, want 401 secret not configured", code, resp)
	}
	r := httptest.NewRequest(http.MethodPost, webhook.PathDistribution, bytes.NewReader(sample(t, "distribution-push.json")))
	r.Header.Set("Authorization", "Bearer ")
	if code, _ := do(e.handler, r); code != 401 {
		t.Fatalf("registry with no token configured: %d, want 401", code)
	}
	if got := e.counts(); len(got) != 0 {
		t.Fatalf("queued %v", got)
	}
}

func TestDuplicateDeliveryEnqueuesOnce(t *testing.T) {
	e := newEnv(t)
	push := sample(t, "github-push.json")
	code, first := do(e.handler, githubRequest("push", "72d3162e", push, signed(push)))
	if code != 202 || first.TraceID == "" || len(first.IDs) != 1 {
		t.Fatalf("first delivery: %d %+v", code, first)
	}
	code, second := do(e.handler, githubRequest("push", "72d3162e", push, signed(push)))
	if code != 200 || second.Status != "duplicate" || second.IDs[0] != first.IDs[0] || second.TraceID != first.TraceID {
		t.Fatalf("redelivery: %d %+v, want 200 duplicate of %v", code, second, first.IDs)
	}
	if got := e.counts()[queue.Builds]; got != 1 {
		t.Fatalf("builds queue holds %d messages, want 1", got)
	}
}

// TestSignedBodyIsDedupedWhateverTheDeliveryID proves a captured signed
// body cannot be replayed under a fresh X-GitHub-Delivery: the delivery id
// is not signed, the body is.
func TestSignedBodyIsDedupedWhateverTheDeliveryID(t *testing.T) {
	push := sample(t, "github-push.json")
	other := sample(t, "github-push-branch-deleted.json")
	type step struct {
		delivery string
		body     []byte
		code     int
		status   string
		builds   int
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"same body, new delivery id (replay or Gitea redeliver)", []step{
			{"d1", push, 202, "accepted", 1},
			{"d2", push, 200, "duplicate", 1},
		}},
		{"same body, same delivery id", []step{
			{"d1", push, 202, "accepted", 1},
			{"d1", push, 200, "duplicate", 1},
		}},
		{"replay under a new id, then its id redelivered", []step{
			{"d1", push, 202, "accepted", 1},
			{"d2", push, 200, "duplicate", 1},
			{"d2", push, 200, "duplicate", 1},
		}},
		{"a different body is a new event", []step{
			{"d1", push, 202, "accepted", 1},
			{"d2", other, 202, "accepted", 2},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var first webhook.Response
			for i, s := range tc.steps {
				code, resp := do(e.handler, githubRequest("push", s.delivery, s.body, signed(s.body)))
				if code != s.code || resp.Status != s.status {
					t.Fatalf("step %d (%s): got %d %+v, want %d %q", i, s.delivery, code, resp, s.code, s.status)
				}
				if i == 0 {
					first = resp
				}
				if s.status == "duplicate" && (len(resp.IDs) != 1 || resp.IDs[0] != first.IDs[0] || resp.TraceID != first.TraceID) {
					t.Fatalf("step %d: duplicate answered %+v, want the first envelope %v", i, resp, first.IDs)
				}
				if got := e.counts()[queue.Builds]; got != s.builds {
					t.Fatalf("step %d: builds queue holds %d, want %d", i, got, s.builds)
				}
			}
		})
	}
}

// TestQueueFailureReleasesBothClaims proves a failed send frees the body's
// claim as well as the delivery's: a redelivery under either id succeeds.
func TestQueueFailureReleasesBothClaims(t *testing.T) {
	fs := &failingSender{fail: true}
	e := newEnv(t, func(_ *webhook.Config, q *webhook.Queues) { q.Builds = fs })
	push := sample(t, "github-push.json")
	if code, _ := do(e.handler, githubRequest("push", "d1", push, signed(push))); code != 503 {
		t.Fatalf("got %d, want 503", code)
	}
	fs.fail = false
	if code, resp := do(e.handler, githubRequest("push", "d2", push, signed(push))); code != 202 || resp.Status != "accepted" {
		t.Fatalf("redelivery under a new id after the outage: %d %+v, want 202 accepted", code, resp)
	}
	if code, resp := do(e.handler, githubRequest("push", "d1", push, signed(push))); code != 200 || resp.Status != "duplicate" {
		t.Fatalf("the first id again: %d %+v, want 200 duplicate", code, resp)
	}
}

func TestEnvelopeIsNormalised(t *testing.T) {
	e := newEnv(t)
	push := sample(t, "github-push.json")
	_, resp := do(e.handler, githubRequest("push", "72d3162e", push, signed(push)))
	q, _ := e.broker.Queue(queue.Builds)
	msgs, err := q.Receive(context.Background(), 1, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %v", msgs, err)
	}
	env, err := event.Decode(msgs[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	var p event.Push
	if err := env.DecodePayload(&p); err != nil {
		t.Fatal(err)
	}
	if env.Kind != event.KindPush || env.DeliveryID != "72d3162e" || env.TraceID != resp.TraceID || env.ID != resp.IDs[0] ||
		msgs[0].Attributes[queue.AttrTraceID] != env.TraceID {
		t.Fatalf("envelope %+v does not match the response %+v", env, resp)
	}
	if p.Repository != "acme/web" || p.Branch != "main" || p.After != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" ||
		p.Commit == nil || p.Commit.Timestamp.IsZero() || len(p.ChangedFiles) != 3 || p.Truncated {
		t.Fatalf("push payload %+v", p)
	}
	if len(msgs[0].Body) > 4096 {
		t.Fatalf("envelope is %d bytes: the raw body leaked into it", len(msgs[0].Body))
	}
}

func TestOversize(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config, _ *webhook.Queues) { c.MaxBody = 1024 })
	big := []byte(`{"ref":"` + strings.Repeat("x", 2048) + `"}`)
	r := githubRequest("push", "d1", big, signed(big))
	if code, resp := do(e.handler, r); code != 413 || !strings.Contains(resp.Error, "1024-byte limit") {
		t.Fatalf("got %d %+v, want 413", code, resp)
	}
	// Without a Content-Length the limit still holds while streaming.
	r = githubRequest("push", "d1", big, signed(big))
	r.ContentLength = -1
	r.Body = io.NopCloser(bytes.NewReader(big))
	if code, _ := do(e.handler, r); code != 413 {
		t.Fatalf("chunked oversize: %d, want 413", code)
	}
	if got := e.counts(); len(got) != 0 {
		t.Fatalf("queued %v", got)
	}
}

type failingSender struct{ fail bool }

func (f *failingSender) Send(context.Context, queue.SendInput) (string, error) {
	if f.fail {
		return "", errors.New("disk full")
	}
	return "ok", nil
}

func TestQueueFailureReleasesTheDelivery(t *testing.T) {
	fs := &failingSender{fail: true}
	e := newEnv(t, func(_ *webhook.Config, q *webhook.Queues) { q.Builds = fs })
	push := sample(t, "github-push.json")
	if code, resp := do(e.handler, githubRequest("push", "d1", push, signed(push))); code != 503 || !strings.Contains(resp.Error, "disk full") {
		t.Fatalf("got %d %+v, want 503", code, resp)
	}
	fs.fail = false
	if code, resp := do(e.handler, githubRequest("push", "d1", push, signed(push))); code != 202 || resp.Status != "accepted" {
		t.Fatalf("redelivery after the outage: %d %+v, want 202 accepted", code, resp)
	}
}

func TestFormEncodedPayload(t *testing.T) {
	e := newEnv(t)
	push := sample(t, "github-push.json")
	form := []byte("payload=" + strings.ReplaceAll(strings.ReplaceAll(string(push), "%", "%25"), "&", "%26"))
	form = bytes.ReplaceAll(form, []byte("+"), []byte("%2B"))
	r := githubRequest("push", "d1", form, signed(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, resp := do(e.handler, r); code != 202 {
		t.Fatalf("form-encoded push: %d %+v", code, resp)
	}
}

func registryRequest(path string, body []byte, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func TestRegistry(t *testing.T) {
	dist := sample(t, "distribution-push.json")
	for _, tc := range []struct {
		name   string
		req    *http.Request
		code   int
		status string
		images int
	}{
		{"distribution manifest push", registryRequest(webhook.PathDistribution, dist, "Bearer "+token), 202, "accepted", 1},
		{"distribution delete ignored", registryRequest(webhook.PathDistribution, sample(t, "distribution-delete.json"), "Bearer "+token), 202, "ignored", 0},
		{"distribution wrong token", registryRequest(webhook.PathDistribution, dist, "Bearer nope"), 401, "error", 0},
		{"distribution no token", registryRequest(webhook.PathDistribution, dist, ""), 401, "error", 0},
		{"distribution malformed", registryRequest(webhook.PathDistribution, []byte(`{"events":`), "Bearer "+token), 400, "error", 0},
		{"distribution not an envelope", registryRequest(webhook.PathDistribution, []byte(`{}`), "Bearer "+token), 400, "error", 0},
		{"harbor push, bare token", registryRequest(webhook.PathHarbor, sample(t, "harbor-push.json"), token), 202, "accepted", 1},
		{"harbor pull ignored", registryRequest(webhook.PathHarbor, []byte(`{"type":"PULL_ARTIFACT","event_data":{}}`), "Bearer "+token), 202, "ignored", 0},
		{"harbor malformed", registryRequest(webhook.PathHarbor, []byte(`[]`), "Bearer "+token), 400, "error", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			code, resp := do(e.handler, tc.req)
			if code != tc.code || resp.Status != tc.status {
				t.Fatalf("got %d %+v, want %d %q", code, resp, tc.code, tc.status)
			}
			if got := e.counts()[queue.Images]; got != tc.images {
				t.Fatalf("images queue holds %d, want %d", got, tc.images)
			}
		})
	}
	t.Run("redelivered notification", func(t *testing.T) {
		e := newEnv(t)
		do(e.handler, registryRequest(webhook.PathDistribution, dist, "Bearer "+token))
		code, resp := do(e.handler, registryRequest(webhook.PathDistribution, dist, "Bearer "+token))
		if code != 200 || resp.Status != "duplicate" || e.counts()[queue.Images] != 1 {
			t.Fatalf("got %d %+v and %d queued, want 200 duplicate and 1", code, resp, e.counts()[queue.Images])
		}
	})
}

func TestParseDistribution(t *testing.T) {
	evs, ignored, err := webhook.ParseDistribution(sample(t, "distribution-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := event.Image{Registry: "127.0.0.1:5000", Repository: "acme/web", Digest: "sha256:4f2a8c0d6e1b3a5c7e9f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1e",
		Tag: "sha-0d1a26e67d8f", MediaType: "application/vnd.oci.image.manifest.v1+json", Action: "push"}
	if len(evs) != 1 || ignored != 1 || evs[0].Image != want || evs[0].Key != "distribution:a2f4c6e8-1b3d-4f5a-8c7e-9d0b1a2c3e4f" {
		t.Fatalf("got %+v ignored %d", evs, ignored)
	}
}

func TestLambdaAdapter(t *testing.T) {
	e := newEnv(t)
	h := webhook.LambdaHandler(e.handler)
	push := sample(t, "github-push.json")
	req := events.APIGatewayV2HTTPRequest{
		RawPath: webhook.PathGitHub,
		Headers: map[string]string{
			"content-type":        "application/json",
			"x-github-event":      "push",
			"x-github-delivery":   "lambda-1",
			"x-hub-signature-256": signed(push),
		},
		Body:            base64.StdEncoding.EncodeToString(push),
		IsBase64Encoded: true,
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	resp, err := h(context.Background(), req)
	if err != nil || resp.StatusCode != 202 || resp.Headers["content-type"] != "application/json" || resp.Headers["x-conveyor-trace-id"] == "" {
		t.Fatalf("got %+v %v, want 202 JSON with a trace id", resp, err)
	}
	req.Headers["x-hub-signature-256"] = signed([]byte(req.Body)) // signed over the base64 text, not the bytes
	resp, _ = h(context.Background(), req)
	if resp.StatusCode != 401 {
		t.Fatalf("signature over the encoded body: %d, want 401", resp.StatusCode)
	}
	if got := e.counts()[queue.Builds]; got != 1 {
		t.Fatalf("builds queue holds %d, want 1", got)
	}
	health := events.APIGatewayV2HTTPRequest{RawPath: webhook.PathHealth}
	health.RequestContext.HTTP.Method = http.MethodGet
	if resp, _ := h(context.Background(), health); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
