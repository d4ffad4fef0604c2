package test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/webhook"
)

// createRepo makes repository full ("owner/name") with files committed on
// main, accepting pushes, and returns its clone URL.
func (s *githubServer) createRepo(t testing.TB, full string, files map[string]string) string {
	t.Helper()
	dir := s.repoDir(full)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "--bare", "-b", "main", dir}, {"-C", dir, "config", "http.receivepack", "true"}} {
		if _, err := gitCLI("", nil, args...); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	if _, err := gitCLI(work, nil, "init", "-q", "-b", "main"); err != nil {
		t.Fatal(err)
	}
	s.commitFiles(t, work, files, "initial commit", time.Now())
	if _, err := gitCLI(work, nil, "push", "-q", dir, "main"); err != nil {
		t.Fatal(err)
	}
	return s.cloneURL(full)
}

// push commits files (path → content) on branch of repository full as a
// developer would, cloning and pushing over HTTP, so the push webhook goes
// out; it returns the new commit.
func (s *githubServer) push(t testing.TB, full, branch string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	return s.pushTo(t, full, branch, branch, files, message, when)
}

// pushTo is push onto branch from, pushed as branch to (created if new).
func (s *githubServer) pushTo(t testing.TB, full, from, to string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	work := t.TempDir()
	u, _ := url.Parse(s.cloneURL(full))
	u.User = url.UserPassword("dana", s.user("dana"))
	env := []string{"GIT_SSL_CAINFO=" + s.CAFile}
	if _, err := gitCLI(work, env, "clone", "-q", "--branch", from, u.String(), "."); err != nil {
		t.Fatal(err)
	}
	sha := s.commitFiles(t, work, files, message, when)
	if _, err := gitCLI(work, env, "push", "-q", "origin", "HEAD:refs/heads/"+to); err != nil {
		t.Fatal(err)
	}
	return sha
}

func (s *githubServer) commitFiles(t testing.TB, work string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	date := when.UTC().Format(time.RFC3339)
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "--allow-empty", "-m", message}} {
		if _, err := gitCLI(work, env, args...); err != nil {
			t.Fatal(err)
		}
	}
	sha, err := gitCLI(work, nil, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// file returns path at ref of repository full ("" when absent).
func (s *githubServer) file(full, ref, path string) string {
	out, err := gitCLI(s.repoDir(full), nil, "show", ref+":"+path)
	if err != nil {
		return ""
	}
	return out
}

func (s *githubServer) repoDir(full string) string {
	return filepath.Join(s.root, filepath.FromSlash(full)+".git")
}

func (s *githubServer) cloneURL(full string) string { return s.URL + "/" + full + ".git" }

// revParse returns the commit a branch or revision names in repository
// full, or "".
func (s *githubServer) revParse(full, rev string) string {
	if !strings.HasPrefix(rev, "refs/") && !isHex(rev) {
		rev = "refs/heads/" + rev
	}
	out, err := gitCLI(s.repoDir(full), nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

// gitCLI runs git in dir (no user or system configuration) and returns its
// trimmed output; a failure's error carries stderr.
func gitCLI(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Dana Developer", "GIT_AUTHOR_EMAIL=dana@example.test",
		"GIT_COMMITTER_NAME=Dana Developer", "GIT_COMMITTER_EMAIL=dana@example.test")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out)), &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return strings.TrimSpace(string(out)), nil
}

type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.args, " "), e.err, e.stderr)
}

func isHex(s string) bool {
	if len(s) < 7 {
		return false
	}
	_, err := hex.DecodeString(s[:len(s)&^1])
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveGit serves the repositories; after a push it sends a push webhook
// for each branch that moved.
func (s *githubServer) serveGit(w http.ResponseWriter, r *http.Request) {
	full, isPush := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".git/git-receive-pack")
	_, tok, hasAuth := r.BasicAuth()
	pushing := isPush || r.URL.Query().Get("service") == "git-receive-pack"
	if (hasAuth || pushing) && s.tokenLogin(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or password.", http.StatusUnauthorized)
		return
	}
	var before map[string]string
	if isPush && s.subscribed(full, "push") {
		before = s.branches(full)
	}
	s.git.ServeHTTP(w, r)
	if before == nil {
		return
	}
	after := s.branches(full)
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, sha := range after {
		if before[ref] != sha {
			s.hook(full, "push", s.pushEvent(full, ref, before[ref], sha))
		}
	}
}

