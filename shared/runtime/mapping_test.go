package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/runtime"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

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
	f := &fixture{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.b, err = sqlitequeue.Open(context.Background(), db, []queue.Spec{{Name: "work", FIFO: fifo, MaxReceives: 3}}, sqlitequeue.WithClock(f.clock))
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

// bodies drains the queue (advancing past any backoff) and returns the
// sorted bodies left in it.
func bodies(t *testing.T, f *fixture, q *sqlitequeue.Queue) []string {
	t.Helper()
	f.advance(time.Hour)
	msgs, err := q.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Body))
		_ = q.ChangeVisibility(context.Background(), m.ReceiptHandle, 0)
	}
	sort.Strings(out)
	return out
}

// failing returns a handler that fails the records whose body is in fail.
func failing(fail ...string) runtime.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			for _, f := range fail {
				if r.Body == f {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
		}
		return resp, nil
	}
}

func TestSettle(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fifo      bool
		send      []string
		handler   runtime.Handler
		wantLeft  []string
		wantDead  []string
		wantError string
	}{
		{
			name:    "all succeed",
			send:    []string{"a", "b", "c"},
			handler: failing(),
		},
		{
			name:     "partial batch failure keeps only failed items",
			send:     []string{"a", "b", "c"},
			handler:  failing("b"),
			wantLeft: []string{"b"},
		},
		{
			name: "handler error fails the whole batch",
			send: []string{"a", "b"},
			handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, errors.New("registry unreachable")
			},
			wantLeft:  []string{"a", "b"},
			wantError: "registry unreachable",
		},
		{
			name: "empty item identifier fails the whole batch",
			send: []string{"a", "b"},
			handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ""}}}, nil
			},
			wantLeft:  []string{"a", "b"},
			wantError: `batchItemFailures names ""`,
		},
		{
			name: "panic fails the whole batch",
			send: []string{"a"},
			handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				panic("nil map")
			},
			wantLeft:  []string{"a"},
			wantError: "handler panicked: nil map",
		},
		{
			name: "permanent outcome dead-letters at once",
			send: []string{"good", "bad"},
			handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				var resp events.SQSEventResponse
				for _, r := range ev.Records {
					if r.Body == "bad" {
						runtime.Record(ctx, r.MessageId, runtime.Outcome{Err: errors.New("Dockerfile:3: RUN is not supported"), Permanent: true})
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
					}
				}
				return resp, nil
			},
			wantDead:  []string{"bad"},
			wantError: "RUN is not supported",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fifo)
			f.send(t, tc.send...)
			m := &runtime.Mapping{Function: "test", Queue: f.q, Handler: tc.handler, Backoff: retry.Backoff{Base: time.Second, Max: time.Second}}
			n, err := m.Poll(context.Background())
			if err != nil || n != len(tc.send) {
				t.Fatalf("Poll = %d, %v; want %d, nil", n, err, len(tc.send))
			}
			if diff := cmp.Diff(tc.wantLeft, bodies(t, f, f.q)); diff != "" {
				t.Errorf("left in queue (-want +got):\n%s", diff)
			}
			dead, _ := f.dlq.Receive(context.Background(), 10, time.Minute)
			var deadBodies []string
			for _, d := range dead {
				deadBodies = append(deadBodies, string(d.Body))
				if !strings.Contains(d.LastError, tc.wantError) {
					t.Errorf("dead letter reason %q, want it to contain %q", d.LastError, tc.wantError)
				}
			}
			if diff := cmp.Diff(tc.wantDead, deadBodies); diff != "" {
				t.Errorf("dead letters (-want +got):\n%s", diff)
			}
			if tc.wantError != "" && len(tc.wantLeft) > 0 {
				left, _ := f.q.Receive(context.Background(), 10, time.Minute)
				for _, l := range left {
					if !strings.Contains(l.LastError, tc.wantError) {
						t.Errorf("recorded reason %q, want it to contain %q", l.LastError, tc.wantError)
					}
				}
			}
		})
	}
}

func TestRetriesThenDeadLetters(t *testing.T) {
	f := newFixture(t, false)
	f.send(t, "flaky")
	calls := 0
	m := &runtime.Mapping{Function: "test", Queue: f.q, Backoff: retry.Backoff{Base: time.Second, Max: time.Second},
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			calls++
			if got := ev.Records[0].Attributes["ApproximateReceiveCount"]; got != fmt.Sprint(calls) {
				t.Errorf("ApproximateReceiveCount = %s on call %d", got, calls)
			}
			return events.SQSEventResponse{}, fmt.Errorf("git push rejected (attempt %d)", calls)
		}}
	for i := 0; i < 5; i++ {
		if _, err := m.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.advance(2 * time.Second)
	}
	if calls != 3 {
		t.Fatalf("handler called %d times, want 3 (max receives)", calls)
	}
	dead, _ := f.dlq.Receive(context.Background(), 10, time.Minute)
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "attempt 3") {
		t.Fatalf("dead letters %+v, want flaky with the last error", dead)
	}
	listed, err := f.b.DeadLetters(context.Background(), "work")
	if err != nil || len(listed) != 1 || !strings.Contains(listed[0].FirstError, "attempt 1") {
		t.Fatalf("dead letter record %+v (%v), want the first error kept beside the last", listed, err)
	}
}

func TestFIFOKeepsLaterMessagesOfAFailedGroup(t *testing.T) {
	f := newFixture(t, true)
	// One head per group is delivered at a time, so build the batch by hand
	// through the handler: g1 fails, g2 succeeds.
	f.send(t, "g1:1", "g2:1", "g1:2")
	m := &runtime.Mapping{Function: "test", Queue: f.q, FIFO: true, Handler: failing("g1:1"), Backoff: retry.Backoff{Base: time.Second, Max: time.Second}}
	if _, err := m.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Second)
	got, _ := f.q.Receive(context.Background(), 10, time.Minute)
	var b []string
	for _, g := range got {
		b = append(b, string(g.Body))
	}
	if diff := cmp.Diff([]string{"g1:1"}, b); diff != "" {
		t.Errorf("after g1's head failed (-want +got):\n%s", diff)
	}
}

func TestRunStopsAndFinishesBatch(t *testing.T) {
	f := newFixture(t, false)
	f.send(t, "slow")
	started := make(chan struct{})
	done := make(chan struct{})
	m := &runtime.Mapping{Function: "test", Queue: f.q, PollInterval: 10 * time.Millisecond,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			close(started)
			time.Sleep(100 * time.Millisecond)
			if ctx.Err() != nil {
				t.Error("handler context cancelled by shutdown")
			}
			close(done)
			return events.SQSEventResponse{}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- m.Run(ctx) }()
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
