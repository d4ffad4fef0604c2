package retry

import (
	"errors"
	"fmt"
	"time"
)

type deferral struct{ *after }

// Defer marks err as a deferral, not a failure: the message is fine and
// must simply wait d (a freeze window, a pending check). Executors hold it
// for as long as that lasts without spending its failure budget, however
// long d is. RetryAfter reports d too. A nil err stays nil.
func Defer(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &deferral{&after{err, d}}
}

func (d *deferral) Unwrap() error { return d.after }

// Deferred returns the wait of a deferral marked by Defer, if err is one.
func Deferred(err error) (time.Duration, bool) {
	var d *deferral
	if errors.As(err, &d) {
		return d.d, true
	}
	return 0, false
}

// Unlimited is a Policy cap that never applies.
const Unlimited = time.Duration(1<<63 - 1)

// Policy is the one retry policy of every queue consumer, Lambda or local.
// It is pure: Decide turns a message's outcome into an Action that the
// runtime's executor applies with its queue's means.
type Policy struct {
	Backoff Backoff
	// MaxReceives is the queue's redrive limit: a message received that
	// many times is not received again (0: no limit).
	MaxReceives int
	// MaxVisibility is the longest a received message can be hidden
	// (SQS: 12 h; Unlimited locally).
	MaxVisibility time.Duration
	// MaxDelay is the longest delay a fresh message can be sent with
	// (SQS standard: 15 min; SQS FIFO: 0; Unlimited locally).
	MaxDelay time.Duration
}

// Action is what an executor does with a processed message.
type Action int

// The actions of a Decision.
const (
	// Delete: processed, remove it.
	Delete Action = iota
	// Retry: a transient failure; keep it, visible again after Delay,
	// with Reason recorded where replay and status find it.
	Retry
	// Hold: a deferral; keep it, visible again after Delay, no failure
	// recorded.
	Hold
	// Requeue: a deferral the message's receives cannot cover; send its
	// envelope again as a fresh message (receive count 0) delayed by
	// Delay, then delete it.
	Requeue
	// DeadLetter: move it to the dead-letter queue with Reason now.
	DeadLetter
)

func (a Action) String() string {
	return [...]string{"delete", "retry", "hold", "requeue", "dead-letter"}[a]
}

// Decision is an Action with its delay and reason.
type Decision struct {
	Action Action
	Delay  time.Duration
	Reason string
}

// Decide returns what to do with a message received receives times (≥ 1)
// whose processing returned err:
//
//   - nil: delete it;
//   - permanent: dead-letter it with err as the reason;
//   - a deferral of d: hold it for d (capped by MaxVisibility) when this is
//     its first receive; otherwise requeue it as a fresh message. A hold
//     thus spends one receive at most, whatever the wait: a 64 h freeze
//     on SQS is a chain of 12 h holds, each on a message re-sent with a
//     full budget, and the last hold ends when the window does. Holding
//     only on the first receive (not until the budget runs out) keeps the
//     budget whole for the failures that may follow the wait;
//   - transient: dead-letter it when it has had all its receives, else
//     retry it after the backoff (or the server's Retry-After, when
//     longer), capped by MaxVisibility.
func (p Policy) Decide(err error, receives int) Decision {
	switch {
	case err == nil:
		return Decision{Action: Delete}
	case IsPermanent(err):
		return Decision{Action: DeadLetter, Reason: err.Error()}
	}
	if d, ok := Deferred(err); ok {
		reason := "deferred: " + err.Error()
		if receives <= 1 && p.MaxReceives != 1 {
			return Decision{Action: Hold, Delay: capped(d, p.MaxVisibility), Reason: reason}
		}
		return Decision{Action: Requeue, Delay: capped(d, p.MaxDelay), Reason: reason}
	}
	if p.MaxReceives > 0 && receives >= p.MaxReceives {
		return Decision{Action: DeadLetter, Reason: fmt.Sprintf("received %d times (max %d); last error: %s", receives, p.MaxReceives, err)}
	}
	return Decision{Action: Retry, Delay: capped(p.Backoff.Delay(receives, err), p.MaxVisibility), Reason: err.Error()}
}

func capped(d, limit time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return min(d, limit)
}
