package githubforge_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/conveyor-gitops/conveyor/shared/forge/forgetest"
	"github.com/conveyor-gitops/conveyor/shared/forge/githubforge"
)

// TestContract runs the forge contract against githubforge talking to a
// stateful httptest server that speaks the part of GitHub's REST API the
// adapter uses, with GitHub's answers for the cases the contract covers (422
// for a second PR on a branch, 409 for a merge at a stale head, 404).
func TestContract(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) *forgetest.Env {
		g := &statefulGitHub{branches: map[string]string{"main": sha("main")}, prs: map[int]*ghPR{}}
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		client := github.NewClient(srv.Client())
		base, _ := url.Parse(srv.URL + "/api-v3/")
		client.BaseURL = base
		f := githubforge.New(client, "o", "r", githubforge.WithMergeablePoll(0, time.Millisecond))
		return &forgetest.Env{
			Forge:   f,
			Base:    "main",
			Push:    func(t *testing.T, branch string) string { return g.push(branch) },
			Approve: func(t *testing.T, n int) { g.approve(n) },
			Comments: func(t *testing.T, n int) []string {
				g.mu.Lock()
				defer g.mu.Unlock()
				return append([]string(nil), g.prs[n].Comments...)
			},
		}
	})
}

type ghPR struct {
	Number      int
	Title, Body string
	Branch      string
	Labels      []string
	State       string
	Merged      bool
	MergeCommit string
	HeadSHA     string
	MergedAt    time.Time
	Reviews     []map[string]any
	Comments    []string
}

// statefulGitHub keeps branches and pull requests in memory.
type statefulGitHub struct {
	mu       sync.Mutex
	n        int
	branches map[string]string
	prs      map[int]*ghPR
}

func sha(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (g *statefulGitHub) push(branch string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	g.branches[branch] = sha(fmt.Sprint(branch, g.n))
	return g.branches[branch]
}

func (g *statefulGitHub) approve(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.prs[n]
	p.Reviews = append(p.Reviews, map[string]any{"id": len(p.Reviews) + 1, "user": map[string]any{"login": "reviewer"},
		"state": "APPROVED", "commit_id": g.head(p), "submitted_at": time.Now().UTC().Format(time.RFC3339)})
}

func (g *statefulGitHub) head(p *ghPR) string {
	if p.State == "open" {
		return g.branches[p.Branch]
	}
	return p.HeadSHA
}

func (g *statefulGitHub) json(p *ghPR) map[string]any {
	labels := []map[string]any{}
	for _, l := range p.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	out := map[string]any{
		"number": p.Number, "title": p.Title, "body": p.Body, "state": p.State, "merged": p.Merged,
		"html_url": fmt.Sprintf("https://github.com/o/r/pull/%d", p.Number), "labels": labels,
		"user": map[string]any{"login": "conveyor"},
		"head": map[string]any{"ref": p.Branch, "sha": g.head(p), "label": "o:" + p.Branch, "repo": map[string]any{"full_name": "o/r"}},
		"base": map[string]any{"ref": "main"}, "created_at": "2026-11-01T00:00:00Z",
	}
	if p.State == "open" {
		out["mergeable"] = true
	}
	if p.Merged {
		out["merge_commit_sha"] = p.MergeCommit
		out["merged_at"] = p.MergedAt.Format(time.RFC3339)
		out["merged_by"] = map[string]any{"login": "conveyor"}
	}
	return out
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (g *statefulGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api-v3/repos/o/r")
	var body any
	json.NewDecoder(r.Body).Decode(&body)
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var p *ghPR
	if len(parts) >= 2 {
		n, _ := strconv.Atoi(parts[1])
		p = g.prs[n]
		if p == nil && (parts[0] == "pulls" || parts[0] == "issues") {
			answer(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
			return
		}
	}
	key := r.Method + " " + parts[0]
	if len(parts) >= 2 {
		key += "/" + strings.Join(parts[2:], "/")
	}
	switch key {
	case "GET pulls":
		q := r.URL.Query()
		list := []map[string]any{}
		for n := g.n + 100; n > 0; n-- { // newest first
			pr := g.prs[n]
			if pr == nil || pr.State != q.Get("state") || (q.Get("head") != "" && "o:"+pr.Branch != q.Get("head")) {
				continue
			}
			list = append(list, g.json(pr))
		}
		answer(w, http.StatusOK, list)
	case "POST pulls":
		m := body.(map[string]any)
		branch := m["head"].(string)
		for _, pr := range g.prs {
			if pr.Branch == branch && pr.State == "open" {
				answer(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
					"errors": []map[string]any{{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for o:" + branch + "."}}})
				return
			}
		}
		g.n++
		pr := &ghPR{Number: g.n, Title: m["title"].(string), Body: m["body"].(string), Branch: branch, State: "open"}
		g.prs[pr.Number] = pr
		answer(w, http.StatusCreated, g.json(pr))
	default:
		g.serveOne(w, r, key, p, body)
	}
}

func (g *statefulGitHub) serveOne(w http.ResponseWriter, r *http.Request, key string, p *ghPR, body any) {
	switch key {
	case "GET pulls/":
		answer(w, http.StatusOK, g.json(p))
	case "PATCH pulls/":
		m := body.(map[string]any)
		if v, ok := m["title"].(string); ok {
			p.Title = v
		}
		if v, ok := m["body"].(string); ok {
			p.Body = v
		}
		if m["state"] == "closed" && p.State == "open" {
			p.HeadSHA, p.State = g.branches[p.Branch], "closed"
		}
		answer(w, http.StatusOK, g.json(p))
	case "POST issues/labels", "PUT issues/labels":
		var labels []string
		for _, l := range body.([]any) {
			labels = append(labels, l.(string))
		}
		if r.Method == http.MethodPut {
			p.Labels = nil
		}
		for _, l := range labels { // GitHub adds a label once
			if !slices.Contains(p.Labels, l) {
				p.Labels = append(p.Labels, l)
			}
		}
		out := []map[string]any{}
		for _, l := range p.Labels {
			out = append(out, map[string]any{"name": l})
		}
		answer(w, http.StatusOK, out)
	case "POST issues/comments":
		p.Comments = append(p.Comments, body.(map[string]any)["body"].(string))
		answer(w, http.StatusCreated, map[string]any{"id": len(p.Comments)})
	case "GET pulls/reviews":
		answer(w, http.StatusOK, p.Reviews)
	case "PUT pulls/merge":
		m := body.(map[string]any)
		switch {
		case p.State != "open":
			answer(w, http.StatusMethodNotAllowed, map[string]any{"message": "Pull Request is not mergeable"})
		case m["sha"] != nil && m["sha"] != g.branches[p.Branch]:
			answer(w, http.StatusConflict, map[string]any{"message": "Head branch was modified. Review and try the merge again."})
		default:
			g.n++
			p.HeadSHA, p.State, p.Merged, p.MergedAt = g.branches[p.Branch], "closed", true, time.Now().UTC().Truncate(time.Second)
			p.MergeCommit = sha(fmt.Sprint("merge", g.n))
			g.branches["main"] = p.MergeCommit
			answer(w, http.StatusOK, map[string]any{"sha": p.MergeCommit, "merged": true, "message": "Pull Request successfully merged"})
		}
	default:
		answer(w, http.StatusNotFound, map[string]any{"message": "Not Found: " + key})
	}
}
