package gitlabforge_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// project is the GitOps project the fake serves, as client-go escapes it.
const (
	projectPath = "acme/platform/gitops"
	projectID   = 42
)

var escapedProject = url.PathEscape(projectPath)

type glMR struct {
	IID          int
	Title, Body  string
	Branch       string
	Labels       []string
	State        string // opened, closed, merged
	HeadSHA      string // the head when it stopped being open
	MergeCommit  string
	CreatedAt    time.Time
	MergedAt     time.Time
	Versions     []glVersion
	Approvals    []glApproval
	Notes        []string
	FromFork     bool
	SquashCommit string
}

type glVersion struct {
	ID   int
	Head string
	At   time.Time
}

type glApproval struct {
	User string
	At   time.Time
}

// fakeGitLab keeps branches, merge requests, commit statuses and group
// members in memory and answers the part of GitLab's REST API (v4) the
// adapter uses, in the shapes GitLab documents: merge requests by IID, 409
// for a second open merge request per source branch, 405 for merging one
// that is not open, 409 for a sha that is no longer the head, 404 with
// {"message":"404 Not found"}.
type fakeGitLab struct {
	mu       sync.Mutex
	n        int
	now      time.Time
	branches map[string]string
	mrs      map[int]*glMR
	statuses map[string][]map[string]any
	members  map[string]map[string]string // group path → username → state
	// resetOnPush is the project's reset_approvals_on_push; noApprovedAt
	// answers like a GitLab older than approved_at; premium false answers
	// 404 for the project approval settings, as GitLab Free does.
	resetOnPush, noApprovedAt, premium bool
	// fail, when set, answers the requests whose "METHOD path" ends in
	// failOn (every request when empty) with this status and headers.
	fail        int
	failOn      string
	failHeaders map[string]string
	lastMerge   map[string]any
}

func newFakeGitLab() *fakeGitLab {
	return &fakeGitLab{
		now:      time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
		branches: map[string]string{"main": sha("main")},
		mrs:      map[int]*glMR{},
		statuses: map[string][]map[string]any{},
		members:  map[string]map[string]string{},
		premium:  true,
	}
}

