package lambdabatch_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/consume"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/lambdabatch"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

var names atomic.Int64

// stack is fauxqs for the queues and dynalite for the failure reasons.
type stack struct {
	client  *sqs.Client
	reasons *dynamostate.Store
}

func startStack(t *testing.T) stack {
	t.Helper()
	s := emulator.StartSQS(t)
	dyn := emulator.StartDynamo(t)
	store, err := dynamostate.New(dyn.DynamoDB(), "conveyor-reasons")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return stack{client: s.SQS(), reasons: store}
}

// queues creates a work queue whose redrive policy allows maxReceives
// receives, and its dead-letter queue.
func (s stack) queues(t *testing.T, fifo bool, maxReceives int, visibility time.Duration) (q, dlq *sqsqueue.Queue, urls sqsqueue.URLs) {
	t.Helper()
	spec := queue.Spec{Name: fmt.Sprintf("work-%d", names.Add(1)), FIFO: fifo, MaxReceives: maxReceives, Visibility: visibility}
	urls, err := sqsqueue.CreateQueues(context.Background(), s.client, spec)
	if err != nil {
		t.Fatal(err)
	}
	if q, err = sqsqueue.New(s.client, urls.Queue, sqsqueue.WithDeadLetterQueue(urls.DeadLetter), sqsqueue.WithReasons(s.reasons)); err != nil {
		t.Fatal(err)
	}
	if dlq, err = sqsqueue.New(s.client, urls.DeadLetter, sqsqueue.WithReasons(s.reasons)); err != nil {
		t.Fatal(err)
	}
	return q, dlq, urls
}

func sendEnvelope(t *testing.T, q *sqsqueue.Queue, name string) {
	t.Helper()
	env, err := event.New(event.KindPromotion, "test", name, "trace-"+name, event.Promotion{App: "web", Environment: "prod", Digest: "sha256:" + strings.Repeat("a", 64)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := env.Encode()
	in := queue.SendInput{Body: body, Attributes: map[string]string{queue.AttrKind: string(env.Kind)}}
	if q.FIFO() {
		// The same dedupe id a promotion carries: a requeue must not be
		// dropped as its duplicate.
		in.GroupID, in.DedupeID = "web/prod", "web/prod/"+name
	}
	if _, err := q.Send(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// mapping plays Lambda's event source mapping on one queue: receive a
// batch, invoke, delete what batchItemFailures does not name. It returns
// the highest receive count it saw.
func mapping(ctx context.Context, t *testing.T, client *sqs.Client, url string, h lambdabatch.Handler) int {
	t.Helper()
	highest := 0
	for ctx.Err() == nil {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}, MessageAttributeNames: []string{"All"}})
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("receiving: %v", err)
			}
			return highest
		}
		if len(out.Messages) == 0 {
			continue
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			rec := events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, MessageAttributes: map[string]events.SQSMessageAttribute{}, EventSource: "aws:sqs"}
			for k, v := range m.MessageAttributes {
				rec.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
			}
			n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
			highest = max(highest, n)
			ev.Records = append(ev.Records, rec)
		}
		resp, err := h(ctx, ev)
		if err != nil {
			t.Errorf("handler: %v", err)
			continue
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, rec := range ev.Records {
			if !failed[rec.MessageId] {
				_, _ = client.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(rec.ReceiptHandle)})
			}
		}
	}
	return highest
}

