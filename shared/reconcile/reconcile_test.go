package reconcile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const image = "registry.example/acme/web"

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

type fixture struct {
	repo  *demo.Repo
	git   *gitops.Repo
	store *sqlitestate.Store
	db    *sqlitedb.DB
	cfg   *config.Config
	clock time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(filepath.Join(dir, "web"), image)
	f := &fixture{repo: repo, clock: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := repo.Commit(files, "init", f.clock); err != nil {
		t.Fatal(err)
	}
	if f.cfg, err = config.Parse("conveyor.yaml", []byte(files["conveyor.yaml"])); err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	if f.store, err = sqlitestate.Open(ctx, db); err != nil {
		t.Fatal(err)
	}
	if f.git, err = gitops.New(repo.Dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// pin commits env's overlay pinning d, as a merge or a person would.
func (f *fixture) pin(t *testing.T, env, d, message string) string {
	t.Helper()
	f.clock = f.clock.Add(time.Hour)
	text := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: web-%s\nresources:\n  - ../../base\nimages:\n  - name: %s\n    digest: %s\n", env, image, d)
	c, err := f.repo.Commit(map[string]string{"envs/" + env + "/kustomization.yaml": text}, message, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	return c.Hash.String()
}

// record writes a merged release of d into env, as the approver would.
func (f *fixture) record(t *testing.T, env, d string, st state.ReleaseState, pr int) {
	t.Helper()
	r := state.Release{ID: "web/" + env + "/" + d, App: "web", Env: env, Image: image, Digest: d, State: st, PR: pr,
		SourceRepo: "https://github.com/acme/web", SourceCommit: strings.Repeat(d[len(d)-1:], 40), MergedBy: "conveyor"}
	if st == state.Merged {
		r.MergedAt = f.clock
	}
	if err := f.store.PutRelease(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) drifts(t *testing.T) []reconcile.Drift {
	t.Helper()
	ctx := context.Background()
	pins, err := reconcile.Pins(ctx, f.git, f.cfg, 20)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := f.store.ListReleases(ctx, state.ReleaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []reconcile.Drift
	for _, d := range reconcile.Compare(f.cfg, pins, rels) {
		if d.Digest != "" || d.Recorded != "" || d.Err != "" {
			out = append(out, d)
		}
	}
	return out
}

// TestRevertOnMainIsARollback: a git revert of a production promotion on
// the base branch is recorded as a rollback by the person who made it, and
// status then shows what git pins.
func TestRevertOnMainIsARollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.pin(t, "prod", digest(1), "Merge pull request #1 from conveyor/prod/web")
	f.record(t, "prod", digest(1), state.Merged, 1)
	bad := f.pin(t, "prod", digest(2), "Merge pull request #2 from conveyor/prod/web")
	f.record(t, "prod", digest(2), state.Merged, 2)
	if got := f.drifts(t); len(got) != 0 {
		t.Fatalf("records equal git, yet drift: %+v", got)
	}
	revert := f.pin(t, "prod", digest(1), fmt.Sprintf("Revert %q", "Merge pull request #2"))

	got := f.drifts(t)
	if len(got) != 1 {
		t.Fatalf("want one drift (prod), got %+v", got)
	}
	d := got[0]
	if d.Env != "prod" || d.Digest != digest(1) || d.Recorded != digest(2) || d.Repair != reconcile.Reverted || d.Commit != revert {
		t.Fatalf("drift = %+v; want prod pinned %s over recorded %s, reverted in %s", d, digest(1), digest(2), revert)
	}
	if d.Commit == bad || !d.Release.Rollback || d.Release.MergedBy != "Demo Developer" || !strings.Contains(d.Release.Note, "reverted outside Conveyor") {
		t.Fatalf("repair record = %+v", d.Release)
	}
	if n, err := reconcile.Apply(ctx, f.store, got); err != nil || n != 1 {
		t.Fatalf("Apply = %d, %v; want 1 record", n, err)
	}
	if again := f.drifts(t); len(again) != 0 {
		t.Fatalf("after the repair, records still disagree with git: %+v", again)
	}
	if n, err := reconcile.Apply(ctx, f.store, got); err != nil || n != 0 {
		t.Fatalf("a second Apply wrote %d records (%v); want none", n, err)
	}
	rels, _ := f.store.ListReleases(ctx, state.ReleaseFilter{})
	for _, c := range lineage.Status(f.cfg, rels, f.clock) {
		if c.Env == "prod" && c.Digest != digest(1) {
			t.Fatalf("status says prod runs %s; git pins %s", c.Digest, digest(1))
		}
	}
	m := lineage.Compute(f.cfg, rels, f.clock.Add(-48*time.Hour), f.clock.Add(time.Hour))
	if m.Rollbacks != 1 || m.Deployments != 2 {
		t.Fatalf("metrics = %d deployments, %d rollbacks; want 2 and the revert as 1 rollback", m.Deployments, m.Rollbacks)
	}
}

// TestDriftKinds covers every way records and git can disagree.
func TestDriftKinds(t *testing.T) {
	f := newFixture(t)
	// dev: edited by hand to a digest Conveyor never released.
	f.pin(t, "dev", digest(1), "promote")
	f.record(t, "dev", digest(1), state.Merged, 1)
	f.pin(t, "dev", digest(7), "hotfix by hand")
	// staging: a promotion merged but its event was lost.
	f.pin(t, "staging", digest(1), "promote")
	f.record(t, "staging", digest(1), state.Merged, 2)
	f.record(t, "staging", digest(3), state.Proposed, 9)
	f.pin(t, "staging", digest(3), "Merge pull request #9 from conveyor/staging/web")
	// prod: the overlay no longer exists.
	if _, err := f.repo.Commit(map[string]string{"envs/prod/kustomization.yaml": ""}, "remove prod", f.clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := map[string]reconcile.Drift{}
	for _, d := range f.drifts(t) {
		got[d.Env] = d
	}
	if d := got["dev"]; d.Repair != reconcile.OutOfBand || d.Release == nil || d.Release.Rollback || d.Release.Digest != digest(7) {
		t.Errorf("dev: %+v; want an out-of-band release of %s", d, digest(7))
	}
	if d := got["staging"]; d.Repair != reconcile.MergeRecorded || d.Release == nil || d.Release.PR != 9 || d.Release.State != state.Merged {
		t.Errorf("staging: %+v; want proposal #9 recorded as merged", d)
	}
	if d := got["prod"]; d.Err == "" || d.Release != nil {
		t.Errorf("prod: %+v; want an unreadable pin reported, nothing recorded", d)
	}
}
