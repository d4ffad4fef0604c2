package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/notify"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/google/go-cmp/cmp"
)

// receiver is a notification receiver: it answers each request with the
// next of its statuses (then 200) and keeps what it was sent.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.bodies = append(rc.bodies, body)
		rc.headers = append(rc.headers, r.Header.Clone())
		if len(rc.statuses) > 0 {
			w.WriteHeader(rc.statuses[0])
			rc.statuses = rc.statuses[1:]
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

// webhookEvents checks every request's signature and trace header, and
// returns the delivered events (the last attempt of each key), as
// "event env" sorted, with how often each key was posted.
func (rc *receiver) webhookEvents(t *testing.T, secret string) (got []string, posts map[string]int) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	posts = map[string]int{}
	for i, body := range rc.bodies {
		h := rc.headers[i]
		if !notify.Verify([]byte(secret), body, h.Get(notify.HeaderSignature)) {
			t.Errorf("request %d: signature %q does not verify", i, h.Get(notify.HeaderSignature))
		}
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TraceID == "" || h.Get(notify.HeaderTraceID) != ev.TraceID {
			t.Errorf("request %d: trace header %q, body %q", i, h.Get(notify.HeaderTraceID), ev.TraceID)
		}
		if posts[h.Get(notify.HeaderDelivery)]++; posts[h.Get(notify.HeaderDelivery)] == 1 {
			got = append(got, ev.Event+" "+ev.Environment)
		}
	}
	sort.Strings(got)
	return got, posts
}

// TestNotifications: a push through dev and staging (auto) to prod
// (manual, approved by alice) tells a signed webhook, which fails its
// first request, exactly once per event, and prod's Slack channel and its
// pull request the waiting and the release.
func TestNotifications(t *testing.T) {
	ctx := context.Background()
	hook := newReceiver(t, http.StatusInternalServerError)
	slack := newReceiver(t)
	t.Setenv("TEST_HOOK_KEY", "hook-s3cret")
	t.Setenv("TEST_SLACK_URL", slack.srv.URL+"/services/T0/B0/s3cret")
	c := newChainConfig(t, func(y string) string {
		y = strings.Replace(y, "    environments:\n", "    notify:\n      - {webhook: \""+hook.srv.URL+"/conveyor\", secretEnv: TEST_HOOK_KEY}\n    environments:\n", 1)
		return y + "        notify:\n          - {slackEnv: TEST_SLACK_URL, events: [waiting, merged]}\n          - {prComment: true, events: [waiting, merged]}\n"
	})
	c.push(demo.AppFiles(), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	c.settle()
	pr := c.openPR()
	if err := c.g.Local.Approve(ctx, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()

	got, posts := hook.webhookEvents(t, "hook-s3cret")
	want := []string{"merged dev", "merged prod", "merged staging", "opened prod", "waiting prod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("webhook events (-want +got):\n%s", diff)
	}
	var retried int
	for _, n := range posts {
		retried += n - 1
	}
	if retried != 1 || hook.count() != len(want)+1 {
		t.Errorf("%d posts with %d retries, want %d posts: the first failed once (%v)", hook.count(), retried, len(want)+1, posts)
	}

	slack.mu.Lock()
	defer slack.mu.Unlock()
	var texts []string
	for _, body := range slack.bodies {
		var msg struct {
			Text   string            `json:"text"`
			Blocks []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatal(err)
		}
		if len(msg.Blocks) != 2 {
			t.Errorf("Slack message without its blocks: %s", body)
		}
		texts = append(texts, msg.Text)
	}
	sort.Strings(texts)
	if len(texts) != 2 || !strings.Contains(texts[0], "released (#"+itoa(pr.Number)+" (`conveyor pr show") ||
		!strings.Contains(texts[1], "waits for 1 approval(s) in #"+itoa(pr.Number)+" (`conveyor pr show "+itoa(pr.Number)+"`) from alice") {
		t.Errorf("Slack got %q, want one waiting (from alice) and one release", texts)
	}
	// The prod pull request itself says it waited and was released.
	comments, err := c.g.Local.Comments(ctx, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(comments) != 2 || !strings.Contains(comments[0], "waits for 1 approval(s)") || !strings.Contains(comments[1], "released") ||
		!strings.Contains(comments[0], "**web → prod**") {
		t.Errorf("comments on #%d: %q, want the waiting one then the release", pr.Number, comments)
	}
	if strings.Contains(c.logs.String(), "s3cret") {
		t.Errorf("a secret reached the logs")
	}
}

// TestNotificationsDeferredRefusedDeadLettered: a frozen environment's
// promotion is told as deferred until the window ends, one for a missing
// environment as refused and then dead-lettered with its replay command;
// a receiver that refuses everything ends in the notifications queue's
// dead letters, never in the promotion's outcome.
func TestNotificationsDeferredRefusedDeadLettered(t *testing.T) {
	ctx := context.Background()
	hook := newReceiver(t)
	broken := newReceiver(t, 410, 410, 410, 410)
	t.Setenv("TEST_HOOK_KEY", "k")
	c := newChainConfig(t, func(y string) string {
		y = strings.Replace(y, "    environments:\n", "    notify:\n      - {webhook: \""+hook.srv.URL+"/c\", secretEnv: TEST_HOOK_KEY}\n"+
			"      - {webhook: \""+broken.srv.URL+"/c\", secretEnv: TEST_HOOK_KEY, events: [refused]}\n    environments:\n", 1)
		// staging is always frozen: each window opens on the hour and
		// lasts two hours.
		return strings.Replace(y, "        path: envs/staging\n", "        path: envs/staging\n        freeze: [{cron: \"0 * * * *\", duration: 2h}]\n", 1)
	})
	q, err := c.rt.Queues.Queue(queue.Promotions)
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, env := range []string{"staging", "nope"} {
		p := event.Promotion{App: "web", Environment: env, Image: c.image, Digest: digest}
		e, err := event.New(event.KindPromotion, "test", "", "", p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := queue.SendEnvelope(ctx, q, e, p.GroupID(), p.DedupeID(), "web"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three notifications", 30*time.Second, func() bool { return hook.count() >= 3 })
	waitFor(t, "the broken receiver's dead letter", 30*time.Second, func() bool {
		st, err := c.rt.QueueStats(ctx)
		return err == nil && st[queue.Notifications].Dead == 1
	})

	hook.mu.Lock()
	events := map[string]notify.Event{}
	for _, b := range hook.bodies {
		var ev notify.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		events[ev.Event] = ev
	}
	n := len(hook.bodies)
	hook.mu.Unlock()
	if n != 3 {
		t.Errorf("%d posts, want 3", n)
	}
	if d := events[config.NotifyDeferred]; d.Environment != "staging" || d.Until.IsZero() || d.Until.Minute() != 0 {
		t.Errorf("deferred = %+v, want staging until a full hour", d)
	}
	if r := events[config.NotifyRefused]; r.Environment != "nope" || !strings.Contains(r.Reason, `no environment "nope"`) {
		t.Errorf("refused = %+v", r)
	}
	dl := events[config.NotifyDeadLettered]
	if dl.Queue != queue.Promotions || !strings.HasPrefix(dl.Replay, "conveyor replay redrive ") || !strings.Contains(dl.Reason, "nope") {
		t.Errorf("dead-lettered = %+v", dl)
	}
	// The refusing receiver had its tries, each once, and nothing else.
	if got := broken.count(); got != 1 {
		t.Errorf("the refusing receiver got %d requests, want 1 (410 is permanent)", got)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
