package promote_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/manifest"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/registry"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

const image = "registry.example.com/acme/web"

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

type fixture struct {
	p      *promote.Promoter
	forge  *localforge.Forge
	store  *sqlitestate.Store
	repo   *demo.Repo
	cfg    *config.Config
	events *sqlitequeue.Queue
	queues *sqlitequeue.Broker
}

func newFixture(t *testing.T, release string) *fixture {
	t.Helper()
	return newFixtureClone(t, release, true)
}

// newFixtureClone is newFixture with the GitOps repository left as
// `git init` makes it when updateInstead is false: main checked out and
// pushes to it refused by git unless Conveyor updates the work tree.
func newFixtureClone(t *testing.T, release string, updateInstead bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(filepath.Join(dir, "web"), image)
	if _, err := repo.Commit(files, "init", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if updateInstead {
		if err := repo.AcceptPushes(); err != nil {
			t.Fatal(err)
		}
	}
	policy := "release: " + release
	if release == "manual" {
		// A manual release must name who approves it.
		policy += "\n        reviewers: [alice]"
	}
	cfgText := strings.Replace(files["conveyor.yaml"], "release: auto\n      - name: staging", policy+"\n      - name: staging", 1)
	cfg, err := config.Parse("conveyor.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	f := openFixture(t, dir, repo, func(context.Context) (*config.Config, error) { return cfg, nil })
	f.cfg = cfg
	return f
}

// openFixture builds a Promoter on repo, whose pipeline config reads,
// with the store, queues and local forge of a database in dir/data, and a
// clock that ticks a second a call.
func openFixture(t *testing.T, dir string, repo *demo.Repo, config func(context.Context) (*config.Config, error)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := sqlitestate.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sqlitequeue.Open(ctx, db, queue.Topology)
	if err != nil {
		t.Fatal(err)
	}
	approvals, _ := b.Queue(queue.Approvals)
	g, err := gitops.New(repo.Dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	lf, err := localforge.New(ctx, db, g, repo.Dir, "local/gitops", approvals)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	p := &promote.Promoter{
		Config:   config,
		Releases: store, Repo: g, Forge: lf,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	}
	return &fixture{p: p, forge: lf, store: store, repo: repo, events: approvals, queues: b}
}

func promotion(n int, created time.Time) event.Promotion {
	return event.Promotion{App: "web", Environment: "dev", Image: image, Digest: digest(n), Tag: fmt.Sprintf("sha-%012d", n),
		Source: "https://github.com/acme/web", Revision: fmt.Sprintf("%040d", n), Created: created}
}

func (f *fixture) kustomization(t *testing.T, branch string) string {
	t.Helper()
	data, _, err := gitops.ReadFile(context.Background(), f.repo.Dir, branch, "envs/dev/kustomization.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestIdempotentAndMonotonic proves invariants 4 and 5: the same promotion
// ten times opens one PR; a newer digest updates that PR; an older digest
// after a newer one changes nothing.
func TestIdempotentAndMonotonic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

	first := promotion(1, t0)
	for i := 0; i < 10; i++ {
		out, err := f.p.Promote(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		want := promote.Opened
		if i > 0 {
			want = promote.Current
		}
		if out.Action != want || out.PR.Number != 1 {
			t.Fatalf("promotion %d: %s #%d, want %s #1", i+1, out.Action, out.PR.Number, want)
		}
	}
	branch := promote.Branch("web", "dev")
	if got := f.kustomization(t, branch); !strings.Contains(got, "digest: "+digest(1)) {
		t.Fatalf("branch does not pin digest 1:\n%s", got)
	}
	if got := f.kustomization(t, "main"); strings.Contains(got, "digest:") {
		t.Fatal("the base branch changed before any merge")
	}

	newer := promotion(2, t0.Add(time.Hour))
	out, err := f.p.Promote(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != promote.Updated || out.PR.Number != 1 {
		t.Fatalf("newer digest: %s #%d, want updated #1", out.Action, out.PR.Number)
	}
	if got := f.kustomization(t, branch); !strings.Contains(got, "digest: "+digest(2)) {
		t.Fatalf("branch does not pin digest 2:\n%s", got)
	}
	old, err := f.store.GetRelease(ctx, promote.ReleaseID("web", "dev", digest(1)))
	if err != nil || old.State != state.Superseded {
		t.Fatalf("first release is %q (%v), want superseded", old.State, err)
	}

	out, err = f.p.Promote(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != promote.Skipped {
		t.Fatalf("older digest after newer: %s, want skipped", out.Action)
	}
	if got := f.kustomization(t, branch); !strings.Contains(got, "digest: "+digest(2)) {
		t.Fatal("an older digest moved the branch back")
	}
	prs, _ := f.forge.List(ctx, "")
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want exactly one per app and environment", len(prs))
	}
}

// TestAutoMerges: release auto merges the PR, and the merge reaches the
// base branch with the digest; the forge emits the merged event.
func TestAutoMerges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "auto")
	out, err := f.p.Promote(ctx, promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != promote.Merged {
		t.Fatalf("auto release: %s, want merged", out.Action)
	}
	if got := f.kustomization(t, "main"); !strings.Contains(got, "digest: "+digest(1)) {
		t.Fatalf("base branch after the merge:\n%s", got)
	}
	msgs, err := f.events.Receive(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, m := range msgs {
		env, _ := event.Decode(m.Body)
		var r event.Review
		_ = env.DecodePayload(&r)
		actions = append(actions, r.Action)
	}
	if diff := cmp.Diff([]string{event.ReviewOpened, event.ReviewMerged}, actions); diff != "" {
		t.Errorf("forge events (-want +got):\n%s", diff)
	}
}

func TestPermanentErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	for _, tc := range []struct {
		name string
		in   event.Promotion
		want string
	}{
		{"unknown app", event.Promotion{App: "api", Environment: "dev", Digest: digest(1)}, `no app "api"`},
		{"unknown env", event.Promotion{App: "web", Environment: "qa", Digest: digest(1)}, `no environment "qa"`},
		{"tag instead of digest", event.Promotion{App: "web", Environment: "dev", Digest: "latest"}, "latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.p.Promote(ctx, tc.in)
			if err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Promote = %v, want a permanent error containing %q", err, tc.want)
			}
		})
	}
	// A path that holds no target is permanent too, naming the file.
	cfg := *f.cfg
	cfg.Apps = append([]config.App(nil), f.cfg.Apps...)
	envs := append([]config.Environment(nil), cfg.Apps[0].Environments...)
	envs[0].Path = "base/deployment.yaml"
	envs[0].Strategy = config.StrategyRaw
	envs[0].Container = "sidecar"
	cfg.Apps[0].Environments = envs
	f.p.Config = func(context.Context) (*config.Config, error) { return &cfg, nil }
	_, err := f.p.Promote(ctx, promotion(1, time.Now()))
	if err == nil || !retry.IsPermanent(err) || !errors.Is(err, manifest.ErrTargetNotFound) || !strings.Contains(err.Error(), "base/deployment.yaml") {
		t.Fatalf("missing container: %v, want a permanent ErrTargetNotFound naming the file", err)
	}
}

func TestBodyGolden(t *testing.T) {
	cfg, err := config.Parse("conveyor.yaml", []byte(demo.GitOpsFiles("/src/web", image)["conveyor.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	app, _ := cfg.App("web")
	staging, _, _ := app.Env("staging")
	prod, _, _ := app.Env("prod")
	prodArm := *prod
	prodArm.Platforms = []string{"linux/amd64", "linux/arm64"}
	created := time.Date(2026, 11, 28, 23, 40, 0, 0, time.UTC)
	in := promotion(2, created)
	in.Environment, in.From = "prod", "staging"
	from := &state.Release{Digest: digest(1), PR: 7, MergedAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), SourceCommit: fmt.Sprintf("%040d", 1)}
	changes := []manifest.Change{{File: "envs/prod/kustomization.yaml", Line: 8, Path: "images[name=" + image + "].digest", Old: digest(1), New: digest(2)}}
	for _, tc := range []struct {
		name string
		in   promote.BodyInput
	}{
		{"prod-manual", promote.BodyInput{Promotion: in, App: app, Env: prod, From: from, Changes: changes}},
		// Opened on AWS: the rollback command it prints selects the stack.
		{"prod-manual-stack", promote.BodyInput{Promotion: in, App: app, Env: prod, From: from, Changes: changes,
			Selector: promote.StackSelector("conveyor-prod")}},
		// A Flux HelmRelease whose chart comes from a chart repository:
		// the body says the render check could not run.
		{"prod-helmrelease-not-rendered", promote.BodyInput{Promotion: in, App: app, Env: prod, From: from,
			Changes:    []manifest.Change{{File: "clusters/prod/web/release.yaml", Line: 19, Path: "spec.values.image.tag", Old: "0.1", New: "sha-000000000002@" + digest(2)}},
			RenderNote: "The chart was not rendered before this pull request: no Chart.yaml beside or above `clusters/prod/web/release.yaml` (a chart from a chart repository is not fetched), so nothing checked that the digest reaches a workload."}},
		// A burst coalesced: the newest digest, with every commit it
		// brings since what prod runs.
		{"prod-manual-coalesced", promote.BodyInput{Promotion: in, App: app, Env: prod, From: from, Changes: changes,
			Commits: []string{fmt.Sprintf("%040d", 11), fmt.Sprintf("%040d", 12), in.Revision}}},
		// The environment names its nodes' platforms: the body lists the
		// image's against them.
		{"prod-platforms", promote.BodyInput{Promotion: in, App: app, Env: &prodArm, From: from, Changes: changes,
			Facts: &registry.Provenance{Source: in.Source, Revision: in.Revision, Created: created, Size: 12 << 20,
				Platforms: []string{"linux/amd64", "linux/arm64/v8", "linux/s390x"}}}},
		// The environment requires provenance: the body shows what was
		// verified.
		{"prod-provenance", promote.BodyInput{Promotion: in, App: app, Env: prod, From: from, Changes: changes,
			Provenance: verifiedProvenance(t, in)}},
		{"staging-auto-first", promote.BodyInput{Promotion: promotion(1, created), App: app, Env: staging, Next: prod,
			Changes: []manifest.Change{{File: "envs/staging/kustomization.yaml", Line: 8, Path: "images[name=" + image + "].digest", New: digest(1)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := promote.Body(tc.in)
			path := filepath.Join("testdata", tc.name+".md")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("PR body (-want +got):\n%s", diff)
			}
		})
	}
	_ = forge.StateOpen
}

// TestStackSelector: only a CloudFormation stack name reaches a PR body.
func TestStackSelector(t *testing.T) {
	for _, tc := range []struct{ stack, want string }{
		{"conveyor-prod", "--stack conveyor-prod"},
		{"", ""},
		{"prod`; rm -rf /", ""},
		{"1stack", ""},
		{"a b", ""},
	} {
		if got := promote.StackSelector(tc.stack); got != tc.want {
			t.Errorf("StackSelector(%q) = %q, want %q", tc.stack, got, tc.want)
		}
	}
}

// TestFreezeWindowDefers: inside a freeze the promotion waits (a transient
// error carrying the time left, so the queue redelivers it when the window
// closes) and proceeds after it.
func TestFreezeWindowDefers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	cfg := *f.cfg
	cfg.Apps = append([]config.App(nil), f.cfg.Apps...)
	envs := append([]config.Environment(nil), cfg.Apps[0].Environments...)
	envs[0].Freeze = []config.Freeze{{Cron: "0 12 * * *", Duration: time.Hour, Timezone: "UTC"}}
	cfg.Apps[0].Environments = envs
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f.p.Config = func(context.Context) (*config.Config, error) { return &cfg, nil }
	now := time.Date(2026, 11, 29, 12, 30, 0, 0, time.UTC)
	f.p.Now = func() time.Time { return now }

	out, err := f.p.Promote(ctx, promotion(1, now.Add(-time.Hour)))
	if !errors.Is(err, promote.ErrFrozen) || retry.IsPermanent(err) {
		t.Fatalf("inside the freeze: %v, want a transient ErrFrozen", err)
	}
	if wait, ok := retry.RetryAfter(err); !ok || wait != 30*time.Minute {
		t.Fatalf("retry after %v (%v), want the 30 minutes left", wait, ok)
	}
	if out.Action != promote.Deferred {
		t.Fatalf("action %s, want deferred", out.Action)
	}
	if prs, _ := f.forge.List(ctx, ""); len(prs) != 0 {
		t.Fatal("a PR was opened during the freeze")
	}
	now = now.Add(31 * time.Minute)
	out, err = f.p.Promote(ctx, promotion(1, now.Add(-2*time.Hour)))
	if err != nil || out.Action != promote.Opened {
		t.Fatalf("after the freeze: %v %v, want opened", out, err)
	}
}

// flakyForge fails the first pull request creation after the branch was
// pushed: the crash window between the git push and the PR.
type flakyForge struct {
	forge.Forge
	failed bool
}

func (f *flakyForge) Create(ctx context.Context, pr forge.NewPR) (*forge.PR, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("connection reset by peer")
	}
	return f.Forge.Create(ctx, pr)
}

// TestCrashBetweenPushAndPR: the retry after a failure between the branch
// push and the PR finishes the promotion with one branch commit and one PR.
func TestCrashBetweenPushAndPR(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	f.p.Forge = &flakyForge{Forge: f.forge}
	in := promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	if _, err := f.p.Promote(ctx, in); err == nil || retry.IsPermanent(err) {
		t.Fatalf("first attempt: %v, want a transient error", err)
	}
	head1, _, err := gitops.ReadFile(ctx, f.repo.Dir, promote.Branch("web", "dev"), "envs/dev/kustomization.yaml", nil)
	if err != nil || !strings.Contains(string(head1), digest(1)) {
		t.Fatalf("the branch was not pushed before the failure: %v", err)
	}
	out, err := f.p.Promote(ctx, in)
	if err != nil || out.Action != promote.Opened {
		t.Fatalf("retry: %v %v, want opened", out, err)
	}
	g, _ := gitops.New(f.repo.Dir, "main", nil, object.Signature{Name: "x", Email: "x@x"})
	tip, _ := g.BranchHead(ctx, promote.Branch("web", "dev"))
	if tip != out.PR.HeadSHA {
		t.Fatalf("PR head %s, branch tip %s", out.PR.HeadSHA, tip)
	}
	prs, _ := f.forge.List(ctx, "")
	rels, _ := f.store.ListReleases(ctx, state.ReleaseFilter{})
	if len(prs) != 1 || len(rels) != 1 {
		t.Fatalf("%d PRs and %d releases after the retry, want 1 and 1", len(prs), len(rels))
	}
}

// TestRenderCheck: an overlay whose images: entry names no container's
// image would merge and deploy nothing; the kustomize render refuses it.
func TestRenderCheck(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	base := strings.Replace(demo.GitOpsFiles("/src/web", image)["base/deployment.yaml"], image+":bootstrap", "docker.io/library/nginx:1.27", 1)
	if _, err := f.repo.Commit(map[string]string{"base/deployment.yaml": base}, "switch to nginx", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	_, err := f.p.Promote(ctx, promotion(1, time.Now()))
	if err == nil || !retry.IsPermanent(err) || !strings.Contains(err.Error(), "no workload uses") {
		t.Fatalf("Promote = %v, want a permanent render error", err)
	}
	if prs, _ := f.forge.List(ctx, ""); len(prs) != 0 {
		t.Fatal("a PR was opened for an overlay that renders nothing")
	}
}

// TestReproposalGetsItsOwnRecord: a digest whose release into the
// environment finished (here: rejected) is proposed again under a fresh
// ID, and repeating that promotion keeps to the one new record.
func TestReproposalGetsItsOwnRecord(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	in := promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	first, err := f.p.Promote(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Release.HeadSHA != first.PR.HeadSHA || first.Release.HeadSHA == "" {
		t.Fatalf("release head %q, PR head %q: want the pushed head recorded", first.Release.HeadSHA, first.PR.HeadSHA)
	}
	rejected := first.Release
	rejected.State = state.Rejected
	if err := f.store.PutRelease(ctx, &rejected); err != nil {
		t.Fatal(err)
	}
	if err := f.forge.Close(ctx, first.PR.Number, "not now"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		out, err := f.p.Promote(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.Release.ID)
	}
	if ids[0] == rejected.ID || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Fatalf("re-proposal IDs %v, want one fresh ID other than %s", ids, rejected.ID)
	}
	got, _ := f.store.GetRelease(ctx, rejected.ID)
	if got.State != state.Rejected || got.PR != first.PR.Number {
		t.Fatalf("the rejected release became %+v", got)
	}
	rels, _ := f.store.ListReleases(ctx, state.ReleaseFilter{})
	if len(rels) != 2 {
		t.Fatalf("%d releases, want the rejected one and one re-proposal", len(rels))
	}
}

// TestBaseAlreadyHoldingTheProposalKeepsItsPR: when the open PR's merge
// landed before its event, a repeated promotion leaves the proposal (and
// its PR) for that event to record, rather than writing a release
// without a PR.
func TestBaseAlreadyHoldingTheProposalKeepsItsPR(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "manual")
	in := promotion(1, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	out, err := f.p.Promote(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.forge.Merge(ctx, out.PR.Number, forge.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := f.p.Promote(ctx, in)
	if err != nil || again.Action != promote.Current {
		t.Fatalf("promotion after the merge: %v %v, want current", again, err)
	}
	got, _ := f.store.GetRelease(ctx, out.Release.ID)
	if got.PR != out.PR.Number || got.State != state.Proposed || got.HeadSHA != out.Release.HeadSHA {
		t.Fatalf("release %+v, want the open proposal of #%d kept for its merge event", got, out.PR.Number)
	}
}
