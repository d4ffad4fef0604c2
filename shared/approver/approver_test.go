package approver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approver"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
)

const pipeline = `version: 1
apps:
  - name: web
    source: {repo: acme/web}
    image: registry.example.com/acme/web
    environments:
      - {name: dev, path: envs/dev, release: auto}
      - {name: prod, path: envs/prod, release: manual, reviewers: [alice, Bob, acme/sre], approvals: 2}
`

var emf bytes.Buffer

func setup(t *testing.T) (*approver.Approver, *sqlitestate.Store, *sqlitequeue.Queue) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Parse("conveyor.yaml", []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, _ := sqlitestate.Open(ctx, db)
	b, _ := sqlitequeue.Open(ctx, db, queue.Topology)
	promotions, _ := b.Queue(queue.Promotions)
	a := &approver.Approver{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Releases: store, Promotions: promotions, Metrics: &emf}
	return a, store, promotions
}

// TestDuplicateMergesPromoteOnce: the same merge event ten times records one
// release and puts one promotion of the same digest on the next
// environment's queue.
func TestDuplicateMergesPromoteOnce(t *testing.T) {
	ctx := context.Background()
	a, store, promotions := setup(t)
	digest := fmt.Sprintf("sha256:%064x", 7)
	rel := state.Release{ID: "web/dev/" + digest, App: "web", Env: "dev", Image: "registry.example.com/acme/web", Digest: digest,
		SourceCommit: "abc", SourceTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), State: state.Proposed, PR: 4, TraceID: "trace-7"}
	if err := store.PutRelease(ctx, &rel); err != nil {
		t.Fatal(err)
	}
	merged := event.Review{Action: event.ReviewMerged, Repository: "acme/gitops", Number: 4, HeadRef: "conveyor/dev/web",
		Labels: []string{"conveyor"}, MergeCommit: "m1", MergedBy: "conveyor", At: time.Now()}
	for i := 0; i < 10; i++ {
		if err := a.Handle(ctx, merged); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	got, _ := store.GetRelease(ctx, rel.ID)
	if got.State != state.Merged || got.MergeCommit != "m1" || got.Version != 2 {
		t.Fatalf("release %+v, want merged once (version 2)", got)
	}
	msgs, _ := promotions.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("%d promotions enqueued, want 1", len(msgs))
	}
	env, _ := event.Decode(msgs[0].Body)
	var p event.Promotion
	_ = env.DecodePayload(&p)
	if p.Environment != "prod" || p.Digest != digest || p.From != "dev" || env.TraceID != "trace-7" {
		t.Fatalf("promotion %+v (trace %s), want %s to prod from dev on the release's trace", p, env.TraceID, digest)
	}
}

func TestClosedIsRejectedAndForeignPRsIgnored(t *testing.T) {
	ctx := context.Background()
	a, store, promotions := setup(t)
	rel := state.Release{ID: "web/prod/d", App: "web", Env: "prod", Digest: "d", State: state.Proposed, PR: 9}
	_ = store.PutRelease(ctx, &rel)
	if err := a.Handle(ctx, event.Review{Action: event.ReviewClosed, Number: 9, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.GetRelease(ctx, rel.ID); got.State != state.Rejected {
		t.Fatalf("closed PR left the release %s", got.State)
	}
	// Someone's feature branch, merged: not Conveyor's business.
	if err := a.Handle(ctx, event.Review{Action: event.ReviewMerged, Number: 10, HeadRef: "feature/login"}); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := promotions.Receive(ctx, 10, time.Minute); len(msgs) != 0 {
		t.Fatalf("a foreign PR enqueued %d promotions", len(msgs))
	}
}

func TestSatisfied(t *testing.T) {
	cfg, _ := config.Parse("conveyor.yaml", []byte(pipeline))
	prod, _, _ := cfg.Apps[0].Env("prod")
	head := "h2"
	for _, tc := range []struct {
		name    string
		reviews []forge.Review
		want    bool
	}{
		{"none", nil, false},
		{"one of two", []forge.Review{{User: "alice", State: "approved", CommitID: head}}, false},
		{"two listed", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: head}}, true},
		{"unlisted reviewer does not count", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "mallory", State: "approved", CommitID: head}}, false},
		{"approval of an older head does not count", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: "h1"}}, false},
		{"a later change request withdraws", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: head}, {User: "bob", State: "changes_requested", CommitID: head}}, false},
		{"same person twice counts once", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "Alice", State: "approved", CommitID: head}}, false},
		{"a member of a listed team counts", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "carol", State: "approved", CommitID: head}}, true},
		{"a non-member of the team does not", []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "dave", State: "approved", CommitID: head}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			member := func(team, user string) bool { return team == "acme/sre" && user == "carol" }
			if got, why := approver.Satisfied(prod, tc.reviews, head, member); got != tc.want {
				t.Fatalf("Satisfied = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

// TestProductionReleaseEmitsEMF: a prod merge writes one Embedded Metric
// Format line with the deployment and its lead time.
func TestProductionReleaseEmitsEMF(t *testing.T) {
	ctx := context.Background()
	a, store, _ := setup(t)
	emf.Reset()
	src := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rel := state.Release{ID: "web/prod/d", App: "web", Env: "prod", Digest: "d", SourceTime: src, State: state.Proposed, PR: 5}
	_ = store.PutRelease(ctx, &rel)
	merged := src.Add(90 * time.Minute)
	if err := a.Handle(ctx, event.Review{Action: event.ReviewMerged, Number: 5, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}, At: merged}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(emf.Bytes()), &doc); err != nil {
		t.Fatalf("EMF line %q: %v", emf.String(), err)
	}
	if doc["Deployments"] != 1.0 || doc["LeadTimeForChanges"] != 5400.0 || doc["_aws"] == nil {
		t.Fatalf("EMF %v, want one deployment with a 5400 s lead time", doc)
	}
}
