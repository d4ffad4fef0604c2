package giteaforge_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/forge/forgetest"
	"github.com/conveyor-gitops/conveyor/shared/forge/giteaforge"
	"github.com/conveyor-gitops/conveyor/test/giteaserver"
)

// TestContractAgainstGitea runs the forge contract against a real Gitea on
// 127.0.0.1: the adapter authors as "conveyor", a second user approves.
func TestContractAgainstGitea(t *testing.T) {
	g := giteaserver.Start(t)
	t.Logf("gitea up in %v", g.Startup)
	g.AddUser(t, "reviewer")
	var n atomic.Int64
	forgetest.Run(t, func(t *testing.T) *forgetest.Env {
		repo := fmt.Sprintf("gitops%d", n.Add(1))
		g.CreateRepo(t, giteaserver.Admin, repo)
		g.AddCollaborator(t, giteaserver.Admin, repo, "reviewer")
		var pushes int
		return &forgetest.Env{
			Forge: giteaforge.New(g.URL, g.Token(t, giteaserver.Admin), giteaserver.Admin, repo, nil),
			Base:  "main",
			Push: func(t *testing.T, branch string) string {
				pushes++
				return g.CommitFile(t, giteaserver.Admin, giteaserver.Admin, repo, branch,
					fmt.Sprintf("f%d.txt", pushes), "change\n", fmt.Sprintf("change %d", pushes))
			},
			Approve: func(t *testing.T, number int) {
				g.API(t, "reviewer", "POST", fmt.Sprintf("/repos/%s/%s/pulls/%d/reviews", giteaserver.Admin, repo, number),
					map[string]any{"event": "APPROVED", "body": "ok"}, nil)
			},
			Comments: func(t *testing.T, number int) []string {
				var cs []struct {
					Body string `json:"body"`
				}
				g.API(t, giteaserver.Admin, "GET", fmt.Sprintf("/repos/%s/%s/issues/%d/comments", giteaserver.Admin, repo, number), nil, &cs)
				var out []string
				for _, c := range cs {
					out = append(out, c.Body)
				}
				return out
			},
		}
	})
}

// TestTeamMembershipOnGitea asks the real server who is in a team.
func TestTeamMembershipOnGitea(t *testing.T) {
	g := giteaserver.Start(t)
	for _, u := range []string{"alice", "bob"} {
		g.AddUser(t, u)
	}
	g.CreateOrg(t, "acme")
	g.CreateTeam(t, "acme", "sre", "alice")
	g.CreateRepo(t, "acme", "gitops")
	f := giteaforge.New(g.URL, g.Token(t, giteaserver.Admin), "acme", "gitops", nil)
	cases := []struct {
		team, user string
		want       bool
	}{
		{"sre", "alice", true},
		{"sre", "bob", false},
		{"sre", "nobody", false},
		{"missing", "alice", false},
	}
	for _, c := range cases {
		got, err := f.IsTeamMember(t.Context(), "acme", c.team, c.user)
		if err != nil {
			t.Fatalf("IsTeamMember(acme/%s, %s): %v", c.team, c.user, err)
		}
		if got != c.want {
			t.Errorf("IsTeamMember(acme/%s, %s) = %v, want %v", c.team, c.user, got, c.want)
		}
	}
	if code := g.Status(t, giteaserver.Admin, "/orgs/acme/teams"); code != http.StatusOK {
		t.Fatalf("listing teams: %d", code)
	}
}
