package promote_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-cmp/cmp"
)

// TestCoalescedBurst: five promotions of one app into one environment,
// queued through the Announcer before the consumer reads them, propose
// once: the four older are recorded superseded (never lost), the newest
// waits out the settle window through a deferral, then proposes with a
// body listing all five commits.
func TestCoalescedBurst(t *testing.T) {
	for _, tc := range []struct {
		name   string
		settle time.Duration
		// want are the actions of the five deliveries, then of the
		// newest's redelivery once its window has ended ("" when none).
		want []string
	}{
		{"no settle window", 0, []string{promote.Superseded, promote.Superseded, promote.Superseded, promote.Superseded, promote.Opened, ""}},
		{"a minute's window", time.Minute, []string{promote.Superseded, promote.Superseded, promote.Superseded, promote.Superseded, promote.Deferred, promote.Opened}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, "manual")
			cfg := withSettle(f.cfg, tc.settle)
			f.p.Config = func(context.Context) (*config.Config, error) { return cfg, nil }
			f.p.Latest = f.store
			q, err := f.queues.Queue(queue.Promotions)
			if err != nil {
				t.Fatal(err)
			}
			ann := &promote.Announcer{Next: q, Config: f.p.Config, Latest: f.store, Now: f.p.Now}
			t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			for n := 1; n <= 5; n++ {
				p := promotion(n, t0.Add(time.Duration(n)*time.Minute))
				env, err := event.New(event.KindPromotion, "conveyor", "", "", p, t0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := queue.SendEnvelope(ctx, ann, env, p.GroupID(), p.DedupeID(), p.App); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			var wait time.Duration
			for n := 1; n <= 5; n++ {
				out, err := f.p.Promote(ctx, promotion(n, t0.Add(time.Duration(n)*time.Minute)))
				if d, ok := retry.Deferred(err); ok {
					wait, err = d, nil
				}
				if err != nil {
					t.Fatalf("promotion %d: %v", n, err)
				}
				got = append(got, out.Action)
			}
			last := ""
			if wait > 0 {
				if wait > tc.settle {
					t.Errorf("deferred %v, longer than the window %v", wait, tc.settle)
				}
				// The queue hands the message back once the window ends.
				now := f.p.Now()
				f.p.Now = func() time.Time { now = now.Add(time.Second); return now.Add(wait) }
				out, err := f.p.Promote(ctx, promotion(5, t0.Add(5*time.Minute)))
				if err != nil {
					t.Fatal(err)
				}
				last = out.Action
			}
			got = append(got, last)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("actions (-want +got):\n%s", diff)
			}
			rels, err := f.store.ListReleases(ctx, state.ReleaseFilter{App: "web", Env: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			states := map[string]state.ReleaseState{}
			for _, r := range rels {
				states[r.Digest] = r.State
			}
			want := map[string]state.ReleaseState{digest(1): state.Superseded, digest(2): state.Superseded, digest(3): state.Superseded,
				digest(4): state.Superseded, digest(5): state.Proposed}
			if diff := cmp.Diff(want, states); diff != "" {
				t.Errorf("release records (-want +got):\n%s", diff)
			}
			prs, _ := f.forge.List(ctx, "")
			if len(prs) != 1 {
				t.Fatalf("%d pull requests, want 1", len(prs))
			}
			for n := 1; n <= 5; n++ {
				if c := fmt.Sprintf("%040d", n); !strings.Contains(prs[0].Body, c) {
					t.Errorf("PR body lacks commit %d:\n%s", n, prs[0].Body)
				}
			}
			if !strings.Contains(prs[0].Body, digest(5)) || !strings.Contains(prs[0].Body, "### Commits (5)") {
				t.Errorf("PR body does not show the newest digest with its 5 commits:\n%s", prs[0].Body)
			}
		})
	}
}

// TestCoalescingKeepsTheGate: older work that reaches the consumer after
// newer work was released is still skipped by the ordering check, and a
// redelivery of the released work stays current: coalescing never moves
// an environment back nor proposes twice.
func TestCoalescingKeepsTheGate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Latest = f.store
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		n    int
		want string
	}{
		{5, promote.Opened},
		{5, promote.Current},
		{4, promote.Superseded},
		{3, promote.Superseded},
	} {
		out, err := f.p.Promote(ctx, promotion(tc.n, t0.Add(time.Duration(tc.n)*time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		if out.Action != tc.want {
			t.Fatalf("promotion %d: %s, want %s", tc.n, out.Action, tc.want)
		}
	}
	if got := f.kustomization(t, promote.Branch("web", "dev")); !strings.Contains(got, digest(5)) {
		t.Fatalf("the branch moved off the newest digest:\n%s", got)
	}
}

// withSettle returns a copy of cfg whose environments settle for d.
func withSettle(cfg *config.Config, d time.Duration) *config.Config {
	c := *cfg
	c.Apps = append([]config.App(nil), cfg.Apps...)
	for i := range c.Apps {
		envs := append([]config.Environment(nil), c.Apps[i].Environments...)
		for j := range envs {
			envs[j].Settle = d
		}
		c.Apps[i].Environments = envs
	}
	return &c
}

// TestCoveredCommits: the body lists the commits since what the
// environment runs — the coalesced ones included, the released one and
// older ones not.
func TestCoveredCommits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Latest = f.store
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	released := state.Release{ID: promote.ReleaseID("web", "dev", digest(2)), App: "web", Env: "dev", Digest: digest(2),
		SourceRepo: "https://github.com/acme/web", SourceCommit: fmt.Sprintf("%040d", 2), SourceTime: at(2), State: state.Merged, MergedAt: t0}
	older := state.Release{ID: promote.ReleaseID("web", "staging", digest(1)), App: "web", Env: "staging", Digest: digest(1),
		SourceRepo: "https://github.com/acme/web", SourceCommit: fmt.Sprintf("%040d", 1), SourceTime: at(1), State: state.Merged, MergedAt: t0}
	for _, r := range []*state.Release{&released, &older} {
		if err := f.store.PutRelease(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	q, _ := f.queues.Queue(queue.Promotions)
	ann := &promote.Announcer{Next: q, Config: f.p.Config, Latest: f.store, Now: f.p.Now}
	for n := 3; n <= 5; n++ {
		p := promotion(n, at(n))
		env, _ := event.New(event.KindPromotion, "conveyor", "", "", p, t0)
		if _, err := queue.SendEnvelope(ctx, ann, env, p.GroupID(), p.DedupeID(), p.App); err != nil {
			t.Fatal(err)
		}
	}
	var out *promote.Outcome
	for n := 3; n <= 5; n++ {
		var err error
		if out, err = f.p.Promote(ctx, promotion(n, at(n))); err != nil {
			t.Fatal(err)
		}
	}
	if out.Action != promote.Opened {
		t.Fatalf("newest: %s, want opened", out.Action)
	}
	var got []string
	for _, line := range strings.Split(out.PR.Body, "\n") {
		for n := 1; n <= 5; n++ {
			if strings.HasPrefix(line, "- ") && strings.Contains(line, fmt.Sprintf("/commit/%040d", n)) {
				got = append(got, fmt.Sprint(n))
			}
		}
	}
	if diff := cmp.Diff([]string{"3", "4", "5"}, got); diff != "" {
		t.Errorf("commits listed (-want +got):\n%s\n%s", diff, out.PR.Body)
	}
}
