package poller_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/poller"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

const maxReceives = 3

type fixture struct {
	q, dlq *sqlitequeue.Queue
	b      *sqlitequeue.Broker
	mu     sync.Mutex
	now    time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T, fifo bool) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)}
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.b, err = sqlitequeue.Open(context.Background(), db, []queue.Spec{{Name: "work", FIFO: fifo, MaxReceives: maxReceives}}, sqlitequeue.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	f.q, _ = f.b.Queue("work")
	f.dlq, _ = f.b.Queue("work-dlq")
	return f
}

func (f *fixture) send(t *testing.T, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		in := queue.SendInput{Body: []byte(b)}
		if f.q.FIFO() {
			in.GroupID, _, _ = strings.Cut(b, ":")
		}
		if _, err := f.q.Send(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
}

// raw reads a body as the envelope's id, so tests can send plain text;
// "garbled" does not decode.
func raw(b []byte) (*event.Envelope, error) {
	if string(b) == "garbled" {
		return nil, errors.New("not an envelope")
	}
	return &event.Envelope{ID: string(b)}, nil
}

func (f *fixture) poller(fn consume.Func) *poller.Poller {
	return &poller.Poller{Function: "test", Queue: f.q, Consumer: consume.Consumer{Fn: fn, Decode: raw, FIFO: f.q.FIFO(),
		Policy: poller.Policy(maxReceives, retry.Backoff{Base: time.Second, Max: time.Second})}}
}

// bodies drains q (advancing past any backoff) and returns the sorted
// bodies in it with their recorded reasons.
func bodies(t *testing.T, f *fixture, q *sqlitequeue.Queue) map[string]string {
	t.Helper()
	f.advance(time.Hour)
	msgs, err := q.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range msgs {
		out[string(m.Body)] = m.LastError
		_ = q.ChangeVisibility(context.Background(), m.ReceiptHandle, 0)
	}
	return out
}

func TestSettle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		send     []string
		fn       consume.Func
		wantLeft map[string]string // body → recorded reason
		wantDead map[string]string
	}{
		{
			name: "all succeed",
			send: []string{"a", "b", "c"},
			fn:   func(context.Context, *event.Envelope) error { return nil },
		},
		{
			name: "a transient failure keeps only that message, with its reason",
			send: []string{"a", "b", "c"},
			fn: func(_ context.Context, e *event.Envelope) error {
				if e.ID == "b" {
					return errors.New("registry unreachable")
				}
				return nil
			},
			wantLeft: map[string]string{"b": "registry unreachable"},
		},
		{
			name: "a panic fails only its own message",
			send: []string{"a", "b"},
			fn: func(_ context.Context, e *event.Envelope) error {
				if e.ID == "a" {
					panic("nil map")
				}
				return nil
			},
			wantLeft: map[string]string{"a": "handling  a panicked: nil map"},
		},
		{
			name: "a permanent failure dead-letters at once",
			send: []string{"good", "bad"},
			fn: func(_ context.Context, e *event.Envelope) error {
				if e.ID == "bad" {
					return retry.Permanent(errors.New("Dockerfile:3: RUN is not supported"))
				}
				return nil
			},
			wantDead: map[string]string{"bad": "Dockerfile:3: RUN is not supported"},
		},
		{
			name:     "an undecodable body dead-letters at once",
			send:     []string{"garbled"},
			fn:       func(context.Context, *event.Envelope) error { return nil },
			wantDead: map[string]string{"garbled": "not an envelope"},
		},
		{
			name: "a deferral holds without recording a failure",
			send: []string{"frozen"},
			fn: func(context.Context, *event.Envelope) error {
				return retry.Defer(errors.New("frozen"), 30*time.Minute)
			},
			wantLeft: map[string]string{"frozen": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false)
			f.send(t, tc.send...)
			n, err := f.poller(tc.fn).Poll(context.Background())
			if err != nil || n != len(tc.send) {
				t.Fatalf("Poll = %d, %v; want %d, nil", n, err, len(tc.send))
			}
			left := bodies(t, f, f.q)
			if diff := cmp.Diff(len(tc.wantLeft), len(left)); diff != "" {
				t.Errorf("left in queue %v, want %v", left, tc.wantLeft)
			}
			for b, want := range tc.wantLeft {
				if got, ok := left[b]; !ok || got != want {
					t.Errorf("left %q with reason %q, want %q", b, got, want)
				}
			}
			dead := bodies(t, f, f.dlq)
			if len(dead) != len(tc.wantDead) {
				t.Errorf("dead letters %v, want %v", dead, tc.wantDead)
			}
			for b, want := range tc.wantDead {
				if got, ok := dead[b]; !ok || !strings.Contains(got, want) {
					t.Errorf("dead letter %q with reason %q, want it to contain %q", b, got, want)
				}
			}
		})
	}
}

