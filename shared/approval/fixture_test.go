package approval_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/approval"
	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/forge/localforge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/sqlitedb"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/state/sqlitestate"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const (
	webImage = "registry.example.com/acme/web"
	apiImage = "registry.example.com/acme/api"
	repoName = "local/gitops"
)

// pipelineYAML: web goes dev → staging automatically and to prod with two
// of alice, bob and the acme/sre team; api goes dev → prod with carol.
const pipelineYAML = `version: 1
apps:
  - name: web
    source: {repo: acme/web}
    image: ` + webImage + `
    environments:
      - {name: dev, path: envs/dev, strategy: kustomize, release: auto}
      - {name: staging, path: envs/staging, strategy: kustomize, release: auto}
      - {name: prod, path: envs/prod, strategy: kustomize, release: manual, reviewers: [alice, Bob, acme/sre], approvals: 2}
  - name: api
    source: {repo: acme/api}
    image: ` + apiImage + `
    environments:
      - {name: dev, path: envs/api-dev, strategy: kustomize, release: auto}
      - {name: prod, path: envs/api-prod, strategy: kustomize, release: manual, reviewers: [carol]}
`

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// sent records the promotions the approver enqueues, and forwards them to
// the real queue.
type sent struct {
	queue.Sender
	mu  sync.Mutex
	all []event.Promotion
}

func (s *sent) Send(ctx context.Context, in queue.SendInput) (string, error) {
	env, err := event.Decode(in.Body)
	if err != nil {
		return "", err
	}
	var p event.Promotion
	if err := env.DecodePayload(&p); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.all = append(s.all, p)
	s.mu.Unlock()
	return s.Sender.Send(ctx, in)
}

func (s *sent) take() []event.Promotion {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.all
	s.all = nil
	return out
}

