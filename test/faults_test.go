package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/replay"
	"github.com/conveyor-gitops/conveyor/shared/retry"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fleet is the local pipeline for several apps, each with its own source
// repository, promoted dev (auto) → staging (auto) → prod (manual).
type fleet struct {
	t      *testing.T
	rt     *local.Runtime
	g      *local.GitOps
	gitops *demo.Repo
	apps   map[string]*demo.Repo
	host   string
	// direct is the registry itself, for the test's own reads: host may
	// be a proxy that injects faults.
	direct  string
	ingress string
	logs    *bytes.Buffer
}

func newFleet(t *testing.T, names []string, wrap func(forge.Forge) forge.Forge) *fleet {
	t.Helper()
	return newFleetWith(t, names, fleetOptions{wrapForge: wrap})
}

type fleetOptions struct {
	wrapForge func(forge.Forge) forge.Forge
	// registryFaults is the share of registry requests a proxy in front of
	// the embedded registry fails with 503 or 429.
	registryFaults float64
}

func newFleetWith(t *testing.T, names []string, o fleetOptions) *fleet {
	t.Helper()
	wrap := o.wrapForge
	ctx := context.Background()
	dir := t.TempDir()
	f := &fleet{t: t, apps: map[string]*demo.Repo{}, logs: &bytes.Buffer{}}
	var err error
	f.rt, err = local.Open(ctx, local.Options{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		GitHubSecret: []byte(demo.Secret), PollInterval: 10 * time.Millisecond, Backoff: retry.Backoff{Base: 10 * time.Millisecond, Max: 40 * time.Millisecond},
		// Registry retries in place, as go-containerregistry does by
		// default, but on a test's time scale. A blob upload is retried
		// whole (POST, PATCH, PUT: 49% of tries hit a fault at 20%), so
		// with 4 tries one upload in 17 failed, a build attempt (about
		// five uploads) one in four, and about one run in ten had a build
		// use up its five receives within the queue's 40 ms backoff. With
		// 6 tries that is about one build in 700,000.
		RemoteOptions: []remote.Option{remote.WithRetryBackoff(remote.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 6})},
		Logger:        slog.New(logging.Wrap(slog.NewJSONHandler(&lockedWriter{w: f.logs}, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := f.rt.ListenRegistry()
	addr, _ := f.rt.Listen()
	f.host, f.direct, f.ingress = reg.String(), reg.String(), "http://"+addr.String()
	if o.registryFaults > 0 {
		f.host = faultyProxy(t, reg.String(), o.registryFaults)
	}
	files := map[string]string{}
	var cfg strings.Builder
	cfg.WriteString("version: 1\napps:\n")
	for _, n := range names {
		repo, err := demo.InitRepo(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		f.apps[n] = repo
		img := f.host + "/demo/" + n
		fmt.Fprintf(&cfg, `  - name: %s
    source: {repo: %s, branch: main}
    image: %s
    environments:
      - {name: dev, path: apps/%s/dev, release: auto}
      - {name: staging, path: apps/%s/staging, release: auto}
      - {name: prod, path: apps/%s/prod, release: manual, reviewers: [alice]}
`, n, repo.Dir, img, n, n, n)
		files["apps/"+n+"/base/deployment.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s:bootstrap\n", n, n, img)
		files["apps/"+n+"/base/kustomization.yaml"] = "resources:\n  - deployment.yaml\n"
		for _, env := range []string{"dev", "staging", "prod"} {
			files["apps/"+n+"/"+env+"/kustomization.yaml"] = fmt.Sprintf("resources:\n  - ../base\nimages:\n  - name: %s\n", img)
		}
	}
	files["conveyor.yaml"] = cfg.String()
	if f.gitops, err = demo.InitRepo(filepath.Join(dir, "gitops")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gitops.Commit(files, "fleet", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := f.gitops.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	source := local.PipelineSource(f.gitops.Dir, "main")
	if f.g, err = f.rt.OpenGitOps(ctx, f.gitops.Dir, source); err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		f.g.Forge = wrap(f.g.Forge)
	}
	if err := f.rt.RegisterAll(local.FunctionNames(), source, f.g, f.rt.Logger()); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.rt.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		f.rt.Close()
		if t.Failed() {
			t.Logf("runtime logs (tail):\n%s", tail(f.logs.String(), 60))
		}
	})
	return f
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (f *fleet) post(delivery string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, f.ingress+webhook.PathGitHub, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(demo.Secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fleet) settle(limit time.Duration) map[string]local.QueueStats {
	f.t.Helper()
	var stats map[string]local.QueueStats
	quiet := 0
	waitFor(f.t, "the fleet to settle", limit, func() bool {
		stats, _ = f.rt.QueueStats(context.Background())
		busy := false
		for _, q := range f.rt.Consumed() {
			if s := stats[q]; s.Visible+s.InFlight+s.Delayed > 0 {
				busy = true
			}
		}
		// Idle for a few polls in a row: a merge event may be in transit.
		if busy {
			quiet = 0
			return false
		}
		quiet++
		return quiet >= 5
	})
	return stats
}

func (f *fleet) deployed(app, env string) string {
	data, _, err := gitops.ReadFile(context.Background(), f.gitops.Dir, "main", "apps/"+app+"/"+env+"/kustomization.yaml", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "digest: "); ok {
			return d
		}
	}
	return ""
}

func (f *fleet) digestOf(app, sha string) string {
	p := &pipeline{t: f.t, image: f.direct + "/demo/" + app}
	d, err := p.digestOf("sha-" + sha[:12])
	if err != nil {
		f.t.Fatalf("no image for %s@%s: %v", app, sha[:12], err)
	}
	return d
}

func (f *fleet) deadLetters() int {
	stats, _ := f.rt.QueueStats(context.Background())
	n := 0
	for _, s := range stats {
		n += s.Dead
	}
	return n
}

// TestBurst sends 1,000 signed webhooks — 800 distinct deliveries of 20
// commits of 4 apps and 200 redeliveries — shuffled, from 8 concurrent
// senders: none is lost, each commit's signed body is accepted once whatever
// delivery id carries it, each commit is built once, every environment ends
// on its app's newest image, and no app has more than one open PR per
// environment.
func TestBurst(t *testing.T) {
	names := []string{"web", "api", "worker", "cron"}
	f := newFleet(t, names, nil)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	type delivery struct {
		id, commit string
		body       []byte
	}
	var deliveries []delivery
	newest := map[string]string{}
	for _, n := range names {
		for k := 0; k < 5; k++ {
			files := demo.AppFiles()
			files["app/index.html"] = fmt.Sprintf("<h1>%s v%d</h1>\n", n, k)
			c, err := f.apps[n].Commit(files, fmt.Sprintf("%s v%d", n, k), t0.Add(time.Duration(k)*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			newest[n] = c.Hash.String()
			body := demo.PushWebhook("demo/"+n, f.apps[n].Dir, "main", "", c, []string{"app/index.html"})
			for d := 0; d < 40; d++ {
				deliveries = append(deliveries, delivery{fmt.Sprintf("%s-%d-%d", n, k, d), c.Hash.String(), body})
			}
		}
	}
	for i := 0; i < 200; i++ {
		deliveries = append(deliveries, deliveries[rand.IntN(800)])
	}
	rand.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })

	var mu sync.Mutex
	accepted := map[string]int{}
	var others atomic.Int64
	work := make(chan delivery)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				switch code := f.post(d.id, d.body); code {
				case http.StatusAccepted:
					mu.Lock()
					accepted[d.commit]++
					mu.Unlock()
				case http.StatusOK, http.StatusConflict: // duplicate, or its twin in progress
				default:
					t.Errorf("delivery %s answered %d", d.id, code)
					others.Add(1)
				}
			}
		}()
	}
	for _, d := range deliveries {
		work <- d
	}
	close(work)
	wg.Wait()
	if len(accepted) != 20 {
		t.Fatalf("%d distinct commits accepted, want all 20", len(accepted))
	}
	for sha, n := range accepted {
		if n != 1 {
			t.Fatalf("push of %s accepted %d times", sha, n)
		}
	}
	f.settle(3 * time.Minute)
	if n := f.deadLetters(); n != 0 {
		t.Fatalf("%d dead letters after the burst", n)
	}
	if got := strings.Count(f.logs.String(), `"msg":"image built"`); got != 20 {
		t.Errorf("%d images built, want one per commit (20)", got)
	}
	open, err := f.g.Local.List(context.Background(), forge.StateOpen)
	if err != nil {
		t.Fatal(err)
	}
	perBranch := map[string]int{}
	for _, pr := range open {
		perBranch[pr.Branch]++
	}
	for _, n := range names {
		want := f.digestOf(n, newest[n])
		for _, env := range []string{"dev", "staging"} {
			if got := f.deployed(n, env); got != want {
				t.Errorf("%s/%s runs %s, want the newest image %s", n, env, got, want)
			}
		}
		if perBranch[promote.Branch(n, "prod")] != 1 {
			t.Errorf("%s has %d open prod PRs, want 1", n, perBranch[promote.Branch(n, "prod")])
		}
	}
	if len(open) != len(names) {
		t.Errorf("%d open PRs, want one prod PR per app (%d)", len(open), len(names))
	}
}

// outage fails every forge call while down, like a forge that answers 503.
type outage struct {
	forge.Forge
	down atomic.Bool
}

var errOutage = errors.New("forge answered 503 Service Unavailable")

func (o *outage) check() error {
	if o.down.Load() {
		return errOutage
	}
	return nil
}

func (o *outage) FindOpen(ctx context.Context, b string) (*forge.PR, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return o.Forge.FindOpen(ctx, b)
}

func (o *outage) Create(ctx context.Context, pr forge.NewPR) (*forge.PR, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return o.Forge.Create(ctx, pr)
}

func (o *outage) Merge(ctx context.Context, n int, opts forge.MergeOptions) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	return o.Forge.Merge(ctx, n, opts)
}

// TestForgeOutageThenReplay: a forge outage longer than the retry budget
// leaves the promotions in the dead-letter queue with the reason; after the
// outage a redrive completes every one of them, once.
func TestForgeOutageThenReplay(t *testing.T) {
	ctx := context.Background()
	var o *outage
	names := []string{"web", "api"}
	f := newFleet(t, names, func(fg forge.Forge) forge.Forge { o = &outage{Forge: fg}; return o })
	o.down.Store(true)
	shas := map[string]string{}
	for _, n := range names {
		c, err := f.apps[n].Commit(demo.AppFiles(), "v1", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		shas[n] = c.Hash.String()
		if code := f.post("outage-"+n, demo.PushWebhook("demo/"+n, f.apps[n].Dir, "main", "", c, nil)); code != http.StatusAccepted {
			t.Fatalf("push answered %d", code)
		}
	}
	stats := f.settle(time.Minute)
	if stats[queue.Promotions].Dead != len(names) {
		t.Fatalf("promotions dead letters = %d, want %d: %+v", stats[queue.Promotions].Dead, len(names), stats)
	}
	dead, err := f.rt.Queues.DeadLetters(ctx, queue.Promotions)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dead {
		if !strings.Contains(d.Reason, "503") || d.ReceiveCount != 5 {
			t.Fatalf("dead letter after %d receives with reason %q", d.ReceiveCount, d.Reason)
		}
	}

	o.down.Store(false)
	sum, err := replay.Redrive(ctx, replay.NewEmbedded(f.rt.Queues, queue.Promotions), replay.Filter{Queue: queue.Promotions}, replay.Options{})
	if err != nil || sum.Moved != len(names) {
		t.Fatalf("redrive: %+v %v", sum, err)
	}
	f.settle(time.Minute)
	if n := f.deadLetters(); n != 0 {
		t.Fatalf("%d dead letters after the replay", n)
	}
	for _, n := range names {
		want := f.digestOf(n, shas[n])
		if got := f.deployed(n, "staging"); got != want {
			t.Fatalf("%s/staging runs %q after the replay, want %s", n, got, want)
		}
	}
	open, _ := f.g.Local.List(ctx, forge.StateOpen)
	if len(open) != len(names) {
		t.Fatalf("%d open PRs after the replay, want one prod PR per app", len(open))
	}
	_ = object.Signature{}
}

// faultyProxy serves target through a reverse proxy that fails a share of
// requests with 503, or 429 and a Retry-After, and returns its host:port.
func faultyProxy(t *testing.T, target string, share float64) string {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // the registry names the host clients used
	}}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rand.Float64() < share {
			n.Add(1)
			if rand.IntN(2) == 0 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); t.Logf("registry proxy injected %d faults", n.Load()) })
	return strings.TrimPrefix(srv.URL, "http://")
}