func TestRetriesThenDeadLetters(t *testing.T) {
	f := newFixture(t, false)
	f.send(t, "flaky")
	calls := 0
	p := f.poller(func(context.Context, *event.Envelope) error {
		calls++
		return fmt.Errorf("git push rejected (attempt %d)", calls)
	})
	for i := 0; i < 5; i++ {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.advance(2 * time.Second)
	}
	if calls != maxReceives {
		t.Fatalf("handler called %d times, want %d (max receives)", calls, maxReceives)
	}
	listed, err := f.b.DeadLetters(context.Background(), "work")
	if err != nil || len(listed) != 1 || !strings.Contains(listed[0].FirstError, "attempt 1") ||
		listed[0].Reason != "received 3 times (max 3); last error: git push rejected (attempt 3)" {
		t.Fatalf("dead letter records %+v (%v), want the last error with the count, the first kept beside it", listed, err)
	}
}

func TestFIFOKeepsLaterMessagesOfAFailedGroup(t *testing.T) {
	f := newFixture(t, true)
	f.send(t, "g1:1", "g2:1", "g1:2")
	p := f.poller(func(_ context.Context, e *event.Envelope) error {
		if e.ID == "g1:1" {
			return errors.New("forge down")
		}
		return nil
	})
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Second)
	got, _ := f.q.Receive(context.Background(), 10, time.Minute)
	var b []string
	for _, g := range got {
		b = append(b, string(g.Body))
	}
	sort.Strings(b)
	if diff := cmp.Diff([]string{"g1:1"}, b); diff != "" {
		t.Errorf("after g1's head failed (-want +got):\n%s", diff)
	}
}

// TestFreezeHeld holds a message through a 64 h freeze on a queue that
// allows 3 receives, polling every simulated minute: it is never
// dead-lettered, and is processed in the first poll after the window.
func TestFreezeHeld(t *testing.T) {
	f := newFixture(t, true)
	until := f.clock().Add(64 * time.Hour)
	f.send(t, "web/prod:promote")
	var calls int
	var released time.Time
	p := f.poller(func(context.Context, *event.Envelope) error {
		calls++
		if now := f.clock(); now.Before(until) {
			return retry.Defer(errors.New("prod frozen"), until.Sub(now))
		}
		released = f.clock()
		return nil
	})
	for released.IsZero() && f.clock().Before(until.Add(time.Hour)) {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.advance(time.Minute)
	}
	if released.IsZero() || released.Sub(until) > time.Minute {
		t.Fatalf("released at %v, want within a minute of the window's end %v", released, until)
	}
	if dead := bodies(t, f, f.dlq); len(dead) != 0 {
		t.Fatalf("dead-lettered during the freeze: %v", dead)
	}
	if calls > 3 {
		t.Errorf("%d calls during a 64 h freeze, want the hold to last the window", calls)
	}
}

func TestRunStopsAndFinishesBatch(t *testing.T) {
	f := newFixture(t, false)
	f.send(t, "slow")
	started := make(chan struct{})
	done := make(chan struct{})
	p := f.poller(func(ctx context.Context, _ *event.Envelope) error {
		close(started)
		time.Sleep(100 * time.Millisecond)
		if ctx.Err() != nil {
			t.Error("handler context cancelled by shutdown")
		}
		close(done)
		return nil
	})
	p.PollInterval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- p.Run(ctx) }()
	<-started
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Fatal("Run returned before the in-flight batch finished")
	}
	if left := bodies(t, f, f.q); len(left) != 0 {
		t.Fatalf("finished message still queued: %v", left)
	}
}

// TestLeaseHeartbeatHoldsALongBatch: a message is hidden for a short lease
// that the running batch keeps renewing, so a batch ten leases long is never
// handed to a second consumer, yet had the process died it would have come
// back within one lease.
func TestLeaseHeartbeatHoldsALongBatch(t *testing.T) {
	const lease = 300 * time.Millisecond
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := sqlitequeue.Open(context.Background(), db, []queue.Spec{{Name: "work", MaxReceives: maxReceives}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := b.Queue("work")
	env, _ := event.New(event.KindPush, "test", "d1", "", event.Push{Repository: "acme/web"}, time.Now())
	body, _ := env.Encode()
	if _, err := q.Send(context.Background(), queue.SendInput{Body: body}); err != nil {
		t.Fatal(err)
	}
	release, started := make(chan struct{}), make(chan struct{})
	var runs sync.WaitGroup
	runs.Add(1)
	p := &poller.Poller{Function: "build", Queue: q, BatchSize: 1, Visibility: time.Minute, Lease: lease,
		Consumer: consume.Consumer{Fn: func(context.Context, *event.Envelope) error { close(started); <-release; return nil },
			Policy: poller.Policy(maxReceives, retry.Backoff{})}}
	go func() { defer runs.Done(); _, _ = p.Poll(context.Background()) }()
	<-started

	// A second consumer polls for ten leases while the batch runs.
	deadline := time.Now().Add(10 * lease)
	for time.Now().Before(deadline) {
		msgs, err := q.Receive(context.Background(), 1, lease)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			t.Fatalf("a second consumer received the message %v into a running batch: the lease lapsed", time.Until(deadline))
		}
		time.Sleep(lease / 5)
	}
	close(release)
	runs.Wait()
	st, err := b.Stats(context.Background(), "work")
	if err != nil {
		t.Fatal(err)
	}
	if st.Visible+st.InFlight+st.Delayed != 0 {
		t.Fatalf("after the batch: %+v, want the message deleted", st)
	}
}
