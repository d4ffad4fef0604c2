package dynamostate

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

const (
	idemPrefix = "idem#"
	idemSK     = "idem"
	attrStatus = "status"
	attrResult = "result"
	attrExp    = "expires_at" // epoch milliseconds
	attrUpd    = "updated_at" // epoch milliseconds
)

func idemKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(idemPrefix + key), AttrSK: attrS(idemSK)}
}

func idemItem(key string, st state.Status, result []byte, now, exp time.Time) map[string]types.AttributeValue {
	item := idemKey(key)
	item[attrStatus] = attrS(string(st))
	item[attrExp] = attrN(exp.UnixMilli())
	item[attrUpd] = attrN(now.UnixMilli())
	// DynamoDB's TTL only cleans up; a second of slack keeps it from ever
	// deleting a record that the store still counts as live.
	item[AttrTTL] = attrN(exp.Unix() + 1)
	if result != nil {
		item[attrResult] = &types.AttributeValueMemberB{Value: result}
	}
	return item
}

// Claim implements state.Idempotency with a conditional put: it succeeds
// when no record exists or the existing one expired (expires_at <= now).
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (state.Idem, bool, error) {
	// A record that blocks the claim but is gone when read back (released or
	// expired meanwhile) means trying again.
	for attempt := 0; attempt < 3; attempt++ {
		now := s.now()
		rec := state.Idem{Key: key, Status: state.InProgress, ExpiresAt: now.Add(lease), UpdatedAt: now}
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                &s.table,
			Item:                     idemItem(key, state.InProgress, nil, now, rec.ExpiresAt),
			ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#exp": attrExp},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": attrN(now.UnixMilli()),
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return rec, true, nil
		}
		ccf, lost := isConditionFailed(err)
		if !lost {
			return state.Idem{}, false, fmt.Errorf("claiming %s: %w", key, err)
		}
		item := ccf.Item
		if item == nil {
			// Not every DynamoDB implementation returns the old item with
			// the failure: read it.
			got, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: idemKey(key), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return state.Idem{}, false, fmt.Errorf("claiming %s: reading the existing claim: %w", key, err)
			}
			item = got.Item
		}
		if item == nil {
			continue
		}
		return state.Idem{
			Key:       key,
			Status:    state.Status(getS(item, attrStatus)),
			Result:    getB(item, attrResult),
			ExpiresAt: time.UnixMilli(getN(item, attrExp)).UTC(),
			UpdatedAt: time.UnixMilli(getN(item, attrUpd)).UTC(),
		}, false, nil
	}
	return state.Idem{}, false, fmt.Errorf("claiming %s: the record kept changing", key)
}

// Complete implements state.Idempotency.
func (s *Store) Complete(ctx context.Context, key string, result []byte, retention time.Duration) error {
	now := s.now()
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table,
		Item:      idemItem(key, state.Completed, result, now, now.Add(retention)),
	})
	if err != nil {
		return fmt.Errorf("completing %s: %w", key, err)
	}
	return nil
}

// Release implements state.Idempotency. Only an in-progress claim is
// removed: a completed record stays.
func (s *Store) Release(ctx context.Context, key string) error {
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &s.table,
		Key:                       idemKey(key),
		ConditionExpression:       aws.String("#st = :inprogress"),
		ExpressionAttributeNames:  map[string]string{"#st": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprogress": attrS(string(state.InProgress))},
	})
	if _, lost := isConditionFailed(err); err != nil && !lost {
		return fmt.Errorf("releasing %s: %w", key, err)
	}
	return nil
}

// Renew implements state.Idempotency with a conditional update: the record
// must still be in progress with the expiry the holder last wrote.
func (s *Store) Renew(ctx context.Context, held state.Idem, lease time.Duration) (state.Idem, error) {
	now := s.now()
	rec := held
	rec.ExpiresAt, rec.UpdatedAt = now.Add(lease), now
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.table,
		Item:                     idemItem(held.Key, state.InProgress, nil, now, rec.ExpiresAt),
		ConditionExpression:      aws.String("#st = :inprogress AND #exp = :held"),
		ExpressionAttributeNames: map[string]string{"#st": attrStatus, "#exp": attrExp},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inprogress": attrS(string(state.InProgress)),
			":held":       attrN(held.ExpiresAt.UnixMilli()),
		},
	})
	if _, lost := isConditionFailed(err); lost {
		return state.Idem{}, fmt.Errorf("renewing the claim on %s: %w", held.Key, state.ErrConflict)
	}
	if err != nil {
		return state.Idem{}, fmt.Errorf("renewing the claim on %s: %w", held.Key, err)
	}
	return rec, nil
}

// Get implements state.Idempotency with a consistent read.
func (s *Store) Get(ctx context.Context, key string) (state.Idem, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: idemKey(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return state.Idem{}, fmt.Errorf("reading idempotency record %s: %w", key, err)
	}
	if out.Item == nil {
		return state.Idem{}, fmt.Errorf("idempotency record %s: %w", key, state.ErrNotFound)
	}
	return state.Idem{
		Key:       key,
		Status:    state.Status(getS(out.Item, attrStatus)),
		Result:    getB(out.Item, attrResult),
		ExpiresAt: time.UnixMilli(getN(out.Item, attrExp)).UTC(),
		UpdatedAt: time.UnixMilli(getN(out.Item, attrUpd)).UTC(),
	}, nil
}
