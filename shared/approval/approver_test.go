package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
)

// TestDuplicateMergesPromoteOnce: the same merge event ten times records one
// release and puts one promotion of the same digest on the next
// environment's queue.
func TestDuplicateMergesPromoteOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	in := promotion("web", "dev", 7)
	if _, err := f.p.Promote(logging.WithTrace(ctx, "trace-7"), in); err != nil {
		t.Fatal(err)
	}
	if err := f.deliver(t); err != nil {
		t.Fatal(err)
	}
	merged := f.delivered[len(f.delivered)-1]
	if merged.Action != event.ReviewMerged {
		t.Fatalf("last forge event %q, want merged", merged.Action)
	}
	for i := 0; i < 9; i++ {
		if err := f.a.Handle(ctx, merged); err != nil {
			t.Fatalf("delivery %d: %v", i+2, err)
		}
	}
	got := f.release(t, "web", "dev", digest(7), state.Merged)
	if got.Version != 2 || got.MergedBy != "conveyor" || got.MergeCommit != f.pr(t, merged.Number).MergeCommit {
		t.Fatalf("release %+v, want merged once (version 2) by conveyor at the forge's merge commit", got)
	}
	msgs, _ := f.promotions.Receive(ctx, 10, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("%d promotions enqueued, want 1", len(msgs))
	}
	env, _ := event.Decode(msgs[0].Body)
	var p event.Promotion
	_ = env.DecodePayload(&p)
	if p.Environment != "staging" || p.Digest != digest(7) || p.From != "dev" || env.TraceID != "trace-7" {
		t.Fatalf("promotion %+v (trace %s), want %s to staging from dev on the release's trace", p, env.TraceID, digest(7))
	}
}

// TestForeignEventsAreIgnored reproduces the attacks on the gate: signed
// events from another repository, or whose branch, state or label the
// forge does not confirm, merge nothing, record nothing and promote
// nothing.
func TestForeignEventsAreIgnored(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	web := f.promote(t, promotion("web", "prod", 1)).PR
	api := f.promote(t, promotion("api", "prod", 2)).PR
	// alice and bob satisfy web's prod policy, but they are not api's
	// reviewers: on api's PR their approvals count for nothing.
	f.approve(t, api.Number, "alice")
	f.approve(t, api.Number, "bob")
	f.settle(t)
	if got := f.pr(t, api.Number).State; got != forge.StateOpen {
		t.Fatalf("api's prod PR is %s after approvals from web's reviewers", got)
	}
	head := f.pr(t, api.Number).HeadSHA
	for _, tc := range []struct {
		name string
		r    event.Review
	}{
		{"approval from another repository with web's branch on api's PR",
			event.Review{Action: event.ReviewApproved, Repository: "mallory/other", Number: api.Number, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}}},
		{"approval whose branch lies about the PR",
			event.Review{Action: event.ReviewApproved, Repository: repoName, Number: api.Number, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}}},
		{"merge from another repository",
			event.Review{Action: event.ReviewMerged, Repository: "mallory/other", Number: web.Number, HeadRef: "conveyor/prod/web",
				Labels: []string{"conveyor"}, MergeCommit: head, MergedBy: "alice"}},
		{"merge of a PR the forge says is open",
			event.Review{Action: event.ReviewMerged, Repository: repoName, Number: web.Number, HeadRef: "conveyor/prod/web",
				Labels: []string{"conveyor"}, MergeCommit: head, MergedBy: "alice"}},
		{"close of a PR the forge says is open",
			event.Review{Action: event.ReviewClosed, Repository: repoName, Number: web.Number, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}}},
		{"a PR the forge does not have",
			event.Review{Action: event.ReviewMerged, Repository: repoName, Number: 99, HeadRef: "conveyor/prod/web", Labels: []string{"conveyor"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.a.Handle(ctx, tc.r); err != nil {
				t.Fatalf("Handle = %v, want the event ignored", err)
			}
			for _, n := range []int{web.Number, api.Number} {
				if got := f.pr(t, n).State; got != forge.StateOpen {
					t.Fatalf("#%d is %s", n, got)
				}
			}
			f.release(t, "web", "prod", digest(1), state.Proposed)
			f.release(t, "api", "prod", digest(2), state.Proposed)
			if got := f.sent.take(); len(got) != 0 {
				t.Fatalf("promotions enqueued: %+v", got)
			}
			if d := f.pinned(t, "envs/prod"); d != "" {
				t.Fatalf("prod pins %s", d)
			}
		})
	}
}

