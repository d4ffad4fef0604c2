package test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

// invokeFunc is a Go function standing in for a Lambda function.
type invokeFunc func(ev events.SQSEvent) (any, error)

func (f invokeFunc) call(payload any) ([]byte, error) {
	out, err := f(payload.(events.SQSEvent))
	if err != nil {
		return json.Marshal(map[string]string{"errorType": "Error", "errorMessage": err.Error()})
	}
	return json.Marshal(out)
}

// TestEventSourceMapping holds the test harness to Lambda's SQS event
// source mapping, against fauxqs, with a queue of 1 s visibility and 2
// receives: a record the function succeeds with is deleted; a reported
// failure comes back after the queue's visibility and, past
// maxReceiveCount, moves to the dead-letter queue; a record whose
// visibility the function changed itself comes back only then; a function
// error fails the whole batch.
func TestEventSourceMapping(t *testing.T) {
	ctx := context.Background()
	srv := emulator.StartSQS(t)
	c := srv.SQS()
	spec := queue.Spec{Name: "esm-contract", MaxReceives: 2, Visibility: time.Second}
	urls, err := sqsqueue.CreateQueues(ctx, c, spec)
	if err != nil {
		t.Fatal(err)
	}
	const hold = 3 * time.Second
	var mu sync.Mutex
	seen := map[string]int{}
	fn := invokeFunc(func(ev events.SQSEvent) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			seen[r.Body]++
			switch {
			case r.Body == "crash once" && seen[r.Body] == 1:
				return nil, context.DeadlineExceeded
			case r.Body == "fail":
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			case r.Body == "hold" && seen[r.Body] == 1:
				if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(urls.Queue),
					ReceiptHandle: aws.String(r.ReceiptHandle), VisibilityTimeout: int32(hold / time.Second)}); err != nil {
					t.Error(err)
				}
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	})
	m := &eventSourceMapping{function: "contract", fn: fn, sqs: c, queueURL: urls.Queue, arn: "arn:aws:sqs:us-east-1:000000000000:esm-contract", batch: 1}
	for _, body := range []string{"ok", "fail", "hold", "crash once"} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(urls.Queue), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.run(runCtx) }()
	s := &lambdaStack{t: t, sqs: c}
	s.waitFor("the queue to empty", 20*time.Second, func() bool { return s.depth(urls.Queue) == 0 })
	stop()
	<-done

	times := map[string][]time.Time{}
	for _, r := range m.receives() {
		times[r.Body] = append(times[r.Body], r.At)
	}
	for body, want := range map[string]int{"ok": 1, "fail": 2, "hold": 2, "crash once": 2} {
		if got := len(times[body]); got != want {
			t.Errorf("%q handed to the function %d times, want %d", body, got, want)
		}
	}
	if ts := times["fail"]; len(ts) == 2 && ts[1].Sub(ts[0]) < spec.Visibility {
		t.Errorf("a reported failure came back after %v, before the queue's visibility %v", ts[1].Sub(ts[0]), spec.Visibility)
	}
	if ts := times["hold"]; len(ts) == 2 && ts[1].Sub(ts[0]) < hold {
		t.Errorf("a record the function hid for %v came back after %v", hold, ts[1].Sub(ts[0]))
	}
	dead, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(urls.DeadLetter), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead.Messages) != 1 || aws.ToString(dead.Messages[0].Body) != "fail" {
		t.Errorf("dead letters %+v, want the record that always failed", dead.Messages)
	}
	if len(m.problems) != 1 {
		t.Errorf("mapping problems %q, want the one function error", m.problems)
	}
}
