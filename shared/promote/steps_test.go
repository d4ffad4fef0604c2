package promote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const stepImage = "registry.example.com/acme/web"

func stepDigest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// stepConfig has one environment of each kind the steps tell apart.
const stepConfig = `version: 1
apps:
  - name: web
    source: {repo: https://github.com/acme/web}
    image: ` + stepImage + `
    environments:
      - {name: dev, path: envs/dev, release: auto}
      - {name: tagged, path: envs/dev, keepTag: true, release: manual, reviewers: [alice]}
      - {name: prod, path: envs/prod, release: manual, reviewers: [alice]}
      - name: frozen
        path: envs/prod
        release: manual
        reviewers: [alice]
        freeze: [{cron: "* * * * *", duration: 2m}]
`

// stepFixture is a real GitOps repository, store and local forge for the
// steps of Promote, each driven on its own.
type stepFixture struct {
	p     *Promoter
	store *sqlitestate.Store
	forge *localforge.Forge
	dir   string
}

func newStepFixture(t *testing.T) *stepFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	gitDir := filepath.Join(dir, "gitops")
	files := map[string]string{
		"envs/dev/kustomization.yaml":  "resources: [deploy.yaml]\nimages:\n  - name: " + stepImage + "\n    digest: " + stepDigest(1) + "\n",
		"envs/dev/deploy.yaml":         "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: " + stepImage + "\n",
		"envs/prod/kustomization.yaml": "resources: [deploy.yaml]\nimages:\n  - name: " + stepImage + "\n    digest: " + stepDigest(1) + "\n",
		"envs/prod/deploy.yaml":        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: " + stepImage + "\n",
	}
	r, err := git.PlainInitWithOptions(gitDir, &git.PlainInitOptions{Bare: true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	seedBare(t, r, files)
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
	g, err := gitops.New(gitDir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	lf, err := localforge.New(ctx, db, g, gitDir, "local/gitops", approvals)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(stepConfig))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	p := &Promoter{Config: func(context.Context) (*config.Config, error) { return cfg, nil }, Releases: store, Repo: g, Forge: lf,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock }, Selector: "--stack demo"}
	p.defaults()
	return &stepFixture{p: p, store: store, forge: lf, dir: gitDir}
}

// seedBare commits files as the first commit of main in a bare repository.
func seedBare(t *testing.T, r *git.Repository, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	wr, err := git.PlainInit(work, false)
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wt, _ := wr.Worktree()
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "dev", Email: "dev@example.com", When: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	h, err := wt.Commit("init", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	obj := wr.Storer
	iter, _ := obj.IterEncodedObjects(plumbing.AnyObject)
	_ = iter.ForEach(func(o plumbing.EncodedObject) error { _, err := r.Storer.SetEncodedObject(o); return err })
	if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), h)); err != nil {
		t.Fatal(err)
	}
}

func stepPromotion(env string, n int) event.Promotion {
	return event.Promotion{App: "web", Environment: env, Image: stepImage, Digest: stepDigest(n), Tag: fmt.Sprintf("sha-%d", n),
		Source: "https://github.com/acme/web", Created: time.Date(2026, 11, 20, 0, n, 0, 0, time.UTC)}
}