func receiveAll(t *testing.T, q *sqsqueue.Queue) []queue.Message {
	t.Helper()
	msgs, err := q.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestExecutor checks each decision as SQS sees it.
func TestExecutor(t *testing.T) {
	s := startStack(t)
	fast := retry.Backoff{Base: 2 * time.Second, Max: 2 * time.Second}
	t.Run("permanent failure is dead-lettered at once with its reason", func(t *testing.T) {
		q, dlq, urls := s.queues(t, false, 5, 30*time.Second)
		sendEnvelope(t, q, "bad")
		h := lambdabatch.New(q, consume.Consumer{Policy: lambdabatch.Policy(5, false), Fn: func(context.Context, *event.Envelope) error {
			return retry.Permanent(errors.New("no app web in conveyor.yaml"))
		}})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		mapping(ctx, t, s.client, urls.Queue, h)
		dead := receiveAll(t, dlq)
		if len(dead) != 1 || dead[0].Attributes[queue.AttrDeadReason] != "no app web in conveyor.yaml" {
			t.Fatalf("dead letters %+v, want one with the reason", dead)
		}
		if left := receiveAll(t, q); len(left) != 0 {
			t.Fatalf("%d messages left in the queue", len(left))
		}
	})
	t.Run("transient failure backs off and records its reason", func(t *testing.T) {
		q, _, urls := s.queues(t, false, 5, 30*time.Second)
		sendEnvelope(t, q, "flaky")
		var calls []time.Time
		var mu sync.Mutex
		p := lambdabatch.Policy(5, false)
		p.Backoff = fast
		h := lambdabatch.New(q, consume.Consumer{Policy: p, Fn: func(context.Context, *event.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, time.Now())
			if len(calls) == 1 {
				return retry.After(errors.New("forge answered 429"), 3*time.Second)
			}
			return nil
		}})
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		mapping(ctx, t, s.client, urls.Queue, h)
		cancel()
		// The queue's own visibility is 30 s: coming back within a few
		// seconds proves ChangeMessageVisibility, not before 3 s the wait.
		var back []queue.Message
		for deadline := time.Now().Add(6 * time.Second); len(back) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			back = receiveAll(t, q)
		}
		mu.Lock()
		first := calls[0]
		mu.Unlock()
		if len(back) != 1 {
			t.Fatal("the failed message did not come back within 6 s")
		}
		if gap := time.Since(first); gap < 3*time.Second || gap > 5*time.Second {
			t.Errorf("visible again after %v, want 3–5 s (Retry-After, not the 30 s visibility nor hot)", gap)
		}
		if back[0].LastError != "forge answered 429" {
			t.Errorf("recorded reason %q, want the failure", back[0].LastError)
		}
		if err := q.ChangeVisibility(context.Background(), back[0].ReceiptHandle, 0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		mapping(ctx, t, s.client, urls.Queue, h)
		if mu.Lock(); len(calls) != 2 {
			t.Errorf("%d calls, want 2", len(calls))
		}
		mu.Unlock()
	})
}

