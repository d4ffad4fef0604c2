package dynamostate

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// prIndexedKey is the item that records that every release was given its
// gsi2 keys: a release written since carries them from its first write.
var prIndexedKey = map[string]types.AttributeValue{AttrPK: attrS("migration#gsi2"), AttrSK: attrS("migration")}

// IndexPullRequests gives each release of apps that has a pull request but
// no gsi2 keys, because it was written before gsi2 existed, its keys: the
// pull request's page then lists it from gsi2 with the releases written
// since. It reads app by app through gsi1, so a role that may not scan can
// run it, and writes each item back as it was plus its keys, on condition
// that its version is the one read and it has no keys yet: a release
// rewritten meanwhile got its keys from that write. Once a pass went
// through every app it is recorded, and later calls read that record only
// (nothing at all in the same process). It returns how many releases it
// indexed.
func (s *Store) IndexPullRequests(ctx context.Context, apps []string) (int, error) {
	if s.prIndexed.Load() {
		return 0, nil
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: prIndexedKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("reading whether releases are indexed by pull request: %w", err)
	}
	if out.Item != nil {
		s.prIndexed.Store(true)
		return 0, nil
	}
	n := 0
	for _, app := range apps {
		m, err := s.indexApp(ctx, app)
		n += m
		if err != nil {
			return n, err
		}
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: maps.Clone(prIndexedKey)}); err != nil {
		return n, fmt.Errorf("recording that releases are indexed by pull request: %w", err)
	}
	s.prIndexed.Store(true)
	return n, nil
}

// indexApp gives app's releases that lack them their gsi2 keys.
func (s *Store) indexApp(ctx context.Context, app string) (int, error) {
	items, err := s.query(ctx, state.ReleaseFilter{App: app},
		map[string]string{"#pr": attrPR, "#g2": AttrGSI2PK}, map[string]types.AttributeValue{":zero": attrN(0)},
		[]string{"#pr > :zero", "attribute_not_exists(#g2)"})
	if err != nil {
		return 0, fmt.Errorf("listing %s's releases to index by pull request: %w", app, err)
	}
	n := 0
	for _, it := range items {
		r := decodeRelease(it)
		item := maps.Clone(it)
		item[AttrGSI2PK], item[AttrGSI2SK] = gsi2Keys(r)
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item,
			ConditionExpression:       aws.String("#v = :v AND attribute_not_exists(#g2)"),
			ExpressionAttributeNames:  map[string]string{"#v": attrVersion, "#g2": AttrGSI2PK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": attrN(int64(r.Version))},
		})
		if _, lost := isConditionFailed(err); lost {
			continue // rewritten since it was read, with its keys
		}
		if err != nil {
			return n, fmt.Errorf("indexing release %s by pull request: %w", r.ID, err)
		}
		n++
	}
	return n, nil
}
