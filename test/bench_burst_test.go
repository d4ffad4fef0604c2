package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Burst shape: 50 image pushes across 10 apps, each promoted dev (auto) →
// staging (auto) → prod (manual).
const (
	burstApps   = 10
	burstPushes = 50
)

var burstEnvs = []string{"dev", "staging", "prod"}

// BenchmarkBurst measures coalescing: a burst of 50 image pushes to 10
// apps (what 50 builds announce), interleaved, on the local runtime. It
// reports the pull request updates per app and environment (proposals, max
// and mean), the time until every environment has settled on each app's
// newest digest, and counts lost work (an environment not on the newest
// digest) and regressions (an environment merged back to an older one);
// both must be 0. It runs without a settle window (only work already
// queued behind newer work is coalesced) and with a 2 s one.
func BenchmarkBurst(b *testing.B) {
	for _, window := range []time.Duration{0, 2 * time.Second} {
		b.Run("settle="+window.String(), func(b *testing.B) { benchBurst(b, window) })
	}
}

func benchBurst(b *testing.B, window time.Duration) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newBurstRun(b, window)
		b.StartTimer()
		start := time.Now()
		newest := r.push(b)
		r.waitSettled(b, newest)
		settled := time.Since(start)
		b.StopTimer()
		maxUpdates, meanUpdates, lost, regressions := r.score(b, newest)
		r.close()
		b.ReportMetric(float64(maxUpdates), "max-updates/app-env")
		b.ReportMetric(meanUpdates, "updates/app-env")
		b.ReportMetric(settled.Seconds(), "settle-s")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(regressions), "regressions")
		if lost+regressions > 0 {
			b.Fatalf("%d lost, %d regressions, want 0", lost, regressions)
		}
	}
}

type burstRun struct {
	rt    *local.Runtime
	g     *local.GitOps
	host  string
	close func()
}

func newBurstRun(b *testing.B, window time.Duration) *burstRun {
	ctx := context.Background()
	dir := b.TempDir()
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), RegistryAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	reg, _ := rt.ListenRegistry()
	host := reg.String()
	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]string{}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 1\nsettle: %s\napps:\n", window)
	for a := range burstApps {
		app := fmt.Sprintf("app-%02d", a)
		fmt.Fprintf(&cfg, "  - name: %s\n    source: {repo: acme/%s}\n    image: %s/acme/%s\n    environments:\n", app, app, host, app)
		for _, env := range burstEnvs {
			policy := "release: auto"
			if env == "prod" {
				policy = "reviewers: [alice]"
			}
			fmt.Fprintf(&cfg, "      - {name: %s, path: apps/%s/%s, %s}\n", env, app, env, policy)
			files["apps/"+app+"/"+env+"/kustomization.yaml"] = fmt.Sprintf("resources:\n  - deployment.yaml\nimages:\n  - name: %s/acme/%s\n", host, app)
			files["apps/"+app+"/"+env+"/deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s/acme/%s:bootstrap\n", app, app, host, app)
		}
	}
	files["conveyor.yaml"] = cfg.String()
	if _, err := repo.Commit(files, "10 apps", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	if err := repo.AcceptPushes(); err != nil {
		b.Fatal(err)
	}
	source := local.PipelineSource(repo.Dir, "main")
	g, err := rt.OpenGitOps(ctx, repo.Dir, source)
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.RegisterAll([]string{"registry", "promote", "approval"}, source, g, rt.Logger()); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	return &burstRun{rt: rt, g: g, host: host, close: func() { stop(); <-done; rt.Close() }}
}

// push sends the burst, apps interleaved, each app's images newer by
// build time, and returns each app's newest digest.
func (r *burstRun) push(b *testing.B) map[string]string {
	newest := map[string]string{}
	t0 := time.Now().UTC().Add(-time.Hour)
	for i := range burstPushes {
		app := fmt.Sprintf("app-%02d", i%burstApps)
		img, _ := random.Image(256, 1)
		img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.revision": fmt.Sprintf("%040d", i),
			"org.opencontainers.image.created": t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339)}).(v1.Image)
		ref, _ := name.ParseReference(fmt.Sprintf("%s/acme/%s:sha-%012d", r.host, app, i))
		if err := remote.Write(ref, img); err != nil {
			b.Fatal(err)
		}
		d, _ := img.Digest()
		newest[app] = d.String()
	}
	return newest
}

// waitSettled waits until dev and staging run each app's newest digest and
// prod has it proposed, with the queues empty.
func (r *burstRun) waitSettled(b *testing.B, newest map[string]string) {
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if r.onNewest(b, newest) == 0 {
			stats, err := r.rt.QueueStats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			busy := 0
			for _, q := range r.rt.Consumed() {
				busy += stats[q].Visible + stats[q].InFlight + stats[q].Delayed
			}
			if busy == 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("the burst did not settle within 3 minutes")
}

// onNewest counts the app environments not (yet) on their newest digest:
// merged in dev and staging, proposed in prod.
func (r *burstRun) onNewest(b *testing.B, newest map[string]string) int {
	rels, err := r.rt.State.ListReleases(context.Background(), state.ReleaseFilter{})
	if err != nil {
		b.Fatal(err)
	}
	on := map[string]bool{}
	for _, rel := range rels {
		want := state.Merged
		if rel.Env == "prod" {
			want = state.Proposed
		}
		if rel.State == want && rel.Digest == newest[rel.App] {
			on[rel.App+"/"+rel.Env] = true
		}
	}
	return burstApps*len(burstEnvs) - len(on)
}

// score returns the proposals per app/env (max and mean), the app
// environments not on their newest digest, and the merges that moved an
// environment back.
func (r *burstRun) score(b *testing.B, newest map[string]string) (maxUpdates int, mean float64, lost, regressions int) {
	rels, err := r.rt.State.ListReleases(context.Background(), state.ReleaseFilter{})
	if err != nil {
		b.Fatal(err)
	}
	updates := map[string]int{}
	merged := map[string][]state.Release{}
	for _, rel := range rels {
		key := rel.App + "/" + rel.Env
		if rel.PR != 0 {
			updates[key]++
		}
		if rel.State == state.Merged {
			merged[key] = append(merged[key], rel)
		}
	}
	total := 0
	for _, n := range updates {
		maxUpdates = max(maxUpdates, n)
		total += n
	}
	for _, ms := range merged {
		sort.Slice(ms, func(i, j int) bool { return ms[i].MergedAt.Before(ms[j].MergedAt) })
		for i := 1; i < len(ms); i++ {
			if ms[i].SourceTime.Before(ms[i-1].SourceTime) {
				regressions++
			}
		}
	}
	return maxUpdates, float64(total) / float64(burstApps*len(burstEnvs)), r.onNewest(b, newest), regressions
}
