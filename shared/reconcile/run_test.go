package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// runFixture adds to the pins fixture the local forge with its events
// disabled — every merge's event is lost — and the embedded queues.
type runFixture struct {
	*fixture
	forge  *localforge.Forge
	queues *sqlitequeue.Broker
	r      *reconcile.Reconciler
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	ctx := context.Background()
	f := &runFixture{fixture: newFixture(t)}
	if err := f.repo.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.forge, err = localforge.New(ctx, f.db, f.git, f.repo.Dir, "local/gitops", nil); err != nil {
		t.Fatal(err)
	}
	if f.queues, err = sqlitequeue.Open(ctx, f.db, queue.Topology); err != nil {
		t.Fatal(err)
	}
	promotions, _ := f.queues.Queue(queue.Promotions)
	builds, _ := f.queues.Queue(queue.Builds)
	f.r = &reconcile.Reconciler{Config: func(context.Context) (*config.Config, error) { return f.cfg, nil }, Releases: f.store,
		GitOps: f.git, Forge: f.forge, Merged: f.forge, Repository: "local/gitops", Promotions: promotions,
		Builds: f.store, BuildQueue: builds, Log: slog.New(slog.DiscardHandler)}
	return f
}

// propose opens env's promotion pull request of d and records the proposal,
// as the promoter does.
func (f *runFixture) propose(t *testing.T, env, d string) *forge.PR {
	t.Helper()
	ctx := context.Background()
	branch := "conveyor/" + env + "/web"
	text := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web-%s\nresources:\n  - ../../base\nimages:\n  - name: %s\n    digest: %s\n", env, image, d)
	c, err := f.git.Propose(ctx, branch, func(fs.FS) (map[string][]byte, error) {
		return map[string][]byte{"envs/" + env + "/kustomization.yaml": []byte(text)}, nil
	}, "promote web to "+env, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := f.forge.Create(ctx, forge.NewPR{Branch: branch, Base: "main", Title: "web to " + env, Labels: []string{"conveyor"}})
	if err != nil {
		t.Fatal(err)
	}
	r := state.Release{ID: "web/" + env + "/" + d, App: "web", Env: env, Image: image, Digest: d, State: state.Proposed, PR: pr.Number,
		Branch: branch, HeadSHA: c.SHA, SourceRepo: "https://github.com/acme/web", SourceCommit: strings.Repeat("a", 40)}
	if err := f.store.PutRelease(ctx, &r); err != nil {
		t.Fatal(err)
	}
	return pr
}

// promotions drains the promotions queue.
func (f *runFixture) promotions(t *testing.T) []*event.Envelope {
	t.Helper()
	q, _ := f.queues.Queue(queue.Promotions)
	msgs, err := q.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Envelope
	for _, m := range msgs {
		env, err := event.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
		if m.GroupID != "web/staging" || m.DedupeID != "web/staging/"+digest(1) {
			t.Errorf("promotion message group %q dedupe %q, want the approver's web/staging and web/staging/<digest>", m.GroupID, m.DedupeID)
		}
	}
	return out
}

func kinds(rep *reconcile.Report) []reconcile.Repair {
	var out []reconcile.Repair
	for _, p := range rep.Repairs {
		out = append(out, reconcile.Repair{Kind: p.Kind, App: p.App, Env: p.Env, PR: p.PR, Err: p.Err})
	}
	return out
}

// TestLostMergeEventIsRepaired: dev's pull request merged on the forge,
// approved by alice and merged by bob, but its event never arrived. One
// pass records the merge as the forge tells it and enqueues staging's
// promotion with the approver's envelope; a second pass changes nothing.
func TestLostMergeEventIsRepaired(t *testing.T) {
	ctx := context.Background()
	f := newRunFixture(t)
	pr := f.propose(t, "dev", digest(1))
	if err := f.forge.Approve(ctx, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	mc, err := f.forge.Merge(localforge.WithMerger(ctx, "bob"), pr.Number, forge.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}

	rep, err := f.r.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.Repair{{Kind: reconcile.LostMerge, App: "web", Env: "dev", PR: pr.Number}}
	if diff := cmp.Diff(want, kinds(rep)); diff != "" {
		t.Fatalf("repairs (-want +got):\n%s", diff)
	}
	got, err := f.store.GetRelease(ctx, "web/dev/"+digest(1))
	if err != nil {
		t.Fatal(err)
	}
	wantRel := state.Release{State: state.Merged, MergeCommit: mc, MergedBy: "bob", ApprovedBy: []string{"alice"}}
	if diff := cmp.Diff(wantRel, got, cmpopts.IgnoreFields(state.Release{}, "ID", "App", "Env", "Image", "Digest", "SourceRepo",
		"SourceCommit", "PR", "Branch", "HeadSHA", "CreatedAt", "UpdatedAt", "MergedAt", "Version")); diff != "" {
		t.Errorf("dev's release after the repair (-want +got):\n%s", diff)
	}
	envs := f.promotions(t)
	if len(envs) != 1 || envs[0].Kind != event.KindPromotion || envs[0].DeliveryID != fmt.Sprintf("merged:local/gitops:%d", pr.Number) {
		t.Fatalf("promotions queued: %+v, want staging's, as the merge event would have sent it", envs)
	}
	var p event.Promotion
	if err := envs[0].DecodePayload(&p); err != nil || p.Environment != "staging" || p.Digest != digest(1) || p.From != "dev" {
		t.Fatalf("promotion %+v (%v), want %s to staging from dev", p, err, digest(1))
	}

	// Idempotent: nothing left to repair, nothing more enqueued.
	rep, err = f.r.Run(ctx, false)
	if err != nil || len(rep.Repairs) != 0 || len(rep.Drifts) != 0 {
		t.Fatalf("second pass: %+v (%v), want nothing to repair", rep, err)
	}
	if st, _ := f.queues.Stats(ctx, queue.Promotions); st.Visible+st.Delayed != 0 {
		t.Fatalf("second pass enqueued again: %+v", st)
	}
}

// TestMergeFoundInGitIsPromotedOnward: the local forge crashed after
// landing dev's merge in git, before recording it: the forge still says
// open, so only the pins show the merge. The pass records it, finishes the
// pull request's merge (dev releases automatically) and, since staging
// never heard of the digest, enqueues staging's promotion.
func TestMergeFoundInGitIsPromotedOnward(t *testing.T) {
	ctx := context.Background()
	f := newRunFixture(t)
	f.propose(t, "dev", digest(1))
	f.pin(t, "dev", digest(1), "Merge conveyor/dev/web")
	rep, err := f.r.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.Repair{{Kind: reconcile.MergeRecorded, App: "web", Env: "dev"}, {Kind: reconcile.MergeFinished, App: "web", Env: "dev", PR: 1},
		{Kind: reconcile.OnwardPromotion, App: "web", Env: "staging", PR: 1}}
	if diff := cmp.Diff(want, kinds(rep)); diff != "" {
		t.Fatalf("repairs (-want +got):\n%s", diff)
	}
	if envs := f.promotions(t); len(envs) != 1 {
		t.Fatalf("%d promotions queued, want staging's", len(envs))
	}
	// The forge's pull request is finished too: dev releases by itself.
	if pr, err := f.forge.Get(ctx, 1); err != nil || pr.State != forge.StateMerged {
		t.Fatalf("dev's pull request after the repair: %+v (%v), want merged", pr, err)
	}
	if rep, err := f.r.Run(ctx, false); err != nil || len(rep.Repairs) != 0 {
		t.Fatalf("second pass: %+v (%v), want nothing to repair", rep, err)
	}
}

// TestUnbuiltHeadIsEnqueued: the source branch's head has no build record
// (its push webhook was lost): a push for it is enqueued once, and never
// again once it is built.
func TestUnbuiltHeadIsEnqueued(t *testing.T) {
	ctx := context.Background()
	f := newRunFixture(t)
	head := strings.Repeat("c", 40)
	f.r.Heads = func(context.Context, *config.App) (string, error) { return head, nil }
	builds, _ := f.queues.Queue(queue.Builds)
	for pass, want := range []int{1, 0, 0} {
		rep, err := f.r.Run(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rep.Repairs); n != want {
			t.Fatalf("pass %d: %d repairs %+v, want %d", pass+1, n, rep.Repairs, want)
		}
		if pass == 0 {
			msgs, err := builds.Receive(ctx, 10, time.Minute)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("builds queued: %d (%v), want 1", len(msgs), err)
			}
			env, _ := event.Decode(msgs[0].Body)
			var p event.Push
			if err := env.DecodePayload(&p); err != nil || p.After != head || p.Branch != "main" {
				t.Fatalf("push %+v (%v), want main at %s", p, err, head)
			}
			if !f.cfg.Apps[0].MatchesPush("", config.PushTarget{Repository: p.Repository, CloneURL: p.CloneURL, Branch: p.Branch}) {
				t.Fatalf("the builder would not match push %+v to the app", p)
			}
			if err := f.store.Complete(ctx, build.Key("web", head), []byte(`{}`), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestLimiterSpacesCalls: past the burst, calls go at the configured rate.
func TestLimiterSpacesCalls(t *testing.T) {
	l := reconcile.NewLimiter(600, 2) // one every 100 ms
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Fatalf("5 calls with a burst of 2 at 10/s took %v, want about 300 ms", took)
	}
	if reconcile.NewLimiter(0, 1) != nil {
		t.Fatal("a zero rate should mean no limiter")
	}
}

// indexer records the apps each IndexPullRequests call was given and
// fails when told to.
type indexer struct {
	calls [][]string
	fail  error
}

func (x *indexer) IndexPullRequests(_ context.Context, apps []string) (int, error) {
	x.calls = append(x.calls, apps)
	return len(apps), x.fail
}

// TestRunIndexesBeforeItsRepairs: a pass hands every app of the pipeline
// to the Indexer, a dry run does not, and an Indexer that fails leaves the
// repairs to be made all the same.
func TestRunIndexesBeforeItsRepairs(t *testing.T) {
	ctx := context.Background()
	f := newRunFixture(t)
	x := &indexer{fail: errors.New("throttled")}
	f.r.Index = x
	f.propose(t, "dev", digest(1))
	f.pin(t, "dev", digest(1), "Merge conveyor/dev/web")
	if _, err := f.r.Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	if len(x.calls) != 0 {
		t.Errorf("a dry run indexed: %v", x.calls)
	}
	rep, err := f.r.Run(ctx, false)
	if err != nil {
		t.Fatalf("Run with a failing Indexer: %v", err)
	}
	if diff := cmp.Diff([][]string{{"web"}}, x.calls); diff != "" {
		t.Errorf("apps indexed (-want +got):\n%s", diff)
	}
	if len(rep.Repairs) == 0 {
		t.Errorf("no repair made after the Indexer failed")
	}
}
