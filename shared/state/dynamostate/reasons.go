package dynamostate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	reasonPrefix = "reason#"
	reasonSK     = "reason"
	attrReason   = "reason"
	// batchGetMax is how many keys one BatchGetItem takes.
	batchGetMax = 100
)

func reasonKey(messageID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(reasonPrefix + messageID), AttrSK: attrS(reasonSK)}
}

// PutReason records why a queue message last failed, for the SQS adapter
// (sqsqueue.Reasons); it expires after the reason retention.
func (s *Store) PutReason(ctx context.Context, messageID, reason string) error {
	item := reasonKey(messageID)
	item[attrReason] = attrS(reason)
	item[AttrTTL] = attrN(s.now().Add(s.reasonRetention).Unix())
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("recording the failure reason of %s: %w", messageID, err)
	}
	return nil
}

// Reasons returns the recorded failure reasons of the given messages
// (sqsqueue.Reasons), read consistently; messages without one are absent.
func (s *Store) Reasons(ctx context.Context, messageIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(messageIDs))
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, id := range messageIDs {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, reasonKey(id))
		}
	}
	for start := 0; start < len(keys); start += batchGetMax {
		pending := map[string]types.KeysAndAttributes{s.table: {
			Keys:           keys[start:min(start+batchGetMax, len(keys))],
			ConsistentRead: aws.Bool(true),
		}}
		// DynamoDB may leave keys unprocessed under load: ask again for them.
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == 5 {
				return nil, fmt.Errorf("reading failure reasons: keys still unprocessed after %d attempts", attempt)
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return nil, fmt.Errorf("reading failure reasons: %w", ctx.Err())
				case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
				}
			}
			res, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("reading failure reasons: %w", err)
			}
			for _, item := range res.Responses[s.table] {
				out[strings.TrimPrefix(getS(item, AttrPK), reasonPrefix)] = getS(item, attrReason)
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}
