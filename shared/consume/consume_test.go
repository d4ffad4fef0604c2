package consume_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/google/go-cmp/cmp"
)

// TestObserve: the observer sees every decision of a batch, as the
// executor will apply it, in both runtimes (they share Batch).
func TestObserve(t *testing.T) {
	var msgs []queue.Message
	for i, id := range []string{"ok", "transient", "permanent"} {
		e, err := event.New(event.KindPush, "test", id, "", map[string]string{"x": id}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.Encode()
		msgs = append(msgs, queue.Message{ID: id, Body: b, ReceiveCount: i + 1})
	}
	var got []string
	c := consume.Consumer{
		Policy: retry.Policy{Backoff: retry.DefaultBackoff, MaxReceives: 5},
		Fn: func(ctx context.Context, env *event.Envelope) error {
			switch env.DeliveryID {
			case "transient":
				return errors.New("later")
			case "permanent":
				return retry.Permanent(errors.New("never"))
			}
			return nil
		},
		Observe: func(_ context.Context, o consume.Outcome, took time.Duration) {
			if took < 0 {
				t.Errorf("took %v", took)
			}
			got = append(got, o.Message.ID+" "+o.Decision.Action.String())
		},
	}
	c.Batch(context.Background(), msgs)
	if diff := cmp.Diff([]string{"ok delete", "transient retry", "permanent dead-letter"}, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}