func TestResolve(t *testing.T) {
	f := newStepFixture(t)
	for _, tc := range []struct {
		name      string
		in        event.Promotion
		permanent bool
		tag, next string
	}{
		{"first environment", stepPromotion("dev", 2), false, "", "tagged"},
		{"keepTag writes the tag", stepPromotion("tagged", 2), false, "sha-2", "prod"},
		{"last environment", stepPromotion("frozen", 2), false, "", ""},
		{"unknown app", event.Promotion{App: "api", Environment: "dev", Digest: stepDigest(2)}, true, "", ""},
		{"unknown environment", event.Promotion{App: "web", Environment: "qa", Digest: stepDigest(2)}, true, "", ""},
		{"malformed digest", event.Promotion{App: "web", Environment: "dev", Digest: "sha256:zz"}, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm, err := f.p.resolve(context.Background(), tc.in)
			if tc.permanent {
				if !retry.IsPermanent(err) {
					t.Fatalf("resolve = %v, want a permanent error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			next := ""
			if pm.next != nil {
				next = pm.next.Name
			}
			if pm.ref.Tag != tc.tag || next != tc.next || pm.branch != Branch("web", tc.in.Environment) || pm.ref.Digest != tc.in.Digest {
				t.Errorf("resolve = tag %q next %q branch %q digest %q; want tag %q next %q", pm.ref.Tag, next, pm.branch, pm.ref.Digest, tc.tag, tc.next)
			}
		})
	}
}

func TestGate(t *testing.T) {
	ctx := context.Background()
	f := newStepFixture(t)
	released := state.Release{ID: ReleaseID("web", "prod", stepDigest(5)), App: "web", Env: "prod", Digest: stepDigest(5), State: state.Merged,
		SourceTime: time.Date(2026, 11, 20, 0, 5, 0, 0, time.UTC), MergedAt: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	if err := f.store.PutRelease(ctx, &released); err != nil {
		t.Fatal(err)
	}
	forced := stepPromotion("prod", 3)
	forced.Force, forced.Reason = true, "hotfix"
	unexplained := forced
	unexplained.Reason = ""
	rollback := stepPromotion("prod", 3)
	rollback.Rollback = true
	for _, tc := range []struct {
		name      string
		in        event.Promotion
		action    string // "" when the promotion goes ahead
		deferred  bool
		permanent bool
	}{
		{"newer goes ahead", stepPromotion("prod", 7), "", false, false},
		{"released digest is current", stepPromotion("prod", 5), Current, false, false},
		{"older is skipped", stepPromotion("prod", 3), Skipped, false, false},
		{"forced older goes ahead", forced, "", false, false},
		{"forced without a reason", unexplained, "", false, true},
		{"rollback goes ahead", rollback, "", false, false},
		{"frozen waits", stepPromotion("frozen", 7), Deferred, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm, err := f.p.resolve(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.p.gate(ctx, pm)
			if _, deferred := retry.Deferred(err); deferred != tc.deferred || retry.IsPermanent(err) != tc.permanent {
				t.Fatalf("gate error = %v; want deferred %v, permanent %v", err, tc.deferred, tc.permanent)
			}
			if tc.deferred && !errors.Is(err, ErrFrozen) {
				t.Errorf("gate error = %v, want ErrFrozen", err)
			}
			action := ""
			if out != nil {
				action = out.Action
			}
			if action != tc.action {
				t.Errorf("gate action = %q, want %q", action, tc.action)
			}
			if tc.action == "" && !tc.permanent && (pm.deployed == nil || pm.deployed.Digest != stepDigest(5)) {
				t.Errorf("gate left deployed = %v, want the released %s", pm.deployed, short(stepDigest(5)))
			}
		})
	}
}

// TestProposeAndPublish drives propose and publish alone: the first run
// pushes and opens; the same again pushes nothing and leaves the pull
// request as it is; the digest the base branch holds is ErrNoChanges.
func TestProposeAndPublish(t *testing.T) {
	ctx := context.Background()
	f := newStepFixture(t)
	// What gate would have found: the rollback command the body prints
	// names it, with the selector.
	released := &state.Release{ID: ReleaseID("web", "prod", stepDigest(1)), App: "web", Env: "prod", Digest: stepDigest(1), State: state.Merged, PR: 1}
	run := func(in event.Promotion) (*gitops.Commit, string, error) {
		t.Helper()
		pm, err := f.p.resolve(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pm.deployed = released
		commit, changes, err := f.p.propose(ctx, pm)
		if err != nil {
			return nil, "", err
		}
		if len(changes) != 1 || changes[0].File != "envs/prod/kustomization.yaml" {
			t.Errorf("changes = %v, want the prod kustomization's digest", changes)
		}
		pr, action, err := f.p.publish(ctx, pm, changes)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(pr.Body, "--stack demo") || !strings.Contains(pr.Body, short(in.Digest)) {
			t.Errorf("body does not carry the selector and the digest:\n%s", pr.Body)
		}
		return commit, action, nil
	}
	first, action, err := run(stepPromotion("prod", 2))
	if err != nil || action != Opened || !first.Changed {
		t.Fatalf("first = %v, %s, %v; want a pushed commit and Opened", first, action, err)
	}
	again, action, err := run(stepPromotion("prod", 2))
	if err != nil || action != Current || again.Changed || again.SHA != first.SHA {
		t.Fatalf("again = %+v, %s, %v; want the same commit, nothing pushed, Current", again, action, err)
	}
	next, action, err := run(stepPromotion("prod", 3))
	if err != nil || action != Updated || next.SHA == first.SHA {
		t.Fatalf("newer = %+v, %s, %v; want a new commit and Updated", next, action, err)
	}
	if _, _, err := run(stepPromotion("prod", 1)); !errors.Is(err, gitops.ErrNoChanges) {
		t.Fatalf("the base branch's digest: %v, want gitops.ErrNoChanges", err)
	}
}

// TestRecordAndRelease drives record and release alone: the release holds
// the pushed head and the override; a newer proposal supersedes the older
// one; release: auto merges, manual does not.
func TestRecordAndRelease(t *testing.T) {
	ctx := context.Background()
	f := newStepFixture(t)
	step := func(in event.Promotion) (*promotion, *Outcome) {
		t.Helper()
		pm, err := f.p.resolve(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := f.p.gate(ctx, pm); out != nil || err != nil {
			t.Fatalf("gate = %v, %v", out, err)
		}
		commit, changes, err := f.p.propose(ctx, pm)
		if err != nil {
			t.Fatal(err)
		}
		pr, action, err := f.p.publish(ctx, pm, changes)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := f.p.record(ctx, pm, pr, commit)
		if err != nil {
			t.Fatal(err)
		}
		if rel.HeadSHA != commit.SHA || rel.PR != pr.Number || rel.State != state.Proposed {
			t.Errorf("record = head %s pr %d state %s; want head %s pr %d proposed", rel.HeadSHA, rel.PR, rel.State, commit.SHA, pr.Number)
		}
		return pm, &Outcome{Action: action, PR: pr, Release: rel}
	}

	forced := stepPromotion("prod", 2)
	forced.Force, forced.Reason, forced.By = true, "hotfix", "bob"
	pm, out := step(forced)
	if out.Release.Override != "override by bob: hotfix" {
		t.Errorf("override = %q", out.Release.Override)
	}
	if err := f.p.release(ctx, pm, out); err != nil || out.Action != Opened {
		t.Fatalf("manual release = %v, action %s; want nothing merged", err, out.Action)
	}
	_, newer := step(stepPromotion("prod", 3))
	old, err := f.store.GetRelease(ctx, out.Release.ID)
	if err != nil || old.State != state.Superseded || !strings.Contains(old.Note, fmt.Sprint(newer.PR.Number)) {
		t.Errorf("older proposal = %s %q, %v; want superseded naming #%d", old.State, old.Note, err, newer.PR.Number)
	}

	pm, out = step(stepPromotion("dev", 4))
	if err := f.p.release(ctx, pm, out); err != nil || out.Action != Merged {
		t.Fatalf("auto release = %v, action %s; want Merged", err, out.Action)
	}
	pr, err := f.forge.Get(ctx, out.PR.Number)
	if err != nil || pr.State != "merged" {
		t.Errorf("pull request after release: %+v, %v; want merged", pr, err)
	}
}
