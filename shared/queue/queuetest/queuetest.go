// Package queuetest is the contract every adapter of the queue port must
// pass: run it from the adapter's own tests with a harness that creates
// queues on that adapter.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Harness creates queues for one test and controls time.
type Harness struct {
	// New returns a fresh, empty work queue of the given kind with the
	// given maximum receive count, and its dead-letter queue.
	New func(t *testing.T, fifo bool, maxReceives int) (q, dlq queue.Queue)
	// Advance moves the queue's clock forward by d (a fake clock, or a
	// sleep for adapters on real time).
	Advance func(d time.Duration)
	// Unit is how long one second of the suite's schedule lasts: every
	// timeout, delay and advance in the suite is a multiple of it. Zero
	// means time.Second. Adapters on real time shorten it to run faster;
	// an adapter that counts in whole seconds (SQS) needs 5*Unit to be one.
	Unit time.Duration
	// Lacks declares what the adapter's backend cannot do. The cases that
	// need it log why and leave out only the assertions that depend on it.
	Lacks Lacks
}

// Lacks lists contract features an adapter may be unable to provide.
type Lacks struct {
	// StaleDelete: Delete with an outdated receipt handle (the message was
	// received again since) is not reported as ErrStaleReceipt. SQS
	// accepts such a delete silently.
	StaleDelete bool
	// StandardDedupe: standard queues ignore SendInput.DedupeID. SQS
	// deduplicates on FIFO queues only; the dedupe case then runs on a
	// FIFO queue alone.
	StandardDedupe bool
}

func (h Harness) unit() time.Duration {
	if h.Unit <= 0 {
		return time.Second
	}
	return h.Unit
}

