package sqsqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// MaxDelay is the longest delay SQS accepts.
const MaxDelay = 15 * time.Minute

// MaxAttributes is how many message attributes SQS accepts on a message.
const MaxAttributes = 10

// Attributes the adapter adds to carry what SQS has no field for.
const (
	// AttrDedupeID carries SendInput.DedupeID on standard queues, which do
	// not deduplicate, and the original DedupeID of a dead-lettered copy.
	AttrDedupeID = "dedupe_id"
	// AttrSourceMessageID is the id of the message a dead-letter copy was
	// made from; Receive reports it as the copy's id.
	AttrSourceMessageID = "source_message_id"
)

// outgoing is a validated message in the shape SQS wants.
type outgoing struct {
	body  string
	delay int32
	attrs map[string]types.MessageAttributeValue
	group *string
	dedup *string
}

// prepare validates in for a queue of the given kind.
func prepare(in queue.SendInput, fifo bool) (outgoing, error) {
	if len(in.Body) > queue.MaxBodySize {
		return outgoing{}, fmt.Errorf("%w: %d bytes, limit %d", queue.ErrTooLarge, len(in.Body), queue.MaxBodySize)
	}
	if len(in.Body) == 0 || !utf8.Valid(in.Body) {
		return outgoing{}, errors.New("SQS needs a non-empty UTF-8 body")
	}
	if fifo && in.GroupID == "" {
		return outgoing{}, queue.ErrNoGroup
	}
	if in.Delay > MaxDelay {
		return outgoing{}, fmt.Errorf("%w: %v is longer than %v", ErrDelay, in.Delay, MaxDelay)
	}
	if fifo && in.Delay > 0 {
		return outgoing{}, fmt.Errorf("%w: a FIFO queue takes no per-message delay (asked %v)", ErrDelay, in.Delay)
	}
	out := outgoing{body: string(in.Body), delay: int32(seconds(in.Delay)), attrs: map[string]types.MessageAttributeValue{}}
	for k, v := range in.Attributes {
		// SQS rejects empty values; an absent attribute reads as "" anyway.
		if v != "" {
			out.attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	if in.GroupID != "" {
		out.group = aws.String(in.GroupID)
	}
	switch {
	case fifo && in.DedupeID != "":
		out.dedup = aws.String(in.DedupeID)
	case fifo:
		// No DedupeID means no deduplication: content-based deduplication
		// would drop a legitimate second send of the same body.
		out.dedup = aws.String(randomID())
	case in.DedupeID != "":
		out.attrs[AttrDedupeID] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(in.DedupeID)}
	}
	if len(out.attrs) > MaxAttributes {
		return outgoing{}, fmt.Errorf("%d message attributes, SQS allows %d", len(out.attrs), MaxAttributes)
	}
	return out, nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Send enqueues a message and returns its SQS message id. On a FIFO queue a
// send deduplicated by DedupeID returns the original message's id.
func (q *Queue) Send(ctx context.Context, in queue.SendInput) (string, error) {
	id, err := q.send(ctx, q.url, q.fifo, in)
	if err != nil {
		return "", fmt.Errorf("sending to %s: %w", q.name, err)
	}
	return id, nil
}

func (q *Queue) send(ctx context.Context, queueURL string, fifo bool, in queue.SendInput) (string, error) {
	m, err := prepare(in, fifo)
	if err != nil {
		return "", err
	}
	out, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               aws.String(queueURL),
		MessageBody:            aws.String(m.body),
		DelaySeconds:           m.delay,
		MessageAttributes:      m.attrs,
		MessageGroupId:         m.group,
		MessageDeduplicationId: m.dedup,
	})
	if err != nil {
		if isTooLarge(err) {
			return "", fmt.Errorf("%w: %w", queue.ErrTooLarge, err)
		}
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

// SendBatch sends messages in as few SendMessageBatch calls as SQS allows
// (10 messages and MaxBodySize bytes each) and returns their ids in order.
// Messages that fail have an empty id and an error in the joined error.
func (q *Queue) SendBatch(ctx context.Context, in []queue.SendInput) ([]string, error) {
	ids := make([]string, len(in))
	var errs []error
	var entries []types.SendMessageBatchRequestEntry
	size := 0
	flush := func() {
		if len(entries) == 0 {
			return
		}
		out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		entries, size = nil, 0
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, ok := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(ok.Id))
			ids[i] = aws.ToString(ok.MessageId)
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("message %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	for i, msg := range in {
		m, err := prepare(msg, q.fifo)
		if err != nil {
			errs = append(errs, fmt.Errorf("message %d: %w", i, err))
			continue
		}
		if len(entries) == 10 || size+len(m.body) > queue.MaxBodySize {
			flush()
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(m.body),
			DelaySeconds:           m.delay,
			MessageAttributes:      m.attrs,
			MessageGroupId:         m.group,
			MessageDeduplicationId: m.dedup,
		})
		size += len(m.body)
	}
	flush()
	if err := errors.Join(errs...); err != nil {
		return ids, fmt.Errorf("sending a batch to %s: %w", q.name, err)
	}
	return ids, nil
}
