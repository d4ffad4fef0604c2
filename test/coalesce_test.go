package test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// burstSettle is the chain's settle window in the burst test: longer than
// five builds of the demo app take, so a burst fits in one window.
const burstSettle = 5 * time.Second

// TestBurstCoalesces: five quick pushes to one app, through the whole
// local chain with a settle window, build five images but propose once
// per environment per window: dev and staging merge the newest digest,
// the prod PR shows it with all five commits, the four older promotions
// are recorded superseded (never lost), and every environment ends on the
// newest digest with nothing dead-lettered.
func TestBurstCoalesces(t *testing.T) {
	ctx := context.Background()
	c := newChainConfig(t, func(yaml string) string {
		return strings.Replace(yaml, "version: 1\n", "version: 1\nsettle: "+burstSettle.String()+"\n", 1)
	})
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var shas []string
	for i := range 5 {
		files := demo.AppFiles()
		files["app/index.html"] = fmt.Sprintf("<h1>v%d</h1>\n", i)
		shas = append(shas, c.push(files, t0.Add(time.Duration(i)*time.Minute)))
	}
	start := time.Now()
	stats := c.settle()
	settled := time.Since(start)
	for _, sha := range shas {
		if rec, err := c.rt.State.Get(ctx, build.Key("web", sha)); err != nil || rec.Status != state.Completed {
			t.Fatalf("build of %.12s: %+v (%v), want completed: one build per commit", sha, rec, err)
		}
	}
	newest, err := c.digestOf("sha-" + shas[4][:12])
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "staging"} {
		if got := c.deployed(env); got != newest {
			t.Fatalf("%s runs %s, want the newest digest %s", env, got, newest)
		}
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		checkProposalsEvery(t, env, c.releases(env), burstSettle)
	}
	var superseded int
	for _, r := range c.releases("dev") {
		if r.State == state.Superseded {
			superseded++
			if r.Note == "" || r.SourceCommit == "" {
				t.Errorf("superseded record %s lacks its reason or commit: %+v", r.ID, r)
			}
		}
	}
	if superseded == 0 {
		t.Errorf("no superseded release in dev: the burst was not coalesced")
	}
	// `conveyor history` shows them: nothing coalesced is lost.
	cfg, _ := c.g.Config(ctx)
	rels, _ := c.rt.State.ListReleases(ctx, state.ReleaseFilter{App: "web"})
	shown := 0
	for _, j := range lineage.History(&cfg.Apps[0], rels) {
		for _, s := range j.Steps {
			if s.State == string(state.Superseded) {
				shown++
			}
		}
	}
	if shown < superseded {
		t.Errorf("history shows %d superseded steps, want at least the %d of dev", shown, superseded)
	}
	pr := c.openPR()
	if !strings.Contains(pr.Body, newest) {
		t.Errorf("prod PR does not propose the newest digest %s:\n%s", newest, pr.Body)
	}
	for i, sha := range shas {
		if !strings.Contains(pr.Body, sha) {
			t.Errorf("prod PR body lacks commit %d (%.12s):\n%s", i+1, sha, pr.Body)
		}
	}
	if err := c.g.Local.Approve(ctx, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	if got, _ := c.g.Local.Get(ctx, pr.Number); got.State != forge.StateMerged {
		t.Fatalf("prod PR #%d is %s after approval", pr.Number, got.State)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if got := c.deployed(env); got != newest {
			t.Fatalf("%s runs %s, want the newest digest %s everywhere", env, got, newest)
		}
	}
	for _, q := range []string{queue.Builds, queue.Images, queue.Promotions, queue.Approvals} {
		if stats[q].Dead != 0 {
			t.Fatalf("%s has %d dead letters after a clean burst", q, stats[q].Dead)
		}
	}
	t.Logf("burst of 5 settled in %v", settled)
}

// checkProposalsEvery fails unless the proposals (releases with a PR) of
// env are at most one per settle window.
func checkProposalsEvery(t *testing.T, env string, rels []state.Release, window time.Duration) {
	t.Helper()
	var at []time.Time
	for _, r := range rels {
		if r.PR != 0 {
			at = append(at, r.CreatedAt)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	if len(at) == 0 {
		t.Fatalf("%s: no proposal", env)
	}
	for i := 1; i < len(at); i++ {
		// A record is written once its proposal is pushed, so two windows'
		// records can be closer than a window by the difference of their
		// proposals' durations; work that skipped its window (the bug this
		// guards: 125 ms apart under load) comes far closer.
		if gap := at[i].Sub(at[i-1]); gap < window/2 {
			t.Errorf("%s: proposals %v apart, more than one in a %v window", env, gap, window)
		}
	}
	t.Logf("%s: %d proposal(s)", env, len(at))
}
