package dynamostate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

const (
	latestPrefix = "latest#"
	latestSK     = "latest"
)

func latestKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(latestPrefix + key), AttrSK: attrS(latestSK)}
}

// PutLatest implements state.Latests with the same conditions as
// PutRelease: a create on no item with the key, an update on the stored
// version being l.Version.
func (s *Store) PutLatest(ctx context.Context, l *state.Latest) error {
	if l.Key == "" || l.Work == "" {
		return fmt.Errorf("putting latest: key and work are required")
	}
	next := *l
	next.UpdatedAt = s.now().UTC()
	next.Version = l.Version + 1
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: latestItem(next)}
	if l.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": attrN(int64(l.Version))}
	}
	if _, err := s.api.PutItem(ctx, in); err != nil {
		if _, lost := isConditionFailed(err); lost {
			return fmt.Errorf("putting latest %s (version %d): %w", l.Key, l.Version, state.ErrConflict)
		}
		return fmt.Errorf("putting latest %s: %w", l.Key, err)
	}
	*l = next
	return nil
}

// GetLatest implements state.Latests with a consistent read: a decision
// to skip work must see the newest write.
func (s *Store) GetLatest(ctx context.Context, key string) (state.Latest, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: latestKey(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return state.Latest{}, fmt.Errorf("reading latest %s: %w", key, err)
	}
	if out.Item == nil {
		return state.Latest{}, fmt.Errorf("latest %s: %w", key, state.ErrNotFound)
	}
	it := out.Item
	return state.Latest{Key: getS(it, "key"), Work: getS(it, "work"), SourceRepo: getS(it, "source_repo"), Revision: getS(it, "revision"),
		SourceTime: getTime(it, "source_time"), Due: getTime(it, "due"), Done: getBool(it, "done"),
		UpdatedAt: getTime(it, "updated_at"), Version: int(getN(it, attrVersion))}, nil
}

func latestItem(l state.Latest) map[string]types.AttributeValue {
	item := latestKey(l.Key)
	for k, v := range map[string]string{"key": l.Key, "work": l.Work, "source_repo": l.SourceRepo, "revision": l.Revision} {
		if v != "" {
			item[k] = attrS(v)
		}
	}
	item["done"] = &types.AttributeValueMemberBOOL{Value: l.Done}
	item[attrVersion] = attrN(int64(l.Version))
	putTime(item, "source_time", l.SourceTime)
	putTime(item, "due", l.Due)
	putTime(item, "updated_at", l.UpdatedAt)
	return item
}
