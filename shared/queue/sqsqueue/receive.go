package sqsqueue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// MaxVisibility is the longest visibility timeout SQS accepts.
const MaxVisibility = 12 * time.Hour

// Receive returns up to limit (at most 10) visible messages and hides them for
// visibility, rounded up to whole seconds; 0 means the queue's default.
// Messages received before (receive count above 1) get LastError from the
// Reasons store, dead-letter copies from their dead_reason attribute.
func (q *Queue) Receive(ctx context.Context, limit int, visibility time.Duration) ([]queue.Message, error) {
	limit = min(max(limit, 1), 10)
	if visibility < 0 || visibility > MaxVisibility {
		return nil, fmt.Errorf("receiving from %s: visibility %v is outside 0–%v", q.name, visibility, MaxVisibility)
	}
	out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.url),
		MaxNumberOfMessages:         int32(limit),
		VisibilityTimeout:           int32(seconds(visibility)),
		WaitTimeSeconds:             q.wait,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", q.name, err)
	}
	msgs := make([]queue.Message, 0, len(out.Messages))
	var lookup []string
	for _, raw := range out.Messages {
		m := decode(raw)
		if m.LastError == "" && m.ReceiveCount > 1 {
			lookup = append(lookup, aws.ToString(raw.MessageId))
		}
		msgs = append(msgs, m)
	}
	if len(lookup) > 0 && q.reasons != nil {
		q.fillReasons(ctx, msgs, lookup)
	}
	remembered := time.Duration(seconds(visibility)) * time.Second
	if remembered == 0 {
		remembered = MaxVisibility // the queue's default, which we do not know
	}
	for _, m := range msgs {
		q.remember(m, remembered)
	}
	return msgs, nil
}

// fillReasons sets LastError from the Reasons store. A failed lookup is
// logged, not returned: the messages are already hidden, and processing
// them without their last error beats losing a receive.
func (q *Queue) fillReasons(ctx context.Context, msgs []queue.Message, ids []string) {
	reasons, err := q.reasons.Reasons(ctx, ids)
	if err != nil {
		q.log.WarnContext(ctx, "looking up failure reasons", "queue", q.name, "error", err)
		return
	}
	for i := range msgs {
		id, _ := splitReceipt(msgs[i].ReceiptHandle)
		if r, ok := reasons[id]; ok && msgs[i].LastError == "" {
			msgs[i].LastError = r
		}
	}
}

// decode turns an SQS message into the port's, moving the adapter's own
// attributes into fields.
func decode(raw types.Message) queue.Message {
	id := aws.ToString(raw.MessageId)
	m := queue.Message{
		ID:            id,
		Body:          []byte(aws.ToString(raw.Body)),
		ReceiptHandle: ReceiptHandle(id, aws.ToString(raw.ReceiptHandle)),
		Attributes:    map[string]string{},
		GroupID:       raw.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)],
		DedupeID:      raw.Attributes[string(types.MessageSystemAttributeNameMessageDeduplicationId)],
	}
	m.ReceiveCount, _ = strconv.Atoi(raw.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m.SentAt = millis(raw.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)])
	m.FirstReceivedAt = millis(raw.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)])
	for k, v := range raw.MessageAttributes {
		s := aws.ToString(v.StringValue)
		if s == "" && v.BinaryValue != nil {
			s = string(v.BinaryValue)
		}
		switch k {
		case AttrDedupeID:
			m.DedupeID = s
		case AttrSourceMessageID:
			m.ID = s
		default:
			m.Attributes[k] = s
		}
	}
	m.LastError = m.Attributes[queue.AttrDeadReason]
	return m
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