// TestFreezeLongerThanReceivesCover holds a promotion through a 64 h
// freeze on a FIFO queue that allows 2 receives with a 1 s visibility.
// Time is scaled: one real second is 12 fake hours, so the test's cap on
// visibility (1 s) is SQS's 12 h, the freeze lasts 5.3 s, and holding it
// by visibility alone would need 6 receives. The message must never be
// dead-lettered and must be processed once the window has ended.
func TestFreezeLongerThanReceivesCover(t *testing.T) {
	const scale = 12 * 60 * 60 // fake seconds per real second
	s := startStack(t)
	q, dlq, urls := s.queues(t, true, 2, time.Second)
	began := time.Now()
	fakeNow := func() time.Time {
		return time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC).Add(time.Since(began) * scale)
	}
	until := fakeNow().Add(64 * time.Hour)
	sendEnvelope(t, q, "frozen")
	var calls atomic.Int64
	released := make(chan time.Time, 1)
	p := lambdabatch.Policy(2, true)
	p.MaxVisibility = time.Second // SQS's 12 h, scaled
	h := lambdabatch.New(q, consume.Consumer{Policy: p, Fn: func(ctx context.Context, env *event.Envelope) error {
		calls.Add(1)
		if now := fakeNow(); now.Before(until) {
			// What the promoter returns inside a freeze window, its wait
			// scaled back to real time.
			return retry.Defer(fmt.Errorf("prod frozen until %s", until.Format(time.RFC3339)), until.Sub(now)/scale)
		}
		select {
		case released <- fakeNow():
		default:
			t.Error("processed twice")
		}
		return nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	var highest int
	done := make(chan struct{})
	go func() { defer close(done); highest = mapping(ctx, t, s.client, urls.Queue, h) }()
	var at time.Time
	select {
	case at = <-released:
	case <-ctx.Done():
		t.Fatalf("not released within 12 s (64 fake hours are 5.3 s); %d calls", calls.Load())
	}
	time.Sleep(1500 * time.Millisecond) // a duplicate would show by now
	cancel()
	<-done
	// SQS counts visibility in whole seconds: 1 real second (12 fake
	// hours) of lateness is the emulated resolution, not the design's.
	if late := at.Sub(until); late < 0 || late > 2*scale*time.Second {
		t.Errorf("released %v after the window's end", late)
	}
	if highest > 2 {
		t.Errorf("a message was received %d times: the redrive policy (2) would have dead-lettered it", highest)
	}
	if dead := receiveAll(t, dlq); len(dead) != 0 {
		t.Errorf("dead-lettered: %q", dead[0].Attributes[queue.AttrDeadReason])
	}
	if left := receiveAll(t, q); len(left) != 0 {
		t.Errorf("%d messages left after release", len(left))
	}
	t.Logf("64 h freeze held with %d invocations in %v", calls.Load(), time.Since(began).Round(time.Millisecond))
}

// failingDeadLetter is a queue whose dead-lettering fails, as when the
// function dies before settling: SQS's redrive policy moves the message.
type failingDeadLetter struct{ *sqsqueue.Queue }

func (failingDeadLetter) DeadLetterMessage(context.Context, queue.Message, string) error {
	return errors.New("the function ran out of time")
}

// TestDeadLetterRecords: what the handler dead-letters, and what SQS's
// redrive policy moves after a final receive that ended unsettled, is
// listed from the store under the id the dead-letter queue reports, with
// its body and reason; a final receive settled otherwise leaves no record.
func TestDeadLetterRecords(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	const visibility = 2 * time.Second
	records := func(t *testing.T, q *sqsqueue.Queue) []state.DeadLetter {
		t.Helper()
		got, err := s.reasons.ListDeadLetters(ctx, q.Name())
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("permanent failure", func(t *testing.T) {
		q, dlq, urls := s.queues(t, false, 5, 30*time.Second)
		sendEnvelope(t, q, "bad")
		h := lambdabatch.New(q, consume.Consumer{Policy: lambdabatch.Policy(5, false), Fn: func(context.Context, *event.Envelope) error {
			return retry.Permanent(errors.New("no app web in conveyor.yaml"))
		}}, lambdabatch.WithDeadLetters(s.reasons, visibility))
		run, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		mapping(run, t, s.client, urls.Queue, h)
		dead := receiveAll(t, dlq)
		got := records(t, q)
		if len(dead) != 1 || len(got) != 1 {
			t.Fatalf("%d dead letters, %d records; want one of each", len(dead), len(got))
		}
		d := got[0]
		if d.ID != dead[0].ID || d.Reason != "no app web in conveyor.yaml" || string(d.Body) != string(dead[0].Body) ||
			d.Attributes[queue.AttrKind] != "promotion" || d.ReceiveCount != 1 || d.SentAt.IsZero() || time.Since(d.DeadAt) > time.Minute {
			t.Errorf("record %+v, want the dead letter %s with its reason, body, kind and times", d, dead[0].ID)
		}
	})
	t.Run("moved by SQS after a final receive ended unsettled", func(t *testing.T) {
		q, dlq, urls := s.queues(t, false, 2, visibility)
		sendEnvelope(t, q, "slow")
		calls := 0
		h := lambdabatch.New(failingDeadLetter{q}, consume.Consumer{Policy: lambdabatch.Policy(2, false), Fn: func(context.Context, *event.Envelope) error {
			calls++
			return fmt.Errorf("forge timed out (call %d)", calls)
		}}, lambdabatch.WithDeadLetters(s.reasons, visibility))
		run, cancel := context.WithTimeout(ctx, 3*visibility+time.Second)
		defer cancel()
		mapping(run, t, s.client, urls.Queue, h)
		got := records(t, q)
		dead := receiveAll(t, dlq)
		if len(dead) != 1 || len(got) != 1 {
			t.Fatalf("%d dead letters, %d records; want SQS to have moved the message and one record", len(dead), len(got))
		}
		d := got[0]
		if d.ID != dead[0].ID || d.ReceiveCount != 2 || !strings.Contains(d.Reason, "redrive policy") ||
			!strings.Contains(d.Reason, "last recorded failure: forge timed out (call 1)") {
			t.Errorf("record %+v, want %s with the redrive and the last recorded failure", d, dead[0].ID)
		}
	})
	t.Run("final receive that succeeds", func(t *testing.T) {
		q, _, urls := s.queues(t, false, 2, visibility)
		sendEnvelope(t, q, "flaky")
		p := lambdabatch.Policy(2, false)
		p.Backoff = retry.Backoff{Base: time.Second, Max: time.Second}
		calls := 0
		h := lambdabatch.New(q, consume.Consumer{Policy: p, Fn: func(context.Context, *event.Envelope) error {
			if calls++; calls == 1 {
				return errors.New("forge answered 502")
			}
			return nil
		}}, lambdabatch.WithDeadLetters(s.reasons, visibility))
		run, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		mapping(run, t, s.client, urls.Queue, h)
		if calls != 2 {
			t.Fatalf("%d calls, want 2", calls)
		}
		if got := records(t, q); len(got) != 0 {
			t.Errorf("records %+v, want none", got)
		}
	})
}
