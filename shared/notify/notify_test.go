package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/google/go-cmp/cmp"
)

// receiver is an HTTP server that answers with statuses in turn (then
// 200) and keeps what it was sent.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []request
}

type request struct {
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, request{r.Header.Clone(), body})
	if len(rc.statuses) > 0 {
		w.WriteHeader(rc.statuses[0])
		rc.statuses = rc.statuses[1:]
	}
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func newDeliverer(t *testing.T, env map[string]string) *notify.Deliverer {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := sqlitestate.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return &notify.Deliverer{Idem: st, Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
}

var sample = notify.Event{Event: config.NotifyWaiting, Key: "web/prod/sha256:abc/waiting/3", App: "web", Environment: "prod",
	Digest: "sha256:abc", PR: 3, Approvers: []string{"alice", "acme/ops"}, Approvals: 1, TraceID: "trace-1",
	At: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}

func TestDeliverWebhook(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		attempts  int  // Deliver calls, each after the previous failed
		permanent bool // the last failure is permanent
		posts     int
	}{
		{name: "delivered once", attempts: 1, posts: 1},
		{name: "retried after 500 and 429", statuses: []int{500, 429}, attempts: 3, posts: 3},
		{name: "400 is permanent", statuses: []int{400}, attempts: 1, permanent: true, posts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{statuses: tc.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			d := newDeliverer(t, map[string]string{"HOOK_KEY": "k3y"})
			dl := notify.Delivery{Event: sample, Target: notify.Target{Webhook: srv.URL + "/hook", SecretEnv: "HOOK_KEY"}}
			var err error
			for i := 0; i < tc.attempts; i++ {
				if err = d.Deliver(context.Background(), dl); err == nil {
					break
				}
				if i < tc.attempts-1 && retry.IsPermanent(err) {
					t.Fatalf("attempt %d: permanent %v", i+1, err)
				}
			}
			if tc.permanent != retry.IsPermanent(err) || (!tc.permanent && err != nil) {
				t.Fatalf("last Deliver = %v, want permanent %v", err, tc.permanent)
			}
			// A redelivery of a delivered message posts nothing.
			if err == nil {
				if err := d.Deliver(context.Background(), dl); err != nil {
					t.Fatal(err)
				}
			}
			reqs := rc.requests()
			if len(reqs) != tc.posts {
				t.Fatalf("%d posts, want %d", len(reqs), tc.posts)
			}
			for _, r := range reqs {
				if !notify.Verify([]byte("k3y"), r.body, r.header.Get(notify.HeaderSignature)) {
					t.Errorf("signature %q does not verify", r.header.Get(notify.HeaderSignature))
				}
				var got notify.Event
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(sample, got); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				if h := r.header.Get(notify.HeaderTraceID); h != got.TraceID {
					t.Errorf("trace header %q, body %q", h, got.TraceID)
				}
				if h := r.header.Get(notify.HeaderDelivery); h != dl.Key() {
					t.Errorf("delivery header %q, want %q", h, dl.Key())
				}
			}
		})
	}
}

func TestDeliverSlack(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	d := newDeliverer(t, map[string]string{"SLACK_URL": srv.URL + "/services/T000/B000/XXXX"})
	if err := d.Deliver(context.Background(), notify.Delivery{Event: sample, Target: notify.Target{SlackEnv: "SLACK_URL"}}); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d posts, want 1", len(reqs))
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Text     struct{ Type, Text string }
			Elements []struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(reqs[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	want := "*web → prod*: sha256:abc waits for 1 approval(s) in #3 from alice, acme/ops"
	if msg.Text != want || len(msg.Blocks) != 2 || msg.Blocks[0].Type != "section" || msg.Blocks[0].Text.Text != want ||
		msg.Blocks[1].Type != "context" || !strings.Contains(msg.Blocks[1].Elements[0].Text, "trace-1") {
		t.Errorf("Slack message = %s", reqs[0].body)
	}
}

// TestDeliverKeepsSecrets: no error names a secret, whether it is missing
// or the Slack URL (a credential) cannot be reached.
func TestDeliverKeepsSecrets(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	for _, tc := range []struct {
		name   string
		env    map[string]string
		target notify.Target
		want   string
	}{
		{"missing signing key", nil, notify.Target{Webhook: dead + "/x", SecretEnv: "HOOK_KEY"}, "the signing key: $HOOK_KEY is not set"},
		{"missing Slack URL", nil, notify.Target{SlackEnv: "SLACK_URL"}, "$SLACK_URL is not set"},
		{"unreachable Slack", map[string]string{"SLACK_URL": dead + "/services/T0/B0/s3cr3t"}, notify.Target{SlackEnv: "SLACK_URL"}, "connection refused"},
		{"Slack over plain http", map[string]string{"SLACK_URL": "http://hooks.example.com/services/T0/B0/s3cr3t"}, notify.Target{SlackEnv: "SLACK_URL"}, "$SLACK_URL is not an https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newDeliverer(t, tc.env).Deliver(context.Background(), notify.Delivery{Event: sample, Target: tc.target})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Deliver = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/services/") {
				t.Errorf("the error leaks the Slack URL: %v", err)
			}
		})
	}
}

