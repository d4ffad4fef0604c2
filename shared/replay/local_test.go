package replay_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// TestFixTheCauseAndReplay runs the ops story through the local runtime: a
// consumer fails permanently, the message is dead-lettered with the
// reason on its first attempt, the cause is fixed, the redrive runs, and
// the message is processed exactly once more.
func TestFixTheCauseAndReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := local.Open(ctx, local.Options{DataDir: t.TempDir(), PollInterval: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	var seen []event.Envelope
	handler := func(ctx context.Context, env *event.Envelope) error {
		mu.Lock()
		seen = append(seen, *env)
		mu.Unlock()
		if broken.Load() {
			return retry.Permanent(errors.New("conveyor.yaml: app web has no environment staging"))
		}
		return nil
	}
	if err := rt.Register(local.Function{Name: "approval", Queue: queue.Approvals, Fn: handler}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- rt.Run(ctx) }()

	q, _ := rt.Queues.Queue(queue.Approvals)
	env, err := event.New(event.KindReview, "github", "delivery-1", "", event.Review{Action: event.ReviewMerged, Repository: "acme/gitops", Number: 3}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.SendEnvelope(ctx, q, env, "", "", "web"); err != nil {
		t.Fatal(err)
	}
	calls := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	stats := func() local.QueueStats {
		st, err := rt.Queues.Stats(ctx, queue.Approvals)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor(t, "the message to be dead-lettered", func() bool { return stats().Dead == 1 })
	dead := replay.NewEmbedded(rt.Queues)
	recs, err := dead.List(ctx, queue.Approvals)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ReceiveCount != 1 || !strings.Contains(recs[0].Reason, "no environment staging") {
		t.Fatalf("dead letters %+v, want one after its first attempt, with the reason", recs)
	}
	if n := calls(); n != 1 {
		t.Fatalf("handler ran %d times before the fix, want 1", n)
	}

	broken.Store(false) // the fix
	s, err := replay.Redrive(ctx, dead, replay.Filter{Queue: queue.Approvals, Error: "no environment"}, replay.Options{})
	if err != nil || s.Moved != 1 {
		t.Fatalf("Redrive = %+v, %v; want 1 moved", s, err)
	}
	waitFor(t, "the replayed message to be processed", func() bool {
		st := stats()
		return calls() == 2 && st.Visible == 0 && st.InFlight == 0 && st.Dead == 0
	})
	time.Sleep(200 * time.Millisecond) // long enough for a duplicate to show
	if n, st := calls(), stats(); n != 2 || st != (local.QueueStats{}) {
		t.Fatalf("after the replay: %d calls and %+v, want 2 and empty queues", n, st)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[1].ID != env.ID || seen[1].TraceID != env.TraceID || seen[0].Replayed != 0 || seen[1].Replayed != 1 {
		t.Errorf("attempts saw id %s/%s, trace %s/%s, replayed %d/%d; want %s, %s, 0 then 1",
			seen[0].ID, seen[1].ID, seen[0].TraceID, seen[1].TraceID, seen[0].Replayed, seen[1].Replayed, env.ID, env.TraceID)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
