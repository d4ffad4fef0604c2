package dynamostate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/shared/state/statetest"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-cmp/cmp"
)

// readCounter counts the scans and the queries of gsi1 and gsi2 a store
// makes.
type readCounter struct {
	*dynamodb.Client
	scans, gsi1, gsi2 atomic.Int64
}

func (c *readCounter) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans.Add(1)
	return c.Client.Scan(ctx, in, opts...)
}

func (c *readCounter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	switch aws.ToString(in.IndexName) {
	case dynamostate.IndexGSI1:
		c.gsi1.Add(1)
	case dynamostate.IndexGSI2:
		c.gsi2.Add(1)
	}
	return c.Client.Query(ctx, in, opts...)
}

// countedStore is a store on a new table whose reads client counts, on a
// clock the test moves.
func countedStore(t *testing.T, srv *emulator.Server, table string) (*dynamostate.Store, *readCounter, *clock) {
	t.Helper()
	client := &readCounter{Client: srv.DynamoDB()}
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	s, err := dynamostate.New(client, table, dynamostate.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, client, c
}

// TestListReleasesByPR: a pull request's releases are read from gsi2
// without a scan, only its own; a release written before gsi2 existed
// (no gsi2pk) is still found, by a scan or, when the filter names its
// app, by gsi1, which a role without Scan (the board's) may read.
func TestListReleasesByPR(t *testing.T) {
	srv := emulator.StartDynamo(t)
	ctx := context.Background()
	s, client, c := countedStore(t, srv, "conveyor-by-pr")
	for _, r := range []state.Release{
		{ID: "web/prod/a", App: "web", Env: "prod", Digest: "a", State: state.Superseded, PR: 7},
		{ID: "web/prod/b", App: "web", Env: "prod", Digest: "b", State: state.Proposed, PR: 7},
		{ID: "web/staging/b", App: "web", Env: "staging", Digest: "b", State: state.Merged, PR: 70},
		{ID: "api/prod/c", App: "api", Env: "prod", Digest: "c", State: state.Merged, PR: 8},
		{ID: "web/dev/b", App: "web", Env: "dev", Digest: "b", State: state.Merged},
	} {
		c.Advance(time.Second)
		if err := s.PutRelease(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	// As the previous version wrote it: no gsi2pk, gsi2sk.
	legacy := legacyRelease("web/prod/old", "web", "prod", 6)
	if _, err := srv.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table()), Item: legacy}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		f     state.ReleaseFilter
		want  []string
		scans bool
	}{
		{"indexed", state.ReleaseFilter{PR: 7}, []string{"web/prod/a", "web/prod/b"}, false},
		{"indexed, narrowed", state.ReleaseFilter{PR: 7, State: state.Proposed}, []string{"web/prod/b"}, false},
		// The index knows #7: another app's empty answer is not a miss.
		{"indexed, of another app", state.ReleaseFilter{PR: 7, App: "api"}, nil, false},
		{"before the index", state.ReleaseFilter{PR: 6}, []string{"web/prod/old"}, true},
		{"before the index, of an app", state.ReleaseFilter{PR: 6, App: "web"}, []string{"web/prod/old"}, false},
		{"unknown", state.ReleaseFilter{PR: 9}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client.scans.Store(0)
			client.gsi2.Store(0)
			statetest.CheckList(ctx, t, s, tc.f, tc.want)
			if n := client.gsi2.Load(); n != 1 {
				t.Errorf("%d queries of %s, want 1", n, dynamostate.IndexGSI2)
			}
			if n := client.scans.Load(); (n > 0) != tc.scans {
				t.Errorf("%d scans, want scanning %v", n, tc.scans)
			}
		})
	}
}

// TestReleaseItemIndexesItsPR: only a release with a pull request has
// gsi2's keys, which follow its pull request through updates.
func TestReleaseItemIndexesItsPR(t *testing.T) {
	srv := emulator.StartDynamo(t)
	ctx := context.Background()
	created := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := newStore(t, srv, dynamostate.WithClock(func() time.Time { return created }))
	keys := func(id string) [2]string {
		t.Helper()
		out, err := srv.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{
				dynamostate.AttrPK: &types.AttributeValueMemberS{Value: "release#" + id},
				dynamostate.AttrSK: &types.AttributeValueMemberS{Value: "release"},
			}})
		if err != nil {
			t.Fatal(err)
		}
		var k [2]string
		for i, a := range []string{dynamostate.AttrGSI2PK, dynamostate.AttrGSI2SK} {
			if v, ok := out.Item[a].(*types.AttributeValueMemberS); ok {
				k[i] = v.Value
			}
		}
		return k
	}
	r := state.Release{ID: "web/prod/a", App: "web", Env: "prod", Digest: "a", State: state.Proposed}
	if err := s.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if got := keys(r.ID); got != [2]string{} {
		t.Errorf("a release without a pull request has gsi2 keys %q", got)
	}
	r.PR = 12
	if err := s.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	want := [2]string{"pr#12", "01795953600000000000#web/prod/a"}
	if diff := cmp.Diff(want, keys(r.ID)); diff != "" {
		t.Errorf("gsi2 keys (-want +got):\n%s", diff)
	}
}
