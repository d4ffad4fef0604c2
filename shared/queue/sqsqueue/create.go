package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Retention periods: a dead-letter queue must keep messages longer than
// its source, because SQS keeps a moved message's original enqueue time.
const (
	QueueRetention      = 4 * 24 * time.Hour
	DeadLetterRetention = 14 * 24 * time.Hour
)

// maxMessageSize is set explicitly on every queue (SQS's default changed
// over time): the body limit of the port plus room for attributes.
const maxMessageSize = 1 << 20

// admin is the part of *sqs.Client that CreateQueues uses.
type admin interface {
	CreateQueue(ctx context.Context, params *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ admin = (*sqs.Client)(nil)

// URLs are the URLs of a work queue and its dead-letter queue.
type URLs struct {
	Queue      string
	DeadLetter string
}

// QueueName is the SQS name of a spec's queue: FIFO names end in ".fifo".
func QueueName(s queue.Spec) string { return fifoName(s.Name, s.FIFO) }

// DeadLetterQueueName is the SQS name of a spec's dead-letter queue.
func DeadLetterQueueName(s queue.Spec) string { return fifoName(s.DeadLetter(), s.FIFO) }

func fifoName(name string, fifo bool) string {
	if fifo {
		return name + ".fifo"
	}
	return name
}

// CreateQueues creates (or, with the same attributes, finds) the
// dead-letter queue and then the work queue of spec, with a redrive policy
// of spec.MaxReceives receives, for tests and local setups; production
// queues come from the infrastructure template. client is an *sqs.Client.
func CreateQueues(ctx context.Context, client admin, spec queue.Spec) (URLs, error) {
	common := map[string]string{string(types.QueueAttributeNameMaximumMessageSize): strconv.Itoa(maxMessageSize)}
	if spec.FIFO {
		common[string(types.QueueAttributeNameFifoQueue)] = "true"
		common[string(types.QueueAttributeNameContentBasedDeduplication)] = "false"
	}
	dlqAttrs := with(common, types.QueueAttributeNameMessageRetentionPeriod, seconds(DeadLetterRetention))
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(DeadLetterQueueName(spec)), Attributes: dlqAttrs})
	if err != nil {
		return URLs{}, fmt.Errorf("creating queue %s: %w", DeadLetterQueueName(spec), err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return URLs{}, fmt.Errorf("reading the ARN of %s: %w", DeadLetterQueueName(spec), err)
	}
	attrs := with(common, types.QueueAttributeNameMessageRetentionPeriod, seconds(QueueRetention))
	if spec.Visibility > 0 {
		attrs[string(types.QueueAttributeNameVisibilityTimeout)] = strconv.FormatInt(min(seconds(spec.Visibility), seconds(MaxVisibility)), 10)
	}
	if spec.MaxReceives > 0 {
		policy, _ := json.Marshal(map[string]any{
			"deadLetterTargetArn": got.Attributes[string(types.QueueAttributeNameQueueArn)],
			"maxReceiveCount":     spec.MaxReceives,
		})
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(QueueName(spec)), Attributes: attrs})
	if err != nil {
		return URLs{}, fmt.Errorf("creating queue %s: %w", QueueName(spec), err)
	}
	return URLs{Queue: aws.ToString(q.QueueUrl), DeadLetter: aws.ToString(dlq.QueueUrl)}, nil
}

func with(base map[string]string, k types.QueueAttributeName, secs int64) map[string]string {
	out := make(map[string]string, len(base)+3)
	for key, v := range base {
		out[key] = v
	}
	out[string(k)] = strconv.FormatInt(secs, 10)
	return out
}
