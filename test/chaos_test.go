package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/build"
	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/forge"
	"github.com/conveyor-gitops/conveyor/shared/gitops"
	"github.com/conveyor-gitops/conveyor/shared/local"
	"github.com/conveyor-gitops/conveyor/shared/reconcile"
	"github.com/conveyor-gitops/conveyor/shared/state"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// chaosSeed is $CONVEYOR_CHAOS_SEED, to repeat a run, or a new seed.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("CONVEYOR_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CONVEYOR_CHAOS_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// devProcess is one `conveyor dev` of the storm, on fixed ports so the
// pushes find each restart where the last one was.
type devProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startChaosDev(t *testing.T, data, gitopsDir, addr, registry string, logs io.Writer) *devProcess {
	t.Helper()
	cmd := exec.Command(conveyorBin(t), "dev", "--addr", addr, "--registry-addr", registry, "--data-dir", data,
		"--gitops", gitopsDir, "--lease", "3s", "--reconcile-every", "2s", "--reconcile-settle", "4s")
	cmd.Env = append(os.Environ(), "CONVEYOR_GITHUB_WEBHOOK_SECRET="+demo.Secret)
	cmd.Stdout = io.Discard
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p
}

func (p *devProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// answer is one 2xx answer of the ingress to a delivery.
type answer struct {
	status, envelope string
}

// deliver posts a signed push until the ingress answers 2xx: a refused
// connection (the process is down), a 409 (the delivery's claim is held)
// or a 503 is retried as a person redelivering from GitHub would.
func deliver(ctx context.Context, base, delivery string, body []byte) (answer, error) {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+webhook.PathGitHub, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader([]byte(demo.Secret), body))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var r webhook.Response
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return answer{status: r.Status, envelope: strings.Join(r.IDs, ",") + "/" + r.TraceID}, nil
			}
		}
		select {
		case <-ctx.Done():
			return answer{}, fmt.Errorf("delivery %s never accepted: %w", delivery, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestChaosKillStorm sends signed pushes of a few commits, with duplicate
// deliveries, while `conveyor dev` is SIGKILLed and restarted at random
// moments; then it lets the last process settle and audits: every distinct
// delivery enqueued once, every commit built once, every environment on
// the newest image, no duplicate pull request, every queue and dead-letter
// queue empty, and the records equal to git. The run is seeded
// (CONVEYOR_CHAOS_SEED repeats one).
func TestChaosKillStorm(t *testing.T) {
	seed := chaosSeed(t)
	t.Logf("chaos seed %d (repeat with CONVEYOR_CHAOS_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ctx := context.Background()
	dir := t.TempDir()
	registry := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	image := registry + "/demo/web"

	// Five commits, then a pipeline that releases every environment by
	// itself, so that "the newest image everywhere" is reachable.
	app, err := demo.InitRepo(filepath.Join(dir, "web"))
	if err != nil {
		t.Fatal(err)
	}
	var commits []*object.Commit
	when := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		files := demo.AppFiles()
		files["index.html"] = fmt.Sprintf("<h1>version %d</h1>\n", i)
		c, err := app.Commit(files, fmt.Sprintf("version %d", i), when.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c)
	}
	g, err := demo.InitRepo(filepath.Join(dir, "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	files := demo.GitOpsFiles(app.Dir, image)
	files["conveyor.yaml"] = strings.Replace(files["conveyor.yaml"], "release: manual\n        reviewers: [alice]", "release: auto", 1)
	if !strings.Contains(files["conveyor.yaml"], "path: envs/prod\n        strategy: kustomize\n        release: auto") {
		t.Fatalf("could not make prod automatic:\n%s", files["conveyor.yaml"])
	}
	if _, err := g.Commit(files, "pipeline", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := g.AcceptPushes(); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "dev.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logs := &lockedWriter{w: logFile}

	// 24 distinct deliveries over the five commits in random order, the
	// last commit among them; about 30 % of the posts are duplicates.
	type post struct {
		delivery string
		commit   int
	}
	var posts []post
	for i := 0; i < 24; i++ {
		posts = append(posts, post{delivery: fmt.Sprintf("chaos-%d-%d", seed, i), commit: rng.IntN(len(commits))})
	}
	posts[rng.IntN(len(posts))].commit = len(commits) - 1
	distinct := len(posts)
	for i := 0; i < distinct*3/7; i++ {
		posts = append(posts, posts[rng.IntN(distinct)])
	}
	rng.Shuffle(len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })

	var mu sync.Mutex
	answers := map[string][]answer{}
	dev := startChaosDev(t, data, g.Dir, addr, registry, logs)
	defer func() { dev.kill() }()
	stormCtx, stopStorm := context.WithTimeout(ctx, 90*time.Second)
	defer stopStorm()
	posted := make(chan error, 1)
	go func() {
		prng := rand.New(rand.NewPCG(seed+1, seed))
		for _, p := range posts {
			c := commits[p.commit]
			a, err := deliver(stormCtx, base, p.delivery, demo.PushWebhook("demo/web", app.Dir, "main", "", c, nil))
			if err != nil {
				posted <- err
				return
			}
			mu.Lock()
			answers[p.delivery] = append(answers[p.delivery], a)
			mu.Unlock()
			time.Sleep(time.Duration(prng.IntN(400)) * time.Millisecond)
		}
		posted <- nil
	}()

	// The storm: a SIGKILL every 0.5–3 s for 20 s while the pushes go in;
	// then the last process runs undisturbed. (A longer storm only
	// spends more of each in-flight message's five receives: a message
	// killed in flight five times is dead-lettered, as SQS would.)
	kills := 0
	for stormEnd := time.Now().Add(20 * time.Second); time.Now().Before(stormEnd); {
		wait := time.Duration(500+rng.IntN(2500)) * time.Millisecond
		time.Sleep(wait)
		dev.kill()
		kills++
		dev = startChaosDev(t, data, g.Dir, addr, registry, logs)
	}
	if err := <-posted; err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Logf("seed %d: %d posts (%d distinct deliveries), %d SIGKILLs", seed, len(posts), distinct, kills)

	// Let the last process finish: every queue empty and every
	// environment on the newest commit's image (reconciliation repairs
	// what the kills lost).
	newest := commits[len(commits)-1].Hash.String()
	rt := openAudit(t, ctx, data)
	var digest string
	settled := func() bool {
		if digest == "" {
			if rec, err := rt.State.Get(ctx, build.Key("web", newest)); err == nil && rec.Status == state.Completed {
				var b build.Built
				_ = json.Unmarshal(rec.Result, &b)
				digest = b.Digest
			}
		}
		if digest == "" || !queuesEmpty(t, ctx, rt) {
			return false
		}
		for _, env := range []string{"dev", "staging", "prod"} {
			text, _, err := gitops.ReadFile(ctx, g.Dir, "main", "envs/"+env+"/kustomization.yaml", nil)
			if err != nil || !strings.Contains(string(text), digest) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); !settled(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("seed %d: the pipeline never settled on the newest image %q:\n%s", seed, digest, diagnose(ctx, rt, g.Dir, logPath))
		}
	}
	rt.Close()
	dev.kill()
	rt = openAudit(t, ctx, data)
	defer rt.Close()
	var pushed []*object.Commit
	for i, c := range commits {
		for _, p := range posts {
			if p.commit == i {
				pushed = append(pushed, c)
				break
			}
		}
	}
	audit(t, ctx, seed, rt, g.Dir, logPath, pushed, digest, answers, distinct)
}

func openAudit(t *testing.T, ctx context.Context, data string) *local.Runtime {
	t.Helper()
	rt, err := local.Open(ctx, local.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func queuesEmpty(t *testing.T, ctx context.Context, rt *local.Runtime) bool {
	t.Helper()
	stats, err := rt.QueueStats(ctx)
	if err != nil {
		return false
	}
	for _, s := range stats {
		if s.Visible+s.InFlight+s.Delayed+s.Dead > 0 {
			return false
		}
	}
	return true
}

// audit checks what the storm must not have broken; commits are those
// the pushes named.
func audit(t *testing.T, ctx context.Context, seed uint64, rt *local.Runtime, gitopsDir, logPath string, commits []*object.Commit,
	digest string, answers map[string][]answer, distinct int) {
	t.Helper()
	fail := func(format string, args ...any) { t.Errorf("seed %d: "+format, append([]any{seed}, args...)...) }

	// Every distinct delivery enqueued once: all its answers name one
	// envelope.
	if len(answers) != distinct {
		fail("%d deliveries answered, want %d", len(answers), distinct)
	}
	for d, as := range answers {
		for _, a := range as[1:] {
			if a.envelope != as[0].envelope {
				fail("delivery %s enqueued twice: envelopes %s and %s", d, as[0].envelope, a.envelope)
			}
		}
	}

	// Every commit built once: one completed record each, and at most one
	// push of its image.
	pushes := map[string]int{}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	repairs := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	reKind := regexp.MustCompile(`"kind":"([a-z-]+)"`)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"msg":"image built"`) && strings.Contains(line, `"pushed":true`):
			for _, c := range commits {
				if strings.Contains(line, c.Hash.String()) {
					pushes[c.Hash.String()]++
				}
			}
		case strings.Contains(line, `"msg":"repair"`):
			if m := reKind.FindStringSubmatch(line); m != nil {
				repairs[m[1]]++
			}
		}
	}
	for _, c := range commits {
		sha := c.Hash.String()
		if rec, err := rt.State.Get(ctx, build.Key("web", sha)); err != nil || rec.Status != state.Completed {
			fail("commit %.12s was pushed but never built: %+v (%v)", sha, rec, err)
		}
		if pushes[sha] > 1 {
			fail("commit %.12s pushed %d times", sha, pushes[sha])
		}
	}

	// Every queue and dead-letter queue empty.
	stats, err := rt.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for q, s := range stats {
		if s.Visible+s.InFlight+s.Delayed+s.Dead > 0 {
			fail("queue %s not empty: %+v", q, s)
		}
	}

	// No duplicate pull request: one per app/env/digest, none left open.
	g, err := rt.OpenGitOps(ctx, gitopsDir, local.PipelineSource(gitopsDir, "main"))
	if err != nil {
		t.Fatal(err)
	}
	prs, err := g.Local.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := rt.State.ListReleases(ctx, state.ReleaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	prOf := map[string]map[int]bool{}
	for _, r := range rels {
		if r.PR == 0 {
			continue
		}
		k := r.Env + "/" + r.Digest
		if prOf[k] == nil {
			prOf[k] = map[int]bool{}
		}
		prOf[k][r.PR] = true
	}
	for k, set := range prOf {
		if len(set) > 1 {
			fail("%s proposed in %d pull requests", k, len(set))
		}
	}
	for _, pr := range prs {
		if pr.State == forge.StateOpen {
			fail("pull request #%d (%s) left open", pr.Number, pr.Branch)
		}
	}

	// Records equal git, and git pins the newest image everywhere.
	cfg, err := local.PipelineSource(gitopsDir, "main")(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pins, err := reconcile.Pins(ctx, g, cfg, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		if p.Digest != digest {
			fail("%s pins %s, want the newest image %s", p.Env, p.Digest, digest)
		}
	}
	if drifts := reconcile.Compare(cfg, pins, rels); len(drifts) > 0 {
		fail("records differ from git: %+v", drifts)
	}
	t.Logf("seed %d audit: %d deliveries each enqueued once, %d commits built (pushes %v), %d pull requests, queues empty, records equal git; repairs %v",
		seed, len(answers), len(pushes), pushes, len(prs), repairs)
}

// diagnose says where a run that never settled stands: the queues, their
// dead letters, what git pins and the last failures logged.
func diagnose(ctx context.Context, rt *local.Runtime, gitopsDir, logPath string) string {
	var b strings.Builder
	stats, _ := rt.QueueStats(ctx)
	fmt.Fprintf(&b, "queues: %+v\n", stats)
	for q := range stats {
		dead, _ := rt.Queues.DeadLetters(ctx, q)
		for _, d := range dead {
			fmt.Fprintf(&b, "dead in %s: %s\n", q, d.Reason)
		}
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		text, _, _ := gitops.ReadFile(ctx, gitopsDir, "main", "envs/"+env+"/kustomization.yaml", nil)
		fmt.Fprintf(&b, "%s: %s\n", env, regexp.MustCompile(`sha256:[0-9a-f]{12}`).FindString(string(text)))
	}
	rels, _ := rt.State.ListReleases(ctx, state.ReleaseFilter{})
	for _, r := range rels {
		fmt.Fprintf(&b, "release %s/%s %.19s %s pr #%d\n", r.App, r.Env, r.Digest, r.State, r.PR)
	}
	data, _ := os.ReadFile(logPath)
	var failures []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			failures = append(failures, line)
		}
	}
	fmt.Fprintf(&b, "last warnings:\n%s\n", strings.Join(failures[max(len(failures)-15, 0):], "\n"))
	return b.String()
}
