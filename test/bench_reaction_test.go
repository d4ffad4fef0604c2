package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// BenchmarkReaction measures what polling tools take minutes for: from a
// registry's push notification to the promotion pull request, on the local
// runtime with GitOps repositories of 100, 1,000 and 10,000 apps (one
// environment each), so that the cost's growth with the repository shows.
// Each iteration pushes one image of a different app and waits for its PR;
// p50 and p95 are reported. The first reaction after start, which fills
// the runtime's object cache with the whole tree, is reported apart as
// cold-ms and left out of the percentiles.
//
// The last two cases have three environments per app written once as a
// template, so conveyor.yaml stays small (config-KB) while the tree holds
// 30,000 overlays: the apps listed one line each, or discovered from the
// tree by one rule.
func BenchmarkReaction(b *testing.B) {
	for _, apps := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("apps=%d", apps), func(b *testing.B) { benchmarkReaction(b, apps, []string{"dev"}, false) })
	}
	b.Run("apps=10000/envs=3/template", func(b *testing.B) {
		benchmarkReaction(b, 10000, []string{"dev", "staging", "prod"}, false)
	})
	b.Run("apps=10000/envs=3/discover", func(b *testing.B) {
		benchmarkReaction(b, 10000, []string{"dev", "staging", "prod"}, true)
	})
}

// reactionConfig is conveyor.yaml for apps apps: one environment written
// per app, or several through a template, the apps listed or discovered.
func reactionConfig(host string, apps int, envs []string, discover bool) string {
	var cfg strings.Builder
	cfg.WriteString("version: 1\n")
	if len(envs) > 1 {
		cfg.WriteString("defaults: {template: chain}\ntemplates:\n  - name: chain\n    environments:\n")
		for _, env := range envs {
			fmt.Fprintf(&cfg, "      - {name: %s, path: \"apps/{app}/%s\", release: manual, reviewers: [alice]}\n", env, env)
		}
	}
	if discover {
		fmt.Fprintf(&cfg, "discover:\n  - {pattern: \"apps/{app}/{env}\", image: \"%s/acme/{app}\", source: {repo: \"acme/{app}\"}}\n", host)
		return cfg.String()
	}
	cfg.WriteString("apps:\n")
	for i := 0; i < apps; i++ {
		app := fmt.Sprintf("app-%05d", i)
		fmt.Fprintf(&cfg, "  - {name: %s, source: {repo: acme/%s}, image: %s/acme/%s", app, app, host, app)
		if len(envs) == 1 {
			fmt.Fprintf(&cfg, ", environments: [{name: %s, path: apps/%s/%s, release: manual, reviewers: [alice]}]", envs[0], app, envs[0])
		}
		cfg.WriteString("}\n")
	}
	return cfg.String()
}

func benchmarkReaction(b *testing.B, apps int, envs []string, discover bool) {
	ctx := context.Background()
	dir := b.TempDir()
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), RegistryAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), PollInterval: 20 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	reg, _ := rt.ListenRegistry()
	host := reg.String()

	repo, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]string{}
	for i := 0; i < apps; i++ {
		app := fmt.Sprintf("app-%05d", i)
		for _, env := range envs {
			files["apps/"+app+"/"+env+"/kustomization.yaml"] = fmt.Sprintf("resources:\n  - deployment.yaml\nimages:\n  - name: %s/acme/%s\n", host, app)
			files["apps/"+app+"/"+env+"/deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s/acme/%s:bootstrap\n", app, app, host, app)
		}
	}
	files["conveyor.yaml"] = reactionConfig(host, apps, envs, discover)
	if _, err := repo.Commit(files, fmt.Sprintf("%d apps", apps), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	if err := repo.AcceptPushes(); err != nil {
		b.Fatal(err)
	}
	// The repository is packed, as a hosted one is: 10,000 apps written
	// as loose objects would make every git process read thousands of
	// files, and start a background gc that outlives the benchmark.
	for _, args := range [][]string{{"repack", "-adq"}, {"config", "gc.auto", "0"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo.Dir}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v: %s", args, err, out)
		}
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
	defer func() { stop(); <-done }()

	var lat []time.Duration
	var cold time.Duration
	b.ResetTimer()
	for i := 0; i <= b.N; i++ {
		app := fmt.Sprintf("app-%05d", (i*37)%apps)
		img, _ := random.Image(256, 1)
		img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.revision": fmt.Sprintf("%040d", i),
			"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)}).(v1.Image)
		ref, _ := name.ParseReference(fmt.Sprintf("%s/acme/%s:sha-%012d", host, app, i))
		if err := remote.Write(ref, img); err != nil {
			b.Fatal(err)
		}
		// remote.Write returns after the manifest PUT, whose notification
		// the registry delivers before answering: the clock starts here.
		start := time.Now()
		branch := promote.Branch(app, "dev")
		for {
			if _, err := g.Forge.FindOpen(ctx, branch); err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("no PR for %s after 30 s", app)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if i == 0 {
			cold = time.Since(start)
			continue
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(q(0.50).Seconds()*1000, "p50-ms")
	b.ReportMetric(q(0.95).Seconds()*1000, "p95-ms")
	b.ReportMetric(cold.Seconds()*1000, "cold-ms")
	b.ReportMetric(float64(len(files["conveyor.yaml"]))/1024, "config-KB")
}