// Run runs the contract against h.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	u := h.unit()
	vis := 10 * u

	t.Run("send receive delete", func(t *testing.T) {
		q, _ := h.New(t, false, 5)
		id := send(t, q, queue.SendInput{Body: []byte("hello"), Attributes: map[string]string{"kind": "push"}})
		got := receive(t, q, 10, vis)
		if len(got) != 1 || got[0].ID != id || string(got[0].Body) != "hello" || got[0].ReceiveCount != 1 || got[0].Attributes["kind"] != "push" {
			t.Fatalf("received %+v, want one message %s with body hello, count 1, kind push", got, id)
		}
		if again := receive(t, q, 10, vis); len(again) != 0 {
			t.Fatalf("in-flight message received again: %+v", again)
		}
		if err := q.Delete(ctx, got[0].ReceiptHandle); err != nil {
			t.Fatal(err)
		}
		h.Advance(2 * vis)
		if again := receive(t, q, 10, vis); len(again) != 0 {
			t.Fatalf("deleted message came back: %+v", again)
		}
		if err := q.Delete(ctx, got[0].ReceiptHandle); err != nil {
			t.Fatalf("deleting twice: %v, want nil", err)
		}
	})

	t.Run("visibility timeout redelivers", func(t *testing.T) {
		q, _ := h.New(t, false, 5)
		id := send(t, q, queue.SendInput{Body: []byte("x")})
		first := receive(t, q, 1, vis)
		h.Advance(vis / 2)
		if got := receive(t, q, 1, vis); len(got) != 0 {
			t.Fatalf("message visible before its timeout: %+v", got)
		}
		h.Advance(vis)
		second := receive(t, q, 1, vis)
		if len(second) != 1 || second[0].ID != id || second[0].ReceiveCount != 2 {
			t.Fatalf("after timeout received %+v, want %s with receive count 2", second, id)
		}
		if second[0].ReceiptHandle == first[0].ReceiptHandle {
			t.Fatal("redelivery reused the receipt handle")
		}
		if h.Lacks.StaleDelete {
			t.Log("the adapter declares that Delete cannot detect an outdated receipt handle: not checking ErrStaleReceipt")
		} else if err := q.Delete(ctx, first[0].ReceiptHandle); !errors.Is(err, queue.ErrStaleReceipt) {
			t.Fatalf("delete with the old receipt: %v, want ErrStaleReceipt", err)
		}
		if err := q.Delete(ctx, second[0].ReceiptHandle); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("change visibility", func(t *testing.T) {
		q, _ := h.New(t, false, 5)
		send(t, q, queue.SendInput{Body: []byte("x")})
		m := receive(t, q, 1, time.Hour)
		if err := q.ChangeVisibility(ctx, m[0].ReceiptHandle, 0); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, q, 1, vis); len(got) != 1 {
			t.Fatalf("after visibility 0 received %d messages, want 1", len(got))
		}
	})

	t.Run("delay", func(t *testing.T) {
		q, _ := h.New(t, false, 5)
		send(t, q, queue.SendInput{Body: []byte("later"), Delay: 30 * u})
		if got := receive(t, q, 1, vis); len(got) != 0 {
			t.Fatalf("delayed message delivered early: %+v", got)
		}
		h.Advance(31 * u)
		if got := receive(t, q, 1, vis); len(got) != 1 {
			t.Fatalf("delayed message not delivered after its delay")
		}
	})

	t.Run("dead letter after max receives keeps the reason", func(t *testing.T) {
		q, dlq := h.New(t, false, 3)
		id := send(t, q, queue.SendInput{Body: []byte("poison")})
		for i := 1; i <= 3; i++ {
			m := receive(t, q, 1, vis)
			if len(m) != 1 || m[0].ReceiveCount != i {
				t.Fatalf("receive %d: got %+v", i, m)
			}
			if err := q.Fail(ctx, m[0].ReceiptHandle, fmt.Sprintf("registry answered 503 (attempt %d)", i), 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := receive(t, q, 1, vis); len(got) != 0 {
			t.Fatalf("message received a 4th time: %+v", got)
		}
		dead := receive(t, dlq, 10, vis)
		if len(dead) != 1 || dead[0].ID != id || string(dead[0].Body) != "poison" {
			t.Fatalf("dead-letter queue holds %+v, want message %s", dead, id)
		}
		if !strings.Contains(dead[0].LastError, "registry answered 503 (attempt 3)") {
			t.Fatalf("dead letter reason %q does not keep the last error", dead[0].LastError)
		}
	})

	t.Run("dead letter now", func(t *testing.T) {
		q, dlq := h.New(t, false, 5)
		id := send(t, q, queue.SendInput{Body: []byte("bad")})
		m := receive(t, q, 1, vis)
		if err := q.DeadLetter(ctx, m[0].ReceiptHandle, "Dockerfile:3: RUN is not supported"); err != nil {
			t.Fatal(err)
		}
		h.Advance(2 * vis)
		if got := receive(t, q, 1, vis); len(got) != 0 {
			t.Fatalf("dead-lettered message still in the queue: %+v", got)
		}
		dead := receive(t, dlq, 1, vis)
		if len(dead) != 1 || dead[0].ID != id || !strings.Contains(dead[0].LastError, "RUN is not supported") {
			t.Fatalf("dead-letter queue holds %+v, want %s with its reason", dead, id)
		}
	})

	t.Run("dedupe id", func(t *testing.T) {
		for _, fifo := range []bool{false, true} {
			if !fifo && h.Lacks.StandardDedupe {
				t.Log("the adapter declares that standard queues do not deduplicate: checking a FIFO queue only")
				continue
			}
			q, _ := h.New(t, fifo, 5)
			group := ""
			if fifo {
				group = "web/dev"
			}
			a := send(t, q, queue.SendInput{Body: []byte("1"), GroupID: group, DedupeID: "web/dev/sha256:aa"})
			b := send(t, q, queue.SendInput{Body: []byte("2"), GroupID: group, DedupeID: "web/dev/sha256:aa"})
			if a != b {
				t.Fatalf("fifo=%v: duplicate send got id %s, want %s", fifo, b, a)
			}
			if got := receive(t, q, 10, vis); len(got) != 1 {
				t.Fatalf("fifo=%v: received %d messages, want 1", fifo, len(got))
			}
		}
	})

	t.Run("limits", func(t *testing.T) {
		q, _ := h.New(t, false, 5)
		if _, err := q.Send(ctx, queue.SendInput{Body: make([]byte, queue.MaxBodySize+1)}); !errors.Is(err, queue.ErrTooLarge) {
			t.Fatalf("oversize send: %v, want ErrTooLarge", err)
		}
		f, _ := h.New(t, true, 5)
		if _, err := f.Send(ctx, queue.SendInput{Body: []byte("x")}); !errors.Is(err, queue.ErrNoGroup) {
			t.Fatalf("FIFO send without group: %v, want ErrNoGroup", err)
		}
	})

	t.Run("fifo order within a group, parallel across groups", func(t *testing.T) {
		q, _ := h.New(t, true, 5)
		for i := 0; i < 3; i++ {
			send(t, q, queue.SendInput{Body: []byte(fmt.Sprintf("a%d", i)), GroupID: "web/dev"})
			send(t, q, queue.SendInput{Body: []byte(fmt.Sprintf("b%d", i)), GroupID: "api/dev"})
		}
		var seen []string
		for round := 0; round < 3; round++ {
			batch := receive(t, q, 10, vis)
			if len(batch) != 2 {
				t.Fatalf("round %d: got %d messages, want one head from each of 2 groups", round, len(batch))
			}
			if more := receive(t, q, 10, vis); len(more) != 0 {
				t.Fatalf("round %d: a group delivered a second message while one is in flight: %s", round, more[0].Body)
			}
			for _, m := range batch {
				seen = append(seen, string(m.Body))
				if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := "a0 b0 a1 b1 a2 b2"
		if got := strings.Join(seen, " "); got != want {
			t.Fatalf("delivery order %q, want %q", got, want)
		}
	})

	t.Run("fifo failed head blocks its group until visible", func(t *testing.T) {
		q, _ := h.New(t, true, 5)
		send(t, q, queue.SendInput{Body: []byte("first"), GroupID: "g"})
		send(t, q, queue.SendInput{Body: []byte("second"), GroupID: "g"})
		m := receive(t, q, 10, vis)
		if len(m) != 1 || string(m[0].Body) != "first" {
			t.Fatalf("got %+v, want only the first", m)
		}
		if err := q.Fail(ctx, m[0].ReceiptHandle, "transient", 5*u); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, q, 10, vis); len(got) != 0 {
			t.Fatalf("second message overtook the failed first: %s", got[0].Body)
		}
		h.Advance(6 * u)
		got := receive(t, q, 10, vis)
		if len(got) != 1 || string(got[0].Body) != "first" || got[0].LastError != "transient" {
			t.Fatalf("after backoff got %+v, want first again with its error", got)
		}
	})
}

func send(t *testing.T, q queue.Queue, in queue.SendInput) string {
	t.Helper()
	id, err := q.Send(context.Background(), in)
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	return id
}

func receive(t *testing.T, q queue.Queue, max int, vis time.Duration) []queue.Message {
	t.Helper()
	m, err := q.Receive(context.Background(), max, vis)
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	return m
}
