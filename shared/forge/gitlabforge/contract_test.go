package gitlabforge_test

import (
	"net/http/httptest"
	"testing"

	"github.com/conveyor-gitops/conveyor/shared/forge/forgetest"
	"github.com/conveyor-gitops/conveyor/shared/forge/gitlabforge"
)

// newForge serves g and returns a Forge talking to it through NewClient,
// with the API under /api/v4/ as on a real instance.
func newForge(t *testing.T, g *fakeGitLab) *gitlabforge.Forge {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	client, err := gitlabforge.NewClient(srv.URL, "glpat-test-token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return gitlabforge.New(client, projectPath)
}

// TestContract runs the forge contract against gitlabforge talking to a
// stateful httptest server that answers like GitLab's REST API v4.
func TestContract(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) *forgetest.Env {
		g := newFakeGitLab()
		return &forgetest.Env{
			Forge:   newForge(t, g),
			Base:    "main",
			Push:    func(t *testing.T, branch string) string { return g.push(branch) },
			Approve: func(t *testing.T, n int) { g.approve(n) },
			Comments: func(t *testing.T, n int) []string {
				g.mu.Lock()
				defer g.mu.Unlock()
				return append([]string(nil), g.mrs[n].Notes...)
			},
		}
	})
}