// TestForgeTruthDecides: the PR's label and base come from the forge, and
// the repository's name matches whatever its case.
func TestForgeTruthDecides(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	api := f.promote(t, promotion("api", "prod", 2)).PR
	if _, err := f.lf.Update(ctx, api.Number, api.Title, api.Body, []string{"env:prod"}); err != nil {
		t.Fatal(err)
	}
	f.approve(t, api.Number, "carol")
	f.settle(t)
	if got := f.pr(t, api.Number).State; got != forge.StateOpen {
		t.Fatalf("a PR without the conveyor label is %s", got)
	}

	if _, err := f.lf.Update(ctx, api.Number, api.Title, api.Body, []string{"conveyor"}); err != nil {
		t.Fatal(err)
	}
	other := *f.cfg
	other.GitOps.Branch = "release"
	f.a.Config = func(context.Context) (*config.Config, error) { return &other, nil }
	f.approve(t, api.Number, "carol")
	f.settle(t)
	if got := f.pr(t, api.Number).State; got != forge.StateOpen {
		t.Fatalf("a PR into another branch than the GitOps one is %s", got)
	}

	f.a.Config = func(context.Context) (*config.Config, error) { return f.cfg, nil }
	f.a.Repository = "Local/GitOps"
	f.approve(t, api.Number, "carol")
	f.settle(t)
	if got := f.pr(t, api.Number).State; got != forge.StateMerged {
		t.Fatalf("carol's approval left api's prod PR %s, want merged", got)
	}
	rel := f.release(t, "api", "prod", digest(2), state.Merged)
	if diff := cmp.Diff([]string{"carol"}, rel.ApprovedBy); diff != "" || rel.MergedBy != "conveyor" {
		t.Errorf("approved by (-want +got):\n%s merged by %s", diff, rel.MergedBy)
	}
}

// TestManualReleaseNeedsApprovalOrARecordedOverride: the local forge holds
// a manual environment's PR as branch protection does; an explicit
// override merges it and is recorded on the PR, in the merge commit and in
// the release.
func TestManualReleaseNeedsApprovalOrARecordedOverride(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pr := f.promote(t, promotion("web", "prod", 1)).PR
	f.approve(t, pr.Number, "alice")
	f.settle(t)

	_, err := f.lf.Merge(localforge.WithMerger(ctx, "mallory"), pr.Number, forge.MergeOptions{Method: forge.MergeMerge})
	if !errors.Is(err, forge.ErrNotMergeable) || !strings.Contains(err.Error(), "1 of 2 approval(s)") {
		t.Fatalf("merge with one approval of two: %v, want ErrNotMergeable saying why", err)
	}
	if got := f.pr(t, pr.Number).State; got != forge.StateOpen || f.pinned(t, "envs/prod") != "" {
		t.Fatalf("#%d is %s and prod pins %q after a refused merge", pr.Number, got, f.pinned(t, "envs/prod"))
	}

	octx := localforge.WithOverride(localforge.WithMerger(ctx, "mallory"), "incident 42: the fix cannot wait")
	mc, err := f.lf.Merge(octx, pr.Number, forge.MergeOptions{Method: forge.MergeMerge})
	if err != nil {
		t.Fatalf("merge with an override: %v", err)
	}
	if got := f.pr(t, pr.Number); got.Override != "incident 42: the fix cannot wait" || got.MergedBy != "mallory" {
		t.Fatalf("merged PR %+v, want the override and mallory recorded", got)
	}
	if msg := commitMessage(t, f, mc); !strings.Contains(msg, "Override: incident 42: the fix cannot wait") {
		t.Fatalf("merge commit message %q does not carry the override", msg)
	}
	f.settle(t)
	rel := f.release(t, "web", "prod", digest(1), state.Merged)
	if rel.Override != "incident 42: the fix cannot wait" || rel.MergedBy != "mallory" || strings.Join(rel.ApprovedBy, ",") != "alice" {
		t.Fatalf("release %+v, want the override, mallory and alice's approval recorded", rel)
	}
	app, _ := f.cfg.App("web")
	var step *lineage.Step
	for _, j := range lineage.History(app, []state.Release{rel}) {
		step = &j.Steps[0]
	}
	if step == nil || step.Override != rel.Override || step.MergedBy != "mallory" || step.HeadSHA != rel.HeadSHA {
		t.Fatalf("history step %+v, want the override and who merged", step)
	}
}

