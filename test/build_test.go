package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pipeline is a local runtime with the embedded registry, a source
// repository and a conveyor.yaml, driven through the real ingress.
type pipeline struct {
	t        *testing.T
	rt       *local.Runtime
	app      *demo.Repo
	image    string
	ingress  string
	gitops   string
	logs     *bytes.Buffer
	delivery int
}

func newPipeline(t *testing.T, functions []string, conveyorYAML func(appRepo, image string) string) *pipeline {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	rt, err := local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		GitHubSecret: []byte(demo.Secret), Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := rt.ListenRegistry()
	addr, _ := rt.Listen()
	p := &pipeline{t: t, rt: rt, image: reg.String() + "/demo/web", ingress: "http://" + addr.String(), logs: logs}
	if p.app, err = demo.InitRepo(filepath.Join(dir, "web")); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "conveyor.yaml")
	p.gitops = cfgPath
	writeFile(t, cfgPath, conveyorYAML(p.app.Dir, p.image))
	source := func(context.Context) (*config.Config, error) { return config.Load(cfgPath) }
	if err := rt.RegisterAll(functions, source, nil, rt.Logger()); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		rt.Close()
		if t.Failed() {
			t.Logf("runtime logs:\n%s", logs.String())
		}
	})
	return p
}

// push commits files to the app repository and sends the signed webhook.
func (p *pipeline) push(files map[string]string, when time.Time) string {
	p.t.Helper()
	c, err := p.app.Commit(files, "change", when)
	if err != nil {
		p.t.Fatal(err)
	}
	var changed []string
	for f := range files {
		changed = append(changed, f)
	}
	body := demo.PushWebhook("demo/web", p.app.Dir, "main", "", c, changed)
	p.delivery++
	req, _ := http.NewRequest(http.MethodPost, p.ingress+webhook.PathGitHub, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("delivery-%d", p.delivery))
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(demo.Secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("push webhook answered %d: %s", resp.StatusCode, b)
	}
	return c.Hash.String()
}

// settle waits until the consumed queues are empty.
func (p *pipeline) settle() map[string]local.QueueStats {
	p.t.Helper()
	var stats map[string]local.QueueStats
	waitFor(p.t, "the pipeline to settle", 60*time.Second, func() bool {
		var err error
		stats, err = p.rt.QueueStats(context.Background())
		if err != nil {
			p.t.Fatal(err)
		}
		for _, q := range p.rt.Consumed() {
			if s := stats[q]; s.Visible+s.InFlight+s.Delayed > 0 {
				return false
			}
		}
		return true
	})
	return stats
}

func (p *pipeline) digestOf(tag string) (string, error) {
	ref, err := name.ParseReference(p.image + ":" + tag)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(ref)
	if err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}

func simpleConfig(appRepo, image string) string {
	return fmt.Sprintf(`version: 1
apps:
  - name: web
    source: {repo: %s, branch: main}
    image: %s
    environments:
      - {name: dev, path: envs/dev, release: auto}
`, appRepo, image)
}

// TestBuildFunction drives the build function through the local runtime:
// push → image in the embedded registry, announced to the images queue;
// the same commit again pushes nothing; a Dockerfile with RUN goes to the
// dead-letter queue on its first attempt with the reason.
func TestBuildFunction(t *testing.T) {
	p := newPipeline(t, []string{"build"}, simpleConfig)
	when := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	sha := p.push(demo.AppFiles(), when)
	stats := p.settle()
	digest, err := p.digestOf("sha-" + sha[:12])
	if err != nil {
		t.Fatalf("image for %s not in the registry: %v", sha[:12], err)
	}
	if stats[queue.Images].Visible == 0 {
		t.Fatalf("the registry's notification did not reach the images queue: %+v", stats)
	}
	if _, err := p.digestOf("latest"); err == nil {
		t.Fatal("the build pushed a latest tag")
	}
	img, err := remote.Image(mustRef(t, p.image+"@"+digest))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if got := m.Annotations["org.opencontainers.image.revision"]; got != sha {
		t.Errorf("revision annotation %q, want %s", got, sha)
	}
	if got := m.Annotations["org.opencontainers.image.created"]; got != when.Format(time.RFC3339) {
		t.Errorf("created annotation %q, want the commit time %s", got, when.Format(time.RFC3339))
	}

	// A redelivered push with a new delivery id (a replay) builds nothing new.
	before := stats[queue.Images].Visible
	p.delivery += 100
	body := demo.PushWebhook("demo/web", p.app.Dir, "main", "", mustCommit(t, p, sha), nil)
	postSigned(t, p.ingress, "replayed-delivery", body)
	stats = p.settle()
	if stats[queue.Images].Visible != before {
		t.Errorf("rebuilding the same commit notified the registry again: %d → %d", before, stats[queue.Images].Visible)
	}
	if !strings.Contains(p.logs.String(), `"already built"`) {
		t.Errorf("the second build did not find the first one's record")
	}

	// RUN needs a container runtime: refused, dead-lettered at once.
	files := demo.AppFiles()
	files["Dockerfile"] = "FROM scratch\nCOPY app/ /srv/\nRUN chmod +x /srv/server\n"
	p.push(files, when.Add(time.Hour))
	stats = p.settle()
	if stats[queue.Builds].Dead != 1 {
		t.Fatalf("builds dead letters = %d, want 1: %+v", stats[queue.Builds].Dead, stats)
	}
	dead, err := p.rt.Queues.DeadLetters(context.Background(), queue.Builds)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
	if !strings.Contains(dead[0].Reason, "Dockerfile:3: RUN is not supported") || dead[0].ReceiveCount != 1 || dead[0].SourceQueue != queue.Builds {
		t.Fatalf("dead letter from %q after %d receives with reason %q", dead[0].SourceQueue, dead[0].ReceiveCount, dead[0].Reason)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func postSigned(t *testing.T, base, delivery string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+webhook.PathGitHub, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(demo.Secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var r webhook.Response
	_ = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d %+v", resp.StatusCode, r)
	}
}
