package test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/event"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/lineage"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// chain is the whole local pipeline: every function, the embedded
// registry, a source repository and a GitOps repository with the local
// forge.
type chain struct {
	*pipeline
	g      *local.GitOps
	gitops *demo.Repo
}

func newChain(t *testing.T) *chain {
	t.Helper()
	return newChainConfig(t, func(yaml string) string { return yaml })
}

// newChainConfig is newChain with the demo's conveyor.yaml edited by edit.
func newChainConfig(t *testing.T, edit func(yaml string) string) *chain {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		GitHubSecret: []byte(demo.Secret), Logger: slog.New(logging.Wrap(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := rt.ListenRegistry()
	addr, _ := rt.Listen()
	c := &chain{pipeline: &pipeline{t: t, rt: rt, image: reg.String() + "/demo/web", ingress: "http://" + addr.String(), logs: logs}}
	if c.app, err = demo.InitRepo(filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	if c.gitops, err = demo.InitRepo(filepath.Join(dir, "gitops")); err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(c.app.Dir, c.image)
	files["conveyor.yaml"] = edit(files["conveyor.yaml"])
	if _, err := c.gitops.Commit(files, "pipeline", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := c.gitops.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	source := local.PipelineSource(c.gitops.Dir, "main")
	if c.g, err = rt.OpenGitOps(ctx, c.gitops.Dir, source); err != nil {
		t.Fatal(err)
	}
	if err := rt.RegisterAll(local.FunctionNames(), source, c.g, rt.Logger()); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		rt.Close()
		if t.Failed() {
			t.Logf("runtime logs:\n%s", logs.String())
		}
	})
	return c
}

func (c *chain) releases(env string) []state.Release {
	c.t.Helper()
	rels, err := c.rt.State.ListReleases(context.Background(), state.ReleaseFilter{App: "web", Env: env})
	if err != nil {
		c.t.Fatal(err)
	}
	return rels
}

// deployed is the digest the base branch's manifests pin for env.
func (c *chain) deployed(env string) string {
	c.t.Helper()
	data, _, err := gitops.ReadFile(context.Background(), c.gitops.Dir, "main", "envs/"+env+"/kustomization.yaml", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "digest: "); ok {
			return d
		}
	}
	return ""
}

func (c *chain) openPR() *forge.PR {
	c.t.Helper()
	prs, err := c.g.Local.List(context.Background(), forge.StateOpen)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(prs) != 1 {
		c.t.Fatalf("%d open pull requests, want 1", len(prs))
	}
	return prs[0]
}

// TestChain is the full chain on embedded defaults, step by step: push →
// build → registry notification → dev merged → staging merged → prod waiting;
// a reviewer who is not listed cannot release prod, alice can; the digest is
// the same everywhere; then a second change and a rollback, which the
// metrics count.
func TestChain(t *testing.T) {
	ctx := context.Background()
	c := newChain(t)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	sha1 := c.push(demo.AppFiles(), t0)
	c.settle()
	digest1, err := c.digestOf("sha-" + sha1[:12])
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "staging"} {
		if got := c.deployed(env); got != digest1 {
			t.Fatalf("%s runs %q, want the built digest %s", env, got, digest1)
		}
	}
	if got := c.deployed("prod"); got != "" {
		t.Fatalf("prod changed before approval: %s", got)
	}
	pr := c.openPR()
	if pr.Branch != promote.Branch("web", "prod") {
		t.Fatalf("open PR on %s, want the prod branch", pr.Branch)
	}

	// bob is not a listed reviewer of prod: nothing merges.
	if err := c.g.Local.Approve(ctx, pr.Number, "bob"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	if got, _ := c.g.Local.Get(ctx, pr.Number); got.State != forge.StateOpen {
		t.Fatalf("bob's approval merged #%d", pr.Number)
	}
	if err := c.g.Local.Approve(ctx, pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	if got, _ := c.g.Local.Get(ctx, pr.Number); got.State != forge.StateMerged || got.MergedBy != "conveyor" {
		t.Fatalf("after alice's approval #%d is %s", pr.Number, got.State)
	}
	// The release names everyone who approved the merged head (bob's
	// approval did not count, but he gave it) and who merged.
	if rels := c.releases("prod"); len(rels) != 1 || strings.Join(rels[0].ApprovedBy, ",") != "alice,bob" || rels[0].MergedBy != "conveyor" {
		t.Fatalf("prod releases %+v, want one approved by alice and bob and merged by conveyor", rels)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if got := c.deployed(env); got != digest1 {
			t.Fatalf("%s runs %s, want %s everywhere (byte-for-byte the digest that passed dev)", env, got, digest1)
		}
		rels := c.releases(env)
		if len(rels) != 1 || rels[0].State != state.Merged || rels[0].SourceCommit != sha1 {
			t.Fatalf("%s releases %+v, want one merged release of %s", env, rels, sha1[:12])
		}
	}
	// One trace from the push webhook to the prod release.
	traces := map[string]bool{}
	for _, env := range []string{"dev", "staging", "prod"} {
		traces[c.releases(env)[0].TraceID] = true
	}
	if len(traces) != 1 {
		t.Fatalf("releases carry %d trace ids, want the push's one: %v", len(traces), traces)
	}

	// A second change goes all the way, then prod is rolled back.
	files := demo.AppFiles()
	files["app/index.html"] = "<h1>v2</h1>\n"
	sha2 := c.push(files, t0.Add(time.Hour))
	c.settle()
	pr2 := c.openPR()
	if err := c.g.Local.Approve(ctx, pr2.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	digest2, _ := c.digestOf("sha-" + sha2[:12])
	if got := c.deployed("prod"); got != digest2 || digest2 == digest1 {
		t.Fatalf("prod runs %s, want the second digest %s", got, digest2)
	}

	p := &promote.Promoter{Config: promote.ConfigSource(c.g.Config), Releases: c.rt.State, Repo: c.g, Forge: c.g.Forge}
	out, err := p.Promote(ctx, event.Promotion{App: "web", Environment: "prod", Image: c.image, Digest: digest1, Rollback: true,
		Revision: sha1, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != promote.Opened {
		t.Fatalf("rollback: %s, want a new PR", out.Action)
	}
	if err := c.g.Local.Approve(ctx, out.PR.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	if got := c.deployed("prod"); got != digest1 {
		t.Fatalf("after the rollback prod runs %s, want %s", got, digest1)
	}

	cfg, _ := c.g.Config(ctx)
	rels, _ := c.rt.State.ListReleases(ctx, state.ReleaseFilter{})
	m := lineage.Compute(cfg, rels, t0.Add(-time.Hour), time.Now().Add(time.Hour))
	if m.Deployments != 2 || m.Rollbacks != 1 || m.ChangeFailureRate != 0.5 || m.LeadTime <= 0 {
		t.Fatalf("metrics %+v, want 2 deployments, 1 rollback, CFR 0.5 and a lead time", m)
	}
	hist := lineage.History(&cfg.Apps[0], rels)
	if len(hist) != 2 {
		t.Fatalf("history has %d images, want 2", len(hist))
	}
	var envs []string
	for _, s := range hist[1].Steps {
		envs = append(envs, s.Env)
	}
	sort.Strings(envs)
	if strings.Join(envs, ",") != "dev,prod,prod,staging" {
		t.Fatalf("first image's steps %v, want dev, staging, prod and the prod rollback", envs)
	}
	if s, _ := c.rt.QueueStats(ctx); s[queue.Promotions].Dead+s[queue.Approvals].Dead+s[queue.Builds].Dead+s[queue.Images].Dead != 0 {
		t.Fatalf("dead letters after a clean run: %+v", s)
	}
	_ = io.Discard
}
