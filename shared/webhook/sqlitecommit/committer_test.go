package sqlitecommit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/conveyor-gitops/conveyor/shared/webhook/sqlitecommit"
	"github.com/google/go-cmp/cmp"
)

const secret = "It's a Secret to Everybody"

// env is the local ingress over real HTTP on the real embedded database.
type env struct {
	t       *testing.T
	db      *sqlitedb.DB
	broker  *sqlitequeue.Broker
	store   *sqlitestate.Store
	commits *sqlitecommit.Committer
	url     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	stack := sqlitecommit.OpenStack(t)
	qs := webhook.Queues{}
	for name, dst := range map[string]*webhook.Sender{queue.Builds: &qs.Builds, queue.Images: &qs.Images, queue.Approvals: &qs.Approvals} {
		q, _ := stack.Broker.Queue(name)
		*dst = q
	}
	in, err := webhook.New(webhook.Config{GitHubSecret: []byte(secret), Committer: stack.Committer, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}, qs, stack.Store)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return &env{t: t, db: stack.DB, broker: stack.Broker, store: stack.Store, commits: stack.Committer, url: srv.URL + webhook.PathGitHub}
}

// delivery is one signed push webhook.
type delivery struct {
	id   string
	body []byte
}

// push returns a real push payload made distinct by n: the ingress
// dedupes on the signed body as well as on the delivery id.
func push(t *testing.T, n int) []byte {
	t.Helper()
	body, err := os.ReadFile("../../../events/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	return append(fmt.Appendf(nil, `{"test_seq":%d,`, n), body[1:]...)
}

func (e *env) post(d delivery) (int, webhook.Response) {
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(d.body))
	if err != nil {
		e.t.Error(err)
		return 0, webhook.Response{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", d.id)
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(secret), d.body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Error(err)
		return 0, webhook.Response{}
	}
	defer resp.Body.Close()
	var r webhook.Response
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}

// inOneBatch posts every delivery at once while the database's write lock
// is held, so that they all wait for the committer and share one
// transaction, and returns the answers in order.
func (e *env) inOneBatch(ds []delivery) ([]int, []webhook.Response) {
	e.t.Helper()
	locked, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- e.db.Write(context.Background(), func(*sql.Tx) error { close(locked); <-release; return nil })
	}()
	<-locked
	before := e.commits.Stats()
	codes, resps := make([]int, len(ds)), make([]webhook.Response, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], resps[i] = e.post(d)
		}()
	}
	// Every delivery reaches the committer while the lock is held, so
	// the transaction it commits once the lock is free holds them all.
	deadline := time.Now().Add(10 * time.Second)
	for e.commits.Stats().Submitted-before.Submitted < int64(len(ds)) {
		if time.Now().After(deadline) {
			close(release) // or the cleanup's Close waits for the lock forever
			e.t.Fatalf("%d deliveries reached the committer, want %d", e.commits.Stats().Submitted-before.Submitted, len(ds))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-held; err != nil {
		e.t.Fatal(err)
	}
	wg.Wait()
	if got := e.commits.Stats(); got.Batches-before.Batches != 1 {
		e.t.Errorf("the %d deliveries took %d transactions, want 1", len(ds), got.Batches-before.Batches)
	}
	return codes, resps
}

// delivered counts the builds queue's messages per delivery id.
func (e *env) delivered() map[string]int {
	e.t.Helper()
	rows, err := e.db.SQL().Query(`SELECT json_extract(body, '$.delivery_id') FROM queue_messages WHERE queue = ?`, queue.Builds)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		out[id]++
	}
	return out
}

// TestConcurrentDuplicatesInOneBatchEnqueueOnce sends redeliveries of one
// event (same delivery id, and the same signed body under new ids) in the
// same transaction as the event itself: the event is enqueued once and
// every copy answers with its envelope.
func TestConcurrentDuplicatesInOneBatchEnqueueOnce(t *testing.T) {
	e := newEnv(t)
	a, b := push(t, 1), push(t, 2)
	ds := []delivery{
		{"a", a}, {"a", a}, {"a-replayed", a}, {"b", b}, {"a", a}, {"b", b}, {"a-again", a}, {"b-replayed", b},
	}
	codes, resps := e.inOneBatch(ds)

	accepted := map[string]webhook.Response{}
	for i, r := range resps {
		if codes[i] == http.StatusAccepted {
			event := string(ds[i].body)
			if _, dup := accepted[event]; dup {
				t.Errorf("delivery %d (%s) accepted a second time", i, ds[i].id)
			}
			accepted[event] = r
		}
	}
	for i, r := range resps {
		first, ok := accepted[string(ds[i].body)]
		switch {
		case !ok:
			t.Errorf("delivery %d (%s): %d %+v; no copy of its event was accepted", i, ds[i].id, codes[i], r)
		case codes[i] == http.StatusOK && (r.Status != "duplicate" || !cmp.Equal(r.IDs, first.IDs) || r.TraceID != first.TraceID):
			t.Errorf("delivery %d (%s): %+v, want a duplicate of %v", i, ds[i].id, r, first.IDs)
		case codes[i] != http.StatusOK && codes[i] != http.StatusAccepted:
			t.Errorf("delivery %d (%s): %d %+v, want 202 or 200", i, ds[i].id, codes[i], r)
		}
	}
	total := 0
	for _, n := range e.delivered() {
		total += n
	}
	if total != 2 {
		t.Errorf("builds queue holds %d messages (%v), want 2: one per event", total, e.delivered())
	}
	// Every id seen is remembered: a later redelivery of any is a duplicate.
	for _, d := range ds {
		if code, r := e.post(d); code != http.StatusOK || r.Status != "duplicate" {
			t.Errorf("later redelivery of %s: %d %+v, want 200 duplicate", d.id, code, r)
		}
	}
}