// fixture is the approval function and the promoter over a real GitOps
// repository, its local forge (guarded by the release policy) and the
// embedded store and queues.
type fixture struct {
	a          *approval.Approver
	p          *promote.Promoter
	lf         *localforge.Forge
	store      *sqlitestate.Store
	repo       *demo.Repo
	cfg        *config.Config
	approvals  *sqlitequeue.Queue
	promotions *sqlitequeue.Queue
	sent       *sent
	// delivered are the review events the forge emitted, in order.
	delivered []event.Review
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(filepath.Join(dir, "web"), webImage)
	files["conveyor.yaml"] = pipelineYAML
	api := strings.ReplaceAll(files["base/deployment.yaml"], webImage, apiImage)
	files["api-base/deployment.yaml"] = strings.ReplaceAll(api, "web", "api")
	files["api-base/kustomization.yaml"] = files["base/kustomization.yaml"]
	for _, env := range []string{"dev", "prod"} {
		k := strings.ReplaceAll(files["envs/"+env+"/kustomization.yaml"], webImage, apiImage)
		files["envs/api-"+env+"/kustomization.yaml"] = strings.Replace(k, "../../base", "../../api-base", 1)
	}
	if _, err := repo.Commit(files, "init", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := repo.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(pipelineYAML))
	if err != nil {
		t.Fatal(err)
	}
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
	promotions, _ := b.Queue(queue.Promotions)
	g, err := gitops.New(repo.Dir, "main", nil, object.Signature{Name: "Conveyor", Email: "conveyor@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	source := func(context.Context) (*config.Config, error) { return cfg, nil }
	teams := teamsFn(func(org, team, user string) bool { return org+"/"+team == "acme/sre" && user == "sre-sam" })
	lf, err := localforge.New(ctx, db, g, repo.Dir, repoName, approvals, localforge.WithProtection(approval.Protection(source, teams, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	s := &sent{Sender: promotions}
	f := &fixture{
		a:  &approval.Approver{Config: source, Releases: store, Forge: lf, Teams: teams, Promotions: s, Repository: repoName, Now: now},
		p:  &promote.Promoter{Config: source, Releases: store, Repo: g, Forge: lf, Now: now},
		lf: lf, store: store, repo: repo, cfg: cfg, approvals: approvals, promotions: promotions, sent: s,
	}
	return f
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type teamsFn func(org, team, user string) bool

func (fn teamsFn) IsTeamMember(_ context.Context, org, team, user string) (bool, error) {
	return fn(org, team, user), nil
}

// promotion is a build of app with number n, made at hour n.
func promotion(app, env string, n int) event.Promotion {
	img := webImage
	if app == "api" {
		img = apiImage
	}
	return event.Promotion{App: app, Environment: env, Image: img, Digest: digest(n), Tag: fmt.Sprintf("sha-%d", n),
		Source: "acme/" + app, Revision: fmt.Sprintf("%040d", n), Created: time.Date(2026, 11, 20, n, 0, 0, 0, time.UTC)}
}

// deliver hands every review event the forge emitted to the approver, as
// the approvals queue does, and returns the first error.
func (f *fixture) deliver(t *testing.T) error {
	t.Helper()
	ctx := context.Background()
	var first error
	for {
		msgs, err := f.approvals.Receive(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return first
		}
		for _, m := range msgs {
			env, err := event.Decode(m.Body)
			if err != nil {
				t.Fatal(err)
			}
			var r event.Review
			if err := env.DecodePayload(&r); err != nil {
				t.Fatal(err)
			}
			f.delivered = append(f.delivered, r)
			if err := f.a.Handle(ctx, r); err != nil && first == nil {
				first = err
			}
			_ = f.approvals.Delete(ctx, m.ReceiptHandle)
		}
	}
}

// settle runs the pipeline until it rests: promotions the approver
// enqueued are promoted, the forge's events delivered, and again.
func (f *fixture) settle(t *testing.T) {
	t.Helper()
	for i := 0; i < 10; i++ {
		if err := f.deliver(t); err != nil {
			t.Fatalf("delivering review events: %v", err)
		}
		next := f.sent.take()
		if len(next) == 0 {
			return
		}
		for _, p := range next {
			if _, err := f.p.Promote(context.Background(), p); err != nil {
				t.Fatalf("promoting %s to %s: %v", p.Digest, p.Environment, err)
			}
		}
	}
	t.Fatal("the pipeline did not settle")
}

// promote runs one promotion and the pipeline after it.
func (f *fixture) promote(t *testing.T, in event.Promotion) *promote.Outcome {
	t.Helper()
	out, err := f.p.Promote(context.Background(), in)
	if err != nil {
		t.Fatalf("promoting %s to %s: %v", in.Digest, in.Environment, err)
	}
	f.settle(t)
	return out
}

// pinned returns the digest the base branch pins in path.
func (f *fixture) pinned(t *testing.T, path string) string {
	t.Helper()
	data, _, err := gitops.ReadFile(context.Background(), f.repo.Dir, "main", path+"/kustomization.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, d, ok := strings.Cut(string(data), "digest: ")
	if !ok {
		return ""
	}
	d, _, _ = strings.Cut(d, "\n")
	return strings.TrimSpace(d)
}

// release returns the one release of app/env in state st with digest.
func (f *fixture) release(t *testing.T, app, env, digest string, st state.ReleaseState) state.Release {
	t.Helper()
	rels, err := f.store.ListReleases(context.Background(), state.ReleaseFilter{App: app, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	var found []state.Release
	for _, r := range rels {
		if r.Digest == digest && r.State == st {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s releases of %s in %s/%s, want 1; all: %+v", len(found), st, digest, app, env, rels)
	}
	return found[0]
}

// approve records user's approval of #n on the forge (its event is
// delivered by the next deliver or settle).
func (f *fixture) approve(t *testing.T, n int, user string) {
	t.Helper()
	if err := f.lf.Approve(context.Background(), n, user); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) pr(t *testing.T, n int) *forge.PR {
	t.Helper()
	pr, err := f.lf.Get(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}