func commitMessage(t *testing.T, f *fixture, sha string) string {
	t.Helper()
	c, err := f.repo.CommitObject(sha)
	if err != nil {
		t.Fatal(err)
	}
	return c.Message
}

// TestInPlaceUpdateRecordsTheMergedHead: a prod PR proposes D1, a newer
// push updates it to D2, reviewers approve the new head and it merges: the
// records say D2 merged, by whom and approved by whom, as git does.
func TestInPlaceUpdateRecordsTheMergedHead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.promote(t, promotion("web", "prod", 1))
	second := f.promote(t, promotion("web", "prod", 2))
	if second.Action != "updated" || second.PR.Number != first.PR.Number {
		t.Fatalf("second promotion %s #%d, want #%d updated in place", second.Action, second.PR.Number, first.PR.Number)
	}
	f.approve(t, first.PR.Number, "alice")
	f.approve(t, first.PR.Number, "sre-sam")
	f.settle(t)
	pr := f.pr(t, first.PR.Number)
	if pr.State != forge.StateMerged || f.pinned(t, "envs/prod") != digest(2) {
		t.Fatalf("#%d %s, prod pins %s; want merged with D2", pr.Number, pr.State, f.pinned(t, "envs/prod"))
	}
	rel := f.release(t, "web", "prod", digest(2), state.Merged)
	f.release(t, "web", "prod", digest(1), state.Superseded)
	if diff := cmp.Diff([]string{"alice", "sre-sam"}, rel.ApprovedBy); diff != "" || rel.MergedBy != "conveyor" || rel.HeadSHA != pr.HeadSHA {
		t.Fatalf("release approved by (-want +got):\n%s merged by %s at head %s (PR head %s)", diff, rel.MergedBy, rel.HeadSHA, pr.HeadSHA)
	}
	if msg := commitMessage(t, f, pr.MergeCommit); !strings.Contains(msg, "Approved-by: alice, sre-sam") {
		t.Fatalf("merge commit message %q does not name the approvers", msg)
	}
	rels, _ := f.store.ListReleases(ctx, state.ReleaseFilter{})
	for _, c := range lineage.Status(f.cfg, rels, time.Now()) {
		if c.App == "web" && c.Env == "prod" && (c.Digest != digest(2) || strings.Join(c.ApprovedBy, ",") != "alice,sre-sam") {
			t.Fatalf("status of web/prod %+v, want D2 approved by alice and sre-sam", c)
		}
	}
}

// TestMergeAheadOfItsRecordRetries: a merge at a head the promoter pushed
// but has not recorded yet is retried, not pinned on the older proposal.
func TestMergeAheadOfItsRecordRetries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pr := f.promote(t, promotion("web", "prod", 1)).PR
	// The promoter of D2 has pushed and updated the PR when the merge,
	// and its event, overtake its record.
	var early error
	slow := *f.p
	slow.Releases = &overtaken{Releases: f.store, first: func() {
		octx := localforge.WithOverride(ctx, "test: merge the head not yet recorded")
		if _, err := f.lf.Merge(octx, pr.Number, forge.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		early = f.deliver(t)
	}}
	if _, err := slow.Promote(ctx, promotion("web", "prod", 2)); err != nil {
		t.Fatal(err)
	}
	if early == nil || retry.IsPermanent(early) || !strings.Contains(early.Error(), "no release of web/prod was proposed in #1") {
		t.Fatalf("merge event ahead of its record: %v, want a retryable error", early)
	}
	// The redelivered event finds the record and pins the merge on D2.
	if err := f.a.Handle(ctx, f.delivered[len(f.delivered)-1]); err != nil {
		t.Fatal(err)
	}
	f.release(t, "web", "prod", digest(2), state.Merged)
	f.release(t, "web", "prod", digest(1), state.Superseded)
	if got := f.pinned(t, "envs/prod"); got != digest(2) {
		t.Fatalf("prod pins %s, want D2", got)
	}
}

// overtaken runs first just before the first write goes through.
type overtaken struct {
	state.Releases
	first func()
}

func (o *overtaken) PutRelease(ctx context.Context, r *state.Release) error {
	if fn := o.first; fn != nil {
		o.first = nil
		fn()
	}
	return o.Releases.PutRelease(ctx, r)
}

