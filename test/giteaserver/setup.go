package giteaserver

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
)

// CreateOrg creates organisation org owned by Admin.
func (s *Server) CreateOrg(tb testing.TB, org string) {
	tb.Helper()
	s.API(tb, Admin, "POST", "/orgs", map[string]any{"username": org, "visibility": "public"}, nil)
}

// CreateTeam creates team in org with write access to the org's
// repositories and adds members to it.
func (s *Server) CreateTeam(tb testing.TB, org, team string, members ...string) {
	tb.Helper()
	var t struct {
		ID int64 `json:"id"`
	}
	s.API(tb, Admin, "POST", "/orgs/"+org+"/teams", map[string]any{
		"name": team, "permission": "write", "includes_all_repositories": true,
		"units": []string{"repo.code", "repo.pulls", "repo.issues"},
	}, &t)
	for _, m := range members {
		s.API(tb, Admin, "PUT", fmt.Sprintf("/teams/%d/members/%s", t.ID, m), nil, nil)
	}
}

// CreateRepo creates owner/name (owner: Admin or an organisation) with an
// initial commit on main.
func (s *Server) CreateRepo(tb testing.TB, owner, name string) {
	tb.Helper()
	path := "/user/repos"
	if owner != Admin {
		path = "/orgs/" + owner + "/repos"
	}
	s.API(tb, Admin, "POST", path, map[string]any{"name": name, "auto_init": true, "default_branch": "main"}, nil)
}

// AddCollaborator gives user write access to owner/repo.
func (s *Server) AddCollaborator(tb testing.TB, owner, repo, user string) {
	tb.Helper()
	s.API(tb, Admin, "PUT", "/repos/"+owner+"/"+repo+"/collaborators/"+user, map[string]any{"permission": "write"}, nil)
}

// AddWebhook makes owner/repo send its own (Gitea-format) webhooks for
// events to url, signed with secret.
func (s *Server) AddWebhook(tb testing.TB, owner, repo, url, secret string, events ...string) {
	tb.Helper()
	s.API(tb, Admin, "POST", "/repos/"+owner+"/"+repo+"/hooks", map[string]any{
		"type":   "gitea",
		"active": true,
		"events": events,
		"config": map[string]string{"url": url, "content_type": "json", "secret": secret},
	}, nil)
}

// CommitFile writes content to path on branch of owner/repo as user,
// creating branch from main when it does not exist, and returns the
// branch's new head.
func (s *Server) CommitFile(tb testing.TB, user, owner, repo, branch, path, content, message string) string {
	tb.Helper()
	body := map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(content)), "message": message}
	if s.Status(tb, user, "/repos/"+owner+"/"+repo+"/branches/"+branch) == http.StatusNotFound {
		body["branch"], body["new_branch"] = "main", branch
	} else {
		body["branch"] = branch
	}
	var existing struct {
		SHA string `json:"sha"`
	}
	method := "POST"
	if s.Status(tb, user, "/repos/"+owner+"/"+repo+"/contents/"+path+"?ref="+branch) == http.StatusOK {
		s.API(tb, user, "GET", "/repos/"+owner+"/"+repo+"/contents/"+path+"?ref="+branch, nil, &existing)
		body["sha"], method = existing.SHA, "PUT"
	}
	s.API(tb, user, method, "/repos/"+owner+"/"+repo+"/contents/"+path, body, nil)
	return s.Head(tb, owner, repo, branch)
}

// Head returns the head commit of branch.
func (s *Server) Head(tb testing.TB, owner, repo, branch string) string {
	tb.Helper()
	var b struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	s.API(tb, Admin, "GET", "/repos/"+owner+"/"+repo+"/branches/"+branch, nil, &b)
	return b.Commit.ID
}
