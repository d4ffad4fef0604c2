package test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// TestREADMEWalkthrough runs the README's local walkthrough: the example
// set up by examples/setup.sh (conveyor init on its GitOps repository),
// conveyor dev on it, the signed push it wrote and a tampered copy. The
// signed push must not be dropped: it is built, promoted to dev and
// proposed to staging, an open pull request that `conveyor pr list` shows.
func TestREADMEWalkthrough(t *testing.T) {
	bin := conveyorBin(t)
	dir := filepath.Join(t.TempDir(), "example")
	// The example's manifests name the embedded registry's address; a free
	// port keeps this test off any running conveyor dev.
	registry := freeAddr(t)
	setup := exec.Command("bash", "../examples/setup.sh", dir)
	setup.Env = append(os.Environ(), "CONVEYOR="+bin, "REGISTRY="+registry)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("examples/setup.sh: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	const secret = "It's a Secret to Everybody"
	dev := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--registry-addr", registry, "--data-dir", data, "--gitops", filepath.Join(dir, "gitops"), "--ui-addr", "off")
	dev.Env = append(os.Environ(), "CONVEYOR_GITHUB_WEBHOOK_SECRET="+secret)
	stdout, _ := dev.StdoutPipe()
	var stderr bytes.Buffer
	dev.Stderr = &stderr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Process.Kill(); _, _ = dev.Process.Wait() })
	base := ""
	banner := bufio.NewReader(stdout)
	for base == "" {
		line, err := banner.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the dev banner: %v; stderr: %s", err, stderr.String())
		}
		if m := regexp.MustCompile(`ingress on (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(line); m != nil {
			base = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, banner) }()

	push, err := os.ReadFile(filepath.Join(dir, "push.json"))
	if err != nil {
		t.Fatal(err)
	}
	sig := webhook.SignatureHeader([]byte(secret), push)
	post := func(body []byte, delivery string) int {
		req, _ := http.NewRequest(http.MethodPost, base+webhook.PathGitHub, bytes.NewReader(body))
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
	if code := post(push, "demo-1"); code != http.StatusAccepted {
		t.Fatalf("the signed push: %d, want 202", code)
	}
	tampered := bytes.ReplaceAll(push, []byte("developer"), []byte("mallory"))
	if code := post(tampered, "demo-2"); code != http.StatusUnauthorized {
		t.Fatalf("the tampered push: %d, want 401", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	open := regexp.MustCompile(`(?m)^\d+\s+open\s+conveyor/staging/web\s`)
	var list []byte
	for !open.Match(list) {
		select {
		case <-ctx.Done():
			t.Fatalf("no open staging pull request after the walkthrough's push; pr list:\n%s\ndev log:\n%s", list, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
		list, _ = exec.Command(bin, "pr", "list", "--data-dir", data).Output()
	}
	if !regexp.MustCompile(`(?m)^\d+\s+merged\s+conveyor/dev/web\s`).Match(list) {
		t.Errorf("dev was not promoted and merged on the way:\n%s", list)
	}
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
