package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// conveyorBin builds cmd/conveyor once per test run.
func conveyorBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "conveyor-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "conveyor")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/conveyor").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "building conveyor: " + e.err.Error() + "\n" + e.out }

type queueCounts map[string]struct {
	Visible  int `json:"visible"`
	InFlight int `json:"inflight"`
	Dead     int `json:"dead"`
}

func queuesJSON(t *testing.T, dataDir string) queueCounts {
	t.Helper()
	out, err := exec.Command(conveyorBin(t), "queues", "--data-dir", dataDir, "-o", "json").Output()
	if err != nil {
		t.Fatalf("conveyor queues: %v", err)
	}
	var c queueCounts
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("conveyor queues --json printed %q: %v", out, err)
	}
	for _, q := range []string{"builds", "images", "promotions", "approvals"} {
		if _, ok := c[q]; !ok {
			t.Fatalf("conveyor queues --json has no %q: %s", q, out)
		}
	}
	return c
}

// TestDevAcceptsSignedRejectsTampered is the acceptance path: the
// README's curl commands against `conveyor dev`, checked with `conveyor
// queues`, then a graceful SIGTERM.
func TestDevAcceptsSignedRejectsTampered(t *testing.T) {
	bin := conveyorBin(t)
	// The usual umask: whatever conveyor dev does not restrict itself
	// comes out readable by every user.
	oldMask := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(oldMask) })
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "CONVEYOR_GITHUB_WEBHOOK_SECRET=It's a Secret to Everybody")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	var m []string
	banner := bufio.NewReader(stdout)
	for m == nil {
		line, err := banner.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the dev banner: %v; stderr: %s", err, stderr.String())
		}
		m = regexp.MustCompile(`ingress on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(line)
	}
	base := "http://" + m[1]

	body, err := os.ReadFile("../events/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	sig := webhook.SignatureHeader([]byte("It's a Secret to Everybody"), body)
	post := func(b []byte, delivery string) int {
		req, _ := http.NewRequest(http.MethodPost, base+webhook.PathGitHub, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := queuesJSON(t, dataDir)["builds"].Visible; got != 0 {
		t.Fatalf("fresh data dir has %d builds", got)
	}
	if code := post(body, "cli-1"); code != 202 {
		t.Fatalf("signed sample: %d, want 202", code)
	}
	if got := queuesJSON(t, dataDir)["builds"].Visible; got != 1 {
		t.Fatalf("after the signed push builds visible = %d, want 1", got)
	}
	// Deliveries, PR state and images are the owner's alone.
	for rel, want := range map[string]os.FileMode{".": 0o700, "conveyor.db": 0o600, "conveyor.db-wal": 0o600, "conveyor.db-shm": 0o600,
		"registry": 0o700, "registry/blobs": 0o700, "registry/manifests.jsonl": 0o600, "conveyor.lock": 0o600, "conveyor.initialised": 0o600} {
		fi, err := os.Stat(filepath.Join(dataDir, rel))
		if err != nil {
			t.Errorf("%s in the data directory: %v", rel, err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s in the data directory has mode %v, want %v", rel, fi.Mode().Perm(), want)
		}
	}
	tampered := bytes.Replace(body, []byte(`"octocat"`), []byte(`"mallory"`), 1)
	if code := post(tampered, "cli-2"); code != 401 {
		t.Fatalf("tampered sample: %d, want 401", code)
	}
	if got := queuesJSON(t, dataDir)["builds"].Visible; got != 1 {
		t.Fatalf("after the tampered push builds visible = %d, want still 1", got)
	}
	for _, path := range []string{webhook.PathHealth, "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	// A second conveyor dev on the same data directory is refused, before
	// any port could clash, naming the directory and the first one's pid.
	second := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--data-dir", dataDir)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), dataDir) || !strings.Contains(string(out), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("second conveyor dev on %s: %v\n%s\nwant a refusal naming the directory and pid %d", dataDir, err, out, cmd.Process.Pid)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("conveyor dev exited with %v after SIGTERM; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("conveyor dev did not stop within 15 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"trace_id"`) {
		t.Errorf("the accepted webhook's log line carries no trace_id: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), "It's a Secret") {
		t.Error("the webhook secret appears in the logs")
	}
}

