package sqsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/queuetest"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
)

// unit is one second of the contract's schedule: 5 units must be whole
// seconds, because SQS counts visibility and delays in seconds.
const unit = 200 * time.Millisecond

var names atomic.Int64

// env is fauxqs for the queues and dynalite for the failure reasons.
type env struct {
	sqs     *emulator.Server
	reasons sqsqueue.Reasons
}

func start(t *testing.T) env {
	t.Helper()
	sqsSrv := emulator.StartSQS(t)
	dyn := emulator.StartDynamo(t)
	store, err := dynamostate.New(dyn.DynamoDB(), "conveyor-reasons")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env{sqs: sqsSrv, reasons: store}
}

// queues creates a fresh queue and its dead-letter queue.
func (e env) queues(t *testing.T, fifo bool, maxReceives int, opts ...sqsqueue.Option) (q, dlq *sqsqueue.Queue) {
	t.Helper()
	client := e.sqs.SQS()
	spec := queue.Spec{Name: fmt.Sprintf("work-%d", names.Add(1)), FIFO: fifo, MaxReceives: maxReceives, Visibility: 30 * time.Second}
	urls, err := sqsqueue.CreateQueues(context.Background(), client, spec)
	if err != nil {
		t.Fatal(err)
	}
	q, err = sqsqueue.New(client, urls.Queue, append([]sqsqueue.Option{sqsqueue.WithDeadLetterQueue(urls.DeadLetter)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	dlq, err = sqsqueue.New(client, urls.DeadLetter, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return q, dlq
}

func TestContract(t *testing.T) {
	e := start(t)
	began := time.Now()
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T, fifo bool, maxReceives int) (queue.Queue, queue.Queue) {
			return e.queues(t, fifo, maxReceives, sqsqueue.WithReasons(e.reasons))
		},
		Advance: time.Sleep,
		Unit:    unit,
		// Both are SQS's behaviour, which fauxqs reproduces: SQS answers
		// success to DeleteMessage with an outdated receipt handle, and
		// rejects MessageDeduplicationId on standard queues.
		Lacks: queuetest.Lacks{StaleDelete: true, StandardDedupe: true},
	})
	t.Logf("contract suite on fauxqs took %v", time.Since(began).Round(time.Millisecond))
}

// TestAdapter checks what the contract does not, on one fauxqs.
func TestAdapter(t *testing.T) {
	e := env{sqs: emulator.StartSQS(t)}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, env)
	}{
		{"FIFOWithoutDedupeIDSendsEachMessage", testFIFOWithoutDedupeIDSendsEachMessage},
		{"MessageFields", testMessageFields},
		{"SendRejects", testSendRejects},
		{"Batches", testBatches},
		{"DeadLetterFIFOKeepsGroupAndIdentity", testDeadLetterFIFOKeepsGroupAndIdentity},
		{"FailWithoutReasonsStillRetries", testFailWithoutReasonsStillRetries},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
	}
}

