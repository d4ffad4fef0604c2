package dynamostate

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

const (
	deadPrefix = "dead#"
	deadSK     = "dead"
	// deadGSI1PK gathers every dead-letter record under one index key, so
	// that a board lists them all with one query and never a scan.
	deadGSI1PK = "dead"
	// deadTime sorts as text in time order: a fixed width, unlike RFC 3339
	// with trimmed nanoseconds.
	deadTime = "2006-01-02T15:04:05.000000000Z"
)

var _ state.DeadLetters = (*Store)(nil)

func deadKey(queue, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(deadPrefix + queue + "#" + id), AttrSK: attrS(deadSK)}
}

// PutDeadLetter implements state.DeadLetters; DynamoDB's TTL deletes the
// record after retention, and ListDeadLetters skips it from then on.
func (s *Store) PutDeadLetter(ctx context.Context, d state.DeadLetter, retention time.Duration) error {
	exp := s.now().Add(retention)
	item := deadKey(d.Queue, d.ID)
	item[AttrGSI1PK] = attrS(deadGSI1PK)
	item[AttrGSI1SK] = attrS(d.Queue + "#" + d.DeadAt.UTC().Format(deadTime) + "#" + d.ID)
	for k, v := range map[string]string{"queue": d.Queue, "id": d.ID, "reason": d.Reason} {
		if v != "" {
			item[k] = attrS(v)
		}
	}
	if body, _ := state.CutBody(d.Body); len(body) > 0 {
		item["body"] = &types.AttributeValueMemberB{Value: body}
	}
	if attrs := stringMap(d.Attributes); len(attrs) > 0 {
		item["attributes"] = &types.AttributeValueMemberM{Value: attrs}
	}
	item["body_size"] = attrN(int64(d.BodySize))
	item["receive_count"] = attrN(int64(d.ReceiveCount))
	putTime(item, "sent_at", d.SentAt)
	putTime(item, "dead_at", d.DeadAt)
	item[attrExp] = attrN(exp.UnixMilli())
	item[AttrTTL] = attrN(exp.Unix())
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("recording dead letter %s/%s: %w", d.Queue, d.ID, err)
	}
	return nil
}

// DeleteDeadLetter implements state.DeadLetters.
func (s *Store) DeleteDeadLetter(ctx context.Context, queue, id string) error {
	if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: deadKey(queue, id)}); err != nil {
		return fmt.Errorf("forgetting dead letter %s/%s: %w", queue, id, err)
	}
	return nil
}

// ListDeadLetters implements state.DeadLetters with a query of index gsi1
// (eventually consistent, as every index read): it needs only the
// dynamodb:Query grant a read-only role has.
func (s *Store) ListDeadLetters(ctx context.Context, queue string) ([]state.DeadLetter, error) {
	names := map[string]string{"#gpk": AttrGSI1PK}
	values := map[string]types.AttributeValue{":gpk": attrS(deadGSI1PK)}
	cond := "#gpk = :gpk"
	if queue != "" {
		names["#gsk"], values[":gsk"] = AttrGSI1SK, attrS(queue+"#")
		cond += " AND begins_with(#gsk, :gsk)"
	}
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{TableName: &s.table, IndexName: aws.String(IndexGSI1),
		KeyConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	now := s.now().UnixMilli()
	var out []state.DeadLetter
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing dead-letter records: %w", err)
		}
		for _, it := range page.Items {
			// TTL deletes lazily: the expiry decides.
			if getN(it, attrExp) > now {
				out = append(out, decodeDeadLetter(it))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Queue != out[j].Queue {
			return out[i].Queue < out[j].Queue
		}
		if !out[i].DeadAt.Equal(out[j].DeadAt) {
			return out[i].DeadAt.Before(out[j].DeadAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func decodeDeadLetter(it map[string]types.AttributeValue) state.DeadLetter {
	d := state.DeadLetter{Queue: getS(it, "queue"), ID: getS(it, "id"), Body: getB(it, "body"), BodySize: int(getN(it, "body_size")),
		Reason: getS(it, "reason"), ReceiveCount: int(getN(it, "receive_count")), SentAt: getTime(it, "sent_at"),
		DeadAt: getTime(it, "dead_at"), ExpiresAt: time.UnixMilli(getN(it, attrExp)).UTC()}
	if m, ok := it["attributes"].(*types.AttributeValueMemberM); ok {
		d.Attributes = make(map[string]string, len(m.Value))
		for k := range m.Value {
			d.Attributes[k] = getS(m.Value, k)
		}
	}
	return d
}

// stringMap keeps the non-empty values of m as string attributes.
func stringMap(m map[string]string) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		if v != "" {
			out[k] = attrS(v)
		}
	}
	return out
}
