package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/conveyor-gitops/conveyor/shared/config"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/logging"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// Secret and Token are the demo's webhook credentials.
const (
	Secret = "demo-webhook-secret"
	Token  = "demo-registry-token"
)

// Options configure a demo run.
type Options struct {
	// Dir holds the repositories, the data directory and the log; a new
	// temporary directory when empty.
	Dir string
	// Functions are the consumers to run (see local.Consumers); none (the
	// ingress alone) when empty, unless All is set.
	Functions []string
	All       bool
	// Settle bounds the wait for the queues to go idle.
	Settle time.Duration
	// Command is how the reader runs conveyor, for the commands printed at
	// the end ("./bin/conveyor", "go run ./cmd/conveyor"); "conveyor" when
	// empty.
	Command string
}

// Result is what a demo run produced, for tests.
type Result struct {
	Dir, DataDir, AppRepo, GitOpsRepo string
	Commit                            string
	TraceID                           string
	// Image is the built image's repo@digest, when the build ran.
	Image string
	// ProdPR is the pull request that waited for approval; Releases counts
	// the release records at the end.
	ProdPR   int
	Releases int
	Stats    map[string]queueStats
}

type queueStats = struct{ Visible, InFlight, Delayed, Dead int }

// Run runs the demo, narrating to w.
func Run(ctx context.Context, w io.Writer, opts Options) (*Result, error) {
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "conveyor-demo-")
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	// The repositories' paths go into conveyor.yaml and git remotes, which
	// are read from other working directories: they must be absolute.
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", opts.Dir, err)
	}
	opts.Dir = abs
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if opts.Settle == 0 {
		opts.Settle = 30 * time.Second
	}
	res := &Result{Dir: opts.Dir, DataDir: filepath.Join(opts.Dir, "data"), AppRepo: filepath.Join(opts.Dir, "web"), GitOpsRepo: filepath.Join(opts.Dir, "gitops")}
	p := &narrator{w: w}
	start := time.Now()

	logPath := filepath.Join(opts.Dir, "conveyor.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	logger := logging.New(logFile, slog.LevelInfo).With("runtime", "demo")

	p.step("Starting the local runtime (data in %s, JSON logs in %s)", res.DataDir, logPath)
	rt, err := local.Open(ctx, local.Options{DataDir: res.DataDir, Addr: "127.0.0.1:0", GitHubSecret: []byte(Secret),
		RegistryToken: Token, RegistryAddr: "127.0.0.1:0", Logger: logger, PollInterval: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	regAddr, err := rt.ListenRegistry()
	if err != nil {
		return nil, err
	}
	image := regAddr.String() + "/demo/web"
	pipeline := local.PipelineSource(res.GitOpsRepo, "main")
	fns := opts.Functions
	if opts.All {
		fns = local.FunctionNames()
	}
	p.step("Creating an application repository and a GitOps repository in %s", opts.Dir)
	// A commit made a few minutes ago, so the lead time reads like one.
	when := time.Now().Add(-7 * time.Minute).Truncate(time.Second).UTC()
	app, err := InitRepo(res.AppRepo)
	if err != nil {
		return nil, err
	}
	commit, err := app.Commit(AppFiles(), "Serve /healthz from the web server", when)
	if err != nil {
		return nil, err
	}
	res.Commit = commit.Hash.String()
	p.detail("demo/web      %s  %q", commit.Hash.String()[:12], "Serve /healthz from the web server")
	gitopsRepo, err := InitRepo(res.GitOpsRepo)
	if err != nil {
		return nil, err
	}
	gc, err := gitopsRepo.Commit(GitOpsFiles(res.AppRepo, image), "Declare the web pipeline", when)
	if err != nil {
		return nil, err
	}
	p.detail("demo/gitops   %s  conveyor.yaml: web → dev (auto) → staging (auto) → prod (manual)", gc.Hash.String()[:12])
	if err := gitopsRepo.AcceptPushes(); err != nil {
		return nil, err
	}
	g, err := rt.OpenGitOps(ctx, res.GitOpsRepo, pipeline)
	if err != nil {
		return nil, err
	}
	if err := rt.RegisterAll(fns, pipeline, g, logger); err != nil {
		return nil, err
	}
	cfg, err := config.Parse("conveyor.yaml", []byte(GitOpsFiles(res.AppRepo, image)["conveyor.yaml"]))
	if err != nil {
		return nil, fmt.Errorf("the demo's own conveyor.yaml is invalid: %w", err)
	}
	p.detail("conveyor.yaml is valid: %d app, %d environments", len(cfg.Apps), len(cfg.Apps[0].Environments))

	addr, err := rt.Listen()
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	defer func() { stop(); <-done }()
	consumers := rt.Functions()
	p.detail("ingress http://%s, registry %s; consumers: %v", addr, regAddr, consumers)

	url := "http://" + addr.String() + webhook.PathGitHub
	body := PushWebhook("demo/web", res.AppRepo, "main", "", commit, []string{"Dockerfile", "app/index.html"})

	p.step("Sending a push webhook with a tampered body (signature of the original)")
	tampered := bytes.Replace(body, []byte(`"developer"`), []byte(`"mallory"`), 1)
	code, resp, err := post(ctx, url, "demo-delivery-0", tampered, webhook.SignatureHeader([]byte(Secret), body))
	if err != nil {
		return nil, err
	}
	p.detail("→ %d %s: %s (nothing enqueued)", code, http.StatusText(code), resp.Error)

	p.step("Sending the signed push webhook for %s", commit.Hash.String()[:12])
	code, resp, err = post(ctx, url, "demo-delivery-1", body, webhook.SignatureHeader([]byte(Secret), body))
	if err != nil {
		return nil, err
	}
	if code != http.StatusAccepted {
		return nil, fmt.Errorf("the ingress answered %d to the signed push: %s", code, resp.Error)
	}
	res.TraceID = resp.TraceID
	p.detail("→ %d %s: envelope %s, trace id %s", code, http.StatusText(code), resp.IDs[0], resp.TraceID)

	p.step("Redelivering the same webhook (GitHub's \"Redeliver\" keeps the delivery id)")
	code, resp, err = post(ctx, url, "demo-delivery-1", body, webhook.SignatureHeader([]byte(Secret), body))
	if err != nil {
		return nil, err
	}
	p.detail("→ %d %s: %s of %s (enqueued once)", code, http.StatusText(code), resp.Status, resp.IDs[0])

	p.step("Waiting for the pipeline to settle")
	stats, err := settle(ctx, rt, opts.Settle)
	if err != nil {
		return nil, err
	}
	res.Stats = map[string]queueStats{}
	for name, s := range stats {
		res.Stats[name] = queueStats{s.Visible, s.InFlight, s.Delayed, s.Dead}
	}
	var tbl bytes.Buffer
	fmt.Fprintf(&tbl, "%-12s %8s %9s %8s %5s\n", "QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "DEAD")
	for _, s := range queue.Topology {
		st := stats[s.Name]
		fmt.Fprintf(&tbl, "%-12s %8d %9d %8d %5d\n", s.Name, st.Visible, st.InFlight, st.Delayed, st.Dead)
	}
	p.block(tbl.String())
	if st := stats[queue.Builds]; len(consumers) == 0 && st.Visible == 1 {
		p.detail("The push waits in the builds queue for the build function.")
	}
	if slices.Contains(consumers, "build") {
		tag := image + ":sha-" + res.Commit[:12]
		ref, err := name.ParseReference(tag)
		if err != nil {
			return nil, err
		}
		desc, err := remote.Head(ref, remote.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("the build did not push %s: %w (see %s)", tag, err, logPath)
		}
		res.Image = image + "@" + desc.Digest.String()
		p.step("The build function built and pushed the image, without a Docker daemon")
		p.detail("%s", res.Image)
		p.detail("tag %s; the registry announced it to the ingress like any registry", tag)
	}
	if g.Local != nil && slices.Contains(consumers, "promote") {
		if err := p.chain(ctx, rt, g, res, opts.Settle); err != nil {
			return nil, err
		}
	}
	if err := rt.SaveSetting(ctx, "gitops", res.GitOpsRepo); err != nil {
		return nil, err
	}
	p.step("Done in %s. Look around:", time.Since(start).Round(100*time.Millisecond))
	command := opts.Command
	if command == "" {
		command = "conveyor"
	}
	for _, c := range []string{"status", "history web", "metrics", "pr list", "queues"} {
		p.detail("%s %s --data-dir %s", command, c, res.DataDir)
	}
	p.detail("cat %s/envs/*/kustomization.yaml", res.GitOpsRepo)
	p.step("See the whole story on the board: %s board --data-dir %s, then open http://127.0.0.1:8090/", command, res.DataDir)
	return res, nil
}

func post(ctx context.Context, url, delivery string, body []byte, sig string) (int, webhook.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, webhook.Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, webhook.Response{}, fmt.Errorf("posting the webhook: %w", err)
	}
	defer resp.Body.Close()
	var r webhook.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, webhook.Response{}, fmt.Errorf("reading the ingress's answer: %w", err)
	}
	return resp.StatusCode, r, nil
}

// settle waits until no consumed queue has visible or in-flight messages.
func settle(ctx context.Context, rt *local.Runtime, limit time.Duration) (map[string]local.QueueStats, error) {
	deadline := time.Now().Add(limit)
	for {
		stats, err := rt.QueueStats(ctx)
		if err != nil {
			return nil, err
		}
		busy := false
		for _, fn := range rt.Consumed() {
			if s := stats[fn]; s.Visible+s.InFlight > 0 {
				busy = true
			}
		}
		if !busy || time.Now().After(deadline) {
			return stats, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type narrator struct {
	w io.Writer
	n int
}

func (p *narrator) step(format string, args ...any) {
	p.n++
	fmt.Fprintf(p.w, "\n%d. %s\n", p.n, fmt.Sprintf(format, args...))
}

func (p *narrator) detail(format string, args ...any) {
	fmt.Fprintf(p.w, "   %s\n", fmt.Sprintf(format, args...))
}

func (p *narrator) block(s string) {
	for _, line := range bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n")) {
		fmt.Fprintf(p.w, "   %s\n", line)
	}
}
