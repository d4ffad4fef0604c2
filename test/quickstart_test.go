package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickstartMarker is the HTML comment, invisible on a rendered README,
// that marks the next ```sh block as one TestREADMEQuickStart runs; a
// marker that says "background" marks the block a user leaves running
// (conveyor dev) while they go on in another shell.
const quickstartMarker = "<!-- quickstart"

// quickstartBlock is one marked shell block of README.md.
type quickstartBlock struct {
	script     string
	background bool
}

// quickstartBlocks returns README's marked ```sh blocks, in order.
func quickstartBlocks(readme string) []quickstartBlock {
	var (
		blocks  []quickstartBlock
		marker  string // the pending marker line, "" when none
		current *strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case current != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, quickstartBlock{script: current.String(), background: strings.Contains(marker, "background")})
			current, marker = nil, ""
		case current != nil:
			current.WriteString(line + "\n")
		case strings.HasPrefix(line, quickstartMarker):
			marker = line
		case marker != "" && line == "```sh":
			current = &strings.Builder{}
		case marker != "" && strings.TrimSpace(line) != "":
			// A marker holds only for the block right after it.
			marker = ""
		}
	}
	return blocks
}

func TestQuickstartBlocks(t *testing.T) {
	readme := "# x\n<!-- quickstart -->\n```sh\nmake demo\n```\n```sh\nmake test\n```\n" +
		"<!-- quickstart: background -->\n\n```sh\nconveyor dev\n```\n<!-- quickstart -->\nprose\n```sh\nnot run\n```\n"
	got := quickstartBlocks(readme)
	want := []quickstartBlock{{script: "make demo\n"}, {script: "conveyor dev\n", background: true}}
	if len(got) != len(want) {
		t.Fatalf("blocks = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestREADMEQuickStart runs README's quick start as a new user would, on a
// clean clone of this repository (tracked files, with their uncommitted
// edits; untracked files stay behind): `make demo`, conveyor built onto
// PATH, examples/setup.sh (`conveyor init` on the example GitOps
// repository), `conveyor dev` left running, then the openssl-signed push
// and a tampered copy sent with curl. The push must reach an open
// promotion pull request for staging.
//
// The commands are README's own, with only these substitutions, so that
// the test runs beside anything else on the machine: the example directory
// /tmp/conveyor-example becomes a temporary one; the ingress address
// 127.0.0.1:8080 (conveyor dev's --addr, and where curl posts) a free
// port; and the embedded registry, on its default 127.0.0.1:5000 in the
// README, a free port given through setup.sh's REGISTRY variable and
// conveyor dev's --registry-addr flag.
func TestREADMEQuickStart(t *testing.T) {
	for _, tool := range []string{"bash", "git", "make", "curl", "openssl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quick start needs %s: %v", tool, err)
		}
	}
	tmp := t.TempDir()
	repo := cleanClone(t, filepath.Join(tmp, "conveyor"))
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := quickstartBlocks(string(readme))
	if len(blocks) != 3 || !blocks[1].background || blocks[0].background || blocks[2].background {
		t.Fatalf("README's quick start: %d marked blocks, want make demo, then conveyor dev (background), then the push:\n%+v", len(blocks), blocks)
	}

	example, ingress, registry := filepath.Join(tmp, "example"), freeAddr(t), freeAddr(t)
	subst := strings.NewReplacer(
		"/tmp/conveyor-example", example,
		"127.0.0.1:8080", ingress,
		"conveyor dev ", "conveyor dev --registry-addr "+registry+" ",
	)
	env := append(os.Environ(), "REGISTRY="+registry)

	// The first shell: make demo, then conveyor dev, left running.
	session := subst.Replace(blocks[0].script + blocks[1].script)
	if !strings.Contains(session, "--registry-addr "+registry) {
		t.Fatalf("README's background block runs no `conveyor dev`:\n%s", session)
	}
	logPath := filepath.Join(tmp, "shell1.log")
	done := startBackground(t, repo, session, env, logPath)
	shellLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	waitReady(t, "http://"+ingress+"/readyz", done, shellLog)
	if !strings.Contains(shellLog(), "Done in") {
		t.Errorf("make demo did not finish its run:\n%s", shellLog())
	}

	// The other shell: the signed push and the tampered one.
	push := exec.Command("bash", "-euo", "pipefail", "-c", subst.Replace(blocks[2].script))
	push.Dir, push.Env = repo, env
	out, err := push.CombinedOutput()
	if err != nil {
		t.Fatalf("README's push block: %v\n%s\nconveyor dev's shell:\n%s", err, out, shellLog())
	}
	for _, want := range []string{"HTTP/1.1 202", "HTTP/1.1 401"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("README's push block printed no %q:\n%s", want, out)
		}
	}
	waitPromotion(t, filepath.Join(repo, "bin", "conveyor"), filepath.Join(example, "data"), shellLog)
}

// cleanClone clones the repository this test runs in into dir and applies
// its uncommitted edits to tracked files, so that what is tested is what
// would be committed, without untracked files.
func cleanClone(t *testing.T, dir string) string {
	t.Helper()
	if out, err := exec.Command("git", "clone", "-q", "..", dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	diff, err := exec.Command("git", "-C", "..", "diff", "--binary", "HEAD").Output()
	if err != nil {
		t.Fatalf("git diff: %v", err)
	}
	if len(diff) > 0 {
		apply := exec.Command("git", "apply", "--whitespace=nowarn")
		apply.Dir, apply.Stdin = dir, bytes.NewReader(diff)
		if out, err := apply.CombinedOutput(); err != nil {
			t.Fatalf("applying the uncommitted edits to the clone: %v\n%s", err, out)
		}
	}
	return dir
}

// startBackground runs script with bash in its own process group, its
// output in logPath, and stops the whole group when the test ends. The
// returned channel closes when bash exits.
func startBackground(t *testing.T, dir, script string, env []string, logPath string) <-chan struct{} {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logFile, logFile
	// Its own group: conveyor dev is bash's child and must stop with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return done
}

// waitReady waits for url to answer 200, failing if the shell behind it
// exits first. make demo and two builds come before it: minutes on a busy
// machine with a cold cache.
func waitReady(t *testing.T, url string, done <-chan struct{}, shellLog func() string) {
	t.Helper()
	deadline := time.After(8 * time.Minute)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("the shell running make demo and conveyor dev exited before the ingress was ready:\n%s", shellLog())
		case <-deadline:
			t.Fatalf("no ready ingress at %s:\n%s", url, shellLog())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitPromotion waits until `conveyor pr list -o json` shows the push
// promoted: merged into dev, and open for staging.
func waitPromotion(t *testing.T, bin, data string, shellLog func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out []byte
	for {
		out, _ = exec.CommandContext(ctx, bin, "pr", "list", "--data-dir", data, "-o", "json").Output()
		var prs []struct {
			Number        int
			State, Branch string
		}
		states := map[string]string{}
		if json.Unmarshal(out, &prs) == nil {
			for _, p := range prs {
				states[p.Branch] = p.State
			}
		}
		if states["conveyor/staging/web"] == "open" && states["conveyor/dev/web"] == "merged" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no open staging pull request after README's push (dev merged); pr list -o json:\n%s\nconveyor dev's shell:\n%s", out, shellLog())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
