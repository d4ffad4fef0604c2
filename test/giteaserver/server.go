// Package giteaserver runs a real Gitea (built pinned into $CONVEYOR_TOOLS
// by test/tools/install-gitea.sh) on 127.0.0.1 with a throwaway data
// directory, for tests that must meet a forge as it really behaves: its
// API, its git over smart HTTP and its own webhooks.
package giteaserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Admin is the site administrator every server starts with; tests act as
// other users through Server.AddUser.
const Admin = "conveyor"

// Server is a running Gitea.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT (no trailing slash).
	URL string
	// Startup is how long Gitea took from start to answering.
	Startup time.Duration

	mu     sync.Mutex
	tokens map[string]string
	run    func(args ...string) error
}

// Start starts Gitea and stops it when tb ends. A missing Gitea fails the
// test: a skipped forge test would count an untested path as passing.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, static := installed(tb)
	dir := tb.TempDir()
	port := freePort(tb)
	ini := filepath.Join(dir, "app.ini")
	if err := os.WriteFile(ini, []byte(config(dir, static, port)), 0o600); err != nil {
		tb.Fatal(err)
	}
	// Gitea refuses to run as root unless told; the sandbox runs as root.
	env := append(os.Environ(), "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true", "GITEA_WORK_DIR="+dir, "HOME="+dir)
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), tokens: map[string]string{}}
	s.run = func(args ...string) error {
		cmd := exec.Command(bin, append(args, "--config", ini)...)
		cmd.Env, cmd.Dir = env, dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gitea %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	start := time.Now()
	if err := s.run("migrate"); err != nil {
		tb.Fatal(err)
	}
	if err := s.run("admin", "user", "create", "--username", Admin, "--password", password(Admin),
		"--email", Admin+"@localhost", "--must-change-password=false", "--admin"); err != nil {
		tb.Fatal(err)
	}
	web := exec.Command(bin, "web", "--config", ini)
	web.Env, web.Dir = env, dir
	logs := &syncBuffer{}
	web.Stdout, web.Stderr = logs, logs
	if err := web.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { web.Process.Kill(); web.Wait() })
	if err := waitUp(s.URL, 60*time.Second); err != nil {
		tb.Fatalf("gitea did not start: %v\n%s", err, logs.String())
	}
	s.Startup = time.Since(start)
	return s
}

// installed returns Gitea's binary and its static files directory.
func installed(tb testing.TB) (bin, static string) {
	tools := os.Getenv("CONVEYOR_TOOLS")
	if tools == "" {
		tools = filepath.Join(moduleRoot(tb), ".tools")
	}
	bin = filepath.Join(tools, "bin", "gitea")
	raw, err := os.ReadFile(filepath.Join(tools, "versions", "gitea-static"))
	if _, serr := os.Stat(bin); serr != nil || err != nil {
		tb.Fatalf("gitea is not installed in %s: run `make tools` (test/tools/install-gitea.sh)", tools)
	}
	return bin, strings.TrimSpace(string(raw))
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", dir)
		}
	}
}

// config is Gitea's app.ini: SQLite, no SSH, no registration, no network
// beyond loopback, and webhooks allowed to loopback (Gitea refuses
// private and loopback targets by default).
func config(dir, static string, port int) string {
	return fmt.Sprintf(`RUN_MODE = prod
WORK_PATH = %[1]s
[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db
[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = http://127.0.0.1:%[2]d/
STATIC_ROOT_PATH = %[3]s
APP_DATA_PATH = %[1]s/data
DISABLE_SSH = true
OFFLINE_MODE = true
LFS_START_SERVER = false
[security]
INSTALL_LOCK = true
SECRET_KEY = conveyor-test-secret-key
[service]
DISABLE_REGISTRATION = true
[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10
[indexer]
REPO_INDEXER_ENABLED = false
[cron]
ENABLED = false
[log]
MODE = console
LEVEL = warn
ROOT_PATH = %[1]s/log
`, dir, port, static)
}

func password(user string) string { return "password-" + user }

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitUp(url string, limit time.Duration) error {
	var last error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url + "/api/v1/version")
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Errorf("status %d", resp.StatusCode)
	}
	return last
}

// Token returns an access token of user with every scope, creating it on
// first use.
func (s *Server) Token(tb testing.TB, user string) string {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.tokens[user]; ok {
		return tok
	}
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	err := s.call(func(r *http.Request) { r.SetBasicAuth(user, password(user)) }, "POST", "/users/"+user+"/tokens",
		map[string]any{"name": "conveyor-test", "scopes": []string{"all"}}, &tok)
	if err != nil {
		tb.Fatal(err)
	}
	s.tokens[user] = tok.SHA1
	return tok.SHA1
}

// AddUser creates a user who is not an administrator.
func (s *Server) AddUser(tb testing.TB, user string) {
	tb.Helper()
	s.API(tb, Admin, "POST", "/admin/users", map[string]any{
		"username": user, "password": password(user), "email": user + "@conveyor.test",
		"must_change_password": false,
	}, nil)
}

// API calls Gitea's REST API (path below /api/v1) as user, decoding the
// response into out when out is not nil; any status ≥ 300 fails tb.
func (s *Server) API(tb testing.TB, user, method, path string, in, out any) {
	tb.Helper()
	tok := s.Token(tb, user)
	if err := s.call(func(r *http.Request) { r.Header.Set("Authorization", "token "+tok) }, method, path, in, out); err != nil {
		tb.Fatal(err)
	}
}

// Status returns the HTTP status of GET path as user.
func (s *Server) Status(tb testing.TB, user, path string) int {
	tb.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "token "+s.Token(tb, user))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// GitURL is the smart-HTTP URL of owner/repo with user's token in it, for
// the git CLI in tests.
func (s *Server) GitURL(tb testing.TB, user, owner, repo string) string {
	tb.Helper()
	return fmt.Sprintf("http://%s:%s@%s/%s/%s.git", user, s.Token(tb, user), strings.TrimPrefix(s.URL, "http://"), owner, repo)
}

func (s *Server) call(auth func(*http.Request), method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("gitea %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("gitea %s %s: decoding %s: %w", method, path, raw, err)
		}
	}
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
