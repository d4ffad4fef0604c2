package test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/demo"
	"github.com/conveyor-gitops/conveyor/shared/promote"
	"github.com/conveyor-gitops/conveyor/shared/webhook"
	"github.com/conveyor-gitops/conveyor/test/giteaserver"
)

// giteaPull is the part of Gitea's pull request the chain test reads.
type giteaPull struct {
	Number int    `json:"number"`
	State  string `json:"state"`
	Merged bool   `json:"merged"`
	Body   string `json:"body"`
	Head   struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

// TestChainThroughRealGitea runs the whole loop through a real Gitea, with
// nothing faked: Gitea's own push webhook starts a build of the source
// repository it hosts, the image lands in the embedded registry, whose
// notification promotes it; the promotion pull requests are opened,
// merged and approved on Gitea by real Gitea users; and Gitea's own
// merged webhooks carry each release to the next environment. In prod a
// non-reviewer's approval and an approval of a head that has since moved
// do not count; the team member's approval of the current head does.
func TestChainThroughRealGitea(t *testing.T) {
	start := time.Now()
	g := giteaserver.Start(t)
	const secret = "gitea-webhook-secret"
	for _, u := range []string{"alice", "bob"} {
		g.AddUser(t, u)
	}
	g.CreateOrg(t, "acme")
	g.CreateTeam(t, "acme", "sre", "alice")
	for _, r := range []string{"web", "gitops"} {
		g.CreateRepo(t, "acme", r)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	registry := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	image := registry + "/acme/web"
	webRepo, gitopsRepo := g.URL+"/acme/web", g.URL+"/acme/gitops"
	files := demo.GitOpsFiles(webRepo, image)
	files["conveyor.yaml"] = strings.Replace(files["conveyor.yaml"], "reviewers: [alice]", "reviewers: [acme/sre]", 1)
	pushTree(t, g.GitURL(t, giteaserver.Admin, "acme", "gitops"), files)

	data := filepath.Join(t.TempDir(), "data")
	logs := startGiteaDev(t, addr, registry, data, gitopsRepo, g.Token(t, giteaserver.Admin), secret)
	t.Logf("gitea up in %v, conveyor dev up %v after start", g.Startup, time.Since(start))
	hook := "http://" + addr + webhook.PathGitHub
	g.AddWebhook(t, "acme", "web", hook, secret, "push")
	g.AddWebhook(t, "acme", "gitops", hook, secret, "pull_request", "pull_request_review_approved", "pull_request_review_rejected")

	// The source's first push goes all the way to a prod PR before the
	// changes below, so that each step starts from a settled pipeline.
	pushTree(t, g.GitURL(t, giteaserver.Admin, "acme", "web"), demo.AppFiles())
	initial := g.Head(t, "acme", "web", "main")
	waitPull(t, g, promote.Branch("web", "prod"), func(p giteaPull) bool {
		return p.State == "open" && strings.Contains(p.Body, initial[:12])
	})
	settle(t, data)

	// A push to the source on Gitea: built, and released through dev and
	// staging on Gitea by Gitea's own webhooks, up to an open prod PR.
	pushed := time.Now()
	first := g.CommitFile(t, giteaserver.Admin, "acme", "web", "main", "app/index.html", "<h1>one</h1>\n", "first change")
	// The prod PR of the initial push is updated in place to this one.
	prod := waitPull(t, g, promote.Branch("web", "prod"), func(p giteaPull) bool {
		return p.State == "open" && strings.Contains(p.Body, first[:12])
	})
	for _, env := range []string{"dev", "staging"} {
		waitPull(t, g, promote.Branch("web", env), func(p giteaPull) bool { return p.Merged && strings.Contains(p.Body, first[:12]) })
	}
	t.Logf("push → dev and staging released on Gitea, prod PR open: %v", time.Since(pushed))

	// bob is no reviewer of prod: his approval does not merge.
	approve(t, g, "bob", prod.Number, prod.Head.SHA)
	logs.waitLog(t, "policy not yet satisfied", `"reviewer":"bob"`)
	settle(t, data)
	if p := pull(t, g, prod.Number); p.State != "open" {
		t.Fatalf("prod PR after bob's approval: %s, want still open", p.State)
	}

	// A second push moves the prod PR's head; alice's approval of the old
	// head does not count for the new one.
	second := g.CommitFile(t, giteaserver.Admin, "acme", "web", "main", "app/index.html", "<h1>two</h1>\n", "second change")
	moved := waitPull(t, g, promote.Branch("web", "prod"), func(p giteaPull) bool {
		return p.State == "open" && p.Head.SHA != prod.Head.SHA && strings.Contains(p.Body, second[:12])
	})
	approve(t, g, "alice", moved.Number, prod.Head.SHA)
	logs.waitLog(t, "policy not yet satisfied", `"reviewer":"alice"`, moved.Head.SHA[:12])
	settle(t, data)
	if p := pull(t, g, moved.Number); p.State != "open" {
		t.Fatalf("prod PR after alice approved an old head: %s, want still open", p.State)
	}

	// alice approves the current head: Conveyor merges on Gitea, and
	// Gitea's merged webhook records the release.
	approve(t, g, "alice", moved.Number, moved.Head.SHA)
	waitPull(t, g, promote.Branch("web", "prod"), func(p giteaPull) bool { return p.Number == moved.Number && p.Merged })
	settle(t, data)
	t.Logf("whole chain through Gitea: %v (%v since the first push)", time.Since(start), time.Since(pushed))

	// What git says on Gitea equals what Conveyor recorded: every
	// environment pins the second build's digest.
	var pins []string
	for _, env := range []string{"dev", "staging", "prod"} {
		pins = append(pins, digestIn(t, fileOn(t, g, "acme", "gitops", "main", "envs/"+env+"/kustomization.yaml")))
	}
	if pins[0] == "" || pins[1] != pins[0] || pins[2] != pins[0] {
		t.Fatalf("pinned digests dev/staging/prod = %v, want one digest everywhere", pins)
	}
	status := exec.Command(conveyorBin(t), "status", "--data-dir", data, "-o", "json")
	status.Env = append(os.Environ(), "CONVEYOR_GITEA_TOKEN="+g.Token(t, giteaserver.Admin))
	out, err := status.Output()
	if err != nil {
		t.Fatalf("conveyor status: %v: %s", err, stderrOf(err))
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if !strings.Contains(string(out), pins[0]) {
			t.Fatalf("conveyor status does not show %s's digest %s: %s", env, pins[0], out)
		}
	}
	if c := queuesJSON(t, data); c["builds"].Dead+c["images"].Dead+c["promotions"].Dead+c["approvals"].Dead != 0 {
		list := exec.Command(conveyorBin(t), "replay", "list", "--data-dir", data)
		list.Env = append(os.Environ(), "CONVEYOR_GITEA_TOKEN="+g.Token(t, giteaserver.Admin))
		reasons, _ := list.CombinedOutput()
		t.Fatalf("dead letters after the chain: %+v\n%s", c, reasons)
	}
}

// pushTree commits files as the only commit of main and force-pushes it to
// url (Gitea's auto-initialised repository has its own first commit).
func pushTree(t *testing.T, url string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		writeFile(t, filepath.Join(dir, p), c)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=conveyor", "-c", "user.email=conveyor@conveyor.test", "commit", "-q", "-m", "initial"},
		{"push", "-q", "--force", url, "main"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v: %s", args[0], err, out)
		}
	}
}

// devLogs is what conveyor dev logged so far.
type devLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *devLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("CONVEYOR_TEST_LOGS") != "" {
		os.Stderr.Write(p)
	}
	return l.b.Write(p)
}