func (s *githubServer) subscribed(full, event string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.hooks[full], event)
}

// branches maps each branch ref of repository full to its commit.
func (s *githubServer) branches(full string) map[string]string {
	out, _ := gitCLI(s.repoDir(full), nil, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if ref, sha, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs
}

// pushEvent is GitHub's push payload for ref moving from before ("" for a
// new branch) to after, listing the pushed commits with their files.
func (s *githubServer) pushEvent(full, ref, before, after string) map[string]any {
	dir := s.repoDir(full)
	span := after
	if before != "" {
		span = before + ".." + after
	} else {
		span = "-1 " + after
	}
	revs, _ := gitCLI(dir, nil, append([]string{"rev-list", "--reverse"}, strings.Fields(span)...)...)
	commits := []map[string]any{}
	for _, sha := range strings.Fields(revs) {
		info, _ := gitCLI(dir, nil, "show", "-s", "--format=%cI%n%an%n%ae%n%B", sha)
		lines := strings.SplitN(info, "\n", 4)
		for len(lines) < 4 {
			lines = append(lines, "")
		}
		files := map[string][]string{"A": {}, "D": {}, "M": {}}
		changed, _ := gitCLI(dir, nil, "diff-tree", "--no-commit-id", "--name-status", "-r", "--root", sha)
		for _, line := range strings.Split(changed, "\n") {
			if st, path, ok := strings.Cut(line, "\t"); ok {
				k := st[:1]
				if _, known := files[k]; !known {
					k = "M"
				}
				files[k] = append(files[k], path)
			}
		}
		commits = append(commits, map[string]any{"id": sha, "message": lines[3], "timestamp": lines[0],
			"url": s.URL + "/" + full + "/commit/" + sha, "author": map[string]any{"name": lines[1], "email": lines[2], "username": "dana"},
			"added": files["A"], "removed": files["D"], "modified": files["M"]})
	}
	if before == "" {
		before = strings.Repeat("0", 40)
	}
	ev := map[string]any{"ref": ref, "before": before, "after": after, "created": before == strings.Repeat("0", 40),
		"deleted": false, "forced": false, "repository": s.repoJSON(full), "commits": commits, "head_commit": nil,
		"pusher": map[string]any{"name": "dana", "email": "dana@example.test"}, "sender": userJSON("dana")}
	if len(commits) > 0 {
		ev["head_commit"] = commits[len(commits)-1]
	}
	return ev
}

// hook sends a signed webhook for repository full if it subscribes to
// event, in the background, as GitHub does after answering the request that
// caused it, unless dropWebhooks asked to lose it. The caller holds s.mu.
func (s *githubServer) hook(full, event string, payload map[string]any) {
	if !slices.Contains(s.hooks[full], event) {
		return
	}
	url := s.hookURL
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	action, _ := payload["action"].(string)
	number, _ := payload["number"].(int)
	d := ghDelivery{Event: event, Action: action, ID: randomHex(16), Number: number}
	for _, key := range []string{event + "/" + action, event + "/"} {
		if s.drops[key] > 0 {
			s.drops[key]--
			s.lost = append(s.lost, d)
			return
		}
	}
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "GitHub-Hookshot/test")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", d.ID)
		req.Header.Set("X-Hub-Signature-256", webhook.SignatureHeader(s.secret, body))
		// GitHub waits 10 s for an answer and never retries by itself.
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			d.Err = err.Error()
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			d.Status, d.Response = resp.StatusCode, string(b)
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}()
}
