package retry

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	// A 1 ns backoff has no jitter, so the table can name it.
	sqsFIFO := Policy{Backoff: Backoff{Base: 1, Max: 1}, MaxReceives: 5, MaxVisibility: 12 * time.Hour, MaxDelay: 0}
	sqsStd := sqsFIFO
	sqsStd.MaxDelay = 15 * time.Minute
	local := Policy{Backoff: sqsFIFO.Backoff, MaxReceives: 5, MaxVisibility: Unlimited, MaxDelay: Unlimited}
	boom := errors.New("git push: connection reset")
	frozen := fmt.Errorf("promoting: %w", Defer(errors.New("prod frozen until Monday"), 64*time.Hour))
	pending := Defer(errors.New("checks pending"), time.Minute)
	for _, tc := range []struct {
		name     string
		p        Policy
		err      error
		receives int
		want     Decision
	}{
		{"success deletes", sqsStd, nil, 3, Decision{Action: Delete}},
		{"permanent dead-letters at once", sqsStd, fmt.Errorf("building: %w", Permanent(errors.New("RUN is not supported"))), 1,
			Decision{Action: DeadLetter, Reason: "building: RUN is not supported"}},
		{"transient retries after the backoff", sqsStd, boom, 2, Decision{Action: Retry, Delay: 1, Reason: boom.Error()}},
		{"Retry-After longer than the backoff wins", sqsStd, After(errors.New("429"), 90*time.Second), 1,
			Decision{Action: Retry, Delay: 90 * time.Second, Reason: "429"}},
		{"Retry-After beyond SQS's cap is capped", sqsStd, After(errors.New("429"), 20*time.Hour), 1,
			Decision{Action: Retry, Delay: 12 * time.Hour, Reason: "429"}},
		{"transient on the last receive dead-letters with the count", sqsStd, boom, 5,
			Decision{Action: DeadLetter, Reason: "received 5 times (max 5); last error: " + boom.Error()}},
		{"deferral on the first receive holds for the wait", sqsStd, pending, 1,
			Decision{Action: Hold, Delay: time.Minute, Reason: "deferred: checks pending"}},
		{"64 h freeze on SQS holds 12 h", sqsFIFO, frozen, 1,
			Decision{Action: Hold, Delay: 12 * time.Hour, Reason: "deferred: " + frozen.Error()}},
		{"deferral after a hold requeues: FIFO takes no delay", sqsFIFO, frozen, 2,
			Decision{Action: Requeue, Delay: 0, Reason: "deferred: " + frozen.Error()}},
		{"deferral after a hold requeues: standard delays 15 min", sqsStd, frozen, 2,
			Decision{Action: Requeue, Delay: 15 * time.Minute, Reason: "deferred: " + frozen.Error()}},
		{"deferral on the last receive never dead-letters", sqsStd, pending, 5,
			Decision{Action: Requeue, Delay: time.Minute, Reason: "deferred: checks pending"}},
		{"deferral with one receive allowed requeues", Policy{MaxReceives: 1, MaxVisibility: time.Hour, MaxDelay: time.Hour}, pending, 1,
			Decision{Action: Requeue, Delay: time.Minute, Reason: "deferred: checks pending"}},
		{"local holds the whole freeze", local, frozen, 1,
			Decision{Action: Hold, Delay: 64 * time.Hour, Reason: "deferred: " + frozen.Error()}},
		{"local requeues with the whole wait", local, frozen, 3,
			Decision{Action: Requeue, Delay: 64 * time.Hour, Reason: "deferred: " + frozen.Error()}},
		{"a window already over holds for zero", local, Defer(errors.New("frozen"), -time.Second), 1,
			Decision{Action: Hold, Delay: 0, Reason: "deferred: frozen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.p.Decide(tc.err, tc.receives)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeferIsARetryAfter(t *testing.T) {
	err := fmt.Errorf("approving: %w", Defer(errors.New("checks pending"), time.Minute))
	if d, ok := Deferred(err); !ok || d != time.Minute {
		t.Fatalf("Deferred = %v %v, want 1m true", d, ok)
	}
	if d, ok := RetryAfter(err); !ok || d != time.Minute {
		t.Fatalf("RetryAfter = %v %v, want 1m true", d, ok)
	}
	if _, ok := Deferred(After(errors.New("429"), time.Minute)); ok {
		t.Fatal("a Retry-After is a failure, not a deferral")
	}
	if Defer(nil, time.Minute) != nil {
		t.Fatal("Defer(nil) is not nil")
	}
}
