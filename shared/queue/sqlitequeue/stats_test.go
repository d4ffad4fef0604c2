package sqlitequeue_test

import (
	"context"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
)

func TestOldestAge(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	b := openBroker(t, c, queue.Spec{Name: "work", MaxReceives: 3})
	q, _ := b.Queue("work")
	age := func() time.Duration {
		t.Helper()
		d, err := b.OldestAge(ctx, "work")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if got := age(); got != 0 {
		t.Errorf("empty queue: %v, want 0", got)
	}
	if _, err := q.Send(ctx, queue.SendInput{Body: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	c.Advance(90 * time.Second)
	if _, err := q.Send(ctx, queue.SendInput{Body: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	c.Advance(10 * time.Second)
	// A received (in-flight) message still counts: it is not done.
	if _, err := q.Receive(ctx, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := age(); got != 100*time.Second {
		t.Errorf("age %v, want 100s (the first message's)", got)
	}
	if _, err := b.OldestAge(ctx, "nope"); err == nil {
		t.Errorf("OldestAge(unknown) = nil error")
	}
}
