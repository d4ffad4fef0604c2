package replay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-cmp/cmp"
)

// The SQS Dead runs against fauxqs 2.4.1, which implements receive, send,
// delete and visibility changes but not StartMessageMoveTask: MoveAll is
// covered by TestSQSMoveAll with a hand-written client instead.
func TestSQS(t *testing.T) {
	srv := emulator.StartSQS(t)
	for _, fifo := range []bool{false, true} {
		t.Run(fmt.Sprintf("fifo=%v", fifo), func(t *testing.T) { testSQS(t, srv, fifo) })
	}
}

func testSQS(t *testing.T, srv *emulator.Server, fifo bool) {
	ctx := context.Background()
	client := srv.SQS()
	spec := queue.Spec{Name: queue.Builds, MaxReceives: 5, Visibility: 30 * time.Second}
	if fifo {
		spec.Name = queue.Promotions
		spec.FIFO = true
	}
	urls, err := sqsqueue.CreateQueues(ctx, client, spec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sqsqueue.New(client, urls.Queue, sqsqueue.WithDeadLetterQueue(urls.DeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := sqsqueue.New(client, urls.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	// Dead-letter three envelopes: web, api, web, each recorded as
	// lambdabatch records it.
	records := newRecords(t)
	sent := map[string]*event.Envelope{} // by SQS message id
	for i, app := range []string{"web", "api", "web"} {
		env, group := envelope(t, spec.Name, app, time.Now())
		id, err := queue.SendEnvelope(ctx, src, env, group, "", app)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := src.Receive(ctx, 1, 30*time.Second)
		if err != nil || len(msgs) != 1 || msgs[0].ID != id {
			t.Fatalf("Receive = %+v, %v; want %s", msgs, err, id)
		}
		if err := src.DeadLetter(ctx, msgs[0].ReceiptHandle, fmt.Sprintf("attempt %d: forge said 422", i)); err != nil {
			t.Fatal(err)
		}
		if err := records.PutDeadLetter(ctx, state.DeadLetter{Queue: spec.Name, ID: id, Reason: "r", DeadAt: time.Now()}, time.Hour); err != nil {
			t.Fatal(err)
		}
		sent[id] = env
	}

	dead, err := replay.NewSQS([]replay.SQSQueues{{Source: src, DeadLetter: dlq}}, replay.WithVisibility(10*time.Second), replay.WithRecords(records))
	if err != nil {
		t.Fatal(err)
	}
	// On FIFO both web messages share a group, so the second is listed
	// only once the first has moved: Redrive takes two passes.
	var progress int
	s, err := replay.Redrive(ctx, dead, replay.Filter{Queue: spec.Name, App: "web"}, replay.Options{Progress: func(int, int) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Matched != 2 || s.Moved != 2 || s.Skipped != 0 || s.Failed != 0 || progress != 2 {
		t.Fatalf("summary %+v (progress %d), want 2 matched, 2 moved", s, progress)
	}

	// The copies in the work queue: the same envelopes with Replayed 1.
	for range 2 {
		msgs, err := src.Receive(ctx, 1, 30*time.Second)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("work queue holds %+v, %v; want a replayed message", msgs, err)
		}
		env, err := event.Decode(msgs[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		var orig *event.Envelope
		for _, e := range sent {
			if e.ID == env.ID {
				orig = e
			}
		}
		if orig == nil {
			t.Fatalf("replayed envelope %s was never sent", env.ID)
		}
		want := *orig
		want.Replayed = 1
		if diff := cmp.Diff(want, *env); diff != "" {
			t.Errorf("replayed envelope (-want +got):\n%s", diff)
		}
		attrs := msgs[0].Attributes
		if attrs[queue.AttrTraceID] != want.TraceID || attrs[sqlitequeue.AttrReplayed] != "1" || attrs[sqlitequeue.AttrReplayedFromError] == "" || attrs[queue.AttrDeadReason] != "" {
			t.Errorf("replayed attributes %v", attrs)
		}
		if fifo && msgs[0].GroupID != "web/staging" {
			t.Errorf("replayed group %q, want web/staging", msgs[0].GroupID)
		}
		if err := src.Delete(ctx, msgs[0].ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	}

	// Only the moved messages' records are forgotten.
	if got := recordIDs(t, records); len(got) != 1 || sent[got[0]] == nil || !strings.Contains(string(sent[got[0]].Payload), "api") {
		t.Errorf("records left %v, want the api message's", got)
	}

	// The other was released: listed again at once, with its reason.
	recs, err := dead.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].App != "api" || recs[0].Reason != "attempt 1: forge said 422" || recs[0].Kind != string(queueKind(spec)) {
		t.Fatalf("still dead: %+v, want the api message", recs)
	}
	// Redriving from a stale listing (someone else moved it) is skipped.
	if err := dead.Redrive(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	if err := dead.Redrive(ctx, recs[0]); !errors.Is(err, replay.ErrNotDead) {
		t.Errorf("second Redrive of %s = %v, want ErrNotDead", recs[0].ID, err)
	}
	if recs, err := dead.List(ctx, ""); err != nil || len(recs) != 0 {
		t.Errorf("dead letters left: %+v, %v", recs, err)
	}
	if got := recordIDs(t, records); len(got) != 0 {
		t.Errorf("records left %v, want none", got)
	}
}

// newRecords is an embedded store of dead-letter records.
func newRecords(t *testing.T) *sqlitestate.Store {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlitestate.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func recordIDs(t *testing.T, s state.DeadLetters) []string {
	t.Helper()
	ds, err := s.ListDeadLetters(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// queueKind is the envelope kind the test sends to spec's queue.
func queueKind(spec queue.Spec) event.Kind {
	if spec.FIFO {
		return event.KindPromotion
	}
	return event.KindPush
}

// moveClient stands in for *sqs.Client's move-task calls, which fauxqs
// does not implement.
type moveClient struct {
	GetQueueAttributesFn   func(*sqs.GetQueueAttributesInput) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTaskFn func(*sqs.StartMessageMoveTaskInput) (*sqs.StartMessageMoveTaskOutput, error)
}

func (c *moveClient) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return c.GetQueueAttributesFn(in)
}

func (c *moveClient) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	return c.StartMessageMoveTaskFn(in)
}

func TestSQSMoveAll(t *testing.T) {
	const base = "https://sqs.us-east-1.amazonaws.com/123456789012/"
	src, err := sqsqueue.New(nil, base+"builds")
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := sqsqueue.New(nil, base+"builds-dlq")
	if err != nil {
		t.Fatal(err)
	}
	var started *sqs.StartMessageMoveTaskInput
	client := &moveClient{
		GetQueueAttributesFn: func(in *sqs.GetQueueAttributesInput) (*sqs.GetQueueAttributesOutput, error) {
			name := aws.ToString(in.QueueUrl)[len(base):]
			return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
				"QueueArn": "arn:aws:sqs:us-east-1:123456789012:" + name, "ApproximateNumberOfMessages": "42"}}, nil
		},
		StartMessageMoveTaskFn: func(in *sqs.StartMessageMoveTaskInput) (*sqs.StartMessageMoveTaskOutput, error) {
			started = in
			return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("task-1")}, nil
		},
	}
	// Records of dead letters before the task are forgotten; one
	// dead-lettered after it started may have missed it and stays.
	records := newRecords(t)
	for id, at := range map[string]time.Time{"old": time.Now().Add(-time.Minute), "later": time.Now().Add(time.Minute)} {
		if err := records.PutDeadLetter(context.Background(), state.DeadLetter{Queue: queue.Builds, ID: id, DeadAt: at}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := replay.NewSQS([]replay.SQSQueues{{Source: src, DeadLetter: dlq}}, replay.WithMoveTasks(client), replay.WithRecords(records))
	if err != nil {
		t.Fatal(err)
	}
	s, err := replay.Redrive(context.Background(), dead, replay.Filter{Queue: queue.Builds}, replay.Options{Rate: 12.4})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(replay.Summary{Matched: 42, Moved: 42, MoveTask: "task-1"}, s); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if started == nil || aws.ToString(started.SourceArn) != "arn:aws:sqs:us-east-1:123456789012:builds-dlq" ||
		aws.ToString(started.DestinationArn) != "arn:aws:sqs:us-east-1:123456789012:builds" || aws.ToInt32(started.MaxNumberOfMessagesPerSecond) != 12 {
		t.Errorf("StartMessageMoveTask got %+v", started)
	}
	if diff := cmp.Diff([]string{"later"}, recordIDs(t, records)); diff != "" {
		t.Errorf("records left (-want +got):\n%s", diff)
	}
}
