package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Delete removes a received message. A message already deleted is not an
// error; neither, as SQS does not report it, is an outdated receipt handle.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	_, raw := splitReceipt(receipt)
	_, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(raw)})
	q.forget(receipt)
	if err != nil {
		if isStale(err) {
			return fmt.Errorf("deleting from %s: %w: %w", q.name, queue.ErrStaleReceipt, err)
		}
		return fmt.Errorf("deleting from %s: %w", q.name, err)
	}
	return nil
}

// DeleteBatch deletes received messages in calls of up to 10. Entries that
// fail are reported together in the joined error.
func (q *Queue) DeleteBatch(ctx context.Context, receipts []string) error {
	var errs []error
	for start := 0; start < len(receipts); start += 10 {
		chunk := receipts[start:min(start+10, len(receipts))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			_, raw := splitReceipt(r)
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(start + i)), ReceiptHandle: aws.String(raw)}
		}
		out, err := q.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		q.forget(chunk...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			err := fmt.Errorf("receipt %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
			switch aws.ToString(f.Code) {
			case "ReceiptHandleIsInvalid", "InvalidIdFormat":
				err = fmt.Errorf("%w: %w", queue.ErrStaleReceipt, err)
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting a batch from %s: %w", q.name, err)
	}
	return nil
}

// ChangeVisibility makes a received message visible again after d, rounded
// up to whole seconds. A receipt handle that no longer owns its message
// gives ErrStaleReceipt.
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	if err := q.changeVisibility(ctx, receipt, d); err != nil {
		return fmt.Errorf("changing visibility in %s: %w", q.name, err)
	}
	return nil
}

func (q *Queue) changeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("visibility %v is outside 0–%v", d, MaxVisibility)
	}
	_, raw := splitReceipt(receipt)
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(raw), VisibilityTimeout: int32(seconds(d)),
	})
	if err != nil {
		q.forget(receipt)
		if isStale(err) {
			return fmt.Errorf("%w: %w", queue.ErrStaleReceipt, err)
		}
		return err
	}
	q.extend(receipt, time.Duration(seconds(d))*time.Second)
	return nil
}

// Fail records reason in the Reasons store (if any) under the message's id,
// then makes the message visible again after retryIn. Once SQS has
// delivered it the redrive policy's maxReceiveCount times, SQS moves it to
// the dead-letter queue, where Receive finds the same reason by the same id.
func (q *Queue) Fail(ctx context.Context, receipt, reason string, retryIn time.Duration) error {
	// The reason is stored first: once the message is visible, the next
	// receive (or SQS's move to the dead-letter queue) must find it.
	if id, _ := splitReceipt(receipt); id != "" && q.reasons != nil {
		if err := q.reasons.PutReason(ctx, id, reason); err != nil {
			return fmt.Errorf("recording failure of %s in %s: %w", id, q.name, err)
		}
	}
	if err := q.changeVisibility(ctx, receipt, retryIn); err != nil {
		return fmt.Errorf("recording failure in %s: %w", q.name, err)
	}
	q.forget(receipt)
	return nil
}

// DeadLetter moves a message received through this Queue, and still in
// flight, to the dead-letter queue with reason; see DeadLetterMessage.
// Any other receipt gives ErrStaleReceipt, as the adapter then has no body
// to copy.
func (q *Queue) DeadLetter(ctx context.Context, receipt, reason string) error {
	m, ok := q.recall(receipt)
	if !ok {
		return fmt.Errorf("dead-lettering from %s: %w: the message was not received through this queue or is no longer in flight", q.name, queue.ErrStaleReceipt)
	}
	return q.DeadLetterMessage(ctx, m, reason)
}

// DeadLetterMessage sends a copy of m to the dead-letter queue, with
// attributes dead_reason, source_queue and source_message_id, then deletes m
// by its receipt handle. On FIFO queues the copy keeps m's group and is
// deduplicated by m's SQS id, so a retry after a crash between the two steps
// sends no second copy.
func (q *Queue) DeadLetterMessage(ctx context.Context, m queue.Message, reason string) error {
	if q.dlqURL == "" {
		return fmt.Errorf("dead-lettering from %s: %w", q.name, ErrNoDeadLetterQueue)
	}
	sqsID, _ := splitReceipt(m.ReceiptHandle)
	if sqsID == "" {
		sqsID = m.ID
	}
	attrs := make(map[string]string, len(m.Attributes)+4)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[queue.AttrDeadReason] = reason
	attrs[queue.AttrSourceQueue] = q.name
	attrs[AttrSourceMessageID] = m.ID
	in := queue.SendInput{Body: m.Body, GroupID: m.GroupID, Attributes: attrs}
	if q.dlqFIFO {
		in.DedupeID = "dead-" + sqsID
		if m.DedupeID != "" {
			attrs[AttrDedupeID] = m.DedupeID
		}
	} else {
		in.DedupeID = m.DedupeID
	}
	if _, err := q.send(ctx, q.dlqURL, q.dlqFIFO, in); err != nil {
		return fmt.Errorf("dead-lettering %s from %s: %w", m.ID, q.name, err)
	}
	if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
		return fmt.Errorf("dead-lettering %s: %w", m.ID, err)
	}
	return nil
}
