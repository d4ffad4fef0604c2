package sqsqueue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/conveyor-gitops/conveyor/shared/queue"
)

// Attributes is the part of *sqs.Client that Stats uses, with its exact
// signature.
type Attributes interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Stats counts, per topology queue, visible, in-flight (received, or held
// back by a retry's visibility change) and delayed messages, and the dead
// letters: every message in its dead-letter queue, listed or not. It only
// reads attributes: nothing is received, so nothing is hidden or counted
// as a receive.
func Stats(ctx context.Context, c Attributes, urls map[string]URLs) (map[string]queue.Stats, error) {
	out := map[string]queue.Stats{}
	for _, s := range queue.Topology {
		u := urls[s.Name]
		work, err := counts(ctx, c, u.Queue)
		if err != nil {
			return nil, err
		}
		dead, err := counts(ctx, c, u.DeadLetter)
		if err != nil {
			return nil, err
		}
		out[s.Name] = queue.Stats{Visible: work[0], InFlight: work[1], Delayed: work[2], Dead: dead[0] + dead[1] + dead[2]}
	}
	return out, nil
}

var countNames = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// counts returns a queue's visible, not visible and delayed counts.
func counts(ctx context.Context, c Attributes, url string) ([3]int, error) {
	var n [3]int
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: countNames})
	if err != nil {
		return n, fmt.Errorf("reading the counts of %s: %w", url, err)
	}
	for i, a := range countNames {
		if v, ok := out.Attributes[string(a)]; ok {
			if n[i], err = strconv.Atoi(v); err != nil {
				return n, fmt.Errorf("reading the counts of %s: %s is %q", url, a, v)
			}
		}
	}
	return n, nil
}
