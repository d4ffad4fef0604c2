package promote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/history"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// sourceCommits creates the app's configured source repository with one
// commit per date, each the child of the one before, and returns their
// names in order.
func (f *fixture) sourceCommits(t *testing.T, dates ...time.Time) []string {
	t.Helper()
	repo, err := demo.InitRepo(f.cfg.Apps[0].Source.Repo)
	if err != nil {
		t.Fatal(err)
	}
	var shas []string
	for i, d := range dates {
		c, err := repo.Commit(map[string]string{"main.go": strings.Repeat("x", i+1)}, "change", d)
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, c.Hash.String())
	}
	return shas
}

// running records digest n built from revision as what dev runs.
func (f *fixture) running(t *testing.T, n int, src, revision string, created time.Time) {
	t.Helper()
	r := state.Release{ID: promote.ReleaseID("web", "dev", digest(n)), App: "web", Env: "dev", Image: image, Digest: digest(n),
		SourceRepo: src, SourceCommit: revision, SourceTime: created, State: state.Merged, MergedAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
	if err := f.store.PutRelease(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
}

// TestOrderFollowsSourceHistory proves invariant 9's "newer follows source
// history": build times (commit dates, which the pusher's clock sets) do not
// decide whether a digest may replace what runs.
func TestOrderFollowsSourceHistory(t *testing.T) {
	ctx := context.Background()
	past := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// dates of the source commits, each the parent of the next
		dates []time.Time
		// running and candidate index dates (and revisions)
		running, candidate int
		want               string
	}{
		{"a future-dated commit does not pin the environment", []time.Time{future, past}, 0, 1, promote.Opened},
		{"an ancestor with a newer date is older", []time.Time{past.Add(time.Hour), past}, 1, 0, promote.Skipped},
		{"a descendant with an older date is newer", []time.Time{past.Add(time.Hour), past}, 0, 1, promote.Opened},
		{"the same commit rebuilt proceeds", []time.Time{past}, 0, 0, promote.Opened},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "manual")
			f.p.Ancestry = history.Local{}
			src := f.cfg.Apps[0].Source.Repo
			shas := f.sourceCommits(t, tc.dates...)
			f.running(t, 1, src, shas[tc.running], tc.dates[tc.running])
			in := promotion(2, tc.dates[tc.candidate])
			in.Source, in.Revision = "file://"+src, shas[tc.candidate]
			out, err := f.p.Promote(ctx, in)
			if err != nil || out.Action != tc.want {
				t.Fatalf("Promote = %+v, %v; want %s", out, err, tc.want)
			}
		})
	}
}

// TestForcePushedHistoryProceeds: after a force-push the running revision
// is on no branch; the new one is not its descendant, yet it proceeds.
func TestForcePushedHistoryProceeds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Ancestry = history.Local{}
	src := f.cfg.Apps[0].Source.Repo
	shas := f.sourceCommits(t, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	// A revision the repository does not hold, as after a force-push and gc.
	f.running(t, 1, src, strings.Repeat("ab", 20), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	in := promotion(2, time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	in.Source, in.Revision = src, shas[0]
	if out, err := f.p.Promote(ctx, in); err != nil || out.Action != promote.Opened {
		t.Fatalf("Promote = %+v, %v; want opened", out, err)
	}
}

// TestOverrideIsExplicitAndRecorded: --force proposes a digest history calls
// older, only with a reason, and the release says who overrode and why.
func TestOverrideIsExplicitAndRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Ancestry = history.Local{}
	src := f.cfg.Apps[0].Source.Repo
	t0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	shas := f.sourceCommits(t, t0, t0.Add(time.Hour))
	f.running(t, 1, src, shas[1], t0.Add(time.Hour))
	in := promotion(2, t0)
	in.Source, in.Revision = src, shas[0]
	if out, err := f.p.Promote(ctx, in); err != nil || out.Action != promote.Skipped {
		t.Fatalf("without an override: %+v, %v; want skipped", out, err)
	}
	in.Force = true
	if _, err := f.p.Promote(ctx, in); err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("override without a reason: %v, want a permanent error asking for one", err)
	}
	in.Reason, in.By = "v2 corrupts sessions", "alice"
	out, err := f.p.Promote(ctx, in)
	if err != nil || out.Action != promote.Opened {
		t.Fatalf("override: %+v, %v; want opened", out, err)
	}
	rel, err := f.store.GetRelease(ctx, promote.ReleaseID("web", "dev", digest(2)))
	if err != nil || rel.State != state.Proposed || rel.Override != "override by alice: v2 corrupts sessions" {
		t.Fatalf("release %+v (%v), want proposed with the override recorded", rel, err)
	}
}

// TestUnknownOriginOrdersByTime: images not built from the configured
// source keep the build-time order, except that a time in the future is
// no evidence.
func TestUnknownOriginOrdersByTime(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name             string
		running, created time.Time
		want             string
	}{
		{"older build skipped", t0.Add(time.Hour), t0, promote.Skipped},
		{"newer build proceeds", t0, t0.Add(time.Hour), promote.Opened},
		{"a future time pins nothing", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), t0, promote.Opened},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "manual")
			f.p.Ancestry = history.Local{}
			f.running(t, 1, "https://github.com/someone/else", strings.Repeat("1", 40), tc.running)
			out, err := f.p.Promote(ctx, promotion(2, tc.created))
			if err != nil || out.Action != tc.want {
				t.Fatalf("Promote = %+v, %v; want %s", out, err, tc.want)
			}
		})
	}
}

// ancestryFn stands in for a source history that cannot be reached.
type ancestryFn func(ctx context.Context, repo, ancestor, descendant string) (bool, error)

func (f ancestryFn) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	return f(ctx, repo, ancestor, descendant)
}

// TestUnreachableHistoryRetries: when history cannot be read the promotion
// is retried, never skipped.
func TestUnreachableHistoryRetries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Ancestry = ancestryFn(func(context.Context, string, string, string) (bool, error) {
		return false, errors.New("dial tcp: connection refused")
	})
	src := f.cfg.Apps[0].Source.Repo
	f.running(t, 1, src, strings.Repeat("1", 40), time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	in := promotion(2, time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC))
	in.Source, in.Revision = src, strings.Repeat("2", 40)
	_, err := f.p.Promote(ctx, in)
	if err == nil || retry.IsPermanent(err) || !strings.Contains(err.Error(), "source history") {
		t.Fatalf("Promote = %v, want a retryable error naming the source history", err)
	}
	if _, err := f.store.GetRelease(ctx, promote.ReleaseID("web", "dev", digest(2))); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("a release was recorded (%v) while history was unreachable", err)
	}
}