// TestAnItemErrorFailsOnlyThatDelivery commits, in one transaction, a
// delivery whose key another request holds in progress, a redelivery of an
// event already accepted and new events: the first is refused with 409 and
// nothing of it stays, the others are answered as if alone.
func TestAnItemErrorFailsOnlyThatDelivery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := delivery{"old", push(t, 0)}
	if code, _ := e.post(old); code != http.StatusAccepted {
		t.Fatalf("first delivery of %s: %d", old.id, code)
	}
	// Another request (an older ingress's claim) holds "busy".
	if _, claimed, err := e.store.Claim(ctx, "github-delivery:busy", time.Minute); err != nil || !claimed {
		t.Fatalf("claiming: %v %v", claimed, err)
	}
	ds := []delivery{{"new-1", push(t, 1)}, {"busy", push(t, 2)}, old, {"new-2", push(t, 3)}}
	codes, resps := e.inOneBatch(ds)

	want := []int{http.StatusAccepted, http.StatusConflict, http.StatusOK, http.StatusAccepted}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s\nanswers %+v", diff, resps)
	}
	if got := resps[1]; got.Status != "error" || got.Error != webhook.ErrInProgress.Error() {
		t.Errorf("busy delivery answered %+v, want %q", got, webhook.ErrInProgress)
	}
	if diff := cmp.Diff(map[string]int{"old": 1, "new-1": 1, "new-2": 1}, e.delivered()); diff != "" {
		t.Errorf("builds queue per delivery id (-want +got):\n%s", diff)
	}
	// The refused delivery left no record behind: its body is still free,
	// and once the claim is gone it is accepted.
	if _, err := e.store.Get(ctx, "github-body:"+sha(ds[1].body)); err == nil {
		t.Errorf("the refused delivery's body key was recorded")
	}
	if err := e.store.Release(ctx, "github-delivery:busy"); err != nil {
		t.Fatal(err)
	}
	if code, r := e.post(ds[1]); code != http.StatusAccepted {
		t.Errorf("redelivery of busy once free: %d %+v, want 202", code, r)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestAMessageTheQueueRefusesFailsOnlyWhereItIsSent: the message is encoded
// before the committer runs, but a duplicate of an event still answers
// duplicate whatever its message, and a refused message records no key.
func TestAMessageTheQueueRefusesFailsOnlyWhereItIsSent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ok := webhook.Commit{Keys: []string{"k1"}, Queue: queue.Builds, Message: queue.SendInput{Body: []byte(`{"delivery_id":"first"}`)},
		Result: []byte(`"first"`), Retention: time.Hour}
	if _, err := e.commits.Commit(ctx, ok); err != nil {
		t.Fatal(err)
	}
	tooLarge := queue.SendInput{Body: bytes.Repeat([]byte("x"), queue.MaxBodySize+1)}
	tests := []struct {
		name    string
		keys    []string
		want    webhook.Committed
		wantErr error
	}{
		{"a replay of a recorded event", []string{"k2", "k1"}, webhook.Committed{Duplicate: true, Result: []byte(`"first"`)}, nil},
		{"a new event", []string{"k3", "k4"}, webhook.Committed{}, queue.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.commits.Commit(ctx, webhook.Commit{Keys: tt.keys, Queue: queue.Builds, Message: tooLarge,
				Result: []byte(`"second"`), Retention: time.Hour})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Commit: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Commit (-want +got):\n%s", diff)
			}
		})
	}
	// The replay's new key answers duplicate from now on; the refused
	// event's keys stay free.
	for key, want := range map[string]bool{"k2": true, "k3": false, "k4": false} {
		if _, err := e.store.Get(ctx, key); (err == nil) != want {
			t.Errorf("record of %s: %v, want recorded %v", key, err, want)
		}
	}
	if diff := cmp.Diff(map[string]int{"first": 1}, e.delivered()); diff != "" {
		t.Errorf("builds queue (-want +got):\n%s", diff)
	}
}