func testFIFOWithoutDedupeIDSendsEachMessage(t *testing.T, e env) {
	q, _ := e.queues(t, true, 5)
	ctx := context.Background()
	a := send(t, q, queue.SendInput{Body: []byte("same"), GroupID: "g"})
	b := send(t, q, queue.SendInput{Body: []byte("same"), GroupID: "g"})
	if a == b {
		t.Fatalf("two sends without DedupeID got the same id %s", a)
	}
	for i, want := range []string{a, b} {
		got, err := q.Receive(ctx, 10, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != want || got[0].GroupID != "g" {
			t.Fatalf("receive %d: %+v, want %s in group g", i, got, want)
		}
		if err := q.Delete(ctx, got[0].ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	}
}

func testMessageFields(t *testing.T, e env) {
	q, _ := e.queues(t, false, 5)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	id := send(t, q, queue.SendInput{Body: []byte(`{"x":1}`), GroupID: "web/dev", DedupeID: "d1",
		Attributes: map[string]string{queue.AttrKind: "push", queue.AttrTraceID: "t-1", queue.AttrApp: ""}})
	got, err := q.Receive(ctx, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.ID != id || m.DedupeID != "d1" || m.ReceiveCount != 1 {
		t.Errorf("got id=%s dedupe=%q count=%d, want %s d1 1", m.ID, m.DedupeID, m.ReceiveCount, id)
	}
	// SQS fair queues keep a MessageGroupId on standard queues and return
	// it; fauxqs 2.4.1 accepts it but drops it.
	const fauxqsKeepsStandardGroup = false
	if fauxqsKeepsStandardGroup || m.GroupID != "" {
		if m.GroupID != "web/dev" {
			t.Errorf("group %q, want web/dev", m.GroupID)
		}
	} else {
		t.Log("fauxqs drops MessageGroupId on standard queues (SQS fair queues): group not checked")
	}
	if len(m.Attributes) != 2 || m.Attributes[queue.AttrKind] != "push" || m.Attributes[queue.AttrTraceID] != "t-1" {
		t.Errorf("attributes %v, want kind and trace_id only", m.Attributes)
	}
	if m.SentAt.Before(before) || m.FirstReceivedAt.Before(m.SentAt) {
		t.Errorf("sent %v, first received %v: want both set, in order", m.SentAt, m.FirstReceivedAt)
	}
}

func testSendRejects(t *testing.T, e env) {
	std, _ := e.queues(t, false, 5)
	fifo, _ := e.queues(t, true, 5)
	ctx := context.Background()
	many := map[string]string{}
	for i := 0; i < 11; i++ {
		many[fmt.Sprintf("a%d", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		q    *sqsqueue.Queue
		in   queue.SendInput
		is   error
	}{
		{"delay over 15 minutes", std, queue.SendInput{Body: []byte("x"), Delay: 901 * time.Second}, sqsqueue.ErrDelay},
		{"delay on FIFO", fifo, queue.SendInput{Body: []byte("x"), GroupID: "g", Delay: time.Second}, sqsqueue.ErrDelay},
		{"empty body", std, queue.SendInput{}, nil},
		{"not UTF-8", std, queue.SendInput{Body: []byte{0xff, 0xfe}}, nil},
		{"11 attributes", std, queue.SendInput{Body: []byte("x"), Attributes: many}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.q.Send(ctx, tc.in)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Send: %v, want an error (%v)", err, tc.is)
			}
		})
	}
	if _, err := std.Send(ctx, queue.SendInput{Body: []byte("x"), Delay: 900 * time.Second}); err != nil {
		t.Fatalf("15-minute delay: %v", err)
	}
}

func testBatches(t *testing.T, e env) {
	q, _ := e.queues(t, false, 5)
	ctx := context.Background()
	in := make([]queue.SendInput, 23)
	for i := range in {
		in[i] = queue.SendInput{Body: []byte(fmt.Sprintf("m%d", i)), Attributes: map[string]string{"i": fmt.Sprint(i)}}
	}
	in[5].Body = nil // invalid: reported, the others still sent
	ids, err := q.SendBatch(ctx, in)
	if err == nil {
		t.Fatal("SendBatch with an empty body: nil error")
	}
	var receipts []string
	seen := map[string]bool{}
	for len(seen) < 22 {
		got, err := q.Receive(ctx, 10, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("received %d of 22 messages", len(seen))
		}
		for _, m := range got {
			seen[m.ID] = true
			receipts = append(receipts, m.ReceiptHandle)
		}
	}
	for i, id := range ids {
		if (i == 5) != (id == "") || (id != "" && !seen[id]) {
			t.Errorf("message %d: id %q, received=%v", i, id, seen[id])
		}
	}
	if err := q.DeleteBatch(ctx, receipts); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got, err := q.Receive(ctx, 10, time.Second); err != nil || len(got) != 0 {
		t.Fatalf("after DeleteBatch: %d messages, err %v", len(got), err)
	}
}

func testDeadLetterFIFOKeepsGroupAndIdentity(t *testing.T, e env) {
	q, dlq := e.queues(t, true, 5)
	ctx := context.Background()
	id := send(t, q, queue.SendInput{Body: []byte("bad"), GroupID: "web/prod", DedupeID: "web/prod/sha256:bb",
		Attributes: map[string]string{queue.AttrKind: "image"}})
	m, err := q.Receive(ctx, 1, 30*time.Second)
	if err != nil || len(m) != 1 {
		t.Fatalf("receive: %v %+v", err, m)
	}
	if err := q.DeadLetter(ctx, m[0].ReceiptHandle, "manifest not found"); err != nil {
		t.Fatal(err)
	}
	// A second DeadLetter (a retry) finds nothing in flight.
	if err := q.DeadLetter(ctx, m[0].ReceiptHandle, "again"); !errors.Is(err, queue.ErrStaleReceipt) {
		t.Fatalf("second DeadLetter: %v, want ErrStaleReceipt", err)
	}
	got, err := dlq.Receive(ctx, 10, 30*time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("dead-letter queue: %v %+v", err, got)
	}
	d := got[0]
	if d.ID != id || d.GroupID != "web/prod" || d.DedupeID != "web/prod/sha256:bb" || d.LastError != "manifest not found" ||
		d.Attributes[queue.AttrSourceQueue] != q.Name() || d.Attributes[queue.AttrKind] != "image" {
		t.Fatalf("dead letter %+v", d)
	}
}

func testFailWithoutReasonsStillRetries(t *testing.T, e env) {
	q, _ := e.queues(t, false, 5)
	ctx := context.Background()
	send(t, q, queue.SendInput{Body: []byte("x")})
	m, _ := q.Receive(ctx, 1, 30*time.Second)
	if err := q.Fail(ctx, m[0].ReceiptHandle, "lost", 0); err != nil {
		t.Fatal(err)
	}
	got, err := q.Receive(ctx, 1, 30*time.Second)
	if err != nil || len(got) != 1 || got[0].ReceiveCount != 2 || got[0].LastError != "" {
		t.Fatalf("after Fail without a Reasons store: %v %+v", err, got)
	}
	if err := q.Fail(ctx, m[0].ReceiptHandle, "stale", 0); !errors.Is(err, queue.ErrStaleReceipt) {
		t.Fatalf("Fail with the old receipt: %v, want ErrStaleReceipt", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts []sqsqueue.Option
	}{
		{"not a url", nil},
		{"http://127.0.0.1:1/000000000000/work.fifo", []sqsqueue.Option{sqsqueue.WithDeadLetterQueue("http://127.0.0.1:1/000000000000/work-dlq")}},
		{"http://127.0.0.1:1/000000000000/work", []sqsqueue.Option{sqsqueue.WithWaitTime(21 * time.Second)}},
	} {
		if _, err := sqsqueue.New(nil, tc.url, tc.opts...); err == nil {
			t.Errorf("New(%q) accepted", tc.url)
		}
	}
	q, err := sqsqueue.New(nil, "https://sqs.us-east-1.amazonaws.com/123456789012/promotions.fifo")
	if err != nil || q.Name() != "promotions" || !q.FIFO() {
		t.Fatalf("New: %v, name %q fifo %v", err, q.Name(), q.FIFO())
	}
}

func send(t *testing.T, q queue.Queue, in queue.SendInput) string {
	t.Helper()
	id, err := q.Send(context.Background(), in)
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	return id
}