// TestReplayedMergeDoesNotUndoARollback: replayed old merge events are
// judged against the records: a merge the environment no longer runs, or a
// digest the next environment already had and rolled away, is not
// promoted onward again.
func TestReplayedMergeDoesNotUndoARollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.promote(t, promotion("web", "dev", 1))
	f.promote(t, promotion("web", "dev", 2))
	if got := f.pinned(t, "envs/staging"); got != digest(2) {
		t.Fatalf("staging pins %s, want D2", got)
	}
	var devMerges []event.Review
	for _, r := range f.delivered {
		if r.Action == event.ReviewMerged && r.HeadRef == "conveyor/dev/web" {
			devMerges = append(devMerges, r)
		}
	}
	if len(devMerges) != 2 {
		t.Fatalf("%d dev merge events, want 2", len(devMerges))
	}
	back := promotion("web", "staging", 1)
	back.Rollback = true
	f.promote(t, back)
	if got := f.pinned(t, "envs/staging"); got != digest(1) {
		t.Fatalf("staging pins %s after the rollback, want D1", got)
	}
	for _, r := range devMerges {
		if err := f.a.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.sent.take(); len(got) != 0 {
		t.Fatalf("replayed merges enqueued %+v, want nothing", got)
	}
	f.settle(t)
	if got := f.pinned(t, "envs/staging"); got != digest(1) {
		t.Fatalf("staging pins %s after the replays, want the rollback's D1", got)
	}
}

// TestRollForwardAfterRollbackIsRecorded: rolling forward to a digest the
// environment ran before is a new release with its own record, and its
// merge is recorded rather than dead-lettered.
func TestRollForwardAfterRollbackIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.promote(t, promotion("api", "dev", 1))
	f.promote(t, promotion("api", "dev", 2))
	back := promotion("api", "dev", 1)
	back.Rollback = true
	f.promote(t, back)
	out := f.promote(t, promotion("api", "dev", 2))
	if out.Release.ID == promote.ReleaseID("api", "dev", digest(2)) {
		t.Fatalf("the roll-forward reused the first release's ID %s", out.Release.ID)
	}
	if got := f.pinned(t, "envs/api-dev"); got != digest(2) {
		t.Fatalf("dev pins %s, want D2", got)
	}
	rels, _ := f.store.ListReleases(ctx, state.ReleaseFilter{App: "api", Env: "dev", State: state.Merged})
	if len(rels) != 4 {
		t.Fatalf("%d merged api/dev releases, want 4 (D1, D2, rollback to D1, D2 again): %+v", len(rels), rels)
	}
	for _, c := range lineage.Status(f.cfg, rels, time.Now()) {
		if c.App == "api" && c.Env == "dev" && c.Digest != digest(2) {
			t.Fatalf("status says api/dev runs %s, git pins D2", c.Digest)
		}
	}
}

func TestClosedIsRejected(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pr := f.promote(t, promotion("web", "prod", 1)).PR
	if err := f.lf.Close(ctx, pr.Number, "not today"); err != nil {
		t.Fatal(err)
	}
	f.settle(t)
	f.release(t, "web", "prod", digest(1), state.Rejected)
	// Someone's feature branch, merged: not Conveyor's business.
	if err := f.a.Handle(ctx, event.Review{Action: event.ReviewMerged, Repository: repoName, Number: 10, HeadRef: "feature/login"}); err != nil {
		t.Fatal(err)
	}
	if got := f.sent.take(); len(got) != 0 {
		t.Fatalf("a foreign PR enqueued %+v", got)
	}
}

func TestUnconfiguredRepositoryFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.a.Repository = ""
	err := f.a.Handle(context.Background(), event.Review{Action: event.ReviewMerged, Repository: repoName, Number: 1, HeadRef: "conveyor/dev/web"})
	if !retry.IsPermanent(err) {
		t.Fatalf("Handle without a GitOps repository = %v, want a permanent error", err)
	}
}

func TestSatisfied(t *testing.T) {
	cfg, _ := config.Parse("conveyor.yaml", []byte(pipelineYAML))
	prod, _, _ := cfg.Apps[0].Env("prod")
	nobody := *prod
	nobody.Reviewers = nil
	head := "h2"
	for _, tc := range []struct {
		name    string
		env     *config.Environment
		reviews []forge.Review
		want    bool
	}{
		{"none", prod, nil, false},
		{"one of two", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}}, false},
		{"two listed", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: head}}, true},
		{"unlisted reviewer does not count", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "mallory", State: "approved", CommitID: head}}, false},
		{"approval of an older head does not count", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: "h1"}}, false},
		{"a later change request withdraws", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "bob", State: "approved", CommitID: head}, {User: "bob", State: "changes_requested", CommitID: head}}, false},
		{"same person twice counts once", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "Alice", State: "approved", CommitID: head}}, false},
		{"a member of a listed team counts", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "carol", State: "approved", CommitID: head}}, true},
		{"a non-member of the team does not", prod, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "dave", State: "approved", CommitID: head}}, false},
		{"no reviewers listed is not anyone", &nobody, []forge.Review{{User: "alice", State: "approved", CommitID: head}, {User: "mallory", State: "approved", CommitID: head}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			member := func(team, user string) bool { return team == "acme/sre" && user == "carol" }
			got, why := approval.Satisfied(tc.env, tc.reviews, head, member)
			if got != tc.want || (!got && why == "") {
				t.Fatalf("Satisfied = %v (%q), want %v with a reason when not", got, why, tc.want)
			}
		})
	}
}