// flaky fails a share of forge calls with a transient error.
type flaky struct {
	forge.Forge
	share float64
	n     atomic.Int64
}

func (f *flaky) fail() error {
	if rand.Float64() < f.share {
		f.n.Add(1)
		return errors.New("forge answered 502 Bad Gateway (injected)")
	}
	return nil
}

func (f *flaky) FindOpen(ctx context.Context, b string) (*forge.PR, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Forge.FindOpen(ctx, b)
}

func (f *flaky) Create(ctx context.Context, pr forge.NewPR) (*forge.PR, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Forge.Create(ctx, pr)
}

func (f *flaky) Update(ctx context.Context, n int, title, body string, labels []string) (*forge.PR, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Forge.Update(ctx, n, title, body, labels)
}

func (f *flaky) Merge(ctx context.Context, n int, opts forge.MergeOptions) (string, error) {
	if err := f.fail(); err != nil {
		return "", err
	}
	return f.Forge.Merge(ctx, n, opts)
}

// TestTwentyPercentFaults: with one registry request and one forge call in
// five failing (503, 429 with Retry-After, 502), a 100-push run over four
// apps still ends with every environment on its app's newest image, one
// prod PR per app, and an empty dead-letter queue.
func TestTwentyPercentFaults(t *testing.T) {
	pushesPerApp := 25
	if s := os.Getenv("CONVEYOR_FAULT_PUSHES"); s != "" {
		pushesPerApp, _ = strconv.Atoi(s)
	}
	names := []string{"web", "api", "worker", "cron"}
	var fl *flaky
	f := newFleetWith(t, names, fleetOptions{registryFaults: 0.2, wrapForge: func(fg forge.Forge) forge.Forge {
		fl = &flaky{Forge: fg, share: 0.2}
		return &forge.Retrying{Forge: fl, Backoff: retry.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond}}
	}})
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	newest := map[string]string{}
	for k := 0; k < pushesPerApp; k++ {
		for _, n := range names {
			files := demo.AppFiles()
			files["app/index.html"] = fmt.Sprintf("<h1>%s v%d</h1>\n", n, k)
			c, err := f.apps[n].Commit(files, fmt.Sprintf("v%d", k), t0.Add(time.Duration(k)*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			newest[n] = c.Hash.String()
			if code := f.post(fmt.Sprintf("%s-%d", n, k), demo.PushWebhook("demo/"+n, f.apps[n].Dir, "main", "", c, nil)); code != http.StatusAccepted {
				t.Fatalf("push answered %d", code)
			}
		}
	}
	f.settle(4 * time.Minute)
	t.Logf("forge faults injected: %d", fl.n.Load())
	if n := f.deadLetters(); n != 0 {
		dead, _ := f.rt.Queues.DeadLetters(context.Background(), queue.Promotions)
		t.Fatalf("%d dead letters (promotions: %+v)", n, dead)
	}
	open, _ := f.g.Local.List(context.Background(), forge.StateOpen)
	for _, n := range names {
		want := f.digestOf(n, newest[n])
		for _, env := range []string{"dev", "staging"} {
			if got := f.deployed(n, env); got != want {
				t.Errorf("%s/%s runs %s, want the newest image %s", n, env, got, want)
			}
		}
	}
	if len(open) != len(names) {
		t.Errorf("%d open PRs, want one prod PR per app", len(open))
	}
	for _, pr := range open {
		if !strings.HasPrefix(pr.Branch, "conveyor/prod/") {
			t.Errorf("open PR on %s: lower environments should all be merged", pr.Branch)
		}
	}
}
