package dynamostate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/shared/state/statetest"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-cmp/cmp"
)

// Expiry is decided on the store's clock (expires_at compared with :now),
// not on DynamoDB's TTL, so the contract runs on a fake clock against a
// real DynamoDB API: no test waits in real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var tables atomic.Int64

// newStore creates a fresh table on the emulator for one test.
func newStore(t *testing.T, srv *emulator.Server, opts ...dynamostate.Option) *dynamostate.Store {
	t.Helper()
	s, err := dynamostate.New(srv.DynamoDB(), fmt.Sprintf("conveyor-%d", tables.Add(1)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	srv := emulator.StartDynamo(t)
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	statetest.Run(t, statetest.Harness{
		New:     func(t *testing.T) state.Store { return newStore(t, srv, dynamostate.WithClock(c.Now)) },
		Advance: c.Advance,
	})
}

// TestEnableTTL needs UpdateTimeToLive, which dynalite does not implement:
// the test proves the call is made and that the store does not rely on it.
func TestEnableTTL(t *testing.T) {
	const dynaliteHasTTL = false // dynalite 4.0.0: no UpdateTimeToLive action
	srv := emulator.StartDynamo(t)
	s := newStore(t, srv)
	err := s.EnableTTL(context.Background())
	var ae smithy.APIError
	switch {
	case err == nil:
	case !dynaliteHasTTL && errors.As(err, &ae) && ae.ErrorCode() == "UnknownOperationException":
		t.Logf("dynalite lacks UpdateTimeToLive (%v): TTL cleanup is not exercised; expiry uses expires_at", err)
	default:
		t.Fatal(err)
	}
}

func TestReasons(t *testing.T) {
	srv := emulator.StartDynamo(t)
	s := newStore(t, srv)
	ctx := context.Background()
	ids := make([]string, 0, 130)
	want := map[string]string{}
	// More ids than one BatchGetItem takes, every other one with a reason.
	for i := 0; i < 130; i++ {
		id := fmt.Sprintf("msg-%03d", i)
		ids = append(ids, id)
		if i%2 == 0 {
			want[id] = fmt.Sprintf("attempt %d failed", i)
			if err := s.PutReason(ctx, id, "older"); err != nil {
				t.Fatal(err)
			}
			if err := s.PutReason(ctx, id, want[id]); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.Reasons(ctx, append(ids, ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reasons (-want +got):\n%s", diff)
	}
}

func TestListReleasesByAppAndEnv(t *testing.T) {
	srv := emulator.StartDynamo(t)
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	s := newStore(t, srv, dynamostate.WithClock(c.Now))
	ctx := context.Background()
	for _, r := range []state.Release{
		{ID: "web/prod/b", App: "web", Env: "prod", Digest: "b", State: state.Proposed},
		{ID: "web/dev/b", App: "web", Env: "dev", Digest: "b", State: state.Merged},
		{ID: "web/dev/a", App: "web", Env: "dev", Digest: "a", State: state.Superseded},
		{ID: "web/development/c", App: "web", Env: "development", Digest: "c", State: state.Merged},
	} {
		c.Advance(time.Second)
		if err := s.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    state.ReleaseFilter
		want []string
	}{
		{state.ReleaseFilter{App: "web", Env: "dev"}, []string{"web/dev/b", "web/dev/a"}},
		{state.ReleaseFilter{App: "web", Env: "dev", State: state.Merged}, []string{"web/dev/b"}},
		{state.ReleaseFilter{App: "api"}, nil},
		{state.ReleaseFilter{State: state.Merged}, []string{"web/dev/b", "web/development/c"}},
	} {
		statetest.CheckList(ctx, t, s, tc.f, tc.want)
	}
}

// countingClient counts the reads Claim makes after losing its condition.
type countingClient struct {
	*dynamodb.Client
	gets atomic.Int64
}

func (c *countingClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.Client.GetItem(ctx, in, opts...)
}

// DynamoDB returns the item that failed a condition when asked
// (ReturnValuesOnConditionCheckFailure); dynalite ignores the parameter, so
// Claim reads the holder with a consistent GetItem instead.
func TestClaimReturnsTheHolder(t *testing.T) {
	const dynaliteReturnsOldItem = false // dynalite 4.0.0 ignores ReturnValuesOnConditionCheckFailure
	srv := emulator.StartDynamo(t)
	client := &countingClient{Client: srv.DynamoDB()}
	s, err := dynamostate.New(client, "conveyor-holder")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "k", []byte("done"), time.Hour); err != nil {
		t.Fatal(err)
	}
	rec, claimed, err := s.Claim(ctx, "k", time.Minute)
	if err != nil || claimed || rec.Status != state.Completed || string(rec.Result) != "done" {
		t.Fatalf("Claim of a completed key: %+v claimed=%v err=%v", rec, claimed, err)
	}
	switch n := client.gets.Load(); {
	case n == 0:
	case !dynaliteReturnsOldItem && n == 1:
		t.Log("dynalite does not return the item with ConditionalCheckFailed: Claim read it with GetItem")
	default:
		t.Fatalf("Claim made %d reads", n)
	}
}

// readOnlyClient answers only what the board function's role may call
// (GetItem and Query) once the table is set up.
type readOnlyClient struct {
	*dynamodb.Client
}

func (readOnlyClient) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, errors.New("AccessDenied: dynamodb:Scan")
}

func (readOnlyClient) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, errors.New("AccessDenied: dynamodb:BatchGetItem")
}

// TestDeadLettersReadOnly: a role granted only GetItem and Query (the
// board's) lists the dead letters the functions recorded, beside the
// releases and idempotency records of the same table.
func TestDeadLettersReadOnly(t *testing.T) {
	srv := emulator.StartDynamo(t)
	ctx := context.Background()
	writer := newStore(t, srv)
	if err := writer.Complete(ctx, "build/web/abc", []byte("{}"), time.Hour); err != nil {
		t.Fatal(err)
	}
	r := state.Release{ID: "web/dev/a", App: "web", Env: "dev", Digest: "a", State: state.Merged}
	if err := writer.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	for _, d := range []state.DeadLetter{
		{Queue: "builds", ID: "m1", Body: []byte("not json"), Reason: "malformed", DeadAt: time.Now()},
		{Queue: "promotions", ID: "m2", Reason: "wrong envelope kind", DeadAt: time.Now()},
	} {
		if err := writer.PutDeadLetter(ctx, d, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := dynamostate.New(readOnlyClient{srv.DynamoDB()}, writer.Table())
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{"": {"builds/m1", "promotions/m2"}, "promotions": {"promotions/m2"}} {
		got, err := reader.ListDeadLetters(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range got {
			ids = append(ids, d.Queue+"/"+d.ID)
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("ListDeadLetters(%q) (-want +got):\n%s", q, diff)
		}
	}
	if rels, err := reader.ListReleases(ctx, state.ReleaseFilter{App: "web"}); err != nil || len(rels) != 1 {
		t.Errorf("releases through the index: %+v (%v), want one", rels, err)
	}
}
