package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// api is the part of *dynamodb.Client the adapter uses.
type api interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, params *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, params *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ api = (*dynamodb.Client)(nil)

// Attribute and index names of the table.
const (
	AttrPK     = "pk"
	AttrSK     = "sk"
	AttrGSI1PK = "gsi1pk"
	AttrGSI1SK = "gsi1sk"
	AttrGSI2PK = "gsi2pk"
	AttrGSI2SK = "gsi2sk"
	// AttrTTL is the attribute DynamoDB's time to live reads (epoch seconds).
	AttrTTL = "ttl"
	// IndexGSI1 is the index of releases by app, then environment and age.
	IndexGSI1 = "gsi1"
	// IndexGSI2 is the index of releases by pull request, then age. It is
	// sparse: a release without a pull request has no key in it.
	IndexGSI2 = "gsi2"
)

// CreateTableTimeout bounds how long CreateTable waits for the table.
const CreateTableTimeout = 2 * time.Minute

// DefaultReasonRetention is how long failure reasons are kept: SQS's
// longest message retention.
const DefaultReasonRetention = 14 * 24 * time.Hour

// Store is the DynamoDB state store. It implements state.Store and
// sqsqueue.Reasons.
type Store struct {
	api             api
	table           string
	now             func() time.Time
	reasonRetention time.Duration
	// prIndexed caches that IndexPullRequests found or finished its work.
	prIndexed atomic.Bool
}

var _ state.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests of expiry. Expiry is decided on
// this clock, so a store on a fake clock behaves as on real time.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithReasonRetention sets how long PutReason keeps a reason
// (DefaultReasonRetention).
func WithReasonRetention(d time.Duration) Option { return func(s *Store) { s.reasonRetention = d } }

// New returns a store on table; client is a *dynamodb.Client. The table must
// exist (CreateTable makes one).
func New(client api, table string, opts ...Option) (*Store, error) {
	if len(table) < 3 {
		return nil, fmt.Errorf("configuring the state store: table name %q is shorter than 3 characters", table)
	}
	s := &Store{api: client, table: table, now: time.Now, reasonRetention: DefaultReasonRetention}
	for _, o := range opts {
		o(s)
	}
	if s.reasonRetention <= 0 {
		return nil, fmt.Errorf("configuring the state store: reason retention %v is not positive", s.reasonRetention)
	}
	return s, nil
}

// Table returns the table's name.
func (s *Store) Table() string { return s.table }

// CreateTable creates the store's table (on-demand billing, keys pk/sk,
// indexes gsi1 on gsi1pk/gsi1sk and gsi2 on gsi2pk/gsi2sk) and waits until
// it is ACTIVE, for at most CreateTableTimeout or until ctx ends. A table
// that already exists is waited for, not an error, and not changed: one
// created before gsi2 lacks it. It does not enable TTL: see EnableTTL.
func (s *Store) CreateTable(ctx context.Context) error {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: &name, AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: &hash, KeyType: types.KeyTypeHash},
			{AttributeName: &rng, KeyType: types.KeyTypeRange},
		}
	}
	index := func(name, hash, rng string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName:  &name,
			KeySchema:  key(hash, rng),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	_, err := s.api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &s.table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK),
			str(AttrGSI1PK), str(AttrGSI1SK), str(AttrGSI2PK), str(AttrGSI2SK)},
		KeySchema: key(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(IndexGSI1, AttrGSI1PK, AttrGSI1SK),
			index(IndexGSI2, AttrGSI2PK, AttrGSI2SK),
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("creating table %s: %w", s.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(s.api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	timeout := CreateTableTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, timeout); err != nil {
		return fmt.Errorf("waiting for table %s to be active: %w", s.table, err)
	}
	return nil
}

// EnableTTL turns on DynamoDB's time to live on the ttl attribute, so that
// expired idempotency records and reasons are deleted eventually.
func (s *Store) EnableTTL(ctx context.Context) error {
	attr, on := AttrTTL, true
	_, err := s.api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &s.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: &attr, Enabled: &on},
	})
	if err != nil {
		return fmt.Errorf("enabling time to live on %s: %w", s.table, err)
	}
	return nil
}

// isConditionFailed reports whether err is a lost conditional write, and
// returns the exception (which may carry the item that made it fail).
func isConditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var ccf *types.ConditionalCheckFailedException
	ok := errors.As(err, &ccf)
	return ccf, ok
}

// Attribute value helpers.

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(item map[string]types.AttributeValue, k string) string {
	if v, ok := item[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, k string) int64 {
	if v, ok := item[k].(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return 0
}

func getB(item map[string]types.AttributeValue, k string) []byte {
	if v, ok := item[k].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

func getBool(item map[string]types.AttributeValue, k string) bool {
	if v, ok := item[k].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

// putTime stores t as RFC 3339 with nanoseconds, omitting the zero time.
func putTime(item map[string]types.AttributeValue, k string, t time.Time) {
	if !t.IsZero() {
		item[k] = attrS(t.Format(time.RFC3339Nano))
	}
}

func getTime(item map[string]types.AttributeValue, k string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, getS(item, k))
	if err != nil {
		return time.Time{}
	}
	return t
}