// waitLog waits up to a minute for a log line holding every part.
func (l *devLogs) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		l.mu.Lock()
		lines := strings.Split(l.b.String(), "\n")
		l.mu.Unlock()
		for _, line := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("conveyor dev never logged a line with %q", parts)
		}
	}
}

func startGiteaDev(t *testing.T, addr, registry, data, gitops, token, secret string) *devLogs {
	t.Helper()
	cmd := exec.Command(conveyorBin(t), "dev", "--addr", addr, "--registry-addr", registry, "--data-dir", data,
		"--gitops", gitops, "--forge", "gitea")
	cmd.Env = append(os.Environ(), "CONVEYOR_GITEA_TOKEN="+token, "CONVEYOR_GITHUB_WEBHOOK_SECRET="+secret)
	stdout, _ := cmd.StdoutPipe()
	logs := &devLogs{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	banner := bufio.NewReader(stdout)
	for {
		line, err := banner.ReadString('\n')
		if err != nil {
			t.Fatalf("conveyor dev did not start: %v", err)
		}
		if regexp.MustCompile(`ingress on http://`).MatchString(line) {
			break
		}
	}
	go io.Copy(io.Discard, banner)
	return logs
}

func approve(t *testing.T, g *giteaserver.Server, user string, number int, head string) {
	t.Helper()
	g.API(t, user, "POST", fmt.Sprintf("/repos/acme/gitops/pulls/%d/reviews", number),
		map[string]any{"event": "APPROVED", "body": "lgtm", "commit_id": head}, nil)
}

func pull(t *testing.T, g *giteaserver.Server, number int) giteaPull {
	t.Helper()
	var p giteaPull
	g.API(t, giteaserver.Admin, "GET", fmt.Sprintf("/repos/acme/gitops/pulls/%d", number), nil, &p)
	return p
}

// waitPull waits up to a minute for a pull request of branch that ok
// accepts, newest first.
func waitPull(t *testing.T, g *giteaserver.Server, branch string, ok func(giteaPull) bool) giteaPull {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var ps []giteaPull
		g.API(t, giteaserver.Admin, "GET", "/repos/acme/gitops/pulls?state=all&sort=newest&limit=50", nil, &ps)
		for _, p := range ps {
			if p.Head.Ref == branch && ok(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pull request of %s as wanted within a minute; have %+v", branch, ps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until every queue of the data directory is empty and
// stays empty past Gitea's webhook delivery, so a decision not to merge
// has been taken rather than not yet reached.
func settle(t *testing.T, data string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	quiet := 0
	for quiet < 6 {
		c := queuesJSON(t, data)
		busy := 0
		for _, q := range []string{"builds", "images", "promotions", "approvals"} {
			busy += c[q].Visible + c[q].InFlight
		}
		if busy == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues never settled: %+v", c)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fileOn(t *testing.T, g *giteaserver.Server, owner, repo, ref, path string) string {
	t.Helper()
	var f struct {
		Content string `json:"content"`
	}
	g.API(t, giteaserver.Admin, "GET", fmt.Sprintf("/repos/%s/%s/contents/%s?ref=%s", owner, repo, path, ref), nil, &f)
	b, err := base64.StdEncoding.DecodeString(f.Content)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

func digestIn(t *testing.T, content string) string {
	t.Helper()
	return digestRE.FindString(content)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