// TestProductionReleaseEmitsEMF: a prod merge writes one Embedded Metric
// Format line with the deployment, its lead time, who approved and who
// merged.
func TestProductionReleaseEmitsEMF(t *testing.T) {
	f := newFixture(t)
	var emf bytes.Buffer
	f.a.Metrics = &emf
	pr := f.promote(t, promotion("api", "prod", 3)).PR
	f.approve(t, pr.Number, "carol")
	f.settle(t)
	rel := f.release(t, "api", "prod", digest(3), state.Merged)
	var doc map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(emf.Bytes()), &doc); err != nil {
		t.Fatalf("EMF line %q: %v", emf.String(), err)
	}
	lead := rel.MergedAt.Sub(rel.SourceTime).Seconds()
	if doc["Deployments"] != 1.0 || doc["LeadTimeForChanges"] != lead || doc["_aws"] == nil || doc["MergedBy"] != "conveyor" ||
		cmp.Diff([]any{"carol"}, doc["ApprovedBy"]) != "" {
		t.Fatalf("EMF %v, want one deployment with a %v s lead time, approved by carol, merged by conveyor", doc, lead)
	}
}

// TestOtherRepositoryIgnoredEvenWhenTheForgeAgrees: an event names its
// repository; one from another repository is not read against the GitOps
// forge at all, even when a PR of that number merged there.
func TestOtherRepositoryIgnoredEvenWhenTheForgeAgrees(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out, err := f.p.Promote(ctx, promotion("web", "dev", 1))
	if err != nil || out.PR == nil {
		t.Fatalf("promoting: %v", err)
	}
	forged := event.Review{Action: event.ReviewMerged, Repository: "mallory/gitops", Number: out.PR.Number, HeadRef: "conveyor/dev/web", Labels: []string{"conveyor"}}
	if err := f.a.Handle(ctx, forged); err != nil {
		t.Fatal(err)
	}
	f.release(t, "web", "dev", digest(1), state.Proposed)
	if got := f.sent.take(); len(got) != 0 {
		t.Fatalf("an event from another repository enqueued %+v", got)
	}
	f.settle(t)
	f.release(t, "web", "dev", digest(1), state.Merged)
}

// TestApprovalsSoFarAreNoted: with two approvals needed, the first one
// from a listed reviewer leaves the PR open and is kept on the proposal's
// record (what the board shows as "1 of 2"); a non-reviewer's is not. The
// second merges, and the merged record names both.
func TestApprovalsSoFarAreNoted(t *testing.T) {
	f := newFixture(t)
	pr := f.promote(t, promotion("web", "prod", 1)).PR
	f.approve(t, pr.Number, "mallory")
	f.settle(t)
	if rel := f.release(t, "web", "prod", digest(1), state.Proposed); len(rel.ApprovedBy) != 0 {
		t.Fatalf("after a non-reviewer's approval the proposal notes %v, want nobody", rel.ApprovedBy)
	}
	f.approve(t, pr.Number, "alice")
	f.settle(t)
	if rel := f.release(t, "web", "prod", digest(1), state.Proposed); strings.Join(rel.ApprovedBy, ",") != "alice" {
		t.Fatalf("after alice's approval the proposal notes %v, want [alice]", rel.ApprovedBy)
	}
	if got := f.pr(t, pr.Number).State; got != forge.StateOpen {
		t.Fatalf("#%d is %s after one approval of two, want open", pr.Number, got)
	}
	f.approve(t, pr.Number, "Bob")
	f.settle(t)
	if rel := f.release(t, "web", "prod", digest(1), state.Merged); !slices.Contains(rel.ApprovedBy, "alice") || !slices.Contains(rel.ApprovedBy, "Bob") {
		t.Fatalf("merged release approved by %v, want alice and Bob among them", rel.ApprovedBy)
	}
}