func sha(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// tick advances the server's clock: every change happens at its own second.
func (g *fakeGitLab) tick() time.Time {
	g.now = g.now.Add(time.Second)
	return g.now
}

func (g *fakeGitLab) push(branch string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	g.branches[branch] = sha(fmt.Sprint(branch, g.n))
	at := g.tick()
	for _, m := range g.mrs {
		if m.State == "opened" && m.Branch == branch {
			m.Versions = append(m.Versions, glVersion{ID: 100*m.IID + len(m.Versions) + 1, Head: g.branches[branch], At: at})
			if g.resetOnPush {
				m.Approvals = nil
			}
		}
	}
	return g.branches[branch]
}

// approve records an approval by a new user each time: GitLab lets a user
// approve once.
func (g *fakeGitLab) approve(iid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.mrs[iid]
	m.Approvals = append(m.Approvals, glApproval{User: fmt.Sprintf("reviewer%d", len(m.Approvals)+1), At: g.tick()})
}

func (g *fakeGitLab) head(m *glMR) string {
	if m.State == "opened" {
		return g.branches[m.Branch]
	}
	return m.HeadSHA
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func user(name string, id int) map[string]any {
	return map[string]any{"id": id, "username": name, "name": strings.ToUpper(name[:1]) + name[1:], "state": "active",
		"avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/" + strconv.Itoa(id) + "/avatar.png",
		"web_url":    "https://gitlab.example.com/" + name}
}

func (g *fakeGitLab) json(m *glMR) map[string]any {
	labels := append([]string{}, m.Labels...)
	source := projectID
	if m.FromFork {
		source = 77
	}
	out := map[string]any{
		"id": 1000 + m.IID, "iid": m.IID, "project_id": projectID, "title": m.Title, "description": m.Body,
		"state": m.State, "created_at": ts(m.CreatedAt), "updated_at": ts(g.now),
		"merged_by": nil, "merge_user": nil, "merged_at": nil, "closed_by": nil, "closed_at": nil,
		"target_branch": "main", "source_branch": m.Branch, "user_notes_count": len(m.Notes),
		"upvotes": 0, "downvotes": 0, "author": user("conveyor", 2), "assignees": []any{}, "reviewers": []any{},
		"source_project_id": source, "target_project_id": projectID, "labels": labels, "draft": false,
		"work_in_progress": false, "milestone": nil, "merge_when_pipeline_succeeds": false,
		"merge_status": "can_be_merged", "detailed_merge_status": "mergeable",
		"sha": g.head(m), "merge_commit_sha": nil, "squash_commit_sha": nil,
		"discussion_locked": nil, "should_remove_source_branch": nil, "force_remove_source_branch": false,
		"references": map[string]any{"short": "!" + strconv.Itoa(m.IID), "relative": "!" + strconv.Itoa(m.IID), "full": projectPath + "!" + strconv.Itoa(m.IID)},
		"web_url":    "https://gitlab.example.com/" + projectPath + "/-/merge_requests/" + strconv.Itoa(m.IID),
		"time_stats": map[string]any{"time_estimate": 0, "total_time_spent": 0}, "squash": false,
		"has_conflicts": false, "blocking_discussions_resolved": true,
	}
	switch m.State {
	case "merged":
		out["merged_by"], out["merge_user"], out["merged_at"] = user("conveyor", 2), user("conveyor", 2), ts(m.MergedAt)
		out["merge_commit_sha"] = m.MergeCommit
		out["detailed_merge_status"], out["merge_status"] = "not_open", "merged"
		if m.SquashCommit != "" {
			out["squash_commit_sha"] = m.SquashCommit
		}
	case "closed":
		out["closed_by"], out["closed_at"] = user("conveyor", 2), ts(g.now)
		out["detailed_merge_status"] = "not_open"
	}
	return out
}

func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func notFound(w http.ResponseWriter) {
	answer(w, http.StatusNotFound, map[string]any{"message": "404 Not found"})
}

func (g *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/")
	if r.Header.Get("PRIVATE-TOKEN") != "glpat-test-token" {
		answer(w, http.StatusUnauthorized, map[string]any{"message": "401 Unauthorized"})
		return
	}
	if g.fail != 0 && strings.HasSuffix(r.Method+" "+path, g.failOn) {
		for k, v := range g.failHeaders {
			w.Header().Set(k, v)
		}
		answer(w, g.fail, map[string]any{"message": http.StatusText(g.fail)})
		return
	}
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	switch {
	case strings.HasPrefix(path, "projects/"+escapedProject+"/"):
		g.serveProject(w, r, strings.Split(strings.TrimPrefix(path, "projects/"+escapedProject+"/"), "/"), body)
	case path == "users" && r.Method == http.MethodGet:
		g.serveUsers(w, r)
	case strings.HasPrefix(path, "groups/"):
		g.serveMember(w, strings.TrimPrefix(path, "groups/"))
	default:
		notFound(w)
	}
}

func (g *fakeGitLab) serveUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	out := []any{}
	for _, u := range []string{"alice", "bob", "reviewer1", "reviewer2"} {
		if strings.EqualFold(u, name) {
			out = append(out, user(u, 10+slices.Index([]string{"alice", "bob", "reviewer1", "reviewer2"}, u)))
		}
	}
	answer(w, http.StatusOK, out)
}

// serveMember answers GET groups/:id/members/all/:user_id.
func (g *fakeGitLab) serveMember(w http.ResponseWriter, rest string) {
	group, uid, ok := strings.Cut(rest, "/members/all/")
	path, err := url.PathUnescape(group)
	if !ok || err != nil || g.members[path] == nil {
		notFound(w)
		return
	}
	id, _ := strconv.Atoi(uid)
	for name, state := range g.members[path] {
		if 10+slices.Index([]string{"alice", "bob", "reviewer1", "reviewer2"}, name) == id {
			m := user(name, id)
			m["state"], m["access_level"], m["created_at"], m["expires_at"] = state, 30, "2026-01-01T00:00:00.000Z", nil
			answer(w, http.StatusOK, m)
			return
		}
	}
	notFound(w)
}

func (g *fakeGitLab) serveProject(w http.ResponseWriter, r *http.Request, parts []string, body map[string]any) {
	switch {
	case parts[0] == "merge_requests" && len(parts) == 1:
		g.serveMRs(w, r, body)
	case parts[0] == "merge_requests":
		n, _ := strconv.Atoi(parts[1])
		m := g.mrs[n]
		if m == nil {
			notFound(w)
			return
		}
		g.serveMR(w, r.Method+" "+strings.Join(parts[2:], "/"), m, body)
	case len(parts) == 1 && parts[0] == "approvals" && r.Method == http.MethodGet:
		if !g.premium {
			notFound(w)
			return
		}
		answer(w, http.StatusOK, map[string]any{"approvers": []any{}, "approver_groups": []any{}, "approvals_before_merge": 0,
			"reset_approvals_on_push": g.resetOnPush, "selective_code_owner_removals": false,
			"disable_overriding_approvers_per_merge_request": false, "merge_requests_author_approval": false,
			"merge_requests_disable_committers_approval": false, "require_password_to_approve": false})
	case len(parts) == 4 && parts[0] == "repository" && parts[1] == "commits" && parts[3] == "statuses":
		out := g.statuses[parts[2]]
		if out == nil {
			out = []map[string]any{}
		}
		answer(w, http.StatusOK, out)
	default:
		notFound(w)
	}
}

func (g *fakeGitLab) serveMRs(w http.ResponseWriter, r *http.Request, body map[string]any) {
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		list := []any{}
		for n := g.n + 100; n > 0; n-- { // newest first
			m := g.mrs[n]
			if m == nil || (q.Get("state") != "" && m.State != q.Get("state")) || (q.Get("source_branch") != "" && m.Branch != q.Get("source_branch")) {
				continue
			}
			if l := q.Get("labels"); l != "" && !slices.Contains(m.Labels, l) {
				continue
			}
			list = append(list, g.json(m))
		}
		answer(w, http.StatusOK, list)
	case http.MethodPost:
		branch, _ := body["source_branch"].(string)
		for _, m := range g.mrs {
			if m.Branch == branch && m.State == "opened" {
				answer(w, http.StatusConflict, map[string]any{"message": []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", m.IID)}})
				return
			}
		}
		g.n++
		at := g.tick()
		m := &glMR{IID: g.n, Title: body["title"].(string), Body: body["description"].(string), Branch: branch, State: "opened", CreatedAt: at}
		m.Labels = splitLabels(body["labels"])
		m.Versions = []glVersion{{ID: 100*m.IID + 1, Head: g.branches[branch], At: at}}
		g.mrs[m.IID] = m
		answer(w, http.StatusCreated, g.json(m))
	default:
		notFound(w)
	}
}

func splitLabels(v any) []string {
	s, _ := v.(string)
	var out []string
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func (g *fakeGitLab) serveMR(w http.ResponseWriter, key string, m *glMR, body map[string]any) {
	switch key {
	case "GET ":
		answer(w, http.StatusOK, g.json(m))
	case "PUT ":
		g.update(m, body)
		answer(w, http.StatusOK, g.json(m))
	case "POST notes":
		m.Notes = append(m.Notes, body["body"].(string))
		answer(w, http.StatusCreated, map[string]any{"id": 300 + len(m.Notes), "body": body["body"], "system": false, "noteable_iid": m.IID, "noteable_type": "MergeRequest"})
	case "GET approvals":
		g.serveApprovals(w, m)
	case "GET versions":
		out := []any{}
		for i := len(m.Versions) - 1; i >= 0; i-- { // newest first
			v := m.Versions[i]
			out = append(out, map[string]any{"id": v.ID, "head_commit_sha": v.Head, "base_commit_sha": g.branches["main"],
				"start_commit_sha": g.branches["main"], "created_at": ts(v.At), "merge_request_id": 1000 + m.IID, "state": "collected", "real_size": "1"})
		}
		answer(w, http.StatusOK, out)
	case "PUT merge":
		g.merge(w, m, body)
	default:
		notFound(w)
	}
}

func (g *fakeGitLab) update(m *glMR, body map[string]any) {
	if v, ok := body["title"].(string); ok {
		m.Title = v
	}
	if v, ok := body["description"].(string); ok {
		m.Body = v
	}
	if v, ok := body["labels"]; ok {
		m.Labels = splitLabels(v)
	}
	for _, l := range splitLabels(body["add_labels"]) {
		if !slices.Contains(m.Labels, l) {
			m.Labels = append(m.Labels, l)
		}
	}
	if body["state_event"] == "close" && m.State == "opened" {
		m.HeadSHA, m.State = g.branches[m.Branch], "closed"
		g.tick()
	}
}

func (g *fakeGitLab) serveApprovals(w http.ResponseWriter, m *glMR) {
	by := []any{}
	for i, a := range m.Approvals {
		e := map[string]any{"user": user(a.User, 20+i)}
		if !g.noApprovedAt {
			e["approved_at"] = ts(a.At)
		}
		by = append(by, e)
	}
	answer(w, http.StatusOK, map[string]any{"id": 1000 + m.IID, "iid": m.IID, "project_id": projectID, "title": m.Title,
		"description": m.Body, "state": m.State, "created_at": ts(m.CreatedAt), "updated_at": ts(g.now),
		"merge_status": "can_be_merged", "approved": len(m.Approvals) > 0, "approvals_required": 0, "approvals_left": 0,
		"require_password_to_approve": false, "approved_by": by, "suggested_approvers": []any{}, "approvers": []any{},
		"approver_groups": []any{}, "user_has_approved": false, "user_can_approve": true, "approval_rules_left": []any{},
		"has_approval_rules": false, "merge_request_approvers_available": false, "multiple_approval_rules_available": false})
}

func (g *fakeGitLab) merge(w http.ResponseWriter, m *glMR, body map[string]any) {
	g.lastMerge = body
	switch {
	case m.State != "opened":
		answer(w, http.StatusMethodNotAllowed, map[string]any{"message": "405 Method Not Allowed"})
	case body["sha"] != nil && body["sha"] != g.branches[m.Branch]:
		answer(w, http.StatusConflict, map[string]any{"message": "SHA does not match HEAD of source branch: " + g.branches[m.Branch]})
	default:
		g.n++
		m.HeadSHA, m.State, m.MergedAt = g.branches[m.Branch], "merged", g.tick()
		m.MergeCommit = sha(fmt.Sprint("merge", g.n))
		if body["squash"] == true {
			m.SquashCommit = sha(fmt.Sprint("squash", g.n))
		}
		g.branches["main"] = m.MergeCommit
		answer(w, http.StatusOK, g.json(m))
	}
}
