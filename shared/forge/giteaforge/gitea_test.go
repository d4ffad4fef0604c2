package giteaforge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/forge/forgetest"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
)

// TestContractAgainstGitea runs the forge contract against a real Gitea
// (test/tools/install-gitea.sh) on 127.0.0.1 with a throwaway data
// directory: users "conveyor" (the author) and "reviewer", one repository
// per case.
func TestContractAgainstGitea(t *testing.T) {
	g := startGitea(t)
	var n atomic.Int64
	forgetest.Run(t, func(t *testing.T) *forgetest.Env {
		repo := fmt.Sprintf("gitops%d", n.Add(1))
		g.api(t, g.token, "POST", "/user/repos", map[string]any{"name": repo, "auto_init": true, "default_branch": "main"}, nil)
		g.api(t, g.token, "PUT", "/repos/conveyor/"+repo+"/collaborators/reviewer", map[string]any{"permission": "write"}, nil)
		var pushes int
		return &forgetest.Env{
			Forge: giteaforge.New(g.url, g.token, "conveyor", repo, nil),
			Base:  "main",
			Push: func(t *testing.T, branch string) string {
				pushes++
				body := map[string]any{"content": base64.StdEncoding.EncodeToString([]byte("change\n")), "message": fmt.Sprintf("change %d", pushes)}
				if g.status(t, "/repos/conveyor/"+repo+"/branches/"+branch) == http.StatusNotFound {
					body["branch"], body["new_branch"] = "main", branch
				} else {
					body["branch"] = branch
				}
				g.api(t, g.token, "POST", fmt.Sprintf("/repos/conveyor/%s/contents/f%d.txt", repo, pushes), body, nil)
				var b struct {
					Commit struct {
						ID string `json:"id"`
					} `json:"commit"`
				}
				g.api(t, g.token, "GET", "/repos/conveyor/"+repo+"/branches/"+branch, nil, &b)
				return b.Commit.ID
			},
			Approve: func(t *testing.T, number int) {
				g.api(t, g.reviewer, "POST", fmt.Sprintf("/repos/conveyor/%s/pulls/%d/reviews", repo, number), map[string]any{"event": "APPROVED", "body": "ok"}, nil)
			},
		}
	})
}

type gitea struct {
	url, token, reviewer string
}

func startGitea(t *testing.T) *gitea {
	tools := os.Getenv("CONVEYOR_TOOLS")
	bin := filepath.Join(tools, "bin", "gitea")
	static, _ := os.ReadFile(filepath.Join(tools, "versions", "gitea-static"))
	if tools == "" || len(static) == 0 {
		t.Skip("gitea is not installed: run test/tools/install-gitea.sh with CONVEYOR_TOOLS set")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("gitea is not installed: ", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := filepath.Join(dir, "app.ini")
	cfg := fmt.Sprintf(`RUN_MODE = prod
WORK_PATH = %[1]s
[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db
[repository]
ROOT = %[1]s/repos
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = http://127.0.0.1:%[2]d/
STATIC_ROOT_PATH = %[3]s
APP_DATA_PATH = %[1]s/data
DISABLE_SSH = true
OFFLINE_MODE = true
[security]
INSTALL_LOCK = true
SECRET_KEY = conveyor-test-secret-key
[service]
DISABLE_REGISTRATION = true
[log]
MODE = console
LEVEL = warn
ROOT_PATH = %[1]s/log
`, dir, port, strings.TrimSpace(string(static)))
	if err := os.WriteFile(ini, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true", "GITEA_WORK_DIR="+dir, "HOME="+dir)
	run := func(args ...string) {
		cmd := exec.Command(bin, append(args, "--config", ini)...)
		cmd.Env, cmd.Dir = env, dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gitea %v: %v: %s", args, err, out)
		}
	}
	start := time.Now()
	run("migrate")
	for _, u := range []string{"conveyor", "reviewer"} {
		run("admin", "user", "create", "--username", u, "--password", "password-"+u, "--email", u+"@localhost", "--must-change-password=false", "--admin")
	}
	web := exec.Command(bin, "web", "--config", ini)
	web.Env, web.Dir = env, dir
	var logs bytes.Buffer
	web.Stdout, web.Stderr = &logs, &logs
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Process.Kill(); web.Wait() })
	g := &gitea{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(g.url + "/api/v1/version"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea did not start: %s", logs.String())
		}
	}
	t.Logf("gitea up in %v", time.Since(start))
	g.token = g.newToken(t, "conveyor")
	g.reviewer = g.newToken(t, "reviewer")
	return g
}

// newToken creates an access token for user with its password (basic auth).
func (g *gitea) newToken(t *testing.T, user string) string {
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	g.do(t, func(r *http.Request) { r.SetBasicAuth(user, "password-"+user) }, "POST", "/users/"+user+"/tokens",
		map[string]any{"name": "test", "scopes": []string{"all"}}, &tok)
	return tok.SHA1
}

func (g *gitea) api(t *testing.T, token, method, path string, in, out any) {
	t.Helper()
	g.do(t, func(r *http.Request) { r.Header.Set("Authorization", "token "+token) }, method, path, in, out)
}

func (g *gitea) do(t *testing.T, auth func(*http.Request), method, path string, in, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(context.Background(), method, g.url+"/api/v1"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var m bytes.Buffer
		m.ReadFrom(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, m.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func (g *gitea) status(t *testing.T, path string) int {
	req, _ := http.NewRequest("GET", g.url+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "token "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
