package githubforge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
)

// call is one request the fake GitHub received.
type call struct {
	Method string
	Path   string // without the /api-v3 prefix
	Query  string // sorted, unescaped
	Body   any    // decoded JSON, nil when empty
}

// reply is one scripted response. Body is JSON, or "@name" for
// testdata/name. Status -1 drops the connection without answering.
type reply struct {
	Status int
	Header map[string]string
	Body   string
}

// fakeGitHub is an httptest server speaking GitHub's REST API under
// /api-v3/. routes maps "METHOD /path" to replies served in order; the last
// one repeats.
type fakeGitHub struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string][]reply
	calls  []call
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.t
	path, ok := strings.CutPrefix(r.URL.Path, "/api-v3")
	if !ok {
		t.Errorf("request outside the API base URL: %s %s", r.Method, r.URL)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading request body: %v", err)
	}
	c := call{Method: r.Method, Path: path, Query: sortedQuery(r.URL.Query())}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			t.Errorf("%s %s: body is not JSON: %v: %s", r.Method, path, err, raw)
		}
	}
	g.mu.Lock()
	g.calls = append(g.calls, c)
	key := r.Method + " " + path
	replies := g.routes[key]
	var rep reply
	switch len(replies) {
	case 0:
		g.mu.Unlock()
		t.Errorf("unexpected request %s", key)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
		return
	case 1:
		rep = replies[0]
	default:
		rep, g.routes[key] = replies[0], replies[1:]
	}
	g.mu.Unlock()

	if rep.Status == -1 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijacking: %v", err)
			return
		}
		conn.Close()
		return
	}
	body := rep.Body
	if name, ok := strings.CutPrefix(body, "@"); ok {
		body = fixture(t, name)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Api-Version", "2022-11-28")
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (g *fakeGitHub) Calls() []call {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func sortedQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, k+"="+v)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

// newForge starts a fake GitHub with routes and returns a Forge for o/r
// talking to it through a fresh go-github client (go-github remembers rate
// limits per client).
func newForge(t *testing.T, routes map[string][]reply) (*githubforge.Forge, *fakeGitHub) {
	t.Helper()
	g := &fakeGitHub{t: t, routes: routes}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	client := github.NewClient(srv.Client())
	base, err := url.Parse(srv.URL + "/api-v3/")
	if err != nil {
		t.Fatal(err)
	}
	client.BaseURL = base
	f := githubforge.New(client, "o", "r", githubforge.WithMergeablePoll(3, time.Millisecond))
	return f, g
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pull returns testdata/pull.json (open PR #42, mergeable) with top-level
// fields replaced.
func pull(t *testing.T, fields map[string]any) string {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal([]byte(fixture(t, "pull.json")), &p); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		p[k] = v
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listOf wraps pull request JSON objects in a JSON array, as list endpoints
// return them.
func listOf(items ...string) string {
	return "[" + strings.Join(items, ",") + "]"
}

// ghError is a GitHub REST error body.
func ghError(status int, message, doc string, details ...map[string]any) string {
	body := map[string]any{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)}
	if len(details) > 0 {
		body["errors"] = details
	}
	b, _ := json.Marshal(body)
	return string(b)
}
