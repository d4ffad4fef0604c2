package dynamostate_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/dynamostate"
	"github.com/conveyor-gitops/conveyor/test/emulator"
	"github.com/google/go-cmp/cmp"
)

// legacyRelease is a release item as the version before gsi2 wrote it: no
// gsi2 keys, and here an attribute this version does not know, which the
// index must keep.
func legacyRelease(id, app, env string, pr int) map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	return map[string]types.AttributeValue{
		dynamostate.AttrPK: s("release#" + id), dynamostate.AttrSK: s("release"),
		dynamostate.AttrGSI1PK: s("app#" + app), dynamostate.AttrGSI1SK: s("env#" + env + "#01795176000000000000#" + id),
		"id": s(id), "app": s(app), "env": s(env), "digest": s("old"), "state": s(string(state.Merged)),
		"pr": n(strconv.Itoa(pr)), "rollback": &types.AttributeValueMemberBOOL{Value: false}, "version": n("3"),
		"created_at": s("2026-11-20T12:00:00Z"), "updated_at": s("2026-11-20T12:00:00Z"),
		"legacy_field": s("kept"),
	}
}

// TestIndexPullRequests: a pull request some of whose releases were
// written before gsi2 and some after was listed from gsi2 alone, without
// the older ones. Indexing gives those their keys, through gsi1 and
// without a scan, keeps every other attribute, leaves a release without a
// pull request out, and is recorded: a second call in the same process
// reads nothing, one in another process one item.
func TestIndexPullRequests(t *testing.T) {
	srv := emulator.StartDynamo(t)
	ctx := context.Background()
	s, client, _ := countedStore(t, srv, "conveyor-pr-index")
	for _, item := range []map[string]types.AttributeValue{
		legacyRelease("web/prod/old", "web", "prod", 6),
		legacyRelease("api/prod/old", "api", "prod", 5),
		legacyRelease("web/dev/old", "web", "dev", 0),
	} {
		if _, err := srv.DynamoDB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table()), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	newer := state.Release{ID: "web/prod/new", App: "web", Env: "prod", Digest: "new", State: state.Proposed, PR: 6}
	if err := s.PutRelease(ctx, &newer); err != nil {
		t.Fatal(err)
	}
	ids := func(pr int) []string {
		t.Helper()
		rels, _, err := s.ListPullRequest(ctx, state.ReleaseFilter{PR: pr})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rels {
			out = append(out, r.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"web/prod/new"}, ids(6)); diff != "" {
		t.Fatalf("before indexing, #6 from gsi2 (-want +got):\n%s", diff)
	}

	client.scans.Store(0)
	n, err := s.IndexPullRequests(ctx, []string{"web", "api"})
	if err != nil || n != 2 {
		t.Fatalf("IndexPullRequests = %d, %v; want the 2 releases with a pull request and no keys", n, err)
	}
	if got := client.scans.Load(); got != 0 {
		t.Errorf("indexing scanned %d times: the reconcile role may not scan", got)
	}
	if diff := cmp.Diff([]string{"web/prod/old", "web/prod/new"}, ids(6)); diff != "" {
		t.Errorf("after indexing, #6 from gsi2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"api/prod/old"}, ids(5)); diff != "" {
		t.Errorf("after indexing, #5 from gsi2 (-want +got):\n%s", diff)
	}
	out, err := srv.DynamoDB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{dynamostate.AttrPK: &types.AttributeValueMemberS{Value: "release#web/prod/old"},
			dynamostate.AttrSK: &types.AttributeValueMemberS{Value: "release"}}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := out.Item["legacy_field"].(*types.AttributeValueMemberS); v == nil || v.Value != "kept" {
		t.Errorf("indexing dropped an attribute: %v", out.Item["legacy_field"])
	}
	if v, _ := out.Item["version"].(*types.AttributeValueMemberN); v == nil || v.Value != "3" {
		t.Errorf("indexing changed the version to %v: it changes no release", out.Item["version"])
	}
	if r, err := s.GetRelease(ctx, "web/dev/old"); err != nil || r.PR != 0 {
		t.Errorf("release without a pull request: %+v, %v", r, err)
	}

	client.gsi1.Store(0)
	if n, err := s.IndexPullRequests(ctx, []string{"web", "api"}); err != nil || n != 0 {
		t.Errorf("second IndexPullRequests = %d, %v; want 0", n, err)
	}
	again, err := dynamostate.New(client, s.Table())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := again.IndexPullRequests(ctx, []string{"web", "api"}); err != nil || n != 0 {
		t.Errorf("IndexPullRequests in another process = %d, %v; want 0", n, err)
	}
	if got := client.gsi1.Load(); got != 0 {
		t.Errorf("%d queries of gsi1 once indexing was recorded, want none", got)
	}
}
