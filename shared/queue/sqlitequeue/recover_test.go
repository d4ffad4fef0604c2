package sqlitequeue_test

import (
	"context"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
)

// TestRecoverAbandoned: receives that died with their process are given
// back (visible at once, not counted) — a held or failed message is not
// touched — until a message has been abandoned MaxAbandoned times, after
// which its receives count toward the dead-letter queue.
func TestRecoverAbandoned(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const maxReceives = 3
	b, err := sqlitequeue.Open(ctx, db, []queue.Spec{{Name: "work", MaxReceives: maxReceives}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := b.Queue("work")
	for _, body := range []string{"crash", "held"} {
		if _, err := q.Send(ctx, queue.SendInput{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := q.Receive(ctx, 2, time.Hour)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("receive: %v %d", err, len(msgs))
	}
	for _, m := range msgs {
		if string(m.Body) == "held" {
			// Settled: a deferral holds it for an hour.
			if err := q.ChangeVisibility(ctx, m.ReceiptHandle, time.Hour); err != nil {
				t.Fatal(err)
			}
		} else if err := q.Renew(ctx, m.ReceiptHandle, time.Hour); err != nil {
			t.Fatal(err) // a heartbeat does not settle
		}
	}
	// The process "dies" and a new one recovers: only the crashed message
	// comes back, at once, with its receive given back.
	for crash := 1; crash <= sqlitequeue.MaxAbandoned+maxReceives; crash++ {
		n, err := b.RecoverAbandoned(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.Receive(ctx, 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if crash > sqlitequeue.MaxAbandoned+maxReceives-1 {
			// Abandoned past the allowance: its receives counted, and the
			// queue dead-lettered it at max receives.
			if n != 1 || len(got) != 0 {
				t.Fatalf("crash %d: recovered %d, received %d; want the poison dead-lettered", crash, n, len(got))
			}
			break
		}
		if n != 1 || len(got) != 1 || string(got[0].Body) != "crash" {
			t.Fatalf("crash %d: recovered %d and received %v, want only the crashed message back", crash, n, got)
		}
		want := 1
		if crash > sqlitequeue.MaxAbandoned {
			want = crash - sqlitequeue.MaxAbandoned + 1
		}
		if got[0].ReceiveCount != want {
			t.Fatalf("crash %d: receive count %d, want %d", crash, got[0].ReceiveCount, want)
		}
	}
	dead, err := b.DeadLetters(ctx, "work")
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %v %+v, want the poison message", err, dead)
	}
}
