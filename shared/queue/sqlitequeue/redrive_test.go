package sqlitequeue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

func openBroker(t *testing.T, c *clock, specs ...queue.Spec) *sqlitequeue.Broker {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(ctx, db, specs, sqlitequeue.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kill sends body to q and dead-letters it on its first receive.
func kill(t *testing.T, q *sqlitequeue.Queue, in queue.SendInput, reason string) string {
	t.Helper()
	ctx := context.Background()
	id, err := q.Send(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := q.Receive(ctx, 1, time.Minute)
	if err != nil || len(msgs) != 1 || msgs[0].ID != id {
		t.Fatalf("Receive = %+v, %v; want message %s", msgs, err, id)
	}
	if err := q.DeadLetter(ctx, msgs[0].ReceiptHandle, reason); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRedrive(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	b := openBroker(t, c, queue.Spec{Name: "work", MaxReceives: 3})
	q, _ := b.Queue("work")
	id := kill(t, q, queue.SendInput{Body: []byte(`{"n":1}`), DedupeID: "d-1", Attributes: map[string]string{"kind": "push"}}, "git push rejected")
	c.Advance(time.Minute)

	d, err := b.DeadLetter(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.SourceQueue != "work" || d.Reason != "git push rejected" || d.ReceiveCount != 1 || string(d.Body) != `{"n":1}` {
		t.Fatalf("DeadLetter = %+v", d)
	}

	if err := b.Redrive(ctx, id); err != nil {
		t.Fatal(err)
	}
	if dead, _ := b.DeadLetters(ctx, "work"); len(dead) != 0 {
		t.Fatalf("dead letters after redrive: %+v", dead)
	}
	// Visible at once, with a fresh receive count and the reason kept.
	msgs, err := q.Receive(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Receive after redrive = %+v, %v", msgs, err)
	}
	m := msgs[0]
	got := struct {
		ID, Body, DedupeID, LastError string
		ReceiveCount                  int
		Attributes                    map[string]string
	}{m.ID, string(m.Body), m.DedupeID, m.LastError, m.ReceiveCount, m.Attributes}
	want := got
	want.ID, want.Body, want.DedupeID, want.LastError, want.ReceiveCount = id, `{"n":1}`, "d-1", "", 1
	want.Attributes = map[string]string{"kind": "push", sqlitequeue.AttrReplayed: "1", sqlitequeue.AttrReplayedFromError: "git push rejected"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redriven message (-want +got):\n%s", diff)
	}

	// Idempotent: the message is no longer dead.
	if err := b.Redrive(ctx, id); !errors.Is(err, sqlitequeue.ErrNotDead) {
		t.Errorf("second Redrive = %v, want ErrNotDead", err)
	}
	if _, err := b.DeadLetter(ctx, id); !errors.Is(err, sqlitequeue.ErrNotDead) {
		t.Errorf("DeadLetter of a live message = %v, want ErrNotDead", err)
	}
	if err := b.Redrive(ctx, "no-such-id"); !errors.Is(err, sqlitequeue.ErrNotDead) {
		t.Errorf("Redrive of an unknown id = %v, want ErrNotDead", err)
	}

	// Dead again, redriven again: the counter and the history grow.
	if err := q.DeadLetter(ctx, m.ReceiptHandle, "manifest path missing"); err != nil {
		t.Fatal(err)
	}
	if err := b.Redrive(ctx, id); err != nil {
		t.Fatal(err)
	}
	msgs, _ = q.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 || msgs[0].Attributes[sqlitequeue.AttrReplayed] != "2" || msgs[0].Attributes[sqlitequeue.AttrReplayedFromError] != "manifest path missing" {
		t.Fatalf("after the second redrive: %+v", msgs)
	}
	hist, err := b.RedriveHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, h := range hist {
		reasons = append(reasons, h.Reason)
	}
	if diff := cmp.Diff([]string{"git push rejected", "manifest path missing"}, reasons); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestRedriveRestoresAllReceives(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	b := openBroker(t, c, queue.Spec{Name: "work", MaxReceives: 2})
	q, _ := b.Queue("work")
	id, _ := q.Send(ctx, queue.SendInput{Body: []byte("x")})
	for i := 0; i < 2; i++ {
		msgs, _ := q.Receive(ctx, 1, time.Second)
		if len(msgs) != 1 {
			t.Fatalf("receive %d: %+v", i, msgs)
		}
		_ = q.Fail(ctx, msgs[0].ReceiptHandle, "registry down", 0)
	}
	if msgs, _ := q.Receive(ctx, 1, time.Second); len(msgs) != 0 {
		t.Fatalf("exhausted message delivered: %+v", msgs)
	}
	if err := b.Redrive(ctx, id); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		msgs, _ := q.Receive(ctx, 1, time.Second)
		if len(msgs) != 1 || msgs[0].ReceiveCount != i {
			t.Fatalf("receive %d after redrive: %+v", i, msgs)
		}
		_ = q.Fail(ctx, msgs[0].ReceiptHandle, "still down", 0)
	}
}

func TestRedriveFIFOKeepsGroup(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	b := openBroker(t, c, queue.Spec{Name: "work", FIFO: true, MaxReceives: 3})
	q, _ := b.Queue("work")
	id := kill(t, q, queue.SendInput{Body: []byte("p"), GroupID: "web/prod"}, "forge said 422")
	if err := b.Redrive(ctx, id); err != nil {
		t.Fatal(err)
	}
	msgs, _ := q.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].GroupID != "web/prod" {
		t.Fatalf("Receive after redrive = %+v", msgs)
	}
}

func TestRedriveRewriteFailureLeavesMessageDead(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	b := openBroker(t, c, queue.Spec{Name: "work", MaxReceives: 3})
	q, _ := b.Queue("work")
	id := kill(t, q, queue.SendInput{Body: []byte("p")}, "bad")
	boom := errors.New("boom")
	err := b.Redrive(ctx, id, sqlitequeue.WithRewrite(func([]byte) ([]byte, error) { return nil, boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("Redrive = %v, want boom", err)
	}
	if d, err := b.DeadLetter(ctx, id); err != nil || d.Reason != "bad" {
		t.Fatalf("DeadLetter after a failed redrive = %+v, %v", d, err)
	}
	if err := b.Redrive(ctx, id, sqlitequeue.WithRewrite(func(p []byte) ([]byte, error) { return append(p, '!'), nil })); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := q.Receive(ctx, 1, time.Minute); len(msgs) != 1 || string(msgs[0].Body) != "p!" {
		t.Fatalf("rewritten body: %+v", msgs)
	}
}
