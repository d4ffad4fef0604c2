package runtime

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
)

// Handler is an SQS-triggered Lambda handler.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Mapping connects one queue to one handler.
type Mapping struct {
	// Function names the consumer in logs.
	Function string
	Queue    queue.Queue
	FIFO     bool
	Handler  Handler
	// BatchSize is the most messages per invocation (default 10).
	BatchSize int
	// Visibility hides a received batch while the handler runs (default
	// 5 minutes); it is also the handler's deadline.
	Visibility time.Duration
	// PollInterval is the sleep between empty receives (default 250 ms).
	PollInterval time.Duration
	// Wake, when set, returns a channel closed when the queue gets a new
	// message, so an idle poller reacts at once.
	Wake    func() <-chan struct{}
	Backoff retry.Backoff
	Logger  *slog.Logger
}

func (m *Mapping) defaults() {
	if m.BatchSize <= 0 {
		m.BatchSize = 10
	}
	if m.Visibility <= 0 {
		m.Visibility = 5 * time.Minute
	}
	if m.PollInterval <= 0 {
		m.PollInterval = 250 * time.Millisecond
	}
	if m.Backoff == (retry.Backoff{}) {
		m.Backoff = retry.DefaultBackoff
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
}

// Run polls until ctx is done. A batch already handed to the handler runs
// to completion (bounded by Visibility) before Run returns; messages not yet
// received stay in the queue.
func (m *Mapping) Run(ctx context.Context) error {
	m.defaults()
	for {
		var wake <-chan struct{}
		if m.Wake != nil {
			wake = m.Wake()
		}
		n, err := m.Poll(ctx)
		if err != nil && ctx.Err() == nil {
			m.Logger.ErrorContext(ctx, "polling queue", "queue", m.Queue.Name(), "function", m.Function, "error", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(m.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Poll receives one batch and, when it is not empty, invokes the handler
// and settles every message. It returns how many messages it received.
func (m *Mapping) Poll(ctx context.Context) (int, error) {
	m.defaults()
	msgs, err := m.Queue.Receive(ctx, m.BatchSize, m.Visibility)
	if err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	// The batch owns its messages now: finish it even if ctx ends, within
	// the visibility timeout after which they would be redelivered anyway.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.Visibility)
	defer cancel()
	hctx, oc := withOutcomes(hctx)
	ev := m.event(msgs)
	resp, herr := m.invoke(hctx, ev)
	return len(msgs), m.settle(hctx, msgs, resp, herr, oc)
}

func (m *Mapping) invoke(ctx context.Context, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return m.Handler(ctx, ev)
}

// settle applies Lambda's rules to the handler's answer.
func (m *Mapping) settle(ctx context.Context, msgs []queue.Message, resp events.SQSEventResponse, herr error, oc *outcomes) error {
	failed := map[string]bool{}
	batchErr := herr
	if batchErr == nil {
		ids := map[string]bool{}
		for _, msg := range msgs {
			ids[msg.ID] = true
		}
		for _, f := range resp.BatchItemFailures {
			if !ids[f.ItemIdentifier] {
				// Lambda fails the whole batch on an empty or unknown id.
				batchErr = fmt.Errorf("batchItemFailures names %q, which is not in the batch", f.ItemIdentifier)
				break
			}
			failed[f.ItemIdentifier] = true
		}
	}
	if batchErr != nil {
		for _, msg := range msgs {
			failed[msg.ID] = true
		}
	}
	if m.FIFO {
		// Keep order: after a group's first failure, its later messages
		// in the batch are not processed as done either.
		blocked := map[string]bool{}
		for _, msg := range msgs {
			if blocked[msg.GroupID] {
				failed[msg.ID] = true
			}
			if failed[msg.ID] {
				blocked[msg.GroupID] = true
			}
		}
	}
	var errs []error
	for _, msg := range msgs {
		log := m.Logger.With("queue", m.Queue.Name(), "function", m.Function, "message_id", msg.ID,
			"trace_id", msg.Attributes[queue.AttrTraceID], "receive_count", msg.ReceiveCount)
		if !failed[msg.ID] {
			if err := m.Queue.Delete(ctx, msg.ReceiptHandle); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		o, known := oc.m[msg.ID]
		reason := "reported in batchItemFailures"
		switch {
		case batchErr != nil:
			reason = logging.RedactURLs(batchErr.Error())
		case known && o.Err != nil:
			reason = o.Err.Error()
		}
		if known && o.Permanent && batchErr == nil {
			log.WarnContext(ctx, "dead-lettering message", "reason", reason)
			if err := m.Queue.DeadLetter(ctx, msg.ReceiptHandle, reason); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		delay := m.Backoff.Delay(msg.ReceiveCount, o.Err)
		log.WarnContext(ctx, "message failed, will retry", "reason", reason, "retry_in", delay.String())
		if err := m.Queue.Fail(ctx, msg.ReceiptHandle, reason, delay); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Mapping) event(msgs []queue.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, msg := range msgs {
		sum := md5.Sum(msg.Body)
		attrs := map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(msg.ReceiveCount),
			"SentTimestamp":                    strconv.FormatInt(msg.SentAt.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(msg.FirstReceivedAt.UnixMilli(), 10),
			"SenderId":                         "conveyor-local",
		}
		if msg.GroupID != "" {
			attrs["MessageGroupId"] = msg.GroupID
		}
		if msg.DedupeID != "" {
			attrs["MessageDeduplicationId"] = msg.DedupeID
		}
		mattrs := map[string]events.SQSMessageAttribute{}
		for k, v := range msg.Attributes {
			mattrs[k] = events.SQSMessageAttribute{StringValue: &v, DataType: "String"}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:         msg.ID,
			ReceiptHandle:     msg.ReceiptHandle,
			Body:              string(msg.Body),
			Md5OfBody:         hex.EncodeToString(sum[:]),
			Attributes:        attrs,
			MessageAttributes: mattrs,
			EventSource:       "aws:sqs",
			EventSourceARN:    "arn:aws:sqs:local:000000000000:" + m.Queue.Name(),
			AWSRegion:         "local",
		})
	}
	return ev
}