func TestCLIUsageErrors(t *testing.T) {
	bin := conveyorBin(t)
	broken := filepath.Join(t.TempDir(), "conveyor.yaml")
	if err := os.WriteFile(broken, []byte("version: 1\napps:\n  - name: Web\n    sourc: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "Usage:\n  conveyor"},
		{"unknown command", []string{"deploy"}, 2, `unknown command "deploy"`},
		{"unknown function", []string{"dev", "--functions", "webhook,deploy"}, 2, `unknown function "deploy"`},
		{"bad flag", []string{"queues", "--nope"}, 2, "unknown flag: --nope"},
		{"queues without data", []string{"queues", "--data-dir", filepath.Join(t.TempDir(), "none")}, 1, "no Conveyor data"},
		{"validate broken file", []string{"validate", broken}, 1, broken + ":4:5: apps[0].sourc: unknown field"},
		{"validate missing file", []string{"validate", filepath.Join(t.TempDir(), "missing.yaml")}, 1, "missing.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

// TestBuildTwoProcesses builds the same context from two copies in two
// processes, in different time zones and at different times of day: the
// digest is the same; one changed byte changes it.
func TestBuildTwoProcesses(t *testing.T) {
	bin := conveyorBin(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "Dockerfile"), "FROM scratch\nENV PORT=8080\nCOPY site/ /srv/\nENTRYPOINT [\"/srv/server\"]\n")
	writeFile(t, filepath.Join(src, "site", "index.html"), "<h1>hello</h1>\n")
	writeFile(t, filepath.Join(src, "site", "server"), "#!/bin/true\n")
	build := func(dir, tz string) string {
		t.Helper()
		cmd := exec.Command(bin, "build", "--context", dir, "--revision", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "--created", "2026-11-20T10:00:00Z")
		cmd.Env = append(os.Environ(), "TZ="+tz)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("conveyor build: %v", err)
		}
		d := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(string(out))
		if d == "" {
			t.Fatalf("no digest in %q", out)
		}
		return d
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := copyTree(src, a); err != nil {
		t.Fatal(err)
	}
	first := build(a, "UTC")
	time.Sleep(1100 * time.Millisecond)
	if err := copyTree(src, b); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(b, "site", "index.html"), time.Now().Add(-72*time.Hour), time.Now().Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if second := build(b, "Pacific/Kiritimati"); second != first {
		t.Fatalf("two processes built %s and %s from the same commit", first, second)
	}
	writeFile(t, filepath.Join(b, "site", "index.html"), "<h1>hello</h1>\n ")
	if third := build(b, "UTC"); third == first {
		t.Fatal("a one-byte change kept the digest")
	}
}

// TestOperatorCommands runs the demo, then the commands an operator uses
// on its data directory.
func TestOperatorCommands(t *testing.T) {
	bin := conveyorBin(t)
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), &out, demo.Options{Dir: dir, All: true})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", res.DataDir)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("conveyor %v: %v\n%s", args, err, stderr.String())
		}
		return string(b)
	}
	digest := strings.TrimPrefix(res.Image[strings.Index(res.Image, "@"):], "@")
	var cells []struct{ App, Env, Digest string }
	if err := json.Unmarshal([]byte(run("status", "-o", "json")), &cells); err != nil || len(cells) != 3 {
		t.Fatalf("status --json: %v %+v", err, cells)
	}
	for _, c := range cells {
		if c.Digest != digest {
			t.Fatalf("status says %s/%s runs %s, want %s", c.App, c.Env, c.Digest, digest)
		}
	}
	if got := run("promote", "web", "prod", res.Image); !strings.Contains(got, "current: already released") {
		t.Fatalf("promote of the released digest printed %q", got)
	}
	if got := run("history", "web"); strings.Count(got, " merged 20") != 3 || !strings.Contains(got, "by conveyor, approved by alice") {
		t.Fatalf("history:\n%s", got)
	}
	// Who approved and who merged prod, as the records keep it.
	var journeys []struct {
		Steps []struct {
			Env        string
			MergedBy   string   `json:"mergedBy"`
			ApprovedBy []string `json:"approvedBy"`
		}
	}
	if err := json.Unmarshal([]byte(run("history", "web", "-o", "json")), &journeys); err != nil || len(journeys) != 1 {
		t.Fatalf("history --json: %v %+v", err, journeys)
	}
	for _, s := range journeys[0].Steps {
		if s.Env == "prod" && (s.MergedBy != "conveyor" || strings.Join(s.ApprovedBy, ",") != "alice") {
			t.Fatalf("prod step %+v, want merged by conveyor on alice's approval", s)
		}
	}
	if got := run("pr", "list", "--state", "merged"); strings.Count(got, "merged") != 3 {
		t.Fatalf("pr list:\n%s", got)
	}
	if got := run("metrics"); !strings.Contains(got, "deployments         1 to production") {
		t.Fatalf("metrics:\n%s", got)
	}
	cmd := exec.Command(bin, "rollback", "web", "prod", "--data-dir", res.DataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "nothing earlier to restore") {
		t.Fatalf("rollback with one release: %v %q, want a refusal naming why", err, stderr.String())
	}

	// prod is released manually: `pr merge` by anyone is refused as branch
	// protection would refuse it; an explicit override merges and is kept.
	other := res.Image[:strings.Index(res.Image, "@")] + "@sha256:" + strings.Repeat("ab", 32)
	// (A digest staging never ran, which `promote` refuses without a
	// recorded override.)
	run("promote", "web", "prod", other, "--force", "--reason", "exercise the prod gate")
	var open []struct{ Number int }
	if err := json.Unmarshal([]byte(run("pr", "list", "--state", "open", "-o", "json")), &open); err != nil || len(open) != 1 {
		t.Fatalf("open PRs: %v %+v, want the prod promotion", err, open)
	}
	n := strconv.Itoa(open[0].Number)
	cmd = exec.Command(bin, "pr", "merge", n, "--as", "mallory", "--data-dir", res.DataDir)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "not approved") || !strings.Contains(stderr.String(), "--override") {
		t.Fatalf("pr merge without approval: %v %q, want a refusal naming the policy and the override", err, stderr.String())
	}
	if got := run("pr", "merge", n, "--as", "mallory", "--override", "incident 7"); !strings.Contains(got, `"incident 7" is recorded`) {
		t.Fatalf("pr merge --override printed %q", got)
	}
	if got := run("pr", "show", n); !strings.Contains(got, "by mallory") || !strings.Contains(got, "override: incident 7") {
		t.Fatalf("pr show after the override:\n%s", got)
	}
}
