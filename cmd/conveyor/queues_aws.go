package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
)

// attributes is the part of *sqs.Client `conveyor queues` uses.
type attributes interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// stackStats reads every work queue's counters from SQS: the same columns
// as the local runtime's, from SQS's approximate counts.
func stackStats(ctx context.Context, name string, stderr io.Writer) (map[string]sqlitequeue.Stats, error) {
	st, err := resolveStack(ctx, name, nil, stderr)
	if err != nil {
		return nil, err
	}
	env, err := st.env(consumers()...)
	if err != nil {
		return nil, err
	}
	urls := map[string][2]string{}
	for n, u := range env.Config.Queues {
		urls[n] = [2]string{u.URL, u.DeadLetter}
	}
	return sqsStats(ctx, env.SQS(), urls)
}

// sqsStats counts, per queue, visible, in-flight (received, or held back
// by a retry's visibility change) and delayed messages, and the dead
// letters: every message in its dead-letter queue, listed or not.
func sqsStats(ctx context.Context, c attributes, urls map[string][2]string) (map[string]sqlitequeue.Stats, error) {
	out := map[string]sqlitequeue.Stats{}
	for _, s := range queue.Topology {
		u := urls[s.Name]
		work, err := counts(ctx, c, u[0])
		if err != nil {
			return nil, err
		}
		dead, err := counts(ctx, c, u[1])
		if err != nil {
			return nil, err
		}
		out[s.Name] = sqlitequeue.Stats{Visible: work[0], InFlight: work[1], Delayed: work[2], Dead: dead[0] + dead[1] + dead[2]}
	}
	return out, nil
}

var countNames = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// counts returns a queue's visible, not visible and delayed counts.
func counts(ctx context.Context, c attributes, url string) ([3]int, error) {
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