const pipeline = `version: 1
apps:
  - name: web
    source: {repo: acme/web}
    image: acme/web
    notify:
      - {webhook: "https://hooks.example.com/c", secretEnv: HOOK_KEY}
    environments:
      - name: dev
        path: envs/dev
        release: auto
      - name: prod
        path: envs/prod
        reviewers: [alice]
        notify:
          - {slackEnv: SLACK_URL, events: [waiting]}
`

func TestEnqueuer(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse("conveyor.yaml", []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec, _ := queue.Lookup(queue.Notifications)
	b, err := sqlitequeue.Open(ctx, db, []queue.Spec{spec})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := b.Queue(queue.Notifications)
	e := &notify.Enqueuer{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Queue: q}
	opened := notify.Event{Event: config.NotifyOpened, Key: "web/prod/opened", App: "web", Environment: "prod", TraceID: "t"}
	for _, ev := range []notify.Event{sample, sample, opened, {Event: config.NotifyOpened, App: "nope", Key: "x"}} {
		e.Notify(ctx, ev) // twice the same: deduplicated
	}
	msgs, err := q.Receive(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		env, err := event.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		var dl notify.Delivery
		if err := env.DecodePayload(&dl); err != nil {
			t.Fatal(err)
		}
		got = append(got, dl.Event.Event+" → "+dl.Target.String())
		if env.TraceID != dl.Event.TraceID {
			t.Errorf("envelope trace %q, event %q", env.TraceID, dl.Event.TraceID)
		}
	}
	want := []string{"waiting → webhook https://hooks.example.com", "waiting → slack ($SLACK_URL)", "opened → webhook https://hooks.example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}

	// A queue that fails is counted, never returned.
	before := notify.Dropped()
	broken := &notify.Enqueuer{Config: e.Config, Queue: failing{}}
	broken.Notify(ctx, opened)
	if notify.Dropped() != before+1 {
		t.Errorf("Dropped = %d, want %d", notify.Dropped(), before+1)
	}
}

type failing struct{}

func (failing) Send(context.Context, queue.SendInput) (string, error) {
	return "", errors.New("queue down")
}

// TestDeliverSecretsFromStore: with a Secret reader (Secrets Manager on
// AWS) the signing key and Slack URL come from it, not the environment; a
// name it lacks is permanent, a failure to read it is retried, and no
// error holds a value.
func TestDeliverSecretsFromStore(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook := notify.Target{Webhook: srv.URL + "/hook", SecretEnv: "HOOK_KEY"}
	for _, tc := range []struct {
		name      string
		secret    func(context.Context, string) (string, error)
		posted    bool
		permanent bool
	}{
		{"from the store", func(_ context.Context, n string) (string, error) {
			return map[string]string{"HOOK_KEY": "st0red"}[n], nil
		}, true, false},
		{"not in the store", func(context.Context, string) (string, error) { return "", notify.ErrSecretUnset }, false, true},
		{"store unreachable", func(context.Context, string) (string, error) { return "", errors.New("dial tcp: timeout") }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rc.requests())
			d := newDeliverer(t, map[string]string{"HOOK_KEY": "from-env"})
			d.Secret = tc.secret
			err := d.Deliver(context.Background(), notify.Delivery{Event: sample, Target: hook})
			reqs := rc.requests()[before:]
			if tc.posted {
				if err != nil || len(reqs) != 1 || !notify.Verify([]byte("st0red"), reqs[0].body, reqs[0].header.Get(notify.HeaderSignature)) {
					t.Fatalf("Deliver = %v, %d posts: want one signed with the stored key", err, len(reqs))
				}
				return
			}
			if err == nil || retry.IsPermanent(err) != tc.permanent || len(reqs) != 0 {
				t.Fatalf("Deliver = %v (permanent %v), %d posts: want permanent %v and no post", err, retry.IsPermanent(err), len(reqs), tc.permanent)
			}
			if strings.Contains(err.Error(), "from-env") {
				t.Errorf("the error holds a value: %v", err)
			}
		})
	}
}
